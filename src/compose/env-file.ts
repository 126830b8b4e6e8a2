import { interpolateString } from './interpolate.js';

/**
 * Parses a `.env` / `env_file` file as Docker Compose v2 does: `KEY=VALUE` lines, `#` comments,
 * an optional `export ` prefix, single quotes literal, double quotes with `\n`/`\t`/`\"`
 * escapes, unquoted values trimmed with ` #` starting a comment, and `${VAR}` interpolation
 * (from earlier lines, then `lookup`) in unquoted and double-quoted values. A line `KEY` alone
 * takes the value from `lookup` (absent when unset).
 */
export function parseEnvFile(text: string, options: { lookup?: Record<string, string | undefined>; file?: string } = {}): Record<string, string> {
  const out: Record<string, string> = {};
  const env = (): Record<string, string | undefined> => ({ ...options.lookup, ...out });
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n]!.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('export ')) line = line.slice(7).trimStart();
    const eq = line.indexOf('=');
    const key = (eq < 0 ? line : line.slice(0, eq)).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) {
      throw new Error(`failed to read ${options.file ?? 'env file'}: line ${n + 1}: unexpected character ${JSON.stringify(key.replace(/^[A-Za-z0-9_.-]*/, '')[0] ?? key)} in variable name ${JSON.stringify(key)}`);
    }
    if (eq < 0) {
      const v = options.lookup?.[key];
      if (v !== undefined) out[key] = v;
      continue;
    }
    let raw = line.slice(eq + 1).trimStart();
    let value: string;
    if (raw.startsWith("'") || raw.startsWith('"')) {
      const q = raw[0]!;
      // Quoted values may span lines.
      let body = raw.slice(1);
      while (!closes(body, q) && n + 1 < lines.length) body += `\n${lines[++n]!}`;
      const end = closeIndex(body, q);
      if (end < 0) throw new Error(`failed to read ${options.file ?? 'env file'}: line ${n + 1}: unterminated quoted value`);
      body = body.slice(0, end);
      if (q === "'") value = body;
      else {
        value = body.replace(/\\([nrt"\\$])/g, (_m, c: string) => ({ n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\', $: '$$' })[c]!);
        value = interpolateString(value, { env: env(), path: key });
      }
    } else {
      const hash = raw.search(/\s#/);
      if (hash >= 0) raw = raw.slice(0, hash);
      value = interpolateString(raw.trim(), { env: env(), path: key });
    }
    out[key] = value;
  }
  return out;
}

function closeIndex(body: string, q: string): number {
  for (let i = 0; i < body.length; i++) {
    if (q === '"' && body[i] === '\\') {
      i++;
      continue;
    }
    if (body[i] === q) return i;
  }
  return -1;
}

function closes(body: string, q: string): boolean {
  return closeIndex(body, q) >= 0;
}
