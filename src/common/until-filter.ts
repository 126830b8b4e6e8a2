/**
 * Docker's `until` filter value (prune and list endpoints): a timestamp (Unix seconds,
 * RFC 3339) or a duration before now (`10m`, `2h`). Shared by engine/ and network/, which
 * may not import each other.
 */
import { InvalidParameterError } from './errors.js';

/** The `until` value as milliseconds since the epoch. */
export function parseUntil(v: string): number {
  const d = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v);
  if (d) return Date.now() - Number(d[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[d[2] as 'ms' | 's' | 'm' | 'h'];
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidParameterError(`invalid value for until: ${JSON.stringify(v)}`);
  return t;
}
