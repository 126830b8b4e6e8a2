import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bigToIp6, contains6, formatCidr6, ip6ToBig, overlaps6, parseCidr6, pickAddress6, pickUlaSubnet } from './ipam6.js';

test('IPv6 parse and format round-trip (RFC 5952 form)', () => {
  for (const [input, out] of [['fd00:1::', 'fd00:1::'], ['::1', '::1'], ['::', '::'], ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], ['fe80::1:2', 'fe80::1:2'], ['::ffff:1.2.3.4', '::ffff:102:304'], ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8']]) {
    assert.equal(bigToIp6(ip6ToBig(input!)), out);
  }
  assert.throws(() => ip6ToBig('1.2.3.4'), /invalid IPv6 address/);
  assert.throws(() => parseCidr6('fd00::1/64', { strict: true }), /it should be fd00::\/64/);
});

test('containment, overlap, address picking, ULA subnets', () => {
  const s = parseCidr6('fd00:1::/64');
  assert.equal(formatCidr6(s), 'fd00:1::/64');
  assert.ok(contains6(s, ip6ToBig('fd00:1::abcd')));
  assert.ok(!contains6(s, ip6ToBig('fd00:2::1')));
  assert.ok(overlaps6(s, parseCidr6('fd00::/16')));
  assert.ok(!overlaps6(s, parseCidr6('fd00:2::/64')));
  const used = new Set([ip6ToBig('fd00:1::1'), ip6ToBig('fd00:1::2')]);
  assert.equal(bigToIp6(pickAddress6(s, used)), 'fd00:1::3');
  assert.equal(bigToIp6(pickAddress6(s, used, parseCidr6('fd00:1::8000/113'))), 'fd00:1::8000');
  const u = pickUlaSubnet([s]);
  assert.equal(u.prefix, 64);
  assert.match(formatCidr6(u), /^fd[0-9a-f]{2}:/);
});
