import { chmod, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The permissions of berthd's data root, matched to Docker's (issue 24 item 3): secrets at
 * rest (the store holds every container's environment, config.json the spec with it) are for
 * root only, and no local user may enter an image's files (layers hold setuid binaries an
 * unprivileged user could otherwise run from the host).
 *
 *   <data-root>                 0710  (Docker: /var/lib/docker 0710)
 *   <data-root>/image           0700  (Docker: image/ 0700; layers and blobs below it)
 *   <data-root>/containers      0710  (Docker: containers/ 0710); each container dir 0710
 *   <data-root>/containers/ID/config.json                 0600  (Docker: config.v2.json 0600)
 *   <data-root>/berth.db, -wal, -shm                      0600
 *   <data-root>/volumes         0701  (Docker: volumes/ 0701: mountpoints are reachable by path only)
 *   <data-root>/build, tmp, move 0700
 *
 * Only modes are changed (never owners), and only ever tightened: bits outside each target
 * are cleared, none is added, so a stricter operator choice stays.
 */
export const DATA_ROOT_MODES: ReadonlyArray<{ path: string; mode: number }> = [
  { path: '', mode: 0o710 },
  { path: 'image', mode: 0o700 },
  { path: 'containers', mode: 0o710 },
  { path: 'volumes', mode: 0o701 },
  { path: 'build', mode: 0o700 },
  { path: 'tmp', mode: 0o700 },
  // Container moves' staging (issue 23): writable layers and volume data in transit.
  { path: 'move', mode: 0o700 },
  { path: 'berth.db', mode: 0o600 },
  { path: 'berth.db-wal', mode: 0o600 },
  { path: 'berth.db-shm', mode: 0o600 },
];

const CONTAINER_FILES: ReadonlyArray<{ name: string; mode: number }> = [
  { name: 'config.json', mode: 0o600 },
  { name: 'resources.json', mode: 0o600 },
];

/** Clears the bits of `path`'s mode that `max` does not allow; missing paths and symlinks are left alone. */
async function tighten(path: string, max: number): Promise<boolean> {
  const st = await lstat(path).catch(() => undefined);
  if (!st || st.isSymbolicLink()) return false;
  const mode = st.mode & 0o7777;
  if ((mode & ~max) === 0) return false;
  await chmod(path, mode & max);
  return true;
}

/**
 * Tightens an existing data root to DATA_ROOT_MODES (start-up check: data roots made by older
 * berth versions were 0711/0755/0644). Returns the paths it changed, for the log.
 */
export async function tightenDataRoot(dataRoot: string): Promise<string[]> {
  const changed: string[] = [];
  for (const { path, mode } of DATA_ROOT_MODES) {
    const p = join(dataRoot, path);
    if (await tighten(p, mode)) changed.push(p);
  }
  const containers = join(dataRoot, 'containers');
  for (const id of await readdir(containers).catch(() => [] as string[])) {
    const dir = join(containers, id);
    if (await tighten(dir, 0o710)) changed.push(dir);
    for (const f of CONTAINER_FILES) {
      const p = join(dir, f.name);
      if (await tighten(p, f.mode)) changed.push(p);
    }
  }
  return changed;
}
