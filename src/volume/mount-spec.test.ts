import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseApiMount, parseBind, parseTmpfs, parseVolumesFrom } from './mount-spec.js';

test('-v specs: named, bind, anonymous, modes', () => {
  assert.deepEqual(parseBind('data:/d:ro'), { type: 'volume', source: 'data', target: '/d', readOnly: true, mode: 'ro', createSource: true });
  assert.equal(parseBind('/host/p:/c/').type, 'bind');
  assert.equal(parseBind('/host/p:/c/').target, '/c');
  assert.equal(parseBind('/host:/c:rw,Z,rshared').propagation, 'rshared');
  assert.deepEqual(parseBind('/only'), { type: 'volume', source: '', target: '/only', readOnly: false, mode: '', createSource: true });
  assert.equal(parseBind('vv:/x:nocopy').noCopy, true);
  assert.throws(() => parseBind('vv:rel'), /invalid volume specification: 'vv:rel'.*must be absolute/);
  assert.throws(() => parseBind('/h:/'), /destination can't be '\/'/);
  assert.throws(() => parseBind('vv:/x:bogus'), /invalid mode: bogus/);
  assert.throws(() => parseBind('a:b:c:d'), /invalid volume specification/);
  assert.throws(() => parseBind('x:/d'), /includes invalid characters for a local volume name/);
});

test('HostConfig.Mounts entries with dockerd wording', () => {
  assert.deepEqual(parseApiMount({ Type: 'bind', Source: '/s', Target: '/t', ReadOnly: true, BindOptions: { Propagation: 'rslave' } }), { type: 'bind', source: '/s', target: '/t', readOnly: true, propagation: 'rslave' });
  assert.throws(() => parseApiMount({ Type: 'bind', Target: '/t' }), /invalid mount config for type "bind": field Source must not be empty/);
  assert.throws(() => parseApiMount({ Type: 'tmpfs', Source: 'x', Target: '/t' }), /field Source must not be specified/);
  assert.throws(() => parseApiMount({ Type: 'npipe', Target: '/t' }), /mount type unknown/);
  assert.throws(() => parseApiMount({ Type: 'volume', Target: 'rel' }), /mount path must be absolute/);
  const v = parseApiMount({ Type: 'volume', Source: 'vv', Target: '/t', VolumeOptions: { NoCopy: true, Labels: { a: 'b' }, DriverConfig: { Name: 'local', Options: { type: 'tmpfs' } } } });
  assert.equal(v.noCopy, true);
  assert.deepEqual(v.volumeOptions, { type: 'tmpfs' });
  assert.deepEqual(parseApiMount({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024, Mode: 0o1777 } }).tmpfsOptions, ['size=1024', 'mode=1777']);
});

test('--tmpfs and --volumes-from', () => {
  assert.deepEqual(parseTmpfs('/t', 'size=64m,mode=1777,exec').tmpfsOptions, ['size=64m', 'mode=1777', 'exec']);
  assert.throws(() => parseTmpfs('/t', 'size=64m,evil=1'), /invalid tmpfs option/);
  assert.deepEqual(parseVolumesFrom('c1:ro'), { container: 'c1', mode: 'ro' });
  assert.deepEqual(parseVolumesFrom('c1'), { container: 'c1', mode: '' });
  assert.throws(() => parseVolumesFrom('c1:xx'), /invalid mode/);
});
