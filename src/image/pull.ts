/**
 * Pulling an image from a registry into the image store, as Docker's distribution/pull_v2.go:
 *
 * 1. resolve the reference to a manifest (an index / manifest list picks the platform), bounded
 *    in size and checked against the digest when pulled by digest;
 * 2. fetch the config (bounded, digest-verified) into the content store;
 * 3. layers whose chainID the layer store already has are skipped ("Already exists"); the others
 *    go through one pass each, 3 at a time: the download is hashed and teed into a content-store
 *    temp file, gunzipped, hashed again (diffID), checked entry by entry (archive/checked-tar.ts rules)
 *    and fed to GNU tar into a private dir (LayerStore.prepare); a blob already in the store
 *    (an earlier, interrupted pull) is unpacked from there without downloading;
 * 4. once all are unpacked, one syncfs; the blob is committed only when its digest and size
 *    match, the layer only when its diffID does, then the layers are committed in stack order,
 *    each reference marked with this pull's lease;
 * 5. the image record, its tag and its `name@digest` reference are written last, in one
 *    transaction that also ends the lease: an interrupted pull leaves no half image, and a
 *    daemon killed mid-pull has its leased references rolled back at start (LayerStore.init).
 *    Verified blobs stay in the content store, so the next pull resumes from them.
 *
 * The compressed layer blobs are kept (with the repository they came from, in the
 * distribution metadata): push reuses them for "Layer already exists" / cross-repository mount,
 * and save writes them out without recompressing.
 *
 * Progress is reported as Docker's JSON messages (`status`, `id`, `progressDetail`, `progress`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import type { LookupFunction } from 'node:net';
import { DigestMismatchError, InvalidParameterError, NotFoundError } from '../common/errors.js';
import { chainIds as computeChainIds, digestHex, isDigest, sha256Digest, type Digest } from '../oci/digest.js';
import type { Descriptor, ImageConfig, Index, Manifest, Platform } from '../oci/image.js';
import { MEDIA_TYPE, isIndexMediaType } from '../oci/media-types.js';
import { formatPlatform, hostPlatform, parsePlatform } from '../oci/platform.js';
import { familiarName, familiarString, formatReference, parseReference, withDefaultTag, type Reference } from '../oci/reference.js';
import { RegistryClient, readLimited, type DialFunction } from '../registry/client/client.js';
import type { AuthConfig } from '../wire/registry-auth.js';
import type { ImageService } from './image-service.js';
import type { PreparedLayer } from './layer-store.js';
import type { BlobWriter } from './content-store.js';
import { faultPoint } from '../common/fault-point.js';
import { humanSize } from '../common/units.js';

/** Largest image config accepted. */
export const MAX_CONFIG_BYTES = 8 << 20;
const PARALLEL_DOWNLOADS = 3;

/** One Docker JSON progress message. */
export interface ProgressMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  aux?: unknown;
}

export type ProgressFn = (m: ProgressMessage) => void;

export interface RegistryAccessOptions {
  auth?: AuthConfig;
  insecureRegistries?: string[];
  timeoutMs?: number;
  lookup?: LookupFunction;
  /** Rootless (issue 21): how loopback registries are reached (see RegistryClientOptions.dial). */
  dial?: DialFunction;
  signal?: AbortSignal;
  progress?: ProgressFn;
  /** Registry domain → mirror URLs (daemon.json `registry-mirrors`); the first one serves that registry. */
  mirrors?: Record<string, string[]>;
}

/**
 * A check of the resolved image before anything of it is stored (the signature policy, #22):
 * it gets the reference as asked, the digest of the manifest it resolved to (the index for a
 * multi-platform image) and the connected registry client; it throws to refuse the image.
 */
export type PullVerifier = (ref: Reference, manifestDigest: Digest, client: RegistryClient, options: { signal?: AbortSignal }) => Promise<unknown>;

export interface PullOptions extends RegistryAccessOptions {
  /** `os[/arch[/variant]]`; default the host's. */
  platform?: string;
  verify?: PullVerifier;
  /** Directory of the distribution metadata (diffID → blob descriptors). */
  metaDir: string;
}

export interface PullResult {
  id: Digest;
  manifestDigest: Digest;
  /** The familiar reference pulled (`busybox:latest`). */
  reference: string;
}

