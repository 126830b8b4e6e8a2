// Published ports (issue 6): -p / -P through berth, with real traffic from the host's loopback
// to busybox httpd in containers (TCP) and to a UDP echo server in a container's netns.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import dgram from 'node:dgram';
import { spawn, execFile } from 'node:child_process';
import { startDaemon, eventually, type TestDaemon } from '../helpers/daemon.js';
import { get, freePort } from '../helpers/http.js';

function nftTable(table: string): Promise<string> {
  return new Promise((r) => execFile('nft', ['list', 'table', 'ip', table], (e, out) => r(e ? '' : out)));
}

/** busybox httpd serving /www (index.html says `text`) on `ports`, in the foreground. */
function httpd(text: string, ports: number[] = [80]): string[] {
  const servers = ports.map((p, i) => `httpd ${i === ports.length - 1 ? '-f ' : ''}-p ${p} -h /www`).join('; ');
  return ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && ${servers}`];
}

describe('published ports', () => {
  let d: TestDaemon;
  let table: string;
  const ok = async (args: string[]) => {
    const r = await d.berth(args);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const inspect = async (name: string) => (await d.api('GET', `/containers/${name}/json`)).json();
  const hostPort = async (name: string, key: string) => Number((await inspect(name)).NetworkSettings.Ports[key][0].HostPort);
  const reach = (port: number, want: string) => eventually(async () => (await get(port).catch(() => undefined))?.body === `${want}\n`, 10_000, `${want} on ${port}`);

  before(async () => {
    d = await startDaemon('ports');
    await d.importBusybox();
    table = `${d.net!.nftTable}_ports`;
  });
  after(async () => {
    await d?.destroy();
  });

  test('-p 127.0.0.1::80 gets a free port that reaches httpd; port, inspect and ps show it', async () => {
    await ok(['run', '-d', '--name', 'web1', '-p', '127.0.0.1::80', '--expose', '443', 'busybox', ...httpd('hello-web1')]);
    const ins = await inspect('web1');
    assert.deepEqual(Object.keys(ins.NetworkSettings.Ports).sort(), ['443/tcp', '80/tcp']);
    assert.equal(ins.NetworkSettings.Ports['443/tcp'], null);
    const [b] = ins.NetworkSettings.Ports['80/tcp'];
    assert.equal(b.HostIp, '127.0.0.1');
    const port = Number(b.HostPort);
    assert.ok(port > 1024, `a dynamic port, got ${b.HostPort}`);
    assert.deepEqual(ins.HostConfig.PortBindings, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
    await reach(port, 'hello-web1');
    assert.equal(await ok(['port', 'web1']), `80/tcp -> 127.0.0.1:${port}\n`);
    assert.equal(await ok(['port', 'web1', '80']), `127.0.0.1:${port}\n`);
    const none = await d.berth(['port', 'web1', '443/tcp']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /No public port '443\/tcp' published for web1/);
    const ps = await ok(['ps', '--filter', 'name=web1', '--format', '{{.Ports}}']);
    // docker/cli DisplayablePorts: exposed-only ports first, host mappings last.
    assert.equal(ps, `443/tcp, 127.0.0.1:${port}->80/tcp\n`);
    await ok(['rm', '-f', 'web1']);
  });

  test('-p HOST:CONTAINER on every address, reached on 127.0.0.1; stop removes the rule, rm the table', async () => {
    const hp = await freePort();
    await ok(['run', '-d', '--name', 'web2', '-p', `${hp}:80`, 'busybox', ...httpd('hello-web2')]);
    assert.equal(await hostPort('web2', '80/tcp'), hp);
    await reach(hp, 'hello-web2');
    // IPv6 loopback: the userland proxy on [::] (berth's networks are IPv4 only).
    assert.equal((await get(hp, '/', '::1')).body, 'hello-web2\n');
    assert.match(await nftTable(table), new RegExp(`tcp dport ${hp} dnat to`));
    await ok(['stop', '-t', '1', 'web2']);
    assert.doesNotMatch(await nftTable(table), new RegExp(`dport ${hp} `));
    await assert.rejects(get(hp));
    await assert.rejects(get(hp, '/', '::1'));
    assert.deepEqual((await inspect('web2')).NetworkSettings.Ports, {});
    // Started again, the same port works again.
    await ok(['start', 'web2']);
    await reach(hp, 'hello-web2');
    await ok(['rm', '-f', 'web2']);
    assert.equal(await nftTable(table), '', 'no ports table once nothing is published');
  });

  test('-p [::1]::80 is served by the userland proxy and shown with brackets', async () => {
    await ok(['run', '-d', '--name', 'web9', '-p', '[::1]::80', 'busybox', ...httpd('hello-web9')]);
    const [b] = (await inspect('web9')).NetworkSettings.Ports['80/tcp'];
    assert.equal(b.HostIp, '::1');
    const port = Number(b.HostPort);
    await eventually(async () => (await get(port, '/', '::1').catch(() => undefined))?.body === 'hello-web9\n', 10_000, 'web9 on ::1');
    assert.equal(await ok(['port', 'web9', '80']), `[::1]:${port}\n`);
    await ok(['rm', '-f', 'web9']);
    await assert.rejects(get(port, '/', '::1'));
  });

  test('bad port specs are refused at create and nothing is made', async () => {
    const before = (await d.api('GET', '/containers/json?all=1')).json().length;
    for (const [pb, msg] of [
      [{ '80/icmp': [] }, /invalid proto: icmp/],
      [{ '80/tcp': [{ HostPort: 'http' }] }, /invalid hostPort: http/],
      [{ '80/tcp': [{ HostIp: '1.2.3', HostPort: '80' }] }, /invalid IP address: 1\.2\.3/],
    ] as const) {
      const r = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { PortBindings: pb } });
      assert.equal(r.status, 400, JSON.stringify(pb));
      assert.match(r.json().message, msg);
    }
    assert.equal((await d.api('GET', '/containers/json?all=1')).json().length, before);
    const cli = await d.berth(['create', '-p', '1.2.3:80:80', 'busybox']);
    assert.equal(cli.code, 125);
    assert.match(cli.stderr, /invalid argument "1\.2\.3:80:80" for "-p, --publish" flag: invalid IP address: 1\.2\.3/);
    const proto = await d.berth(['create', '-p', '80/icmp', 'busybox']);
    assert.match(proto.stderr, /invalid proto: icmp/);
  });

  test('ranges map port by port', async () => {
    const a = await freePort();
    let b = await freePort();
    // Two consecutive free ports.
    const start = Math.min(a, b);
    b = start + 1;
    await ok(['run', '-d', '--name', 'web3', '-p', `127.0.0.1:${start}-${b}:8001-8002`, 'busybox', ...httpd('hello-web3', [8001, 8002])]);
    assert.equal(await ok(['port', 'web3']), `8001/tcp -> 127.0.0.1:${start}\n8002/tcp -> 127.0.0.1:${b}\n`);
    await reach(start, 'hello-web3');
    await reach(b, 'hello-web3');
    const bad = await d.berth(['run', '-d', '-p', '8000-8002:80-81', 'busybox']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /invalid ranges specified for container and host Ports: 80-81 and 8000-8002/);
    await ok(['rm', '-f', 'web3']);
  });

  test('udp: datagrams reach a server in the container and its answers come back', async () => {
    await ok(['run', '-d', '--name', 'udp1', '-p', '127.0.0.1::5353/udp', 'busybox', 'sleep', '300']);
    const ins = await inspect('udp1');
    const port = Number(ins.NetworkSettings.Ports['5353/udp'][0].HostPort);
    // A UDP echo server inside the container's network namespace (busybox has no UDP server).
    const srv = spawn('nsenter', [`--net=${ins.NetworkSettings.SandboxKey}`, process.execPath, '-e', "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send('echo:'+m,r.port,r.address));s.bind(5353,()=>console.log('up'))"], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((r) => srv.stdout!.once('data', r));
      const sock = dgram.createSocket('udp4');
      try {
        const answer = await new Promise<string>((resolve, reject) => {
          const t = setInterval(() => sock.send('ping', port, '127.0.0.1'), 300);
          sock.once('message', (m) => {
            clearInterval(t);
            resolve(m.toString());
          });
          setTimeout(() => {
            clearInterval(t);
            reject(new Error('no UDP answer'));
          }, 5000);
        });
        assert.equal(answer, 'echo:ping');
      } finally {
        sock.close();
      }
    } finally {
      srv.kill('SIGKILL');
    }
    assert.equal(await ok(['port', 'udp1', '5353/udp']), `127.0.0.1:${port}\n`);
    await ok(['rm', '-f', 'udp1']);
  });

  test('-P publishes every exposed port (--expose, ranges) on free ports', async () => {
    await ok(['run', '-d', '--name', 'web4', '-P', '--expose', '80', '--expose', '8001-8002', 'busybox', ...httpd('hello-web4', [8001, 80])]);
    const ports = (await inspect('web4')).NetworkSettings.Ports;
    assert.deepEqual(Object.keys(ports).sort(), ['80/tcp', '8001/tcp', '8002/tcp']);
    for (const k of Object.keys(ports)) assert.equal(ports[k][0].HostIp, '0.0.0.0');
    const hp = Number(ports['80/tcp'][0].HostPort);
    await reach(hp, 'hello-web4');
    await reach(Number(ports['8001/tcp'][0].HostPort), 'hello-web4');
    const lines = (await ok(['port', 'web4'])).trim().split('\n');
    assert.deepEqual(lines, [`80/tcp -> 0.0.0.0:${hp}`, `8001/tcp -> 0.0.0.0:${ports['8001/tcp'][0].HostPort}`, `8002/tcp -> 0.0.0.0:${ports['8002/tcp'][0].HostPort}`]);
    await ok(['rm', '-f', 'web4']);
  });

  test('a host port in use gives Docker\'s error and leaves nothing behind', async () => {
    const hp = await freePort();
    await ok(['run', '-d', '--name', 'web5', '-p', `${hp}:80`, 'busybox', ...httpd('hello-web5')]);
    const rulesBefore = await nftTable(table);
    const r = await d.berth(['run', '-d', '--name', 'web6', '-p', `${hp + 0}:80`, '-p', '127.0.0.1::81', 'busybox', ...httpd('hello-web6')]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, new RegExp(`Bind for 0\\.0\\.0\\.0:${hp} failed: port is already allocated`));
    assert.equal((await inspect('web6')).State.Status, 'created');
    assert.equal(await nftTable(table), rulesBefore, 'the ports table is unchanged');
    await reach(hp, 'hello-web5');
    // A port busy in another program is refused too.
    const holder = net.createServer();
    await new Promise<void>((res) => holder.listen(0, '127.0.0.1', () => res()));
    try {
      const busy = (holder.address() as net.AddressInfo).port;
      const r2 = await d.berth(['run', '-d', '-p', `127.0.0.1:${busy}:80`, 'busybox']);
      assert.equal(r2.code, 125);
      assert.match(r2.stderr, /address already in use/);
    } finally {
      holder.close();
    }
    await ok(['rm', '-f', 'web5', 'web6']);
    await d.api('POST', '/containers/prune');
  });

  test('after kill -9 of berthd and a restart, published ports still work and stay taken', async () => {
    const hp = await freePort();
    await ok(['run', '-d', '--name', 'web7', '-p', `127.0.0.1:${hp}:80`, 'busybox', ...httpd('hello-web7')]);
    await ok(['run', '-d', '--name', 'web10', '-p', '[::1]::80', 'busybox', ...httpd('hello-web10')]);
    const hp6 = Number((await inspect('web10')).NetworkSettings.Ports['80/tcp'][0].HostPort);
    await reach(hp, 'hello-web7');
    await d.crash();
    await reach(hp, 'hello-web7');
    await d.start();
    await reach(hp, 'hello-web7');
    await eventually(async () => (await get(hp6, '/', '::1').catch(() => undefined))?.body === 'hello-web10\n', 10_000, 'the IPv6 proxy is back');
    const r = await d.berth(['run', '-d', '--name', 'web8', '-p', `127.0.0.1:${hp}:80`, 'busybox']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /port is already allocated/);
    assert.equal(await ok(['port', 'web7', '80']), `127.0.0.1:${hp}\n`);
    await ok(['rm', '-f', 'web7', 'web8', 'web10']);
    assert.equal(await nftTable(table), '');
  });
  test('a clean daemon shutdown keeps running containers\' ports; with nothing running the table goes', async () => {
    const hp = await freePort();
    await ok(['run', '-d', '--name', 'web11', '-p', `127.0.0.1:${hp}:80`, 'busybox', ...httpd('hello-web11')]);
    await reach(hp, 'hello-web11');
    await d.stop();
    await reach(hp, 'hello-web11');
    await d.start();
    await reach(hp, 'hello-web11');
    await ok(['stop', '-t', '1', 'web11']);
    await d.stop();
    assert.equal(await nftTable(table), '');
    await d.start();
    assert.equal(await nftTable(table), '');
    await ok(['rm', 'web11']);
  });
});
