/**
 * The one checked reader for archives from outside: image layers (pull, import, commit, build
 * steps), `docker load` archives, build contexts and `docker cp` uploads all have their entries
 * run through `ScanState` here before anything is written from them. What differs between those
 * kinds of archive is a `TarPolicy` (LAYER, LOAD, BUILD_CONTEXT, UPLOAD below); the rules
 * themselves live only in this file. Size limits are the readers' (tar-reader.ts: name and PAX
 * records, MAX_NAME here); content sizes are bounded by the disk quota of the data root.
 *
 * For layers it also computes the diffID.
 *
 * Why this exists: GNU tar (which berth runs to extract layers, for devices, xattrs, hardlinks
 * and ownership) follows symlinks that the archive itself created, so a hostile layer could
 * plant `etc -> /etc` and then write `etc/passwd` on the host. node-tar's `unpack.ts` guards
 * against this while writing; berth instead reads the whole archive once in JS, rejects it if any
 * entry could land outside the layer directory, and only then lets GNU tar extract the
 * (now known-safe) uncompressed copy it saved during the same pass.
 *
 * Rules (each violation is an InvalidTarError naming the entry and the rule):
 * - names are taken relative to the layer root: leading `/` and `./` are dropped, as GNU tar does;
 *   any `..` component is refused, even where it would stay inside;
 * - no entry may be written below a path that an earlier entry of the same archive made a
 *   symlink (a write through a symlink), and a symlink may not be replaced by a directory;
 * - a hardlink's target must be an earlier non-directory entry of the same archive, reached
 *   without passing through a symlink; absolute targets are taken relative to the root (GNU
 *   tar's behaviour), so `/etc/shadow` must be in the archive too;
 * - block and character devices are allowed only under `dev/`, except the 0/0 character device
 *   that is an overlay whiteout;
 * - `trusted.overlay.*` extended attributes are refused: they would steer overlayfs (opaque
 *   dirs, redirects) and are berth's to set, from AUFS whiteouts;
 * - AUFS whiteouts (`.wh.NAME`, `.wh..wh..opq`) must be regular files; other `.wh..wh.*` AUFS
 *   metadata is dropped after extraction, as Docker does;
 * - only regular files, hardlinks, symlinks, directories, devices and FIFOs are accepted
 *   (no GNU sparse or other extensions).
 *
 * Symlink targets themselves are content, not followed here: absolute or `..` targets are
 * legitimate in images, and nothing berth does afterwards follows them (the whiteout
 * conversion works on paths that these rules proved free of symlinks).
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { TarReader, type TarHeader } from './tar-reader.js';
import { InvalidTarError } from '../common/errors.js';
import type { Digest } from '../oci/digest.js';

/** The outcome of a scan: what the extraction step needs to know. */
export interface LayerTarScan {
  /** sha256 of the uncompressed tar stream. */
  diffId: Digest;
  /** Bytes of content (regular files and symlink targets; hardlinks count once). */
  size: number;
  /** Whether the input was gzip-compressed. */
  compressed: boolean;
  /** Paths (relative) of `.wh.NAME` files whose NAME is not also in this layer. */
  whiteouts: string[];
  /** Paths of `.wh.NAME` files to delete without creating a whiteout, and AUFS metadata files. */
  dropped: string[];
  /** Directories (relative, '' for the root) that carried `.wh..wh..opq`. */
  opaqueDirs: string[];
}

const MAX_NAME = 4096;

export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_META_PREFIX = '.wh..wh.';
export const WHITEOUT_OPAQUE = '.wh..wh..opq';

type Kind = 'dir' | 'file' | 'symlink' | 'other';

/** What may differ between the kinds of untrusted archive; every other rule holds for all. */
export interface TarPolicy {
  /** For messages: what the root is (`layer root`, `build context`, …). */
  root: string;
  /** Absolute entry names and hardlink targets: taken relative to the root as GNU tar does ('strip'), or refused ('refuse'). */
  absolute: 'strip' | 'refuse';
  /** Whether `.wh.` names are AUFS whiteouts (layer syntax) or ordinary names. */
  whiteouts: boolean;
  /** Whether device nodes may appear outside `dev/` (a consumer that skips devices allows them anywhere). */
  devicesAnywhere: boolean;
  /** Whether entries of a type no consumer writes (GNU sparse, …) are skipped by the consumer rather than refused here. */
  otherTypes: 'refuse' | 'allow';
}

