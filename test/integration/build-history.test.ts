/**
 * The build history berth extension (issue 19, GET /berth/builds): every build through
 * POST /build is recorded with its steps, cache hits and result; the list is bounded, survives
 * a daemon restart, and an unknown id is a 404.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createDaemon, runCommand, type TestDaemon } from '../helpers/daemon.js';

interface Build { ID: string; Result: string; Error?: string; Tags: string[]; DurationMs?: number; TotalSteps: number; ImageID?: string; Steps: Array<{ Number: number; Instruction: string; DurationMs: number; Cached: boolean }> }

let d: TestDaemon;
let work: string;
const LIMIT = 4;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'berth-test-build-history-work-'));
  process.env['XDG_CACHE_HOME'] = join(work, 'xdg-cache');
  d = await createDaemon('build-history');
  // A small bound, so the test can go past it quickly (the default is 100).
  process.env['BERTH_BUILD_HISTORY_LIMIT'] = String(LIMIT);
  try {
    await d.start();
  } finally {
    delete process.env['BERTH_BUILD_HISTORY_LIMIT'];
  }
  await d.importBusybox();
});

after(async () => {
  await d?.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

async function build(name: string, dockerfile: string, tag: string): Promise<{ code: number | null; out: string }> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), dockerfile);
  const r = await d.berth(['build', '-t', tag, dir], { timeoutMs: 120_000 });
  return { code: r.code, out: r.stdout + r.stderr };
}

const builds = async (): Promise<Build[]> => {
  const r = await d.api('GET', '/berth/builds');
  assert.equal(r.status, 200, r.body.toString());
  return r.json() as Build[];
};

test('a build is recorded with its steps, times and cache hits', async () => {
  assert.deepEqual(await builds(), []);
  const df = 'FROM busybox\nRUN echo one > /one\nRUN echo two > /two\n';
  assert.equal((await build('two', df, 'hist/app:1')).code, 0);
  const again = await build('two', df, 'hist/app:2');
  assert.equal(again.code, 0, again.out);
  const [second, first] = await builds();
  assert.ok(first && second);
  assert.equal(first.Result, 'ok');
  assert.deepEqual(first.Tags, ['hist/app:1']);
  assert.deepEqual(second.Tags, ['hist/app:2']);
  assert.deepEqual(first.Steps.map((s) => [s.Number, s.Instruction, s.Cached]), [[1, 'FROM busybox', false], [2, 'RUN echo one > /one', false], [3, 'RUN echo two > /two', false]]);
  assert.deepEqual(second.Steps.map((s) => s.Cached), [false, true, true]);
  assert.equal(second.TotalSteps, 3);
  assert.ok(first.DurationMs! >= first.Steps.reduce((n, s) => n + s.DurationMs, 0) - 5, 'steps fit in the build');
  assert.equal(second.ImageID, (await d.api('GET', '/images/hist/app:2/json')).json().Id);
  const one = await d.api('GET', `/berth/builds/${first.ID}`);
  assert.equal(one.status, 200);
  assert.deepEqual(one.json(), first);
});

test('a build by the real docker CLI (legacy builder, POST /build) is recorded too', async () => {
  const r = await runCommand('docker', ['build', '-t', 'hist/docker:1', join(work, 'two')], { DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config'), DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false' }, { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const [b] = await builds();
  assert.deepEqual(b!.Tags, ['hist/docker:1']);
  assert.equal(b!.Result, 'ok');
  assert.deepEqual(b!.Steps.map((s) => s.Cached), [false, true, true]);
});

test('failed builds are recorded with the error; unknown id 404; bad limit 400', async () => {
  const failed = await build('fails', 'FROM busybox\nRUN echo before\nRUN exit 3\n', 'hist/bad:1');
  assert.notEqual(failed.code, 0);
  const refused = await build('refused', 'FROM busybox\nFOO bar\n', 'hist/refused:1');
  assert.notEqual(refused.code, 0);
  const [r, f] = await builds();
  assert.equal(f!.Result, 'error');
  assert.match(f!.Error ?? '', /returned a non-zero code: 3/);
  assert.deepEqual(f!.Steps.map((s) => s.Instruction), ['FROM busybox', 'RUN echo before', 'RUN exit 3']);
  assert.equal(r!.Result, 'error');
  assert.match(r!.Error ?? '', /unknown instruction: FOO/);
  assert.deepEqual(r!.Steps, []);
  const missing = await d.api('GET', '/berth/builds/0123456789abcdef01234567');
  assert.equal(missing.status, 404);
  assert.match(missing.json().message, /no such build/);
  assert.equal((await d.api('GET', '/berth/builds?limit=abc')).status, 400);
  assert.equal((await d.api('GET', '/berth/builds?limit=1')).json().length, 1);
});

test(`bounded to the newest ${LIMIT}, and kept across a daemon restart`, async () => {
  assert.equal((await build('five', 'FROM busybox\nLABEL n=5\n', 'hist/five:1')).code, 0);
  const list = await builds();
  assert.equal(list.length, LIMIT);
  assert.deepEqual(list.map((b) => b.Tags[0]), ['hist/five:1', 'hist/refused:1', 'hist/bad:1', 'hist/docker:1']);
  await d.stop();
  process.env['BERTH_BUILD_HISTORY_LIMIT'] = String(LIMIT);
  try {
    await d.start();
  } finally {
    delete process.env['BERTH_BUILD_HISTORY_LIMIT'];
  }
  assert.deepEqual(await builds(), list);
});
