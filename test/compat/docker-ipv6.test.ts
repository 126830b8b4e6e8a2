/**
 * IPv6, dual-stack and multi-subnet networks through the real docker CLI (issue 25): an IPv6
 * container reaches another by name over IPv6 (AAAA from the embedded DNS), a port published
 * on [::1] answers, --ip6 and link-local IPs, several subnets with --ip-range and --aux-address,
 * NAT66 rules, names starting with `_`, and the default bridge's IPv6 from daemon.json. All
 * traffic stays on loopback and inside the namespaces and bridges of this test's daemon.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { eventually, runCommand, startDaemon, type TestDaemon } from '../helpers/daemon.js';

/** A unique local /64 of this run, so parallel daemons never share one. */
function ula(): string {
  const b = randomBytes(7).toString('hex');
  // Canonical text (no leading zeros), as inspect shows it.
  const g = (h: string) => parseInt(h, 16).toString(16);
  return `fd${b.slice(0, 2)}:${g(b.slice(2, 6))}:${g(b.slice(6, 10))}:${g(b.slice(10, 14))}`;
}

function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port }, () => s.write('GET / HTTP/1.0\r\n\r\n'));
    let data = '';
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('data', (c) => (data += c.toString()));
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });
}

describe('docker IPv6 and multi-subnet networks against berthd', () => {
  let d: TestDaemon;
  let v4: (i: number) => string;
  const p6 = ula();
  const ok = async (args: string[]) => {
    const r = await d.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  before(async () => {
    d = await startDaemon('compat-ipv6');
    await d.importBusybox();
    const base = d.net!.pool.split('/')[0]!.split('.').map(Number);
    v4 = (i) => `${base[0]}.${base[1]}.${base[2]! + i}`;
  });
  after(async () => {
    await d?.destroy();
  });

  test('dual stack: inspect, AAAA by name, ping over IPv6, --ip6, link-local IPs, NAT66', async () => {
    await ok(['network', 'create', '--ipv6', '--subnet', `${p6}::/64`, '--gateway', `${p6}::1`, '--subnet', `${v4(1)}.0/24`, 'v6net']);
    const net = JSON.parse(await ok(['network', 'inspect', 'v6net']))[0];
    assert.equal(net.EnableIPv6, true);
    assert.deepEqual(net.IPAM.Config, [{ Subnet: `${v4(1)}.0/24`, Gateway: `${v4(1)}.1` }, { Subnet: `${p6}::/64`, Gateway: `${p6}::1` }]);
    await ok(['run', '-d', '--name', 'srv6', '--network', 'v6net', 'busybox', 'sleep', '300']);
    const ins = JSON.parse(await ok(['inspect', 'srv6']))[0].NetworkSettings.Networks.v6net;
    assert.equal(ins.GlobalIPv6Address, `${p6}::2`);
    assert.equal(ins.GlobalIPv6PrefixLen, 64);
    assert.equal(ins.IPv6Gateway, `${p6}::1`);
    assert.equal(ins.IPAddress, `${v4(1)}.2`);
    const out = await ok(['run', '--rm', '--network', 'v6net', '--ip6', `${p6}::99`, '--link-local-ip', '169.254.7.7', '--link-local-ip', 'fe80::77', 'busybox', 'sh', '-c',
      'ip -6 -o addr show dev eth0; ip -4 -o addr show dev eth0; nslookup -type=AAAA srv6; ping -6 -c1 -W3 srv6']);
    assert.match(out, new RegExp(`inet6 ${p6}::99/64`));
    assert.match(out, /inet6 fe80::77\/64/);
    assert.match(out, /inet 169\.254\.7\.7\/16/);
    assert.match(out, new RegExp(`Address:\\s+${p6}::2`));
    assert.match(out, new RegExp(`PING srv6 \\(${p6}::2\\)`));
    assert.match(out, /1 packets received/);
    const cid = (await ok(['create', '--network', 'v6net', '--ip6', `${p6}::98`, '--link-local-ip', '169.254.7.8', 'busybox'])).trim();
    assert.deepEqual(JSON.parse(await ok(['inspect', '-f', '{{json .NetworkSettings.Networks.v6net.IPAMConfig}}', cid])), { IPv6Address: `${p6}::98`, LinkLocalIPs: ['169.254.7.8'] });
    const nat = await runCommand('nft', ['list', 'table', 'ip6', d.net!.nftTable], {});
    assert.match(nat.stdout, new RegExp(`ip6 saddr ${p6}::/64 oifname != "br-[0-9a-f]+" masquerade`));
    // A running container connected later gets its IPv6 address, route and --ip6 too.
    await ok(['run', '-d', '--name', 'late6', 'busybox', 'sleep', '300']);
    await ok(['network', 'connect', '--ip6', `${p6}::77`, 'v6net', 'late6']);
    const late = await ok(['exec', 'late6', 'sh', '-c', 'ip -6 -o addr show dev eth1; ip -6 route; ping -6 -c1 -W3 srv6']);
    assert.match(late, new RegExp(`inet6 ${p6}::77/64`));
    assert.match(late, new RegExp(`default via ${p6}::1 dev eth1`));
    assert.match(late, /1 packets received/);
    await ok(['rm', '-f', 'late6']);
    const bad = await d.docker(['run', '--rm', '--network', 'v6net', '--ip6', 'fd00:dead::1', 'busybox', 'true']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /does not belong to any of this network's subnets/);
  });

  test('a port published on [::1] answers from the host', async () => {
    await ok(['run', '-d', '--name', 'web6', '--network', 'v6net', '-p', '[::1]::80', 'busybox', 'sh', '-c', 'mkdir -p /www && echo hello-v6 > /www/index.html && httpd -f -p 80 -h /www']);
    const port = Number((await ok(['port', 'web6', '80/tcp'])).trim().split(':').pop());
    assert.ok(port > 0);
    const body = await eventually(async () => {
      const r = await httpGet('::1', port).catch(() => '');
      return r.includes('hello-v6') ? r : undefined;
    }, 10_000, 'the [::1] port');
    assert.match(body, /200 OK/);
    await ok(['rm', '-f', 'web6', 'srv6']);
  });

  test('several subnets with --ip-range and --aux-address; names starting with _', async () => {
    // Made through the API: the docker CLI sends several subnets in Go map order, and which
    // subnet is first decides where addresses come from. The CLI's flags are checked below.
    const made = await d.api('POST', '/networks/create', { Name: '_multi', IPAM: { Config: [{ Subnet: `${v4(2)}.0/24`, IPRange: `${v4(2)}.128/25`, AuxiliaryAddresses: { reserved: `${v4(2)}.129` } }, { Subnet: `${v4(3)}.0/24` }] } });
    assert.equal(made.status, 201, made.body.toString());
    const viaCli = await d.docker(['network', 'create', '--subnet', `${v4(6)}.0/24`, '--ip-range', `${v4(6)}.128/25`, '--aux-address', `reserved=${v4(6)}.129`, '--subnet', `${v4(7)}.0/24`, '_multicli']);
    assert.equal(viaCli.code, 0, viaCli.stderr);
    const cliCfg = (JSON.parse(await ok(['network', 'inspect', '-f', '{{json .IPAM.Config}}', '_multicli'])) as Array<{ Subnet: string }>).sort((a, b) => a.Subnet.localeCompare(b.Subnet, 'en', { numeric: true }));
    assert.deepEqual(cliCfg, [
      { Subnet: `${v4(6)}.0/24`, Gateway: `${v4(6)}.1`, IPRange: `${v4(6)}.128/25`, AuxiliaryAddresses: { reserved: `${v4(6)}.129` } },
      { Subnet: `${v4(7)}.0/24`, Gateway: `${v4(7)}.1` },
    ]);
    await ok(['network', 'rm', '_multicli']);
    // The docker CLI builds IPAM.Config from Go maps, so the order of the subnets it sends varies.
    const cfg = (JSON.parse(await ok(['network', 'inspect', '-f', '{{json .IPAM.Config}}', '_multi'])) as Array<{ Subnet: string }>).sort((a, b) => a.Subnet.localeCompare(b.Subnet, 'en', { numeric: true }));
    assert.deepEqual(cfg, [
      { Subnet: `${v4(2)}.0/24`, Gateway: `${v4(2)}.1`, IPRange: `${v4(2)}.128/25`, AuxiliaryAddresses: { reserved: `${v4(2)}.129` } },
      { Subnet: `${v4(3)}.0/24`, Gateway: `${v4(3)}.1` },
    ]);
    await ok(['run', '-d', '--name', 'm1', '--network', '_multi', 'busybox', 'sleep', '300']);
    await ok(['run', '-d', '--name', 'm2', '--network', '_multi', 'busybox', 'sleep', '300']);
    const ip = async (n: string) => (await ok(['inspect', '-f', '{{.NetworkSettings.Networks._multi.IPAddress}}', n])).trim();
    assert.equal(await ip('m1'), `${v4(2)}.128`);
    assert.equal(await ip('m2'), `${v4(2)}.130`, 'the aux address is skipped');
    const out = await ok(['run', '--rm', '--network', '_multi', '--ip', `${v4(3)}.50`, 'busybox', 'sh', '-c', `ip -4 -o addr show dev eth0; ping -c1 -W3 ${v4(2)}.128`]);
    assert.match(out, new RegExp(`inet ${v4(3).replace(/\./g, '\\.')}\\.50/24`));
    assert.match(out, /1 packets received/);
    await ok(['rm', '-f', 'm1', 'm2']);
    const errs: Array<[string[], RegExp]> = [
      [['--subnet', `${ula()}::/64`, 'nov6'], /IPv6 is not enabled on the network: use --ipv6/],
      [['--subnet', `${v4(4)}.0/24`, '--aux-address', `x=${v4(5)}.3`, 'auxout'], /no matching subnet for aux-address/],
      [['-bad'], /./],
    ];
    for (const [args, re] of errs) {
      const r = await d.docker(['network', 'create', ...args]);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, re);
    }
  });

  test('berth network create sends --ipv6, gateways, ranges and aux addresses as the docker CLI does', async () => {
    const q = ula();
    const args = ['--ipv6', '--subnet', `${v4(6)}.0/24`, '--subnet', `${q}::/64`, '--gateway', `${q}::fe`, '--ip-range', `${v4(6)}.64/26`, '--aux-address', `a=${v4(6)}.70`, '--aux-address', `b=${q}::7`];
    const r = await d.berth(['network', 'create', ...args, 'berthv6']);
    assert.equal(r.code, 0, r.stderr);
    const viaBerth = JSON.parse(await ok(['network', 'inspect', '-f', '{{json .IPAM.Config}}', 'berthv6']));
    await ok(['network', 'rm', 'berthv6']);
    await ok(['network', 'create', ...args, 'dockerv6']);
    assert.deepEqual(JSON.parse(await ok(['network', 'inspect', '-f', '{{json .IPAM.Config}}', 'dockerv6'])), viaBerth);
    assert.deepEqual(viaBerth[1], { Subnet: `${q}::/64`, Gateway: `${q}::fe`, AuxiliaryAddresses: { b: `${q}::7` } });
    await ok(['network', 'rm', 'dockerv6']);
  });

  test('the default bridge gets IPv6 from daemon.json ipv6 + fixed-cidr-v6', async () => {
    const def6 = ula();
    await ok(['network', 'rm', 'v6net', '_multi']);
    await d.stop();
    await writeFile(join(d.dir, 'daemon.json'), JSON.stringify({ ipv6: true, 'fixed-cidr-v6': `${def6}::/64` }));
    try {
      await d.start();
      const n = JSON.parse(await ok(['network', 'inspect', 'bridge']))[0];
      assert.equal(n.EnableIPv6, true);
      assert.equal(n.IPAM.Config[1].Subnet, `${def6}::/64`);
      const out = await ok(['run', '--rm', 'busybox', 'sh', '-c', `ip -6 -o addr show dev eth0; ping -6 -c1 -W3 ${def6}::1`]);
      assert.match(out, new RegExp(`inet6 ${def6}::2/64`));
      assert.match(out, /1 packets received/);
      const id = (await ok(['run', '-d', 'busybox', 'sleep', '300'])).trim();
      assert.equal((await ok(['inspect', '-f', '{{.NetworkSettings.GlobalIPv6Address}}', id])).trim(), `${def6}::2`);
      await ok(['rm', '-f', id]);
    } finally {
      await d.stop();
      await writeFile(join(d.dir, 'daemon.json'), '{}\n');
    }
  });
});
