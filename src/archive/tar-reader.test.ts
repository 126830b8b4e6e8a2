import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, mkdir, writeFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import tar from 'tar-stream';
import { TarReader, type TarHeader } from './tar-reader.js';
import { InvalidTarError } from '../common/errors.js';

const tmp = await mkdtemp(join(tmpdir(), 'berth-tar-reader-test-'));
after(() => rm(tmp, { recursive: true, force: true }));

type Got = { h: TarHeader; body: string };

function read(buf: Buffer, chunkSize = buf.length): Got[] {
  const out: Got[] = [];
  const r = new TarReader((h) => {
    const parts: Buffer[] = [];
    const g = { h, body: '' };
    out.push(g);
    return { data: (s) => parts.push(Buffer.from(s)), end: () => (g.body = Buffer.concat(parts).toString('latin1')) };
  });
  for (let o = 0; o < buf.length; o += chunkSize) r.push(buf.subarray(o, o + chunkSize));
  r.end();
  return out;
}

async function packed(entries: Array<{ name: string; content?: string; type?: 'file' | 'directory' | 'symlink'; linkname?: string; pax?: Record<string, string> }>): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name, type: e.type ?? 'file', mode: 0o640, mtime: new Date(1_700_000_000_000), ...(e.linkname ? { linkname: e.linkname } : {}), ...(e.pax ? { pax: e.pax } : {}) }, e.content ?? '');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('entries, content and PAX records, whatever the chunking', async () => {
  const big = 'x'.repeat(70_000);
  const buf = await packed([
    { name: 'Dockerfile', content: 'FROM busybox\n' },
    { name: 'dir/', type: 'directory' },
    { name: 'dir/big', content: big },
    { name: 'link', type: 'symlink', linkname: 'dir/big' },
    { name: 'ref', pax: { 'BERTH.digest': 'a'.repeat(64) } },
    { name: `${'long/'.repeat(20)}name`, content: 'deep' },
  ]);
  const whole = read(buf);
  assert.deepEqual(whole.map((g) => [g.h.name, g.h.type, g.body.length]), [
    ['Dockerfile', 'file', 13], ['dir/', 'directory', 0], ['dir/big', 'file', 70_000], ['link', 'symlink', 0], ['ref', 'file', 0], [`${'long/'.repeat(20)}name`, 'file', 4],
  ]);
  assert.equal(whole[0]!.h.mode, 0o640);
  assert.equal(whole[0]!.h.mtime.getTime(), 1_700_000_000_000);
  assert.equal(whole[3]!.h.linkname, 'dir/big');
  assert.equal(whole[4]!.h.pax?.['BERTH.digest'], 'a'.repeat(64));
  for (const size of [1, 7, 511, 512, 513, 4096, 65536]) {
    assert.deepEqual(read(buf, size).map((g) => [g.h.name, g.body]), whole.map((g) => [g.h.name, g.body]), `chunks of ${size}`);
  }
});

test('GNU and PAX archives from GNU tar: long names, long link targets', async () => {
  const dir = join(tmp, 'src');
  const long = 'd'.repeat(120);
  await mkdir(join(dir, long), { recursive: true });
  await writeFile(join(dir, long, 'f'.repeat(110)), 'content');
  await symlink(`${long}/${'t'.repeat(110)}`, join(dir, 'sl'));
  for (const format of ['gnu', 'pax', 'ustar']) {
    if (format === 'ustar') continue; // names over 100+155 bytes do not fit ustar
    const buf = execFileSync('tar', [`--format=${format}`, '-C', dir, '-cf', '-', '.']);
    const got = read(buf, 1000);
    const file = got.find((g) => g.h.name === `./${long}/${'f'.repeat(110)}`);
    assert.ok(file, `${format}: long file name`);
    assert.equal(file.body, 'content');
    assert.equal(got.find((g) => g.h.name === './sl')?.h.linkname, `${long}/${'t'.repeat(110)}`, `${format}: long link target`);
  }
});

test('damaged archives are InvalidTarErrors: bad checksum, truncated content', async () => {
  const buf = await packed([{ name: 'a', content: 'hello world' }]);
  const bad = Buffer.from(buf);
  bad[0] = 'b'.charCodeAt(0); // name changed, checksum not
  assert.throws(() => read(bad), InvalidTarError);
  assert.throws(() => read(buf.subarray(0, 512 + 5)), InvalidTarError);
  // What follows the end-of-archive marker is not read.
  assert.equal(read(Buffer.concat([buf, Buffer.alloc(1024, 1)])).length, 1);
});
