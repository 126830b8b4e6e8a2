/**
 * Issue 9: remote daemons over TCP with mutual TLS, driven by context from one client.
 *
 * Two berthd "hosts", each in a network namespace this test makes, reachable from the test's
 * namespace only through its own veth pair (10.231.N.0/30, N picked free of the host's
 * routes). Each daemon listens on its private UNIX socket (for setup and counting) and on
 * tcp://10.231.N.2:2376 with --tlsverify. The berth CLI and the real docker CLI reach them by
 * context (same context store), run containers, stream (attach, logs -f, events), and are
 * refused without a client certificate, with a certificate from another CA and over plain
 * HTTP, with nothing changed on the daemon. `exec -it` runs through a pseudo-terminal over TLS,
 * and push/pull progress streams over TLS from a `berth registry serve` on host a's own
 * loopback (inside its namespace, where the daemon pulls from).
 *
 * berthd is put in the namespace with `nsenter --net=/run/netns/NAME`, not `ip netns exec`:
 * the latter also unshares the mount namespace and remounts /sys, which hides the cgroup
 * hierarchies berthd needs.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { BERTH_BIN, createDaemon, eventually, requireRoot, runCommand, TEST_PREFIX, type RunResult, type TestDaemon } from '../helpers/daemon.js';
import { spawnPty, type PtySession } from '../helpers/pty.js';
import { startRegistry, type RegistryProc } from '../helpers/registry.js';

interface Host {
  name: string;
  netns: string;
  vethHost: string;
  vethPeer: string;
  ip: string;
  gatewayIp: string;
  daemon?: TestDaemon;
}

async function sh(cmd: string, args: string[]): Promise<RunResult> {
  const r = await runCommand(cmd, args, {});
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

/** A /30 in 10.231.0.0/16 that no route on this host touches. */
async function freeSubnets(count: number): Promise<number[]> {
  const routes = (await sh('ip', ['-4', 'route', 'show', 'table', 'all'])).stdout + (await sh('ip', ['-4', 'addr'])).stdout;
  const out: number[] = [];
  for (let n = 90 + (process.pid % 50); out.length < count && n < 250; n++) {
    if (!routes.includes(`10.231.${n}.`) && !/10\.231\.0\.0\/16|10\.0\.0\.0\/8/.test(routes)) out.push(n);
  }
  if (out.length < count) throw new Error('no free 10.231.x.0/30 subnet on this host');
  return out;
}

