import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../store/db.js';
import { ContainerTable } from '../store/containers.js';
import { FakeRuntime } from '../runtime/fake-runtime.js';
import { readLogs } from '../runtime/log-reader.js';
import { silentLogger } from '../common/logger.js';
import { isConflict, isInvalidParameter, isNotFound, isNotModified, NoSuchImageError } from '../common/errors.js';
import { ContainerService } from './container-service.js';
import { EventBus, type EngineEvent } from './events.js';
import type { ContainerRecord } from './types.js';

let dir: string;
let db: Db;
let runtime: FakeRuntime;
let events: EventBus;
let svc: ContainerService;
let released: string[];
/** Holds back the rootfs removal (and so every reclaim) while a test looks at a removal in flight. */
let removeGate: Promise<void> = Promise.resolve();
const mounted = new Set<string>();

function makeService(): ContainerService {
  return new ContainerService({
    store: new ContainerTable<ContainerRecord>(db),
    runtime,
    images: {
      resolve: async (ref) => {
        if (ref !== 'busybox' && ref !== 'withcmd') throw new NoSuchImageError(ref);
        return { id: 'sha256:' + 'a'.repeat(64), config: ref === 'withcmd' ? { Cmd: ['echo', 'from-image'], Env: ['A=image', 'B=image'], Labels: { l: 'image' } } : { Cmd: ['sh'] } };
      },
      lowerDirs: async () => ['/lower'],
      acquire: () => ['layer1'],
      release: async (layers) => {
        released.push(...layers);
      },
    },
    rootfs: {
      prepare: async () => {},
      mount: async (_id, _l, target) => {
        mounted.add(target);
      },
      unmount: async (target) => {
        mounted.delete(target);
      },
      remove: async () => {
        await removeGate;
      },
    },
    makeSpec: async (rec) => ({ process: { args: [rec.path, ...rec.args] } }),
    readLogs: (path, o) => readLogs(path, { ...o, follow: o.follow ? { untilExit: o.untilExit } : false }),
    events,
    log: silentLogger(),
    containersRoot: join(dir, 'containers'),
  });
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-engine-'));
  db = openDatabase(join(dir, 'state.db'));
  runtime = new FakeRuntime();
  events = new EventBus();
  released = [];
  mounted.clear();
  svc = makeService();
  await svc.restore();
});

afterEach(async () => {
  await svc.drain();
  svc.close();
  db.close();
  await rm(dir, { recursive: true, force: true });
});

test('create merges the image config: cmd, env (container wins), labels', async () => {
  const { id } = await svc.create({ image: 'withcmd', env: ['B=ctr', 'C=ctr'], labels: { m: 'ctr' }, host: {} });
  const rec = svc.get(id);
  assert.equal(rec.path, 'echo');
  assert.deepEqual(rec.args, ['from-image']);
  assert.deepEqual(rec.config.env.filter((e) => !e.startsWith('PATH=')), ['A=image', 'B=ctr', 'C=ctr']);
  assert.ok(rec.config.env.some((e) => e.startsWith('PATH=')));
  assert.deepEqual(rec.config.labels, { l: 'image', m: 'ctr' });
  assert.equal(rec.config.hostname, id.slice(0, 12));
  // an entrypoint given on create drops the image's CMD
  const e = svc.get((await svc.create({ image: 'withcmd', entrypoint: ['ls'], host: {} })).id);
  assert.deepEqual([e.path, ...e.args], ['ls']);
});

test('names are unique, validated, and found by name, id and prefix', async () => {
  const { id } = await svc.create({ name: 'web', image: 'busybox', host: {} });
  await assert.rejects(svc.create({ name: 'web', image: 'busybox', host: {} }), (e) => isConflict(e));
  await assert.rejects(svc.create({ name: 'no spaces', image: 'busybox', host: {} }), (e) => isInvalidParameter(e));
  await assert.rejects(svc.create({ image: 'nosuch', host: {} }), (e) => isNotFound(e));
  assert.equal(svc.get('web').id, id);
  assert.equal(svc.get('/web').id, id);
  assert.equal(svc.get(id.slice(0, 6)).id, id);
  assert.throws(() => svc.get('nope'), (e) => isNotFound(e));
});

