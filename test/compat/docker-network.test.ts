/**
 * The real docker CLI's network commands against a private berthd (issue 6): create with
 * subnet/gateway/labels, ls with filters and formats, inspect, run --network with aliases and
 * --ip, name resolution, connect/disconnect, rm while in use, prune.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';

describe('docker network against berthd', () => {
  let d: TestDaemon;
  let prefix3: string;
  const ok = async (args: string[]) => {
    const r = await d.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  before(async () => {
    d = await startDaemon('compat-net');
    await d.importBusybox();
    const base = d.net!.pool.split('/')[0]!.split('.').map(Number);
    prefix3 = `${base[0]}.${base[1]}.${base[2]! + 5}`;
  });
  after(async () => {
    await d?.destroy();
  });

  test('create, ls, inspect', async () => {
    const id = (await ok(['network', 'create', '--subnet', `${prefix3}.0/24`, '--gateway', `${prefix3}.254`, '--ip-range', `${prefix3}.128/25`, '--label', 'app=compat', '-o', 'com.docker.network.bridge.name=btcompatnet', 'compatnet'])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const dup = await d.docker(['network', 'create', 'compatnet']);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /already exists/);
    assert.match(await ok(['network', 'ls']), /NETWORK ID\s+NAME\s+DRIVER\s+SCOPE[\s\S]*compatnet\s+bridge\s+local/);
    assert.equal((await ok(['network', 'ls', '--filter', 'label=app=compat', '--format', '{{.Name}}'])).trim(), 'compatnet');
    assert.equal((await ok(['network', 'ls', '-q', '--filter', 'name=compatnet'])).trim(), id.slice(0, 12));
    const ins = JSON.parse(await ok(['network', 'inspect', 'compatnet']))[0];
    assert.equal(ins.Driver, 'bridge');
    assert.deepEqual(ins.IPAM.Config, [{ Subnet: `${prefix3}.0/24`, Gateway: `${prefix3}.254`, IPRange: `${prefix3}.128/25` }]);
    assert.equal(ins.Options['com.docker.network.bridge.name'], 'btcompatnet');
    assert.equal((await ok(['network', 'inspect', '-f', '{{.Name}} {{.Internal}}', 'compatnet'])).trim(), 'compatnet false');
    const missing = await d.docker(['network', 'inspect', 'nosuchnet']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /not found/);
  });

  test('run --network with alias and --ip; names resolve; inspect shows the container', async () => {
    await ok(['run', '-d', '--name', 'cweb', '--network', 'compatnet', '--network-alias', 'frontend', 'busybox', 'sleep', '300']);
    const ip = (await ok(['inspect', '-f', '{{.NetworkSettings.Networks.compatnet.IPAddress}}', 'cweb'])).trim();
    const last = Number(ip.split('.')[3]);
    assert.ok(ip.startsWith(prefix3 + '.') && last >= 128, `address from the ip-range: ${ip}`);
    const out = await ok(['run', '--rm', '--network', 'compatnet', '--ip', `${prefix3}.200`, 'busybox', 'sh', '-c', 'ip -4 -o addr show eth0; nslookup frontend; ping -c1 -W2 cweb']);
    assert.match(out, new RegExp(`inet ${prefix3.replace(/\./g, '\\.')}\\.200/24`));
    assert.match(out, new RegExp(ip.replace(/\./g, '\\.')));
    assert.match(out, /1 packets received/);
    const ins = JSON.parse(await ok(['network', 'inspect', 'compatnet']))[0];
    const names = Object.values(ins.Containers as Record<string, { Name: string }>).map((c) => c.Name);
    assert.deepEqual(names, ['cweb']);
    assert.match(await ok(['ps', '--format', '{{.Networks}}', '--filter', 'name=cweb']), /compatnet/);
  });

  test('connect and disconnect a running container; rm refuses while in use; prune', async () => {
    await ok(['run', '-d', '--name', 'cside', 'busybox', 'sleep', '300']);
    await ok(['network', 'connect', '--alias', 'sidecar', 'compatnet', 'cside']);
    const nets = (await ok(['inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', 'cside'])).trim().split(' ').sort();
    assert.deepEqual(nets, ['bridge', 'compatnet']);
    assert.match(await ok(['exec', 'cside', 'ip', '-o', 'link']), /eth1/);
    await ok(['network', 'disconnect', 'compatnet', 'cside']);
    assert.doesNotMatch(await ok(['exec', 'cside', 'ip', '-o', 'link']), /eth1/);
    const busy = await d.docker(['network', 'rm', 'compatnet']);
    assert.notEqual(busy.code, 0);
    assert.match(busy.stderr, /active endpoints/);
    await ok(['rm', '-f', 'cweb', 'cside']);
    await ok(['network', 'create', 'compatspare']);
    const pruned = await ok(['network', 'prune', '-f']);
    assert.match(pruned, /compatnet/);
    assert.match(pruned, /compatspare/);
    assert.doesNotMatch(await ok(['network', 'ls', '--format', '{{.Name}}']), /compat/);
    const builtin = await d.docker(['network', 'rm', 'bridge']);
    assert.notEqual(builtin.code, 0);
    assert.match(builtin.stderr, /pre-defined network/);
  });
});
