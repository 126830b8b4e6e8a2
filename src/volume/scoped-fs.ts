/**
 * Race-free file access inside a container's root, for `docker cp` (issue 24 item 1, the
 * CVE-2018-15664 class). resolveInScope (scope.ts) turns a user's path into a container path
 * free of symlinks, but that answer is only true at the instant it was computed: a running
 * container can swap a checked directory for a symlink (to `/` of the host, say) before the
 * path is used, and every path-based call after that (chmod, utimes, mkdir -p, readdir, open
 * of a child) would follow it out of the root.
 *
 * So every use goes through directory file descriptors instead of path strings: the walk opens
 * the root (or a stopped container's mount source, which the daemon chose), then each
 * component with O_DIRECTORY|O_NOFOLLOW relative to the previous one; the final entry is then
 * named as `/proc/self/fd/<dirfd>/<name>`, where the kernel starts from that directory and
 * looks up one name. A component swapped for a symlink fails the walk (ELOOP/ENOTDIR) instead
 * of being followed. Files are created with O_EXCL|O_NOFOLLOW and their mode, owner and times
 * set through the open handle (fchmod/fchown/futimes), never through the path again;
 * symlinks get lchown/lutimes, which act on the link itself.
 *
 * Why not the alternatives: Node has no openat2(RESOLVE_IN_ROOT) nor chroot, so Docker's way
 * (chrootarchive: extract in a chrooted child) would need a native helper built at install;
 * /proc/self/fd names give the same guarantee (openat semantics, one component at a time)
 * with nothing to build. Directory descriptors stay valid if the container renames the
 * directory: it is still the container's own directory, inside its root or mount.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { ConflictError } from '../common/errors.js';
import type { ContainerView } from './scope.js';

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** A container path whose directory changed into a symlink (or a non-directory) while it was used. */
export class PathSwappedError extends ConflictError {
  override readonly code = 'BERTH_ERR_PATH_SWAPPED';
}

/** The open directories of one copy into or out of a container; close() releases them. */
export class ScopedFs {
  readonly #view: ContainerView;
  readonly #dirs = new Map<string, FileHandle>();

  constructor(view: ContainerView) {
    this.#view = view;
  }

  /** The name of `name` inside the open directory `dir`, for calls that must not follow it. */
  at(dir: FileHandle, name?: string): string {
    return name === undefined ? `/proc/self/fd/${dir.fd}` : `/proc/self/fd/${dir.fd}/${name}`;
  }

  /** The mount whose destination is exactly `cpath` (stopped containers: their sources are separate host directories). */
  #mountAt(cpath: string): string | undefined {
    for (const m of this.#view.mounts) if (posix.normalize(m.destination) === cpath) return m.source;
    return undefined;
  }

  /**
   * The open directory at `cpath` (a resolved container path), walked component by component
   * without following symlinks; with `create`, missing directories are made (mode 0755, root).
   */
  async dir(cpath: string, options: { create?: boolean } = {}): Promise<FileHandle> {
    const p = posix.normalize('/' + cpath);
    const cached = this.#dirs.get(p);
    if (cached) return cached;
    let fh: FileHandle;
    const source = p === '/' ? this.#view.root : this.#mountAt(p);
    if (source !== undefined) {
      // The root and mount sources are paths the daemon chose, not the container.
      fh = await open(source, constants.O_RDONLY | constants.O_DIRECTORY);
    } else {
      const parent = await this.dir(posix.dirname(p), options);
      const at = this.at(parent, posix.basename(p));
      fh = await open(at, DIR_FLAGS).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' && options.create) {
          await mkdir(at, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
            if (e.code !== 'EEXIST') throw e;
          });
          return open(at, DIR_FLAGS);
        }
        throw err;
      }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ELOOP' || err.code === 'ENOTDIR') {
          throw new PathSwappedError(`${p} in the container is no longer a directory (a symbolic link or file took its place during the copy): refused`, { cause: err });
        }
        throw err;
      });
    }
    this.#dirs.set(p, fh);
    return fh;
  }

  /**
   * Where the entry `cpath` is, for calls that act on it without following it: its name in its
   * open parent directory, or a stopped container's mount source when a mount sits exactly there.
   */
  async entry(cpath: string, options: { create?: boolean } = {}): Promise<string> {
    const p = posix.normalize('/' + cpath);
    if (p === '/') return this.#view.root;
    const source = this.#mountAt(p);
    if (source !== undefined) return source;
    return this.at(await this.dir(posix.dirname(p), options), posix.basename(p));
  }

  /** Records an open directory made by the caller (a directory it just created at `cpath`). */
  adopt(cpath: string, fh: FileHandle): void {
    const p = posix.normalize('/' + cpath);
    const old = this.#dirs.get(p);
    this.#dirs.set(p, fh);
    if (old && old !== fh) void old.close().catch(() => {});
  }

  /** Closes and forgets the directories at and below `cpath` (it was removed or is done with). */
  async forget(cpath: string): Promise<void> {
    const p = posix.normalize('/' + cpath);
    for (const [k, fh] of [...this.#dirs]) {
      if (k === p || k.startsWith(p === '/' ? '/' : `${p}/`)) {
        this.#dirs.delete(k);
        await fh.close().catch(() => {});
      }
    }
  }

  /** Removes `name` from the open directory `dir`, recursively, without following any link. */
  async removeAt(dir: FileHandle, name: string): Promise<void> {
    const at = this.at(dir, name);
    const st = await lstat(at);
    if (!st.isDirectory()) return unlink(at);
    let sub: FileHandle;
    try {
      sub = await open(at, DIR_FLAGS);
    } catch (err) {
      // Swapped for a link or file since the lstat: removing that name is still safe.
      if ((err as NodeJS.ErrnoException).code === 'ELOOP' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return unlink(at);
      throw err;
    }
    try {
      for (const child of await readdir(this.at(sub))) await this.removeAt(sub, child);
    } finally {
      await sub.close();
    }
    await rmdir(at);
  }

  async close(): Promise<void> {
    const all = [...this.#dirs.values()];
    this.#dirs.clear();
    await Promise.all(all.map((fh) => fh.close().catch(() => {})));
  }
}

/** O_NOFOLLOW open of a regular file's final component. */
export const FILE_READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW;
export const FILE_CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
export { DIR_FLAGS };