test('start → exit is recorded with the code, the rootfs unmounted, events published', async () => {
  const seen: EngineEvent[] = [];
  events.subscribe((e) => seen.push(e));
  const { id } = await svc.create({ image: 'busybox', cmd: ['sh', '-c', 'echo hi; exit 3'], host: {} });
  const done = svc.wait(id, 'next-exit');
  await svc.start(id);
  assert.deepEqual(await done, { exitCode: 3, error: undefined });
  const rec = svc.get(id);
  assert.equal(rec.state.status, 'exited');
  // The rootfs is unmounted as part of handling the exit; `die` is published after it.
  for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(mounted.size, 0);
  assert.deepEqual(seen.map((e) => e.action), ['create', 'start', 'die']);
  assert.equal(seen[2]!.attributes['exitCode'], '3');
  const logs: string[] = [];
  for await (const r of svc.logs(id, {})) logs.push(`${r.stream}:${r.data.toString()}`);
  assert.deepEqual(logs, ['stdout:hi\n']);
});

test('a missing command fails start with 127, a 400, and leaves the container created', async () => {
  const { id } = await svc.create({ image: 'busybox', cmd: ['nosuchcmd'], host: {} });
  await assert.rejects(svc.start(id), (e) => isInvalidParameter(e) && /executable file not found/.test((e as Error).message));
  assert.equal(svc.get(id).state.exitCode, 127);
  assert.equal(svc.get(id).state.status, 'created');
  assert.equal(mounted.size, 0);
});

test('stop escalates to SIGKILL after the timeout; a second stop is not-modified', async () => {
  const { id } = await svc.create({ image: 'busybox', cmd: ['sleep', '100'], host: {} });
  await svc.start(id);
  const t0 = Date.now();
  await svc.stop(id, { timeout: 1 });
  assert.ok(Date.now() - t0 >= 900);
  assert.equal(svc.get(id).state.exitCode, 137);
  await assert.rejects(svc.stop(id), (e) => isNotModified(e));
  await assert.rejects(svc.kill(id), (e) => isConflict(e));
});

test('restart applies no stale exit to the new run', async () => {
  const { id } = await svc.create({ image: 'busybox', cmd: ['sleep', '100'], host: {} });
  await svc.start(id);
  await svc.restart(id, { timeout: 0 });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(svc.get(id).state.status, 'running');
  await svc.remove(id, { force: true });
});

test('remove: 409 while running, force kills, layers are released, the directory goes', async () => {
  const { id } = await svc.create({ name: 'web', image: 'busybox', cmd: ['sleep', '100'], host: {} });
  await svc.start(id);
  await assert.rejects(svc.remove(id), (e) => isConflict(e));
  const removed = svc.wait(id, 'removed');
  let openGate = (): void => {};
  removeGate = new Promise<void>((resolve) => (openGate = resolve));
  await svc.remove(id, { force: true });
  assert.equal((await removed).exitCode, 137);
  // gone from the API at once, name free; the disk is reclaimed in the background
  assert.throws(() => svc.get(id), (e) => isNotFound(e));
  assert.deepEqual(svc.list({ all: true }), []);
  const again = await svc.create({ name: 'web', image: 'busybox', host: {} });
  await svc.remove(again.id);
  assert.equal(new ContainerTable<ContainerRecord>(db).list().length, 2, 'both removals still in flight');
  openGate();
  removeGate = Promise.resolve();
  await svc.drain();
  assert.deepEqual(released, ['layer1', 'layer1']);
  assert.deepEqual(await readdir(join(dir, 'containers')), []);
  assert.deepEqual(new ContainerTable<ContainerRecord>(db).list(), []);
});

test('a removal the daemon did not finish (tombstone in the store) is finished at the next start, and never listed', async () => {
  const { id } = await svc.create({ name: 'doomed', image: 'busybox', cmd: ['true'], host: {} });
  const store = new ContainerTable<ContainerRecord>(db);
  const rec = store.list().find((r) => r.id === id)!;
  store.put({ ...rec, state: { ...rec.state, status: 'removing' } });
  svc.close();
  svc = makeService();
  assert.throws(() => svc.get('doomed'), (e) => isNotFound(e));
  await svc.restore();
  await svc.drain();
  assert.deepEqual(released, ['layer1']);
  assert.deepEqual(await readdir(join(dir, 'containers')), []);
  assert.deepEqual(store.list(), []);
  // the name is free again
  await svc.create({ name: 'doomed', image: 'busybox', host: {} });
});

test('a --rm container that exited while the daemon was down is removed at the next start', async () => {
  const { id } = await svc.create({ image: 'busybox', cmd: ['true'], host: { autoRemove: true } });
  const store = new ContainerTable<ContainerRecord>(db);
  const rec = store.list().find((r) => r.id === id)!;
  store.put({ ...rec, state: { ...rec.state, status: 'exited', finishedAt: new Date().toISOString() } });
  svc.close();
  svc = makeService();
  await svc.restore();
  assert.throws(() => svc.get(id), (e) => isNotFound(e));
  await svc.drain();
  assert.deepEqual(store.list(), []);
});

