import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POOLS, formatCidr, ipToInt, macFor, overlaps, parseCidr, pickAddress, pickSubnet, routesFromIpJson, usableAddress } from './ipam.js';
import { isInvalidParameter } from '../common/errors.js';

test('CIDR parsing, strict host bits, overlap', () => {
  assert.equal(formatCidr(parseCidr('10.1.2.3/16')), '10.1.0.0/16');
  assert.throws(() => parseCidr('10.1.2.3/16', { strict: true }), (e) => isInvalidParameter(e));
  assert.throws(() => parseCidr('10.1.2/16'), (e) => isInvalidParameter(e));
  assert.throws(() => parseCidr('300.1.2.0/24'), (e) => isInvalidParameter(e));
  assert.ok(overlaps(parseCidr('10.0.0.0/8'), parseCidr('10.200.3.0/24')));
  assert.ok(!overlaps(parseCidr('10.200.2.0/24'), parseCidr('10.200.3.0/24')));
});

test('subnets come from the pools and never overlap host routes or other networks', () => {
  // docker0 holds 172.17.0.0/16: the next default pool is taken.
  const taken = routesFromIpJson(JSON.stringify([{ dst: 'default' }, { dst: '172.17.0.0/16' }, { dst: '192.0.2.0/24' }, { dst: '10.0.0.1' }]));
  assert.equal(taken.length, 3);
  assert.equal(formatCidr(pickSubnet(DEFAULT_POOLS, taken)), '172.18.0.0/16');
  assert.equal(formatCidr(pickSubnet([{ base: '10.9.0.0/22', size: 24 }], [parseCidr('10.9.0.0/23')])), '10.9.2.0/24');
  assert.throws(() => pickSubnet([{ base: '10.9.0.0/24', size: 24 }], [parseCidr('10.0.0.0/8')]), /non-overlapping/);
});

test('addresses skip network, broadcast, gateway and used ones; ranges are honoured', () => {
  const s = parseCidr('10.5.0.0/29');
  const used = new Set([ipToInt('10.5.0.1')]);
  assert.equal(pickAddress(s, used), ipToInt('10.5.0.2'));
  used.add(ipToInt('10.5.0.2'));
  assert.equal(pickAddress(s, used, parseCidr('10.5.0.4/30')), ipToInt('10.5.0.4'));
  for (let i = 2; i <= 6; i++) used.add(ipToInt(`10.5.0.${i}`));
  assert.throws(() => pickAddress(s, used), /no available IPv4 addresses/);
  assert.ok(!usableAddress(s, ipToInt('10.5.0.7')));
  assert.ok(!usableAddress(s, ipToInt('10.5.0.8')));
  assert.equal(macFor(ipToInt('172.18.0.2')), '02:42:ac:12:00:02');
});
