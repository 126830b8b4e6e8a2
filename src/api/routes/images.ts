/**
 * Image endpoints of the Engine API: create (import; pull comes with registries), list,
 * inspect, history, tag, remove. Image names may contain `/` (`localhost:5000/a/b:tag`), which
 * find-my-way parameters cannot, so `/images/*` catches the rest and dispatches on the suffix.
 */
import { InvalidParameterError, NotImplementedError, NotFoundError } from '../../common/errors.js';
import type { ImageService } from '../../image/image-service.js';
import { filterImages, historyJson, imageInspectJson, imageSummaryJson, repoTagFromQuery } from '../convert/images.js';
import { type RouteContext, type Router, queryBool, queryFilters, sendJson } from '../router.js';

export interface ImageRouteDeps {
  images: ImageService;
  /** Whether a container uses the image; may return `{ id, running }` for Docker's exact conflict messages. */
  isImageInUse(imageId: string): boolean | { id: string; running: boolean } | undefined;
}

export function registerImageRoutes(router: Router, deps: ImageRouteDeps): void {
  const { images } = deps;

  router.on('POST', '/images/create', async (ctx) => {
    const fromImage = ctx.query.get('fromImage');
    const fromSrc = ctx.query.get('fromSrc');
    if (fromImage) {
      throw new NotImplementedError(
        `cannot pull ${fromImage}: pulling from registries is not implemented in berth yet; use "docker import" or "docker load"`,
      );
    }
    if (fromSrc === null || fromSrc === '') throw new InvalidParameterError('fromImage or fromSrc is required');
    if (fromSrc !== '-') throw new NotImplementedError(`importing from a URL is not supported yet: ${fromSrc}`);
    const repoTag = repoTagFromQuery(ctx.query.get('repo'), ctx.query.get('tag'));
    const id = await images.importImage(ctx.req, {
      ...(repoTag ? { repoTag } : {}),
      changes: ctx.query.getAll('changes'),
      message: ctx.query.get('message') ?? '',
      ...(ctx.query.get('platform') ? { platform: ctx.query.get('platform')! } : {}),
    });
    // Docker answers with a JSON message stream; `docker import` prints the status (the ID).
    const body = `${JSON.stringify({ status: id })}\r\n`;
    ctx.res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    ctx.res.end(body);
  });

  router.on('GET', '/images/json', async (ctx) => {
    const filters = queryFilters(ctx.query);
    const list = filterImages(await images.list(), filters, (ref) => images.resolve(ref).created);
    // `all` would add intermediate (parent) images; berth has none yet, so the list is the same.
    void queryBool(ctx.query, 'all');
    sendJson(ctx.res, 200, list.map((s) => imageSummaryJson(s, ctx.apiVersion)));
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
      throw new NotImplementedError('image save is not implemented in berth yet');
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
      throw new NotImplementedError('pushing to registries is not implemented in berth yet');
    } else throw new NotFoundError('page not found');
  });

  router.on('DELETE', '/images/*', async (ctx) => {
    const name = withName(ctx, '');
    const items = await images.remove(name, {
      force: queryBool(ctx.query, 'force'),
      noprune: queryBool(ctx.query, 'noprune'),
      isInUse: (id) => deps.isImageInUse(id),
    });
    sendJson(ctx.res, 200, items);
  });
}
