// The real docker CLI against berthd: published ports (issue 6). Traffic only from the host's
// loopback to busybox httpd in the containers.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, eventually, type TestDaemon } from '../helpers/daemon.js';
import { get, freePort } from '../helpers/http.js';

const httpd = (text: string) => ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && httpd -f -p 80 -h /www`];

describe('docker CLI: published ports against berthd', () => {
  let d: TestDaemon;
  const ok = async (args: string[]) => {
    const r = await d.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const reach = (port: number, want: string) => eventually(async () => (await get(port).then((r) => r.body).catch(() => '')) === `${want}\n`, 10_000, `${want} on ${port}`);

  before(async () => {
    d = await startDaemon('compat-ports');
    await d.importBusybox();
  });
  after(async () => {
    await d?.destroy();
  });

  test('docker run -d -p 127.0.0.1::80, docker port, docker ps PORTS, docker inspect', async () => {
    await ok(['run', '-d', '--name', 'cweb1', '-p', '127.0.0.1::80', 'busybox', ...httpd('compat-web1')]);
    const line = (await ok(['port', 'cweb1'])).trim();
    const m = /^80\/tcp -> 127\.0\.0\.1:(\d+)$/.exec(line);
    assert.ok(m, `docker port output: ${line}`);
    const port = Number(m[1]);
    await reach(port, 'compat-web1');
    assert.equal(await ok(['port', 'cweb1', '80/tcp']), `127.0.0.1:${port}\n`);
    assert.equal(await ok(['ps', '--filter', 'name=cweb1', '--format', '{{.Ports}}']), `127.0.0.1:${port}->80/tcp\n`);
    assert.equal(await ok(['inspect', '--format', '{{json .NetworkSettings.Ports}}', 'cweb1']), `{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"${port}"}]}\n`);
    const table = await ok(['ps', '--filter', 'name=cweb1']);
    assert.match(table.split('\n')[0]!, /PORTS/);
    assert.match(table, new RegExp(`127\\.0\\.0\\.1:${port}->80/tcp\\s+cweb1`));
    const none = await d.docker(['port', 'cweb1', '81']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /No public port '81' published for cweb1/);
  });

  test('docker run -p HOST:CONTAINER and -P; a taken port gives the daemon\'s error', async () => {
    const hp = await freePort();
    await ok(['run', '-d', '--name', 'cweb2', '-p', `${hp}:80`, '-P', '--expose', '8080', 'busybox', ...httpd('compat-web2')]);
    await reach(hp, 'compat-web2');
    const lines = (await ok(['port', 'cweb2'])).trim().split('\n');
    assert.equal(lines[0], `80/tcp -> 0.0.0.0:${hp}`);
    assert.match(lines[1]!, /^8080\/tcp -> 0\.0\.0\.0:\d+$/);
    const r = await d.docker(['run', '-d', '--name', 'cweb3', '-p', `${hp}:80`, 'busybox', ...httpd('compat-web3')]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, new RegExp(`Error response from daemon: driver failed programming external connectivity on endpoint cweb3 \\(\\w+\\): Bind for 0\\.0\\.0\\.0:${hp} failed: port is already allocated`));
    await reach(hp, 'compat-web2');
    await ok(['stop', '-t', '1', 'cweb2']);
    assert.equal(await ok(['port', 'cweb2']), '');
    await ok(['rm', '-f', 'cweb1', 'cweb2', 'cweb3']);
  });
});
