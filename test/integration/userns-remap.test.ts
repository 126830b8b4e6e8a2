/**
 * User namespace remapping of the rootful daemon (issue 21): a private berthd with
 * `--userns-remap=default`, driven through the real docker CLI (and the API where the CLI
 * refuses first). What is proved on the host, not inside the container:
 *
 * - uid/gid 0 of a container is the first id of berthremap's /etc/subuid range (/proc/PID/uid_map);
 * - a file the container makes lands in its upper dir owned by that id; exec runs in the namespace;
 * - the image's layer is one directory on disk, shared: the container's /bin/busybox is the
 *   layer's inode, seen shifted (idmapped mount), with no per-mapping copy of the layers;
 * - a root-owned host file bind-mounted in cannot be written by the container's root;
 * - `-v SRC:DST:idmap`: the container's root writes files owned by the source's owner on the host;
 * - a named volume belongs to the remapped root and keeps data between containers;
 * - `--userns=host` gives host ids (uid 0 = host 0), inspect shows it; other modes are refused;
 * - commit, build, export and cp give/take the container's ids, not the shifted ones;
 * - a remapped container survives a daemon restart and restarts in its namespace;
 * - `--userns-remap=UID:GID` of an existing user uses that user's ranges and adds none;
 * - a data root behind a 0700 directory, or an unknown user, stops berthd with the reason.
 *
 * berthremap (and its subuid/subgid lines) is removed after only if this test made it.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDaemon, runCommand, type TestDaemon } from '../helpers/daemon.js';
import { cliChecks } from '../helpers/suite.js';

const REMAP_USER = 'berthremap';
/** A uid/gid no account on the machine uses: the "caller" who owns a shared directory. */
const CALLER = { uid: 42_421, gid: 42_431 };

async function hasUser(name: string): Promise<boolean> {
  return (await readFile('/etc/passwd', 'utf8')).split('\n').some((l) => l.startsWith(`${name}:`));
}

async function subRange(file: string, name: string): Promise<{ start: number; count: number } | undefined> {
  for (const l of (await readFile(file, 'utf8')).split('\n')) {
    const f = l.trim().split(':');
    if (f[0] === name && f.length === 3) return { start: Number(f[1]), count: Number(f[2]) };
  }
  return undefined;
}

/** Removes `name`'s lines from a subordinate id file (only called for lines this test caused). */
async function dropLines(file: string, name: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  const kept = text.split('\n').filter((l) => !l.startsWith(`${name}:`));
  if (kept.length !== text.split('\n').length) await writeFile(file, kept.join('\n'));
}

