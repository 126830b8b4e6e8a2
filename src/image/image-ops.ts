/**
 * The image operations the Engine API offers beyond the image store itself: pull, push, import,
 * load, save, commit, prune, remove (with blob collection) and registry login. The API routes
 * (api/routes/images.ts) only decode the request, call one of these and encode the answer;
 * what an operation does to images, blobs and registries lives here.
 */
import { PassThrough, type Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { CommandRunner } from '../common/command-runner.js';
import { InvalidParameterError, NotImplementedError, UnauthorizedError } from '../common/errors.js';
import type { ImageRunConfig } from '../oci/image.js';
import { MEDIA_TYPE } from '../oci/media-types.js';
import { formatReference, type Reference } from '../oci/reference.js';
import { RegistryClient, type DialFunction } from '../registry/client/client.js';
import type { AuthConfig } from '../wire/registry-auth.js';
import { loadImages, saveImages } from './archive.js';
import { applyChanges } from './changes.js';
import { diffLayer, isEmptyDir } from '../archive/diff-layer.js';
import type { DeleteResponseItem, ImageService } from './image-service.js';
import { collectBlobs, pruneImages } from './prune.js';
import { addBlobSource, pullAllTags, pullImage, pullReference, readBlobSources, type ProgressMessage, type PullOptions } from './pull.js';
import { pushImage } from './push.js';

export interface ImageOpsDeps {
  images: ImageService;
  /** Whether a container uses the image; may return `{ id, running }` for Docker's exact conflict messages. */
  isImageInUse(imageId: string): boolean | { id: string; running: boolean } | undefined;
  /** A container's image, writable layer and effective config, for commit (throws NoSuchContainer). */
  commitSource?(ref: string): { id: string; imageId: string; upperDir: string; running: boolean; config: ContainerConfigView; layerIds?: (uid: number, gid: number) => { uid: number; gid: number } };
  /** Registry access (pull, push, login, save, commit); without it those operations are refused as not implemented. */
  registry?: {
    /** Distribution metadata directory (diffID → compressed blobs and their repositories). */
    metaDir: string;
    runner: CommandRunner;
    /** daemon.json `insecure-registries` (loopback registries are always plain HTTP). */
    insecureRegistries?: string[];
    /** daemon.json `registry-mirrors`: registry domain → mirror URLs. */
    mirrors?: Record<string, string[]>;
    timeoutMs?: number;
    /** Rootless (issue 21): how loopback registries are reached. */
    dial?: DialFunction;
  };
  /** The signature policy (#22), checked on every pull and load; absent: accept anything. */
  trust?: ImageTrustCheck;
}

/** What image operations need of trust/ImageTrust. */
export interface ImageTrustCheck {
  verifyPull(ref: Reference, manifestDigest: string, client: RegistryClient, options: { requireSignature?: boolean; signal?: AbortSignal }): Promise<unknown>;
  verifyArchive(manifestDigest: string, options: { requireSignature?: boolean }): Promise<unknown>;
}

/** What commit reads of a container's effective config (engine ContainerRecord.config). */
export interface ContainerConfigView {
  env?: string[];
  cmd?: string[] | null;
  entrypoint?: string[] | null;
  workingDir?: string;
  user?: string;
  labels?: Record<string, string>;
  exposedPorts?: Record<string, object>;
  volumes?: Record<string, object>;
  stopSignal?: string;
}

/** Progress and cancellation of a long operation (pull, push). */
export interface OpProgress {
  progress(m: ProgressMessage): void;
  signal: AbortSignal;
}

/** The pull hook that applies the signature policy (image/pull.ts PullVerifier). */
export function pullVerifier(trust: ImageTrustCheck, requireSignature: boolean): NonNullable<PullOptions['verify']> {
  return (ref, digest, client, o) => trust.verifyPull(ref, digest, client, { requireSignature, ...(o.signal ? { signal: o.signal } : {}) });
}

export class ImageOps {
  readonly images: ImageService;
  readonly #d: ImageOpsDeps;

  constructor(deps: ImageOpsDeps) {
    this.images = deps.images;
    this.#d = deps;
  }

  /** The registry access, or Docker's 501 naming what needed it (`what` empty: the bare message). */
  #registry(what: string): NonNullable<ImageOpsDeps['registry']> {
    const reg = this.#d.registry;
    if (!reg) throw new NotImplementedError(`${what ? `${what}: ` : ''}this daemon has no registry access configured`);
    return reg;
  }

  /** Checks the registry access before anything is streamed (so a daemon without it answers 501). */
  requireRegistry(what: string): void {
    this.#registry(what);
  }

  /** `POST /images/create?fromImage=`: one tag, or every tag of the repository when `tag` and the reference name none. */
  async pull(fromImage: string, o: { tag: string | null; platform?: string | null; auth?: AuthConfig; contentTrust: boolean } & OpProgress): Promise<void> {
    const reg = this.#registry(`cannot pull ${fromImage}`);
    const ref = pullReference(fromImage, o.tag);
    const allTags = !o.tag && ref.tag === undefined && ref.digest === undefined;
    await (allTags ? pullAllTags : pullImage)(this.images, formatReference(ref), {
      metaDir: reg.metaDir,
      ...(o.auth ? { auth: o.auth } : {}),
      ...(reg.insecureRegistries ? { insecureRegistries: reg.insecureRegistries } : {}),
      ...(reg.dial ? { dial: reg.dial } : {}),
      ...(reg.mirrors ? { mirrors: reg.mirrors } : {}),
      ...(reg.timeoutMs ? { timeoutMs: reg.timeoutMs } : {}),
      ...(o.platform ? { platform: o.platform } : {}),
      ...(this.#d.trust ? { verify: pullVerifier(this.#d.trust, o.contentTrust) } : {}),
      progress: o.progress,
      signal: o.signal,
    });
  }

  /** `POST /images/{name}/push`. */
  async push(name: string, o: { tag: string; auth?: AuthConfig } & OpProgress): Promise<void> {
    const reg = this.#registry(`cannot push ${name}`);
    await pushImage(this.images, name, {
      ...(o.tag ? { tag: o.tag } : {}),
      metaDir: reg.metaDir,
      runner: reg.runner,
      ...(o.auth ? { auth: o.auth } : {}),
      ...(reg.insecureRegistries ? { insecureRegistries: reg.insecureRegistries } : {}),
      ...(reg.dial ? { dial: reg.dial } : {}),
      ...(reg.timeoutMs ? { timeoutMs: reg.timeoutMs } : {}),
      progress: o.progress,
      signal: o.signal,
    });
  }

  /**
   * `POST /images/create?fromSrc=-`: one layer from a tarball. The tarball is also kept as a
   * blob: push and save send it as it came, so the layer keeps its diffID (files re-tarred
   * later would not reproduce the same bytes).
   */
  async importTarball(input: Readable, o: { repoTag?: string; changes: string[]; message: string; platform?: string | null }): Promise<string> {
    const { images } = this;
    const reg = this.#d.registry;
    const toLayer = new PassThrough();
    const toBlob = new PassThrough();
    input.pipe(toLayer);
    if (reg) input.pipe(toBlob);
    input.on('error', (e) => {
      toLayer.destroy(e);
      toBlob.destroy(e);
    });
    const blob = reg ? images.content.ingest(toBlob) : undefined;
    blob?.catch(() => undefined);
    let id;
    try {
      id = await images.importImage(toLayer, {
        ...(o.repoTag ? { repoTag: o.repoTag } : {}),
        changes: o.changes,
        message: o.message,
        ...(o.platform ? { platform: o.platform } : {}),
      });
    } catch (e) {
      toBlob.destroy();
      const b = await blob?.catch(() => undefined);
      if (b && !(await this.#isKnownBlob(b.digest))) await images.content.delete(b.digest);
      throw e;
    }
    if (blob && reg) {
      const b = await blob;
      const diffId = images.get(id)?.diffIds[0];
      const head = await images.content.read(b.digest).then((buf) => buf.subarray(0, 2)).catch(() => Buffer.alloc(0));
      const gz = head[0] === 0x1f && head[1] === 0x8b;
      if (diffId) await addBlobSource(reg.metaDir, diffId, { digest: b.digest, size: b.size, mediaType: gz ? MEDIA_TYPE.dockerLayerGzip : MEDIA_TYPE.dockerLayer });
    }
    return id;
  }

  /** A blob another image's layer already uses must survive a failed import of the same bytes. */
  async #isKnownBlob(digest: string): Promise<boolean> {
    const reg = this.#d.registry;
    if (!reg) return false;
    for (const rec of this.images.records()) {
      for (const d of rec.diffIds) if ((await readBlobSources(reg.metaDir, d)).some((s) => s.digest === digest)) return true;
    }
    return false;
  }

  /** `GET /images/get`, `GET /images/{name}/get`: a `docker save` tarball. */
  async save(names: string[]): Promise<Readable> {
    const reg = this.#d.registry;
    if (!reg) throw new NotImplementedError('this daemon has no image archive support configured');
    return saveImages(this.images, names, { metaDir: reg.metaDir, runner: reg.runner });
  }

  /** `POST /images/load`: the messages Docker prints per loaded image. */
  async load(input: Readable, o: { contentTrust: boolean }): Promise<{ messages: string[] }> {
    const trust = this.#d.trust;
    const { messages } = await loadImages(this.images, input, trust ? { verify: (img) => trust.verifyArchive(img.digest, { requireSignature: o.contentTrust }) } : {});
    return { messages };
  }

  /**
   * `POST /commit`: the container's writable layer (overlay upper dir → layer with whiteouts,
   * archive/diff-layer.ts) on top of its image, with the container's config plus `changes`.
   */
  async commit(container: string, o: { repoTag(): string | undefined; changes: string[]; comment: string; author: string }): Promise<string> {
    const { images } = this;
    const reg = this.#d.registry;
    if (!this.#d.commitSource || !reg) throw new NotImplementedError('commit is not available in this daemon');
    if (!container) throw new InvalidParameterError('container is required');
    const src = this.#d.commitSource(container);
    // The repository is read once the container is known (a missing container is the 404, whatever the repo).
    const repoTag = o.repoTag();
    const c = src.config;
    const base: ImageRunConfig = {
      ...(c.user ? { User: c.user } : {}),
      ...(c.exposedPorts && Object.keys(c.exposedPorts).length ? { ExposedPorts: c.exposedPorts as ImageRunConfig['ExposedPorts'] } : {}),
      Env: c.env ?? [],
      Cmd: c.cmd ?? null,
      Entrypoint: c.entrypoint ?? null,
      ...(c.volumes && Object.keys(c.volumes).length ? { Volumes: c.volumes as ImageRunConfig['Volumes'] } : {}),
      WorkingDir: c.workingDir ?? '',
      Labels: c.labels ?? {},
      ...(c.stopSignal ? { StopSignal: c.stopSignal } : {}),
    };
    const config = applyChanges(base, o.changes);
    const { comment, author } = o;
    const empty = await isEmptyDir(src.upperDir).catch(() => true);
    // The layer tar is also kept (gzip) as the blob push and save send: re-tarring the unpacked
    // layer later would not give the same bytes (directory mtimes change when whiteouts are made).
    let layer: PassThrough | undefined;
    let blob: Promise<{ digest: string; size: number }> | undefined;
    if (!empty) {
      // A remapped container's files carry shifted host ids: the layer gets the container's view.
      const tar = diffLayer(src.upperDir, { runner: reg.runner, ...(src.layerIds ? { mapIds: src.layerIds } : {}) });
      layer = new PassThrough();
      const gz = createGzip();
      tar.on('error', (e) => {
        layer!.destroy(e);
        gz.destroy(e);
      });
      // tar-stream's packer pipes to one destination only: tee through a Node stream.
      const tee = new PassThrough();
      tar.pipe(tee);
      tee.pipe(layer);
      tee.pipe(gz);
      blob = images.content.ingest(gz);
      blob.catch(() => undefined);
    }
    const id = await images.createImage({
      parent: src.imageId,
      ...(layer ? { layer } : {}),
      config,
      history: { created_by: [...(c.entrypoint ?? []), ...(c.cmd ?? [])].join(' '), ...(comment ? { comment } : {}), ...(author ? { author } : {}) },
      ...(author ? { author } : {}),
      ...(comment ? { comment } : {}),
      ...(repoTag ? { tag: [repoTag] } : {}),
    });
    if (blob) {
      const b = await blob;
      const diffId = images.get(id)?.diffIds.at(-1);
      if (diffId) await addBlobSource(reg.metaDir, diffId, { digest: b.digest as `sha256:${string}`, size: b.size, mediaType: MEDIA_TYPE.dockerLayerGzip });
    }
    return id;
  }

  /** `POST /images/prune` with its filters (dangling, until, label, label!). */
  async prune(filters: Map<string, string[]>): Promise<{ ImagesDeleted: DeleteResponseItem[] | null; SpaceReclaimed: number }> {
    for (const k of filters.keys()) if (!['dangling', 'until', 'label', 'label!'].includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
    const dangling = filters.get('dangling')?.[0];
    const all = dangling !== undefined && ['false', '0'].includes(dangling.toLowerCase());
    const untilRaw = filters.get('until')?.[0];
    let until: number | undefined;
    if (untilRaw !== undefined) {
      until = /^\d+(\.\d+)?$/.test(untilRaw) ? Number(untilRaw) * 1000 : Date.parse(untilRaw);
      const rel = /^(\d+)(h|m|s)$/.exec(untilRaw);
      if (rel) until = Date.now() - Number(rel[1]) * { h: 3600e3, m: 60e3, s: 1e3 }[rel[2] as 'h' | 'm' | 's'];
      if (Number.isNaN(until)) throw new InvalidParameterError(`invalid filter 'until=${untilRaw}'`);
    }
    const r = await pruneImages(this.images, {
      all,
      ...(until !== undefined ? { until } : {}),
      ...(filters.get('label') ? { labels: filters.get('label')! } : {}),
      ...(filters.get('label!') ? { notLabels: filters.get('label!')! } : {}),
      isInUse: (id) => this.#d.isImageInUse(id),
      metaDir: this.#d.registry?.metaDir ?? '/nonexistent',
    });
    return { ImagesDeleted: r.deleted.length ? r.deleted : null, SpaceReclaimed: r.spaceReclaimed };
  }

  /** `DELETE /images/{name}`; blobs no image uses any more are collected afterwards (a failure there is only logged). */
  async remove(name: string, o: { force: boolean; noprune: boolean; onCollectError(e: unknown): void }): Promise<DeleteResponseItem[]> {
    const items = await this.images.remove(name, { force: o.force, noprune: o.noprune, isInUse: (id) => this.#d.isImageInUse(id) });
    const reg = this.#d.registry;
    if (reg && items.some((i) => 'Deleted' in i)) await collectBlobs(this.images, reg.metaDir).catch(o.onCollectError);
    return items;
  }

  /** `POST /auth` (docker login): checks the credentials against the registry; the client stores them. */
  async login(auth: AuthConfig): Promise<void> {
    const reg = this.#registry('');
    let server = auth.serveraddress || 'docker.io';
    server = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (server === 'index.docker.io' || server === 'registry-1.docker.io') server = 'docker.io';
    const client = new RegistryClient(server, {
      auth,
      ...(reg.insecureRegistries ? { insecureRegistries: reg.insecureRegistries } : {}),
      ...(reg.dial ? { dial: reg.dial } : {}),
      ...(reg.timeoutMs ? { timeoutMs: reg.timeoutMs } : {}),
    });
    try {
      await client.ping();
    } catch (e) {
      if (e instanceof UnauthorizedError || (e as { status?: number }).status === 401) {
        throw new UnauthorizedError(`login attempt to ${client.baseUrl}/v2/ failed with status: 401 Unauthorized`, { cause: e });
      }
      throw e;
    } finally {
      client.close();
    }
  }
}
