// Rootless berthd (issue 21): an unprivileged user made for this file runs berthd (which re-execs
// itself under rootlesskit) and uses it with berth, the docker CLI and docker-compose.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import http from 'node:http';
import { BERTH_BIN, BERTHD_BIN, TEST_PREFIX, busyboxTar, requireRoot, runCommand, unmountUnder, type RunResult } from '../helpers/daemon.js';
import { startRegistry, type RegistryProc } from '../helpers/registry.js';
import { freePort, get } from '../helpers/http.js';

const USER = `brl${process.pid.toString(36)}`.slice(0, 16);
const PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

describe('rootless berthd (issue 21)', () => {
  let dir = '';
  let home = '';
  let run = '';
  let uid = 0;
  let gid = 0;
  let subStart = 0;
  let daemon: ChildProcess | undefined;
  let registry: RegistryProc | undefined;
  let userMade = false;
  const socket = () => join(run, 'berth', 'berth.sock');
  const env = () => ({ HOME: home, XDG_RUNTIME_DIR: run, PATH: PATH_ENV, DOCKER_CONFIG: join(home, '.docker'), DOCKER_CLI_HINTS: 'false' });

  /** Runs a command as the test user, with only the environment a login would give. */
  function asUser(cmd: string, args: string[], options: { timeoutMs?: number; extraEnv?: Record<string, string> } = {}): Promise<RunResult> {
    const e = Object.entries({ ...env(), ...options.extraEnv }).map(([k, v]) => `${k}=${v}`);
    return runCommand('setpriv', ['--reuid', String(uid), '--regid', String(gid), '--init-groups', '--', 'env', '-i', ...e, cmd, ...args], {}, { timeoutMs: options.timeoutMs ?? 60_000 });
  }
  const berth = (args: string[], timeoutMs?: number) => asUser(BERTH_BIN, args, { timeoutMs });
  const docker = (args: string[]) => asUser('docker', args, { extraEnv: { DOCKER_HOST: `unix://${socket()}` } });

  function api(method: string, path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: socket(), method, path }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  before(async () => {
    requireRoot();
    dir = await mkdtemp(join(tmpdir(), `${TEST_PREFIX}rootless-`));
    await chmod(dir, 0o755);
    home = join(dir, 'home');
    run = join(dir, 'run');
    // A system user gets no subordinate ids from useradd: `berth rootless setup` must add them.
    const made = await runCommand('useradd', ['--system', '--no-create-home', '--home-dir', home, '--shell', '/usr/sbin/nologin', USER], {});
    assert.equal(made.code, 0, made.stderr);
    userMade = true;
    uid = Number((await runCommand('id', ['-u', USER], {})).stdout.trim());
    gid = Number((await runCommand('id', ['-g', USER], {})).stdout.trim());
    const setup = await runCommand(BERTH_BIN, ['rootless', 'setup', '--user', USER], {}, { timeoutMs: 300_000 });
    assert.equal(setup.code, 0, `berth rootless setup failed:\n${setup.stdout}${setup.stderr}`);
    assert.match(setup.stdout, new RegExp(`added ${USER}:\\d+:65536 to /etc/subuid`));
    const line = (await readFile('/etc/subuid', 'utf8')).split('\n').find((l) => l.startsWith(`${USER}:`));
    assert.ok(line, 'the user has a /etc/subuid range');
    subStart = Number(line.split(':')[1]);
    for (const d of [home, run]) {
      await mkdir(d, { mode: 0o700 });
      await chown(d, uid, gid);
    }
    await copyFile(await busyboxTar(), join(home, 'busybox.tar'));
    await chown(join(home, 'busybox.tar'), uid, gid);
    const fd = openSync(join(dir, 'berthd.log'), 'a');
    // No --data-root, --exec-root or -H: the rootless defaults are what is tested.
    daemon = spawn('setpriv', ['--reuid', String(uid), '--regid', String(gid), '--init-groups', '--', 'env', '-i', ...Object.entries(env()).map(([k, v]) => `${k}=${v}`), BERTHD_BIN], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const up = await api('GET', '/_ping').then((r) => r.status === 200, () => false);
      if (up) break;
      if (daemon.exitCode !== null || Date.now() > deadline) throw new Error(`rootless berthd did not come up: ${await readFile(join(dir, 'berthd.log'), 'utf8')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const imported = await berth(['import', '--change', 'CMD ["sh"]', join(home, 'busybox.tar'), 'busybox:latest']);
    assert.equal(imported.code, 0, imported.stderr);
  });

  after(async () => {
    try {
      if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
        const list = await api('GET', '/containers/json?all=1').catch(() => undefined);
        for (const c of list?.status === 200 ? (JSON.parse(list.body) as { Id: string }[]) : []) await api('DELETE', `/containers/${c.Id}?force=1`).catch(() => undefined);
        const exited = new Promise((r) => daemon!.once('exit', r));
        daemon.kill('SIGTERM');
        const t = setTimeout(() => daemon!.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
      }
      await registry?.stop();
    } finally {
      // Anything still running as the test user (a conmon of a container that outlived a failed
      // test, rootlesskit's slirp4netns) is ended by its PID; nothing else runs as this user.
      if (uid) {
        for (let round = 0; round < 3; round++) {
          const pids: number[] = [];
          for (const p of await readdir('/proc')) {
            if (!/^\d+$/.test(p)) continue;
            const st = await stat(`/proc/${p}`).catch(() => undefined);
            if (st?.uid === uid) pids.push(Number(p));
          }
          if (!pids.length) break;
          for (const p of pids) {
            try {
              process.kill(p, 'SIGKILL');
            } catch {
              /* gone */
            }
          }
          await new Promise((r) => setTimeout(r, 300));
        }
      }
      if (dir) {
        await unmountUnder(dir);
        await rm(dir, { recursive: true, force: true });
      }
      if (userMade) {
        await runCommand('userdel', [USER], {});
        // userdel drops the subordinate ranges too; make sure (a range must not outlive its user).
        for (const f of ['/etc/subuid', '/etc/subgid']) {
          const text = await readFile(f, 'utf8').catch(() => '');
          if (text.split('\n').some((l) => l.startsWith(`${USER}:`))) await writeFile(f, text.split('\n').filter((l) => !l.startsWith(`${USER}:`)).join('\n'));
        }
      }
    }
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
    const compose = (args: string[]) => asUser('docker-compose', ['-f', join(proj, 'docker-compose.yml'), '-p', 'rlproj', ...args], { extraEnv: { DOCKER_HOST: `unix://${socket()}` }, timeoutMs: 120_000 });
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
});
