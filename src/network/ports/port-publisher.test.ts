import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandRunner, RunOptions } from '../../common/command-runner.js';
import { silentLogger } from '../../common/logger.js';
import { PortAllocator } from './port-allocator.js';
import { PortPublisher, type PublishableContainer } from './port-publisher.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-publisher-'));
after(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'sys', 'br-test'), { recursive: true });
mkdirSync(join(dir, 'sys', 'veth1'), { recursive: true });
symlinkSync('../br-test', join(dir, 'sys', 'veth1', 'master'));
mkdirSync(join(dir, 'proc', 'net', 'ipv4', 'conf', 'br-test'), { recursive: true });

function setup(): { pub: PortPublisher; inputs: string[] } {
  const inputs: string[] = [];
  const runner: CommandRunner = {
    async run(argv: readonly string[], o: RunOptions = {}) {
      assert.deepEqual(argv, ['nft', '-f', '-']);
      inputs.push(String(o.input));
      return { code: 0, stdout: '', stderr: '' };
    },
  };
  const pub = new PortPublisher({ runner, table: 'x_ports', log: silentLogger(), allocator: new PortAllocator({ dynamicRange: [50000, 50001] }), userlandProxy: false, sysfs: join(dir, 'sys'), procSys: join(dir, 'proc') });
  return { pub, inputs };
}

function ctr(id: string, host: PublishableContainer['host'], exposed: string[] = []): PublishableContainer {
  return {
    id,
    name: id,
    config: { exposedPorts: Object.fromEntries(exposed.map((e) => [e, {}])) },
    host,
    network: { endpoints: { bridge: { ipAddress: '10.9.0.2', ipPrefixLen: 24, hostVeth: 'veth1', endpointId: 'ep' } }, ports: {} },
  };
}

test('publish fills Ports (exposed-only ports null), one transaction, route_localnet on the bridge; unpublish deletes the table', async () => {
  const { pub, inputs } = setup();
  const c = ctr('a', { portBindings: { '80/tcp': [{ hostIp: '127.0.0.1', hostPort: '' }] } }, ['80/tcp', '443/tcp']);
  await pub.publish(c);
  assert.deepEqual(c.network!.ports, { '80/tcp': [{ hostIp: '127.0.0.1', hostPort: '50000' }], '443/tcp': null });
  assert.equal(inputs.length, 1);
  assert.match(inputs[0]!, /add rule ip x_ports published ip daddr 127\.0\.0\.1 tcp dport 50000 dnat to 10\.9\.0\.2:80/);
  assert.equal(readFileSync(join(dir, 'proc', 'net', 'ipv4', 'conf', 'br-test', 'route_localnet'), 'utf8'), '1');
  await pub.unpublish(c);
  assert.deepEqual(c.network!.ports, {});
  assert.equal(inputs[1], 'add table ip x_ports\ndelete table ip x_ports\n');
});

test('-P publishes every exposed port; a conflict fails with Docker\'s wording and leaves nothing behind', async () => {
  const { pub, inputs } = setup();
  const a = ctr('a', { publishAllPorts: true }, ['80/tcp', '53/udp']);
  await pub.publish(a);
  assert.deepEqual(a.network!.ports, { '53/udp': [{ hostIp: '0.0.0.0', hostPort: '50000' }], '80/tcp': [{ hostIp: '0.0.0.0', hostPort: '50000' }] });
  const b = ctr('b', { portBindings: { '81/tcp': [{ hostIp: '', hostPort: '7000' }], '80/tcp': [{ hostIp: '', hostPort: '50000' }] } });
  await assert.rejects(pub.publish(b), { message: 'driver failed programming external connectivity on endpoint b (ep): Bind for 0.0.0.0:50000 failed: port is already allocated' });
  assert.deepEqual(b.network!.ports, {});
  // b's 7000 was freed: another container gets it.
  const c = ctr('c', { portBindings: { '81/tcp': [{ hostIp: '', hostPort: '7000' }] } });
  await pub.publish(c);
  assert.doesNotMatch(inputs.at(-1)!, /dport 50000 dnat to 10\.9\.0\.2:80[\s\S]*dport 50000 dnat to 10\.9\.0\.2:80/);
  assert.match(inputs.at(-1)!, /tcp dport 7000 dnat to 10\.9\.0\.2:81/);
});

test('restore re-learns ports so they are not handed out again, and sync re-renders them', async () => {
  const { pub, inputs } = setup();
  const a = ctr('a', {});
  a.network!.ports = { '80/tcp': [{ hostIp: '0.0.0.0', hostPort: '50000' }] };
  await pub.restore(a);
  await pub.sync();
  assert.match(inputs.at(-1)!, /add rule ip x_ports published tcp dport 50000 dnat to 10\.9\.0\.2:80/);
  const b = ctr('b', { publishAllPorts: true }, ['80/tcp']);
  await pub.publish(b);
  assert.deepEqual(b.network!.ports, { '80/tcp': [{ hostIp: '0.0.0.0', hostPort: '50001' }] });
});

test('a container without an endpoint (none, host) publishes nothing', async () => {
  const { pub, inputs } = setup();
  const c = ctr('n', { portBindings: { '80/tcp': [{ hostIp: '', hostPort: '8080' }] } });
  c.network!.endpoints = {};
  await pub.publish(c);
  assert.deepEqual(c.network!.ports, {});
  assert.equal(inputs.length, 0);
});
