import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { FakeDaemon, sendJson } from '../../src/client/fake-daemon.js';
import { main } from '../../src/cli/main.js';
import { Capture, input } from '../../src/cli/test-streams.js';

/**
 * `docker create FLAGS` and `berth create FLAGS` against the same fake engine: the bodies they
 * send must carry the same values (zero values, which the daemon treats as unset, aside). The
 * docker CLI is the oracle for how each flag maps to the API (issue 15 item 11).
 */

let daemon: FakeDaemon;
before(async () => {
  daemon = new FakeDaemon();
  const ping = (_r: unknown, res: import('node:http').ServerResponse): void => {
    res.writeHead(200, { 'API-Version': '1.47', OSType: 'linux', 'Content-Type': 'text/plain' });
    res.end('OK');
  };
  daemon.on('GET', '/_ping', ping).on('HEAD', '/_ping', ping);
  daemon.on('POST', '/containers/create', (_r, res) => sendJson(res, 201, { Id: 'c'.repeat(64), Warnings: [] }));
  daemon.on('POST', '/containers/{id}/update', (_r, res) => sendJson(res, 200, { Warnings: [] }));
  await daemon.listen();
});
after(() => daemon?.close());

function runDocker(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('docker', args, { env: { ...process.env, DOCKER_HOST: daemon.host, DOCKER_CONFIG: '/nonexistent/berth-parity' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c));
    p.stderr.on('data', (c: Buffer) => (out += c));
    const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

async function runBerth(args: string[]): Promise<{ code: number; out: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(args, { stdout, stderr, stdin: input(), env: { BERTH_HOST: daemon.host, DOCKER_CONFIG: '/nonexistent/berth-parity' }, signals: new EventEmitter() });
  return { code, out: stdout.text + stderr.text };
}

/** Drops zero values (the daemon's defaults) so only what a flag set remains. */
function norm(v: unknown): unknown {
  if (Array.isArray(v)) return v.length ? v.map(norm) : undefined;
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const n = norm(x);
      if (n !== undefined) o[k] = n;
    }
    return Object.keys(o).length ? o : undefined;
  }
  return v === '' || v === 0 || v === false || v === null ? undefined : v;
}

async function sent(run: () => Promise<{ code: number | null; out: string }>, path: string): Promise<{ query: string; body: Record<string, unknown> }> {
  daemon.requests.length = 0;
  const r = await run();
  assert.equal(r.code, 0, r.out);
  const req = daemon.requests.find((q) => q.method === 'POST' && q.path.endsWith(path));
  assert.ok(req, `no ${path} request: ${r.out}`);
  const body = norm(JSON.parse(req.body.toString())) as Record<string, unknown>;
  // docker sends the terminal size it has ([0,0] on a pipe) and MemorySwappiness -1 (unset).
  const hc = body['HostConfig'] as Record<string, unknown> | undefined;
  if (hc) {
    delete hc['ConsoleSize'];
    if (hc['MemorySwappiness'] === -1) delete hc['MemorySwappiness'];
  }
  return { query: req.query.toString(), body };
}

