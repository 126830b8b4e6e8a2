/**
 * Image endpoints of the Engine API: create (import; pull comes with registries), list,
 * inspect, history, tag, remove. Image names may contain `/` (`localhost:5000/a/b:tag`), which
 * find-my-way parameters cannot, so `/images/*` catches the rest and dispatches on the suffix.
 */
import { InvalidParameterError, NotImplementedError, NotFoundError, UnauthorizedError } from '../../common/errors.js';
import type { CommandRunner } from '../../common/command-runner.js';
import type { ImageService } from '../../image/image-service.js';
import { PassThrough } from 'node:stream';
import { createGzip } from 'node:zlib';
import { addBlobSource, pullAllTags, pullImage, pullReference, readBlobSources, type ProgressMessage, type PullOptions } from '../../image/pull.js';
import { MEDIA_TYPE } from '../../oci/media-types.js';
import { pushImage } from '../../image/push.js';
import { loadImages, saveImages } from '../../image/archive.js';
import { collectBlobs, pruneImages } from '../../image/prune.js';
import { applyChanges } from '../../image/changes.js';
import { diffLayer, isEmptyDir } from '../../image/diff-layer.js';
import type { ImageRunConfig } from '../../oci/image.js';
import { RegistryClient } from '../../registry/client/client.js';
import { decodeRegistryAuth, type AuthConfig } from '../../wire/registry-auth.js';
import { formatReference, type Reference } from '../../oci/reference.js';
import { messageFromError, statusFromError } from '../http-status.js';
import { filterImages, historyJson, imageInspectJson, imageSummaryJson, repoTagFromQuery } from '../convert/images.js';
import { type RouteContext, type Router, queryBool, queryFilters, readJson, sendJson } from '../router.js';

export interface ImageRouteDeps {
  images: ImageService;
  /** Whether a container uses the image; may return `{ id, running }` for Docker's exact conflict messages. */
  isImageInUse(imageId: string): boolean | { id: string; running: boolean } | undefined;
  /** A container's image, writable layer and effective config, for POST /commit (throws NoSuchContainer). */
  commitSource?(ref: string): { id: string; imageId: string; upperDir: string; running: boolean; config: ContainerConfigView };
  /** Registry access (pull, push, login); without it those endpoints answer 501. */
  registry?: {
    /** Distribution metadata directory (diffID → compressed blobs and their repositories). */
    metaDir: string;
    runner: CommandRunner;
    /** daemon.json `insecure-registries` (loopback registries are always plain HTTP). */
    insecureRegistries?: string[];
    /** daemon.json `registry-mirrors`: registry domain → mirror URLs. */
    mirrors?: Record<string, string[]>;
    timeoutMs?: number;
  };
  /** The signature policy (#22), checked on every pull and load; absent: accept anything. */
  trust?: ImageTrustCheck;
}

/** What the image routes need of trust/ImageTrust. */
export interface ImageTrustCheck {
  verifyPull(ref: Reference, manifestDigest: string, client: RegistryClient, options: { requireSignature?: boolean; signal?: AbortSignal }): Promise<unknown>;
  verifyArchive(manifestDigest: string, options: { requireSignature?: boolean }): Promise<unknown>;
}

/**
 * berth's CLI asks for content trust (DOCKER_CONTENT_TRUST=1) with `contentTrust=1` on pull,
 * build and load: the policy must then require a signature for the image.
 */
