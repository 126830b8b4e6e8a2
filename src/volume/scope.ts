/**
 * Paths inside a container, resolved inside the container's root (Docker's
 * FollowSymlinkInScope): every component is looked at on its own; a symlink is replaced by its
 * target, an absolute target restarting from the container's `/` and `..` never climbing above
 * it. Whatever a container plants (`escape -> /`, `up -> ../../..`, `etc -> /etc`), the result
 * is a container path whose host location is under the container's root or one of its mounts.
 *
 * A `ContainerView` says where a container path lives on the host: a running container is seen
 * through `/proc/<pid>/root` (its own mount table: volumes, binds and tmpfs included); a stopped
 * one through its mounted rootfs plus the host sources of its mounts.
 *
 * A resolved path is only true when it was computed: a running container can swap a checked
 * directory for a symlink before the path is used (the race of Docker's CVE-2018-15664). So
 * `docker cp` uses resolved paths only through scoped-fs.ts, which opens every component
 * without following links and acts on descriptors, never on the path string again.
 */
import { lstat, readlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { InvalidParameterError } from '../common/errors.js';

/** Where a container's files are, seen from the host. */
export interface ContainerView {
  /** Host path of the container's `/`. */
  root: string;
  /** Host sources of the container's mounts (used for a stopped container; empty when `root` already shows them). */
  mounts: { destination: string; source: string; readOnly: boolean }[];
}

const MAX_LINKS = 255;

/** The host path for a container path that has no symlinks left in it. */
export function hostPath(view: ContainerView, containerPath: string): string {
  const p = posix.normalize('/' + containerPath);
  let best: { destination: string; source: string } | undefined;
  for (const m of view.mounts) {
    const d = posix.normalize(m.destination);
    if ((p === d || p.startsWith(d === '/' ? '/' : d + '/')) && (!best || d.length > best.destination.length)) best = { destination: d, source: m.source };
  }
  if (best) return best.source + (p === best.destination ? '' : p.slice(best.destination === '/' ? 0 : best.destination.length));
  return view.root.replace(/\/+$/, '') + (p === '/' ? '' : p);
}

/** Whether a (resolved) container path lies on a read-only mount of a stopped container's view. */
export function isReadOnlyPath(view: ContainerView, containerPath: string): boolean {
  const p = posix.normalize('/' + containerPath);
  let best: { destination: string; readOnly: boolean } | undefined;
  for (const m of view.mounts) {
    const d = posix.normalize(m.destination);
    if ((p === d || p.startsWith(d + '/')) && (!best || d.length > best.destination.length)) best = m;
  }
  return best?.readOnly ?? false;
}

/**
 * Resolves `path` (absolute, as the user named it in the container) to a clean container path
 * free of symlinks. With `followFinal: false` the last component is kept as is (a symlink named
 * there is the link itself, as `docker cp` copies links).
 */
export async function resolveInScope(view: ContainerView, path: string, options: { followFinal?: boolean } = {}): Promise<string> {
  const follow = options.followFinal ?? true;
  let resolved = '/';
  let pending = path.split('/');
  let links = 0;
  while (pending.length > 0) {
    const c = pending.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      resolved = posix.dirname(resolved);
      continue;
    }
    const next = resolved === '/' ? `/${c}` : `${resolved}/${c}`;
    if (!follow && pending.every((x) => x === '' || x === '.')) {
      resolved = next;
      break;
    }
    let isLink = false;
    try {
      isLink = (await lstat(hostPath(view, next))).isSymbolicLink();
    } catch {
      // Missing: nothing to follow; the rest is taken literally (but still cleaned).
    }
    if (!isLink) {
      resolved = next;
      continue;
    }
    if (++links > MAX_LINKS) throw new InvalidParameterError(`too many levels of symbolic links in ${JSON.stringify(path)}`);
    const target = await readlink(hostPath(view, next));
    if (target.startsWith('/')) resolved = '/';
    pending = [...target.split('/'), ...pending];
  }
  return resolved;
}
