/**
 * The build context: the tar stream a client sends with POST /build, unpacked once into a
 * private temp directory, with an index of every entry (type, mode, owner, size, content
 * digest) computed in the same pass, so the cache can key COPY/ADD steps on content and
 * metadata without reading the files again.
 *
 * Safety (the context is untrusted input): names are taken relative to the context root, a
 * `..` component is refused, nothing is written through a symlink that the archive itself
 * created, and only files, directories and symlinks are kept (devices, FIFOs are skipped).
 * Source paths of COPY/ADD are resolved inside the context only (`Forbidden path outside the
 * build context`, Docker's wording) and never follow a symlink out of it.
 *
 * `.dockerignore` (or `<Dockerfile>.dockerignore` next to the Dockerfile) follows Docker's
 * pattern rules through @balena/dockerignore; ignored files are invisible to COPY/ADD. The
 * CLI filters the same way before sending, so this only matters for other API clients.
 *
 * Lifecycle: `receiveContext(stream)` → use → `dispose()` (removes the directory).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, utimes, lutimes, chmod, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import ignoreModule, { type Ignore } from '@balena/dockerignore';
import { InvalidParameterError, InvalidTarError } from '../common/errors.js';

// A CommonJS module whose typings declare `export default`: under NodeNext the default import is
// the module object, so take the factory from wherever it sits.
const ignoreFactory = ((ignoreModule as unknown as { default?: unknown }).default ?? ignoreModule) as () => Ignore;

/** One entry of the context, by its clean relative path (`dir/file`; the root is `.`). */
export interface ContextEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  size: number;
  mtime: Date;
  /** sha256 hex of the content (files). */
  digest?: string;
  linkname?: string;
}

/** A source path refused because it leaves the context. */
export class OutsideContextError extends InvalidParameterError {
  override readonly code = 'BERTH_ERR_OUTSIDE_CONTEXT';
}

export class BuildContext {
  readonly root: string;
  readonly entries = new Map<string, ContextEntry>();
  #ignore: ((p: string) => boolean) | undefined;

  constructor(root: string) {
    this.root = root;
    this.entries.set('.', { path: '.', type: 'dir', mode: 0o755, size: 0, mtime: new Date(0) });
  }

  /** Reads a file of the context (Dockerfile, .dockerignore); undefined when absent. */
  async readFile(path: string): Promise<Buffer | undefined> {
    const p = cleanPath(path);
    const e = this.resolveEntry(p);
    if (!e || e.type !== 'file') return undefined;
    return readFile(join(this.root, e.path));
  }

  /** Loads ignore rules (the text of a .dockerignore file). */
  setIgnore(text: string): void {
    const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    if (lines.length === 0) return;
    const ig = ignoreFactory().add(lines);
    this.#ignore = (p) => p !== '.' && ig.ignores(p);
  }

  isIgnored(path: string): boolean {
    return this.#ignore?.(path) ?? false;
  }

  /** Follows symlinks inside the context (relative or context-absolute), refusing loops. */
  resolveEntry(path: string, depth = 0): ContextEntry | undefined {
    if (depth > 40) return undefined;
    const parts = path === '.' ? [] : path.split('/');
    let cur = '.';
    for (let i = 0; i < parts.length; i++) {
      const next = cur === '.' ? parts[i]! : `${cur}/${parts[i]}`;
      const e = this.entries.get(next);
      if (!e) return undefined;
      if (e.type === 'symlink' && (i < parts.length - 1 || depth >= 0)) {
        const target = e.linkname!.startsWith('/') ? e.linkname! : posix.join(posix.dirname(next), e.linkname!);
        const clean = cleanPath(target);
        const rest = parts.slice(i + 1).join('/');
        return this.resolveEntry(rest ? (clean === '.' ? rest : `${clean}/${rest}`) : clean, depth + 1);
      }
      cur = next;
    }
    return this.entries.get(cur);
  }