test('auto-remove: the container goes after it exits, and after a failed start', async () => {
  const a = await svc.create({ image: 'busybox', cmd: ['true'], host: { autoRemove: true } });
  const gone = svc.wait(a.id, 'removed');
  await svc.start(a.id);
  assert.equal((await gone).exitCode, 0);
  const b = await svc.create({ image: 'busybox', cmd: ['nosuchcmd'], host: { autoRemove: true } });
  const goneB = svc.wait(b.id, 'removed');
  await svc.start(b.id).catch(() => {});
  assert.equal((await goneB).exitCode, 127);
});

test('list: running only by default, filters by status, label, name; bad filters are 400', async () => {
  const r = await svc.create({ name: 'running1', image: 'busybox', cmd: ['sleep', '100'], labels: { app: 'x' }, host: {} });
  await svc.start(r.id);
  await svc.create({ name: 'created1', image: 'busybox', host: {} });
  assert.deepEqual(svc.list().map((c) => c.name), ['running1']);
  assert.deepEqual(svc.list({ all: true }).map((c) => c.name).sort(), ['created1', 'running1']);
  assert.deepEqual(svc.list({ filters: new Map([['status', ['created']]]) }).map((c) => c.name), ['created1']);
  assert.deepEqual(svc.list({ all: true, filters: new Map([['label', ['app=x']]]) }).map((c) => c.name), ['running1']);
  assert.deepEqual(svc.list({ all: true, filters: new Map([['name', ['created']]]) }).map((c) => c.name), ['created1']);
  assert.throws(() => svc.list({ filters: new Map([['bogus', ['1']]]) }), (e) => isInvalidParameter(e));
  assert.throws(() => svc.list({ filters: new Map([['status', ['sleepy']]]) }), (e) => isInvalidParameter(e));
  await svc.remove(r.id, { force: true });
});

test('state survives a new service over the same store (daemon restart)', async () => {
  const { id } = await svc.create({ name: 'keep', image: 'busybox', cmd: ['sleep', '100'], host: {} });
  await svc.start(id);
  svc.close();
  svc = makeService();
  await svc.restore();
  assert.equal(svc.get('keep').state.status, 'running');
  await svc.remove('keep', { force: true });
});

test('stats come from the runtime: a running container has the runtime\'s sample, a stopped one host counters only', async () => {
  const { id } = await svc.create({ image: 'busybox', cmd: ['sleep', '100'], host: {} });
  const before = await svc.stats(id);
  assert.equal(before.sample, undefined);
  assert.equal(before.onlineCpus, 2);
  await svc.start(id);
  runtime.setStats(id, { memoryUsage: 4096, pidsCurrent: 3 });
  const s = await svc.stats(id);
  assert.equal(s.sample?.memoryUsage, 4096);
  assert.equal(s.sample?.pidsCurrent, 3);
  assert.ok(s.systemCpu > before.systemCpu);
  assert.ok(s.at instanceof Date);
  await svc.remove(id, { force: true });
});

test('restart policy on-failure:2 restarts a failing container twice, then leaves it exited', async () => {
  const { id } = await svc.create({ image: 'busybox', cmd: ['false'], host: { restartPolicy: { name: 'on-failure', maximumRetryCount: 2 } } });
  await svc.start(id);
  for (let i = 0; i < 200 && !(svc.get(id).restartCount === 2 && svc.get(id).state.status === 'exited'); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(svc.get(id).restartCount, 2);
  assert.equal(svc.get(id).state.status, 'exited');
  assert.equal(svc.get(id).state.exitCode, 1);
});

test('create writes hosts and resolv.conf in the network\'s format (network/etc-files.ts)', async () => {
  const { id } = await svc.create({ image: 'busybox', host: { extraHosts: ['db:10.1.2.3'], dns: ['192.0.2.53'], dnsSearch: ['example.org'] } });
  const hosts = await svc.readContainerFile(id, 'hosts');
  assert.match(hosts, /^127\.0\.0\.1\tlocalhost\n/);
  assert.match(hosts, /\n10\.1\.2\.3\tdb\n$/);
  assert.equal(await svc.readContainerFile(id, 'resolv.conf'), 'nameserver 192.0.2.53\nsearch example.org\n');
  assert.equal(await svc.readContainerFile(id, 'hostname'), `${id.slice(0, 12)}\n`);
});
