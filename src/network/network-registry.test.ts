import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ForbiddenError, isCategory, isInvalidParameter, isNotFound } from '../common/errors.js';

const isForbidden = (e: unknown): boolean => isCategory(e, ForbiddenError);
import { parseCidr } from './ipam.js';
import { NetworkRegistry, predefined } from './network-registry.js';
import type { NetworkRecord, NetworkedContainer } from './types.js';

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

function userNet(name: string, subnet: string, o: Partial<NetworkRecord> = {}): NetworkRecord {
  const base = subnet.replace(/\.0\/\d+$/, '');
  return { ...predefined(name, 'bridge'), predefined: false, bridge: `br-${name}`, ipam: { driver: 'default', options: {}, config: [{ subnet, gateway: `${base}.1` }] }, userSubnet: true, ...o };
}

const ctr = (id: string): NetworkedContainer => ({ id, name: `n-${id}`, config: {}, host: {}, state: { pid: 0 }, hostsPath: '', resolvConfPath: '', hostnamePath: '' });

test('records: saved to the store, found by id, name and unique prefix, listed by name', () => {
  const store = new MemStore();
  const r = new NetworkRegistry(store);
  const a = userNet('zeta', '10.9.1.0/24');
  const b = userNet('alpha', '10.9.2.0/24');
  r.save(a);
  r.save(b);
  assert.equal(store.rows.size, 2);
  assert.equal(r.get('zeta').id, a.id);
  assert.equal(r.get(a.id.slice(0, 20)).id, a.id);
  assert.deepEqual(r.list().map((n) => n.name), ['alpha', 'zeta']);
  assert.throws(() => r.get('nope'), (e) => isNotFound(e));
  assert.throws(() => r.list(new Map([['type', ['weird']]])), (e) => isInvalidParameter(e));
  r.delete(a.id);
  assert.equal(store.rows.size, 1);
  // A new registry over the same store sees what was saved.
  assert.deepEqual(new NetworkRegistry(store).all().map((n) => n.name), ['alpha']);
});

test('allocate: first free address after the gateway, reserved at once; a requested one in use is refused', () => {
  const r = new NetworkRegistry(new MemStore());
  const net = userNet('u', '10.9.3.0/24');
  r.save(net);
  const e1 = r.checkedEndpoint(net, {});
  r.allocate(net, e1, ctr('a'));
  assert.equal(e1.ipAddress, '10.9.3.2');
  assert.equal(e1.gateway, '10.9.3.1');
  assert.equal(e1.ipPrefixLen, 24);
  assert.match(e1.hostVeth ?? '', /^veth[0-9a-f]{7}$/);
  assert.equal(r.activeCount(net.id), 1);
  const e2 = r.checkedEndpoint(net, {});
  r.allocate(net, e2, ctr('b'));
  assert.equal(e2.ipAddress, '10.9.3.3');
  const e3 = r.checkedEndpoint(net, { ipv4Address: '10.9.3.2' });
  assert.throws(() => r.allocate(net, e3, ctr('c')), (e) => isForbidden(e));
  assert.equal(r.clientOn(net.id, '10.9.3.3'), 'b');
  assert.deepEqual(r.networksOf('b'), [net.id]);
});

test('allocate: an address whose old veth is still going is skipped while another is free', () => {
  const r = new NetworkRegistry(new MemStore());
  const net = userNet('u', '10.9.4.0/24');
  r.save(net);
  const warm = r.cool([[net.id, '10.9.4.2']]);
  const e = r.checkedEndpoint(net, {});
  r.allocate(net, e, ctr('a'));
  assert.equal(e.ipAddress, '10.9.4.3');
  warm();
  r.deactivate('a', e);
  const f = r.checkedEndpoint(net, {});
  r.allocate(net, f, ctr('b'));
  assert.equal(f.ipAddress, '10.9.4.2');
});

test('checkedEndpoint: Docker\'s refusals', () => {
  const r = new NetworkRegistry(new MemStore());
  const def = { ...userNet('bridge', '10.9.5.0/24'), predefined: true, userSubnet: false };
  const auto = { ...userNet('auto', '10.9.6.0/24'), userSubnet: false };
  assert.throws(() => r.checkedEndpoint(def, { ipv4Address: '10.9.5.9' }), /user defined networks only/);
  assert.throws(() => r.checkedEndpoint(auto, { ipv4Address: '10.9.6.9' }), /user configured subnets/);
  assert.throws(() => r.checkedEndpoint(userNet('u', '10.9.7.0/24'), { ipv4Address: '10.9.8.9' }), /does not belong/);
  assert.throws(() => r.checkedEndpoint(def, { aliases: ['x'] }), /network-scoped alias/);
  assert.throws(() => r.checkedEndpoint(userNet('u', '10.9.7.0/24'), { macAddress: 'zz' }), /invalid MAC/);
  assert.throws(() => r.checkedEndpoint(userNet('u', '10.9.7.0/24'), { linkLocalIPs: ['10.0.0.1'] }), /link-local/);
});

test('ipamConfigs: a user subnet overlapping a network or a host route is refused; none given takes one from the pools', async () => {
  const r = new NetworkRegistry(new MemStore());
  r.save(userNet('u', '10.9.8.0/24'));
  const routes = async () => [parseCidr('192.168.77.0/24')];
  await assert.rejects(r.ipamConfigs({ name: 'x', ipam: { config: [{ subnet: '10.9.8.0/25' }] } }, routes), (e) => isForbidden(e));
  await assert.rejects(r.ipamConfigs({ name: 'x', ipam: { config: [{ subnet: '192.168.77.0/24' }] } }, routes), /host route 192\.168\.77\.0\/24/);
  const given = await r.ipamConfigs({ name: 'x', ipam: { config: [{ subnet: '10.9.9.0/24', gateway: '10.9.9.254', ipRange: '10.9.9.128/25' }] } }, routes);
  assert.deepEqual(given.configs, [{ subnet: '10.9.9.0/24', gateway: '10.9.9.254', ipRange: '10.9.9.128/25' }]);
  assert.equal(given.userSubnet, true);
  const picked = await r.ipamConfigs({ name: 'y' }, routes, [{ base: '10.9.0.0/16', size: 24 }]);
  assert.deepEqual(picked.configs, [{ subnet: '10.9.0.0/24', gateway: '10.9.0.1' }]);
  assert.equal(picked.userSubnet, false);
  const v6 = await r.ipamConfigs({ name: 'z', enableIPv6: true }, routes, [{ base: '10.9.0.0/16', size: 24 }]);
  assert.equal(v6.configs.length, 2);
  assert.match(v6.configs[1]!.subnet, /^fd[0-9a-f:]+\/64$/);
});
