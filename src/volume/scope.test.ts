import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostPath, resolveInScope } from './scope.js';

test('symlinks are re-rooted at the container root and .. never climbs above it', async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-scope-'));
  try {
    await mkdir(join(root, 'etc'));
    await writeFile(join(root, 'etc', 'passwd'), 'inside');
    await symlink('/', join(root, 'escape'));
    await symlink('../../..', join(root, 'up'));
    await symlink('/etc', join(root, 'etclink'));
    await symlink('loop2', join(root, 'loop1'));
    await symlink('loop1', join(root, 'loop2'));
    const view = { root, mounts: [] };
    assert.equal(await resolveInScope(view, '/escape/etc/passwd'), '/etc/passwd');
    assert.equal(await resolveInScope(view, '/up/up/etc/passwd'), '/etc/passwd');
    assert.equal(await resolveInScope(view, '/../../../etc/passwd'), '/etc/passwd');
    assert.equal(await resolveInScope(view, '/etclink/passwd'), '/etc/passwd');
    assert.equal(await resolveInScope(view, '/etclink', { followFinal: false }), '/etclink');
    assert.equal(await resolveInScope(view, '/missing/../etc/./x'), '/etc/x');
    await assert.rejects(resolveInScope(view, '/loop1/x'), /too many levels of symbolic links/);
    assert.equal(hostPath(view, '/etc/passwd'), join(root, 'etc/passwd'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('hostPath maps paths under a mount to its source (longest destination wins)', () => {
  const view = { root: '/r', mounts: [{ destination: '/data', source: '/vol/a', readOnly: false }, { destination: '/data/sub', source: '/vol/b', readOnly: true }] };
  assert.equal(hostPath(view, '/data'), '/vol/a');
  assert.equal(hostPath(view, '/data/x'), '/vol/a/x');
  assert.equal(hostPath(view, '/data/sub/y'), '/vol/b/y');
  assert.equal(hostPath(view, '/database'), '/r/database');
  assert.equal(hostPath(view, '/'), '/r');
});
