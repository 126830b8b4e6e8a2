// Hostile layer archives, named for the attack (node-tar's ghsa-* tests). Each must be refused
// with a clear InvalidTarError (or DigestMismatchError) before GNU tar runs, leaving the layer
// store and the host exactly as they were.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm, mkdir, writeFile, readFile, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { openDatabase, type Db } from '../store/db.js';
import { LayerTable } from '../store/images.js';
import { SpawnRunner, type CommandRunner, type RunOptions } from '../common/command-runner.js';
import { InvalidTarError, DigestMismatchError, isInvalidParameter } from '../common/errors.js';
import { LayerStore, type LayerRecord } from './layer-store.js';
import { sha256Digest } from '../oci/digest.js';
import { makeTar, requireRoot, type TarEntry } from './_test-helpers.js';

let top: string;
let root: string;
let victim: string;
let db: Db;
let store: LayerStore;
const calls: string[][] = [];
const spy: CommandRunner = {
  run(argv: readonly string[], options?: RunOptions) {
    calls.push([...argv]);
    return new SpawnRunner().run(argv, options);
  },
};

before(async () => {
  requireRoot();
  top = await mkdtemp(join(tmpdir(), 'berth-hostile-'));
  root = join(top, 'data');
  victim = join(top, 'victim');
  db = openDatabase(':memory:');
  store = new LayerStore(root, new LayerTable<LayerRecord>(db), spy);
  await mkdir(root);
  await store.init();
});
after(async () => {
  db?.close();
  if (top) await rm(top, { recursive: true, force: true });
});
beforeEach(async () => {
  calls.length = 0;
  await rm(victim, { recursive: true, force: true });
  await mkdir(victim);
  await writeFile(join(victim, 'secret'), 'original');
});

