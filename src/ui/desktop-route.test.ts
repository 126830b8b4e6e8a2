import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router, type RouteContext } from '../api/router.js';
import { isNotFound } from '../common/errors.js';
import { registerDesktopRoute } from './desktop-route.js';

function call(url: string | undefined): Promise<{ status?: number; body?: string }> {
  const router = new Router();
  registerDesktopRoute(router, { url: () => url });
  const match = router.find('GET', '/berth/desktop');
  assert.ok(match);
  const out: { status?: number; body?: string } = {};
  const res = {
    statusCode: 0,
    setHeader() {},
    writeHead(status: number) {
      out.status = status;
      return res;
    },
    end(body?: string) {
      out.body = String(body ?? '');
    },
  };
  return Promise.resolve(match.handler({ res, params: match.params } as unknown as RouteContext)).then(() => ({ ...out, status: out.status ?? res.statusCode }));
}

test('GET /berth/desktop: the URL with its token when the UI is on, NotFound when it is off', async () => {
  const on = await call('http://127.0.0.1:7681/?token=abc');
  assert.equal(on.status, 200);
  assert.deepEqual(JSON.parse(on.body!), { URL: 'http://127.0.0.1:7681/?token=abc' });
  await assert.rejects(call(undefined), (err: unknown) => isNotFound(err) && /--ui/.test((err as Error).message));
});
