/**
 * The content store: immutable blobs addressed by their sha256 digest, after containerd's
 * `core/content` and its local store.
 *
 * Lifecycle: a writer **ingests** bytes (`ingest` for a stream, `put` for a buffer). They go to
 * a temp file under `<root>/ingest/` while being hashed; on **commit** the size and the expected
 * digest (when given) are verified, the file is fsynced and renamed to
 * `<root>/blobs/sha256/<hex>`. A reader only ever sees complete, verified blobs. Committing a
 * digest that already exists succeeds and keeps the existing blob (containerd returns
 * ErrAlreadyExists, which callers treat as success). A wrong digest or size fails with
 * DigestMismatchError and leaves nothing behind.
 *
 * The store does not know who uses a blob: garbage collection (what may be deleted) belongs to
 * the image service, which calls `delete`.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { DigestMismatchError, NotFoundError } from '../common/errors.js';
import { digestHex, parseDigest, type Digest } from '../oci/digest.js';

/** What is known about a committed blob. */
export interface BlobInfo {
  digest: Digest;
  size: number;
}

export interface IngestOptions {
  /** When given, the content must hash to this digest. */
  expected?: string;
  /** When given, the content must be exactly this many bytes. */
  expectedSize?: number;
  signal?: AbortSignal;
}

/** An in-flight blob (ContentStore.writer). */
export interface BlobWriter {
  write(chunk: Buffer): Promise<void>;
  /** Digest of the bytes written so far. */
  digest(): Digest;
  size(): number;
  /**
   * Ends the blob and verifies its size and digest, without making it visible (a mismatch
   * throws and drops the temp file). `commit` may follow.
   */
  finish(options?: IngestOptions): Promise<BlobInfo>;
  /**
   * Verifies (unless `finish` did), fsyncs and renames the blob into place. `fsync: false` when
   * the caller has already flushed the filesystem since `finish` (a pull's one syncfs).
   */
  commit(options?: IngestOptions & { fsync?: boolean }): Promise<BlobInfo>;
  abort(): Promise<void>;
}

/** Reading side (containerd `Provider` + `Info`). */
export interface ContentProvider {
  info(digest: string): Promise<BlobInfo | undefined>;
  read(digest: string): Promise<Buffer>;
  reader(digest: string): Readable;
}

/** Writing side (containerd `Ingester` + `Manager.Delete`). */
export interface ContentIngester {
  ingest(stream: Readable, options?: IngestOptions): Promise<BlobInfo>;
  put(data: string | Buffer, options?: IngestOptions): Promise<BlobInfo>;
  delete(digest: string): Promise<void>;
}

/** A blob that was asked for and is not in the store. */
export class BlobNotFoundError extends NotFoundError {
  override readonly code = 'BERTH_ERR_BLOB_NOT_FOUND';
  constructor(digest: string) {
    super(`content digest ${digest}: not found`);
  }
}