describe('remote daemons over TCP with mutual TLS (issue 9)', { timeout: 240_000 }, () => {
  const tag = String(process.pid % 10000);
  const hosts: Host[] = [];
  let dir: string;
  let certs: string;
  let otherCa: string;
  let config: string;
  const PORT = 2376;
  const sessions: PtySession[] = [];
  let registry: RegistryProc | undefined;

  /** berth with only the given environment deciding the daemon (no BERTH_HOST/DOCKER_HOST). */
  const berth = (args: string[], options: { input?: string } = {}): Promise<RunResult> =>
    runCommand(BERTH_BIN, args, { BERTH_HOST: '', DOCKER_HOST: '', DOCKER_CONFIG: config, DOCKER_TLS_VERIFY: '', DOCKER_CERT_PATH: '' }, { ...options, timeoutMs: 60_000 });
  const docker = (args: string[], options: { input?: string } = {}): Promise<RunResult> =>
    runCommand('docker', args, { BERTH_HOST: '', DOCKER_HOST: '', DOCKER_CONFIG: config, DOCKER_CLI_HINTS: 'false', DOCKER_TLS_VERIFY: '', DOCKER_CERT_PATH: '' }, { ...options, timeoutMs: 60_000 });
  const tcp = (h: Host): string => `tcp://${h.ip}:${PORT}`;
  const count = async (h: Host): Promise<number> => (await h.daemon!.api('GET', '/containers/json?all=1')).json().length;

  before(async () => {
    requireRoot();
    dir = await mkdtemp(join(tmpdir(), `${TEST_PREFIX}remote-tls-`));
    config = join(dir, 'docker-config');
    certs = join(dir, 'tls');
    otherCa = join(dir, 'other-ca');
    const subnets = await freeSubnets(2);
    for (const [i, n] of subnets.entries()) {
      const letter = 'ab'[i]!;
      hosts.push({ name: `host-${letter}`, netns: `${TEST_PREFIX}tls-${letter}-${tag}`, vethHost: `btl${tag}${letter}`, vethPeer: `btl${tag}${letter}p`, ip: `10.231.${n}.2`, gatewayIp: `10.231.${n}.1` });
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
    // One CA for both daemons and the client; a second, unrelated CA for the refusal tests.
    const init = await runCommand(BERTH_BIN, ['tls', 'init', '--hostname', 'localhost', ...hosts.flatMap((h) => ['--ip', h.ip]), certs], {});
    assert.equal(init.code, 0, init.stderr);
    const other = await runCommand(BERTH_BIN, ['tls', 'init', '--ip', hosts[0]!.ip, otherCa], {});
    assert.equal(other.code, 0, other.stderr);

    for (const h of hosts) {
      h.daemon = await createDaemon(`remote-tls-${h.name}`);
      const extra = ['-H', tcp(h), '--tlsverify', '--tlscacert', join(certs, 'ca.pem'), '--tlscert', join(certs, 'server-cert.pem'), '--tlskey', join(certs, 'server-key.pem')];
      await h.daemon.start(extra, { prefix: ['nsenter', `--net=/run/netns/${h.netns}`] });
      await h.daemon.importBusybox();
    }
  });

  after(async () => {
    for (const s of sessions) s.kill();
    await registry?.stop();
    if (process.env.BERTH_TEST_LOGS) {
      for (const h of hosts) process.stderr.write(`--- ${h.name} berthd log\n${(await h.daemon?.log()) ?? ''}\n`);
    }
    for (const h of hosts) {
      await h.daemon?.destroy().catch(() => undefined);
      await runCommand('ip', ['netns', 'del', h.netns], {});
      await runCommand('ip', ['link', 'del', h.vethHost], {});
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the daemons are only reachable through their veth (each in its own namespace)', async () => {
    const [a, b] = hosts as [Host, Host];
    const ns = (await sh('ip', ['netns', 'identify', String(a.daemon!.proc!.pid)])).stdout.trim();
    assert.equal(ns, a.netns);
    assert.equal((await sh('ip', ['netns', 'identify', String(b.daemon!.proc!.pid)])).stdout.trim(), b.netns);
    // The UNIX socket keeps its mode (group berth when it exists).
    const mode = (await sh('stat', ['-c', '%a', a.daemon!.socket])).stdout.trim();
    assert.equal(mode, '660');
  });

  test('berth context create for both hosts, stored where docker stores contexts', async () => {
    for (const h of hosts) {
      const r = await berth(['context', 'create', h.name, '--description', `berthd in ${h.netns}`, '--docker', `host=${tcp(h)},ca=${join(certs, 'ca.pem')},cert=${join(certs, 'cert.pem')},key=${join(certs, 'key.pem')}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${h.name}\n`);
      assert.match(r.stderr, new RegExp(`Successfully created context "${h.name}"`));
      const digest = createHash('sha256').update(h.name).digest('hex');
      const meta = JSON.parse(await readFile(join(config, 'contexts', 'meta', digest, 'meta.json'), 'utf8'));
      assert.deepEqual(meta, { Name: h.name, Metadata: { Description: `berthd in ${h.netns}` }, Endpoints: { docker: { Host: tcp(h), SkipTLSVerify: false } } });
      assert.equal(await readFile(join(config, 'contexts', 'tls', digest, 'docker', 'ca.pem'), 'utf8'), await readFile(join(certs, 'ca.pem'), 'utf8'));
    }
    const dup = await berth(['context', 'create', 'host-a', '--docker', `host=${tcp(hosts[0]!)}`]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /context "host-a" already exists/);
  });

  test('one berth client runs a container on each host by --context and lists both', async () => {
    for (const h of hosts) {
      const r = await berth(['--context', h.name, 'run', '-d', '--name', `on-${h.name}`, 'busybox', 'sleep', '300']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^[0-9a-f]{64}$/m);
    }
    for (const [h, other] of [hosts, [...hosts].reverse()] as Array<[Host, Host]>) {
      const ps = await berth(['--context', h.name, 'ps', '--format', '{{.Names}} {{.Status}}']);
      assert.equal(ps.code, 0, ps.stderr);
      assert.match(ps.stdout, new RegExp(`^on-${h.name} Up`, 'm'));
      assert.doesNotMatch(ps.stdout, new RegExp(`on-${other.name}`));
    }
    // `context use` switches the default for later commands (config.json currentContext).
    const use = await berth(['context', 'use', 'host-b']);
    assert.equal(use.code, 0, use.stderr);
    assert.equal(JSON.parse(await readFile(join(config, 'config.json'), 'utf8')).currentContext, 'host-b');
    const ps = await berth(['ps', '--format', '{{.Names}}']);
    assert.equal(ps.stdout.trim(), 'on-host-b');
    const show = await berth(['context', 'show']);
    assert.equal(show.stdout, 'host-b\n');
    const ls = await berth(['context', 'ls']);
    assert.match(ls.stdout, /^host-b \*\s+berthd in \S+\s+tcp:\/\/10\.231\.\d+\.2:2376/m);
    assert.match(ls.stdout, /^default\s+Current DOCKER_HOST based configuration/m);
    assert.equal((await berth(['context', 'use', 'default'])).code, 0);
    assert.equal(JSON.parse(await readFile(join(config, 'config.json'), 'utf8')).currentContext, undefined);
  });

  test('the docker CLI sees berth\'s contexts and drives berthd over TCP+TLS', async () => {
    const ls = await docker(['context', 'ls', '--format', '{{.Name}} {{.DockerEndpoint}}']);
    assert.equal(ls.code, 0, ls.stderr);
    for (const h of hosts) assert.match(ls.stdout, new RegExp(`^${h.name} ${tcp(h).replace(/\./g, '\\.')}$`, 'm'));
    const insp = JSON.parse((await docker(['context', 'inspect', 'host-a'])).stdout);
    assert.deepEqual(insp[0].TLSMaterial, { docker: ['ca.pem', 'cert.pem', 'key.pem'] });
    for (const h of hosts) {
      const ps = await docker(['--context', h.name, 'ps', '--format', '{{.Names}}']);
      assert.equal(ps.code, 0, ps.stderr);
      assert.equal(ps.stdout.trim(), `on-${h.name}`);
    }
    const v = await docker(['--context', 'host-a', 'version', '--format', '{{.Server.Version}}']);
    assert.equal(v.code, 0, v.stderr);
    // docker's own global TLS flags, without a context.
    const a = hosts[0]!;
    const flags = await docker(['-H', tcp(a), '--tlsverify', '--tlscacert', join(certs, 'ca.pem'), '--tlscert', join(certs, 'cert.pem'), '--tlskey', join(certs, 'key.pem'), 'run', '--rm', 'busybox', 'echo', 'via-docker-tls']);
    assert.equal(flags.code, 0, flags.stderr);
    assert.equal(flags.stdout, 'via-docker-tls\n');
  });

  test('contexts made by docker work in berth; export/import both ways', async () => {
    const b = hosts[1]!;
    const mk = await docker(['context', 'create', 'made-by-docker', '--docker', `host=${tcp(b)},ca=${join(certs, 'ca.pem')},cert=${join(certs, 'cert.pem')},key=${join(certs, 'key.pem')}`]);
    assert.equal(mk.code, 0, mk.stderr);
    const ls = await berth(['context', 'ls', '--format', 'json']);
    const rows = ls.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(rows.find((r) => r.Name === 'made-by-docker'), { Current: false, Description: '', DockerEndpoint: tcp(b), Error: '', Name: 'made-by-docker' });
    const ps = await berth(['--context', 'made-by-docker', 'ps', '--format', '{{.Names}}']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.equal(ps.stdout.trim(), 'on-host-b');

    // docker export → berth import (docker's archives lack the tar end blocks; berth accepts them).
    const file = join(dir, 'b.dockercontext');
    assert.equal((await docker(['context', 'export', 'made-by-docker', file])).code, 0);
    const imp = await berth(['context', 'import', 'imported-b', file]);
    assert.equal(imp.code, 0, imp.stderr);
    assert.equal((await berth(['--context', 'imported-b', 'ps', '-q'])).stdout.trim().length, 12);
    // berth export → docker import.
    const file2 = join(dir, 'a.dockercontext');
    assert.equal((await berth(['context', 'export', 'host-a', file2])).code, 0);
    const dimp = await docker(['context', 'import', 'from-berth', file2]);
    assert.equal(dimp.code, 0, dimp.stderr);
    const dps = await docker(['--context', 'from-berth', 'ps', '--format', '{{.Names}}']);
    assert.equal(dps.stdout.trim(), 'on-host-a', dps.stderr);
    // rm: berth removes what docker made and docker no longer lists it.
    assert.equal((await berth(['context', 'rm', 'made-by-docker', 'imported-b', 'from-berth'])).code, 0);
    assert.doesNotMatch((await docker(['context', 'ls', '-q'])).stdout, /made-by-docker|imported-b|from-berth/);
  });

  test('streams over TLS: attach (run, stdin), logs -f, events', async () => {
    const ctx = ['--context', 'host-a'];
    const run = await berth([...ctx, 'run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 4']);
    assert.equal(run.code, 4);
    assert.equal(run.stdout, 'out\n');
    assert.equal(run.stderr, 'err\n');
    const cat = await berth([...ctx, 'run', '-i', '--rm', 'busybox', 'sh', '-c', 'tr a-z A-Z'], { input: 'hello over tls\n' });
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'HELLO OVER TLS\n');

    const started = await berth([...ctx, 'run', '-d', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.3; done']);
    assert.equal(started.code, 0, started.stderr);
    const id = started.stdout.trim();
    const logs = await berth([...ctx, 'logs', '-f', id]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.equal(logs.stdout, 'line1\nline2\nline3\n');
    assert.equal((await berth([...ctx, 'rm', id])).code, 0);

    // events: the docker CLI's live stream over TLS sees a container made meanwhile.
    const ev = spawn('docker', ['--context', 'host-a', 'events', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'], {
      env: { ...process.env, DOCKER_HOST: '', BERTH_HOST: '', DOCKER_CONFIG: config },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let seen = '';
    ev.stdout.on('data', (c: Buffer) => (seen += c.toString()));
    try {
      await eventually(async () => {
        const c = await berth([...ctx, 'create', '--name', 'ev-probe', 'busybox', 'true']);
        if (c.code !== 0) throw new Error(c.stderr);
        await berth([...ctx, 'rm', 'ev-probe']);
        return /container create ev-probe/.test(seen);
      }, 15_000, 'a create event over the TLS events stream');
    } finally {
      ev.kill('SIGTERM');
    }
  });

  test('exec -it over TLS through a pseudo-terminal, with berth and with the docker CLI', async () => {
    const ctx = ['--context', 'host-a'];
    const name = `tty-exec-${tag}`;
    const r = await berth([...ctx, 'run', '-d', '--name', name, 'busybox', 'sleep', '300']);
    assert.equal(r.code, 0, r.stderr);
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm', DOCKER_CONFIG: config, DOCKER_CLI_HINTS: 'false' };
    for (const [cli, code] of [[BERTH_BIN, 3], ['docker', 5]] as Array<[string, number]>) {
      const s = spawnPty(cli, [...ctx, 'exec', '-it', name, 'sh'], { env, cols: 91, rows: 33 });
      sessions.push(s);
      await s.waitFor(/\/ # /, 20_000);
      s.mark();
      s.type('echo tls-$((6*7)); stty size; tty\r');
      await s.waitFor(/tls-42\r\n33 91\r\n\/dev\/pts\/\d+\r\n/);
      // A resize travels over TLS too (POST /exec/{id}/resize).
      s.resize(120, 40);
      await new Promise((res) => setTimeout(res, 300));
      s.mark();
      s.type('stty size\r');
      await s.waitFor(/40 120\r\n/);
      s.type(`exit ${code}\r`);
      assert.equal(await s.exit(), code, `${cli}: ${s.output}`);
    }
    const st = (await hosts[0]!.daemon!.api('GET', `/containers/${name}/json`)).json();
    assert.equal(st.State.Running, true, 'the exec ending leaves the container running');
    assert.equal((await berth([...ctx, 'rm', '-f', name])).code, 0);
  });

  test('push and pull progress streams over TLS (registry on host a\'s own loopback)', async () => {
    const a = hosts[0]!;
    const ctx = ['--context', 'host-a'];
    registry = await startRegistry(join(dir, 'reg-a'), [], { prefix: ['nsenter', `--net=/run/netns/${a.netns}`] });
    assert.equal((await sh('ip', ['netns', 'identify', String(registry.proc.pid)])).stdout.trim(), a.netns);
    const R = `127.0.0.1:${registry.port}`;
    const ref = `${R}/tls/busybox:1`;

    // An image with a layer of its own (committed on host a), so a pull has something to download.
    const mk = await berth([...ctx, 'run', '--name', `mk-layer-${tag}`, 'busybox', 'sh', '-c', 'echo pushed-over-tls > /marker']);
    assert.equal(mk.code, 0, mk.stderr);
    assert.equal((await berth([...ctx, 'commit', `mk-layer-${tag}`, ref])).code, 0);
    assert.equal((await berth([...ctx, 'rm', `mk-layer-${tag}`])).code, 0);

    const push = await berth([...ctx, 'push', ref]);
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stdout, new RegExp(`The push refers to repository \\[${R}/tls/busybox\\]`));
    assert.equal(push.stdout.match(/^[0-9a-f]{12}: Pushed$/gm)?.length, 2, push.stdout);
    const digest = /^1: digest: (sha256:[a-f0-9]{64}) size: \d+$/m.exec(push.stdout)?.[1];
    assert.ok(digest, push.stdout);
    // The docker CLI pushes a second tag over TLS: both layers are already there.
    const tag2 = `${R}/tls/busybox:2`;
    assert.equal((await docker([...ctx, 'tag', ref, tag2])).code, 0);
    const dpush = await docker([...ctx, 'push', tag2]);
    assert.equal(dpush.code, 0, dpush.stderr);
    assert.equal(dpush.stdout.match(/^[0-9a-f]{12}: Layer already exists$/gm)?.length, 2, dpush.stdout);
    assert.match(dpush.stdout, new RegExp(`^2: digest: ${digest} size: \\d+$`, 'm'));
    assert.equal((await docker([...ctx, 'rmi', tag2])).code, 0);

    for (const [who, run] of [['berth', berth], ['docker', docker]] as const) {
      const rmi = await run([...ctx, 'rmi', ref]);
      assert.equal(rmi.code, 0, `${who}: ${rmi.stderr}`);
      assert.match(rmi.stdout, /^Deleted: sha256:/m, `${who}: the committed layer went with the image`);
      const pull = await run([...ctx, 'pull', ref]);
      assert.equal(pull.code, 0, `${who}: ${pull.stderr}`);
      // The progress stream, line by line: busybox's layer is there, the committed one is fetched.
      assert.match(pull.stdout, /^1: Pulling from tls\/busybox$/m, who);
      assert.equal(pull.stdout.match(/^[0-9a-f]{12}: Already exists$/gm)?.length, 1, `${who}: ${pull.stdout}`);
      assert.equal(pull.stdout.match(/^[0-9a-f]{12}: Pulling fs layer$/gm)?.length, 1, `${who}: ${pull.stdout}`);
      assert.equal(pull.stdout.match(/^[0-9a-f]{12}: Download complete$/gm)?.length, 1, `${who}: ${pull.stdout}`);
      assert.equal(pull.stdout.match(/^[0-9a-f]{12}: Pull complete$/gm)?.length, 1, `${who}: ${pull.stdout}`);
      assert.match(pull.stdout, new RegExp(`^Digest: ${digest}$`, 'm'), who);
      assert.match(pull.stdout, new RegExp(`^Status: Downloaded newer image for ${ref.replace(/\./g, '\\.')}$`, 'm'), `${who}: ${pull.stdout}`);
      const ran = await run([...ctx, 'run', '--rm', ref, 'cat', '/marker']);
      assert.equal(ran.code, 0, `${who}: ${ran.stderr}`);
      assert.equal(ran.stdout, 'pushed-over-tls\n');
    }
    assert.equal((await berth([...ctx, 'rmi', ref])).code, 0);
  });

  test('refused: no client certificate, a certificate from another CA, plain HTTP — nothing changes', async () => {
    const a = hosts[0]!;
    const before = await count(a);
    const create = ['create', 'busybox', 'true'];

    const noCert = await berth(['-H', tcp(a), '--tlsverify', '--tlscacert', join(certs, 'ca.pem'), ...create]);
    assert.notEqual(noCert.code, 0);
    assert.match(noCert.stderr, /error during connect: .*certificate required/);

    const otherCert = await berth(['-H', tcp(a), '--tlsverify', '--tlscacert', join(certs, 'ca.pem'), '--tlscert', join(otherCa, 'cert.pem'), '--tlskey', join(otherCa, 'key.pem'), ...create]);
    assert.notEqual(otherCert.code, 0);
    // TLS 1.3: the server's "unknown ca" alert may race the client's first request and arrive as a reset.
    assert.match(otherCert.stderr, /error during connect: .*(unknown ca|certificate|ECONNRESET|socket hang up)/i);

    const plain = await berth(['-H', tcp(a), ...create]);
    assert.equal(plain.code, 125);
    assert.match(plain.stderr, /Error response from daemon: Client sent an HTTP request to an HTTPS server\./);

    // The real docker CLI gets the same refusals.
    const dNoCert = await docker(['-H', tcp(a), '--tlsverify', '--tlscacert', join(certs, 'ca.pem'), ...create]);
    assert.notEqual(dNoCert.code, 0);
    assert.match(dNoCert.stderr, /certificate required/);
    const dOther = await docker(['-H', tcp(a), '--tlsverify', '--tlscacert', join(certs, 'ca.pem'), '--tlscert', join(otherCa, 'cert.pem'), '--tlskey', join(otherCa, 'key.pem'), ...create]);
    assert.notEqual(dOther.code, 0);
    assert.match(dOther.stderr, /error during connect: .*(tls: (unknown certificate authority|bad certificate)|EOF|connection reset)/);
    const dPlain = await docker(['-H', tcp(a), ...create]);
    assert.notEqual(dPlain.code, 0);
    assert.match(dPlain.stderr, /Client sent an HTTP request to an HTTPS server/);

    // A raw HTTP POST to the TLS port is answered 400 before any request is read.
    const raw = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: a.ip, port: PORT, method: 'POST', path: '/containers/create', headers: { 'Content-Type': 'application/json' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ Image: 'busybox', Cmd: ['true'] }));
    });
    assert.equal(raw.status, 400);
    assert.match(raw.body, /Client sent an HTTP request to an HTTPS server/);

    // The client checks the server too: trusting only the other CA, a valid client is refused.
    const wrongTrust = await berth(['-H', tcp(a), '--tlsverify', '--tlscacert', join(otherCa, 'ca.pem'), '--tlscert', join(certs, 'cert.pem'), '--tlskey', join(certs, 'key.pem'), ...create]);
    assert.notEqual(wrongTrust.code, 0);
    assert.match(wrongTrust.stderr, /error during connect: .*(certificate|verify)/i);

    assert.equal(await count(a), before, 'a refused client changed the container count');
    // With the right certificate, the same command works (the refusals were not an outage).
    const ok = await berth(['-H', tcp(a), '--tlsverify', '--tlscacert', join(certs, 'ca.pem'), '--tlscert', join(certs, 'cert.pem'), '--tlskey', join(certs, 'key.pem'), ...create]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await count(a), before + 1);
    // DOCKER_CERT_PATH + DOCKER_TLS_VERIFY, docker's environment form.
    const env = await runCommand(BERTH_BIN, ['-H', tcp(a), 'rm', ok.stdout.trim()], { BERTH_HOST: '', DOCKER_HOST: '', DOCKER_CONFIG: config, DOCKER_CERT_PATH: certs, DOCKER_TLS_VERIFY: '1' });
    assert.equal(env.code, 0, env.stderr);
    assert.equal(await count(a), before);
  });

  test('plain TCP only where explicitly allowed: loopback with --insecure-tcp, warned about', async () => {
    const b = hosts[1]!;
    // A third daemon in host b's namespace serves plain HTTP on that namespace's own loopback.
    const plainDaemon = await createDaemon('remote-tls-plain');
    try {
      await plainDaemon.start(['-H', 'tcp://127.0.0.1:2375', '--insecure-tcp'], { prefix: ['nsenter', `--net=/run/netns/${b.netns}`] });
      assert.match(await plainDaemon.log(), /"level":40.*without TLS \(--insecure-tcp\)/);
      const r = await runCommand('nsenter', [`--net=/run/netns/${b.netns}`, BERTH_BIN, '-H', 'tcp://127.0.0.1:2375', 'version', '--format', '{{.Server.Os}}'], { BERTH_HOST: '', DOCKER_HOST: '' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'linux');
    } finally {
      await plainDaemon.destroy();
    }
    // Plain TCP on a non-loopback address, or TCP without --tlsverify, is refused at start-up.
    await writeFile(join(dir, 'none.json'), '{}');
    const berthd = join(BERTH_BIN, '..', 'berthd');
    const base = ['--data-root', join(dir, 'nope'), '--exec-root', join(dir, 'nope-run'), '--config-file', join(dir, 'none.json')];
    const refused = await runCommand(berthd, [...base, '-H', `tcp://${b.ip}:2377`, '--insecure-tcp'], {});
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /refusing to listen on tcp:\/\/10\.231\.\d+\.2:2377 without mutual TLS/);
    const noTls = await runCommand(berthd, [...base, '-H', 'tcp://127.0.0.1:2377'], {});
    assert.notEqual(noTls.code, 0);
    assert.match(noTls.stderr, /refusing to listen on tcp:\/\/127\.0\.0\.1:2377 without mutual TLS/);
  });
});
