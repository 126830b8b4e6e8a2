import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { receiveContext, cleanPath, globToRegExp, OutsideContextError, BuildContext, ContextBlobCache, MissingContextBlobError } from './build-context.js';
import { InvalidTarError } from '../common/errors.js';

const tmp = await mkdtemp(join(tmpdir(), 'berth-ctx-test-'));
after(() => rm(tmp, { recursive: true, force: true }));

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; content?: string; linkname?: string; mode?: number };

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    pack.entry({ name: e.name, type: e.type ?? 'file', mode: e.mode ?? 0o644, ...(e.linkname ? { linkname: e.linkname } : {}) }, e.content ?? '');
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function ctxOf(entries: Entry[], gzip = false): Promise<BuildContext> {
  const buf = await tarOf(entries);
  return receiveContext(Readable.from([gzip ? gzipSync(buf) : buf]), { tmp });
}

test('indexes files with digests, keeps small contexts in memory, reads plain and gzip tars', async () => {
  for (const gz of [false, true]) {
    const ctx = await ctxOf([{ name: 'Dockerfile', content: 'FROM x\n' }, { name: 'src/a.txt', content: 'a', mode: 0o755 }], gz);
    assert.equal((await ctx.readFile('Dockerfile'))!.toString(), 'FROM x\n');
    const a = ctx.entries.get('src/a.txt')!;
    assert.equal(a.mode, 0o755);
    assert.equal(a.digest, 'ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb');
    assert.equal(ctx.entries.get('src')!.type, 'dir', 'implicit parent');
    assert.deepEqual(await readdir(ctx.root).catch(() => []), [], 'nothing written to disk for a small context');
    assert.equal(existsSync(ctx.root), false, 'not even the spill directory');
    await ctx.dispose();
  }
});

test('.dockerignore follows Docker\'s rules: globs, **, exceptions', async () => {
  const ctx = await ctxOf([
    { name: 'a.log', content: '' }, { name: 'keep.log', content: '' }, { name: 'deep/x/y.tmp', content: '' },
    { name: 'deep/x/z.txt', content: '' }, { name: 'node_modules/m/index.js', content: '' },
  ]);
  ctx.setIgnore('# comment\n*.log\n!keep.log\n**/*.tmp\nnode_modules\n');
  assert.equal(ctx.isIgnored('a.log'), true);
  assert.equal(ctx.isIgnored('keep.log'), false);
  assert.equal(ctx.isIgnored('deep/x/y.tmp'), true);
  assert.equal(ctx.isIgnored('deep/x/z.txt'), false);
  assert.equal(ctx.isIgnored('node_modules/m/index.js'), true);
  assert.deepEqual(ctx.walk('.').map((e) => e.path), ['deep', 'deep/x', 'deep/x/z.txt', 'keep.log']);
  assert.deepEqual(ctx.match('*.log').map((e) => e.path), ['keep.log']);
  await ctx.dispose();
});

test('sources outside the context are refused; symlinks are followed only inside it', async () => {
  const ctx = await ctxOf([{ name: 'real/f', content: 'x' }, { name: 'link', type: 'symlink', linkname: 'real' }, { name: 'abs', type: 'symlink', linkname: '/real/f' }, { name: 'out', type: 'symlink', linkname: '../../etc/passwd' }]);
  assert.throws(() => ctx.match('../x'), OutsideContextError);
  assert.throws(() => ctx.match('../../etc/passwd'), /Forbidden path outside the build context/);
  assert.equal(ctx.match('link/f')[0]!.digest, ctx.entries.get('real/f')!.digest);
  assert.equal(ctx.match('abs')[0]!.type, 'file');
  assert.deepEqual(ctx.match('out'), [], 'a symlink leaving the context resolves to nothing (clamped at the root)');
  await ctx.dispose();
});

test('hostile archives: .. components and writes below a symlink are rejected, and nothing is left', async () => {
  await assert.rejects(ctxOf([{ name: '../evil', content: 'x' }]), InvalidTarError);
  await assert.rejects(ctxOf([{ name: 'l', type: 'symlink', linkname: '/etc' }, { name: 'l/passwd', content: 'x' }]), /would be written through symlink "l"/);
  assert.deepEqual((await readdir(tmp)).filter((n) => n.startsWith('berth-build-')), []);
});

test('paths and globs', () => {
  assert.equal(cleanPath('./a//b/'), 'a/b');
  assert.equal(cleanPath('/'), '.');
  assert.equal(cleanPath('a/../b'), 'b');
  assert.ok(globToRegExp('src/*.js').test('src/a.js'));
  assert.ok(!globToRegExp('src/*.js').test('src/x/a.js'));
  assert.ok(globToRegExp('f?le[0-9]').test('file7'));
});