/** The local content store rooted at a directory (blobs under `<root>/blobs/sha256/`). */
export class ContentStore implements ContentProvider, ContentIngester {
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
  }

  /** Creates the directories and drops in-flight ingests left by a crash. */
  async init(): Promise<void> {
    await rm(join(this.#root, 'ingest'), { recursive: true, force: true });
    await mkdir(join(this.#root, 'ingest'), { recursive: true });
    await mkdir(join(this.#root, 'blobs', 'sha256'), { recursive: true });
  }

  /** Where blobs are written before they are committed (a pull flushes it with its layers). */
  get ingestDir(): string {
    return join(this.#root, 'ingest');
  }

  /** The path of a blob (whether or not it exists). */
  path(digest: string): string {
    return join(this.#root, 'blobs', 'sha256', digestHex(parseDigest(digest)));
  }

  async info(digest: string): Promise<BlobInfo | undefined> {
    try {
      const st = await stat(this.path(digest));
      return { digest: digest as Digest, size: st.size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async read(digest: string): Promise<Buffer> {
    try {
      return await readFile(this.path(digest));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobNotFoundError(digest);
      throw e;
    }
  }

  reader(digest: string): Readable {
    return createReadStream(this.path(digest));
  }

  /** All committed blobs' digests. */
  async list(): Promise<Digest[]> {
    const names = await readdir(join(this.#root, 'blobs', 'sha256')).catch(() => [] as string[]);
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}` as Digest);
  }

  /** Bytes of all committed blobs (what the store holds on disk besides the unpacked layers). */
  async usage(): Promise<number> {
    const infos = await Promise.all((await this.list()).map((d) => this.info(d).catch(() => undefined)));
    return infos.reduce((a, i) => a + (i?.size ?? 0), 0);
  }

  async put(data: string | Buffer, options: IngestOptions = {}): Promise<BlobInfo> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const digest = `sha256:${createHash('sha256').update(buf).digest('hex')}` as Digest;
    verify(digest, buf.length, options);
    if (await this.info(digest)) return { digest, size: buf.length };
    const tmp = this.#ingestPath();
    try {
      const fh = await open(tmp, 'wx', 0o644);
      try {
        await fh.writeFile(buf);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.path(digest));
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return { digest, size: buf.length };
  }

  async ingest(stream: Readable, options: IngestOptions = {}): Promise<BlobInfo> {
    if (options.expected) {
      const existing = await this.info(parseDigest(options.expected));
      // Already there: drain nothing, the caller's stream is left to the caller.
      if (existing && (options.expectedSize === undefined || existing.size === options.expectedSize)) return existing;
    }
    const tmp = this.#ingestPath();
    const hash = createHash('sha256');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      const out = createWriteStream(tmp, { flags: 'wx', mode: 0o644 });
      await pipeline(stream, tap, out, { signal: options.signal });
      const digest = `sha256:${hash.digest('hex')}` as Digest;
      verify(digest, size, options);
      const fh = await open(tmp, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      // rename over an existing blob is harmless: identical content by definition.
      await rename(tmp, this.path(digest));
      return { digest, size };
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /**
   * A writer for a blob whose bytes arrive piece by piece while something else consumes them
   * too (a pull tees the compressed layer here while unpacking it). Nothing is visible until
   * `commit`, which verifies size and digest, fsyncs once and renames; `abort` drops the temp file.
   */
  writer(): BlobWriter {
    const tmp = this.#ingestPath();
    const out = createWriteStream(tmp, { flags: 'wx', mode: 0o644 });
    const hash = createHash('sha256');
    let size = 0;
    let failed: Error | undefined;
    out.on('error', (e) => {
      failed ??= e;
    });
    const finished = new Promise<void>((resolve) => out.on('close', () => resolve()));
    let done = false;
    let verified: BlobInfo | undefined;
    const abort = async (): Promise<void> => {
      if (done) return;
      done = true;
      out.destroy();
      await finished;
      await rm(tmp, { force: true });
    };
    const writer: BlobWriter = {
      write: async (chunk: Buffer): Promise<void> => {
        if (failed) throw failed;
        hash.update(chunk);
        size += chunk.length;
        if (!out.write(chunk)) await new Promise<void>((resolve) => {
          const go = (): void => {
            out.off('drain', go);
            out.off('close', go);
            resolve();
          };
          out.on('drain', go);
          out.on('close', go);
        });
        if (failed) throw failed;
      },
      digest: () => `sha256:${hash.copy().digest('hex')}` as Digest,
      size: () => size,
      finish: async (options: IngestOptions = {}): Promise<BlobInfo> => {
        if (done) throw new Error('blob writer already finished');
        if (verified) return verified;
        try {
          out.end();
          await finished;
          if (failed) throw failed;
          const digest = `sha256:${hash.digest('hex')}` as Digest;
          verify(digest, size, options);
          verified = { digest, size };
          return verified;
        } catch (e) {
          await abort();
          throw e;
        }
      },
      commit: async (options: IngestOptions & { fsync?: boolean } = {}): Promise<BlobInfo> => {
        if (done) throw new Error('blob writer already finished');
        const info = verified ?? (await writer.finish(options));
        try {
          if (options.fsync !== false) {
            const fh = await open(tmp, 'r');
            try {
              await fh.sync();
            } finally {
              await fh.close();
            }
          }
          await rename(tmp, this.path(info.digest));
          done = true;
          return info;
        } catch (e) {
          await abort();
          throw e;
        }
      },
      abort,
    };
    return writer;
  }

  async delete(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  // Ingest file names are random, not derived from a ref: berth has no resumable ingests yet.
  #ingestPath(): string {
    return join(this.#root, 'ingest', randomBytes(12).toString('hex'));
  }
}

function verify(digest: Digest, size: number, options: IngestOptions): void {
  if (options.expectedSize !== undefined && size !== options.expectedSize) {
    throw new DigestMismatchError(`unexpected commit size ${size}, expected ${options.expectedSize}`);
  }
  if (options.expected !== undefined && digest !== options.expected) {
    throw new DigestMismatchError(`unexpected commit digest ${digest}, expected ${options.expected}: failed precondition`);
  }
}