const LAYER_TYPES = new Set<string>([MEDIA_TYPE.ociLayer, MEDIA_TYPE.ociLayerGzip, MEDIA_TYPE.dockerLayer, MEDIA_TYPE.dockerLayerGzip]);

/** Docker's progress bar: `[=====>      ]  1.2MB/3.4MB` (pkg/jsonmessage JSONProgress.String). */
export function progressBar(current: number, total: number): string {
  const width = 50;
  if (total <= 0) return `${humanSize(current, 3)}`.padStart(8);
  const pct = Math.min(1, current / total);
  const n = Math.floor(pct * width);
  const bar = `[${'='.repeat(Math.max(0, n - (n < width ? 0 : 1)))}${n < width ? '>' : '='}${' '.repeat(Math.max(0, width - n - 1))}]`;
  return `${bar} ${humanSize(current, 3).padStart(8)}/${humanSize(total, 3)}`;
}

/** A throttled progress reporter for one layer (at most ~10 updates a second). */
function byteProgress(progress: ProgressFn | undefined, id: string, status: string, total: number): Transform {
  let current = 0;
  let last = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      current += chunk.length;
      const now = Date.now();
      if (progress && (now - last > 100 || current === total)) {
        last = now;
        progress({ status, id, progressDetail: { current, total }, progress: progressBar(current, total) });
      }
      cb(null, chunk);
    },
  });
}

/** Short layer id for messages: the first 12 hex of the digest. */
export function shortDigest(d: string): string {
  return digestHex(d).slice(0, 12);
}

/** Distribution metadata: for a diffID, the compressed blobs known to hold it and where they came from. */
export interface BlobSource {
  digest: Digest;
  mediaType: string;
  size: number;
  /** `domain/path` repositories the blob is known to be in. */
  repos: string[];
}

export async function readBlobSources(metaDir: string, diffId: string): Promise<BlobSource[]> {
  try {
    const v = JSON.parse(await readFile(join(metaDir, digestHex(diffId)), 'utf8')) as unknown;
    return Array.isArray(v) ? (v as BlobSource[]).filter((s) => s && isDigest(s.digest)) : [];
  } catch {
    return [];
  }
}

export async function addBlobSource(metaDir: string, diffId: string, src: Omit<BlobSource, 'repos'>, repo?: string): Promise<void> {
  await mkdir(metaDir, { recursive: true });
  const list = await readBlobSources(metaDir, diffId);
  let entry = list.find((s) => s.digest === src.digest);
  if (!entry) {
    entry = { ...src, repos: [] };
    list.push(entry);
  }
  if (repo && !entry.repos.includes(repo)) entry.repos.push(repo);
  const path = join(metaDir, digestHex(diffId));
  // A temp name of its own: two pulls that share a layer write this file at the same time.
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, JSON.stringify(list));
  await rename(tmp, path);
}

function parseJson<T>(data: Buffer, what: string): T {
  try {
    const v = JSON.parse(data.toString('utf8')) as unknown;
    if (!v || typeof v !== 'object') throw new Error('not an object');
    return v as T;
  } catch (e) {
    throw new InvalidParameterError(`invalid ${what}: ${(e as Error).message}`);
  }
}

/** Picks the manifest for `want` from an index (Docker's platforms.Only: exact variant, else compatible). */
export function selectPlatform(index: Index, want: Platform): Descriptor | undefined {
  const candidates = index.manifests.filter((m) => m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture);
  if (want.variant) {
    const exact = candidates.find((m) => m.platform!.variant === want.variant);
    if (exact) return exact;
    // arm64 images usually carry no variant (v8 is implied).
    return candidates.find((m) => !m.platform!.variant);
  }
  return candidates.find((m) => !m.platform!.variant) ?? candidates[0];
}

/** A layer unpacked by a pull, and its verified download (absent when it came from the store). */
interface Fetched {
  prepared: PreparedLayer;
  blob?: BlobWriter;
}

/**
 * Pulls `refString` (`name[:tag]` or `name@digest`; `latest` when neither) into `images`.
 */
