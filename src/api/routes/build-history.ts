/**
 * berth extension routes for the build history (issue 19; src/build/build-history.ts):
 * `GET /berth/builds` lists the recorded builds, newest first (`limit` query: at most that
 * many); `GET /berth/builds/{id}` answers one, 404 for an unknown id.
 */
import { InvalidParameterError, NotFoundError } from '../../common/errors.js';
import type { BuildHistory } from '../../build/build-history.js';
import { sendJson, type Router } from '../router.js';

export function registerBuildHistoryRoutes(router: Router, deps: { history: BuildHistory }): void {
  router.get('/berth/builds', async (ctx) => {
    const l = ctx.query.get('limit');
    if (l !== null && l !== '' && !/^\d+$/.test(l)) throw new InvalidParameterError(`invalid limit: ${l}`);
    const all = deps.history.list();
    sendJson(ctx.res, 200, l ? all.slice(0, Number(l)) : all);
  });
  router.get('/berth/builds/:id', async (ctx) => {
    const id = ctx.params['id'] ?? '';
    const rec = deps.history.get(id);
    if (!rec) throw new NotFoundError(`no such build: ${id}`);
    sendJson(ctx.res, 200, rec);
  });
}
