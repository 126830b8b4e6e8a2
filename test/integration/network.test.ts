// Networking core (issue 6): default bridge, user networks with DNS, modes, connect/disconnect,
// restart survival. Traffic only between containers, and between the host and containers.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startDaemon, eventually, runCommand, type TestDaemon } from '../helpers/daemon.js';

describe('networking', () => {
  let d: TestDaemon;
  const inspect = async (name: string) => (await d.api('GET', `/containers/${name}/json`)).json();
  const ok = async (args: string[]) => {
    const r = await d.berth(args);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  // Addresses of this daemon's user networks: a /24 of its own test pool.
  let userSubnet: string;
  let prefix3: string;
  before(async () => {
    d = await startDaemon('net');
    await d.importBusybox();
    const base = d.net!.pool.split('/')[0]!.split('.').map(Number);
    prefix3 = `${base[0]}.${base[1]}.${base[2]! + 7}`;
    userSubnet = `${prefix3}.0/24`;
  });
  after(async () => {
    await d?.destroy();
  });

  test('default bridge: an address in the subnet, default route via the gateway, hosts and hostname written', async () => {
    const out = await ok(['run', '--rm', '--hostname', 'boxy', 'busybox', 'sh', '-c', 'ip -4 -o addr show eth0; ip route; cat /etc/hosts; hostname']);
    const gw = d.net!.bip.split('/')[0]!;
    const sub = d.net!.subnet.split('/')[0]!.split('.').slice(0, 3).join('.');
    assert.match(out, new RegExp(`inet ${sub.replace(/\./g, '\\.')}\\.\\d+/24`));
    assert.match(out, new RegExp(`default via ${gw.replace(/\./g, '\\.')} dev eth0`));
    assert.match(out, new RegExp(`${sub.replace(/\./g, '\\.')}\\.\\d+\\tboxy`));
    assert.match(out, /^boxy$/m);
    const ls = await ok(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']);
    assert.match(ls, /^bridge bridge$/m);
    assert.match(ls, /^host host$/m);
    assert.match(ls, /^none null$/m);
  });

  test('containers on the default bridge reach each other by IP; inspect and ps show the address', async () => {
    await ok(['run', '-d', '--name', 'srv1', 'busybox', 'sh', '-c', 'while true; do echo hello-from-srv1 | nc -l -p 8080; done']);
    const ins = await inspect('srv1');
    const ip = ins.NetworkSettings.IPAddress as string;
    assert.ok(ip, 'an address');
    assert.equal(ins.NetworkSettings.Networks.bridge.IPAddress, ip);
    assert.equal(ins.HostConfig.NetworkMode, 'bridge');
    assert.match(ins.NetworkSettings.SandboxKey, /netns/);
    const ps = (await d.api('GET', '/containers/json?filters=' + encodeURIComponent('{"name":["srv1"]}'))).json();
    assert.equal(ps[0].NetworkSettings.Networks.bridge.IPAddress, ip);
    const ping = await ok(['run', '--rm', 'busybox', 'ping', '-c1', '-W2', ip]);
    assert.match(ping, /1 packets received/);
    const got = await eventually(async () => {
      const r = await d.berth(['run', '--rm', 'busybox', 'sh', '-c', `nc ${ip} 8080 </dev/null`]);
      return r.stdout.includes('hello-from-srv1') && r.stdout;
    }, 10_000, 'nc to srv1');
    assert.match(got, /hello-from-srv1/);
    // The host reaches the container too.
    const host = await runCommand('busybox', ['ping', '-c1', '-W2', ip], {});
    assert.equal(host.code, 0, host.stdout + host.stderr);
    await ok(['rm', '-f', 'srv1']);
  });

  test('user network: names and aliases resolve through the embedded DNS; other networks are isolated', async () => {
    await ok(['network', 'create', '--subnet', userSubnet, '--label', 'team=net', 'appnet']);
    await ok(['network', 'create', 'othernet']);
    await ok(['run', '-d', '--name', 'web1', '--network', 'appnet', '--network-alias', 'webalias', 'busybox', 'sleep', '300']);
    await ok(['run', '-d', '--name', 'lonely', '--network', 'othernet', 'busybox', 'sleep', '300']);
    const webIp = (await inspect('web1')).NetworkSettings.Networks.appnet.IPAddress as string;
    assert.ok(webIp.startsWith(prefix3 + '.'), webIp);
    const out = await ok(['run', '--rm', '--network', 'appnet', 'busybox', 'sh', '-c', 'cat /etc/resolv.conf; nslookup web1; nslookup webalias; ping -c1 -W2 web1']);
    assert.match(out, new RegExp(`nameserver ${prefix3.replace(/\./g, '\\.')}\\.1`));
    assert.ok(out.split(webIp).length >= 3, `web1 and webalias resolve to ${webIp}:\n${out}`);
    assert.match(out, /1 packets received/);
    // Unknown single names are NXDOMAIN (not forwarded), and names of other networks are unknown.
    const miss = await d.berth(['run', '--rm', '--network', 'appnet', 'busybox', 'nslookup', 'lonely']);
    assert.notEqual(miss.code, 0, miss.stdout);
    assert.match(miss.stdout + miss.stderr, /NXDOMAIN/);
    const lonelyIp = (await inspect('lonely')).NetworkSettings.Networks.othernet.IPAddress as string;
    const cross = await d.berth(['run', '--rm', '--network', 'appnet', 'busybox', 'ping', '-c1', '-W1', lonelyIp]);
    assert.notEqual(cross.code, 0, 'networks are isolated from each other');
    // The host is not a client of the network's DNS (issue 24 item 5: test/security covers it).
    const fromHost = await runCommand('busybox', ['timeout', '3', 'nslookup', 'web1', `${prefix3}.1`], {});
    assert.doesNotMatch(fromHost.stdout, new RegExp(webIp.replace(/\./g, '\\.')));
    const ins = (await d.api('GET', '/networks/appnet')).json();
    assert.equal(ins.IPAM.Config[0].Subnet, userSubnet);
    assert.equal(ins.Labels.team, 'net');
    const entry = Object.values(ins.Containers as Record<string, { Name: string; IPv4Address: string }>).find((c) => c.Name === 'web1');
    assert.equal(entry?.IPv4Address, `${webIp}/24`);
    const filtered = await ok(['network', 'ls', '-f', 'label=team=net', '-q']);
    assert.equal(filtered.trim(), ins.Id.slice(0, 12));
    assert.equal((await ok(['ps', '--filter', 'network=appnet', '--format', '{{.Names}}'])).trim(), 'web1');
    const custom = await ok(['network', 'ls', '-f', 'type=custom', '--format', '{{.Name}}']);
    assert.deepEqual(custom.trim().split('\n').sort(), ['appnet', 'othernet']);
  });

  test('bad requests get Docker errors and change nothing', async () => {
    const before = (await d.api('GET', '/networks')).json().length;
    const cases: Array<[unknown, number, RegExp]> = [
      [{ Name: 'bad1', IPAM: { Config: [{ Subnet: '10.300.0.0/24' }] } }, 400, /invalid/],
      [{ Name: 'bad2', IPAM: { Config: [{ Subnet: `${prefix3}.5/24` }] } }, 400, /invalid subnet/],
      [{ Name: 'bad3', IPAM: { Config: [{ Subnet: userSubnet }] } }, 403, /overlaps/],
      [{ Name: 'bad4', IPAM: { Config: [{ Subnet: d.net!.subnet }] } }, 403, /overlaps/],
      [{ Name: 'bad5', Driver: 'overlay' }, 404, /plugin "overlay" not found/],
      [{ Name: 'bad6', Driver: 'host' }, 403, /only one instance/],
      [{ Name: 'bad7', IPAM: { Config: [null] } }, 400, /IPAM.Config/],
      [{ Name: 'appnet' }, 409, /already exists/],
      [{ Name: '' }, 400, /name/],
      ['{not json', 400, /invalid JSON/],
    ];
    for (const [body, status, msg] of cases) {
      const r = await d.api('POST', '/networks/create', body, { 'Content-Type': 'application/json' });
      assert.equal(r.status, status, `${JSON.stringify(body)} → ${r.body}`);
      assert.match(r.json().message, msg);
    }
    assert.equal((await d.api('GET', '/networks')).json().length, before);
    // Through the API: the CLIs answer any 404 on create by pulling the image (as docker's does).
    const noNet = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { NetworkMode: 'nosuchnet' } });
    assert.equal(noNet.status, 404);
    assert.match(noNet.json().message, /network nosuchnet not found/);
    const alias = await d.berth(['run', '--rm', '--network-alias', 'x', 'busybox', 'true']);
    assert.match(alias.stderr, /network-scoped alias is supported only for containers in user defined networks/);
  });

  test('network rm refuses while in use (409), then removes; --ip is honoured and validated', async () => {
    const busy = await d.berth(['network', 'rm', 'othernet']);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /has active endpoints/);
    assert.equal((await d.api('DELETE', '/networks/othernet')).status, 409);
    await ok(['rm', '-f', 'lonely']);
    await ok(['network', 'rm', 'othernet']);
    assert.equal((await d.api('GET', '/networks/othernet')).status, 404);

    const fixed = `${prefix3}.77`;
    await ok(['run', '-d', '--name', 'fixed', '--network', 'appnet', '--ip', fixed, 'busybox', 'sleep', '300']);
    assert.equal((await inspect('fixed')).NetworkSettings.Networks.appnet.IPAddress, fixed);
    const outside = await d.berth(['run', '--rm', '--network', 'appnet', '--ip', '10.99.99.99', 'busybox', 'true']);
    assert.notEqual(outside.code, 0);
    assert.match(outside.stderr, /does not belong/);
    const onDefault = await d.berth(['run', '--rm', '--ip', '10.99.99.99', 'busybox', 'true']);
    assert.match(onDefault.stderr, /user defined networks only/);
    const taken = await d.berth(['run', '--rm', '--network', 'appnet', '--ip', fixed, 'busybox', 'true']);
    assert.notEqual(taken.code, 0);
    assert.match(taken.stderr, /already in use/i);
    await ok(['rm', '-f', 'fixed']);
  });

  test('--internal network: containers talk to each other, no default route out', async () => {
    await ok(['network', 'create', '--internal', 'innet']);
    await ok(['run', '-d', '--name', 'in1', '--network', 'innet', 'busybox', 'sleep', '300']);
    const out = await ok(['run', '--rm', '--network', 'innet', 'busybox', 'sh', '-c', 'ip route; ping -c1 -W2 in1']);
    assert.doesNotMatch(out, /default/);
    assert.match(out, /1 packets received/);
    // The host's side of the bridge (gateway) is not a way out either: the default bridge's gateway is unreachable.
    const gw = d.net!.bip.split('/')[0]!;
    const r = await d.berth(['run', '--rm', '--network', 'innet', 'busybox', 'ping', '-c1', '-W1', gw]);
    assert.notEqual(r.code, 0);
    await ok(['rm', '-f', 'in1']);
    await ok(['network', 'rm', 'innet']);
  });

  test('connect and disconnect a running container', async () => {
    await ok(['run', '-d', '--name', 'roam', 'busybox', 'sleep', '300']);
    await ok(['network', 'connect', '--alias', 'roamer', 'appnet', 'roam']);
    const ins = await inspect('roam');
    const ip = ins.NetworkSettings.Networks.appnet.IPAddress as string;
    assert.ok(ip.startsWith(prefix3 + '.'));
    assert.match(await ok(['exec', 'roam', 'ip', '-4', '-o', 'addr']), new RegExp(`eth1.*${ip.replace(/\./g, '\\.')}`));
    const out = await ok(['run', '--rm', '--network', 'appnet', 'busybox', 'nslookup', 'roamer']);
    assert.match(out, new RegExp(ip.replace(/\./g, '\\.')));
    await ok(['network', 'disconnect', 'appnet', 'roam']);
    assert.equal((await inspect('roam')).NetworkSettings.Networks.appnet, undefined);
    assert.doesNotMatch(await ok(['exec', 'roam', 'ip', '-o', 'link']), /eth1/);
    const again = await d.berth(['network', 'disconnect', 'appnet', 'roam']);
    assert.notEqual(again.code, 0);
    await ok(['rm', '-f', 'roam']);
  });

  test('--network none, host and container:NAME', async () => {
    const none = await ok(['run', '--rm', '--network', 'none', 'busybox', 'ip', '-o', 'link']);
    assert.doesNotMatch(none, /eth0/);
    assert.match(none, /lo:/);
    const hostLinks = await ok(['run', '--rm', '--network', 'host', 'busybox', 'ip', '-o', 'link']);
    assert.match(hostLinks, new RegExp(d.net!.bridge));
    await ok(['run', '-d', '--name', 'nsowner', 'busybox', 'sleep', '300']);
    const ownerIp = (await inspect('nsowner')).NetworkSettings.IPAddress as string;
    const joined = await ok(['run', '--rm', '--network', 'container:nsowner', 'busybox', 'ip', '-4', '-o', 'addr']);
    assert.match(joined, new RegExp(ownerIp.replace(/\./g, '\\.')));
    await ok(['rm', '-f', 'nsowner']);
  });

  test('--add-host (host-gateway), --dns, --dns-search, --dns-option are written', async () => {
    const out = await ok(['run', '--rm', '--add-host', 'gw.example:host-gateway', '--add-host', 'other:10.1.2.3', '--dns', '10.0.0.53', '--dns-search', 'corp.example', '--dns-option', 'ndots:2', 'busybox', 'sh', '-c', 'cat /etc/hosts /etc/resolv.conf']);
    const gw = d.net!.bip.split('/')[0]!;
    assert.match(out, new RegExp(`${gw.replace(/\./g, '\\.')}\\tgw\\.example`));
    assert.match(out, /10\.1\.2\.3\tother/);
    assert.match(out, /nameserver 10\.0\.0\.53/);
    assert.match(out, /search corp\.example/);
    assert.match(out, /options ndots:2/);
  });

  test('network events and prune', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await ok(['network', 'create', '--label', 'prune=me', 'prunable']);
    await ok(['network', 'create', 'keepme']);
    const pruned = await d.berth(['network', 'prune', '-f', '--filter', 'label=prune=me']);
    assert.match(pruned.stdout, /prunable/);
    assert.doesNotMatch(pruned.stdout, /keepme/);
    const ev = await ok(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'type=network', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}']);
    assert.match(ev, /network create prunable/);
    assert.match(ev, /network destroy prunable/);
    await ok(['network', 'rm', 'keepme']);
  });

  test('a crashed daemon comes back with connectivity and DNS; no duplicate addresses', async () => {
    await ok(['run', '-d', '--name', 'survivor', '--network', 'appnet', 'busybox', 'sh', '-c', 'while true; do echo alive | nc -l -p 8081; done']);
    const ip = (await inspect('survivor')).NetworkSettings.Networks.appnet.IPAddress as string;
    await d.crash();
    await d.start();
    assert.equal((await inspect('survivor')).State.Status, 'running');
    const out = await eventually(async () => {
      const r = await d.berth(['run', '--rm', '--network', 'appnet', 'busybox', 'sh', '-c', 'nslookup survivor && nc survivor 8081 </dev/null']);
      return r.stdout.includes('alive') && r.stdout;
    }, 15_000, 'survivor reachable by name after restart');
    assert.match(out, new RegExp(ip.replace(/\./g, '\\.')));
    await ok(['run', '-d', '--name', 'newcomer', '--network', 'appnet', 'busybox', 'sleep', '300']);
    assert.notEqual((await inspect('newcomer')).NetworkSettings.Networks.appnet.IPAddress, ip);
    await ok(['rm', '-f', 'survivor', 'newcomer', 'web1']);
    await ok(['network', 'rm', 'appnet']);
  });

  test('nothing is left after containers and networks are removed and the daemon stops', async () => {
    const nsDir = join(d.execRoot, 'netns');
    assert.deepEqual(await readdir(nsDir).catch(() => []), []);
    // Only the default bridge of this daemon carries its mark while it runs: no veth, no user bridge.
    const mine = (await runCommand('ip', ['-o', 'link', 'show'], {})).stdout.split('\n').filter((l) => l.includes(`alias berth:${d.dataRoot}`));
    assert.deepEqual(mine.map((l) => l.split(':')[1]!.trim()), [d.net!.bridge]);
    assert.equal(await d.stop(), 0);
    const after = (await runCommand('ip', ['-d', '-o', 'link', 'show'], {})).stdout;
    assert.doesNotMatch(after, new RegExp(`\\b${d.net!.bridge}\\b`));
    assert.doesNotMatch(after, new RegExp(`alias berth:${d.dataRoot.replace(/[/.]/g, '\\$&')}`));
    const tables = (await runCommand('nft', ['list', 'tables'], {})).stdout;
    assert.doesNotMatch(tables, new RegExp(`\\b${d.net!.nftTable}\\b`));
    assert.ok(!existsSync(join(nsDir, 'x')));
    await d.start();
  });
});
