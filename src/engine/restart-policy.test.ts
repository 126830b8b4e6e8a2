import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextRestartDelay, RestartScheduler, shouldRestart } from './restart-policy.js';

const rec = (name: 'no' | 'always' | 'unless-stopped' | 'on-failure', exitCode: number, o: { retries?: number; restartCount?: number; manuallyStopped?: boolean } = {}) => ({
  host: { restartPolicy: { name, maximumRetryCount: o.retries ?? 0 } },
  manuallyStopped: o.manuallyStopped,
  state: { exitCode } as never,
  restartCount: o.restartCount ?? 0,
});

test('shouldRestart: Docker\'s policies', () => {
  assert.equal(shouldRestart(rec('no', 1)), false);
  assert.equal(shouldRestart(rec('always', 0)), true);
  assert.equal(shouldRestart(rec('unless-stopped', 0)), true);
  assert.equal(shouldRestart(rec('always', 1, { manuallyStopped: true })), false);
  assert.equal(shouldRestart(rec('on-failure', 0)), false);
  assert.equal(shouldRestart(rec('on-failure', 2)), true);
  assert.equal(shouldRestart(rec('on-failure', 2, { retries: 3, restartCount: 2 })), true);
  assert.equal(shouldRestart(rec('on-failure', 2, { retries: 3, restartCount: 3 })), false);
  assert.equal(shouldRestart({ host: {}, state: { exitCode: 1 } as never, restartCount: 0 }), false);
});

test('nextRestartDelay: 100 ms doubling to 1 min, reset by a run of 10 s', () => {
  assert.equal(nextRestartDelay(undefined, 0), 100);
  assert.equal(nextRestartDelay(100, 50), 200);
  assert.equal(nextRestartDelay(40_000, 50), 60_000);
  assert.equal(nextRestartDelay(60_000, 50), 60_000);
  assert.equal(nextRestartDelay(6400, 10_000), 100);
});

test('RestartScheduler: fires once after the delay; a cancelled restart never fires', async () => {
  const fired: string[] = [];
  const s = new RestartScheduler((id) => fired.push(id));
  const t = new Date().toISOString();
  const state = { startedAt: t, finishedAt: t } as never;
  assert.equal(s.schedule({ id: 'a', state }), 100);
  assert.equal(s.schedule({ id: 'b', state }, 0), 0);
  assert.equal(s.schedule({ id: 'c', state }, 0), 0);
  s.cancel('c');
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(fired.sort(), ['a', 'b']);
  // The back-off goes on from the last delay.
  assert.equal(s.schedule({ id: 'a', state }), 200);
  s.close();
  await new Promise((r) => setTimeout(r, 250));
  assert.deepEqual(fired.sort(), ['a', 'b']);
});
