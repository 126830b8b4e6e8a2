/**
 * The build context: the tar stream a client sends with POST /build, read once into an index
 * of every entry (type, mode, size, content digest), so the cache can key COPY/ADD steps on
 * content and metadata without reading the files again. File contents stay in memory up to
 * IN_MEMORY_LIMIT (a fully cached build then writes nothing); beyond it they are spilled
 * into a private temp directory. Directories and symlinks live only in the index.
 *
 * Safety (the context is untrusted input): every entry goes through the checked tar reader's
 * rules first (archive/checked-tar.ts, BUILD_CONTEXT_POLICY): names are taken relative to the
 * context root, a `..` component is refused, nothing is written through a symlink that the
 * archive itself created, hardlinks name earlier entries; then only files, directories and
 * symlinks are kept (devices, FIFOs are skipped).
 * Source paths of COPY/ADD are resolved inside the context only (`Forbidden path outside the
 * build context`, Docker's wording) and never follow a symlink out of it.
 *
 * `.dockerignore` (or `<Dockerfile>.dockerignore` next to the Dockerfile) follows Docker's
 * pattern rules through @balena/dockerignore; ignored files are invisible to COPY/ADD. The
 * CLI filters the same way before sending, so this only matters for other API clients.
 *
 * Lifecycle: `receiveContext(stream)` → use → `dispose()` (removes the spill directory).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rm, chmod, readFile, writeFile, copyFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import ignoreModule, { type Ignore } from '@balena/dockerignore';
import { TarReader, type TarEntrySink } from '../archive/tar-reader.js';
import { BUILD_CONTEXT_POLICY, ScanState } from '../archive/checked-tar.js';
import { ConflictError, InvalidParameterError, InvalidTarError } from '../common/errors.js';

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
  /** The content, while the context is small enough to stay in memory. */
  data?: Buffer;
}

/** Contexts up to this size stay in memory: no file is written unless a step copies it. */
export const IN_MEMORY_LIMIT = 256 * 1024 * 1024;

/**
 * Context file contents received recently, by sha256, so that a client may send a reference
 * (an empty tar entry with the PAX record `BERTH.digest=<hex>`) instead of bytes it sent
 * before: berth's CLI does this for files unchanged since its last upload, which makes the
 * upload scale with what changed. Least recently used contents go first past `limit` bytes.
 * (Anyone who can reach the API is root-equivalent, so sharing contents between clients
 * discloses nothing they could not read anyway.)
 */
export class ContextBlobCache {
  readonly #map = new Map<string, Buffer>();
  readonly #limit: number;
  #size = 0;
  /** Indexes of recent contexts (entries without their data), by the key the client gave them. */
  readonly #manifests = new Map<string, ContextEntry[]>();

  constructor(limit = 256 * 1024 * 1024) {
    this.#limit = limit;
  }

  get(digest: string): Buffer | undefined {
    const b = this.#map.get(digest);
    if (b) {
      this.#map.delete(digest);
      this.#map.set(digest, b);
    }
    return b;
  }