/** Image layers (pull, import, commit, build steps): GNU tar semantics, whiteouts, devices only under dev/. */
export const LAYER_POLICY: TarPolicy = { root: 'layer root', absolute: 'strip', whiteouts: true, devicesAnywhere: false, otherTypes: 'refuse' };
/** `docker load` archives (docker-archive, OCI layout): the outer tar; its layers are checked again as layers. */
export const LOAD_POLICY: TarPolicy = { root: 'archive root', absolute: 'strip', whiteouts: false, devicesAnywhere: false, otherTypes: 'refuse' };
/** Build contexts: `.wh.` names are plain files, and devices and other types are skipped by the context reader. */
export const BUILD_CONTEXT_POLICY: TarPolicy = { root: 'build context', absolute: 'strip', whiteouts: false, devicesAnywhere: true, otherTypes: 'allow' };
/** `docker cp` uploads (`PUT /containers/{id}/archive`): no absolute names or hardlink targets either. */
export const UPLOAD_POLICY: TarPolicy = { root: 'extraction point', absolute: 'refuse', whiteouts: true, devicesAnywhere: false, otherTypes: 'refuse' };

/**
 * A push parser that runs every entry header through `state.check` (bodies are skipped, never
 * copied). `push` throws the first violation synchronously, so a caller learns of it before it
 * acts on the chunk.
 */
export function checkingReader(state: ScanState): TarReader {
  return new TarReader((h) => {
    state.check(h);
    return undefined;
  });
}

/**
 * Reads a layer tar (plain or gzip, detected by magic) from `input`, validates every entry,
 * and writes the uncompressed tar to `tarPath` (which must not exist). Throws InvalidTarError
 * on the first violation; the caller removes `tarPath` then.
 */
export async function scanLayerTar(input: Readable | AsyncIterable<Buffer>, tarPath: string, options: { signal?: AbortSignal; policy?: TarPolicy } = {}): Promise<LayerTarScan> {
  const hash = createHash('sha256');
  const fh = await open(tarPath, 'wx', 0o600);
  const state = new ScanState(options.policy);
  let compressed = false;
  try {
    const reader = checkingReader(state);
    const source = decompress(input, () => {
      compressed = true;
    });
    for await (const chunk of source) {
      options.signal?.throwIfAborted();
      hash.update(chunk);
      await fh.write(chunk);
      if (!reader.ended) reader.push(chunk);
    }
    reader.end();
    await fh.sync();
  } catch (e) {
    if (e instanceof InvalidTarError || (e as Error).name === 'AbortError') throw e;
    throw new InvalidTarError(`invalid tar archive: ${(e as Error).message}`, { cause: e });
  } finally {
    await fh.close();
  }
  if (state.entries === 0) throw new InvalidTarError('invalid tar archive: no entries (empty or not a tar file)');
  return { diffId: `sha256:${hash.digest('hex')}`, size: state.size, compressed, ...state.whiteoutPlan() };
}

/** tar-stream's typeflag names, as the raw flags the checks read. */
const TAR_STREAM_FLAGS: Record<string, [TarHeader['type'], string]> = {
  file: ['file', '0'],
  'contiguous-file': ['file', '7'],
  link: ['link', '1'],
  symlink: ['symlink', '2'],
  'character-device': ['other', '3'],
  'block-device': ['other', '4'],
  directory: ['directory', '5'],
  fifo: ['other', '6'],
};

/** A tar-stream entry header as the checked reader's TarHeader (for archives read with tar-stream: `docker load`). */
export function fromTarStreamHeader(h: { name: string; type?: string | null; mode?: number; size?: number; mtime?: Date; linkname?: string | null; uid?: number; gid?: number; devmajor?: number; devminor?: number; pax?: unknown }): TarHeader {
  const [type, flag] = TAR_STREAM_FLAGS[h.type ?? ''] ?? ['other', String(h.type ?? '?')];
  return {
    name: h.name,
    type,
    flag,
    mode: h.mode ?? 0,
    size: h.size ?? 0,
    mtime: h.mtime ?? new Date(0),
    linkname: h.linkname ?? '',
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
    ...(h.pax && typeof h.pax === 'object' ? { pax: h.pax as Record<string, string> } : {}),
  };
}

