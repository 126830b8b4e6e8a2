/**
 * Image endpoints of the Engine API: decode the request, call the image service or one of its
 * operations (image/image-ops.ts: pull, push, import, load, save, commit, prune, remove, login),
 * encode the answer. Image names may contain `/` (`localhost:5000/a/b:tag`), which find-my-way
 * parameters cannot, so `/images/*` catches the rest and dispatches on the suffix.
 */
import { InvalidParameterError, NotImplementedError, NotFoundError } from '../../common/errors.js';
import { ImageOps, type ImageOpsDeps } from '../../image/image-ops.js';
import type { ProgressMessage } from '../../image/pull.js';
import { decodeRegistryAuth, type AuthConfig } from '../../wire/registry-auth.js';
import { messageFromError, statusFromError } from '../http-status.js';
import { filterImages, historyJson, imageInspectJson, imageSummaryJson, repoTagFromQuery } from '../convert/images.js';
import { type RouteContext, type Router, queryBool, queryFilters, readJson, sendJson } from '../router.js';

/** What the image routes are given: the image service and what its operations need (image/image-ops.ts). */
export type ImageRouteDeps = ImageOpsDeps;
export type { ContainerConfigView, ImageTrustCheck } from '../../image/image-ops.js';

/**
 * berth's CLI asks for content trust (DOCKER_CONTENT_TRUST=1) with `contentTrust=1` on pull,
 * build and load: the policy must then require a signature for the image.
 */
export function contentTrustQuery(query: URLSearchParams): boolean {
  return ['1', 'true'].includes((query.get('contentTrust') ?? '').toLowerCase());
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

export function registerImageRoutes(router: Router, deps: ImageRouteDeps): void {
  const { images } = deps;
  const ops = new ImageOps(deps);

  router.on('POST', '/images/create', async (ctx) => {
    const fromImage = ctx.query.get('fromImage');
    const fromSrc = ctx.query.get('fromSrc');
    if (fromImage) {
      ops.requireRegistry(`cannot pull ${fromImage}`);
      const auth = registryAuth(ctx);
      const stream = jsonProgressStream(ctx);
      try {
        await ops.pull(fromImage, { tag: ctx.query.get('tag'), platform: ctx.query.get('platform'), ...(auth ? { auth } : {}), contentTrust: contentTrustQuery(ctx.query), progress: stream.progress, signal: stream.signal });
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
    const id = await ops.importTarball(ctx.req, { ...(repoTag ? { repoTag } : {}), changes: ctx.query.getAll('changes'), message: ctx.query.get('message') ?? '', platform: ctx.query.get('platform') });
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
    const stream = await ops.save(names);
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
    // As dockerd: one JSON message per line ("\r\n"), and a failed load is a 200 whose last
    // line is the error message (SDKs read the lines; docker-py raises ImageLoadError on it).
    let lines: string[];
    try {
      const { messages } = await ops.load(ctx.req, { contentTrust: contentTrustQuery(ctx.query) });
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

  router.on('POST', '/commit', async (ctx) => {
    const repo = ctx.query.get('repo');
    const id = await ops.commit(ctx.query.get('container') ?? '', {
      repoTag: () => (repo ? repoTagFromQuery(repo, ctx.query.get('tag')) : undefined),
      changes: ctx.query.getAll('changes'),
      comment: ctx.query.get('comment') ?? '',
      author: ctx.query.get('author') ?? '',
    });
    sendJson(ctx.res, 201, { Id: id });
  });

  router.on('POST', '/images/prune', async (ctx) => {
    sendJson(ctx.res, 200, await ops.prune(queryFilters(ctx.query)));
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
      const name = withName(ctx, '/push');
      ops.requireRegistry(`cannot push ${name}`);
      const auth = registryAuth(ctx);
      const stream = jsonProgressStream(ctx);
      try {
        await ops.push(name, { tag: ctx.query.get('tag') ?? '', ...(auth ? { auth } : {}), progress: stream.progress, signal: stream.signal });
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
    ops.requireRegistry('');
    await ops.login(await readJson<AuthConfig>(ctx.req, 64 << 10));
    sendJson(ctx.res, 200, { Status: 'Login Succeeded', IdentityToken: '' });
  });

  router.on('DELETE', '/images/*', async (ctx) => {
    const items = await ops.remove(withName(ctx, ''), {
      force: queryBool(ctx.query, 'force'),
      noprune: queryBool(ctx.query, 'noprune'),
      onCollectError: (e) => ctx.log.warn({ err: e }, 'blob collection failed'),
    });
    sendJson(ctx.res, 200, items);
  });
}
