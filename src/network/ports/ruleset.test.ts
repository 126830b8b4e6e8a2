import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderDeletePortsTable, renderPortsRuleset } from './ruleset.js';

const m = { proto: 'tcp' as const, hostIp: '', hostPort: 8080, containerIp: '172.30.0.2', containerPort: 80, bridge: 'br0', subnet: '172.30.0.0/16' };

test('one transaction: DNAT from prerouting and output, loopback masquerade, hairpin, loopback guard', () => {
  const text = renderPortsRuleset('t_ports', [m, { ...m, proto: 'udp', hostIp: '127.0.0.1', hostPort: 5353, containerPort: 53 }, { ...m, hostIp: '::1' }]);
  const lines = text.trim().split('\n');
  assert.equal(lines[0], 'add table ip t_ports');
  assert.ok(lines.includes('add rule ip t_ports prerouting fib daddr type local jump published'));
  assert.ok(lines.includes('add rule ip t_ports output fib daddr type local jump published'));
  assert.ok(lines.includes('add rule ip t_ports published tcp dport 8080 dnat to 172.30.0.2:80'));
  assert.ok(lines.includes('add rule ip t_ports published ip daddr 127.0.0.1 udp dport 5353 dnat to 172.30.0.2:53'));
  assert.ok(lines.includes('add rule ip t_ports postrouting oifname "br0" ip saddr 127.0.0.0/8 masquerade'));
  assert.ok(lines.includes('add rule ip t_ports raw-prerouting iifname "br0" ip daddr 127.0.0.0/8 drop'));
  assert.ok(lines.includes('add rule ip t_ports postrouting oifname "br0" ip saddr 172.30.0.0/16 ip daddr 172.30.0.2 tcp dport 80 masquerade'));
  // Re-rendering flushes every chain first, so the transaction is idempotent.
  for (const c of ['prerouting', 'output', 'postrouting', 'raw-prerouting', 'published']) assert.ok(lines.includes(`flush chain ip t_ports ${c}`));
  // IPv6 host addresses are not in the ip table.
  assert.equal(lines.filter((l) => l.includes('dnat to')).length, 2);
  assert.equal(lines.filter((l) => l.includes('ip saddr 127.0.0.0/8')).length, 1);
});

test('deleting works whether the table exists or not', () => {
  assert.equal(renderDeletePortsTable('t_ports'), 'add table ip t_ports\ndelete table ip t_ports\n');
});
