// Rootless berthd (issue 21): an unprivileged user made for this file runs berthd (which re-execs
// itself under rootlesskit) and uses it with berth, the docker CLI and docker-compose.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BERTH_BIN, BERTHD_BIN, runCommand } from '../helpers/daemon.js';
import { startRegistry, type RegistryProc } from '../helpers/registry.js';
import { freePort, get } from '../helpers/http.js';
import { createRootlessDaemon, type RootlessDaemon } from '../helpers/rootless.js';
import { spawnPty } from '../helpers/pty.js';

describe('rootless berthd (issue 21)', () => {
  let d: RootlessDaemon;
  let registry: RegistryProc | undefined;
  let dir = '';
  let home = '';
  let uid = 0;
  let gid = 0;
  let subStart = 0;
  const berth = (args: string[], timeoutMs?: number) => d.berth(args, timeoutMs);
  const docker = (args: string[]) => d.docker(args);
  const api = (method: string, path: string) => d.api(method, path);

  before(async () => {
    const made = await createRootlessDaemon('rootless');
    d = made.daemon;
    ({ dir, home, uid, gid, subStart } = d);
    assert.match(made.setupOutput, new RegExp(`added ${d.user}:\\d+:65536 to /etc/subuid`));
    assert.match(made.setupOutput, new RegExp(`added ${d.user}:\\d+:65536 to /etc/subgid`));
    // No --data-root, --exec-root or -H: the rootless defaults are what is tested.
    await d.start();
    await d.importBusybox();
  });

  after(async () => {
    try {
      await registry?.stop();
    } finally {
      await d?.destroy();
    }
  });

  it('berth rootless check passes for the user; berthd without XDG_RUNTIME_DIR says what it needs', async () => {
    const check = await d.asUser(BERTH_BIN, ['rootless', 'check']);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /ready: as /);
    const noXdg = await runCommand('setpriv', ['--reuid', String(uid), '--regid', String(gid), '--init-groups', '--', 'env', '-i', `HOME=${home}`, 'PATH=/usr/bin:/bin', BERTHD_BIN], {}, { timeoutMs: 30_000 });
    assert.equal(noXdg.code, 1);
    assert.match(noXdg.stderr, /rootless berthd needs XDG_RUNTIME_DIR/);
  });

  it('berth finds the rootless socket, and info says rootless', async () => {
    const v = await berth(['version', '--format', '{{.Server.Version}}']);
    assert.equal(v.code, 0, v.stderr);
    const info = JSON.parse((await api('GET', '/info')).body) as { SecurityOptions: string[]; DockerRootDir: string; MemoryLimit: boolean; Warnings: string[] };
    assert.ok(info.SecurityOptions.includes('name=rootless'), JSON.stringify(info.SecurityOptions));
    assert.equal(info.DockerRootDir, join(home, '.local', 'share', 'berth'));
    assert.equal(info.MemoryLimit, false);
    assert.match(info.Warnings.join('\n'), /rootless/);
  });

  it('runs a container whose root is the user on the host and whose other uids are the user\'s subuid range', async () => {
    const r = await berth(['run', '--rm', 'busybox', 'echo', 'hello rootless']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello rootless\n');
    const id = (await berth(['run', '-d', 'busybox', 'sh', '-c', 'touch /by-root; touch /by-1234; chown 1234:1234 /by-1234; exec sleep 60'])).stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const pid = Number((await berth(['inspect', '-f', '{{.State.Pid}}', id])).stdout.trim());
    assert.ok(pid > 0);
    const map = (await readFile(`/proc/${pid}/uid_map`, 'utf8')).trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
    assert.deepEqual(map, [[0, uid, 1], [1, subStart, 65536]]);
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s`, 'm'), 'container root runs as the user on the host, not as root');
    const upper = join(home, '.local', 'share', 'berth', 'containers', id, 'upper');
    let st = await stat(join(upper, 'by-1234')).catch(() => undefined);
    for (let i = 0; !st && i < 50; i++) {
      await new Promise((res) => setTimeout(res, 100));
      st = await stat(join(upper, 'by-1234')).catch(() => undefined);
    }
    assert.ok(st, 'the file made in the container is in its upper dir');
    assert.equal(st.uid, subStart + 1233, 'uid 1234 in the container is subuid start + 1233 on the host');
    assert.equal(st.gid, subStart + 1233);
    assert.equal((await stat(join(upper, 'by-root'))).uid, uid, 'root in the container is the user on the host');
    assert.equal((await berth(['rm', '-f', id])).code, 0);
  });

  it('cannot write a host file the user cannot write', async () => {
    const file = join(dir, 'root-owned');
    await writeFile(file, 'untouched\n', { mode: 0o644 });
    const r = await berth(['run', '--rm', '-v', `${file}:/f`, 'busybox', 'sh', '-c', 'echo changed > /f']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /Permission denied|Read-only/i);
    assert.equal(await readFile(file, 'utf8'), 'untouched\n');
  });

  it('-it, exec, logs and named volumes', async () => {
    // -it through a pseudo-terminal, as the user.
    const s = spawnPty('setpriv', d.argv(BERTH_BIN, ['run', '--rm', '-it', 'busybox', 'sh']), { env: {} });
    await s.waitFor(/\/ # /);
    s.type('echo tty-$((6*7)); tty\r');
    await s.waitFor(/tty-42[\s\S]*\/dev\/pts\/0/);
    s.type('exit 3\r');
    assert.equal(await s.exit(), 3);

    assert.equal((await berth(['volume', 'create', 'rl-vol'])).code, 0);
    const w = await berth(['run', '--rm', '-v', 'rl-vol:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f && chown 1234 /data/f']);
    assert.equal(w.code, 0, w.stderr);
    const id = (await berth(['run', '-d', '-v', 'rl-vol:/data', 'busybox', 'sh', '-c', 'cat /data/f; echo to-stderr >&2; exec sleep 60'])).stdout.trim();
    const volFile = join(d.dataRoot, 'volumes', 'rl-vol', '_data', 'f');
    assert.equal((await stat(volFile)).uid, subStart + 1233, 'a volume file of uid 1234 belongs to the subuid range on the host');
    const ex = await berth(['exec', id, 'sh', '-c', 'id -u; cat /data/f']);
    assert.equal(ex.stdout, '0\nkept\n');
    let logs = await berth(['logs', id]);
    for (let i = 0; i < 30 && !logs.stderr.includes('to-stderr'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      logs = await berth(['logs', id]);
    }
    assert.equal(logs.stdout, 'kept\n');
    assert.equal(logs.stderr, 'to-stderr\n');
    // No cgroup of its own: top and stats must show this container's processes, not the host's.
    const top = await berth(['top', id]);
    assert.equal(top.code, 0, top.stderr);
    assert.deepEqual(top.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/).slice(7).join(' ')), ['sleep 60']);
    const stats = await berth(['stats', '--no-stream', '--format', '{{.PIDs}}', id]);
    assert.equal(stats.stdout.trim(), '1');
    assert.equal((await berth(['rm', '-f', id])).code, 0);
    assert.equal((await berth(['volume', 'rm', 'rl-vol'])).code, 0);
  });

  it('refuses resource limits, naming them and cgroup v2 delegation', async () => {
    const r = await berth(['run', '--rm', '--memory', '64m', '--pids-limit', '10', 'busybox', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /--memory, --pids-limit/);
    assert.match(r.stderr, /cgroup v2/);
    const ps = await berth(['ps', '-aq']);
    assert.equal(ps.stdout.trim(), '', 'nothing was created');
  });

  it('publishes a port on the host\'s 127.0.0.1 through rootlesskit', async () => {
    const port = await freePort();
    const id = (await berth(['run', '-d', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sh', '-c', 'while true; do printf "HTTP/1.0 200 OK\\r\\n\\r\\nfrom rootless\\n" | nc -l -p 80; done'])).stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    let body = '';
    for (let i = 0; i < 50 && !body; i++) {
      body = await get(port).then((r) => r.body, () => '');
      if (!body) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(body, 'from rootless\n');
    assert.equal((await berth(['rm', '-f', id])).code, 0);
    // The host port is closed again.
    const after = await get(port).then(() => 'open', () => 'closed');
    assert.equal(after, 'closed');
  });

  it('user-defined networks with DNS work inside the rootless namespace', async () => {
    assert.equal((await berth(['network', 'create', 'rlnet'])).code, 0);
    assert.equal((await berth(['run', '-d', '--name', 'rl-peer', '--network', 'rlnet', 'busybox', 'sleep', '60'])).code, 0);
    const r = await berth(['run', '--rm', '--network', 'rlnet', 'busybox', 'nslookup', 'rl-peer']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Name:\s+rl-peer/);
    assert.equal((await berth(['rm', '-f', 'rl-peer'])).code, 0);
    assert.equal((await berth(['network', 'rm', 'rlnet'])).code, 0);
  });

  it('pushes to and pulls from berth\'s registry on the host\'s loopback', async () => {
    registry = await startRegistry(dir);
    const ref = `127.0.0.1:${registry.port}/rootless/busybox:1`;
    assert.equal((await berth(['tag', 'busybox', ref])).code, 0);
    const push = await berth(['push', ref]);
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stdout, /digest: sha256:/);
    // Both names go, so the pull downloads the layer again.
    assert.equal((await berth(['rmi', ref, 'busybox'])).code, 0);
    const pull = await berth(['pull', ref]);
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stdout, /Pull complete/);
    const r = await berth(['run', '--rm', ref, 'echo', 'pulled']);
    assert.equal(r.stdout, 'pulled\n');
    // The daemon reached the host's loopback; a container cannot (slirp4netns --disable-host-loopback).
    const probe = await berth(['run', '--rm', ref, 'sh', '-c', `printf 'GET /v2/ HTTP/1.0\\r\\n\\r\\n' | nc -w 3 10.0.2.2 ${registry.port} && echo REACHED || echo BLOCKED`]);
    assert.equal(probe.stdout.trim().split('\n').pop(), 'BLOCKED', probe.stdout + probe.stderr);
    assert.equal((await berth(['tag', ref, 'busybox'])).code, 0);
  });

  it('builds an image', async () => {
    const ctx = join(home, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo built-rootless > /built && touch /owned && chown 1000:1000 /owned\nCMD ["cat", "/built"]\n');
    await runCommand('chown', ['-R', `${uid}:${gid}`, ctx], {});
    const b = await berth(['build', '-t', 'rl-built', ctx], 120_000);
    assert.equal(b.code, 0, b.stderr + b.stdout);
    const r = await berth(['run', '--rm', 'rl-built']);
    assert.equal(r.stdout, 'built-rootless\n');
    const ls = await berth(['run', '--rm', 'rl-built', 'stat', '-c', '%u:%g', '/owned']);
    assert.equal(ls.stdout.trim(), '1000:1000');
  });

  it('the docker CLI works against the rootless socket', async () => {
    const r = await docker(['run', '--rm', 'busybox', 'echo', 'docker-cli']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'docker-cli\n');
    const info = await docker(['info', '--format', '{{json .SecurityOptions}}']);
    assert.match(info.stdout, /name=rootless/);
  });

  it('docker-compose up and down against the rootless socket', async () => {
    const proj = join(home, 'proj');
    await mkdir(proj);
    const port = await freePort();
    await writeFile(
      join(proj, 'docker-compose.yml'),
      `version: "3"\nservices:\n  web:\n    image: busybox\n    command: ["sh", "-c", "while true; do printf 'HTTP/1.0 200 OK\\\\r\\\\n\\\\r\\\\ncompose\\\\n' | nc -l -p 80; done"]\n    ports: ["127.0.0.1:${port}:80"]\n  peer:\n    image: busybox\n    command: ["sleep", "60"]\n`,
    );
    await runCommand('chown', ['-R', `${uid}:${gid}`, proj], {});
    const compose = (args: string[]) => d.asUser('docker-compose', ['-f', join(proj, 'docker-compose.yml'), '-p', 'rlproj', ...args], { extraEnv: { DOCKER_HOST: `unix://${d.socket}` }, timeoutMs: 120_000 });
    const up = await compose(['up', '-d']);
    assert.equal(up.code, 0, up.stderr);
    let body = '';
    for (let i = 0; i < 50 && !body; i++) {
      body = await get(port).then((r) => r.body, () => '');
      if (!body) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(body, 'compose\n');
    const dns = await berth(['exec', 'rlproj_peer_1', 'nslookup', 'web']);
    assert.equal(dns.code, 0, dns.stderr);
    const down = await compose(['down']);
    assert.equal(down.code, 0, down.stderr);
    assert.equal((await berth(['ps', '-aq'])).stdout.trim(), '');
  });
  it('after a crash, containers left in the ended namespaces are ended at the next start', async () => {
    const id = (await berth(['run', '-d', 'busybox', 'sleep', '600'])).stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    // SIGKILL berthd, rootlesskit and slirp4netns (every process of the user but the container's conmon and init), by PID.
    const procs: Array<{ pid: number; cmd: string }> = [];
    for (const p of await readdir('/proc')) {
      if (!/^\d+$/.test(p)) continue;
      const st = await stat(`/proc/${p}`).catch(() => undefined);
      if (st?.uid !== uid) continue;
      procs.push({ pid: Number(p), cmd: (await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ') });
    }
    const victims = procs.filter((p) => /berthd|rootlesskit|slirp4netns|\/proc\/self\/exe/.test(p.cmd) && !p.cmd.includes('conmon'));
    assert.ok(victims.length >= 3, JSON.stringify(procs));
    for (const v of victims) process.kill(v.pid, 'SIGKILL');
    await new Promise((r) => d.proc!.once('exit', r));
    await d.start();
    const st = await berth(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', id]);
    assert.equal(st.stdout.trim(), 'exited 137');
    assert.match(await readFile(d.logFile, 'utf8'), /ended 1 container\(s\) a previous rootless berthd left running/);
    assert.equal((await berth(['rm', id])).code, 0);
  });
});
