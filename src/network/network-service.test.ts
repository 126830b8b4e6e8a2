import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandRunner, RunOptions, RunResult } from '../common/command-runner.js';
import { silentLogger } from '../common/logger.js';
import { isConflict, isInvalidParameter } from '../common/errors.js';
import { NetworkService, type NetworkHost } from './network-service.js';
import type { NetworkRecord, NetworkedContainer } from './types.js';

/** Records argv and stdin of every command; answers `ip -j route` and the foreign-chain probe. */
class FakeRunner implements CommandRunner {
  readonly calls: Array<{ argv: string[]; input: string }> = [];
  /** When set, `link del` batches wait for it (a veth deletion still running in the kernel). */
  linkDelGate: Promise<void> | undefined;
  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    this.calls.push({ argv: [...argv], input: String(options.input ?? '') });
    if (this.linkDelGate && String(options.input ?? '').startsWith('link del')) await this.linkDelGate;
    if (argv[0] === 'ip' && argv[1] === '-j') return { code: 0, stdout: JSON.stringify([{ dst: 'default' }, { dst: '10.50.0.0/24' }]), stderr: '' };
    if (argv[0] === 'nft' && argv[1] === '-j') return { code: 1, stdout: '', stderr: 'No such file or directory' };
    return { code: 0, stdout: '', stderr: '' };
  }
  take(): Array<{ argv: string[]; input: string }> {
    return this.calls.splice(0);
  }
}

class MemStore {
  readonly rows = new Map<string, NetworkRecord>();
  put(r: NetworkRecord): void {
    this.rows.set(r.id, structuredClone(r));
  }
  list(): NetworkRecord[] {
    return [...this.rows.values()];
  }
  delete(id: string): void {
    this.rows.delete(id);
  }
}

let dir: string;
const runner = new FakeRunner();
const events: Array<[string, string]> = [];
const dnsUp = new Set<string>();
const links = new Set<string>();
const host: NetworkHost = {
  linkExists: async (n) => links.has(n),
  enableForwarding: async () => {},
  startDns: async (o) => {
    dnsUp.add(o.address);
    return { close: async () => void dnsUp.delete(o.address) };
  },
};
let svc: NetworkService;

