import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isNotFound } from '../common/errors.js';
import { resolveInRoot, resolveUser, resolveUserSpec } from './user.js';

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n';
const GROUP = 'root:x:0:\nwheel:x:10:root,app\nstaff:x:50:app\napp:x:1000:\nnogroup:x:65534:\n';

describe('resolveUserSpec', () => {
  it('empty means root, with root\'s supplementary groups', () => {
    assert.deepEqual(resolveUserSpec('', PASSWD, GROUP), { uid: 0, gid: 0, additionalGids: [10], home: '/root', name: 'root' });
  });
  it('name → uid, gid, supplementary groups', () => {
    assert.deepEqual(resolveUserSpec('app', PASSWD, GROUP), { uid: 1000, gid: 1000, additionalGids: [10, 50], home: '/home/app', name: 'app' });
  });
  it('numeric uid known and unknown', () => {
    assert.equal(resolveUserSpec('65534', PASSWD, GROUP).gid, 65534);
    assert.deepEqual(resolveUserSpec('4242', PASSWD, GROUP), { uid: 4242, gid: 0, additionalGids: [], home: '/' });
  });
  it('explicit group: no supplementary groups', () => {
    assert.deepEqual(resolveUserSpec('app:staff', PASSWD, GROUP), { uid: 1000, gid: 50, additionalGids: [], home: '/home/app', name: 'app' });
    assert.equal(resolveUserSpec('1:2', PASSWD, GROUP).gid, 2);
    assert.equal(resolveUserSpec('nobody:nogroup', PASSWD, GROUP).gid, 65534);
  });
  it('unknown names: Docker\'s message, a not-found error', () => {
    assert.throws(
      () => resolveUserSpec('ghost', PASSWD, GROUP),
      (e: Error) => isNotFound(e) && e.message === 'unable to find user ghost: no matching entries in passwd file',
    );
    assert.throws(() => resolveUserSpec('app:ghosts', PASSWD, GROUP), /unable to find group ghosts/);
    assert.throws(() => resolveUserSpec('ghost', undefined, undefined), /no matching entries in passwd file/);
  });
});

describe('reading the rootfs safely', () => {
  let dir: string;
  let root: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-user-'));
    root = join(dir, 'root');
    await mkdir(join(root, 'etc'), { recursive: true });
    await writeFile(join(dir, 'secret'), 'evil:x:7:7::/:/bin/sh\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('resolves symlinks as if the rootfs were /', async () => {
    await mkdir(join(root, 'real'), { recursive: true });
    await symlink('/real', join(root, 'abs'));
    await symlink('../../../../real', join(root, 'rel'));
    assert.equal(await resolveInRoot(root, '/abs/x'), join(root, 'real/x'));
    assert.equal(await resolveInRoot(root, '/rel/x'), join(root, 'real/x'));
    assert.equal(await resolveInRoot(root, '/../../x'), join(root, 'x'));
  });

  it('a /etc/passwd symlinked outside the root is read inside it', async () => {
    await symlink(join(dir, 'secret'), join(root, 'etc/passwd')); // absolute host path: re-rooted, so missing
    await symlink('../../../secret', join(root, 'etc/group'));
    await assert.rejects(resolveUser(root, 'evil'), /unable to find user evil/);
    assert.equal((await resolveUser(root, '0')).uid, 0);
  });

  it('reads the real files', async () => {
    const r2 = join(dir, 'r2');
    await mkdir(join(r2, 'etc'), { recursive: true });
    await writeFile(join(r2, 'etc/passwd'), PASSWD);
    await writeFile(join(r2, 'etc/group'), GROUP);
    assert.equal((await resolveUser(r2, 'app')).uid, 1000);
  });
});
