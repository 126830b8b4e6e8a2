import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openDatabase, type Db } from '../store/db.js';
import { SpawnRunner } from '../common/command-runner.js';
import { ImageInUseError, NoSuchImageError, InvalidParameterError, isNotFound } from '../common/errors.js';
import { sha256Digest } from '../oci/digest.js';
import { goArch } from '../oci/platform.js';
import { ImageService } from './image-service.js';
import { makeTar, requireRoot } from './_test-helpers.js';

let root: string;
let db: Db;
let svc: ImageService;
let rootfs: Buffer;

before(async () => {
  requireRoot();
  root = await mkdtemp(join(tmpdir(), 'berth-images-'));
  db = openDatabase(':memory:');
  svc = new ImageService({ root, db, runner: new SpawnRunner(), dockerVersion: '0.1.0-berth' });
  await svc.init();
  rootfs = await makeTar([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', body: 'x'.repeat(1000), mode: 0o755 },
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', body: 'root:x:0:0:root:/root:/bin/sh\n' },
  ]);
});
after(async () => {
  db?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

test('import builds an OCI config like docker import, whose digest is the image ID', async () => {
  const id = await svc.importImage(Readable.from([rootfs]), { repoTag: 'busybox', changes: ['CMD echo hi', 'ENV A=1', 'EXPOSE 80'] });
  const blob = await readFile(join(root, 'blobs', 'sha256', id.slice(7)));
  assert.equal(sha256Digest(blob), id);
  const config = await svc.config(id);
  assert.equal(config.architecture, goArch());
  assert.equal(config.os, 'linux');
  assert.equal(config.comment, 'Imported from -');
  assert.equal(config.docker_version, '0.1.0-berth');
  assert.deepEqual(config.rootfs, { type: 'layers', diff_ids: [sha256Digest(rootfs)] });
  assert.equal(config.history?.length, 1);
  assert.equal(config.history?.[0]?.comment, 'Imported from -');
  assert.ok(Math.abs(Date.parse(config.created!) - Date.now()) < 60_000);
  assert.deepEqual(config.config?.Cmd, ['/bin/sh', '-c', 'echo hi']);
  assert.deepEqual(config.config?.Env, ['A=1']);
  assert.deepEqual(config.config?.ExposedPorts, { '80/tcp': {} });

  const [summary] = (await svc.list()).filter((s) => s.id === id);
  assert.deepEqual(summary!.repoTags, ['busybox:latest']);
  assert.equal(summary!.size, 1000 + 30);
  assert.equal(svc.size(id), 1000 + 30);
  const lower = svc.lowerDirs(id);
  assert.equal(lower.length, 1);
  assert.equal(await readFile(join(lower[0]!, 'etc/passwd'), 'utf8'), 'root:x:0:0:root:/root:/bin/sh\n');
});

test('resolves by name, tag, full ID, short ID and sha256: prefix; unknown is No such image', async () => {
  const id = svc.resolve('busybox').id;
  for (const ref of ['busybox:latest', 'docker.io/library/busybox', id, id.slice(7), id.slice(7, 19), id.slice(0, 19)]) {
    assert.equal(svc.resolve(ref).id, id, ref);
  }
  assert.throws(() => svc.resolve('nosuch:1'), (e: unknown) => e instanceof NoSuchImageError && (e as Error).message === 'No such image: nosuch:1');
  assert.throws(() => svc.resolve('busybox:other'), NoSuchImageError);
  assert.throws(() => svc.resolve('Bad:Name'), InvalidParameterError);
  await assert.rejects(svc.importImage(Readable.from([rootfs]), { repoTag: 'UPPER' }), /must be lowercase/);
  await assert.rejects(svc.importImage(Readable.from([rootfs]), { changes: ['RUN x'] }), /run is not a valid change command/);
});

test('the same rootfs imported twice shares one layer; removal keeps it until the last image goes', async () => {
  const a = svc.resolve('busybox').id;
  const b = await svc.importImage(Readable.from([rootfs]), { repoTag: 'localhost:5000/a/b:v1', message: 'second' });
  assert.notEqual(a, b);
  const chain = svc.get(a)!.chainIds[0]!;
  assert.equal(svc.get(b)!.chainIds[0], chain);
  assert.equal(svc.layers.get(chain)!.refs, 2);
  assert.equal((await svc.config(b)).history?.[0]?.comment, 'second');
  assert.deepEqual((await svc.list()).find((s) => s.id === b)!.repoTags, ['localhost:5000/a/b:v1']);

  assert.deepEqual(await svc.remove('localhost:5000/a/b:v1'), [{ Untagged: 'localhost:5000/a/b:v1' }, { Deleted: b }]);
  assert.equal(svc.layers.get(chain)!.refs, 1);
  assert.ok(await stat(svc.layers.diffDir(chain)));
});

test('tag and untag: removing one of two tags only untags', async () => {
  const id = svc.resolve('busybox').id;
  svc.tag('busybox', 'mine:v2');
  assert.equal(svc.resolve('mine:v2').id, id);
  assert.throws(() => svc.tag('busybox', `x@sha256:${'a'.repeat(64)}`), /refusing to create a tag with a digest reference/);
  assert.deepEqual(await svc.remove('mine:v2'), [{ Untagged: 'mine:v2' }]);
  assert.equal(svc.resolve('busybox').id, id);
  const history = await svc.history('busybox');
  assert.equal(history.length, 1);
  assert.equal(history[0]!.id, id);
  assert.deepEqual(history[0]!.tags, ['busybox:latest']);
  assert.equal(history[0]!.comment, 'Imported from -');
  assert.equal(history[0]!.size, 1030);
});

test('an image used by a container is a conflict, with Docker\'s messages', async () => {
  const id = svc.resolve('busybox').id;
  const cid = 'c'.repeat(64);
  const stopped = () => ({ id: cid, running: false });
  const running = () => ({ id: cid, running: true });
  await assert.rejects(svc.remove('busybox', { isInUse: stopped }), (e: unknown) => {
    assert.ok(e instanceof ImageInUseError);
    assert.equal((e as Error).message, `conflict: unable to remove repository reference "busybox" (must force) - container cccccccccccc is using its referenced image ${id.slice(7, 19)}`);
    return true;
  });
  await assert.rejects(svc.remove(id.slice(7, 19), { isInUse: stopped }), {
    message: `conflict: unable to delete ${id.slice(7, 19)} (must be forced) - image is being used by stopped container cccccccccccc`,
  });
  await assert.rejects(svc.remove(id, { isInUse: running, force: true }), {
    message: `conflict: unable to delete ${id.slice(7, 19)} (cannot be forced) - image is being used by running container cccccccccccc`,
  });
  assert.equal(svc.resolve('busybox').id, id);
});

test('a container holding layers keeps them through a forced image removal', async () => {
  const id = svc.resolve('busybox').id;
  const chain = svc.get(id)!.chainIds[0]!;
  const held = svc.acquireLayers(id);
  const items = await svc.remove('busybox', { force: true, isInUse: () => ({ id: 'd'.repeat(64), running: false }) });
  assert.deepEqual(items, [{ Untagged: 'busybox:latest' }, { Deleted: id }]);
  assert.throws(() => svc.resolve(id), NoSuchImageError);
  assert.ok(await stat(svc.layers.diffDir(chain)));
  await svc.releaseLayers(held);
  assert.equal(svc.layers.get(chain), undefined);
  await assert.rejects(stat(join(root, 'layers', chain.slice(7))), { code: 'ENOENT' });
  await assert.rejects(svc.config(id), (e: unknown) => isNotFound(e));
});

test('removing by ID untags every tag and reports the deleted layer', async () => {
  const id = await svc.importImage(Readable.from([rootfs]), { repoTag: 'one:1' });
  svc.tag(id, 'two:2');
  await assert.rejects(svc.remove(id.slice(7, 19)), /must be forced\) - image is referenced in multiple repositories/);
  const chain = svc.get(id)!.chainIds[0]!;
  const items = await svc.remove(id.slice(7, 19), { force: true });
  assert.deepEqual(items, [{ Untagged: 'one:1' }, { Untagged: 'two:2' }, { Deleted: id }, { Deleted: chain }]);
  assert.deepEqual(await svc.list(), []);
});

test('parent chains: intermediate images hidden from the default list, pruned with their child, with Docker\'s events', async () => {
  const events: string[] = [];
  const root2 = await mkdtemp(join(tmpdir(), 'berth-images-chain-'));
  const db2 = openDatabase(':memory:');
  try {
    const s = new ImageService({
      root: root2, db: db2, runner: new SpawnRunner(),
      events: { publish: (type, action, id, attrs) => events.push(`${type} ${action} ${id} ${attrs?.['name'] ?? ''}${attrs?.['k'] ? ` k=${attrs['k']}` : ''}`) },
    });
    await s.init();
    const base = await s.importImage(Readable.from([rootfs]), { repoTag: 'base' });
    assert.deepEqual(events, [`image tag ${base} base:latest`, `image import ${base} ${base}`]);
    const step1 = await s.createImage({ parent: base, layer: Readable.from([await makeTar([{ name: 'one', body: '1' }])]), config: {}, history: { created_by: 'RUN one' } });
    const step2 = await s.createImage({ parent: step1, config: { Labels: { k: 'v' } }, history: { created_by: 'LABEL k=v' } });
    s.tag(step2, 'app:1');
    assert.equal(events.at(-1), `image tag ${step2} app:1 k=v`);
    const ids = async (hide: boolean): Promise<string[]> => (await s.list({ hideIntermediate: hide })).map((i) => i.id).sort();
    assert.deepEqual(await ids(true), [base, step2].sort(), 'the untagged step1 is an intermediate image');
    assert.deepEqual(await ids(false), [base, step1, step2].sort());
    await assert.rejects(s.remove(step1), (e: unknown) => e instanceof ImageInUseError && /unable to delete [a-f0-9]{12} \(cannot be forced\) - image has dependent child images/.test((e as Error).message));
    // A second child of step1 keeps it when step2 goes.
    const other = await s.createImage({ parent: step1, config: { Env: ['X=1'] }, history: { created_by: 'ENV X=1' } });
    events.length = 0;
    assert.deepEqual(await s.remove('app:1'), [{ Untagged: 'app:1' }, { Deleted: step2 }]);
    assert.deepEqual(events, [`image untag ${step2} ${step2} k=v`, `image delete ${step2} ${step2}`]);
    // noprune keeps the chain; without it, step1 (and its layer) goes, the tagged base stays.
    assert.deepEqual(await s.remove(other, { noprune: true }), [{ Deleted: other }]);
    assert.ok(s.get(step1));
    const again = await s.createImage({ parent: step1, config: { Env: ['X=2'] }, history: { created_by: 'ENV X=2' } });
    // A container using step1 keeps it too.
    assert.deepEqual(await s.remove(again, { isInUse: (id) => id === step1 }), [{ Deleted: again }]);
    events.length = 0;
    const layer1 = s.get(step1)!.chainIds.at(-1)!;
    const again2 = await s.createImage({ parent: step1, config: { Env: ['X=3'] }, history: { created_by: 'ENV X=3' } });
    assert.deepEqual(await s.remove(again2), [{ Deleted: again2 }, { Deleted: step1 }, { Deleted: layer1 }]);
    assert.deepEqual(events.slice(-2), [`image delete ${again2} ${again2}`, `image delete ${step1} ${step1}`]);
    assert.ok(s.get(base));
    assert.deepEqual(await ids(false), [base]);
  } finally {
    db2.close();
    await rm(root2, { recursive: true, force: true });
  }
});