/** Everything under `dir`, as relative paths. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) out.push(relative(dir, join(e.parentPath ?? e.path, e.name)));
  return out.sort();
}

async function assertRefused(entries: TarEntry[], message: RegExp, kind: typeof InvalidTarError | typeof DigestMismatchError = InvalidTarError, options = {}): Promise<void> {
  await assertArchiveRefused(await makeTar(entries), message, kind, options);
}

async function assertArchiveRefused(archive: Buffer, message: RegExp, kind: typeof InvalidTarError | typeof DigestMismatchError = InvalidTarError, options = {}): Promise<void> {
  const before = await tree(top);
  await assert.rejects(store.register(Readable.from([archive]), options), (e: unknown) => {
    assert.ok(e instanceof kind, `expected ${kind.name}, got ${String(e)}`);
    assert.ok(isInvalidParameter(e));
    assert.match((e as Error).message, message);
    return true;
  });
  assert.deepEqual(calls, [], 'nothing may be extracted from a refused archive');
  assert.deepEqual(await tree(top), before, 'the data root and host must be untouched');
  assert.equal(await readFile(join(victim, 'secret'), 'utf8'), 'original');
  assert.deepEqual(store.list(), []);
}

test('dot-dot entry escaping the root is refused', async () => {
  const rel = relative(join(root, 'layers', '.ingest', 'x', 'layer', 'diff'), victim);
  await assertRefused([{ name: `${rel}/secret`, body: 'pwned' }], /contains "\.\.", which could escape the layer root/);
  await assertRefused([{ name: 'a/', type: 'directory' }, { name: 'a/../../escape', body: 'x' }], /contains "\.\."/);
  await assertRefused([{ name: '../escape', body: 'x' }], /invalid tar archive: entry "\.\.\/escape" contains "\.\."/);
});

test('absolute symlink then a write through it is refused', async () => {
  await assertRefused(
    [
      { name: 'etc', type: 'symlink', linkname: victim },
      { name: 'etc/secret', body: 'pwned' },
    ],
    /entry "etc\/secret" would be written through symlink "etc" created earlier in the archive/,
  );
});

test('relative symlink escape then a write through it is refused', async () => {
  await assertRefused(
    [
      { name: 'a/', type: 'directory' },
      { name: 'a/up', type: 'symlink', linkname: '../../../../../../../..' + victim },
      { name: 'a/up/new', body: 'pwned' },
    ],
    /would be written through symlink "a\/up"/,
  );
});

test('symlink replaced by a directory, then written into, is refused', async () => {
  await assertRefused(
    [
      { name: 'd', type: 'symlink', linkname: victim },
      { name: 'd/', type: 'directory' },
      { name: 'd/secret', body: 'pwned' },
    ],
    /directory "d\/" replaces a symlink created earlier in the archive/,
  );
});

test('hardlink escape is refused', async () => {
  await assertRefused([{ name: 'h', type: 'link', linkname: '../../victim/secret' }], /hardlink "h" target "\.\.\/\.\.\/victim\/secret" contains "\.\."/);
  await assertRefused([{ name: 'h', type: 'link', linkname: join(victim, 'secret') }], /hardlink "h" points to ".*\/victim\/secret", which is not an earlier entry of the archive/);
  await assertRefused(
    [
      { name: 's', type: 'symlink', linkname: victim },
      { name: 'h', type: 'link', linkname: 's/secret' },
    ],
    /hardlink "h" target "s\/secret" would be written through symlink "s"/,
  );
});

test('device node outside /dev is refused', async () => {
  await assertRefused([{ name: 'disk', type: 'block-device', devmajor: 8, devminor: 0 }], /device node "disk" outside \/dev/);
  await assertRefused([{ name: 'mem', type: 'character-device', devmajor: 1, devminor: 1 }], /device node "mem" outside \/dev/);
});

test('overlayfs xattrs smuggled in the archive are refused', async () => {
  await assertRefused(
    [{ name: 'x/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/etc' } }],
    /sets the overlayfs attribute trusted\.overlay\.redirect/,
  );
});

test('wrong diffID is refused', async () => {
  await assertRefused(
    [{ name: 'f', body: 'content' }],
    /layer diffID mismatch: got sha256:[a-f0-9]{64}, expected sha256:/,
    DigestMismatchError,
    { expectedDiffId: sha256Digest('not this layer') },
  );
});

test('garbage and truncated archives are refused', async () => {
  const before = await tree(top);
  await assert.rejects(store.register(Readable.from([Buffer.from('this is not a tar file at all'.repeat(40))])), InvalidTarError);
  const good = await makeTar([{ name: 'f', body: 'x'.repeat(5000) }]);
  await assert.rejects(store.register(Readable.from([good.subarray(0, 1000)])), InvalidTarError);
  await assert.rejects(store.register(Readable.from([Buffer.alloc(0)])), /no entries/);
  assert.deepEqual(calls, []);
  assert.deepEqual(await tree(top), before);
});

// ---- archives that GNU tar and a lenient parser would read differently ----------------------

/** One raw 512-byte header; `fields` overrides what a hand-made hostile header needs. */
function rawHeader(f: { name: string; flag: string; size?: number; sizeField?: string; linkname?: string; magic?: string; version?: string; prefix?: string }): Buffer {
  const b = Buffer.alloc(512);
  b.write(f.name, 0, 100, 'utf8');
  b.write('0000644\0', 100, 'latin1');
  b.write('0000000\0', 108, 'latin1');
  b.write('0000000\0', 116, 'latin1');
  b.write(f.sizeField ?? `${(f.size ?? 0).toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  b.write('14000000000\0', 136, 'latin1');
  b.write(f.flag, 156, 'latin1');
  if (f.linkname) b.write(f.linkname, 157, 100, 'utf8');
  b.write(f.magic ?? 'ustar\0', 257, 'latin1');
  b.write(f.version ?? '00', 263, 'latin1');
  if (f.prefix) b.write(f.prefix, 345, 155, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of b) sum += c;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

/** Content padded to whole blocks. */
function blocks(content: string | Buffer): Buffer {
  const c = Buffer.from(content);
  return Buffer.concat([c, Buffer.alloc((512 - (c.length % 512)) % 512)]);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (`${len}${body}`.length !== len) len++;
  return `${len}${body}`;
}

/** A hand-made archive (without its end marker) must be refused like any other. */
async function assertRawRefused(archive: Buffer, message: RegExp): Promise<void> {
  await assertArchiveRefused(Buffer.concat([archive, Buffer.alloc(1024)]), message);
}

test('a name prefix is read as GNU tar reads it, whatever the ustar version bytes', async () => {
  // GNU tar joins prefix and name whenever the magic is "ustar\0": this entry is etc/secret.
  await assertRawRefused(
    Buffer.concat([
      rawHeader({ name: 'etc', flag: '2', linkname: victim }),
      rawHeader({ name: 'secret', flag: '0', size: 5, prefix: 'etc', version: 'xx' }),
      blocks('pwned'),
    ]),
    /entry "etc\/secret" would be written through symlink "etc"/,
  );
});

test('a link or directory that claims content is refused (parsers disagree on where the next header is)', async () => {
  // tar-stream would read the next block as the symlink's body, other parsers as a header.
  const smuggled = rawHeader({ name: 'etc/secret', flag: '0', size: 0 });
  await assertRawRefused(
    Buffer.concat([rawHeader({ name: 'etc', flag: '2', linkname: victim, size: 512 }), smuggled]),
    /entry "etc" of type "2" has a size \(512\) but carries no content/,
  );
  await assertRawRefused(Buffer.concat([rawHeader({ name: 'd/', flag: '5', size: 512 }), smuggled]), /entry "d\/" of type "5" has a size/);
});

test('numbers that are not clean octal are refused', async () => {
  await assertRawRefused(Buffer.concat([rawHeader({ name: 'f', flag: '0', sizeField: '00000000005\0'.replace('5\0', '5x') }), blocks('hello')]), /bad number "00000000005x"/);
});

test('GNU sparse entries and global PAX records that rename entries are refused', async () => {
  // GNU.sparse.name is the real name of a PAX sparse file for GNU tar, whatever `path` says.
  await assertRefused([{ name: 'GNUSparseFile.1/f', body: 'x', pax: { 'GNU.sparse.name': 'etc/secret', 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0' } }], /is a GNU sparse file \(GNU\.sparse\./);
  const global = blocks(paxRecord('path', 'etc/secret'));
  await assertRawRefused(
    Buffer.concat([rawHeader({ name: 'pax_global_header', flag: 'g', size: paxRecord('path', 'etc/secret').length }), global, rawHeader({ name: 'f', flag: '0', size: 1 }), blocks('x')]),
    /a global PAX record sets "path"/,
  );
});

test('a hardlink may not take the place of a directory (what was below would resolve through it)', async () => {
  await assertRefused(
    [
      { name: 's', type: 'symlink', linkname: victim },
      { name: 'd/', type: 'directory' },
      { name: 'd', type: 'link', linkname: 's' },
    ],
    /hardlink "d" replaces a directory/,
  );
});

// ---- found in review (session 4): each of these wrote outside the layer or ran unbounded ----

test('extended attributes on a hardlink to a symlink never reach the symlink target', async () => {
  const before = await tree(top);
  const tarball = await makeTar([
    { name: 's', type: 'symlink', linkname: join(victim, 'secret') },
    { name: 'h', type: 'link', linkname: 's', pax: { 'SCHILY.xattr.user.pwned': 'yes', 'SCHILY.xattr.security.capability': '\u0001\u0000\u0000\u0002' } },
  ]);
  await assert.rejects(store.register(Readable.from([tarball])), /extended attributes/);
  assert.equal(execFileSync('getfattr', ['-d', '-m', '-', join(victim, 'secret')], { encoding: 'utf8' }), '');
  assert.deepEqual(await tree(top), before);
});

test('whiteouts below a directory that a later entry replaced by a symlink are not applied through it', async () => {
  const before = await tree(top);
  await writeFile(join(victim, '.wh.gone'), 'host file');
  const tarball = await makeTar([
    { name: 'a/.wh.nologin', body: '' },
    { name: 'a/b/.wh.x', body: '' },
    { name: 'a/.wh..wh.meta', body: '' },
    { name: 'a/.wh..wh..opq', body: '' },
    { name: 'a', body: 'a file for a moment' },
    { name: 'a', type: 'symlink', linkname: victim },
  ]);
  const rec = await store.register(Readable.from([tarball]));
  assert.deepEqual((await readdir(victim)).sort(), ['.wh.gone', 'secret'], 'nothing made or removed in the symlink target');
  assert.equal(await readFile(join(victim, '.wh.gone'), 'utf8'), 'host file');
  assert.ok((await lstat(join(store.diffDir(rec.chainId), 'a'))).isSymbolicLink());
  assert.equal(await store.release(rec.chainId), true);
  await rm(join(victim, '.wh.gone'));
  assert.deepEqual(await tree(top), before);
});

test('deep names, repeated replacements and piled-up PAX records are refused or handled in bounded time', async () => {
  const t0 = Date.now();
  await assertRefused([{ name: `${'a/'.repeat(30_000)}f`, body: 'x' }], /name is longer than 4096 characters/);
  // 3000 directories, then one file name replaced 3000 times: linear, not quadratic.
  const entries: TarEntry[] = [];
  for (let i = 0; i < 3000; i++) entries.push({ name: `d${i}/`, type: 'directory' });
  for (let i = 0; i < 3000; i++) entries.push({ name: 'same', body: String(i) });
  const rec = await store.register(Readable.from([await makeTar(entries)]));
  assert.equal(await readFile(join(store.diffDir(rec.chainId), 'same'), 'utf8'), '2999');
  await store.release(rec.chainId);
  await assertRefused(
    [{ name: 'f', body: 'x', pax: { 'SCHILY.xattr.user.big': 'v'.repeat(70_000) } }],
    /extended attribute of 70000 bytes \(limit 65536\)/,
  );
  assert.ok(Date.now() - t0 < 20_000, `took ${Date.now() - t0} ms`);
});

test('an entry after a lone zero block, and PAX numbers that are not plain decimals, are refused', async () => {
  const a = await makeTar([{ name: 'visible', body: 'v' }]);
  const b = await makeTar([{ name: 'hidden', body: 'h' }]);
  // a's entries (header + one data block), one zero block, then b whole.
  const lone = Buffer.concat([a.subarray(0, 1024), Buffer.alloc(512), b]);
  await assertRawRefused(lone, /an entry after a lone zero block/);
  await assertRefused([{ name: 'f', body: 'x'.repeat(600), pax: { size: '0x258' } }], /bad PAX size "0x258"/);
});