/**
 * Pulls of the same reference (same platform, credentials and metadata directory) that overlap
 * share one download, as Docker's do: the later clients get the progress so far replayed and
 * then every message of the one pull. The pull goes on while any client still waits and is
 * aborted when the last one goes (issue 17: ten clients pulling one image at once made ten
 * downloads, and raced on the distribution metadata).
 */
export async function pullImage(images: ImageService, refString: string, options: PullOptions): Promise<PullResult> {
  let pulls = SHARED_PULLS.get(images);
  if (!pulls) SHARED_PULLS.set(images, (pulls = new Map()));
  const key = JSON.stringify([refString, options.platform ?? '', options.metaDir, options.auth ? createHash('sha256').update(JSON.stringify(options.auth)).digest('hex') : '']);
  let shared = pulls.get(key);
  if (!shared) {
    const controller = new AbortController();
    const s: SharedPull = { clients: new Set(), log: [], controller, promise: Promise.resolve() as unknown as Promise<PullResult> };
    s.promise = pullOnce(images, refString, {
      ...options,
      signal: controller.signal,
      progress: (m) => {
        // Byte counts are not replayed to late clients; every other message is.
        if (m.status !== 'Downloading' && m.status !== 'Extracting') s.log.push(m);
        for (const c of s.clients) c.progress?.(m);
      },
    }).finally(() => {
      if (pulls!.get(key) === s) pulls!.delete(key);
    });
    pulls.set(key, s);
    shared = s;
  } else {
    for (const m of shared.log) options.progress?.(m);
  }
  const client: SharedPullClient = { progress: options.progress };
  shared.clients.add(client);
  const s = shared;
  const onAbort = () => {
    s.clients.delete(client);
    if (s.clients.size === 0) s.controller.abort(options.signal?.reason);
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await s.promise;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    s.clients.delete(client);
  }
}

interface SharedPullClient {
  progress: ProgressFn | undefined;
}

interface SharedPull {
  clients: Set<SharedPullClient>;
  log: ProgressMessage[];
  controller: AbortController;
  promise: Promise<PullResult>;
}

/** Pulls under way, per image service (one per daemon), by reference, platform and credentials. */
const SHARED_PULLS = new WeakMap<ImageService, Map<string, SharedPull>>();

