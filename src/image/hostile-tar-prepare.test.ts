// The same hostile archives as hostile-tar.test.ts, through the one-pass unpack of a pull
// (LayerStore.prepare), which feeds GNU tar while it checks: each archive is given whole and
// cut in 512-, 100- and 7-byte pieces (headers split across chunks) and plain and gzipped.
// Every one must be refused with nothing written outside the layer store's private dir, and
// nothing left behind.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, mkdir, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { openDatabase, type Db } from '../store/db.js';
import { LayerTable } from '../store/images.js';
import { SpawnRunner } from '../common/command-runner.js';
import { InvalidTarError, DigestMismatchError } from '../common/errors.js';
import { LayerStore, type LayerRecord } from './layer-store.js';
import { unpackChecked } from './layer-unpack.js';
import { sha256Digest } from '../oci/digest.js';
import { makeTar, requireRoot, type TarEntry } from './_test-helpers.js';

let top: string;
let root: string;
let victim: string;
let db: Db;
let store: LayerStore;

before(async () => {
  requireRoot();
  top = await mkdtemp(join(tmpdir(), 'berth-hostile-prepare-'));
  root = join(top, 'data');
  victim = join(top, 'victim');
  db = openDatabase(':memory:');
  store = new LayerStore(root, new LayerTable<LayerRecord>(db), new SpawnRunner());
  await mkdir(root);
  await store.init();
});
after(async () => {
  db?.close();
  if (top) await rm(top, { recursive: true, force: true });
});
beforeEach(async () => {
  await rm(victim, { recursive: true, force: true });
  await mkdir(victim);
  await writeFile(join(victim, 'secret'), 'original');
});

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) out.push(relative(dir, join(e.parentPath ?? e.path, e.name)));
  return out.sort();
}

function pieces(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

async function assertRefused(entries: TarEntry[], message: RegExp, kind: typeof InvalidTarError | typeof DigestMismatchError = InvalidTarError, options = {}): Promise<void> {
  const tarball = await makeTar(entries);
  for (const data of [tarball, gzipSync(tarball)]) {
    for (const size of [data.length, 512, 100, 7]) {
      const before = await tree(top);
      await assert.rejects(store.prepare(Readable.from(pieces(data, size)), options), (e: unknown) => {
        assert.ok(e instanceof kind, `expected ${kind.name}, got ${String(e)}`);
        assert.match((e as Error).message, message);
        return true;
      });
      assert.deepEqual(await tree(top), before, `chunks of ${size}: the data root and host must be untouched`);
      assert.equal(await readFile(join(victim, 'secret'), 'utf8'), 'original');
      assert.deepEqual(await readdir(victim), ['secret']);
      assert.deepEqual(store.list(), []);
    }
  }
}

test('prepare: dot-dot entries are refused', async () => {
  await assertRefused([{ name: 'ok', body: 'fine' }, { name: '../escape', body: 'x' }], /contains "\.\."/);
});

test('prepare: a write through a symlink of the same archive is refused', async () => {
  await assertRefused([{ name: 'etc', type: 'symlink', linkname: victim }, { name: 'etc/secret', body: 'pwned' }], /would be written through symlink "etc"/);
  await assertRefused([{ name: 'd', type: 'symlink', linkname: victim }, { name: 'd/', type: 'directory' }, { name: 'd/secret', body: 'pwned' }], /replaces a symlink/);
});

test('prepare: hardlink escapes and devices outside /dev are refused', async () => {
  await assertRefused([{ name: 's', type: 'symlink', linkname: victim }, { name: 'h', type: 'link', linkname: 's/secret' }], /would be written through symlink "s"/);
  await assertRefused([{ name: 'h', type: 'link', linkname: join(victim, 'secret') }], /not an earlier entry/);
  await assertRefused([{ name: 'disk', type: 'block-device', devmajor: 8, devminor: 0 }], /device node "disk" outside \/dev/);
});

test('prepare: a wrong diffID is refused and nothing stays', async () => {
  await assertRefused([{ name: 'f', body: 'content' }], /layer diffID mismatch/, DigestMismatchError, { expectedDiffId: sha256Digest('not this layer') });
});

test('prepare: a good layer split in tiny chunks unpacks whole and commits once', async () => {
  const tarball = await makeTar([{ name: 'a/', type: 'directory' }, { name: 'a/f', body: 'x'.repeat(3000) }, { name: 'a/l', type: 'symlink', linkname: '/etc/passwd' }]);
  const p = await store.prepare(Readable.from(pieces(gzipSync(tarball), 7)), { expectedDiffId: sha256Digest(tarball) });
  await store.sync();
  const rec = await p.commit(undefined, 'lease-1');
  assert.deepEqual(rec.leases, ['lease-1']);
  assert.equal(await readFile(join(store.diffDir(rec.chainId), 'a', 'f'), 'utf8'), 'x'.repeat(3000));
  store.endLease('lease-1', [rec.chainId]);
  assert.equal(store.get(rec.chainId)?.leases, undefined);
  assert.equal(store.get(rec.chainId)?.refs, 1);
  // A lease left by a crash is rolled back by init.
  store.acquire(rec.chainId, 'lease-2');
  await store.init();
  assert.equal(store.get(rec.chainId)?.refs, 1);
  assert.equal(await store.release(rec.chainId), true);
  assert.deepEqual(store.list(), []);
});

test('prepare: nothing of a refused entry is written, whatever the chunking; checked entries before it are', async () => {
  const tarball = await makeTar([
    { name: 'etc', type: 'symlink', linkname: victim },
    { name: 'pad', body: 'p'.repeat(2048) },
    { name: 'etc/secret-through-link', body: 'pwned' },
    { name: 'after', body: 'never' },
  ]);
  for (const size of [tarball.length, 512, 100, 7]) {
    const dest = join(top, `dest-${size}`);
    await mkdir(dest);
    await assert.rejects(unpackChecked(Readable.from(pieces(tarball, size)), dest), /would be written through symlink "etc"/);
    const names = (await readdir(dest)).sort();
    // The symlink and the padding came first and were checked; nothing after the refusal.
    assert.ok(names.every((n) => n === 'etc' || n === 'pad'), `chunks of ${size}: ${names.join(', ')}`);
    assert.deepEqual(await readdir(victim), ['secret']);
    await rm(dest, { recursive: true });
  }
});
