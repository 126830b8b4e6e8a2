import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame } from '../client/stdcopy.js';
import { FakeDaemon, sendJson } from '../client/fake-daemon.js';
import { main } from './main.js';
import { Capture, input } from './test-streams.js';

const ID = 'c'.repeat(64);
const NOW = 1_700_000_000_000;

describe('container and image commands', () => {
  const daemon = new FakeDaemon();
  const dir = mkdtempSync(join(tmpdir(), 'berth-cli-'));
  before(async () => {
    daemon
      .on('GET', '/containers/web/json', (req, res) =>
        sendJson(res, 200, { Id: ID, Name: '/web', State: { Status: 'running', Pid: 7 }, Config: { Tty: false, Labels: { a: 'b' } }, Size: req.query.get('size') }),
      )
      .on('GET', '/containers/tty/json', (_req, res) => sendJson(res, 200, { Id: 'tty', Config: { Tty: true } }))
      .on('GET', '/containers/{id}/json', (req, res) => sendJson(res, 404, { message: `No such container: ${req.path.split('/')[2]}` }))
      .on('GET', '/images/busybox/json', (_req, res) => sendJson(res, 200, { Id: 'sha256:1234', RepoTags: ['busybox:latest'] }))
      .on('GET', '/images/{id}/json', (req, res) => sendJson(res, 404, { message: `No such image: ${req.path.split('/')[2]}` }))
      .on('GET', '/containers/{id}/logs', (req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' });
        if (req.path.includes('/tty/')) res.end('raw tty bytes\n');
        else res.end(Buffer.concat([encodeFrame(1, 'out line\n'), encodeFrame(2, 'err line\n')]));
      })
      .on('POST', '/containers/{id}/stop', (req, res) => (req.path.includes('/missing/') ? sendJson(res, 404, { message: 'No such container: missing' }) : void res.writeHead(204).end()))
      .on('POST', '/containers/{id}/kill', (_req, res) => void res.writeHead(204).end())
      .on('POST', '/containers/{id}/restart', (_req, res) => void res.writeHead(204).end())
      .on('POST', '/containers/{id}/start', (req, res) => (req.path.includes('/running/') ? void res.writeHead(304).end() : void res.writeHead(204).end()))
      .on('DELETE', '/containers/{id}', (_req, res) => void res.writeHead(204).end())
      .on('POST', '/containers/{id}/wait', (_req, res) => sendJson(res, 200, { StatusCode: 42 }))
      .on('DELETE', '/images/{id}', (_req, res) => sendJson(res, 200, [{ Untagged: 'busybox:latest' }, { Deleted: 'sha256:1234' }]))
      .on('POST', '/images/{id}/tag', (_req, res) => void res.writeHead(201).end())
      .on('POST', '/images/create', (req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(`{"status":"sha256:${req.body.length.toString().padStart(64, '0')}"}\n`);
      })
      .on('GET', '/version', (_req, res) =>
        sendJson(res, 200, {
          Platform: { Name: 'berth' },
          Components: [
            { Name: 'Engine', Version: '0.1.0', Details: { ApiVersion: '1.45', MinAPIVersion: '1.24', GitCommit: 'abc', GoVersion: '', NodeVersion: 'v20.20.2', Os: 'linux', Arch: 'amd64', BuildTime: 'today', Experimental: 'false' } },
            { Name: 'crun', Version: '1.8.1', Details: { GitCommit: 'def' } },
          ],
          Version: '0.1.0',
          ApiVersion: '1.45',
        }),
      )
      .on('GET', '/info', (_req, res) => sendJson(res, 200, { Containers: 2, ContainersRunning: 1, ContainersPaused: 0, ContainersStopped: 1, Images: 3, MemTotal: 2087354368, NCPU: 2, Name: 'host' }));
    await daemon.listen();
  });
  after(async () => {
    await daemon.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function berth(argv: string[], stdin?: string) {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await main(argv, { stdout, stderr, stdin: input(stdin), env: { BERTH_HOST: daemon.host }, now: () => NOW, signals: new EventEmitter() });
    return { code, stdout: stdout.text, stderr: stderr.text };
  }

  it('logs demultiplexes to stdout and stderr and passes the query', async () => {
    const r = await berth(['logs', '-t', '--tail', '5', '--since', '10m', '--until', '2023-11-14T22:13:20Z', 'web']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'out line\n');
    assert.equal(r.stderr, 'err line\n');
    const calls = daemon.calls().slice(-2);
    assert.equal(calls[0], 'GET /containers/web/json');
    assert.equal(calls[1], `GET /containers/${ID}/logs?stdout=1&stderr=1&since=1699999400.000000000&until=1700000000.000000000&timestamps=1&tail=5`);
    const tty = await berth(['logs', 'tty']);
    assert.equal(tty.stdout, 'raw tty bytes\n');
  });

  it('inspect prints a 4-space JSON array, formats, and reports missing objects', async () => {
    let r = await berth(['inspect', 'web']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${JSON.stringify([{ Id: ID, Name: '/web', State: { Status: 'running', Pid: 7 }, Config: { Tty: false, Labels: { a: 'b' } }, Size: null }], null, 4)}\n`);
    r = await berth(['inspect', '-f', '{{.State.Status}} {{index .Config.Labels "a"}} {{index .Config.Labels "x"}}|{{json .Config}}', 'web']);
    assert.equal(r.stdout, 'running b |{"Tty":false,"Labels":{"a":"b"}}\n');
    r = await berth(['inspect', '-f', '{{.Id}} {{.State}} {{json .Config}}', 'busybox']);
    assert.equal(r.stdout, 'sha256:1234 <no value> null\n');
    r = await berth(['inspect', '-f', '{{.Config.Labels.a}}', 'busybox']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /executing "" at <\.Config\.Labels\.a>: nil pointer evaluating interface \{\}\.Labels/);
    r = await berth(['inspect', '--format', '{{.Id}}', 'busybox']);
    assert.equal(r.stdout, 'sha256:1234\n');
    assert.deepEqual(daemon.calls().slice(-2), ['GET /containers/busybox/json', 'GET /images/busybox/json']);
    r = await berth(['inspect', 'nope', 'web']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'Error: No such object: nope\n');
    assert.equal(JSON.parse(r.stdout).length, 1);
    r = await berth(['inspect', '--type', 'container', 'busybox']);
    assert.equal(r.stderr, 'Error: No such container: busybox\n');
    assert.equal(r.stdout, '[]\n');
    r = await berth(['inspect', '-f', '{{if}}', 'web']);
    assert.equal(r.code, 64);
    assert.equal(r.stderr, 'template parsing error: template: :1: missing value for if\n');
  });

  it('stop/kill/restart/rm/start print names; errors exit 1', async () => {
    let r = await berth(['stop', '-t', '3', '-s', 'SIGINT', 'web', 'missing', 'db']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, 'web\ndb\n');
    assert.equal(r.stderr, 'Error response from daemon: No such container: missing\n');
    assert.ok(daemon.calls().includes('POST /containers/web/stop?t=3&signal=SIGINT'));
    r = await berth(['kill', '-s', 'HUP', 'web']);
    assert.equal(r.stdout, 'web\n');
    assert.equal(daemon.calls().at(-1), 'POST /containers/web/kill?signal=HUP');
    r = await berth(['restart', '-t', '0', 'web']);
    assert.equal(daemon.calls().at(-1), 'POST /containers/web/restart?t=0');
    r = await berth(['rm', '-f', '-v', 'web']);
    assert.equal(r.stdout, 'web\n');
    assert.equal(daemon.calls().at(-1), 'DELETE /containers/web?force=1&v=1');
    r = await berth(['start', 'web', 'running']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'web\nrunning\n');
    r = await berth(['wait', 'web']);
    assert.equal(r.stdout, '42\n');
    assert.equal(daemon.calls().at(-1), 'POST /containers/web/wait');
  });

  it('rmi, tag and import', async () => {
    let r = await berth(['rmi', '-f', 'busybox']);
    assert.equal(r.stdout, 'Untagged: busybox:latest\nDeleted: sha256:1234\n');
    assert.equal(daemon.calls().at(-1), 'DELETE /images/busybox?force=1');
    r = await berth(['tag', 'busybox', 'localhost:5000/me/box:v1']);
    assert.equal(r.code, 0);
    assert.equal(daemon.calls().at(-1), 'POST /images/busybox/tag?repo=localhost%3A5000%2Fme%2Fbox&tag=v1');
    const tar = join(dir, 'rootfs.tar');
    writeFileSync(tar, Buffer.alloc(1024, 1));
    r = await berth(['import', '-c', 'CMD ["sh"]', '-m', 'hello', tar, 'mybox:1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `sha256:${'1024'.padStart(64, '0')}\n`);
    const req = daemon.requests.at(-1)!;
    assert.equal(`${req.method} ${req.path}?${req.query}`, 'POST /images/create?fromSrc=-&repo=mybox%3A1&tag=&message=hello&changes=CMD+%5B%22sh%22%5D');
    r = await berth(['import', '-'], 'x'.repeat(10));
    assert.equal(r.stdout, `sha256:${'10'.padStart(64, '0')}\n`);
    r = await berth(['import', join(dir, 'absent.tar')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^open .*absent\.tar: no such file or directory\n$/);
  });

  it('version and info', async () => {
    let r = await berth(['version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Client:\n Version:           0\.1\.0\n API version:       1\.47\n/);
    assert.match(r.stdout, /\nServer: berth\n Engine:\n  Version:          0\.1\.0\n  API version:      1\.45 \(minimum version 1\.24\)\n  Node\.js version:  v20\.20\.2\n/);
    assert.match(r.stdout, /\n crun:\n  Version:          1\.8\.1\n  GitCommit:        def\n$/);
    r = await berth(['version', '--format', '{{.Server.Version}} {{.Client.ApiVersion}}']);
    assert.equal(r.stdout, '0.1.0 1.47\n');
    r = await berth(['info']);
    assert.match(r.stdout, /\nServer:\n Containers: 2\n  Running: 1\n  Paused: 0\n  Stopped: 1\n Images: 3\n/);
    assert.match(r.stdout, /\n Total Memory: 1\.944GiB\n/);
  });

  it('version without a daemon prints the client part and fails', async () => {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await main(['version'], { stdout, stderr, stdin: input(), env: { BERTH_HOST: `unix://${join(dir, 'none.sock')}` } });
    assert.equal(code, 1);
    assert.match(stdout.text, /^Client:\n/);
    assert.equal(stderr.text, `Cannot connect to the berth daemon at unix://${join(dir, 'none.sock')}. Is the berth daemon running?\n`);
  });
});