  /**
   * Resolves a COPY/ADD source (a path or a glob, relative to the context root) to the
   * entries it names, ignored files excluded. Throws OutsideContextError for `../x`.
   */
  match(source: string): ContextEntry[] {
    if (/^(\.\.)(\/|$)/.test(posix.normalize(source.replace(/^\/+/, '')))) {
      throw new OutsideContextError(`Forbidden path outside the build context: ${source} ()`);
    }
    const clean = cleanPath(source);
    if (!/[*?[]/.test(clean)) {
      if (this.isIgnored(clean)) return [];
      const e = this.resolveEntry(clean);
      return e ? [{ ...e, path: clean }] : [];
    }
    const re = globToRegExp(clean);
    const out: ContextEntry[] = [];
    for (const e of this.entries.values()) {
      if (e.path !== '.' && re.test(e.path) && !this.isIgnored(e.path)) out.push(e);
    }
    return out.sort((a, b) => (a.path < b.path ? -1 : 1));
  }

  /** Entries under a directory (recursively, not following symlinks), ignored ones excluded, sorted. */
  walk(dir: string): ContextEntry[] {
    const prefix = dir === '.' ? '' : `${dir}/`;
    const out: ContextEntry[] = [];
    for (const e of this.entries.values()) {
      if (e.path !== '.' && e.path.startsWith(prefix) && !this.isIgnored(e.path)) out.push(e);
    }
    return out.sort((a, b) => (a.path < b.path ? -1 : 1));
  }

  /** The real path of an entry on disk. */
  diskPath(entry: ContextEntry): string {
    return join(this.root, entry.path);
  }

  async dispose(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

/** Clean relative form of a path inside the context (`./a//b/` → `a/b`, `/` → `.`). */
export function cleanPath(p: string): string {
  const n = posix.normalize(`/${p}`).replace(/^\/+/, '').replace(/\/+$/, '');
  return n === '' ? '.' : n;
}

/** Go's filepath.Match as a RegExp over whole paths (`*` and `?` never cross `/`). */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new InvalidParameterError(`syntax error in pattern: ${pattern}`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Unpacks a context tar (plain or gzip) into a new temp dir and indexes it. Rejects hostile
 * archives with InvalidTarError; nothing is left behind on failure.
 */
export async function receiveContext(stream: Readable | AsyncIterable<Buffer>, options: { tmp?: string; signal?: AbortSignal } = {}): Promise<BuildContext> {
  const base = options.tmp ?? tmpdir();
  await mkdir(base, { recursive: true });
  const root = await mkdtemp(join(base, 'berth-build-'));
  const ctx = new BuildContext(root);
  try {
    await unpack(Readable.from(stream as AsyncIterable<Buffer>), ctx, options.signal);
    const dirTimes = [...ctx.entries.values()].filter((e) => e.type === 'dir' && e.path !== '.');
    // Directory times last (writing files into them changed their mtime).
    for (const d of dirTimes.reverse()) await utimes(ctx.diskPath(d), d.mtime, d.mtime).catch(() => undefined);
    return ctx;
  } catch (e) {
    await rm(root, { recursive: true, force: true });
    throw e;
  }
}

async function unpack(input: Readable, ctx: BuildContext, signal?: AbortSignal): Promise<void> {
  // Sniff gzip by magic from the first chunk.
  const it = input[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return; // an empty body is an empty context
  const head = first.value as Buffer;
  const rest = Readable.from((async function* () {
    yield head;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield n.value as Buffer;
    }
  })());
  let source: Readable = rest;
  if (head[0] === 0x1f && head[1] === 0x8b) source = rest.pipe(createGunzip());
  else if (head.subarray(0, 3).toString('latin1') === 'BZh' || (head[0] === 0xfd && head.subarray(1, 6).toString('latin1') === '7zXZ')) {
    throw new InvalidParameterError('unsupported build context compression: send a plain or gzip tar');
  }

  const extract = tar.extract();
  const symlinks = new Set<string>();
  let failure: unknown;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('error', (e: unknown) => reject(failure ?? e));
    extract.on('finish', () => resolve());
    extract.on('close', () => resolve());
  });
  extract.on('entry', (header, body, next) => {
    void (async () => {
      const name = header.name;
      if (name.split('/').includes('..')) throw new InvalidTarError(`invalid tar archive: entry ${JSON.stringify(name)} has a '..' component`);
      const path = cleanPath(name);
      if (path === '.') {
        body.resume();
        return;
      }
      const parts = path.split('/');
      for (let i = 1; i <= parts.length; i++) {
        const p = parts.slice(0, i).join('/');
        if (symlinks.has(p) && i < parts.length) throw new InvalidTarError(`invalid tar archive: entry ${JSON.stringify(name)} is below a symlink`);
      }
      // Implicit parents.
      for (let i = 1; i < parts.length; i++) {
        const p = parts.slice(0, i).join('/');
        if (!ctx.entries.has(p)) {
          ctx.entries.set(p, { path: p, type: 'dir', mode: 0o755, size: 0, mtime: new Date() });
          await mkdir(join(ctx.root, p), { recursive: true });
        }
      }
      const dest = join(ctx.root, path);
      const mode = (header.mode ?? 0o644) & 0o7777;
      const mtime = header.mtime ?? new Date();
      if (symlinks.has(path)) {
        symlinks.delete(path);
        await rm(dest, { force: true });
      }
      switch (header.type) {
        case 'directory':
          await mkdir(dest, { recursive: true });
          await chmod(dest, mode | 0o700);
          ctx.entries.set(path, { path, type: 'dir', mode, size: 0, mtime });
          body.resume();
          break;
        case 'file':
        case 'contiguous-file': {
          const prev = ctx.entries.get(path);
          if (prev?.type === 'dir') await rm(dest, { recursive: true, force: true });
          const hash = createHash('sha256');
          let size = 0;
          body.on('data', (c: unknown) => {
            const b = c as Buffer;
            hash.update(b);
            size += b.length;
          });
          await pipeline(body, createWriteStream(dest, { mode: 0o600 }), { signal });
          await chmod(dest, mode);
          await utimes(dest, mtime, mtime);
          ctx.entries.set(path, { path, type: 'file', mode, size, mtime, digest: hash.digest('hex') });
          break;
        }
        case 'symlink':
          await rm(dest, { recursive: true, force: true });
          await symlink(header.linkname ?? '', dest);
          await lutimes(dest, mtime, mtime).catch(() => undefined);
          symlinks.add(path);
          ctx.entries.set(path, { path, type: 'symlink', mode: 0o777, size: 0, mtime, linkname: header.linkname ?? '' });
          body.resume();
          break;
        case 'link': {
          // A hardlink: copy the content of its (earlier, validated) target.
          const target = ctx.entries.get(cleanPath(header.linkname ?? ''));
          if (!target || target.type !== 'file') throw new InvalidTarError(`invalid tar archive: hardlink ${JSON.stringify(name)} to a missing file`);
          const { copyFile } = await import('node:fs/promises');
          await rm(dest, { recursive: true, force: true });
          await copyFile(ctx.diskPath(target), dest);
          ctx.entries.set(path, { ...target, path });
          body.resume();
          break;
        }
        default:
          body.resume(); // devices, FIFOs: not part of a build context
      }
    })().then(
      () => next(),
      (e: unknown) => {
        failure ??= e;
        body.resume();
        extract.destroy(e as Error);
      },
    );
  });
  source.on('error', (e) => extract.destroy(e));
  source.pipe(extract as unknown as NodeJS.WritableStream);
  try {
    await done;
  } catch (e) {
    throw failure ?? new InvalidTarError(`invalid build context: ${(e as Error).message}`, { cause: e });
  }
  if (failure) throw failure;
}
