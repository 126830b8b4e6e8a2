/**
 * docker's timetypes.GetTimestamp for `--since`/`--until`: a Go duration (`42m`, `1h30m`) is
 * relative to now; an RFC 3339 date or time (zone optional: local time) is absolute; a Unix
 * timestamp (`1700000000[.nanos]`) passes through. Returns the `seconds.nanoseconds` string
 * the API takes.
 */
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseTimestamp(value: string, now: number, flag = 'since'): string {
  if (value === '') return '';
  if (/^\d+(\.\d{1,9})?$/.test(value)) return value;
  if (/^([\d.]+(ns|us|µs|ms|s|m|h))+$/.test(value)) {
    let ms = 0;
    for (const [, n, unit] of value.matchAll(/([\d.]+)(ns|us|µs|ms|s|m|h)/g)) ms += Number(n) * UNIT_MS[unit!]!;
    return toUnix(now - ms);
  }
  let text = value;
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) text += 'T00:00:00';
  const t = Date.parse(text);
  if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(text)) {
    throw new Error(`invalid value for "${flag}": failed to parse value as time or duration: "${value}"`);
  }
  return toUnix(t);
}

function toUnix(ms: number): string {
  const secs = Math.floor(ms / 1000);
  const nanos = Math.round((ms - secs * 1000) * 1e6);
  return `${secs}.${String(nanos).padStart(9, '0')}`;
}
