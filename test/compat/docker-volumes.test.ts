import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestDaemon } from '../helpers/daemon.js';
import { cliChecks, daemonWithWorkDir } from '../helpers/suite.js';

// The real docker CLI against berthd: volumes, mounts, cp, diff, export (issue 7).
describe('docker volumes, mounts, cp, diff and export against berthd', () => {
  const suite = daemonWithWorkDir('compat-vol', 'berth-test-compat-vol-work-');
  let d: TestDaemon;
  let work: string;
  before(() => {
    ({ d, work } = suite);
  });
  const { ok } = cliChecks(() => d, 'docker');


  test('docker volume create/ls/inspect/rm', async () => {
    assert.equal((await ok(['volume', 'create', '--label', 'team=a', 'cv1'])).trim(), 'cv1');
    await ok(['volume', 'create', 'cv2']);
    const ls = await ok(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}']);
    assert.match(ls, /^local cv1$/m);
    assert.match(ls, /^local cv2$/m);
    assert.equal((await ok(['volume', 'ls', '-q', '--filter', 'label=team=a'])).trim(), 'cv1');
    const [v] = JSON.parse(await ok(['volume', 'inspect', 'cv1']));
    assert.equal(v.Name, 'cv1');
    assert.equal(v.Driver, 'local');
    assert.equal(v.Scope, 'local');
    assert.deepEqual(v.Labels, { team: 'a' });
    assert.match(v.Mountpoint, /\/volumes\/cv1\/_data$/);
    assert.ok(!Number.isNaN(Date.parse(v.CreatedAt)));
    await ok(['volume', 'rm', 'cv1', 'cv2']);
    const gone = await d.docker(['volume', 'inspect', 'cv1']);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /no such volume/);
    const bad = await d.docker(['volume', 'create', 'a/b']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /includes invalid characters for a local volume name/);
  });

  test('docker run -v: a named volume keeps data across containers; rm of a used volume is a conflict', async () => {
    await ok(['run', '--rm', '--network', 'none', '-v', 'cdata:/data', 'busybox', 'sh', '-c', 'echo one > /data/f']);
    await ok(['run', '--network', 'none', '--name', 'cuser', '-v', 'cdata:/data', 'busybox', 'sh', '-c', 'echo two >> /data/f']);
    assert.equal(await ok(['run', '--rm', '--network', 'none', '-v', 'cdata:/data:ro', 'busybox', 'cat', '/data/f']), 'one\ntwo\n');
    const ro = await d.docker(['run', '--rm', '--network', 'none', '-v', 'cdata:/data:ro', 'busybox', 'sh', '-c', 'echo x > /data/g']);
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /Read-only file system/);
    const inUse = await d.docker(['volume', 'rm', 'cdata']);
    assert.notEqual(inUse.code, 0);
    assert.match(inUse.stderr, /volume is in use/);
    const [c] = JSON.parse(await ok(['inspect', 'cuser']));
    assert.equal(c.Mounts.length, 1);
    assert.equal(c.Mounts[0].Type, 'volume');
    assert.equal(c.Mounts[0].Name, 'cdata');
    assert.equal(c.Mounts[0].Destination, '/data');
    assert.equal(c.Mounts[0].RW, true);
    await ok(['rm', 'cuser']);
    await ok(['volume', 'rm', 'cdata']);
  });

  test('docker run --mount: bind, volume and tmpfs; a missing bind source is refused', async () => {
    const src = join(work, 'bindsrc');
    await mkdir(src);
    await writeFile(join(src, 'hello'), 'from host\n');
    const out = await ok([
      'run', '--rm', '--network', 'none',
      '--mount', `type=bind,source=${src},target=/b,readonly`,
      '--mount', 'type=volume,source=cmv,target=/v',
      '--mount', 'type=tmpfs,target=/t,tmpfs-size=1m',
      'busybox', 'sh', '-c', 'cat /b/hello; touch /b/x 2>/dev/null || echo robind; grep " /t " /proc/mounts | cut -d" " -f3; echo v > /v/f; cat /v/f',
    ]);
    assert.equal(out, 'from host\nrobind\ntmpfs\nv\n');
    const missing = await d.docker(['run', '--rm', '--network', 'none', '--mount', `type=bind,source=${join(work, 'nope')},target=/x`, 'busybox', 'true']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /invalid mount config for type "bind": bind source path does not exist/);
    await ok(['volume', 'rm', 'cmv']);
  });

  test('docker volume prune removes anonymous volumes only, unless --all', async () => {
    await ok(['volume', 'create', 'keepme']);
    await ok(['run', '--network', 'none', '--name', 'anon', '-v', '/anon', 'busybox', 'true']);
    const [c] = JSON.parse(await ok(['inspect', 'anon']));
    const anon = c.Mounts[0].Name as string;
    assert.match(anon, /^[0-9a-f]{64}$/);
    await ok(['rm', 'anon']);
    const pruned = await ok(['volume', 'prune', '-f']);
    assert.match(pruned, new RegExp(anon));
    assert.doesNotMatch(pruned, /keepme/);
    assert.match(await ok(['volume', 'ls', '-q']), /keepme/);
    const all = await ok(['volume', 'prune', '-af']);
    assert.match(all, /keepme/);
    assert.equal((await ok(['volume', 'ls', '-q'])).trim(), '');
  });

  test('docker run -v /host:/p, --tmpfs, --volumes-from, --read-only, rm -v', async () => {
    const host = join(work, 'hb');
    await mkdir(host);
    await ok(['run', '--rm', '--network', 'none', '-v', `${host}:/hb`, 'busybox', 'sh', '-c', 'echo w > /hb/w']);
    assert.equal(await readFile(join(host, 'w'), 'utf8'), 'w\n');
    assert.match(await ok(['run', '--rm', '--network', 'none', '--tmpfs', '/tt:size=1m', 'busybox', 'grep', ' /tt ', '/proc/mounts']), /^tmpfs \/tt tmpfs /m);
    await ok(['run', '--network', 'none', '--name', 'vfsrc', '-v', '/anonx', 'busybox', 'sh', '-c', 'echo from > /anonx/f']);
    assert.equal(await ok(['run', '--rm', '--network', 'none', '--volumes-from', 'vfsrc:ro', 'busybox', 'cat', '/anonx/f']), 'from\n');
    const ro = await d.docker(['run', '--rm', '--network', 'none', '--read-only', 'busybox', 'touch', '/x']);
    assert.notEqual(ro.code, 0);
    const [c] = JSON.parse(await ok(['inspect', 'vfsrc']));
    const anon = c.Mounts[0].Name as string;
    await ok(['rm', '-v', 'vfsrc']);
    const gone = await d.docker(['volume', 'inspect', anon]);
    assert.notEqual(gone.code, 0, 'docker rm -v removed the anonymous volume');
    await ok(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m', 'ctmp']);
    assert.match(await ok(['run', '--rm', '--network', 'none', '-v', 'ctmp:/c', 'busybox', 'grep', ' /c ', '/proc/mounts']), /^tmpfs \/c tmpfs /m);
    assert.equal((await ok(['volume', 'ls', '-q', '--filter', 'dangling=true'])).trim(), 'ctmp');
    await ok(['volume', 'rm', 'ctmp']);
  });

  test('docker cp with -, and through a planted /escape -> / symlink, stays in the container', async () => {
    const secret = join(work, 'secret');
    await writeFile(secret, 'host\n');
    await ok(['run', '--network', 'none', '--name', 'cesc', 'busybox', 'sh', '-c', `ln -s / /escape && mkdir -p ${work} && echo ctr > ${secret}`]);
    const got = join(work, 'got');
    await ok(['cp', `cesc:/escape${secret}`, got]);
    assert.equal(await readFile(got, 'utf8'), 'ctr\n');
    await writeFile(join(work, 'pl'), 'pl\n');
    await ok(['cp', join(work, 'pl'), `cesc:/escape${work}/planted`]);
    assert.ok(!(await readdir(work)).includes('planted'), 'nothing written on the host');
    const t = await d.docker(['cp', `cesc:${work}/planted`, '-']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /^planted\0/);
    assert.equal(await readFile(secret, 'utf8'), 'host\n');
    await ok(['rm', 'cesc']);
  });

  test('docker cp both ways, docker diff and docker export', async () => {
    await ok(['run', '--network', 'none', '--name', 'ccp', 'busybox', 'sh', '-c', 'mkdir -p /srv/d && echo in > /srv/d/f && rm /bin/vi']);
    const dest = join(work, 'out');
    await ok(['cp', 'ccp:/srv/d', dest]);
    assert.equal(await readFile(join(dest, 'f'), 'utf8'), 'in\n');
    await writeFile(join(work, 'up.txt'), 'up\n');
    await ok(['cp', join(work, 'up.txt'), 'ccp:/srv/']);
    await ok(['start', '-a', 'ccp']).catch(() => {});
    const back = join(work, 'back.txt');
    await ok(['cp', 'ccp:/srv/up.txt', back]);
    assert.equal(await readFile(back, 'utf8'), 'up\n');
    const diff = await ok(['diff', 'ccp']);
    assert.match(diff, /^A \/srv$/m);
    assert.match(diff, /^A \/srv\/d\/f$/m);
    assert.match(diff, /^D \/bin\/vi$/m);
    assert.match(diff, /^C \/bin$/m);
    const tarFile = join(work, 'export.tar');
    await ok(['export', '-o', tarFile, 'ccp']);
    const { execFileSync } = await import('node:child_process');
    const list = execFileSync('tar', ['-tf', tarFile]).toString();
    assert.match(list, /^bin\/busybox$/m);
    assert.match(list, /^srv\/d\/f$/m);
    assert.doesNotMatch(list, /^bin\/vi$/m);
    await ok(['rm', 'ccp']);
    assert.ok((await readdir(work)).length > 0);
  });
});