async function pullOnce(images: ImageService, refString: string, options: PullOptions): Promise<PullResult> {
  const ref = withDefaultTag(parseReference(refString));
  const progress = options.progress;
  const signal = options.signal;
  const tagOrDigest = ref.digest ?? ref.tag!;
  const client = new RegistryClient(ref.domain, {
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.insecureRegistries ? { insecureRegistries: options.insecureRegistries } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.lookup ? { lookup: options.lookup } : {}),
    ...(options.dial ? { dial: options.dial } : {}),
    ...(options.mirrors?.[ref.domain]?.[0] ? { endpoint: options.mirrors[ref.domain]![0]! } : {}),
  });
  try {
    const repo = ref.path;
    let m = await client.getManifest(repo, tagOrDigest, { ...(signal ? { signal } : {}) });
    let manifestDigest = sha256Digest(m.data);
    if (ref.digest && manifestDigest !== ref.digest) {
      throw new DigestMismatchError(`manifest verification failed for digest ${ref.digest}: the registry sent content of digest ${manifestDigest}`);
    }
    await options.verify?.(ref, manifestDigest, client, { ...(signal ? { signal } : {}) });
    progress?.({ status: `Pulling from ${repo}`, id: tagOrDigest });
    let parsed = parseJson<Manifest & Index>(m.data, 'manifest');
    const mediaType = m.mediaType && m.mediaType !== 'application/json' && m.mediaType !== 'text/plain' ? m.mediaType : parsed.mediaType ?? '';
    if (isIndexMediaType(mediaType) || (Array.isArray(parsed.manifests) && !parsed.config)) {
      const want = options.platform ? parsePlatform(options.platform) : hostPlatform();
      const chosen = selectPlatform(parsed as Index, want);
      if (!chosen) throw new NotFoundError(`no matching manifest for ${formatPlatform(want)} in the manifest list entries`);
      if (!isDigest(chosen.digest)) throw new InvalidParameterError(`invalid manifest: bad digest ${JSON.stringify(chosen.digest)} in the index`);
      m = await client.getManifest(repo, chosen.digest, { ...(signal ? { signal } : {}) });
      const childDigest = sha256Digest(m.data);
      if (childDigest !== chosen.digest) throw new DigestMismatchError(`manifest verification failed for digest ${chosen.digest}`);
      parsed = parseJson<Manifest & Index>(m.data, 'manifest');
    }
    const manifest = parsed as Manifest;
    if (manifest.schemaVersion !== 2 || !manifest.config || !Array.isArray(manifest.layers)) {
      throw new InvalidParameterError(`unsupported manifest format for ${familiarString(ref)} (schema 1 and non-image artifacts cannot be pulled)`);
    }
    if (!isDigest(manifest.config.digest)) throw new InvalidParameterError(`invalid manifest: config digest ${JSON.stringify(manifest.config.digest)}`);
    for (const l of manifest.layers) {
      if (!isDigest(l.digest)) throw new InvalidParameterError(`invalid manifest: layer digest ${JSON.stringify(l.digest)}`);
      if (!LAYER_TYPES.has(l.mediaType)) throw new InvalidParameterError(`unsupported layer media type ${JSON.stringify(l.mediaType)}`);
      if (!Number.isSafeInteger(l.size) || l.size < 0) throw new InvalidParameterError(`invalid manifest: layer size ${JSON.stringify(l.size)}`);
    }

    // The config: bounded and verified.
    const configDigest = manifest.config.digest as Digest;
    let configBytes: Buffer;
    if (await images.content.info(configDigest)) configBytes = await images.content.read(configDigest);
    else {
      if (manifest.config.size > MAX_CONFIG_BYTES) throw new InvalidParameterError(`image config is too large: ${manifest.config.size} bytes (limit ${MAX_CONFIG_BYTES})`);
      const res = await client.getBlob(repo, configDigest, { ...(signal ? { signal } : {}) });
      configBytes = await readLimited(res, MAX_CONFIG_BYTES, 'image config');
      await images.content.put(configBytes, { expected: configDigest });
    }
    const config = parseJson<ImageConfig>(configBytes, 'image config');
    const diffIds = config.rootfs?.diff_ids;
    if (!Array.isArray(diffIds) || diffIds.length !== manifest.layers.length) {
      throw new InvalidParameterError(`invalid image: the config lists ${Array.isArray(diffIds) ? diffIds.length : 0} layers, the manifest ${manifest.layers.length}`);
    }
    const chain = computeChainIds(diffIds);
    const fullName = `${ref.domain}/${ref.path}`;

    // Which layers are needed.
    const need: boolean[] = chain.map((c) => !images.layers.get(c));
    manifest.layers.forEach((l, i) => {
      const id = shortDigest(l.digest);
      progress?.(need[i] ? { status: 'Pulling fs layer', id, progressDetail: {} } : { status: 'Already exists', id, progressDetail: {} });
    });

    // One pass per layer, 3 at a time: download → (compressed digest + content-store temp file)
    // → gunzip → (diffID + hostile-tar checks) → GNU tar into a private dir. Nothing is visible
    // until the commit below, which runs in stack order once both digests are verified.
    const lease = `pull-${randomBytes(8).toString('hex')}`;
    let active = 0;
    const queue: (() => void)[] = [];
    const slot = async (): Promise<void> => {
      if (active < PARALLEL_DOWNLOADS) {
        active++;
        return;
      }
      await new Promise<void>((r) => queue.push(r));
      active++;
    };
    const free = (): void => {
      active--;
      queue.shift()?.();
    };
    // Flushing starts as soon as a layer is unpacked, so the disk writes of one layer overlap
    // the unpacking of the next; the last flush (below) then has little left to write.
    let flushing: Promise<void> | undefined;
    const flush = (): Promise<void> => {
      flushing ??= images.layers.sync([images.content.ingestDir]).finally(() => (flushing = undefined));
      return flushing;
    };
    const fetchLayer = async (l: Descriptor, i: number): Promise<Fetched> => {
      const id = shortDigest(l.digest);
      const expect = { expectedDiffId: diffIds[i]!, ...(signal ? { signal } : {}) };
      if (active >= PARALLEL_DOWNLOADS) progress?.({ status: 'Waiting', id, progressDetail: {} });
      await slot();
      try {
        const have = await images.content.info(l.digest);
        if (have && have.size === l.size) {
          // Downloaded before (an interrupted pull, a removed image): unpack from the store.
          progress?.({ status: 'Download complete', id, progressDetail: {} });
          const prepared = await images.layers.prepare(images.content.reader(l.digest).pipe(byteProgress(progress, id, 'Extracting', l.size)), expect);
          void flush().catch(() => undefined);
          return { prepared };
        }
        const res = await client.getBlob(repo, l.digest, { ...(signal ? { signal } : {}) });
        const writer = images.content.writer();
        try {
          let current = 0;
          let last = 0;
          // A manual iterator: when the unpack stops early, the rest can still be read to tell
          // a corrupted download (digest mismatch) from a genuinely bad archive.
          const it = (res as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
          async function* tee(): AsyncGenerator<Buffer> {
            for (;;) {
              const r = await it.next();
              if (r.done) return;
              const chunk = r.value;
              current += chunk.length;
              if (current > l.size) throw new DigestMismatchError(`layer ${l.digest}: the registry sent more than the ${l.size} bytes the manifest lists`);
              await writer.write(chunk);
              const now = Date.now();
              if (progress && (now - last > 100 || current === l.size)) {
                last = now;
                progress({ status: 'Downloading', id, progressDetail: { current, total: l.size }, progress: progressBar(current, l.size) });
              }
              yield chunk;
            }
          }
          let prepared: PreparedLayer;
          try {
            prepared = await images.layers.prepare(tee(), expect);
          } catch (e) {
            if (e instanceof DigestMismatchError || (e as Error).name === 'AbortError') throw e;
            for (;;) {
              const r = await it.next();
              if (r.done) break;
              current += r.value.length;
              if (current > l.size) break;
              await writer.write(r.value);
            }
            const got = writer.digest();
            if (current !== l.size) throw new DigestMismatchError(`unexpected commit size ${current}, expected ${l.size}`);
            if (got !== l.digest) throw new DigestMismatchError(`unexpected commit digest ${got}, expected ${l.digest}: failed precondition`);
            throw e;
          }
          try {
            progress?.({ status: 'Verifying Checksum', id, progressDetail: {} });
            // Verified now; made visible after the flush below (no fsync of its own).
            await writer.finish({ expected: l.digest, expectedSize: l.size });
          } catch (e) {
            await prepared.abort();
            throw e;
          }
          void flush().catch(() => undefined);
          progress?.({ status: 'Download complete', id, progressDetail: {} });
          return { prepared, blob: writer };
        } catch (e) {
          res.destroy();
          await writer.abort();
          throw e;
        }
      } finally {
        free();
      }
    };
    const tasks: (Promise<Fetched> | undefined)[] = manifest.layers.map((l, i) => (need[i] ? fetchLayer(l, i) : undefined));
    // Do not leave a rejected task unobserved while an earlier layer is still committing.
    for (const t of tasks) t?.catch(() => undefined);

    // Commit in stack order; every layer of the image ends up holding one reference from us,
    // marked with the lease until the image record takes it over.
    const held: Digest[] = [];
    try {
      if (tasks.some((t) => t)) {
        await Promise.all(tasks);
        // The unpacked layers and the downloaded blobs are flushed (syncfs) before any of them
        // becomes visible: one flush for all, after the ones started while layers finished.
        await flushing;
        await flush();
      }
      for (let i = 0; i < manifest.layers.length; i++) {
        const l = manifest.layers[i]!;
        const id = shortDigest(l.digest);
        const task = tasks[i];
        if (!task) {
          images.layers.acquire(chain[i]!, lease);
          held.push(chain[i]!);
        } else {
          const { prepared, blob } = await task;
          progress?.({ status: 'Extracting', id, progressDetail: { current: l.size, total: l.size }, progress: progressBar(l.size, l.size) });
          await blob?.commit({ fsync: false });
          const rec = await prepared.commit(i > 0 ? held[i - 1] : undefined, lease);
          held.push(rec.chainId);
          progress?.({ status: 'Pull complete', id, progressDetail: {} });
        }
        await addBlobSource(options.metaDir, diffIds[i]!, { digest: l.digest as Digest, mediaType: l.mediaType, size: l.size }, fullName);
        if (i === 0 && manifest.layers.length > 1) faultPoint('pull-layer-committed');
      }
    } catch (e) {
      const settled = await Promise.allSettled(tasks.map((t) => t ?? Promise.resolve(undefined)));
      for (const [i, r] of settled.entries()) {
        if (r.status !== 'fulfilled' || !r.value || i < held.length) continue;
        await r.value.prepared.abort();
        // A verified download is kept (fsynced on its own), so the next pull resumes from it.
        await r.value.blob?.commit().catch(() => undefined);
      }
      await images.layers.releaseLease(lease, held);
      throw e;
    }

    const refs: string[] = [formatReference({ domain: ref.domain, path: ref.path, digest: manifestDigest })];
    if (!ref.digest) refs.push(formatReference(ref));
    const before = ref.digest ? undefined : safeResolve(images, formatReference(ref));
    let id: Digest;
    faultPoint('pull-before-tag');
    try {
      id = await images.addImage(configDigest, held, refs, () => images.layers.endLease(lease, held));
    } catch (e) {
      await images.layers.releaseLease(lease, held);
      throw e;
    }
    progress?.({ status: `Digest: ${ref.digest ? ref.digest : manifestDigest}` });
    const upToDate = before === id;
    progress?.({ status: `Status: ${upToDate ? 'Image is up to date' : 'Downloaded newer image'} for ${familiarString(ref)}` });
    manifestDigest = manifestDigest as Digest;
    // dockerd (distribution/pull.go): Actor.ID the reference pulled, name its repository.
    images.logEvent('pull', familiarString(ref), familiarName(ref));
    return { id, manifestDigest, reference: familiarString(ref) };
  } finally {
    client.close();
  }
}

