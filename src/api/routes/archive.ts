/**
 * Files across the container boundary: `GET/HEAD/PUT /containers/{id}/archive` (docker cp),
 * `GET /containers/{id}/changes` (docker diff) and `GET /containers/{id}/export`. The work is
 * the engine's (engine/container-files.ts); these routes decode the query and stream the answer.
 */
import { pipeline } from 'node:stream/promises';
import { InvalidParameterError } from '../../common/errors.js';
import { encodePathStat } from '../../common/path-stat.js';
import { ContainerFiles, type ContainerFilesOptions } from '../../engine/container-files.js';
import { Router, queryBool, sendEmpty, sendJson } from '../router.js';

export type ArchiveRouteDeps = ContainerFilesOptions;

const STAT_HEADER = 'X-Docker-Container-Path-Stat';

function pathQuery(q: URLSearchParams): string {
  const p = q.get('path');
  if (!p) throw new InvalidParameterError('path query parameter is required');
  return p;
}

export function registerArchiveRoutes(router: Router, deps: ArchiveRouteDeps): void {
  const files = new ContainerFiles(deps);

  router.head('/containers/:id/archive', async (ctx) => {
    const st = await files.stat(ctx.params.id!, pathQuery(ctx.query));
    ctx.res.writeHead(200, { [STAT_HEADER]: encodePathStat(st), 'Content-Type': 'application/x-tar' });
    ctx.res.end();
  });

  router.get('/containers/:id/archive', async (ctx) => {
    await files.read(ctx.params.id!, pathQuery(ctx.query), async (st, stream, done) => {
      ctx.res.writeHead(200, { [STAT_HEADER]: encodePathStat(st), 'Content-Type': 'application/x-tar' });
      await Promise.all([pipeline(stream, ctx.res), done]).catch((err) => {
        ctx.log.warn({ err }, 'archive stream failed');
        ctx.res.destroy();
      });
    });
  });

  router.put('/containers/:id/archive', async (ctx) => {
    await files.write(ctx.params.id!, pathQuery(ctx.query), ctx.req, { copyUidGid: queryBool(ctx.query, 'copyUIDGID'), noOverwriteDirNonDir: queryBool(ctx.query, 'noOverwriteDirNonDir') });
    sendEmpty(ctx.res, 200);
  });

  router.get('/containers/:id/changes', async (ctx) => {
    const changes = await files.changes(ctx.params.id!);
    sendJson(ctx.res, 200, changes.length ? changes : null);
  });

  router.get('/containers/:id/export', async (ctx) => {
    await files.export(ctx.params.id!, async (stream) => {
      ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      await pipeline(stream, ctx.res).catch((err) => {
        ctx.log.warn({ err }, 'export stream failed');
        ctx.res.destroy();
      });
    });
  });
}