function container(id: string, mode?: string): NetworkedContainer {
  return {
    id: id.padEnd(64, '0'),
    name: `c-${id}`,
    config: { hostname: id },
    host: { networkMode: mode, extraHosts: ['gw:host-gateway'] },
    state: { pid: 0 },
    hostsPath: join(dir, `${id}.hosts`),
    resolvConfPath: join(dir, `${id}.resolv`),
    hostnamePath: join(dir, `${id}.hostname`),
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-unit-net-'));
  svc = new NetworkService({
    store: new MemStore(), runner, events: { publish: (_t, action, _id, attrs) => void events.push([action, attrs?.['name'] ?? '']) },
    log: silentLogger(), execRoot: dir, defaultBridge: 'bx0', nftTable: 'bt_unit', linkAlias: 'berth:unit', host,
    pools: [{ base: '10.50.0.0/16', size: 24 }],
  });
  await svc.init();
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('init: predefined networks, the default bridge on a subnet no host route overlaps, one nft transaction', () => {
  const calls = runner.take();
  assert.deepEqual(svc.list().map((n) => n.name), ['bridge', 'host', 'none']);
  const def = svc.get('bridge');
  assert.equal(def.ipam.config[0]!.subnet, '10.50.1.0/24', '10.50.0.0/24 is a host route');
  assert.equal(def.ipam.config[0]!.gateway, '10.50.1.1');
  const bridge = calls.find((c) => c.argv.join(' ') === 'ip -batch -')!;
  assert.match(bridge.input, /link add bx0 type bridge\nlink set bx0 alias "berth:unit"\naddr add 10\.50\.1\.1\/24 dev bx0\nlink set bx0 up/);
  const nft = calls.filter((c) => c.argv.join(' ') === 'nft -f -');
  assert.equal(nft.length, 1);
  assert.match(nft[0]!.input, /ip saddr 10\.50\.1\.0\/24 oifname != "bx0" masquerade/);
  links.add('bx0');
});

test('a container start is two spawns (namespace side, then host side); its exit two (in parallel); addresses are reused after exit', async () => {
  const c = container('aaa');
  svc.prepare(c);
  assert.equal(c.host.networkMode, 'bridge');
  let sandboxAfter = -1;
  await svc.setUp(c, undefined, () => (sandboxAfter = runner.calls.length));
  const start = runner.take();
  assert.equal(start.length, 2, JSON.stringify(start.map((x) => x.argv)));
  // the runtime may create the container once the namespace side is done
  assert.equal(sandboxAfter, 1);
  const file = join(dir, 'netns', c.id);
  assert.deepEqual(start[0]!.argv, ['unshare', `--net=${file}`, 'ip', '-batch', '-']);
  assert.deepEqual(start[1]!.argv, ['ip', '-batch', '-']);
  const ep = c.network!.endpoints['bridge']!;
  assert.equal(ep.ipAddress, '10.50.1.2');
  assert.equal(ep.macAddress, '02:42:0a:32:01:02');
  const lines = start[0]!.input.trim().split('\n');
  assert.equal(lines[0], 'link set lo up');
  // the host end is made in berthd's namespace, never moved there (a move waits for an RCU grace period)
  assert.equal(lines[1], `link add eth0 address 02:42:0a:32:01:02 type veth peer name ${ep.hostVeth} netns ${process.pid}`);
  assert.equal(start[1]!.input, `link set ${ep.hostVeth} master bx0 alias "berth:unit" up\n`);
  assert.ok(lines.includes('addr add 10.50.1.2/24 dev eth0'));
  assert.ok(lines.includes('route add default via 10.50.1.1 dev eth0'));
  assert.equal(c.network!.sandboxKey, file);
  const hosts = await readFile(c.hostsPath, 'utf8');
  assert.match(hosts, /10\.50\.1\.1\tgw\n/);
  assert.match(hosts, /10\.50\.1\.2\taaa\n/);

  const second = container('bbb');
  svc.prepare(second);
  await svc.setUp(second);
  runner.take();
  assert.equal(second.network!.endpoints['bridge']!.ipAddress, '10.50.1.3');

  const veth = ep.hostVeth;
  await svc.tearDown(c);
  const exit = runner.take();
  assert.deepEqual(exit.map((x) => x.argv[0]).sort(), ['ip', 'umount']);
  assert.equal(exit.find((x) => x.argv[0] === 'ip')!.input, `link del ${veth}\n`);
  assert.equal(ep.ipAddress, '');
  assert.equal(c.network!.sandboxKey, '');
  svc.prepare(c);
  await svc.setUp(c);
  runner.take();
  assert.equal(c.network!.endpoints['bridge']!.ipAddress, '10.50.1.2', 'the freed address is taken again');
  await svc.tearDown(c);
  await svc.tearDown(second);
  runner.take();
});

test('a start does not wait for the previous veth deletion: it takes another address meanwhile', { timeout: 5000 }, async () => {
  let finishDelete = (): void => {};
  runner.linkDelGate = new Promise<void>((resolve) => (finishDelete = resolve));
  const a = container('cool1');
  svc.prepare(a);
  await svc.setUp(a);
  assert.equal(a.network!.endpoints['bridge']!.ipAddress, '10.50.1.2');
  await svc.tearDown(a); // the link deletion is still running
  const b = container('cool2');
  svc.prepare(b);
  await svc.setUp(b); // would hang here if it waited for the deletion
  assert.equal(b.network!.endpoints['bridge']!.ipAddress, '10.50.1.3', 'the address being freed is not reused yet');
  finishDelete();
  runner.linkDelGate = undefined;
  await new Promise((r) => setImmediate(r));
  const c = container('cool3');
  svc.prepare(c);
  await svc.setUp(c);
  assert.equal(c.network!.endpoints['bridge']!.ipAddress, '10.50.1.2', 'free again once its veth is gone');
  await svc.tearDown(b);
  await svc.tearDown(c);
  runner.take();
});

test('user networks: own DNS on the gateway, --ip checked, rm refused while in use, one nft transaction per change', async () => {
  const net = await svc.create({ name: 'u1', ipam: { config: [{ subnet: '10.60.0.0/24' }] }, labels: { a: 'b' } });
  const calls = runner.take();
  assert.equal(calls.filter((c) => c.argv[0] === 'nft').length, 1);
  assert.ok(dnsUp.has('10.60.0.1'));
  links.add(net.bridge);
  assert.match(net.bridge, /^br-[0-9a-f]{12}$/);
  await assert.rejects(svc.create({ name: 'u1' }), (e) => isConflict(e));
  await assert.rejects(svc.create({ name: 'u2', ipam: { config: [{ subnet: '10.60.0.128/25' }] } }), /overlaps/);
  assert.throws(() => svc.prepare(container('x1', 'u1'), { u1: { ipv4Address: '10.61.0.5' } }), (e) => isInvalidParameter(e));
  assert.throws(() => svc.prepare(container('x2'), { bridge: { ipv4Address: '10.50.1.9' } }), /user defined networks only/);
  const c = container('ccc', 'u1');
  svc.prepare(c, { u1: { ipv4Address: '10.60.0.50', aliases: ['db'] } });
  await svc.setUp(c);
  runner.take();
  assert.equal(c.network!.endpoints['u1']!.ipAddress, '10.60.0.50');
  assert.match(await readFile(c.resolvConfPath, 'utf8'), /^nameserver 10\.60\.0\.1$/m);
  assert.deepEqual(svc.endpointsOf(net).map((e) => e.name), ['c-ccc']);
  await assert.rejects(svc.remove('u1'), /has active endpoints/);
  await svc.tearDown(c);
  runner.take();
  await svc.remove('u1');
  const rm = runner.take();
  assert.equal(rm.filter((x) => x.argv[0] === 'nft').length, 1);
  assert.ok(rm.some((x) => x.argv.join(' ') === `ip link del ${net.bridge}`));
  assert.ok(!dnsUp.has('10.60.0.1'));
  assert.deepEqual(events.filter(([a]) => a === 'create' || a === 'destroy'), [['create', 'u1'], ['destroy', 'u1']]);
  await assert.rejects(svc.remove('bridge'), /pre-defined network/);
});