export function contentTrustQuery(query: URLSearchParams): boolean {
  return ['1', 'true'].includes((query.get('contentTrust') ?? '').toLowerCase());
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

/** The `X-Registry-Auth` header, decoded (400 when malformed). */
function registryAuth(ctx: RouteContext): AuthConfig | undefined {
  const h = ctx.req.headers['x-registry-auth'];
  try {
    return decodeRegistryAuth(Array.isArray(h) ? h[0] : h);
  } catch (e) {
    throw new InvalidParameterError((e as Error).message);
  }
}

/**
 * Docker's JSON message stream: the 200 status is sent with the first message, so a failure
 * before any progress (no such image, unauthorized, unreachable) is a proper HTTP error; a
 * failure after it is an `errorDetail` message, as dockerd does. The signal aborts the work
 * when the client goes away.
 */
function jsonProgressStream(ctx: RouteContext): { progress(m: ProgressMessage): void; fail(e: unknown): boolean; end(): void; signal: AbortSignal } {
  const ac = new AbortController();
  ctx.res.on('close', () => {
    if (!ctx.res.writableFinished) ac.abort();
  });
  const start = (): void => {
    if (!ctx.res.headersSent) ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
  };
  return {
    signal: ac.signal,
    progress(m) {
      if (ac.signal.aborted) return;
      start();
      ctx.res.write(`${JSON.stringify(m)}\r\n`);
    },
    fail(e) {
      if (!ctx.res.headersSent) return false;
      const message = messageFromError(e);
      ctx.res.end(`${JSON.stringify({ errorDetail: { code: statusFromError(e), message }, error: message })}\r\n`);
      return true;
    },
    end() {
      start();
      ctx.res.end();
    },
  };
}

/** The pull hook that applies the signature policy (image/pull.ts PullVerifier). */
export function pullVerifier(trust: ImageTrustCheck, requireSignature: boolean): NonNullable<PullOptions['verify']> {
  return (ref, digest, client, o) => trust.verifyPull(ref, digest, client, { requireSignature, ...(o.signal ? { signal: o.signal } : {}) });
}

export function registerImageRoutes(router: Router, deps: ImageRouteDeps): void {
  const { images } = deps;
  // A blob another image's layer already uses must survive a failed import of the same bytes.
  const isKnownBlob = async (digest: string): Promise<boolean> => {
    if (!deps.registry) return false;
    for (const rec of images.records()) {
      for (const d of rec.diffIds) if ((await readBlobSources(deps.registry.metaDir, d)).some((s) => s.digest === digest)) return true;
    }
    return false;
  };

  router.on('POST', '/images/create', async (ctx) => {
    const fromImage = ctx.query.get('fromImage');
    const fromSrc = ctx.query.get('fromSrc');
    if (fromImage) {
      const reg = deps.registry;
      if (!reg) throw new NotImplementedError(`cannot pull ${fromImage}: this daemon has no registry access configured`);
      const ref = pullReference(fromImage, ctx.query.get('tag'));
      const auth = registryAuth(ctx);
      const platform = ctx.query.get('platform');
      const stream = jsonProgressStream(ctx);
      // Docker: an empty tag with an untagged fromImage pulls every tag of the repository.
      const allTags = !ctx.query.get('tag') && ref.tag === undefined && ref.digest === undefined;
      try {
        await (allTags ? pullAllTags : pullImage)(images, formatReference(ref), {
          metaDir: reg.metaDir,
          ...(auth ? { auth } : {}),
          ...(reg.insecureRegistries ? { insecureRegistries: reg.insecureRegistries } : {}),
          ...(reg.mirrors ? { mirrors: reg.mirrors } : {}),
          ...(reg.timeoutMs ? { timeoutMs: reg.timeoutMs } : {}),
          ...(platform ? { platform } : {}),
          ...(deps.trust ? { verify: pullVerifier(deps.trust, contentTrustQuery(ctx.query)) } : {}),
          progress: stream.progress,
          signal: stream.signal,
        });
      } catch (e) {
        if (!stream.fail(e)) throw e;
        ctx.log.warn({ err: e, image: fromImage }, 'pull failed');
        return;
      }
      stream.end();
      return;
    }
    if (fromSrc === null || fromSrc === '') throw new InvalidParameterError('fromImage or fromSrc is required');
    if (fromSrc !== '-') throw new NotImplementedError(`importing from a URL is not supported yet: ${fromSrc}`);
    const repoTag = repoTagFromQuery(ctx.query.get('repo'), ctx.query.get('tag'));
    // The tarball is also kept as a blob: push and save send it as it came, so the layer keeps
    // its diffID (files re-tarred later would not reproduce the same bytes).
    const toLayer = new PassThrough();
    const toBlob = new PassThrough();
    ctx.req.pipe(toLayer);
    if (deps.registry) ctx.req.pipe(toBlob);
    ctx.req.on('error', (e) => {
      toLayer.destroy(e);
      toBlob.destroy(e);
    });
    const blob = deps.registry ? images.content.ingest(toBlob) : undefined;
    blob?.catch(() => undefined);
    let id;
    try {
      id = await images.importImage(toLayer, {
        ...(repoTag ? { repoTag } : {}),
        changes: ctx.query.getAll('changes'),
        message: ctx.query.get('message') ?? '',
        ...(ctx.query.get('platform') ? { platform: ctx.query.get('platform')! } : {}),
      });
    } catch (e) {
      toBlob.destroy();
      const b = await blob?.catch(() => undefined);
      if (b && !(await isKnownBlob(b.digest))) await images.content.delete(b.digest);
      throw e;
    }
    if (blob && deps.registry) {
      const b = await blob;
      const diffId = images.get(id)?.diffIds[0];
      const head = await images.content.read(b.digest).then((buf) => buf.subarray(0, 2)).catch(() => Buffer.alloc(0));
      const gz = head[0] === 0x1f && head[1] === 0x8b;
      if (diffId) await addBlobSource(deps.registry.metaDir, diffId, { digest: b.digest, size: b.size, mediaType: gz ? MEDIA_TYPE.dockerLayerGzip : MEDIA_TYPE.dockerLayer });
    }
    // Docker answers with a JSON message stream; `docker import` prints the status (the ID).
    const body = `${JSON.stringify({ status: id })}\r\n`;
    ctx.res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    ctx.res.end(body);
  });

  router.on('GET', '/images/json', async (ctx) => {
    const filters = queryFilters(ctx.query);
    // Untagged parents (a build's step images) only with `all`; dockerd lists only heads
    // (images without children) for dangling=true, even with `all`.
    const danglingOnly = (filters.get('dangling') ?? []).some((v) => ['true', '1'].includes(v.toLowerCase()));
    const hideIntermediate = !queryBool(ctx.query, 'all') || danglingOnly;
    const list = filterImages(await images.list({ hideIntermediate }), filters, (ref) => images.resolve(ref).created);
    sendJson(ctx.res, 200, list.map((s) => imageSummaryJson(s, ctx.apiVersion)));
  });

  const sendArchive = async (ctx: RouteContext, names: string[]): Promise<void> => {
    const reg = deps.registry;
    if (!reg) throw new NotImplementedError('this daemon has no image archive support configured');
    const stream = await saveImages(images, names, { metaDir: reg.metaDir, runner: reg.runner });
    ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    stream.on('error', (e) => {
      ctx.log.warn({ err: e }, 'image save failed');
      ctx.res.destroy(e);
    });
    stream.pipe(ctx.res);
    await new Promise<void>((resolve) => ctx.res.on('close', () => resolve()));
  };

  router.on('GET', '/images/get', async (ctx) => {
    await sendArchive(ctx, ctx.query.getAll('names'));
  });

  router.on('POST', '/images/load', async (ctx) => {
    // berth has no per-layer progress to show: quiet and not quiet give the same lines.
    queryBool(ctx.query, 'quiet');
    const trust = deps.trust;
    const requireSignature = contentTrustQuery(ctx.query);
    // As dockerd: one JSON message per line ("\r\n"), and a failed load is a 200 whose last
    // line is the error message (SDKs read the lines; docker-py raises ImageLoadError on it).
    let lines: string[];
    try {
      const { messages } = await loadImages(images, ctx.req, trust ? { verify: (img) => trust.verifyArchive(img.digest, { requireSignature }) } : {});
      lines = messages.map((m) => JSON.stringify({ stream: `${m}\n` }));
    } catch (err) {
      if (statusFromError(err) >= 500) throw err;
      const message = (err as Error).message;
      lines = [JSON.stringify({ errorDetail: { message }, error: message })];
      ctx.req.resume();
    }
    const body = lines.map((l) => `${l}\r\n`).join('');
    ctx.res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    ctx.res.end(body);
  });

  // POST /commit: the container's writable layer (overlay upper dir → layer with whiteouts,
  // diff-layer.ts) on top of its image, with the container's config plus `changes`.
  router.on('POST', '/commit', async (ctx) => {
    if (!deps.commitSource || !deps.registry) throw new NotImplementedError('commit is not available in this daemon');
    const container = ctx.query.get('container');
    if (!container) throw new InvalidParameterError('container is required');
    const src = deps.commitSource(container);
    const repo = ctx.query.get('repo');
    const repoTag = repo ? repoTagFromQuery(repo, ctx.query.get('tag')) : undefined;
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
    const config = applyChanges(base, ctx.query.getAll('changes'));
    const comment = ctx.query.get('comment') ?? '';
    const author = ctx.query.get('author') ?? '';
    const empty = await isEmptyDir(src.upperDir).catch(() => true);
    // The layer tar is also kept (gzip) as the blob push and save send: re-tarring the unpacked
    // layer later would not give the same bytes (directory mtimes change when whiteouts are made).
    let layer: PassThrough | undefined;
    let blob: Promise<{ digest: string; size: number }> | undefined;
    if (!empty) {
      const tar = diffLayer(src.upperDir, { runner: deps.registry.runner });
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
      if (diffId) await addBlobSource(deps.registry.metaDir, diffId, { digest: b.digest as `sha256:${string}`, size: b.size, mediaType: MEDIA_TYPE.dockerLayerGzip });
    }
    sendJson(ctx.res, 201, { Id: id });
  });

  router.on('POST', '/images/prune', async (ctx) => {
    const filters = queryFilters(ctx.query);
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
    const r = await pruneImages(images, {
      all,
      ...(until !== undefined ? { until } : {}),
      ...(filters.get('label') ? { labels: filters.get('label')! } : {}),
      ...(filters.get('label!') ? { notLabels: filters.get('label!')! } : {}),
      isInUse: (id) => deps.isImageInUse(id),
      metaDir: deps.registry?.metaDir ?? '/nonexistent',
    });
    sendJson(ctx.res, 200, { ImagesDeleted: r.deleted.length ? r.deleted : null, SpaceReclaimed: r.spaceReclaimed });
  });

  const withName = (ctx: RouteContext, suffix: string): string => {
    const rest = ctx.params['*'] ?? '';
    const name = suffix ? rest.slice(0, -suffix.length) : rest;
    if (!name) throw new NotFoundError('page not found');
    return name;
  };

  router.on('GET', '/images/*', async (ctx) => {
    const rest = ctx.params['*'] ?? '';
    if (rest.endsWith('/json')) {
      const d = await images.inspect(withName(ctx, '/json'));
      sendJson(ctx.res, 200, imageInspectJson(d, ctx.apiVersion));
    } else if (rest.endsWith('/history')) {
      sendJson(ctx.res, 200, historyJson(await images.history(withName(ctx, '/history'))));
    } else if (rest.endsWith('/get')) {
      await sendArchive(ctx, [withName(ctx, '/get')]);
    } else throw new NotFoundError('page not found');
  });

  router.on('POST', '/images/*', async (ctx) => {
    const rest = ctx.params['*'] ?? '';
    if (rest.endsWith('/tag')) {
      const name = withName(ctx, '/tag');
      const repo = ctx.query.get('repo');
      if (!repo) throw new InvalidParameterError('repository name must have at least one component');
      images.tag(name, repoTagFromQuery(repo, ctx.query.get('tag'))!);
      ctx.res.writeHead(201);
      ctx.res.end();
    } else if (rest.endsWith('/push')) {
      const reg = deps.registry;
      const name = withName(ctx, '/push');
      if (!reg) throw new NotImplementedError(`cannot push ${name}: this daemon has no registry access configured`);
      const auth = registryAuth(ctx);
      const tag = ctx.query.get('tag') ?? '';
      const stream = jsonProgressStream(ctx);
      try {
        await pushImage(images, name, {
          ...(tag ? { tag } : {}),
          metaDir: reg.metaDir,
          runner: reg.runner,
          ...(auth ? { auth } : {}),
          ...(reg.insecureRegistries ? { insecureRegistries: reg.insecureRegistries } : {}),
          ...(reg.timeoutMs ? { timeoutMs: reg.timeoutMs } : {}),
          progress: stream.progress,
          signal: stream.signal,
        });
      } catch (e) {
        if (!stream.fail(e)) throw e;
        ctx.log.warn({ err: e, image: name }, 'push failed');
        return;
      }
      stream.end();
    } else throw new NotFoundError('page not found');
  });

  // POST /auth: checks credentials against the registry (docker login); the client stores them.
  router.on('POST', '/auth', async (ctx) => {
    const reg = deps.registry;
    if (!reg) throw new NotImplementedError('this daemon has no registry access configured');
    const body = await readJson<AuthConfig>(ctx.req, 64 << 10);
    let server = body.serveraddress || 'docker.io';
    server = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (server === 'index.docker.io' || server === 'registry-1.docker.io') server = 'docker.io';
    const client = new RegistryClient(server, {
      auth: body,
      ...(reg.insecureRegistries ? { insecureRegistries: reg.insecureRegistries } : {}),
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
    sendJson(ctx.res, 200, { Status: 'Login Succeeded', IdentityToken: '' });
  });

  router.on('DELETE', '/images/*', async (ctx) => {
    const name = withName(ctx, '');
    const items = await images.remove(name, {
      force: queryBool(ctx.query, 'force'),
      noprune: queryBool(ctx.query, 'noprune'),
      isInUse: (id) => deps.isImageInUse(id),
    });
    if (deps.registry && items.some((i) => 'Deleted' in i)) await collectBlobs(images, deps.registry.metaDir).catch((e: unknown) => ctx.log.warn({ err: e }, 'blob collection failed'));
    sendJson(ctx.res, 200, items);
  });
}