/** Splits an archive name into safe components (leading `/`, `.` and empty parts dropped). */
export function normaliseEntryName(name: string, what = 'entry', policy: TarPolicy = LAYER_POLICY): string[] {
  // Longer than PATH_MAX could never be created, and deep names made the checks quadratic.
  if (name.length > MAX_NAME) throw new InvalidTarError(`invalid tar archive: ${what} name is longer than ${MAX_NAME} characters`);
  if (policy.absolute === 'refuse' && name.startsWith('/')) throw new InvalidTarError(`invalid tar archive: ${what} ${JSON.stringify(name)} has an absolute name`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new InvalidTarError(`invalid tar archive: ${what} ${JSON.stringify(name)} contains "..", which could escape the ${policy.root}`);
  return parts;
}

/** The hostile-tar rules, entry by entry (exported for the one-pass unpack in layer-unpack.ts). */
export class ScanState {
  readonly #policy: TarPolicy;
  readonly #kinds = new Map<string, Kind>();
  readonly #whiteouts: string[] = [];
  readonly #meta: string[] = [];
  readonly #opaque: string[] = [];
  size = 0;
  entries = 0;

  constructor(policy: TarPolicy = LAYER_POLICY) {
    this.#policy = policy;
  }

  check(h: TarHeader): void {
    this.entries++;
    const policy = this.#policy;
    const parts = normaliseEntryName(h.name, 'entry', policy);
    const path = parts.join('/');
    const show = JSON.stringify(h.name);
    this.#noSymlinkAbove(parts, `entry ${show}`);
    for (const key of Object.keys(h.pax ?? {})) {
      if (/^(SCHILY|LIBARCHIVE)\.xattr\.trusted\.overlay\./.test(key)) {
        throw new InvalidTarError(`invalid tar archive: entry ${show} sets the overlayfs attribute ${key.replace(/^\w+\.xattr\./, '')}`);
      }
      // GNU.sparse.name renames the entry for GNU tar (PAX sparse formats): not something to guess at.
      if (key.startsWith('GNU.sparse.')) throw new InvalidTarError(`invalid tar archive: entry ${show} is a GNU sparse file (${key}), which is not supported`);
    }
    const type = entryType(h);
    if (path === '' && type !== 'directory') throw new InvalidTarError(`invalid tar archive: entry ${show} replaces the ${policy.root} with a ${type}`);
    const base = parts[parts.length - 1] ?? '';
    if (policy.whiteouts && base.startsWith(WHITEOUT_PREFIX)) {
      if (type !== 'file') throw new InvalidTarError(`invalid tar archive: whiteout ${show} must be a regular file, not a ${type}`);
      const dir = parts.slice(0, -1).join('/');
      if (base === WHITEOUT_OPAQUE) this.#opaque.push(dir);
      else if (base.startsWith(WHITEOUT_META_PREFIX)) this.#meta.push(path);
      else if (base === WHITEOUT_PREFIX) throw new InvalidTarError(`invalid tar archive: whiteout ${show} names no file`);
      else this.#whiteouts.push(path);
      this.#kinds.set(path, 'file');
      return;
    }
    const prev = this.#kinds.get(path);
    switch (type) {
      case 'directory':
        if (prev === 'symlink') throw new InvalidTarError(`invalid tar archive: directory ${show} replaces a symlink created earlier in the archive`);
        this.#kinds.set(path, 'dir');
        break;
      case 'file':
        this.size += h.size;
        this.#kinds.set(path, 'file');
        break;
      case 'symlink':
        if (prev === 'dir') throw new InvalidTarError(`invalid tar archive: symlink ${show} replaces a directory`);
        this.size += Buffer.byteLength(h.linkname);
        this.#kinds.set(path, 'symlink');
        break;
      case 'link': {
        if (policy.absolute === 'refuse' && h.linkname.startsWith('/')) throw new InvalidTarError(`invalid tar archive: hardlink ${show} has an absolute target`);
        const target = normaliseEntryName(h.linkname, `hardlink ${show} target`, policy);
        const targetPath = target.join('/');
        const show2 = JSON.stringify(h.linkname);
        if (targetPath === '') throw new InvalidTarError(`invalid tar archive: hardlink ${show} has an empty target`);
        this.#noSymlinkAbove(target, `hardlink ${show} target ${show2}`);
        const tk = this.#kinds.get(targetPath);
        if (tk === undefined) throw new InvalidTarError(`invalid tar archive: hardlink ${show} points to ${show2}, which is not an earlier entry of the archive`);
        if (tk === 'dir') throw new InvalidTarError(`invalid tar archive: hardlink ${show} points to directory ${show2}`);
        // Like a symlink, a hardlink (possibly to a symlink) may not take a directory's place:
        // what was below it would then resolve through it.
        if (prev === 'dir') throw new InvalidTarError(`invalid tar archive: hardlink ${show} replaces a directory`);
        this.#kinds.set(path, tk);
        break;
      }
      case 'character-device':
      case 'block-device': {
        const whiteoutDevice = type === 'character-device' && !h.devmajor && !h.devminor;
        if (!whiteoutDevice && !policy.devicesAnywhere && parts[0] !== 'dev') throw new InvalidTarError(`invalid tar archive: device node ${show} outside /dev`);
        this.#kinds.set(path, 'other');
        break;
      }
      case 'fifo':
        this.#kinds.set(path, 'other');
        break;
      default:
        if (policy.otherTypes === 'allow') {
          this.#kinds.set(path, 'other');
          break;
        }
        throw new InvalidTarError(`invalid tar archive: entry ${show} has unsupported type ${JSON.stringify(h.flag)}`);
    }
  }

  /**
   * What the whiteout conversion must do once every entry is written. A whiteout (or opaque
   * marker, or AUFS metadata file) counts only while every directory above it is still one at
   * the end: a later entry that replaced a parent (a file, a symlink, a link, a device) removed
   * it with everything below, and acting on its path would then go through what replaced it.
   */
  whiteoutPlan(): Pick<LayerTarScan, 'whiteouts' | 'dropped' | 'opaqueDirs'> {
    const live = (path: string, self: boolean): boolean => {
      const parts = path.split('/');
      for (const prefix of prefixes(parts, self ? parts.length : parts.length - 1)) {
        const k = this.#kinds.get(prefix);
        if (k !== undefined && k !== 'dir') return false;
      }
      return true;
    };
    const whiteouts: string[] = [];
    const dropped = this.#meta.filter((m) => live(m, false));
    for (const w of this.#whiteouts) {
      if (!live(w, false)) continue;
      const i = w.lastIndexOf('/');
      const target = w.slice(0, i + 1) + w.slice(i + 1 + WHITEOUT_PREFIX.length);
      // image-spec: a whiteout applies to lower layers only; a file of the same layer wins.
      if (this.#kinds.has(target)) dropped.push(w);
      else whiteouts.push(w);
    }
    const opaqueDirs = [...new Set(this.#opaque)].filter((d) => d === '' || live(d, true));
    return { whiteouts, dropped, opaqueDirs };
  }

  #noSymlinkAbove(parts: string[], what: string): void {
    for (const prefix of prefixes(parts, parts.length - 1)) {
      if (this.#kinds.get(prefix) === 'symlink') {
        throw new InvalidTarError(`invalid tar archive: ${what} would be written through symlink ${JSON.stringify(prefix)} created earlier in the archive`);
      }
    }
  }
}

/** `a`, `a/b`, … : the paths of the first `count` components, built up one at a time (linear). */
function* prefixes(parts: readonly string[], count: number): Generator<string> {
  let prefix = '';
  for (let i = 0; i < count; i++) {
    prefix = prefix ? `${prefix}/${parts[i]}` : parts[i]!;
    yield prefix;
  }
}

/** The kind of an entry, from its typeflag: what GNU tar will make of it. */
export function entryType(h: TarHeader): string {
  switch (h.flag) {
    case '3':
      return 'character-device';
    case '4':
      return 'block-device';
    case '6':
      return 'fifo';
    default:
      return h.type === 'other' ? `other (${JSON.stringify(h.flag)})` : h.type;
  }
}

const GZIP_MAGIC = [0x1f, 0x8b, 0x08];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const BZIP2_MAGIC = [0x42, 0x5a, 0x68];

function startsWith(buf: Buffer, magic: number[]): boolean {
  return buf.length >= magic.length && magic.every((b, i) => buf[i] === b);
}

/** A chunk as a Buffer, without copying its bytes. */
function asBuffer(v: Uint8Array): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Passes a stream through, gunzipping it when it starts with the gzip magic. */
export async function* decompress(input: Readable | AsyncIterable<Uint8Array>, onGzip: () => void): AsyncGenerator<Buffer> {
  const it = (input as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headLen = 0;
  while (headLen < 6) {
    const r = await it.next();
    if (r.done) break;
    head.push(asBuffer(r.value));
    headLen += r.value.length;
  }
  const first = head.length === 1 ? head[0]! : Buffer.concat(head);
  async function* rest(): AsyncGenerator<Buffer> {
    if (first.length) yield first;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield asBuffer(r.value);
    }
  }
  if (startsWith(first, ZSTD_MAGIC)) throw new InvalidTarError('invalid tar archive: zstd-compressed layers are not supported yet');
  if (startsWith(first, XZ_MAGIC) || startsWith(first, BZIP2_MAGIC)) {
    throw new InvalidTarError('invalid tar archive: xz and bzip2 compression are not supported; use a plain or gzip-compressed tar');
  }
  if (!startsWith(first, GZIP_MAGIC)) {
    yield* rest();
    return;
  }
  onGzip();
  const gunzip = createGunzip({ chunkSize: 256 << 10 });
  pipeline(Readable.from(rest(), { objectMode: false }), gunzip).catch((e: Error) => gunzip.destroy(e));
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } finally {
    gunzip.destroy();
  }
}
