import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type TestDaemon } from '../helpers/daemon.js';
import { cliChecks, daemonWithWorkDir } from '../helpers/suite.js';

// Volumes and mounts through berth (issue 7).
describe('volumes and mounts through berth', () => {
  const suite = daemonWithWorkDir('volumes', 'berth-test-volumes-work-');
  let d: TestDaemon;
  let work: string;
  before(() => {
    ({ d, work } = suite);
  });
  const { ok, fails } = cliChecks(() => d, 'berth');

  const run = (...args: string[]) => ['run', '--network', 'none', ...args];
  const mountinfo = () => readFile('/proc/self/mountinfo', 'utf8');

  test('volume create/ls/inspect/rm with labels, filters and --format', async () => {
    assert.equal(await ok(['volume', 'create', '--label', 'tier=db', 'v-a']), 'v-a\n');
    assert.equal(await ok(['volume', 'create', '--name', 'v-b']), 'v-b\n');
    const anon = (await ok(['volume', 'create'])).trim();
    assert.match(anon, /^[0-9a-f]{64}$/);
    assert.equal(await ok(['volume', 'ls', '--format', '{{.Name}}', '--filter', 'label=tier=db']), 'v-a\n');
    assert.equal(await ok(['volume', 'ls', '-q', '--filter', 'name=v-']), 'v-a\nv-b\n');
    assert.equal(await ok(['volume', 'ls', '-q', '--filter', 'driver=nope']), '');
    await ok(run('--name', 'holder', '-v', 'v-b:/x', 'busybox', 'true'));
    assert.doesNotMatch(await ok(['volume', 'ls', '-q', '--filter', 'dangling=true']), /v-b/);
    assert.match(await ok(['volume', 'ls', '-q', '--filter', 'dangling=false']), /^v-b$/m);
    const table = await ok(['volume', 'ls']);
    assert.match(table, /^DRIVER\s+VOLUME NAME$/m);
    assert.match(table, /^local\s+v-a$/m);
    const [v] = JSON.parse(await ok(['volume', 'inspect', 'v-a']));
    assert.deepEqual(Object.keys(v).sort(), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
    assert.equal(v.Mountpoint, join(d.dataRoot, 'volumes', 'v-a', '_data'));
    assert.ok(existsSync(v.Mountpoint));
    assert.equal(await ok(['volume', 'inspect', '-f', '{{.Scope}} {{.Driver}}', 'v-a']), 'local local\n');
    // In use: 409, and rm -f does not override it (as Docker).
    await fails(['volume', 'rm', 'v-b'], /remove v-b: volume is in use - \[[0-9a-f]{64}\]/);
    await fails(['volume', 'rm', '-f', 'v-b'], /volume is in use/);
    await fails(['volume', 'rm', 'nosuch'], /no such volume/);
    await ok(['volume', 'rm', '-f', 'nosuch']);
    await fails(['volume', 'create', 'bad/name'], /includes invalid characters for a local volume name/);
    await ok(['rm', 'holder']);
    await ok(['volume', 'rm', 'v-a', 'v-b', anon]);
    assert.ok(!existsSync(v.Mountpoint));
    assert.equal(await ok(['volume', 'ls', '-q']), '');
  });

  test('data written by three containers in turn survives each of them', async () => {
    for (const n of ['one', 'two', 'three']) await ok(run('--rm', '-v', 'shared:/data', 'busybox', 'sh', '-c', `echo ${n} >> /data/log`));
    assert.equal(await ok(run('--rm', '-v', 'shared:/data:ro', 'busybox', 'cat', '/data/log')), 'one\ntwo\nthree\n');
    await ok(['volume', 'rm', 'shared']);
  });

  test('copy-up: a new volume gets the image content at its target; nocopy and an existing volume do not', async () => {
    assert.match(await ok(run('--rm', '-v', 'bins:/bin', 'busybox', '/bin/busybox', 'ls', '/bin')), /^busybox$/m);
    const mp = (await ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'bins'])).trim();
    assert.ok(existsSync(join(mp, 'busybox')), 'the volume holds the copied binary');
    const nocopy = await d.berth(run('--rm', '-v', 'bins2:/bin:nocopy', 'busybox', '/bin/busybox', 'true'));
    assert.notEqual(nocopy.code, 0, 'with nocopy /bin is empty');
    assert.deepEqual(await readdir((await ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'bins2'])).trim()), []);
    // A volume that already has content is not overwritten.
    await ok(['volume', 'create', 'full']);
    const fmp = (await ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'full'])).trim();
    await writeFile(join(fmp, 'mine'), 'x');
    await ok(run('--rm', '--mount', 'type=volume,source=full,target=/bin', 'busybox', '/bin/busybox', 'true')).catch(() => {});
    assert.deepEqual(await readdir(fmp), ['mine']);
    await ok(['volume', 'rm', 'bins', 'bins2', 'full']);
  });

  test('binds: rw writes reach the host, ro refuses writes, a missing --mount source is an error', async () => {
    const dir = join(work, 'bind');
    await mkdir(dir);
    await writeFile(join(dir, 'in'), 'host\n');
    assert.equal(await ok(run('--rm', '-v', `${dir}:/b`, 'busybox', 'sh', '-c', 'cat /b/in; echo ctr > /b/out')), 'host\n');
    assert.equal(await readFile(join(dir, 'out'), 'utf8'), 'ctr\n');
    const ro = await d.berth(run('--rm', '-v', `${dir}:/b:ro`, 'busybox', 'sh', '-c', 'echo no > /b/ro'));
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /Read-only file system/);
    assert.ok(!existsSync(join(dir, 'ro')));
    const created = join(work, 'made-by-v');
    await ok(run('--rm', '-v', `${created}:/m`, 'busybox', 'true'));
    assert.ok(existsSync(created), '-v creates a missing bind source, as docker');
    await fails(run('--rm', '--mount', `type=bind,source=${join(work, 'absent')},target=/x`, 'busybox', 'true'), /invalid mount config for type "bind": bind source path does not exist: .*absent/);
    await fails(run('--rm', '-v', 'x:relative', 'busybox', 'true'), /invalid volume specification/);
    await fails(run('--rm', '-v', 'aa:/d', '-v', 'bb:/d', 'busybox', 'true'), /Duplicate mount point: \/d/);
    assert.equal(await ok(['volume', 'ls', '-q']), '', 'a refused create leaves no volume behind');
  });

  test('tmpfs mounts are tmpfs; --read-only keeps / read-only but volumes writable', async () => {
    const out = await ok(run('--rm', '--tmpfs', '/t:size=2m', '--mount', 'type=tmpfs,target=/u', 'busybox', 'sh', '-c', 'grep -E " /(t|u) " /proc/mounts'));
    assert.match(out, /^tmpfs \/t tmpfs \S*size=2048k/m);
    assert.match(out, /^tmpfs \/u tmpfs /m);
    const r = await d.berth(run('--rm', '--read-only', '-v', 'rwvol:/w', 'busybox', 'sh', '-c', 'echo ok > /w/f && cat /w/f && touch /nope'));
    assert.equal(r.stdout, 'ok\n');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Read-only file system/);
    await ok(['volume', 'rm', 'rwvol']);
  });

  test('a tmpfs-backed local volume (-o type=tmpfs) is mounted while used and unmounted by rm', async () => {
    await ok(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m', 'tv']);
    const [v] = JSON.parse(await ok(['volume', 'inspect', 'tv']));
    assert.deepEqual(v.Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
    assert.match(await ok(run('--rm', '-v', 'tv:/t', 'busybox', 'sh', '-c', 'grep " /t " /proc/mounts')), /^tmpfs \/t tmpfs \S*size=1024k/m);
    // As Docker's local driver: mounted while a container uses it, unmounted (tmpfs content gone) after.
    await ok(run('-d', '--name', 'tvuser', '-v', 'tv:/t', 'busybox', 'sh', '-c', 'echo kept > /t/f; sleep 300'));
    assert.match(await mountinfo(), new RegExp(` ${v.Mountpoint} `));
    assert.equal(await ok(run('--rm', '-v', 'tv:/t', 'busybox', 'cat', '/t/f')), 'kept\n', 'a second container sees the same tmpfs');
    assert.match(await mountinfo(), new RegExp(` ${v.Mountpoint} `), 'still mounted while tvuser runs');
    await ok(['rm', '-f', 'tvuser']);
    assert.doesNotMatch(await mountinfo(), new RegExp(` ${v.Mountpoint} `));
    await ok(['volume', 'rm', 'tv']);
    assert.doesNotMatch(await mountinfo(), new RegExp(` ${v.Mountpoint} `));
  });

  test('--volumes-from shares the mounts (with :ro); inspect shows Mounts as docker', async () => {
    await ok(run('--name', 'src', '-v', 'vf:/data', '-v', '/anon', 'busybox', 'sh', '-c', 'echo shared > /data/f; echo a > /anon/g'));
    assert.equal(await ok(run('--rm', '--volumes-from', 'src', 'busybox', 'cat', '/data/f', '/anon/g')), 'shared\na\n');
    const ro = await d.berth(run('--rm', '--volumes-from', 'src:ro', 'busybox', 'sh', '-c', 'echo x > /data/f'));
    assert.notEqual(ro.code, 0);
    const [c] = JSON.parse(await ok(['inspect', 'src']));
    const byDest: Record<string, unknown> = Object.fromEntries((c.Mounts as { Destination: string }[]).map((m) => [m.Destination, m]));
    assert.deepEqual(byDest['/data'], { Type: 'volume', Name: 'vf', Source: join(d.dataRoot, 'volumes', 'vf', '_data'), Destination: '/data', Driver: 'local', Mode: 'z', RW: true, Propagation: '' });
    assert.match((byDest['/anon'] as { Name: string }).Name, /^[0-9a-f]{64}$/);
    await ok(['rm', '-v', 'src']);
    await ok(['volume', 'rm', 'vf']);
  });

  test('image VOLUME makes anonymous volumes; rm -v and run --rm remove them, named ones stay', async () => {
    await ok(run('--name', 'volimg-src', 'busybox', 'sh', '-c', 'mkdir -p /vol && echo seeded > /vol/seed'));
    await ok(['commit', '--change', 'VOLUME /vol', 'volimg-src', 'volimg']);
    await ok(['rm', 'volimg-src']);
    await ok(run('--name', 'vi', '-v', 'keep:/k', 'volimg', 'cat', '/vol/seed'));
    const [c] = JSON.parse(await ok(['inspect', 'vi']));
    const anon = (c.Mounts as { Destination: string; Name: string }[]).find((m) => m.Destination === '/vol')!.Name;
    assert.match(anon, /^[0-9a-f]{64}$/);
    assert.equal(await ok(['logs', 'vi']), 'seeded\n', 'the anonymous volume got the image content');
    const [av] = JSON.parse(await ok(['volume', 'inspect', anon]));
    assert.deepEqual(av.Labels, { 'com.docker.volume.anonymous': '' });
    await ok(['rm', '-v', 'vi']);
    await fails(['volume', 'inspect', anon], /no such volume/);
    assert.match(await ok(['volume', 'ls', '-q']), /^keep$/m);
    const before = (await ok(['volume', 'ls', '-q'])).trim().split('\n').filter(Boolean);
    await ok(run('--rm', 'volimg', 'true'));
    const after = (await ok(['volume', 'ls', '-q'])).trim().split('\n').filter(Boolean);
    assert.deepEqual(after.sort(), before.sort(), 'run --rm took its anonymous volume along');
    await ok(['volume', 'rm', 'keep']);
  });

  test('volume prune: anonymous only by default, all with -a', async () => {
    await ok(['volume', 'create', 'named-keep']);
    await ok(run('--name', 'pa', '-v', '/a1', 'busybox', 'true'));
    await ok(['rm', 'pa']);
    const pruned = await ok(['volume', 'prune', '-f']);
    assert.match(pruned, /^Deleted Volumes:\n[0-9a-f]{64}\n/);
    assert.match(pruned, /Total reclaimed space: /);
    assert.equal(await ok(['volume', 'ls', '-q']), 'named-keep\n');
    assert.match(await ok(['volume', 'prune', '-a', '-f']), /named-keep/);
    assert.equal(await ok(['volume', 'ls', '-q']), '');
  });

  test('volume events: create, mount, unmount, destroy', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await ok(run('--rm', '-v', 'evvol:/e', 'busybox', 'true'));
    await ok(['volume', 'rm', 'evvol']);
    const until = Math.ceil(Date.now() / 1000) + 1;
    const r = await d.api('GET', `/events?since=${since}&until=${until}&filters=${encodeURIComponent(JSON.stringify({ type: ['volume'] }))}`);
    const evs = r.body.toString().trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { Action: string; Actor: { ID: string; Attributes: Record<string, string> } });
    const mine = evs.filter((e) => e.Actor.ID === 'evvol').map((e) => e.Action);
    assert.deepEqual(mine, ['create', 'mount', 'unmount', 'destroy']);
    const mount = evs.find((e) => e.Action === 'mount' && e.Actor.ID === 'evvol')!;
    assert.equal(mount.Actor.Attributes['destination'], '/e');
    assert.equal(mount.Actor.Attributes['driver'], 'local');
  });

  test('a mount target behind a planted symlink stays inside the container', async () => {
    const probe = join(work, 'probe');
    await mkdir(probe);
    await writeFile(join(probe, 'host-file'), 'host only\n');
    await ok(run('--name', 'linker', 'busybox', 'sh', '-c', `mkdir -p /m && ln -s ${probe} /m/t && ln -s ../../../../.. /m/up`));
    await ok(['commit', 'linker', 'linked']);
    await ok(['rm', 'linker']);
    await ok(run('--rm', '-v', 'lv:/m/t', '-v', 'lv2:/m/up/escaped', 'linked', 'sh', '-c', 'echo inside > /m/t/f; echo inside > /m/up/escaped/g'));
    assert.deepEqual(await readdir(probe), ['host-file'], 'nothing was mounted or written on the host path');
    assert.ok(!existsSync('/escaped'), 'the ../.. target did not reach the host root');
    const lv = (await ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'lv'])).trim();
    const lv2 = (await ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'lv2'])).trim();
    assert.deepEqual(await readdir(lv), ['f'], 'copy-up did not follow the link to the host directory');
    assert.equal(await readFile(join(lv, 'f'), 'utf8'), 'inside\n');
    assert.equal(await readFile(join(lv2, 'g'), 'utf8'), 'inside\n');
    await ok(['volume', 'rm', 'lv', 'lv2']);
  });
});
