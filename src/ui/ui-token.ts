/** The per-daemon dashboard token: made once, kept in the data root (0600), so a bookmark lasts. */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

const FILE = 'desktop-token';

export async function loadOrCreateToken(dataRoot: string): Promise<string> {
  const path = join(dataRoot, FILE);
  const existing = (await readFile(path, 'utf8').catch(() => '')).trim();
  if (/^[0-9a-f]{64}$/.test(existing)) return existing;
  const token = randomBytes(32).toString('hex');
  await writeFile(`${path}.tmp`, `${token}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
  return token;
}
