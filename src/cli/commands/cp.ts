/**
 * `berth cp`: files between a container and the local filesystem, through the archive
 * endpoints, with the docker CLI's rules (docker/cli `cli/command/container/cp.go`, moby
 * `pkg/archive/copy.go`):
 *
 * - `CTR:SRC DEST`: an existing directory DEST receives SRC under its own name (or SRC's
 *   contents for `SRC/.`); otherwise DEST is created with SRC's content. A directory never
 *   replaces a file ("cannot copy directory"); `DEST/` must exist for a file.
 * - `SRC CTR:DEST`: the same rules, decided from the daemon's stat of DEST (HEAD archive);
 *   the upload goes to DEST or to its parent with the entry renamed.
 * - `-` as DEST writes the tar to stdout; `-` as SRC reads a tar from stdin.
 *
 * Local archives are made and unpacked by GNU tar; names are rebased here with tar-stream.
 */
import { spawn } from 'node:child_process';
import { lstat, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import type { CommandModule } from '../command.js';
import { StatusError } from '../errors.js';
import { ApiError } from '../../client/errors.js';
import { decodePathStat, GO_DIR, GO_SYMLINK, type PathStat } from '../../common/path-stat.js';


function splitArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/') || arg.startsWith('.') || arg === '-') return { path: arg };
  const i = arg.indexOf(':');
  if (i <= 0) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

function decodeStat(h: string | string[] | undefined): PathStat {
  if (typeof h !== 'string') throw new StatusError(1, 'the daemon sent no path stat');
  return decodePathStat(h);
}

const isDir = (s: PathStat) => Math.floor(s.mode / GO_DIR) % 2 === 1;
const isLink = (s: PathStat) => Math.floor(s.mode / GO_SYMLINK) % 2 === 1;
const contentsOf = (p: string) => p.endsWith('/.') || p === '.';

/** Renames the first path component `from` to `to` in every entry ('' strips it). */
function rebase(input: Readable, from: string, to: string): Readable {
  const extract = tar.extract();
  const pack = tar.pack();
  extract.on('entry', (h, stream, next) => {
    const parts = h.name.split('/');
    if (parts[0] === from || (from === '.' && parts[0] === '.')) parts[0] = to;
    const name = parts.filter((p, i) => !(i === 0 && p === '')).join('/');
    if (!name || name === '/') {
      stream.resume();
      stream.on('end', () => next());
      return;
    }
    const out = pack.entry({ ...h, name }, (err) => next(err ?? undefined));
    stream.pipe(out as unknown as NodeJS.WritableStream);
  });
  extract.on('finish', () => pack.finalize());
  extract.on('error', (e: Error) => pack.destroy(e));
  input.on('error', (e) => pack.destroy(e));
  input.pipe(extract as unknown as NodeJS.WritableStream);
  return pack as unknown as Readable;
}

/** Runs GNU tar with `input` on stdin; rejects with its stderr on failure. */
function runTar(args: string[], input?: Readable): { stdout: Readable; done: Promise<void> } {
  const child = spawn('tar', args, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  if (input) input.pipe(child.stdin!).on('error', () => {});
  const done = new Promise<void>((res, rej) => {
    child.on('error', rej);
    child.on('close', (code) => (code === 0 ? res() : rej(new StatusError(1, err.trim() || `tar exited with ${code}`))));
  });
  return { stdout: child.stdout!, done };
}

async function localStat(p: string): Promise<import('node:fs').Stats | undefined> {
  return stat(p).catch(() => undefined);
}

export const command: CommandModule = {
  usage: '[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
  description: 'Copy files/folders between a container and the local filesystem',
  aliases: ['berth container cp'],
  args: { exact: 2 },
  configure(cmd) {
    cmd
      .option('-a, --archive', 'Archive mode (copy all uid/gid information)')
      .option('-L, --follow-link', 'Always follow symbol link in SRC_PATH')
      .option('-q, --quiet', 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached');
  },
  async run(ctx, args, opts) {
    const o = opts as { archive?: boolean; followLink?: boolean };
    const src = splitArg(args[0]!);
    const dst = splitArg(args[1]!);
    if (src.container && dst.container) throw new StatusError(1, 'copying between containers is not supported');
    if (!src.container && !dst.container) throw new StatusError(1, 'must specify at least one container source');
    const client = await ctx.client();
    const archiveUrl = (c: string) => `/containers/${encodeURIComponent(c)}/archive`;
    const notFound = (c: string, p: string) => (err: unknown) => {
      if (err instanceof ApiError && err.statusCode === 404 && !/No such container/i.test(err.message)) throw new StatusError(1, `Error response from daemon: Could not find the file ${p} in container ${c}`);
      throw err;
    };

    if (src.container) {
      // ---- from the container ----
      let path = src.path || '/';
      if (o.followLink) {
        const head = await client.request('HEAD', archiveUrl(src.container), { query: { path } }).catch(notFound(src.container, path));
        head.resume();
        const s = decodeStat(head.headers['x-docker-container-path-stat']);
        if (isLink(s) && s.linkTarget) path = s.linkTarget;
      }
      const res = await client.request('GET', archiveUrl(src.container), { query: { path } }).catch(notFound(src.container, path));
      const st = decodeStat(res.headers['x-docker-container-path-stat']);
      if (dst.path === '-') {
        await pipeline(res, ctx.stdout, { end: false });
        return 0;
      }
      const srcBase = contentsOf(path) ? '.' : basename(path.replace(/\/+$/, '')) || '.';
      const dest = resolve(dst.path);
      const dstInfo = await localStat(dest);
      let dir: string;
      let stream: Readable;
      if (dstInfo?.isDirectory()) {
        dir = dest;
        stream = contentsOf(path) && isDir(st) ? rebase(res, '.', '') : res;
      } else if (dstInfo) {
        if (isDir(st)) throw new StatusError(1, 'cannot copy directory');
        dir = dirname(dest);
        stream = rebase(res, srcBase, basename(dest));
      } else {
        if (dst.path.endsWith('/') && !isDir(st)) throw new StatusError(1, `no such directory`);
        const parent = await localStat(dirname(dest));
        if (!parent?.isDirectory()) throw new StatusError(1, `no such directory`);
        dir = dirname(dest);
        stream = rebase(res, srcBase, basename(dest));
      }
      const t = runTar(['-x', '-f', '-', '-C', dir, ...(o.archive ? ['--same-owner'] : ['--no-same-owner'])], stream);
      t.stdout.resume();
      await t.done;
      return 0;
    }

    // ---- into the container ----
    const c = dst.container!;
    const dpath = dst.path || '/';
    if (src.path === '-') {
      const res = await client.request('PUT', archiveUrl(c), { query: { path: dpath, noOverwriteDirNonDir: true, copyUIDGID: o.archive }, body: ctx.stdin as Readable }).catch(notFound(c, dpath));
      res.resume();
      return 0;
    }
    const local = resolve(src.path);
    const lst = o.followLink ? await stat(local).catch(() => undefined) : await lstat(local).catch(() => undefined);
    if (!lst) throw new StatusError(1, `lstat ${local}: no such file or directory`);
    const srcIsDir = lst.isDirectory();
    let target: PathStat | undefined;
    try {
      const head = await client.request('HEAD', archiveUrl(c), { query: { path: dpath } });
      head.resume();
      target = decodeStat(head.headers['x-docker-container-path-stat']);
    } catch (err) {
      if (!(err instanceof ApiError && err.statusCode === 404) || /No such container/i.test(err.message)) throw err;
    }
    const srcBase = basename(local);
    let putPath: string;
    let newName: string;
    if (target && isDir(target)) {
      putPath = dpath;
      newName = contentsOf(src.path) && srcIsDir ? '' : srcBase;
    } else if (target) {
      if (srcIsDir) throw new StatusError(1, 'cannot copy directory');
      putPath = dirname(dpath) || '/';
      newName = basename(dpath);
    } else {
      if (dpath.endsWith('/') && !srcIsDir) throw new StatusError(1, `no such directory`);
      putPath = dirname(dpath.replace(/\/+$/, '')) || '/';
      newName = basename(dpath.replace(/\/+$/, ''));
    }
    const create = contentsOf(src.path) && srcIsDir
      ? runTar(['-c', '-f', '-', '-C', local, '.'])
      : runTar(['-c', '-f', '-', ...(o.followLink ? ['-h'] : []), '-C', dirname(local), srcBase]);
    const from = contentsOf(src.path) && srcIsDir ? '.' : srcBase;
    const body = new PassThrough();
    rebase(create.stdout, from, newName).pipe(body);
    const res = await client.request('PUT', archiveUrl(c), { query: { path: putPath, noOverwriteDirNonDir: true, copyUIDGID: o.archive }, body }).catch(notFound(c, putPath));
    res.resume();
    await create.done;
    return 0;
  },
};
