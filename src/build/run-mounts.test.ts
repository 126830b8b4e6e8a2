import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { CacheMounts, parseRunMount, parseSize } from './run-mounts.js';

test('RUN --mount: defaults per type, as BuildKit has them', () => {
  assert.deepEqual(parseRunMount('target=/src'), { type: 'bind', target: '/src', source: '/', readonly: true });
  assert.deepEqual(parseRunMount('type=bind,from=build,src=/out,dst=/o,rw'), { type: 'bind', target: '/o', source: '/out', from: 'build', readonly: false });
  assert.deepEqual(parseRunMount('type=cache,target=/root/.cache'), {
    type: 'cache', target: '/root/.cache', id: '/root/.cache', sharing: 'shared', source: '/', readonly: false, mode: 0o755, uid: 0, gid: 0,
  });
  const c = parseRunMount('type=cache,id=apt,target=/var/cache/apt,sharing=locked,mode=0700,uid=1000,gid=100');
  assert.deepEqual(c, { type: 'cache', target: '/var/cache/apt', id: 'apt', sharing: 'locked', source: '/', readonly: false, mode: 0o700, uid: 1000, gid: 100 });
  assert.deepEqual(parseRunMount('type=tmpfs,target=/t,size=64m'), { type: 'tmpfs', target: '/t', size: 64 * 1024 * 1024 });
  assert.deepEqual(parseRunMount('type=secret,id=tok'), { type: 'secret', id: 'tok', target: '/run/secrets/tok', required: false, mode: 0o400, uid: 0, gid: 0 });
  assert.deepEqual(parseRunMount('type=secret,id=tok,env=TOKEN,required'), { type: 'secret', id: 'tok', env: 'TOKEN', required: true, mode: 0o400, uid: 0, gid: 0 });
  assert.deepEqual(parseRunMount('type=secret,target=/etc/pw'), { type: 'secret', id: 'pw', target: '/etc/pw', required: false, mode: 0o400, uid: 0, gid: 0 });
  assert.deepEqual(parseRunMount('type=ssh', 1), { type: 'ssh', id: 'default', target: '/run/buildkit/ssh_agent.1', required: false, mode: 0o600, uid: 0, gid: 0 });
});

test('RUN --mount: unknown types, options of another type and bad values are errors naming them', () => {
  assert.throws(() => parseRunMount('type=volume,target=/x'), /unsupported mount type "volume"/);
  assert.throws(() => parseRunMount('type=tmpfs,target=/x,id=a'), /mount option "id" is not supported for type=tmpfs/);
  assert.throws(() => parseRunMount('type=cache'), /requires a target/);
  assert.throws(() => parseRunMount('type=cache,target=/c,sharing=maybe'), /unsupported sharing value "maybe"/);
  assert.throws(() => parseRunMount('type=cache,target=/c,mode=999'), /invalid value for mode: 999/);
  assert.throws(() => parseRunMount('type=bind,target=/c,relabel=shared'), /mount option "relabel" is not supported/);
  assert.throws(() => parseRunMount('type=bind,target=/c,ro,rw'), /cannot both/);
  assert.equal(parseSize('1g'), 1024 ** 3);
  assert.equal(parseSize('lots'), undefined);
});

test('cache mounts: created with mode/owner, kept, shared; locked waits; private gets its own when busy', async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-cm-'));
  try {
    const cm = new CacheMounts(root);
    const m = parseRunMount('type=cache,id=x,target=/c,mode=0700,uid=12,gid=34');
    if (m.type !== 'cache') throw new Error('type');
    const a = await cm.acquire(m);
    const s = await stat(a.dir);
    assert.equal(s.mode & 0o7777, 0o700);
    assert.deepEqual([s.uid, s.gid], [12, 34]);
    await writeFile(join(a.dir, 'kept'), 'x');
    const b = await cm.acquire(m); // shared: same dir at once
    assert.equal(b.dir, a.dir);
    a.release();
    b.release();
    assert.deepEqual(await readdir((await cm.acquire(m)).dir), ['kept']);

    const locked = parseRunMount('type=cache,id=l,target=/c,sharing=locked');
    if (locked.type !== 'cache') throw new Error('type');
    const first = await cm.acquire(locked);
    let secondGot = false;
    const second = cm.acquire(locked).then((h) => ((secondGot = true), h));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(secondGot, false, 'locked: the second user waits');
    first.release();
    (await second).release();

    const priv = parseRunMount('type=cache,id=p,target=/c,sharing=private');
    if (priv.type !== 'cache') throw new Error('type');
    const p1 = await cm.acquire(priv);
    const p2 = await cm.acquire(priv);
    assert.notEqual(p1.dir, p2.dir);
    p1.release();
    p2.release();
    const list = await cm.list(async () => 1);
    assert.deepEqual(list.map((i) => i.id).sort(), ['l', 'p', 'p', 'x']);
    assert.equal(await cm.remove(list.find((i) => i.id === 'l')!.key), true);
    assert.equal((await cm.list(async () => 1)).length, 3);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
