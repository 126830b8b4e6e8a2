/**
 * Issue 23: `berth container move NAME --to CONTEXT` between two berthds, each in a network
 * namespace of its own, reached over TCP with mutual TLS by context (the set-up of
 * remote-tls.test.ts). A container with a changed file, a deleted file, a named volume with
 * data, an anonymous volume, a user network alias and a published port moves from host a to
 * host b: b serves the same content on its own address, a has nothing left of it. Host a is
 * then killed (SIGKILL, BERTH_FAULT=move-import-volume) while a volume streams back to it: b's
 * container is intact and running again, and a, restarted, has no half container, volume or
 * staging file. The move back then succeeds. Checkpoints are refused with CRIU's reason, through
 * the berth CLI and the real docker CLI.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { BERTH_BIN, createDaemon, requireRoot, runCommand, TEST_PREFIX, type RunResult, type TestDaemon } from '../helpers/daemon.js';

interface Host {
  name: string;
  netns: string;
  vethHost: string;
  vethPeer: string;
  ip: string;
  gatewayIp: string;
  daemon?: TestDaemon;
  args?: string[];
}

async function sh(cmd: string, args: string[]): Promise<RunResult> {
  const r = await runCommand(cmd, args, {});
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

/** /30s in 10.231.0.0/16 that no route on this host touches (after remote-tls.test.ts's range). */
async function freeSubnets(count: number): Promise<number[]> {
  const routes = (await sh('ip', ['-4', 'route', 'show', 'table', 'all'])).stdout + (await sh('ip', ['-4', 'addr'])).stdout;
  const out: number[] = [];
  for (let n = 150 + (process.pid % 50); out.length < count && n < 254; n++) {
    if (!routes.includes(`10.231.${n}.`) && !/10\.231\.0\.0\/16|10\.0\.0\.0\/8/.test(routes)) out.push(n);
  }
  if (out.length < count) throw new Error('no free 10.231.x.0/30 subnet on this host');
  return out;
}

