/**
 * `GET /berth/desktop` on the Engine API: the dashboard's URL with its token, for `berth
 * desktop`. Only a client of the API (root-equivalent already) can read it; 404 when the UI is off.
 */
import { NotFoundError } from '../common/errors.js';
import { sendJson, type Router } from '../api/router.js';

export function registerDesktopRoute(router: Router, deps: { url: () => string | undefined }): void {
  router.get('/berth/desktop', async (ctx) => {
    const url = deps.url();
    if (!url) throw new NotFoundError('the desktop UI is off: start berthd with --ui 127.0.0.1:PORT (or "ui" in daemon.json)');
    sendJson(ctx.res, 200, { URL: url });
  });
}
