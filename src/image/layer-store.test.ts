import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, lstat, readlink, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openDatabase, type Db } from '../store/db.js';
import { LayerTable } from '../store/images.js';
import { SpawnRunner } from '../common/command-runner.js';
import { LayerStore, layerChainId, type LayerRecord } from './layer-store.js';
import { sha256Digest } from '../oci/digest.js';
import { makeTar, requireRoot } from './_test-helpers.js';

let root: string;
let db: Db;
let store: LayerStore;
const runner = new SpawnRunner();

before(async () => {
  requireRoot();
  root = await mkdtemp(join(tmpdir(), 'berth-layers-'));
  db = openDatabase(':memory:');
  store = new LayerStore(root, new LayerTable<LayerRecord>(db), runner);
  await store.init();
});
after(async () => {
  db?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

const base = () =>
  makeTar([
    { name: './', type: 'directory' },
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', body: 'ELF...', mode: 0o755 },
    { name: 'bin/sh', type: 'link', linkname: 'bin/busybox' },
    { name: 'bin/ls', type: 'symlink', linkname: '/bin/busybox' },
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', body: 'root:x:0:0::/root:/bin/sh\n' },
    { name: 'etc/shadow', body: 'secret', mode: 0o600, uid: 0, gid: 42 },
    { name: 'home/user/', type: 'directory', uid: 1000, gid: 1000 },
    { name: 'home/user/file', body: 'x', uid: 1000, gid: 1000, pax: { 'SCHILY.xattr.user.note': 'hello' } },
    { name: 'dev/', type: 'directory' },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'old/', type: 'directory' },
    { name: 'old/keep', body: 'k' },
  ]);

test('unpacks a layer once, with owners, modes, hardlinks, symlinks, devices and xattrs', async () => {
  const tar = await base();
  const rec = await store.register(Readable.from([tar]));
  assert.equal(rec.diffId, sha256Digest(tar));
  assert.equal(rec.chainId, rec.diffId);
  assert.equal(rec.refs, 1);
  const diff = store.diffDir(rec.chainId);
  assert.equal(diff, join(root, 'layers', rec.chainId.slice(7), 'diff'));
  assert.equal(await readFile(join(diff, 'etc/passwd'), 'utf8'), 'root:x:0:0::/root:/bin/sh\n');
  const shadow = await stat(join(diff, 'etc/shadow'));
  assert.equal(shadow.mode & 0o777, 0o600);
  assert.equal(shadow.gid, 42);
  assert.equal((await stat(join(diff, 'home/user/file'))).uid, 1000);
  assert.equal((await stat(join(diff, 'bin/sh'))).ino, (await stat(join(diff, 'bin/busybox'))).ino);
  assert.equal(await readlink(join(diff, 'bin/ls')), '/bin/busybox');
  const dev = await lstat(join(diff, 'dev/null'));
  assert.ok(dev.isCharacterDevice());
  assert.equal((await stat(join(diff, 'tmp'))).mode & 0o7777, 0o1777);
  const note = await runner.run(['getfattr', '--only-values', '-n', 'user.note', join(diff, 'home/user/file')], { check: false });
  // tmpfs before Linux 6.6 has no user.* xattrs; where the attribute could be stored, it must be right.
  if (note.code === 0) assert.equal(note.stdout, 'hello');
  assert.equal(rec.size, 'ELF...'.length + '/bin/busybox'.length + 26 + 6 + 1 + 1);

  const again = await store.register(Readable.from([await base()]));
  assert.equal(again.chainId, rec.chainId);
  assert.equal(again.refs, 2);
  assert.deepEqual((await readdir(join(root, 'layers'))).sort(), ['.ingest', rec.chainId.slice(7)].sort());
  assert.deepEqual(await readdir(join(root, 'layers', '.ingest')), []);
});

test('gzip layers are detected by magic and give the diffID of the uncompressed tar', async () => {
  const plain = await makeTar([{ name: 'gz/', type: 'directory' }, { name: 'gz/a', body: 'zipped' }]);
  const gz = await makeTar([{ name: 'gz/', type: 'directory' }, { name: 'gz/a', body: 'zipped' }], { gzip: true });
  const rec = await store.register(Readable.from([gz]));
  assert.equal(rec.diffId, sha256Digest(plain));
  assert.equal(await readFile(join(store.diffDir(rec.chainId), 'gz/a'), 'utf8'), 'zipped');
  assert.equal(await store.release(rec.chainId), true);
});

test('converts AUFS whiteouts into overlay whiteouts on a child layer', async () => {
  const parent = (await store.list()).find((l) => !l.parent)!;
  const dirWhiteout = await makeTar([{ name: '.wh.etc', type: 'directory' }]);
  await assert.rejects(store.register(Readable.from([dirWhiteout]), { parent: parent.chainId }), /whiteout ".wh.etc" must be a regular file/);
  const good = await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/.wh.shadow' },
    { name: 'old/', type: 'directory' },
    { name: 'old/.wh..wh..opq' },
    { name: 'old/new', body: 'n' },
    { name: 'bin/.wh.ls' },
    { name: 'bin/ls', body: 'replaced in the same layer' },
    { name: '.wh..wh.aufs' },
  ]);
  const rec = await store.register(Readable.from([good]), { parent: parent.chainId });
  assert.equal(rec.parent, parent.chainId);
  assert.equal(rec.chainId, layerChainId(parent.chainId, sha256Digest(good)));
  const diff = store.diffDir(rec.chainId);
  const wh = await lstat(join(diff, 'etc/shadow'));
  assert.ok(wh.isCharacterDevice());
  assert.equal(wh.rdev, 0);
  await assert.rejects(lstat(join(diff, 'etc/.wh.shadow')), { code: 'ENOENT' });
  const opq = await runner.run(['getfattr', '--only-values', '-n', 'trusted.overlay.opaque', join(diff, 'old')]);
  assert.equal(opq.stdout, 'y');
  assert.deepEqual(await readdir(join(diff, 'old')), ['new']);
  assert.equal(await readFile(join(diff, 'bin/ls'), 'utf8'), 'replaced in the same layer');
  assert.deepEqual((await readdir(join(diff, 'bin'))).sort(), ['ls']);
  assert.deepEqual((await readdir(diff)).sort(), ['bin', 'etc', 'old']);
  await store.release(rec.chainId);
});

