import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderDeleteTable, renderRuleset } from './nftables.js';

test('one transaction: own chains flushed and refilled; masquerade, isolation, internal', () => {
  const text = renderRuleset('berth', [
    { bridge: 'berth0', subnet: '172.18.0.0/16', internal: false, masquerade: true },
    { bridge: 'br-a', subnet: '172.19.0.0/16', internal: false, masquerade: false, dnsAddress: '172.19.0.1' },
    { bridge: 'br-in', subnet: '172.20.0.0/16', internal: true, masquerade: true },
  ]);
  const lines = text.trim().split('\n');
  assert.equal(lines[0], 'add table ip berth');
  assert.ok(lines.includes('flush chain ip berth net-postrouting'));
  assert.ok(lines.includes('flush chain ip berth net-forward'));
  assert.ok(lines.includes('add rule ip berth net-postrouting ip saddr 172.18.0.0/16 oifname != "berth0" masquerade'));
  assert.ok(!text.includes('172.19.0.0/16 oifname'), 'no masquerade when disabled');
  assert.ok(!text.includes('172.20.0.0/16 oifname'), 'internal networks never masquerade');
  assert.ok(lines.includes('add rule ip berth net-forward iifname "berth0" oifname { "br-a", "br-in" } drop'));
  assert.ok(lines.includes('add rule ip berth net-forward iifname "br-in" oifname != "br-in" drop'));
  assert.ok(lines.includes('add rule ip berth net-forward oifname "br-in" iifname != "br-in" drop'));
  // The user network's DNS: its own bridge and subnet only (issue 24 item 5).
  assert.ok(lines.includes('flush chain ip berth net-input'));
  assert.ok(lines.includes('add rule ip berth net-input ip daddr 172.19.0.1 meta l4proto { tcp, udp } th dport 53 iifname != "br-a" drop'));
  assert.ok(lines.includes('add rule ip berth net-input ip daddr 172.19.0.1 meta l4proto { tcp, udp } th dport 53 ip saddr != 172.19.0.0/16 drop'));
  assert.ok(!text.includes('daddr 172.18.0.1'), 'the default bridge has no embedded DNS');
  // Never touches chains it does not own (port publishing may add its own to the table).
  assert.ok(lines.every((l) => !/^(delete|flush) table/.test(l)));
  assert.equal(renderDeleteTable('t1'), 'add table ip t1\ndelete table ip t1\n');
});

test('ip6: NAT66 and isolation in an ip6 table; several subnets each masqueraded', () => {
  const text = renderRuleset('berth', [
    { bridge: 'br-6', subnet: 'fd00:1::/64', internal: false, masquerade: true },
    { bridge: 'br-m', subnet: '10.1.0.0/24', moreSubnets: ['10.2.0.0/24'], internal: false, masquerade: true },
  ], 'ip6');
  const lines = text.trim().split('\n');
  assert.equal(lines[0], 'add table ip6 berth');
  assert.ok(lines.includes('add rule ip6 berth net-postrouting ip6 saddr fd00:1::/64 oifname != "br-6" masquerade'));
  assert.ok(lines.includes('add rule ip6 berth net-postrouting ip6 saddr 10.2.0.0/24 oifname != "br-m" masquerade'));
  assert.ok(lines.includes('add rule ip6 berth net-forward iifname "br-6" oifname { "br-m" } drop'));
  assert.equal(renderDeleteTable('t1', 'ip6'), 'add table ip6 t1\ndelete table ip6 t1\n');
});
