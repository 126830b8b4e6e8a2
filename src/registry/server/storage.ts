/**
 * Filesystem storage of berth's registry (`berth registry serve --root DIR`):
 *
 *     DIR/blobs/sha256/<hex>                               every blob, verified, shared by repositories
 *     DIR/uploads/<uuid>                                    in-flight uploads (dropped at start)
 *     DIR/repositories/<name>/_manifests/<hex>              a manifest of the repository: its media type
 *     DIR/repositories/<name>/_tags/<tag>                   the digest a tag points at
 *     DIR/repositories/<name>/_layers/<hex>                 a blob linked into the repository
 *     DIR/repositories/<name>/_referrers/<subject-hex>/<hex> a manifest whose `subject` is that digest:
 *                                                           its descriptor (the referrers API)
 *
 * Manifest bytes are blobs too (`DIR/blobs`), as in distribution's storage driver. A blob is
 * written to an upload file, hashed, compared with the digest the client announced, and only
 * then renamed into `blobs/`: a wrong digest leaves nothing. Repository names and tags are
 * checked against the distribution grammar before any path is built from them, so no request
 * can name a path outside the root. Nothing is garbage-collected: a deleted manifest's blobs
 * stay until an operator removes them (as distribution without `garbage-collect`).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const NAME_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const NAME_RE = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^sha256:([a-f0-9]{64})$/;
const UUID_RE = /^[a-f0-9-]{36}$/;

/** Checks a repository name (distribution's grammar, at most 255 characters). */
export function isValidName(name: string): boolean {
  return name.length <= 255 && NAME_RE.test(name);
}
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}
export function isValidDigest(d: string): boolean {
  return DIGEST_RE.test(d);
}
export function isValidUploadId(id: string): boolean {
  return UUID_RE.test(id);
}

function hex(digest: string): string {
  return digest.slice('sha256:'.length);
}