  /** The index of a context received with `Berth-Context-Key: key` (least recently used go past 32). */
  putManifest(key: string, entries: Iterable<ContextEntry>): void {
    const list: ContextEntry[] = [];
    for (const e of entries) {
      const { data: _data, ...meta } = e;
      list.push(meta);
    }
    this.#manifests.delete(key);
    this.#manifests.set(key, list);
    for (const k of this.#manifests.keys()) {
      if (this.#manifests.size <= 32) break;
      this.#manifests.delete(k);
    }
  }

  getManifest(key: string): ContextEntry[] | undefined {
    const m = this.#manifests.get(key);
    if (m) {
      this.#manifests.delete(key);
      this.#manifests.set(key, m);
    }
    return m;
  }

  put(digest: string, data: Buffer): void {
    if (data.length > this.#limit / 4 || this.#map.has(digest)) return;
    this.#map.set(digest, data);
    this.#size += data.length;
    for (const [k, v] of this.#map) {
      if (this.#size <= this.#limit) break;
      this.#map.delete(k);
      this.#size -= v.length;
    }
  }
}

/** The context referred to content (`BERTH.digest`) the daemon no longer has: send it whole. */
export class MissingContextBlobError extends ConflictError {
  override readonly code = 'BERTH_ERR_CONTEXT_BLOB_MISSING';
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
    return e.data ?? readFile(join(this.root, e.path));
  }

  /** Loads ignore rules (the text of a .dockerignore file). */
  setIgnore(text: string): void {
    // As Docker's ignorefile reader: trimmed lines, `! pattern` is `!pattern`.
    const lines = text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => (l.startsWith('!') ? `!${l.slice(1).trim()}` : l));
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

  #rootMade = false;

  /** Makes the private spill directory (only a context that does not stay in memory needs one). */
  async ensureRoot(): Promise<void> {
    if (this.#rootMade) return;
    await mkdir(dirname(this.root), { recursive: true });
    await mkdir(this.root, { mode: 0o700 }); // fails if it exists: never someone else's dir
    this.#rootMade = true;
  }

  /** The real path of a file entry on disk, writing it there first when it is held in memory. */
  async diskPath(entry: ContextEntry): Promise<string> {
    const path = join(this.root, entry.path);
    if (entry.data) {
      await this.ensureRoot();
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, entry.data, { mode: entry.mode });
      entry.data = undefined;
    }
    return path;
  }

  /** Writes a file entry's content to `dest` (a new file). */
  async copyTo(entry: ContextEntry, dest: string): Promise<void> {
    if (entry.data) await writeFile(dest, entry.data);
    else await copyFile(join(this.root, entry.path), dest);
  }

  async dispose(): Promise<void> {
    if (this.#rootMade) await rm(this.root, { recursive: true, force: true });
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

/** A context key (`Berth-Context-Key` / `Berth-Context-Ref`): a hex sha256 chosen by the client. */
export const CONTEXT_KEY = /^[a-f0-9]{64}$/;

/**
 * Reads a context tar (plain or gzip) into a BuildContext: an index with file contents in
 * memory, spilled to a private temp dir (made only when needed) past IN_MEMORY_LIMIT. Rejects
 * hostile archives with InvalidTarError; nothing is left behind on failure.
 *
 * Whole-context references (issue 5: an upload that scales with what changed, down to nothing):
 * a context received with `key` (held in memory, with `blobs`) has its index kept under that
 * key; a later request with `ref` and an empty body gets the same context back from that
 * index and the blobs, or MissingContextBlobError when either is gone (the client then sends
 * the context). berth's CLI uses as key a signature of every entry's metadata and content
 * digest, so equal keys mean equal archives.
 */
export async function receiveContext(
  stream: Readable | AsyncIterable<Buffer>,
  options: { tmp?: string; signal?: AbortSignal; blobs?: ContextBlobCache; key?: string; ref?: string } = {},
): Promise<BuildContext> {
  const base = options.tmp ?? tmpdir();
  const ctx = new BuildContext(join(base, `berth-build-${randomBytes(8).toString('hex')}`));
  try {
    if (options.ref !== undefined) {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (chunk.length) throw new InvalidParameterError('a build context reference comes with an empty body');
      }
      const manifest = CONTEXT_KEY.test(options.ref) ? options.blobs?.getManifest(options.ref) : undefined;
      if (!manifest) throw new MissingContextBlobError('build context refers to a context the daemon does not have');
      for (const e of manifest) {
        const data = e.type === 'file' ? options.blobs!.get(e.digest!) : undefined;
        if (e.type === 'file' && !data) throw new MissingContextBlobError(`build context refers to content the daemon does not have: ${JSON.stringify(e.path)}`);
        ctx.entries.set(e.path, data ? { ...e, data } : { ...e });
      }
      return ctx;
    }
    await unpack(stream as AsyncIterable<Buffer>, ctx, options.signal, options.blobs);
    if (options.key !== undefined && CONTEXT_KEY.test(options.key) && options.blobs) {
      // Only a context held whole in memory can be rebuilt from the blobs later.
      let whole = true;
      for (const e of ctx.entries.values()) if (e.type === 'file' && (!e.data || !e.digest)) whole = false;
      if (whole) options.blobs.putManifest(options.key, ctx.entries.values());
    }
    return ctx;
  } catch (e) {
    await ctx.dispose();
    throw e;
  }
}

async function unpack(input: AsyncIterable<Buffer>, ctx: BuildContext, signal?: AbortSignal, blobs?: ContextBlobCache): Promise<void> {
  const it = input[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return; // an empty body is an empty context
  const head = first.value as Buffer;
  let chunks: AsyncIterable<Buffer> = (async function* () {
    yield head;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield n.value as Buffer;
    }
  })();
  // Sniff gzip by magic from the first chunk.
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const src = Readable.from(chunks);
    const gunzip = createGunzip();
    src.on('error', (e) => gunzip.destroy(e));
    chunks = src.pipe(gunzip);
  }
  else if (head.subarray(0, 3).toString('latin1') === 'BZh' || (head[0] === 0xfd && head.subarray(1, 6).toString('latin1') === '7zXZ')) {
    throw new InvalidParameterError('unsupported build context compression: send a plain or gzip tar');
  }

  let held = 0;
  // Disk work (only for contexts past IN_MEMORY_LIMIT, and hardlinks to such files) runs in
  // order on this chain; the reader waits for it before taking more input.
  let chain: Promise<void> | undefined;
  const later = (fn: () => Promise<void>): void => {
    chain = (chain ?? Promise.resolve()).then(fn);
  };
  const skip: TarEntrySink | undefined = undefined;
  const rules = new ScanState(BUILD_CONTEXT_POLICY);
  const reader = new TarReader((header): TarEntrySink | undefined => {
    rules.check(header);
    const name = header.name;
    const path = cleanPath(name);
    if (path === '.') return skip;
    const parts = path.split('/');
    // Implicit parents. Only the index knows directories and symlinks: nothing on disk is
    // ever a symlink, so writing a spilled file can never be steered out of the context.
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (!ctx.entries.has(p)) ctx.entries.set(p, { path: p, type: 'dir', mode: 0o755, size: 0, mtime: new Date() });
    }
    const dest = join(ctx.root, path);
    const mode = header.mode & 0o7777;
    const mtime = header.mtime;
    const prev = ctx.entries.get(path);
    if (prev?.type === 'dir') {
      for (const k of [...ctx.entries.keys()]) if (k.startsWith(`${path}/`)) ctx.entries.delete(k);
    }
    switch (header.type) {
      case 'directory':
        ctx.entries.set(path, { path, type: 'dir', mode, size: 0, mtime });
        return skip;
      case 'file': {
        const ref = header.pax?.['BERTH.digest'];
        if (ref !== undefined) {
          const data = /^[a-f0-9]{64}$/.test(ref) ? blobs?.get(ref) : undefined;
          if (!data) throw new MissingContextBlobError(`build context refers to content the daemon does not have: ${JSON.stringify(name)}`);
          held += data.length;
          ctx.entries.set(path, { path, type: 'file', mode, size: data.length, mtime, digest: ref, data });
          return skip;
        }
        const hash = createHash('sha256');
        const entry: ContextEntry = { path, type: 'file', mode, size: 0, mtime };
        ctx.entries.set(path, entry);
        if (held + header.size <= IN_MEMORY_LIMIT) {
          const parts: Buffer[] = [];
          return {
            data(slice) {
              hash.update(slice);
              parts.push(slice);
              entry.size += slice.length;
            },
            end() {
              held += entry.size;
              entry.digest = hash.digest('hex');
              entry.data = parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts, entry.size);
              blobs?.put(entry.digest, entry.data);
            },
          };
        }
        let fh: import('node:fs/promises').FileHandle | undefined;
        later(async () => {
          await ctx.ensureRoot();
          await mkdir(dirname(dest), { recursive: true });
          await rm(dest, { recursive: true, force: true });
          fh = await open(dest, 'wx', 0o600);
        });
        return {
          data(slice) {
            hash.update(slice);
            entry.size += slice.length;
            const copy = Buffer.from(slice); // the received chunk may be reused once we return
            later(async () => {
              signal?.throwIfAborted();
              await fh!.write(copy);
            });
          },
          end() {
            entry.digest = hash.digest('hex');
            later(async () => {
              await fh!.close();
              await chmod(dest, mode);
            });
          },
        };
      }
      case 'symlink':
        ctx.entries.set(path, { path, type: 'symlink', mode: 0o777, size: 0, mtime, linkname: header.linkname });
        return skip;
      case 'link': {
        // A hardlink: the same content as its (earlier) target.
        const target = ctx.entries.get(cleanPath(header.linkname));
        if (!target || target.type !== 'file') throw new InvalidTarError(`invalid tar archive: hardlink ${JSON.stringify(name)} to a missing file`);
        ctx.entries.set(path, { ...target, path });
        if (!target.data) {
          later(async () => {
            await mkdir(dirname(dest), { recursive: true });
            await copyFile(join(ctx.root, target.path), dest);
          });
        }
        return skip;
      }
      default:
        return skip; // devices, FIFOs: not part of a build context
    }
  });
  try {
    for await (const chunk of chunks) {
      signal?.throwIfAborted();
      reader.push(chunk);
      if (chain) {
        const c = chain;
        chain = undefined;
        await c;
      }
      if (reader.ended) break;
    }
    reader.end();
  } catch (e) {
    if (chain) await chain.catch(() => undefined);
    if (e instanceof InvalidTarError || e instanceof MissingContextBlobError || e instanceof InvalidParameterError) throw e;
    throw new InvalidTarError(`invalid build context: ${(e as Error).message}`, { cause: e });
  }
}

/** A matcher for `COPY --exclude` patterns (the .dockerignore pattern rules). */
export function excludeMatcher(patterns: readonly string[]): (path: string) => boolean {
  if (patterns.length === 0) return () => false;
  const ig = ignoreFactory().add([...patterns]);
  return (p) => p !== '.' && p !== '' && ig.ignores(p);
}