function httpGet(host: string, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Polls an HTTP GET until it answers (the published port's proxy comes up with the container). */
async function fetchWhenUp(host: string, port: number, path: string): Promise<{ status: number; body: string }> {
  let last: unknown;
  for (let i = 0; i < 50; i++) {
    try {
      return await httpGet(host, port, path);
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`http://${host}:${port}${path} never answered: ${String(last)}`);
}

describe('berth container move between daemons over mutual TLS (issue 23)', { timeout: 300_000 }, () => {
  const tag = String(process.pid % 10000);
  const hosts: Host[] = [];
  let dir: string;
  let certs: string;
  let config: string;
  const PORT = 2376;
  const WEB_PORT = 18000 + (process.pid % 1000);

  const berth = (args: string[]): Promise<RunResult> =>
    runCommand(BERTH_BIN, args, { BERTH_HOST: '', DOCKER_HOST: '', DOCKER_CONFIG: config, DOCKER_TLS_VERIFY: '', DOCKER_CERT_PATH: '' }, { timeoutMs: 120_000 });
  const docker = (args: string[]): Promise<RunResult> =>
    runCommand('docker', args, { BERTH_HOST: '', DOCKER_HOST: '', DOCKER_CONFIG: config, DOCKER_CLI_HINTS: 'false', DOCKER_TLS_VERIFY: '', DOCKER_CERT_PATH: '' }, { timeoutMs: 60_000 });
  const tcp = (h: Host): string => `tcp://${h.ip}:${PORT}`;
  const on = (h: Host, args: string[]) => berth(['--context', h.name, ...args]);
  const ok = async (h: Host, args: string[]): Promise<string> => {
    const r = await on(h, args);
    assert.equal(r.code, 0, `${h.name}: berth ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const names = async (h: Host): Promise<string[]> => ((await h.daemon!.api('GET', '/containers/json?all=1')).json() as Array<{ Names: string[] }>).map((c) => c.Names[0]!.slice(1)).sort();
  const volumeNames = async (h: Host): Promise<string[]> => (((await h.daemon!.api('GET', '/volumes')).json().Volumes ?? []) as Array<{ Name: string }>).map((v) => v.Name).sort();
  const inspect = async (h: Host, ref: string) => (await h.daemon!.api('GET', `/containers/${ref}/json`)).json();
  const start = async (h: Host, env: Record<string, string> = {}): Promise<void> => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      await h.daemon!.start(h.args!, { prefix: ['nsenter', `--net=/run/netns/${h.netns}`] });
    } finally {
      for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
    }
  };

  before(async () => {
    requireRoot();
    dir = await mkdtemp(join(tmpdir(), `${TEST_PREFIX}move-`));
    config = join(dir, 'docker-config');
    certs = join(dir, 'tls');
    const subnets = await freeSubnets(2);
    for (const [i, n] of subnets.entries()) {
      const letter = 'ab'[i]!;
      hosts.push({ name: `mv-${letter}`, netns: `${TEST_PREFIX}mv-${letter}-${tag}`, vethHost: `bmv${tag}${letter}`, vethPeer: `bmv${tag}${letter}p`, ip: `10.231.${n}.2`, gatewayIp: `10.231.${n}.1` });
    }
    for (const h of hosts) {
      await sh('ip', ['netns', 'add', h.netns]);
      await sh('ip', ['link', 'add', h.vethHost, 'type', 'veth', 'peer', 'name', h.vethPeer]);
      await sh('ip', ['link', 'set', h.vethPeer, 'netns', h.netns]);
      await sh('ip', ['addr', 'add', `${h.gatewayIp}/30`, 'dev', h.vethHost]);
      await sh('ip', ['link', 'set', h.vethHost, 'up']);
      await sh('ip', ['-n', h.netns, 'addr', 'add', `${h.ip}/30`, 'dev', h.vethPeer]);
      await sh('ip', ['-n', h.netns, 'link', 'set', h.vethPeer, 'up']);
      await sh('ip', ['-n', h.netns, 'link', 'set', 'lo', 'up']);
    }
    const init = await runCommand(BERTH_BIN, ['tls', 'init', '--hostname', 'localhost', ...hosts.flatMap((h) => ['--ip', h.ip]), certs], {});
    assert.equal(init.code, 0, init.stderr);
    for (const h of hosts) {
      h.daemon = await createDaemon(`move-${h.name}`);
      // Host a advertises experimental features (as `dockerd --experimental`): the docker CLI then offers `checkpoint`.
      h.args = ['-H', tcp(h), '--tlsverify', '--tlscacert', join(certs, 'ca.pem'), '--tlscert', join(certs, 'server-cert.pem'), '--tlskey', join(certs, 'server-key.pem'), ...(h === hosts[0] ? ['--experimental'] : [])];
      await start(h);
      await h.daemon.importBusybox();
      const c = await berth(['context', 'create', h.name, '--docker', `host=${tcp(h)},ca=${join(certs, 'ca.pem')},cert=${join(certs, 'cert.pem')},key=${join(certs, 'key.pem')}`]);
      assert.equal(c.code, 0, c.stderr);
    }
  });

  after(async () => {
    if (process.env.BERTH_TEST_LOGS) {
      for (const h of hosts) process.stderr.write(`--- ${h.name} berthd log\n${(await h.daemon?.log()) ?? ''}\n`);
    }
    for (const h of hosts) {
      if (h.daemon?.proc && h.daemon.proc.exitCode === null && h.daemon.proc.signalCode === null) {
        for (const v of await volumeNames(h).catch(() => [] as string[])) await h.daemon.api('DELETE', `/volumes/${v}?force=1`).catch(() => undefined);
      }
      await h.daemon?.destroy().catch(() => undefined);
      await runCommand('ip', ['netns', 'del', h.netns], {});
      await runCommand('ip', ['link', 'del', h.vethHost], {});
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('set-up on host a: an image of its own, a user network, a container with changes, volumes and a port', async () => {
    const [a] = hosts as [Host, Host];
    // A layer host b does not have (busybox's own layer it has: both imported the same tar).
    await ok(a, ['run', '--name', `mk-${tag}`, 'busybox', 'sh', '-c', 'mkdir -p /www && echo from-image > /www/index.html && echo doomed > /etc/doomed && echo original > /etc/motd']);
    await ok(a, ['commit', `mk-${tag}`, 'moveapp:1']);
    await ok(a, ['rm', `mk-${tag}`]);
    await ok(a, ['network', 'create', 'appnet']);
    await ok(a, ['run', '-d', '--name', 'web', '--network', 'appnet', '--network-alias', 'webalias', '-p', `${WEB_PORT}:8080`, '-v', 'webdata:/data', '-v', '/anon', '-e', 'FOO=bar', '-l', 'tier=front', '--restart', 'unless-stopped', '--memory', '64m', '--pids-limit', '99', '--health-cmd', 'test -f /www/index.html', '--health-interval', '30s', '-u', '0:0', '-w', '/www', 'moveapp:1', 'httpd', '-f', '-p', '8080', '-h', '/www']);
    // The writable layer: a changed file, a new file, a deleted image file; data in both volumes.
    await ok(a, ['exec', 'web', 'sh', '-c', 'echo moved-content > /www/index.html && echo changed > /etc/motd && rm /etc/doomed && echo voldata > /data/v.txt && dd if=/dev/urandom of=/data/big bs=1M count=4 2>/dev/null && echo anon > /anon/a.txt']);
    const got = await fetchWhenUp(a.ip, WEB_PORT, '/index.html');
    assert.equal(got.body, 'moved-content\n');
  });

  test('--dry-run lists what would be sent with byte counts and changes nothing', async () => {
    const [a, b] = hosts as [Host, Host];
    const out = await ok(a, ['container', 'move', 'web', '--to', b.name, '--with-volumes', '--dry-run']);
    assert.match(out, /^layer\s+[0-9a-f]{12}\s+\S+\s+sha256:/m, out);
    assert.equal(out.match(/^layer /gm)?.length, 1, `only moveapp's own layer travels: ${out}`);
    assert.match(out, /^Image layers the target already has: 1$/m);
    assert.match(out, /^writable layer\s+rw\s/m);
    assert.match(out, /^volume\s+vol-\d\s+\S+\s+volume webdata at \/data$/m);
    assert.match(out, /^volume\s+vol-\d\s+\S+\s+anonymous volume at \/anon$/m);
    const total = /^Would send \S+ \((\d+) bytes\): image (\d+), writable layer (\d+), volumes (\d+)$/m.exec(out);
    assert.ok(total, out);
    assert.ok(Number(total[4]) > 4 * 1024 * 1024, `the volumes hold 4 MiB: ${out}`);
    assert.equal((await inspect(a, 'web')).State.Running, true);
    assert.deepEqual(await names(b), []);
  });

  test('a container of the same name on the target: refused, nothing changed on either side', async () => {
    const [a, b] = hosts as [Host, Host];
    await ok(b, ['create', '--name', 'web', 'busybox', 'true']);
    const r = await on(a, ['container', 'move', 'web', '--to', b.name]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /already has a container named "web"/);
    assert.equal((await inspect(a, 'web')).State.Running, true);
    await ok(b, ['rm', 'web']);
    assert.deepEqual(await names(b), []);
  });

  test('move a → b: same name, config, files, volumes, network alias and port; the source is gone', async () => {
    const [a, b] = hosts as [Host, Host];
    const before = await inspect(a, 'web');
    const out = await ok(a, ['container', 'move', 'web', '--to', b.name, '--with-volumes', '--start']);
    assert.match(out, /^Stopping web on the source$/m);
    assert.match(out, /^Created network appnet on the target$/m);
    assert.match(out, /: Already exists$/m, 'busybox\'s layer is not sent');
    assert.match(out, /^writable layer: Sent /m);
    assert.match(out, /^volume webdata \/data: Sent /m);
    assert.match(out, /^Moved web to mv-b \([0-9a-f]{64}\): sent /m);

    assert.deepEqual(await names(a), [], 'the source container is removed');
    const after = await inspect(b, 'web');
    assert.equal(after.State.Running, true);
    for (const k of ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'Labels', 'Hostname', 'User', 'ExposedPorts', 'Volumes', 'Healthcheck']) assert.deepEqual(after.Config[k], before.Config[k], k);
    for (const k of ['Memory', 'PidsLimit', 'Binds']) assert.deepEqual(after.HostConfig[k], before.HostConfig[k], k);
    assert.equal(after.Config.User, '0:0');
    assert.equal(after.HostConfig.Memory, 64 * 1024 * 1024);
    assert.equal(after.Config.Image, 'moveapp:1');
    assert.deepEqual(after.HostConfig.RestartPolicy, before.HostConfig.RestartPolicy);
    assert.deepEqual(after.HostConfig.PortBindings, before.HostConfig.PortBindings);
    assert.ok(after.NetworkSettings.Networks.appnet.Aliases.includes('webalias'));

    // Served on b's own address; files changed, added and deleted as on a.
    assert.equal((await fetchWhenUp(b.ip, WEB_PORT, '/index.html')).body, 'moved-content\n');
    const files = await ok(b, ['exec', 'web', 'sh', '-c', 'cat /etc/motd /data/v.txt /anon/a.txt; test -e /etc/doomed && echo doomed-still-there; wc -c < /data/big']);
    assert.equal(files, `changed\nvoldata\nanon\n${4 * 1024 * 1024}\n`);
    assert.ok((await volumeNames(b)).includes('webdata'));
    // The alias answers on b's appnet.
    await ok(b, ['run', '--rm', '--network', 'appnet', 'busybox', 'nslookup', 'webalias']);
    assert.equal((await readdir(join(b.daemon!.dataRoot, 'move', 'imports'))).length, 0);
    assert.equal((await readdir(join(a.daemon!.dataRoot, 'move', 'exports'))).length, 0);
  });

  test('the target killed while a volume streams: the source is intact and running, the target clean', async () => {
    const [a, b] = hosts as [Host, Host];
    // a no longer has web (nor its volume); its named volume is still there from the first move's source side.
    await ok(a, ['volume', 'rm', 'webdata']);
    await a.daemon!.stop();
    await start(a, { BERTH_FAULT: 'move-import-volume' });
    const died = new Promise<string | null>((r) => a.daemon!.proc!.once('exit', (_c, sig) => r(sig)));
    const r = await on(b, ['container', 'move', 'web', '--to', a.name, '--with-volumes']);
    assert.notEqual(r.code, 0, r.stdout);
    assert.equal(await Promise.race([died, new Promise<string>((res) => setTimeout(() => res('still running'), 20_000))]), 'SIGKILL');

    // The source: still there, running again, same content.
    const web = await inspect(b, 'web');
    assert.equal(web.State.Running, true, 'the source is restarted');
    assert.equal((await fetchWhenUp(b.ip, WEB_PORT, '/index.html')).body, 'moved-content\n');
    assert.equal((await readdir(join(b.daemon!.dataRoot, 'move', 'exports'))).length, 0, 'the export was discarded');

    // The target, restarted: no half container, no volume, no staging files.
    await a.daemon!.cleanupClaims();
    await start(a);
    assert.deepEqual(await names(a), []);
    assert.ok(!(await volumeNames(a)).includes('webdata'), `${await volumeNames(a)}`);
    assert.equal((await readdir(join(a.daemon!.dataRoot, 'move', 'imports'))).length, 0);
    assert.match(await a.daemon!.log(), /removed what interrupted container moves left/);
  });

  test('move back b → a: served on a again, b has nothing left', async () => {
    const [a, b] = hosts as [Host, Host];
    const out = await ok(b, ['container', 'move', 'web', '--to', a.name, '--with-volumes', '--start']);
    assert.match(out, /^Moved web to mv-a /m);
    assert.match(out, /The target already has image/);
    assert.deepEqual(await names(b), []);
    assert.equal((await fetchWhenUp(a.ip, WEB_PORT, '/index.html')).body, 'moved-content\n');
    assert.equal(await ok(a, ['exec', 'web', 'cat', '/data/v.txt']), 'voldata\n');
  });

  test('Ctrl-C during a move: exit 130, the source back as it was, nothing left on the target', async () => {
    const [a, b] = hosts as [Host, Host];
    // The source side of the move back left b's copy of the named volume: gone, so the import would not refuse it.
    await ok(b, ['volume', 'rm', 'webdata']);
    await ok(a, ['exec', 'web', 'dd', 'if=/dev/urandom', 'of=/data/big2', 'bs=1M', 'count=64']);
    const child = spawn(BERTH_BIN, ['--context', a.name, 'container', 'move', 'web', '--to', b.name, '--with-volumes'], {
      env: { ...process.env, BERTH_HOST: '', DOCKER_HOST: '', DOCKER_CONFIG: config },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    for (let i = 0; i < 200 && !/Stopping web/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /Stopping web on the source/);
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGINT');
    assert.equal(await exited, 130, `${out}${err}`);
    assert.match(err, /move of web interrupted: it is back on the source as it was, nothing is left on mv-b/);
    assert.equal((await inspect(a, 'web')).State.Running, true);
    assert.equal((await fetchWhenUp(a.ip, WEB_PORT, '/index.html')).body, 'moved-content\n');
    assert.deepEqual(await names(b), []);
    assert.ok(!(await volumeNames(b)).includes('webdata'));
    assert.equal((await readdir(join(b.daemon!.dataRoot, 'move', 'imports'))).length, 0);
    let left = -1;
    for (let i = 0; i < 100 && left !== 0; i++) {
      left = (await readdir(join(a.daemon!.dataRoot, 'move', 'exports'))).length;
      if (left) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(left, 0, 'the export the source was writing is removed');
    await ok(a, ['exec', 'web', 'rm', '/data/big2']);
  });

  test('the target killed in the middle of its commit: its next start removes the staging container and the volume it made', async () => {
    const [a, b] = hosts as [Host, Host];
    await b.daemon!.stop();
    await start(b, { BERTH_FAULT: 'move-import-before-rename' });
    const died = new Promise<string | null>((r) => b.daemon!.proc!.once('exit', (_c, sig) => r(sig)));
    const r = await on(a, ['container', 'move', 'web', '--to', b.name, '--with-volumes']);
    assert.notEqual(r.code, 0, r.stdout);
    assert.equal(await Promise.race([died, new Promise<string>((res) => setTimeout(() => res('still running'), 20_000))]), 'SIGKILL');
    assert.equal((await inspect(a, 'web')).State.Running, true, 'the source is restarted');
    // What the commit had made when it died: the volume, the container under its staging name, the journal.
    const sessions = await readdir(join(b.daemon!.dataRoot, 'move', 'imports'));
    assert.equal(sessions.length, 1);
    const journal = JSON.parse(await readFile(join(b.daemon!.dataRoot, 'move', 'imports', sessions[0]!, 'commit.json'), 'utf8'));
    assert.deepEqual(journal.volumes, ['webdata']);
    assert.match(journal.container, /^[0-9a-f]{64}$/);
    await b.daemon!.cleanupClaims();
    await start(b);
    assert.deepEqual(await names(b), [], 'no staging container is left');
    assert.ok(!(await volumeNames(b)).includes('webdata'));
    assert.deepEqual(await readdir(join(b.daemon!.dataRoot, 'move', 'imports')), []);
  });

  test('refused before anything changes: a --rm container, one sharing another\'s network namespace', async () => {
    const [a, b] = hosts as [Host, Host];
    await ok(a, ['run', '-d', '--rm', '--name', 'ephemeral', 'busybox', 'sleep', '300']);
    const r = await on(a, ['container', 'move', 'ephemeral', '--to', b.name]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /container ephemeral runs with --rm: stopping it for the move would remove it/);
    assert.equal((await inspect(a, 'ephemeral')).State.Running, true);
    await ok(a, ['create', '--name', 'sidecar', '--network', 'container:web', 'busybox', 'true']);
    const s2 = await on(a, ['container', 'move', 'sidecar', '--to', b.name]);
    assert.equal(s2.code, 1);
    assert.match(s2.stderr, /shares the network namespace of web/);
    await ok(a, ['rm', '-f', 'ephemeral', 'sidecar']);
    assert.deepEqual(await names(b), []);
  });

  test('--keep-source copies: both daemons have it, the source restarted', async () => {
    const [a, b] = hosts as [Host, Host];
    await ok(a, ['run', '-d', '--name', 'copyme', 'busybox', 'sh', '-c', 'echo kept > /k; exec sleep 300']);
    const out = await ok(a, ['container', 'move', 'copyme', '--to', b.name, '--keep-source']);
    assert.match(out, /^Moved copyme to mv-b/m);
    assert.equal((await inspect(a, 'copyme')).State.Running, true);
    assert.equal((await inspect(b, 'copyme')).State.Running, false, 'not started without --start');
    await ok(b, ['start', 'copyme']);
    assert.equal(await ok(b, ['exec', 'copyme', 'cat', '/k']), 'kept\n');
    await ok(a, ['rm', '-f', 'copyme']);
    await ok(b, ['rm', '-f', 'copyme']);
  });

  test('berth compose move: every service, dependencies first; compose on the target sees the project', async () => {
    const [a, b] = hosts as [Host, Host];
    const file = join(dir, 'compose.yaml');
    await writeFile(file, [
      'services:',
      '  web:',
      '    image: busybox',
      '    command: ["sh", "-c", "cat /db/seed; exec sleep 300"]',
      '    depends_on: [db]',
      '    volumes: ["dbdata:/db"]',
      '  db:',
      '    image: busybox',
      '    command: ["sh", "-c", "echo seeded > /db/seed; exec sleep 300"]',
      '    volumes: ["dbdata:/db"]',
      'volumes:',
      '  dbdata: {}',
      '',
    ].join('\n'));
    const compose = (h: Host, args: string[]) => ok(h, ['compose', '-f', file, '-p', 'mvproj', ...args]);
    await compose(a, ['up', '-d']);
    const out = await compose(a, ['move', '--to', b.name, '--with-volumes', '--start']);
    assert.ok(out.indexOf('Moving mvproj-db-1') >= 0 && out.indexOf('Moving mvproj-db-1') < out.indexOf('Moving mvproj-web-1'), out);
    assert.match(out, /^Moved project mvproj to mv-b: 2 container\(s\), /m);
    assert.deepEqual((await names(a)).filter((n) => n.startsWith('mvproj')), []);
    const ps = await compose(b, ['ps', '--format', '{{.Name}} {{.State}}']);
    assert.match(ps, /^mvproj-db-1 running$/m, ps);
    assert.match(ps, /^mvproj-web-1 running$/m, ps);
    assert.equal(await ok(b, ['exec', 'mvproj-web-1', 'cat', '/db/seed']), 'seeded\n');
    await compose(b, ['down', '-v']);
    await compose(a, ['down', '-v']);
    assert.deepEqual((await names(b)).filter((n) => n.startsWith('mvproj')), []);
  });

  test('checkpoints: refused with the reason CRIU cannot work here (berth CLI, docker CLI)', async () => {
    const [a, b] = hosts as [Host, Host];
    const moved = await on(a, ['container', 'move', 'web', '--to', 'mv-b', '--checkpoint']);
    assert.equal(moved.code, 1);
    assert.match(moved.stderr, /^Error response from daemon: checkpoint ls: checkpoint\/restore is not available on this daemon: (CRIU does not work on this kernel: `criu check` failed: .+|CRIU is not installed.*)$/m);
    assert.equal((await inspect(a, 'web')).State.Running, true, 'nothing changed');
    const api = await a.daemon!.api('POST', '/containers/web/checkpoints', { CheckpointID: 'c1' });
    assert.equal(api.status, 501);
    assert.match(api.json().message, /^checkpoint create: checkpoint\/restore is not available on this daemon: /);
    assert.equal((await a.daemon!.api('POST', '/containers/nope/checkpoints', { CheckpointID: 'c1' })).status, 404);
    for (const args of [['checkpoint', 'create', 'web', 'c1'], ['checkpoint', 'ls', 'web'], ['checkpoint', 'rm', 'web', 'c1']]) {
      const d = await docker(['--context', a.name, ...args]);
      assert.notEqual(d.code, 0, args.join(' '));
      assert.match(d.stderr, /Error response from daemon: checkpoint (create|ls|rm): checkpoint\/restore is not available on this daemon: /, `${args.join(' ')}: ${d.stderr}`);
    }
    // Without --experimental (host b) the docker CLI itself refuses, as with a plain dockerd.
    await ok(b, ['create', '--name', 'cp-probe', 'busybox', 'true']);
    const plain = await docker(['--context', b.name, 'checkpoint', 'create', 'cp-probe', 'c1']);
    assert.notEqual(plain.code, 0);
    assert.match(plain.stderr, /docker checkpoint create is only supported on a Docker daemon with experimental features enabled/);
    await ok(b, ['rm', 'cp-probe']);
  });
});
