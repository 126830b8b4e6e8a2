// The layer unpack in a worker thread (layer-unpack.ts unpackInWorker): results, refusals,
// a failing input, an abort, and a worker reused after a refused layer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { InvalidTarError } from '../common/errors.js';
import { unpackInWorker } from './layer-unpack.js';
import { makeTar, requireRoot } from './_test-helpers.js';

let top: string;
let n = 0;
before(async () => {
  requireRoot();
  top = await mkdtemp(join(tmpdir(), 'berth-unpack-worker-'));
});
after(async () => {
  if (top) await rm(top, { recursive: true, force: true });
});

async function freshDir(): Promise<string> {
  const d = join(top, `d${n++}`);
  await mkdir(d);
  return d;
}

function* pieces(buf: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

test('unpackInWorker: files land in dest, diffID of the uncompressed stream, content size', async () => {
  const big = Buffer.alloc(3 << 20, 7); // more than one batch and more than the window's worth of pieces
  const tarball = await makeTar([{ name: 'a/', type: 'directory' }, { name: 'a/big', body: big }, { name: 'a/.wh.gone', body: '' }, { name: 'l', type: 'symlink', linkname: '/etc' }]);
  for (const data of [tarball, gzipSync(tarball)]) {
    const dest = await freshDir();
    const r = await unpackInWorker(Readable.from(pieces(data, 65536)), dest);
    assert.equal(r.diffId, sha(tarball));
    assert.equal(r.size, big.length + '/etc'.length);
    assert.equal(r.entries, 4);
    assert.deepEqual(r.plan.whiteouts, ['a/.wh.gone']);
    assert.equal((await stat(join(dest, 'a/big'))).size, big.length);
    assert.ok((await readFile(join(dest, 'a/big'))).equals(big));
  }
});

test('unpackInWorker: a refused archive is an InvalidTarError, and the same worker then unpacks the next layer', async () => {
  const bad = await makeTar([{ name: 'etc', type: 'symlink', linkname: '/etc' }, { name: 'etc/passwd', body: 'x' }, { name: 'pad', body: Buffer.alloc(2 << 20) }]);
  const dest = await freshDir();
  await assert.rejects(unpackInWorker(Readable.from(pieces(bad, 512)), dest), (e: unknown) => e instanceof InvalidTarError && /through symlink "etc"/.test((e as Error).message));
  // Whether tar got the symlink's chunk depends on batching; nothing was written through it.
  assert.ok((await readdir(dest)).every((x) => x === 'etc'));
  const good = await makeTar([{ name: 'ok', body: 'fine' }]);
  const dest2 = await freshDir();
  const r = await unpackInWorker(Readable.from(pieces(good, 100)), dest2);
  assert.equal(r.diffId, sha(good));
  assert.equal(await readFile(join(dest2, 'ok'), 'utf8'), 'fine');
});

test('unpackInWorker: an input that fails mid-way rejects with its error once tar has ended', async () => {
  const tarball = await makeTar([{ name: 'f', body: Buffer.alloc(1 << 20, 1) }]);
  async function* broken(): AsyncGenerator<Buffer> {
    yield tarball.subarray(0, 4096);
    throw new Error('connection reset');
  }
  await assert.rejects(unpackInWorker(broken(), await freshDir()), /connection reset/);
});

test('unpackInWorker: an abort ends the unpack with the abort reason', async () => {
  const tarball = await makeTar([{ name: 'f', body: Buffer.alloc(1 << 20, 1) }]);
  const ac = new AbortController();
  async function* stalls(): AsyncGenerator<Buffer> {
    yield tarball.subarray(0, 4096);
    setTimeout(() => ac.abort(new Error('client went away')), 50);
    await new Promise((r) => setTimeout(r, 200));
    yield tarball.subarray(4096);
  }
  await assert.rejects(unpackInWorker(stalls(), await freshDir(), ac.signal), /client went away/);
});