describe('--userns-remap=default (issue 21)', () => {
  let d: TestDaemon;
  let work: string;
  let madeUser = false;
  let uidStart = 0;
  let gidStart = 0;
  const { ok, fails } = cliChecks(() => d, 'docker');

  before(async () => {
    madeUser = !(await hasUser(REMAP_USER));
    d = await createDaemon('userns');
    // mkdtemp's 0700 would stop the remapped root on its way to the rootfs (berthd refuses to start then).
    await chmod(d.dir, 0o711);
    await d.start(['--userns-remap=default']);
    await d.importBusybox();
    work = await mkdtemp(join(tmpdir(), 'berth-test-userns-work-'));
    await chmod(work, 0o711);
    const u = await subRange('/etc/subuid', REMAP_USER);
    const g = await subRange('/etc/subgid', REMAP_USER);
    assert.ok(u && g, 'berthd made berthremap\'s subordinate ranges');
    uidStart = u.start;
    gidStart = g.start;
  });

  after(async () => {
    try {
      await d?.destroy();
    } finally {
      if (work) await rm(work, { recursive: true, force: true });
      if (madeUser && (await hasUser(REMAP_USER))) {
        await runCommand('userdel', [REMAP_USER], {});
        await runCommand('groupdel', [REMAP_USER], {});
        await dropLines('/etc/subuid', REMAP_USER);
        await dropLines('/etc/subgid', REMAP_USER);
      }
    }
  });

  test('a daemon that cannot pass through its data root\'s parents refuses to start, and says why', async () => {
    const bad = await createDaemon('userns-bad');
    try {
      await assert.rejects(bad.start(['--userns-remap=nosuchuser-x']), /no user "nosuchuser-x"/);
      await chmod(bad.dir, 0o700);
      await assert.rejects(bad.start(['--userns-remap=default']), /does not let the remapped root \(uid \d+\) through; allow it 'o\+x'/);
    } finally {
      await bad.destroy();
    }
  });

  test('--userns-remap=UID:GID of an existing user uses its own ranges, and adds none', async () => {
    // A user of this test's own, with a range far from any other, removed after.
    const name = `btu${process.pid.toString(36)}`.slice(0, 16);
    const start = 300_000_000;
    const other = await createDaemon('userns-uid');
    try {
      const add = await runCommand('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', name], {});
      assert.equal(add.code, 0, add.stderr);
      const sub = await runCommand('usermod', ['--add-subuids', `${start}-${start + 65535}`, '--add-subgids', `${start}-${start + 65535}`, name], {});
      assert.equal(sub.code, 0, sub.stderr);
      const uid = (await runCommand('id', ['-u', name], {})).stdout.trim();
      const gid = (await runCommand('id', ['-g', name], {})).stdout.trim();
      const before = await readFile('/etc/subuid', 'utf8');
      await chmod(other.dir, 0o711);
      await other.start([`--userns-remap=${uid}:${gid}`]);
      await other.importBusybox();
      const r = await other.docker(['run', '--rm', '--network', 'none', 'busybox', 'cat', '/proc/self/uid_map']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split(/\s+/).map(Number), [0, start, 65536]);
      assert.equal(await readFile('/etc/subuid', 'utf8'), before, 'nothing added for an operator\'s user');
    } finally {
      await other.destroy();
      await runCommand('userdel', [name], {});
      await runCommand('groupdel', [name], {});
      await dropLines('/etc/subuid', name);
      await dropLines('/etc/subgid', name);
    }
  });

  test('docker info lists userns in SecurityOptions', async () => {
    const opts = JSON.parse(await ok(['info', '--format', '{{json .SecurityOptions}}'])) as string[];
    assert.ok(opts.includes('name=userns'), JSON.stringify(opts));
    const b = await d.berth(['info']);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /^\s+userns$/m, 'berth info lists it too');
    const host = await d.berth(['run', '--rm', '--network', 'none', '--userns=host', 'busybox', 'cat', '/proc/self/uid_map']);
    assert.equal(host.code, 0, host.stderr);
    assert.deepEqual(host.stdout.trim().split(/\s+/).map(Number), [0, 0, 4294967295]);
  });

  test('root in the container is berthremap\'s subuid on the host; its files land in the upper dir with that owner; exec runs inside', async () => {
    const id = (await ok(['run', '-d', '--name', 'remapped', 'busybox', 'sleep', '300'])).trim();
    const pid = Number((await ok(['inspect', '-f', '{{.State.Pid}}', id])).trim());
    assert.ok(pid > 0);
    const uidMap = (await readFile(`/proc/${pid}/uid_map`, 'utf8')).trim().split(/\s+/).map(Number);
    const gidMap = (await readFile(`/proc/${pid}/gid_map`, 'utf8')).trim().split(/\s+/).map(Number);
    assert.deepEqual(uidMap, [0, uidStart, 65536]);
    assert.deepEqual(gidMap, [0, gidStart, 65536]);
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    assert.match(status, new RegExp(`^Uid:\\s+${uidStart}\\s+${uidStart}\\s`, 'm'), 'the process runs as the subuid on the host');
    assert.equal(await ok(['exec', 'remapped', 'sh', '-c', 'id -u; echo made > /made-here']), '0\n');
    const made = await stat(join(d.dataRoot, 'containers', id, 'upper', 'made-here'));
    assert.equal(made.uid, uidStart);
    assert.equal(made.gid, gidStart);
    assert.equal(await ok(['inspect', '-f', '{{.HostConfig.UsernsMode}}', id]), '\n');
  });

  test('layers are shared, not copied: the container\'s /bin/busybox is the layer\'s inode, seen shifted', async () => {
    const pid = Number((await ok(['inspect', '-f', '{{.State.Pid}}', 'remapped'])).trim());
    const inContainer = await stat(`/proc/${pid}/root/bin/busybox`);
    const layersDir = join(d.dataRoot, 'image', 'layers');
    const copies = [];
    for (const l of await readdir(layersDir)) {
      const s = await stat(join(layersDir, l, 'diff', 'bin', 'busybox')).catch(() => undefined);
      if (s) copies.push(s);
    }
    assert.equal(copies.length, 1, 'one copy of the layer on disk');
    // overlayfs reports a lower file's own inode number (its st_dev is the overlay's).
    assert.equal(inContainer.ino, copies[0]!.ino);
    assert.equal(copies[0]!.uid, 0, 'the layer keeps the image\'s owner');
    assert.equal(inContainer.uid, uidStart, 'the container sees it through an idmapped mount');
    // No per-mapping tree (Docker's <data-root>/UID.GID), and nothing but the overlay left mounted.
    assert.deepEqual((await readdir(d.dataRoot)).filter((n) => /^\d+\.\d+$/.test(n)), []);
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(d.dataRoot));
    assert.equal(mounts.length, 1, mounts.join('\n'));
  });

  test('a root-owned host file bind-mounted in cannot be written by the container\'s root', async () => {
    const file = join(work, 'root-owned');
    await writeFile(file, 'host secret\n', { mode: 0o666 });
    await chmod(file, 0o644);
    const r = await d.docker(['run', '--rm', '--network', 'none', '-v', `${file}:/r`, 'busybox', 'sh', '-c', 'ls -ln /r; echo tampered >> /r']);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stdout, /65534\s+65534/, 'host root shows as nobody inside');
    assert.equal(await readFile(file, 'utf8'), 'host secret\n');
  });

  test('-v SRC:DST:idmap: the container\'s root writes files owned by the source\'s owner on the host', async () => {
    const shared = join(work, 'shared');
    await mkdir(shared);
    await chown(shared, CALLER.uid, CALLER.gid);
    await writeFile(join(shared, 'theirs'), 'x');
    await chown(join(shared, 'theirs'), CALLER.uid, CALLER.gid);
    const out = await ok(['run', '--rm', '--network', 'none', '-v', `${shared}:/s:idmap`, 'busybox', 'sh', '-c', 'echo hi > /s/new && ls -ln /s']);
    assert.match(out, /^-\S+\s+1\s+0\s+0\s.*\bnew$/m, 'root inside');
    assert.match(out, /^-\S+\s+1\s+0\s+0\s.*\btheirs$/m, 'the owner\'s files are root\'s inside');
    const st = await stat(join(shared, 'new'));
    assert.deepEqual([st.uid, st.gid], [CALLER.uid, CALLER.gid]);
    // Without idmap, the same directory is someone else's: nobody inside, not writable.
    const plain = await d.docker(['run', '--rm', '--network', 'none', '-v', `${shared}:/s`, 'busybox', 'sh', '-c', 'ls -lnd /s; touch /s/other']);
    assert.notEqual(plain.code, 0);
    assert.match(plain.stdout, /65534\s+65534/);
    // The same with --userns=host: no user namespace, the mount alone maps the owner to root.
    await ok(['run', '--rm', '--network', 'none', '--userns=host', '-v', `${shared}:/s:idmap`, 'busybox', 'sh', '-c', 'echo hi > /s/host-made']);
    const hs = await stat(join(shared, 'host-made'));
    assert.deepEqual([hs.uid, hs.gid], [CALLER.uid, CALLER.gid]);
    await fails(['run', '--rm', '-v', 'vol:/s:idmap', 'busybox', 'true'], /invalid mode: idmap/);
  });

  test('a named volume belongs to the remapped root and keeps data between containers', async () => {
    await ok(['run', '--rm', '--network', 'none', '-v', 'uvol:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f']);
    assert.equal(await ok(['run', '--rm', '--network', 'none', '-v', 'uvol:/data', 'busybox', 'cat', '/data/f']), 'kept\n');
    const mp = (await ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'uvol'])).trim();
    assert.equal((await stat(mp)).uid, uidStart);
    assert.equal((await stat(join(mp, 'f'))).uid, uidStart);
    // Copy-up of the image's content into a new volume keeps the container's view of the owners.
    assert.match(await ok(['run', '--rm', '--network', 'none', '-v', 'uetc:/etc', 'busybox', 'ls', '-ln', '/etc/passwd']), /^-\S+\s+1\s+0\s+0\s/m);
    const etc = (await ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'uetc'])).trim();
    assert.equal((await stat(join(etc, 'passwd'))).uid, uidStart);
  });

  test('--userns=host opts out: uid 0 is host 0, and inspect says so; other modes are refused', async () => {
    const map = await ok(['run', '--rm', '--network', 'none', '--userns=host', 'busybox', 'cat', '/proc/self/uid_map']);
    assert.deepEqual(map.trim().split(/\s+/).map(Number), [0, 0, 4294967295]);
    const id = (await ok(['create', '--userns=host', 'busybox', 'true'])).trim();
    assert.equal(await ok(['inspect', '-f', '{{.HostConfig.UsernsMode}}', id]), 'host\n');
    await ok(['rm', id]);
    // The docker CLI refuses other values itself; the API answers them with a 400 that says why.
    await fails(['run', '--rm', '--userns=private', 'busybox', 'true'], /invalid USER mode/);
    const r = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { UsernsMode: 'keep-id' } });
    assert.equal(r.status, 400);
    assert.match(r.json().message, /invalid --userns: "keep-id"/);
    await fails(['run', '--rm', '--privileged', 'busybox', 'true'], /privileged mode is incompatible with user namespaces/);
    assert.equal(await ok(['run', '--rm', '--network', 'none', '--privileged', '--userns=host', 'busybox', 'id', '-u']), '0\n');
  });

  test('docker cp in and out speaks the container\'s ids, stores the shifted ones', async () => {
    const src = join(work, 'cp-in.txt');
    await writeFile(src, 'copied\n');
    await ok(['cp', src, 'remapped:/cp-in.txt']);
    const id = (await ok(['inspect', '-f', '{{.Id}}', 'remapped'])).trim();
    assert.equal((await stat(join(d.dataRoot, 'containers', id, 'upper', 'cp-in.txt'))).uid, uidStart);
    assert.match(await ok(['exec', 'remapped', 'ls', '-ln', '/cp-in.txt']), /^-\S+\s+1\s+0\s+0\s/);
    const tar = await runCommand('sh', ['-c', `docker cp remapped:/made-here - | tar -tvf -`], { DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config') });
    assert.equal(tar.code, 0, tar.stderr);
    assert.match(tar.stdout, /^-\S+ 0\/0 /m, tar.stdout);
  });

  test('across a daemon restart, a remapped container keeps running and restarts in its namespace', async () => {
    await d.stop();
    await d.start(['--userns-remap=default']);
    assert.equal(await ok(['exec', 'remapped', 'cat', '/made-here']), 'made\n');
    await ok(['restart', '-t', '1', 'remapped']);
    const pid = Number((await ok(['inspect', '-f', '{{.State.Pid}}', 'remapped'])).trim());
    assert.deepEqual((await readFile(`/proc/${pid}/uid_map`, 'utf8')).trim().split(/\s+/).map(Number), [0, uidStart, 65536]);
    assert.equal(await ok(['exec', 'remapped', 'cat', '/made-here']), 'made\n');
  });

  test('a build on a remapped daemon gives layers with the image\'s ids (RUN steps keep the host\'s ids)', async () => {
    const b = await d.berth(['build', '-t', 'userns-built:1', '-'], { input: 'FROM busybox\nRUN echo b > /built && chown 3:4 /built && echo r > /rootbuilt\n', timeoutMs: 120_000 });
    assert.equal(b.code, 0, b.stderr);
    const out = await ok(['run', '--rm', '--network', 'none', '--userns=host', 'userns-built:1', 'ls', '-ln', '/built', '/rootbuilt']);
    assert.match(out, /^-\S+\s+1\s+3\s+4\s.*\/built$/m);
    assert.match(out, /^-\S+\s+1\s+0\s+0\s.*\/rootbuilt$/m);
    // and a remapped container of it sees them as its own
    assert.match(await ok(['run', '--rm', '--network', 'none', 'userns-built:1', 'ls', '-ln', '/rootbuilt']), /^-\S+\s+1\s+0\s+0\s/m);
  });

  test('commit gives a layer with the container\'s ids, not the shifted host ids', async () => {
    await ok(['run', '--name', 'tocommit', '--network', 'none', 'busybox', 'sh', '-c', 'echo c > /committed && chown 7:8 /committed && echo r > /rootfile']);
    await ok(['commit', 'tocommit', 'userns-committed:1']);
    const out = await ok(['run', '--rm', '--network', 'none', '--userns=host', 'userns-committed:1', 'ls', '-ln', '/committed', '/rootfile']);
    assert.match(out, /^-\S+\s+1\s+7\s+8\s.*\/committed$/m);
    assert.match(out, /^-\S+\s+1\s+0\s+0\s.*\/rootfile$/m);
    await ok(['rm', 'tocommit']);
  });
});