test('references to content sent before (BERTH.digest) are filled from the blob cache, or refused when it is gone', async () => {
  const blobs = new ContextBlobCache();
  const first = await receiveContext(Readable.from([await tarOf([{ name: 'big.txt', content: 'payload' }])]), { tmp, blobs });
  const digest = first.entries.get('big.txt')!.digest!;
  await first.dispose();
  const refTar = async (d: string): Promise<Buffer> => {
    const pack = tar.pack();
    pack.entry({ name: 'big.txt', type: 'file', mode: 0o600, pax: { 'BERTH.digest': d } }, '');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  const second = await receiveContext(Readable.from([await refTar(digest)]), { tmp, blobs });
  assert.equal((await second.readFile('big.txt'))!.toString(), 'payload');
  assert.equal(second.entries.get('big.txt')!.mode, 0o600);
  await second.dispose();
  await assert.rejects(receiveContext(Readable.from([await refTar('0'.repeat(64))]), { tmp, blobs }), MissingContextBlobError);
  await assert.rejects(receiveContext(Readable.from([await refTar(digest)]), { tmp }), MissingContextBlobError, 'no cache, no reference');
});

test('a context received with a key comes back from a reference alone, while its index and blobs are kept', async () => {
  const blobs = new ContextBlobCache();
  const key = 'a'.repeat(64);
  const entries: Entry[] = [
    { name: 'Dockerfile', content: 'FROM x\nCOPY . /\n' },
    { name: 'src/', type: 'directory', mode: 0o750 },
    { name: 'src/a.txt', content: 'alpha', mode: 0o600 },
    { name: 'src/link', type: 'symlink', linkname: 'a.txt' },
  ];
  const first = await receiveContext(Readable.from([await tarOf(entries)]), { tmp, blobs, key });
  const again = await receiveContext(Readable.from([]), { tmp, blobs, ref: key });
  assert.deepEqual([...again.entries.keys()].sort(), [...first.entries.keys()].sort());
  for (const [p, e] of first.entries) {
    const { data, mtime, ...meta } = e;
    const { data: data2, mtime: mtime2, ...meta2 } = again.entries.get(p)!;
    assert.deepEqual(meta2, meta, p);
    assert.equal(mtime2.getTime(), mtime.getTime());
    assert.equal(data2?.toString(), data?.toString());
  }
  assert.equal((await again.readFile('src/a.txt'))!.toString(), 'alpha');
  assert.equal(again.resolveEntry('src/link')!.path, 'src/a.txt');
  // What a build does to its context (spilling a file to disk) leaves the kept index whole.
  await again.diskPath(again.entries.get('src/a.txt')!);
  await again.dispose();
  const third = await receiveContext(Readable.from([]), { tmp, blobs, ref: key });
  assert.equal((await third.readFile('src/a.txt'))!.toString(), 'alpha');

  // Unknown keys, malformed keys and a body along with a reference are refused.
  await assert.rejects(receiveContext(Readable.from([]), { tmp, blobs, ref: 'b'.repeat(64) }), MissingContextBlobError);
  await assert.rejects(receiveContext(Readable.from([]), { tmp, blobs, ref: 'not-a-key' }), MissingContextBlobError);
  await assert.rejects(receiveContext(Readable.from([]), { tmp, ref: key }), MissingContextBlobError);
  await assert.rejects(receiveContext(Readable.from([Buffer.from('x')]), { tmp, blobs, ref: key }), /empty body/);

  // A blob that is gone (evicted) makes the reference fail: the client sends the context then.
  const small = new ContextBlobCache(40);
  await receiveContext(Readable.from([await tarOf([{ name: 'a', content: 'x'.repeat(9) }, { name: 'b', content: 'y'.repeat(9) }])]), { tmp, blobs: small, key });
  await receiveContext(Readable.from([await tarOf([{ name: 'c', content: 'z'.repeat(9) }, { name: 'd', content: 'w'.repeat(9) }, { name: 'e', content: 'v'.repeat(9) }])]), { tmp, blobs: small });
  await assert.rejects(receiveContext(Readable.from([]), { tmp, blobs: small, ref: key }), /content the daemon does not have/);
  // Without a key (the docker CLI, older berth CLIs) nothing is kept; a malformed key neither.
  const none = new ContextBlobCache();
  await receiveContext(Readable.from([await tarOf([{ name: 'f', content: 'q' }])]), { tmp, blobs: none });
  await receiveContext(Readable.from([await tarOf([{ name: 'f', content: 'q' }])]), { tmp, blobs: none, key: 'C'.repeat(64) });
  await receiveContext(Readable.from([await tarOf([{ name: 'f', content: 'q' }])]), { tmp, blobs: none, key: 'd'.repeat(64) });
  assert.equal(none.getManifest('C'.repeat(64)), undefined);
  assert.ok(none.getManifest('d'.repeat(64)));
});
