/**
 * The file work behind `docker cp` (GET/HEAD/PUT /containers/{id}/archive), on a container
 * view (scope.ts): every container path is resolved inside the container's root first.
 *
 * - `statPath`: Docker's `X-Docker-Container-Path-Stat` (name, size, Go FileMode, mtime, link target);
 * - `packPath`: a tar of one path, entries named after the requested base name (`.` for `dir/.`),
 *   walked with lstat (links are archived as links, never followed), crossing into the sources
 *   of a stopped container's mounts;
 * - `extractArchive`: writes a tar (already validated: no `..`, nothing written through a link
 *   the archive made, hardlinks to earlier entries) below a directory, each entry's parent
 *   resolved in scope, then used only through directory descriptors opened without following
 *   links (scoped-fs.ts: the CVE-2018-15664 race), its last component created with
 *   O_EXCL|O_NOFOLLOW.
 *
 * Hand-written over tar-stream rather than GNU tar: GNU tar follows symlinks already present in
 * the destination, which in a container are the container's to plant.
 */
import { constants, createReadStream } from 'node:fs';
import { lchown, lstat, link, lutimes, mkdir, open, readdir, readlink, stat, symlink, unlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { ConflictError, InvalidParameterError, InvalidTarError, NotFoundError } from '../common/errors.js';
import { hostPath, isReadOnlyPath, resolveInScope, type ContainerView } from './scope.js';
import { FILE_CREATE_FLAGS, FILE_READ_FLAGS, PathSwappedError, ScopedFs } from './scoped-fs.js';
import { GO_CHARDEV, GO_DEVICE, GO_DIR, GO_PIPE, GO_SETGID, GO_SETUID, GO_SOCKET, GO_STICKY, GO_SYMLINK, type PathStat } from '../common/path-stat.js';

export type { PathStat };

/** Go's os.FileMode for a Node stat. */
export function goFileMode(st: { mode: number; isDirectory(): boolean; isSymbolicLink(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): number {
  let m = st.mode & 0o777;
  if (st.isDirectory()) m += GO_DIR;
  if (st.isSymbolicLink()) m += GO_SYMLINK;
  if (st.isFIFO()) m += GO_PIPE;
  if (st.isSocket()) m += GO_SOCKET;
  if (st.isCharacterDevice()) m += GO_DEVICE + GO_CHARDEV;
  if (st.isBlockDevice()) m += GO_DEVICE;
  if (st.mode & 0o4000) m += GO_SETUID;
  if (st.mode & 0o2000) m += GO_SETGID;
  if (st.mode & 0o1000) m += GO_STICKY;
  return m;
}

/** A path names a directory's contents (`dir/.`) or a directory (`dir/`): its links are followed. */
function followsFinal(path: string): boolean {
  return path.endsWith('/') || path.endsWith('/.') || path === '.';
}

export class PathNotFoundError extends NotFoundError {
  override readonly code = 'BERTH_ERR_NO_SUCH_PATH';
}

/** Resolves a user path in the container; returns the clean container path and its host path. */
export async function locate(view: ContainerView, path: string, containerRef: string): Promise<{ resolved: string; host: string; st: import("node:fs").Stats }> {
  if (!path) throw new InvalidParameterError('path must not be empty');
  const abs = path.startsWith('/') ? path : `/${path}`;
  const resolved = await resolveInScope(view, abs, { followFinal: followsFinal(abs) });
  const host = hostPath(view, resolved);
  // The container's `/` of a running one is /proc/PID/root, a link to follow, never a symlink of its own.
  const st = await (resolved === '/' ? stat(host) : lstat(host)).catch(() => undefined);
  if (!st) throw new PathNotFoundError(`Could not find the file ${path} in container ${containerRef}`);
  if (abs.endsWith('/') && !st.isDirectory()) throw new InvalidParameterError(`${path}: not a directory`);
  return { resolved, host, st };
}

export async function statPath(view: ContainerView, path: string, containerRef: string): Promise<PathStat> {
  const { resolved, host, st } = await locate(view, path, containerRef);
  let linkTarget = '';
  if (st.isSymbolicLink()) linkTarget = await resolveInScope(view, resolved, { followFinal: true });
  void host;
  const name = posix.basename(path.startsWith('/') ? path : `/${path}`) || '/';
  return { name, size: Number(st.size), mode: goFileMode(st), mtime: st.mtime.toISOString(), linkTarget };
}

/** Pseudo filesystems of a running container that are not copied out (as their contents are not files). */
const SKIP_RUNNING = new Set(['/proc', '/sys', '/dev']);

/**
 * A tar of `path` (see the module comment). Entries are read lazily; `done` settles when the
 * walk ends. Every directory is opened without following links and its children are named
 * through it (scoped-fs.ts), so a directory swapped for a symlink mid-read is refused, never
 * followed out of the root.
 */
export function packPath(view: ContainerView, resolved: string, requested: string, options: { skipPseudo?: boolean; mapIds?: (uid: number, gid: number) => { uid: number; gid: number } } = {}): { stream: Readable; done: Promise<void> } {
  const pack = tar.pack();
  const base = requested === '/' ? '.' : posix.basename(requested.replace(/\/+$/, '')) || '.';
  const prefix = requested.endsWith('/.') ? '.' : base;
  const add = (header: Partial<tar.Header> & { name: string }, body?: Buffer): Promise<void> => new Promise((res, rej) => pack.entry(header as tar.Header, body ?? Buffer.alloc(0), (err) => (err ? rej(err) : res())));
  const inodes = new Map<string, string>();
  const fs = new ScopedFs(view);
  const entry = async (cpath: string, name: string): Promise<void> => {
    const at = await fs.entry(cpath);
    const st = await lstat(at);
    const h = { name, mode: st.mode & 0o7777, ...(options.mapIds ? options.mapIds(st.uid, st.gid) : { uid: st.uid, gid: st.gid }), mtime: st.mtime };
    if (st.isDirectory()) {
      await add({ ...h, name: `${name}/`, type: 'directory' });
      if (options.skipPseudo && SKIP_RUNNING.has(cpath)) return;
      const dir = await fs.dir(cpath);
      const children = (await readdir(fs.at(dir))).sort();
      for (const child of children) await entry(cpath === '/' ? `/${child}` : `${cpath}/${child}`, `${name}/${child}`);
      await fs.forget(cpath);
    } else if (st.isSymbolicLink()) {
      await add({ ...h, type: 'symlink', linkname: await readlink(at) });
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? inodes.get(key) : undefined;
      if (first) return add({ ...h, type: 'link', linkname: first });
      // O_NOFOLLOW, and the open file must still be the regular file that was examined.
      const fh = await open(at, FILE_READ_FLAGS);
      // The read stream closes the handle when it ends; until it exists, closing is ours.
      let streaming = false;
      try {
        const fst = await fh.stat();
        if (!fst.isFile() || fst.ino !== st.ino || fst.dev !== st.dev) throw new PathSwappedError(`${cpath} in the container changed during the copy: refused`);
        if (st.nlink > 1) inodes.set(key, name);
        if (fst.size === 0) return await add({ ...h, type: 'file', size: 0 });
        streaming = true;
        await new Promise<void>((res, rej) => {
          const e = pack.entry({ ...h, type: 'file', size: fst.size }, (err) => (err ? rej(err) : res()));
          pipeline(fh.createReadStream({ start: 0, end: fst.size - 1 }), e as unknown as NodeJS.WritableStream).catch(rej);
        });
      } finally {
        if (!streaming) await fh.close();
      }
    } else if (st.isFIFO()) {
      await add({ ...h, type: 'fifo' });
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      await add({ ...h, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: Math.floor(st.rdev / 256) & 0xfff, devminor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00) });
    }
  };
  const done = (async () => {
    try {
      await entry(resolved, prefix);
    } finally {
      await fs.close();
    }
    pack.finalize();
  })();
  done.catch((err: unknown) => pack.destroy(err as Error));
  return { stream: pack as unknown as Readable, done };
}

export interface ExtractOptions {
  /** Keep the archive's owners (`docker cp -a`); otherwise files belong to root. */
  copyUidGid?: boolean;
  /** Refuse to replace a directory with a non-directory and the reverse (the docker CLI sets it). */
  noOverwriteDirNonDir?: boolean;
  /** The container's ids → host ids, for a container in a user namespace (issue 21). */
  mapIds?: (uid: number, gid: number) => { uid: number; gid: number };
}

/**
 * Extracts a validated tar file below the container directory `dest` (a resolved container
 * path). Each entry's parent is resolved in scope, then opened without following links
 * (scoped-fs.ts); the entry is created in that open directory and its owner, mode and times
 * set through its own descriptor, so nothing the container swaps in meanwhile is followed.
 * A stopped container's read-only mounts below `dest` are refused as a running one's are.
 */
export async function extractArchive(view: ContainerView, dest: string, tarFile: string, options: ExtractOptions = {}): Promise<void> {
  const dirTimes: { cpath: string; mtime: Date }[] = [];
  const fs = new ScopedFs(view);
  try {
    await walkTar(tarFile, async (h, body) => {
      const parts = h.name.split('/').filter((p) => p !== '' && p !== '.');
      if (parts.includes('..')) throw new InvalidTarError(`invalid tar archive: entry ${JSON.stringify(h.name)} contains ".."`);
      if (parts.length === 0) {
        body.resume();
        return;
      }
      const parent = await resolveInScope(view, posix.join(dest, ...parts.slice(0, -1)));
      const name = parts[parts.length - 1]!;
      const cpath = posix.join(parent, name);
      if (isReadOnlyPath(view, cpath)) throw new ConflictError('mounted volume is marked read-only');
      const dir = await fs.dir(parent, { create: true });
      const at = fs.at(dir, name);
      const existing = await lstat(at).catch(() => undefined);
      const ids = options.copyUidGid ? { uid: h.uid ?? 0, gid: h.gid ?? 0 } : { uid: 0, gid: 0 };
      const { uid, gid } = options.mapIds ? options.mapIds(ids.uid, ids.gid) : ids;
      const mode = (h.mode ?? 0o644) & 0o7777;
      const mtime = h.mtime ?? new Date();
      const type = h.type ?? 'file';
      if (type === 'directory') {
        body.resume();
        if (existing && !existing.isDirectory()) {
          if (options.noOverwriteDirNonDir) throw new ConflictError(`cannot overwrite non-directory "${cpath}" with directory "${h.name}"`);
          await unlink(at);
        }
        if (!existing || !existing.isDirectory()) await mkdir(at, { mode });
        const sub = await fs.dir(cpath);
        await sub.chown(uid, gid);
        await sub.chmod(mode);
        dirTimes.push({ cpath, mtime });
        return;
      }
      if (existing?.isDirectory()) {
        body.resume();
        if (options.noOverwriteDirNonDir) throw new ConflictError(`cannot overwrite directory "${cpath}" with non-directory "${h.name}"`);
        await fs.forget(cpath);
        await fs.removeAt(dir, name);
      } else if (existing) {
        await unlink(at);
      }
      switch (type) {
        case 'file':
        case 'contiguous-file': {
          const fh = await open(at, FILE_CREATE_FLAGS, mode);
          try {
            // Written through the handle itself (a stream made from it would hold the handle open).
            for await (const chunk of body as AsyncIterable<Buffer>) {
              for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off)).bytesWritten;
            }
            await fh.chown(uid, gid);
            await fh.chmod(mode);
            await fh.utimes(mtime, mtime);
          } finally {
            await fh.close();
          }
          break;
        }
        case 'symlink':
          body.resume();
          // symlink, lchown and lutimes all act on the link itself, in the open parent.
          await symlink(h.linkname ?? '', at);
          await lchown(at, uid, gid);
          await lutimes(at, mtime, mtime);
          break;
        case 'link': {
          body.resume();
          const tparts = (h.linkname ?? '').split('/').filter((p) => p !== '' && p !== '.');
          const tparent = await resolveInScope(view, posix.join(dest, ...tparts.slice(0, -1)));
          const target = fs.at(await fs.dir(tparent), tparts[tparts.length - 1] ?? '');
          const tst = await lstat(target).catch(() => undefined);
          if (!tst || tst.isDirectory() || tst.isSymbolicLink()) throw new InvalidTarError(`invalid tar archive: hardlink ${JSON.stringify(h.name)} has no usable target`);
          // link(2) does not follow a symlink in its last component.
          await link(target, at);
          break;
        }
        default:
          // FIFOs and device nodes are not copied into containers.
          body.resume();
      }
    });
    for (const d of dirTimes.reverse()) {
      const fh = await fs.dir(d.cpath).catch(() => undefined);
      await fh?.utimes(d.mtime, d.mtime).catch(() => {});
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EROFS') throw new ConflictError('mounted volume is marked read-only', { cause: err });
    throw err;
  } finally {
    await fs.close();
  }
}

/** Feeds each entry of a tar file to `fn` in order (the entry's body must be consumed). */
async function walkTar(tarFile: string, fn: (h: tar.Header, body: Readable) => Promise<void>): Promise<void> {
  const extract = tar.extract();
  let failure: unknown;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, stream, next) => {
      stream.on('error', () => {});
      const ended = new Promise<void>((r) => stream.on('end', () => r()));
      fn(h, stream as unknown as Readable).then(
        async () => {
          stream.resume();
          await ended;
          next();
        },
        (err: unknown) => {
          failure ??= err;
          stream.resume();
          next(err as Error);
        },
      );
    });
    extract.on('finish', () => resolve());
    extract.on('close', () => resolve());
    extract.on('error', (e: unknown) => reject(failure ?? e));
  });
  createReadStream(tarFile).pipe(extract as unknown as NodeJS.WritableStream);
  await done;
  if (failure) throw failure;
}

export { Readable };
