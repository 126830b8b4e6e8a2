// The policies of the one checked tar reader: what every kind of untrusted archive shares and
// where layers, load archives, build contexts and cp uploads differ.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidTarError } from '../common/errors.js';
import { BUILD_CONTEXT_POLICY, fromTarStreamHeader, LAYER_POLICY, LOAD_POLICY, ScanState, UPLOAD_POLICY, type TarPolicy } from './checked-tar.js';
import type { TarHeader } from './tar-reader.js';

const h = (name: string, type: TarHeader['type'] = 'file', more: Partial<TarHeader> = {}): TarHeader => ({
  name, type, flag: { file: '0', link: '1', symlink: '2', directory: '5', other: '3' }[type], mode: 0o644, size: 0, mtime: new Date(0), linkname: '', uid: 0, gid: 0, devmajor: 0, devminor: 0, ...more,
});

function run(policy: TarPolicy, entries: TarHeader[]): void {
  const s = new ScanState(policy);
  for (const e of entries) s.check(e);
}

const ALL = { LAYER_POLICY, LOAD_POLICY, BUILD_CONTEXT_POLICY, UPLOAD_POLICY };

test('every policy refuses "..", writes through an archive symlink and hardlinks to unknown entries', () => {
  for (const [name, p] of Object.entries(ALL)) {
    assert.throws(() => run(p, [h('a/../../etc/passwd')]), (e: unknown) => e instanceof InvalidTarError && /contains "\.\."/.test((e as Error).message), name);
    assert.throws(() => run(p, [h('etc', 'symlink', { linkname: '/etc' }), h('etc/passwd')]), /would be written through symlink "etc"/, name);
    assert.throws(() => run(p, [h('x', 'link', { linkname: 'etc/shadow' })]), /not an earlier entry/, name);
    assert.throws(() => run(p, [h('d', 'directory'), h('d', 'symlink', { linkname: '/' })]), /replaces a directory/, name);
    assert.throws(() => run(p, [h('f', 'file', { pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' } })]), /overlayfs attribute/, name);
    assert.doesNotThrow(() => run(p, [h('a', 'directory'), h('a/b'), h('a/c', 'link', { linkname: 'a/b' }), h('a/l', 'symlink', { linkname: '../../x' })]), name);
  }
});

test('absolute names: stripped for layers, load archives and build contexts; refused in cp uploads', () => {
  for (const p of [LAYER_POLICY, LOAD_POLICY, BUILD_CONTEXT_POLICY]) assert.doesNotThrow(() => run(p, [h('/etc/hosts'), h('/x', 'link', { linkname: '/etc/hosts' })]));
  assert.throws(() => run(UPLOAD_POLICY, [h('/etc/hosts')]), /entry "\/etc\/hosts" has an absolute name/);
  assert.throws(() => run(UPLOAD_POLICY, [h('hosts'), h('x', 'link', { linkname: '/hosts' })]), /hardlink "x" has an absolute target/);
});

test('devices: only under dev/ except in build contexts (which skip them); whiteouts are layer syntax only', () => {
  const dev = h('sda', 'other', { flag: '4', devmajor: 8 });
  for (const p of [LAYER_POLICY, LOAD_POLICY, UPLOAD_POLICY]) assert.throws(() => run(p, [dev]), /device node "sda" outside \/dev/);
  assert.doesNotThrow(() => run(BUILD_CONTEXT_POLICY, [dev]));
  assert.throws(() => run(LAYER_POLICY, [h('.wh.x', 'directory')]), /whiteout ".wh.x" must be a regular file/);
  assert.doesNotThrow(() => run(BUILD_CONTEXT_POLICY, [h('.wh.x', 'directory')]));
});

test('tar-stream headers (docker load) are checked like the reader\'s own', () => {
  const s = new ScanState(LOAD_POLICY);
  s.check(fromTarStreamHeader({ name: 'blobs/sha256', type: 'directory' }));
  s.check(fromTarStreamHeader({ name: 'blobs/sha256/ab', type: 'file', size: 3 }));
  assert.throws(() => s.check(fromTarStreamHeader({ name: '../manifest.json', type: 'file' })), /contains "\.\."/);
  assert.throws(() => s.check(fromTarStreamHeader({ name: 'x', type: 'block-device', devmajor: 8 })), /outside \/dev/);
  assert.equal(s.size, 3);
});
