import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordingRunner } from '../common/command-runner.js';
import { isInvalidParameter } from '../common/errors.js';
import { containerTop } from './top.js';

const PS = 'UID PID PPID C STIME TTY TIME CMD\nroot 10 1 0 12:00 ? 00:00:00 sleep 100 &\nroot 11 1 0 12:00 ? 00:00:00 other\n';

test('top runs ps through the runner and keeps the container rows, command with its spaces', async () => {
  const runner = new RecordingRunner(() => ({ stdout: PS }));
  const t = await containerTop({ pids: async () => [10] }, 'c1', '-ef', runner);
  assert.deepEqual(runner.calls, [['ps', '-ef']]);
  assert.deepEqual(t.Titles, ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
  assert.deepEqual(t.Processes, [['root', '10', '1', '0', '12:00', '?', '00:00:00', 'sleep 100 &']]);
});

test('top refuses ps arguments that are not options, before running anything', async () => {
  const runner = new RecordingRunner(() => ({ stdout: PS }));
  await assert.rejects(containerTop({ pids: async () => [10] }, 'c1', '-ef; rm -rf /', runner), (e: unknown) => isInvalidParameter(e) && /invalid ps arguments/.test((e as Error).message));
  assert.equal(runner.calls.length, 0);
});

test('top reports a failing ps and output without a PID column', async () => {
  await assert.rejects(containerTop({ pids: async () => [1] }, 'c1', 'aux', new RecordingRunner(() => ({ code: 1, stderr: 'bad option\n' }))), /ps aux failed: bad option/);
  await assert.rejects(containerTop({ pids: async () => [1] }, 'c1', '-o', new RecordingRunner(() => ({ stdout: 'CMD\nsh\n' }))), /Couldn't find PID field/);
});