/**
 * `pull --all-tags` (`POST /images/create?fromImage=name` with an empty tag): every tag the
 * registry lists for the repository, one after the other, then one status line for the
 * repository, as moby's pullRepository does.
 */
export async function pullAllTags(images: ImageService, repository: string, options: PullOptions): Promise<PullResult[]> {
  const ref = parseReference(repository);
  if (ref.tag !== undefined || ref.digest !== undefined) throw new InvalidParameterError(`tag can't be used with --all-tags/-a`);
  const client = new RegistryClient(ref.domain, {
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.insecureRegistries ? { insecureRegistries: options.insecureRegistries } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.lookup ? { lookup: options.lookup } : {}),
    ...(options.dial ? { dial: options.dial } : {}),
  });
  let tags: string[];
  try {
    tags = await client.listTags(ref.path, { ...(options.signal ? { signal: options.signal } : {}) });
  } finally {
    client.close();
  }
  if (tags.length === 0) throw new NotFoundError(`no tags found for ${familiarName(ref)}`);
  const results: PullResult[] = [];
  const progress = options.progress;
  let newer = false;
  for (const tag of tags.sort()) {
    // Each tag's own "Status:" line is folded into the one for the repository below.
    const r = await pullImage(images, formatReference({ ...ref, tag }), {
      ...options,
      ...(progress ? { progress: (m: ProgressMessage) => {
        if (m.status?.startsWith('Status: ')) {
          if (m.status.startsWith('Status: Downloaded')) newer = true;
          return;
        }
        progress(m);
      } } : {}),
    });
    results.push(r);
  }
  progress?.({ status: `Status: ${newer ? 'Downloaded newer image' : 'Image is up to date'} for ${familiarName(ref)}` });
  return results;
}

function safeResolve(images: ImageService, ref: string): string | undefined {
  try {
    return images.resolve(ref).id;
  } catch {
    return undefined;
  }
}

/** `fromImage` + `tag` query parameters of `POST /images/create` as one reference (Docker: tag may be a digest). */
export function pullReference(fromImage: string, tag: string | null): Reference {
  const ref = parseReference(fromImage);
  if (tag) {
    if (ref.tag !== undefined || ref.digest !== undefined) return ref;
    if (/^sha256:/.test(tag)) return { ...ref, digest: tag };
    return { ...ref, tag };
  }
  return ref;
}

/** Hash helper for callers that need a digest of a stream they also consume. */
export function hashingTransform(): { stream: Transform; digest(): Digest; size(): number } {
  const hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  return { stream, digest: () => `sha256:${hash.digest('hex')}` as Digest, size: () => size };
}
