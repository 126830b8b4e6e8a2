/** Small value parsers compose files need: Go durations, byte sizes, shell words. Pure. */

/** A Go/compose duration (`1m30s`, `500ms`, `10s`) in nanoseconds; a bare number is seconds? no: invalid. */
export function parseDurationNs(v: string | number, what: string): number {
  if (typeof v === 'number') return Math.round(v * 1e9);
  const s = v.trim();
  if (s === '0') return 0;
  const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s)) throw new Error(`${what}: time: invalid duration ${JSON.stringify(s)}`);
  let ns = 0;
  for (const [, n, , u] of s.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ns += Number(n) * units[u!]!;
  return Math.round(ns);
}

/** `512m`, `1g`, `1024` (bytes), `1.5gb` → bytes, as compose's mem_limit. */
export function parseBytes(v: string | number, what: string): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)b?$/i.exec(v.trim());
  if (!m) throw new Error(`${what}: invalid size: ${JSON.stringify(v)}`);
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
  return Math.round(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}

/** Splits a command string into words as a POSIX shell would (quotes, backslashes), no expansion. */
export function shellSplit(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let q: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q === "'") {
      if (c === "'") q = undefined;
      else cur += c;
      continue;
    }
    if (q === '"') {
      if (c === '"') q = undefined;
      else if (c === '\\' && i + 1 < s.length && '"\\$`'.includes(s[i + 1]!)) cur += s[++i];
      else cur += c;
      continue;
    }
    if (c === "'" || c === '"') {
      q = c;
      has = true;
      continue;
    }
    if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      has = true;
      continue;
    }
    if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
      continue;
    }
    cur += c;
  }
  if (q) throw new Error(`invalid command line string: unterminated quote in ${JSON.stringify(s)}`);
  if (has || cur) out.push(cur);
  return out;
}
