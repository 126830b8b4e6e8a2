/**
 * Turns a directory of changes into a layer tar, the inverse of the layer store's import:
 * an overlay upper dir (a container's writable layer, or a staging dir the builder filled)
 * becomes an OCI/Docker layer with AUFS whiteouts, as Docker's overlay2 `Diff` does:
 *
 * - an overlay whiteout (a 0/0 character device NAME) → an empty regular file `.wh.NAME`;
 * - an opaque directory (`trusted.overlay.opaque=y`) → the directory plus `DIR/.wh..wh..opq`;
 * - hardlinks inside the dir (same inode) → tar hardlink entries after the first;
 * - files, dirs, symlinks, FIFOs and devices keep mode, owner and mtime.
 *
 * Hand-written over tar-stream's packer (rather than GNU tar) because GNU tar has no whiteout
 * conversion, and its `--xattrs` would carry `trusted.overlay.*`, which the layer store refuses.
 * Other extended attributes (e.g. file capabilities) are not carried yet.
 *
 * The stream is produced lazily: entries are read while the consumer reads; the directory
 * must not change meanwhile (the container has exited).
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import type { CommandRunner } from '../common/command-runner.js';

export interface DiffLayerOptions {
  /** Runs `getfattr` to find opaque directories; without it none are detected. */
  runner?: CommandRunner;
  /** Path prefix inside the layer for every entry (default none). */
  signal?: AbortSignal;
  /** Host ids → ids in the layer: a remapped container's upper dir holds its shifted ids (issue 21). */
  mapIds?: (uid: number, gid: number) => { uid: number; gid: number };
}

/** Relative paths (`a/b`, '' for the root) of the opaque directories under `dir`. */
export async function opaqueDirs(dir: string, runner: CommandRunner): Promise<Set<string>> {
  const r = await runner.run(['getfattr', '-R', '-P', '--absolute-names', '-m', '^trusted\\.overlay\\.opaque$', '-d', dir], { check: false });
  const out = new Set<string>();
  let file: string | undefined;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) file = line.slice(8);
    else if (file && /^trusted\.overlay\.opaque="y"$/.test(line.trim())) {
      const rel = file === dir ? '' : file.slice(dir.length + 1);
      out.add(rel);
    }
  }
  return out;
}

/** Whether `dir` holds nothing (an empty layer). */
export async function isEmptyDir(dir: string): Promise<boolean> {
  return (await readdir(dir)).length === 0;
}

/** Streams the layer tar of `dir` (see the module comment). */
export function diffLayer(dir: string, options: DiffLayerOptions = {}): Readable {
  const pack = tar.pack();
  void (async () => {
    const opaque = options.runner ? await opaqueDirs(dir, options.runner) : new Set<string>();
    const inodes = new Map<string, string>();
    const add = (header: Partial<tar.Header> & { name: string }, body?: Buffer): Promise<void> =>
      new Promise((resolve, reject) => pack.entry(header, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));

    const walk = async (rel: string): Promise<void> => {
      const abs = rel ? join(dir, rel) : dir;
      const names = (await readdir(abs)).sort();
      for (const name of names) {
        options.signal?.throwIfAborted();
        const path = rel ? `${rel}/${name}` : name;
        const full = join(dir, path);
        const st = await lstat(full);
        const base = { mode: st.mode & 0o7777, ...(options.mapIds ? options.mapIds(st.uid, st.gid) : { uid: st.uid, gid: st.gid }), mtime: st.mtime };
        if (st.isCharacterDevice() && st.rdev === 0) {
          const wh = rel ? `${rel}/.wh.${name}` : `.wh.${name}`;
          await add({ name: wh, type: 'file', size: 0, mode: 0o600, uid: 0, gid: 0, mtime: st.mtime });
        } else if (st.isDirectory()) {
          await add({ ...base, name: `${path}/`, type: 'directory' });
          if (opaque.has(path)) await add({ name: `${path}/.wh..wh..opq`, type: 'file', size: 0, mode: 0o600, uid: 0, gid: 0, mtime: st.mtime });
          await walk(path);
        } else if (st.isSymbolicLink()) {
          await add({ ...base, name: path, type: 'symlink', linkname: await readlink(full) });
        } else if (st.isFile()) {
          const key = `${st.dev}:${st.ino}`;
          const first = st.nlink > 1 ? inodes.get(key) : undefined;
          if (first) {
            await add({ ...base, name: path, type: 'link', linkname: first });
            continue;
          }
          if (st.nlink > 1) inodes.set(key, path);
          await new Promise<void>((resolve, reject) => {
            const entry = pack.entry({ ...base, name: path, type: 'file', size: st.size }, (err) => (err ? reject(err) : resolve()));
            pipeline(createReadStream(full), entry as unknown as NodeJS.WritableStream).catch(reject);
          });
        } else if (st.isFIFO()) {
          await add({ ...base, name: path, type: 'fifo' });
        } else if (st.isCharacterDevice() || st.isBlockDevice()) {
          await add({ ...base, name: path, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: Math.floor(st.rdev / 256) & 0xfff, devminor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00) });
        }
        // sockets are not part of a layer
      }
    };
    if (opaque.has('')) await add({ name: '.wh..wh..opq', type: 'file', size: 0, mode: 0o600, uid: 0, gid: 0, mtime: new Date() });
    await walk('');
    pack.finalize();
  })().catch((err: unknown) => pack.destroy(err as Error));
  return pack as unknown as Readable;
}