const CREATE_FLAGS = [
  ['--memory-swappiness', '10', '--oom-score-adj', '5', '--oom-kill-disable', '--memory-reservation', '20m', '--shm-size', '64m'],
  ['--device', '/dev/null:/dev/foo:r', '--device', '/dev/zero', '--device-cgroup-rule', 'c 1:3 rwm'],
  ['--link', 'a:b', '--link', 'c', '--ip6', '2001:db8::3', '--link-local-ip', '169.254.1.1', '--network', 'n1', '--net-alias', 'x', '--dns-opt', 'ndots:1'],
  ['--annotation', 'a=b', '--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'kernel.shmmax=1000', '--storage-opt', 'size=1G', '--label-file', '/dev/null', '--domainname', 'example.org'],
  ['--health-cmd', 'true', '--health-start-interval', '2s', '--health-interval', '1m30s', '--health-retries', '3'],
  ['--blkio-weight', '300', '--blkio-weight-device', '/dev/sda:20', '--device-read-bps', '/dev/sda:1mb', '--device-write-bps', '/dev/sda:2k', '--device-read-iops', '/dev/sda:100', '--device-write-iops', '/dev/sda:3'],
  ['--pid', 'host', '--ipc', 'shareable', '--uts', 'host', '--userns', 'host', '--cgroupns', 'private', '--group-add', '10', '--group-add', 'audio', '--runtime', 'runc', '--isolation', 'default', '--cgroup-parent', 'foo', '--volume-driver', 'local'],
  ['--cpu-period', '1000', '--cpu-quota', '500', '--cpu-rt-period', '10', '--cpu-rt-runtime', '5', '--cpuset-mems', '0', '-c', '512', '--cpus', '1.5', '-m', '64m', '--pids-limit', '20'],
  ['--platform', 'linux/amd64', '--use-api-socket', '--init', '--stop-signal', 'SIGUSR1', '--stop-timeout', '7', '--read-only', '--privileged'],
];

for (const flags of CREATE_FLAGS) {
  test(`create ${flags.join(' ')}: the same body as docker's`, { timeout: 30_000 }, async () => {
    const theirs = await sent(() => runDocker(['create', ...flags, 'busybox']), '/containers/create');
    const ours = await sent(() => runBerth(['create', ...flags, 'busybox']), '/containers/create');
    assert.equal(ours.query, theirs.query);
    assert.deepEqual(ours.body, theirs.body);
  });
}

test('update with the resource flags: the same body as docker\'s', { timeout: 30_000 }, async () => {
  const flags = ['--blkio-weight', '300', '--cpu-period', '1000', '--cpu-quota', '500', '--cpu-rt-period', '10', '--cpu-rt-runtime', '5', '--cpuset-mems', '0', '--memory-reservation', '20m', '-m', '1g', '--cpus', '2'];
  const theirs = await sent(() => runDocker(['update', ...flags, 'c1']), '/update');
  const ours = await sent(() => runBerth(['update', ...flags, 'c1']), '/update');
  // docker always sends an empty RestartPolicy with update.
  delete (theirs.body as { RestartPolicy?: unknown }).RestartPolicy;
  assert.deepEqual(ours.body, theirs.body);
});

test('flags berth cannot honour fail with the reason, before any request', async () => {
  for (const [args, reason] of [
    [['--cpu-count', '2'], /"--cpu-count" is only supported on a daemon running on windows/],
    [['--kernel-memory', '10m'], /--kernel-memory is not supported/],
    [['--gpus', 'all'], /--gpus is not supported: berth has no GPU device driver/],
    [['--device', 'nvidia.com/gpu=all'], /CDI devices are not supported by berth/],
    [['--pid', 'bogus'], /--pid: invalid PID mode/],
    [['--memory-swappiness', '101'], /Valid memory swappiness range is 0-100/],
    [['--sysctl', 'kernel.hostname=x'], /sysctl 'kernel.hostname=x' is not allowed/],
    [['--device-read-bps', 'sda:1mb'], /bad format for device path: sda:1mb/],
    [['--blkio-weight-device', '/dev/sda:5'], /invalid weight for device/],
    [['--device-cgroup-rule', 'x 1:3 rwm'], /invalid device cgroup format/],
    [['--link', 'a:b:c'], /bad format for links/],
  ] as Array<[string[], RegExp]>) {
    daemon.requests.length = 0;
    const r = await runBerth(['create', ...args, 'busybox']);
    assert.notEqual(r.code, 0, `${args.join(' ')} was accepted`);
    assert.match(r.out, reason);
    assert.equal(daemon.requests.filter((q) => q.path === '/containers/create').length, 0, `${args.join(' ')} sent a create`);
  }
});
