/**
 * `docker diff`: a container's changes against its image, read from its overlay upper dir as
 * Docker's overlay2 driver does: a whiteout (0/0 character device) is a deletion (Kind 2), an
 * entry that exists in a lower layer is a change (Kind 0), anything else was added (Kind 1).
 * Mount points the engine or runtime created (`/etc/hosts`, volume targets, `/proc`, …) are
 * left out, and so are the directories that only changed because of them.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface Change {
  Path: string;
  Kind: 0 | 1 | 2;
}

/** Whether `rel` exists in a lower dir without going through a symlink of that layer. */
async function inLower(lowers: readonly string[], rel: string[]): Promise<boolean> {
  outer: for (const lower of lowers) {
    let p = lower;
    for (let i = 0; i < rel.length; i++) {
      p = join(p, rel[i]!);
      const st = await lstat(p).catch(() => undefined);
      if (!st) continue outer;
      if (i < rel.length - 1 && !st.isDirectory()) continue outer;
    }
    return true;
  }
  return false;
}

export async function containerChanges(upper: string, lowers: readonly string[], mountPoints: ReadonlySet<string>): Promise<Change[]> {
  const out: Change[] = [];
  const walk = async (rel: string[]): Promise<boolean> => {
    let kept = false;
    const dir = join(upper, ...rel);
    for (const name of (await readdir(dir).catch(() => [] as string[])).sort()) {
      const parts = [...rel, name];
      const path = '/' + parts.join('/');
      const st = await lstat(join(dir, name));
      if (st.isCharacterDevice() && st.rdev === 0) {
        out.push({ Path: path, Kind: 2 });
        kept = true;
        continue;
      }
      if (mountPoints.has(path)) {
        // The mount point itself; what lies below belongs to the mount, not to the container.
        continue;
      }
      const existed = await inLower(lowers, parts);
      const at = out.length;
      out.push({ Path: path, Kind: existed ? 0 : 1 });
      let childKept = false;
      if (st.isDirectory()) childKept = await walk(parts);
      // A directory of the image that only appears because a mount point was made under it.
      if (st.isDirectory() && existed && !childKept && [...mountPoints].some((m) => m.startsWith(path + '/'))) {
        out.splice(at, 1);
        continue;
      }
      kept = true;
    }
    return kept;
  };
  await walk([]);
  return out.sort((a, b) => (a.Path < b.Path ? -1 : a.Path > b.Path ? 1 : 0));
}
