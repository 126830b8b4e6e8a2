import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ContentStore, BlobNotFoundError } from './content-store.js';
import { sha256Digest } from '../oci/digest.js';
import { DigestMismatchError } from '../common/errors.js';

let root: string;
let store: ContentStore;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'berth-content-'));
  store = new ContentStore(root);
  await store.init();
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('ingests a stream, stores it under blobs/sha256/<hex> and reads it back', async () => {
  const data = Buffer.alloc(300_000, 7);
  const info = await store.ingest(Readable.from([data.subarray(0, 1000), data.subarray(1000)]));
  assert.equal(info.digest, sha256Digest(data));
  assert.equal(info.size, data.length);
  assert.equal(store.path(info.digest), join(root, 'blobs', 'sha256', info.digest.slice(7)));
  assert.deepEqual(await store.read(info.digest), data);
  assert.deepEqual(await store.info(info.digest), info);
  assert.deepEqual(await readdir(join(root, 'ingest')), []);
});

test('an existing digest is success', async () => {
  const a = await store.put('hello');
  const b = await store.put('hello', { expected: a.digest });
  const c = await store.ingest(Readable.from([Buffer.from('hello')]), { expected: a.digest });
  assert.deepEqual(a, b);
  assert.deepEqual(a, c);
  assert.ok((await store.list()).includes(a.digest));
});

test('a wrong expected digest or size fails and leaves nothing behind', async () => {
  const wrong = sha256Digest('something else');
  await assert.rejects(store.ingest(Readable.from([Buffer.from('payload')]), { expected: wrong }), DigestMismatchError);
  await assert.rejects(store.put('payload', { expected: wrong }), DigestMismatchError);
  await assert.rejects(store.put('payload', { expectedSize: 3 }), DigestMismatchError);
  assert.equal(await store.info(sha256Digest('payload')), undefined);
  assert.equal(await store.info(wrong), undefined);
  assert.deepEqual(await readdir(join(root, 'ingest')), []);
});

test('a failing source stream leaves nothing behind', async () => {
  const src = new Readable({
    read() {
      this.destroy(new Error('connection reset'));
    },
  });
  await assert.rejects(store.ingest(src), /connection reset/);
  assert.deepEqual(await readdir(join(root, 'ingest')), []);
});

test('missing blobs and bad digests are reported', async () => {
  await assert.rejects(store.read(sha256Digest('nope')), BlobNotFoundError);
  assert.throws(() => store.path('sha256:../../etc/passwd'), /invalid digest format/);
  await store.delete(sha256Digest('nope'));
});
