import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentTrustEnabled, contentTrustQuery } from './content-trust.js';

test('DOCKER_CONTENT_TRUST is a Go boolean; --disable-content-trust wins (#22)', () => {
  for (const v of ['1', 'true', 'TRUE', 't']) assert.equal(contentTrustEnabled({ env: { DOCKER_CONTENT_TRUST: v } }, {}), true, v);
  for (const v of ['', '0', 'false', 'no']) assert.equal(contentTrustEnabled({ env: { DOCKER_CONTENT_TRUST: v } }, {}), false, v);
  assert.equal(contentTrustEnabled({ env: {} }, {}), false);
  assert.equal(contentTrustEnabled({ env: { DOCKER_CONTENT_TRUST: '1' } }, { disableContentTrust: true }), false);
  assert.deepEqual(contentTrustQuery(true), { contentTrust: '1' });
  assert.deepEqual(contentTrustQuery(false), {});
});

test('content trust refuses a daemon without a signature policy endpoint (#22)', async () => {
  const { ApiError } = await import('../client/errors.js');
  const { requireTrustDaemon } = await import('./content-trust.js');
  await requireTrustDaemon({ json: async <T>() => ({}) as T });
  await assert.rejects(requireTrustDaemon({ json: async () => { throw new ApiError(404, 'page not found'); } }), /does not enforce a signature policy/);
  await assert.rejects(requireTrustDaemon({ json: async () => { throw new ApiError(500, 'boom'); } }), /boom/);
});