/** A referrer as listed in the referrers index. */
export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export class RegistryStorage {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }

  async init(): Promise<void> {
    await mkdir(join(this.root, 'blobs', 'sha256'), { recursive: true });
    await rm(join(this.root, 'uploads'), { recursive: true, force: true });
    await mkdir(join(this.root, 'uploads'), { recursive: true });
    await mkdir(join(this.root, 'repositories'), { recursive: true });
  }

  blobPath(digest: string): string {
    return join(this.root, 'blobs', 'sha256', hex(digest));
  }
  #repo(name: string, ...rest: string[]): string {
    return join(this.root, 'repositories', ...name.split('/'), ...rest);
  }

  async blobSize(digest: string): Promise<number | undefined> {
    const st = await stat(this.blobPath(digest)).catch(() => undefined);
    return st?.isFile() ? st.size : undefined;
  }

  /** The blob's size when it exists and is linked into `name` (or any manifest/tag of it). */
  async repoBlobSize(name: string, digest: string): Promise<number | undefined> {
    const linked = await stat(this.#repo(name, '_layers', hex(digest))).then(() => true, () => false);
    const isManifest = linked ? true : await stat(this.#repo(name, '_manifests', hex(digest))).then(() => true, () => false);
    if (!isManifest) return undefined;
    return this.blobSize(digest);
  }

  blobReader(digest: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.blobPath(digest), range);
  }

  async link(name: string, digest: string): Promise<void> {
    await mkdir(this.#repo(name, '_layers'), { recursive: true });
    await writeFile(this.#repo(name, '_layers', hex(digest)), digest);
  }

  async unlinkBlob(name: string, digest: string): Promise<boolean> {
    const p = this.#repo(name, '_layers', hex(digest));
    const had = await stat(p).then(() => true, () => false);
    await rm(p, { force: true });
    return had;
  }

  // --- uploads --------------------------------------------------------------------------

  async startUpload(): Promise<string> {
    const id = randomUUID();
    await writeFile(join(this.root, 'uploads', id), '');
    return id;
  }

  async uploadSize(id: string): Promise<number | undefined> {
    const st = await stat(join(this.root, 'uploads', id)).catch(() => undefined);
    return st?.size;
  }

  /** Appends a chunk; returns the new size. */
  async appendUpload(id: string, body: Readable): Promise<number> {
    const p = join(this.root, 'uploads', id);
    await pipeline(body, createWriteStream(p, { flags: 'a' }));
    return (await stat(p)).size;
  }

  async cancelUpload(id: string): Promise<void> {
    await rm(join(this.root, 'uploads', id), { force: true });
  }

  /**
   * Hashes the upload and moves it into the blob store when it matches `digest`; otherwise
   * deletes it and returns false.
   */
  async commitUpload(id: string, digest: string): Promise<boolean> {
    const p = join(this.root, 'uploads', id);
    const hash = createHash('sha256');
    await pipeline(createReadStream(p), async function* (src: AsyncIterable<Buffer>) {
      for await (const c of src) hash.update(c);
    });
    if (`sha256:${hash.digest('hex')}` !== digest) {
      await rm(p, { force: true });
      return false;
    }
    const fh = await open(p, 'r');
    await fh.sync().finally(() => fh.close());
    await rename(p, this.blobPath(digest));
    return true;
  }

  /** Stores bytes already verified by the caller as a blob. */
  async putBlob(digest: string, data: Buffer): Promise<void> {
    if (await this.blobSize(digest) !== undefined) return;
    const tmp = join(this.root, 'uploads', randomUUID());
    await writeFile(tmp, data);
    await rename(tmp, this.blobPath(digest));
  }

  // --- manifests and tags -----------------------------------------------------------------

  async putManifest(name: string, digest: string, mediaType: string, data: Buffer, tag?: string): Promise<void> {
    await this.putBlob(digest, data);
    await mkdir(this.#repo(name, '_manifests'), { recursive: true });
    await writeFile(this.#repo(name, '_manifests', hex(digest)), mediaType);
    if (tag) {
      await mkdir(this.#repo(name, '_tags'), { recursive: true });
      const tmp = this.#repo(name, '_tags', `.${randomUUID()}`);
      await writeFile(tmp, digest);
      await rename(tmp, this.#repo(name, '_tags', tag));
    }
  }

  /** Records that manifest `desc` refers to `subject` (its descriptor, as the referrers index lists it). */
  async addReferrer(name: string, subject: string, desc: ReferrerDescriptor): Promise<void> {
    const dir = this.#repo(name, '_referrers', hex(subject));
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.${randomUUID()}`);
    await writeFile(tmp, JSON.stringify(desc));
    await rename(tmp, join(dir, hex(desc.digest)));
  }

  /** The descriptors of the manifests of `name` whose subject is `subject` (deleted ones left out). */
  async referrers(name: string, subject: string): Promise<ReferrerDescriptor[]> {
    const dir = this.#repo(name, '_referrers', hex(subject));
    const out: ReferrerDescriptor[] = [];
    for (const f of (await readdir(dir).catch(() => [] as string[])).sort()) {
      if (!/^[a-f0-9]{64}$/.test(f)) continue;
      if (!(await stat(this.#repo(name, '_manifests', f)).then(() => true, () => false))) continue;
      try {
        out.push(JSON.parse(await readFile(join(dir, f), 'utf8')) as ReferrerDescriptor);
      } catch {
        // A torn record is skipped; the manifest itself is intact.
      }
    }
    return out;
  }

  async resolveTag(name: string, tag: string): Promise<string | undefined> {
    const d = (await readFile(this.#repo(name, '_tags', tag), 'utf8').catch(() => '')).trim();
    return isValidDigest(d) ? d : undefined;
  }

  async getManifest(name: string, digest: string): Promise<{ mediaType: string; data: Buffer } | undefined> {
    const mediaType = await readFile(this.#repo(name, '_manifests', hex(digest)), 'utf8').catch(() => undefined);
    if (mediaType === undefined) return undefined;
    const data = await readFile(this.blobPath(digest)).catch(() => undefined);
    return data ? { mediaType, data } : undefined;
  }

  /** Deletes a manifest and every tag that points at it; false when it was not there. */
  async deleteManifest(name: string, digest: string): Promise<boolean> {
    const p = this.#repo(name, '_manifests', hex(digest));
    if (!(await stat(p).then(() => true, () => false))) return false;
    await rm(p, { force: true });
    for (const tag of await this.tags(name)) {
      if ((await this.resolveTag(name, tag)) === digest) await rm(this.#repo(name, '_tags', tag), { force: true });
    }
    return true;
  }

  async deleteTag(name: string, tag: string): Promise<boolean> {
    const p = this.#repo(name, '_tags', tag);
    const had = await stat(p).then(() => true, () => false);
    await rm(p, { force: true });
    return had;
  }

  async tags(name: string): Promise<string[]> {
    const list = await readdir(this.#repo(name, '_tags')).catch(() => [] as string[]);
    return list.filter(isValidTag).sort();
  }

  async repoExists(name: string): Promise<boolean> {
    return stat(this.#repo(name, '_manifests')).then(() => true, () => false);
  }

  /** Every repository with at least one manifest, sorted. */
  async catalog(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string[]): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      if (entries.some((e) => e.name === '_manifests')) out.push(prefix.join('/'));
      for (const e of entries) {
        if (e.isDirectory() && !e.name.startsWith('_')) await walk(join(dir, e.name), [...prefix, e.name]);
      }
    };
    await walk(join(this.root, 'repositories'), []);
    return out.sort();
  }
}