test('removes a layer only when the last reference is released', async () => {
  const tar = await makeTar([{ name: 'only/', type: 'directory' }, { name: 'only/x', body: 'x' }]);
  const a = await store.register(Readable.from([tar]));
  store.acquire(a.chainId);
  assert.equal(await store.release(a.chainId), false);
  assert.ok(await stat(store.diffDir(a.chainId)));
  assert.equal(await store.release(a.chainId), true);
  await assert.rejects(stat(join(root, 'layers', a.chainId.slice(7))), { code: 'ENOENT' });
  assert.equal(store.get(a.chainId), undefined);
  assert.equal(await store.release(a.chainId), false);
});

test('concurrent registrations of the same layer unpack it once', async () => {
  const tar = await makeTar([{ name: 'race/', type: 'directory' }, { name: 'race/x', body: 'x'.repeat(100_000) }]);
  const recs = await Promise.all([1, 2, 3].map(() => store.register(Readable.from([tar]))));
  assert.equal(new Set(recs.map((r) => r.chainId)).size, 1);
  assert.equal(store.get(recs[0]!.chainId)!.refs, 3);
  for (let i = 0; i < 3; i++) await store.release(recs[0]!.chainId);
  assert.equal(store.get(recs[0]!.chainId), undefined);
});

test('init drops orphan layer dirs and in-flight unpacks', async () => {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(root, 'layers', 'f'.repeat(64), 'diff'), { recursive: true });
  await mkdir(join(root, 'layers', '.ingest', 'leftover'), { recursive: true });
  await store.init();
  await assert.rejects(stat(join(root, 'layers', 'f'.repeat(64))), { code: 'ENOENT' });
  assert.deepEqual(await readdir(join(root, 'layers', '.ingest')), []);
  assert.ok(store.list().length >= 1);
});
