import { readFileSync } from 'node:fs';
import { StatusError } from './errors.js';

/** `--env-file` for run, create and exec (kept apart so exec loads no container-option code). */

/** docker's env-file format: `KEY=value` lines, `#` comments, bare `KEY` taken from the environment. */
export function parseEnvFile(text: string, env: NodeJS.ProcessEnv, file = ''): string[] {
  const out: string[] = [];
  text.split(/\r?\n/).forEach((raw, n) => {
    const line = raw.replace(/^\s+/, '');
    if (!line || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq >= 0 ? line.slice(0, eq) : line.trimEnd();
    if (!key || /\s/.test(key)) throw new StatusError(125, `poorly formatted environment: variable '${key}' contains whitespaces (${file}:${n + 1})`);
    if (eq >= 0) out.push(line);
    else if (env[key] !== undefined) out.push(`${key}=${env[key]}`);
  });
  return out;
}

/** `--env-file` contents, in the order given (docker reads them before `-e`). */
export function envFromFiles(files: string[] | undefined, env: NodeJS.ProcessEnv): string[] {
  return linesFromFiles(files, (text, file) => parseEnvFile(text, env, file));
}

/** Each file read (docker's wording when it cannot be) and parsed, the results in order. */
export function linesFromFiles(files: string[] | undefined, parse: (text: string, file: string) => string[]): string[] {
  const out: string[] = [];
  for (const file of files ?? []) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new StatusError(125, `open ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
    }
    out.push(...parse(text, file));
  }
  return out;
}

