import { OverrideMarker, ResetMarker } from './yaml-tags.js';

/**
 * Merges compose files by the compose specification's rules (13-merge.md): mappings merge key
 * by key, sequences append (without duplicates), `command`, `entrypoint` and `healthcheck.test`
 * are replaced, `ports` are unique by {ip, target, published, protocol} and `volumes` by target,
 * `!reset` removes a value and `!override` replaces it whole. Attributes that may be written as
 * a list or a mapping (environment, labels, networks, depends_on, …) are turned into mappings
 * first (see `canonicalService`) so both spellings merge alike.
 */

type Tree = Record<string, unknown>;

const REPLACED = new Set(['services.*.command', 'services.*.entrypoint', 'services.*.healthcheck.test', 'services.*.build.dockerfile_inline']);

function isMap(v: unknown): v is Tree {
  return !!v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof ResetMarker) && !(v instanceof OverrideMarker);
}

function pattern(path: string[]): string {
  // services.<name>.x → services.*.x
  return path.map((p, i) => (i === 1 && path[0] === 'services' ? '*' : p)).join('.');
}

/** Merges `over` onto `base` (both already canonical); returns a new tree. */
export function mergeTrees(base: unknown, over: unknown, path: string[] = []): unknown {
  if (over instanceof ResetMarker) return undefined;
  if (over instanceof OverrideMarker) return over.value;
  if (over === undefined) return base;
  if (base === undefined || base === null) return over;
  const p = pattern(path);
  if (REPLACED.has(p)) return over;
  if (isMap(base) && isMap(over)) {
    const out: Tree = { ...base };
    for (const [k, v] of Object.entries(over)) {
      const merged = mergeTrees(base[k], v, [...path, k]);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    }
    return out;
  }
  if (Array.isArray(base) && Array.isArray(over)) {
    if (p === 'services.*.volumes') return mergeUnique(base, over, (v) => (isMap(v) ? String(v.target) : volumeTarget(String(v))));
    if (p === 'services.*.ports') return mergeUnique(base, over, (v) => (isMap(v) ? `${v.host_ip ?? ''}/${v.target}/${v.published ?? ''}/${v.protocol ?? 'tcp'}` : String(v)));
    if (p === 'services.*.secrets' || p === 'services.*.configs') return mergeUnique(base, over, (v) => (isMap(v) ? String(v.target ?? v.source) : String(v)));
    return mergeUnique(base, over, (v) => JSON.stringify(v));
  }
  return over;
}

function mergeUnique(base: unknown[], over: unknown[], key: (v: unknown) => string): unknown[] {
  const out = [...base];
  const index = new Map(out.map((v, i) => [key(v), i]));
  for (const v of over) {
    const k = key(v);
    const at = index.get(k);
    if (at === undefined) {
      index.set(k, out.length);
      out.push(v);
    } else out[at] = isMap(out[at]) && isMap(v) ? { ...(out[at] as Tree), ...v } : v;
  }
  return out;
}

/** The container path of a short-syntax volume (`src:/dst:ro` → `/dst`, `/dst` → `/dst`). */
export function volumeTarget(spec: string): string {
  const parts = splitVolumeSpec(spec);
  return parts.length === 1 ? parts[0]! : parts[1]!;
}

/** Splits `src:dst[:mode]`, keeping a Windows-free POSIX reading (`:` separates). */
export function splitVolumeSpec(spec: string): string[] {
  return spec.split(':');
}
