import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { ApiClient, encodeFilters, pathPart } from './client.js';
import { ApiError, DaemonUnreachableError } from './errors.js';
import { demultiplex, encodeFrame, StreamError } from './stdcopy.js';
import { readJsonMessages } from './json-messages.js';
import { DEFAULT_HOST, InvalidHostError, defaultHost, parseHost, resolveHost } from './transport.js';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeDaemon, sendJson, upgradeResponse } from './fake-daemon.js';

async function collectText(w: PassThrough): Promise<string> {
  let s = '';
  w.on('data', (c: Buffer) => (s += c.toString()));
  await new Promise((r) => setImmediate(r));
  return s;
}

describe('transport', () => {
  it('resolves -H, then BERTH_HOST, then DOCKER_HOST, then the default', () => {
    assert.equal(resolveHost('unix:///a', { BERTH_HOST: 'unix:///b', DOCKER_HOST: 'unix:///c' }), 'unix:///a');
    assert.equal(resolveHost(undefined, { BERTH_HOST: 'unix:///b', DOCKER_HOST: 'unix:///c' }), 'unix:///b');
    assert.equal(resolveHost(undefined, { DOCKER_HOST: 'unix:///c' }), 'unix:///c');
    assert.equal(resolveHost(undefined, {}), DEFAULT_HOST);
  });

  it('a non-root user\'s default is its rootless socket when that exists (issue 21)', () => {
    const run = mkdtempSync(join(tmpdir(), 'berth-unit-xdg-'));
    try {
      assert.equal(defaultHost({ XDG_RUNTIME_DIR: run }, 1000), DEFAULT_HOST, 'no rootless daemon: the system socket');
      mkdirSync(join(run, 'berth'));
      writeFileSync(join(run, 'berth', 'berth.sock'), '');
      assert.equal(defaultHost({ XDG_RUNTIME_DIR: run }, 1000), `unix://${run}/berth/berth.sock`);
      assert.equal(defaultHost({ XDG_RUNTIME_DIR: run }, 0), DEFAULT_HOST, 'root keeps the system socket');
      assert.equal(defaultHost({}, 1000), DEFAULT_HOST);
      assert.equal(resolveHost(undefined, { XDG_RUNTIME_DIR: run, DOCKER_HOST: 'unix:///c' }), 'unix:///c', 'DOCKER_HOST still wins');
    } finally {
      rmSync(run, { recursive: true, force: true });
    }
  });

  it('parses unix hosts and rejects others clearly', () => {
    assert.deepEqual(parseHost('unix:///run/berth/berth.sock').options, { socketPath: '/run/berth/berth.sock' });
    assert.deepEqual(parseHost('/tmp/x.sock').options, { socketPath: '/tmp/x.sock' });
    assert.throws(() => parseHost('bogus'), InvalidHostError);
  });

  it('parses tcp hosts: plain by default, TLS with settings, docker\'s default ports', () => {
    assert.deepEqual(parseHost('tcp://127.0.0.1:2375').options, { host: '127.0.0.1', port: 2375 });
    assert.deepEqual(parseHost('tcp://10.0.0.5').options, { host: '10.0.0.5', port: 2375 });
    assert.equal(parseHost('tcp://127.0.0.1:2375').createAgent, undefined);
    const t = parseHost('tcp://[::1]', { tls: { verify: true } });
    assert.deepEqual(t.options, { host: '::1', port: 2376, protocol: 'https:' });
    assert.equal(t.createAgent?.(true).constructor.name, 'Agent');
    assert.equal((t.createAgent?.(true) as unknown as { protocol: string }).protocol, 'https:');
    assert.throws(() => parseHost('tcp://host:99999'), InvalidHostError);
    assert.throws(() => parseHost('ssh://user@host'), InvalidHostError);
  });
});

describe('stdcopy', () => {
  it('demultiplexes frames split at any byte', async () => {
    const data = Buffer.concat([encodeFrame(1, 'hello '), encodeFrame(2, 'warn\n'), encodeFrame(1, 'world\n'), encodeFrame(1, '')]);
    for (let cut = 1; cut < data.length; cut += 3) {
      const out = new PassThrough();
      const err = new PassThrough();
      await demultiplex(Readable.from([data.subarray(0, cut), data.subarray(cut)]), out, err);
      assert.equal(await collectText(out), 'hello world\n');
      assert.equal(await collectText(err), 'warn\n');
    }
  });

  it('fails on a system-error frame', async () => {
    await assert.rejects(demultiplex(Readable.from([encodeFrame(3, 'boom')]), new PassThrough(), new PassThrough()), StreamError);
  });
});

describe('helpers', () => {
  it('encodes filters as docker does', () => {
    assert.equal(encodeFilters([]), undefined);
    assert.equal(encodeFilters([['status', 'exited'], ['status', 'created'], ['label', 'a=b']]), '{"status":{"exited":true,"created":true},"label":{"a=b":true}}');
  });
  it('keeps / and : in image paths', () => {
    assert.equal(pathPart('localhost:5000/app:1'), 'localhost:5000/app:1');
    assert.equal(pathPart('a b?'), 'a%20b%3F');
  });
  it('reads newline-delimited and concatenated JSON messages', async () => {
    const msgs = [];
    for await (const m of readJsonMessages(Readable.from(['{"status":"a"}\n{"sta', 'tus":"b"}{"status":"c"}\n']))) msgs.push(m.status);
    assert.deepEqual(msgs, ['a', 'b', 'c']);
  });
});

describe('ApiClient', () => {
  const daemon = new FakeDaemon();
  before(async () => {
    daemon
      .on('GET', '/version', (_req, res) => sendJson(res, 200, { Version: '0.1.0' }))
      .on('GET', '/containers/{id}/json', (_req, res) => sendJson(res, 404, { message: 'No such container: x' }))
      .on('GET', '/_ping', (_req, res) => void res.writeHead(500).end('plain text'))
      .onUpgrade('POST', '/containers/{id}/attach', (_req, socket) => {
        socket.write(upgradeResponse());
        socket.write(encodeFrame(1, 'early'));
        socket.on('data', (c: Buffer) => socket.end(encodeFrame(1, `echo:${c}`)));
      });
    await daemon.listen();
  });
  after(async () => daemon.close());

  it('prefixes the API version and parses JSON', async () => {
    const client = new ApiClient(parseHost(daemon.host));
    assert.deepEqual(await client.version(), { Version: '0.1.0' });
    assert.equal(daemon.requests.at(-1)!.headers.host, 'localhost');
    client.close();
  });

  it('raises ApiError with the daemon message and status', async () => {
    const client = new ApiClient(parseHost(daemon.host));
    await assert.rejects(client.containerInspect('x'), (err: unknown) => err instanceof ApiError && err.statusCode === 404 && err.message === 'No such container: x');
    await assert.rejects(client.json('GET', '/_ping'), (err: unknown) => err instanceof ApiError && err.message === 'plain text');
    client.close();
  });

  it('raises DaemonUnreachableError when nothing listens', async () => {
    const client = new ApiClient(parseHost('unix:///nonexistent/berth.sock'));
    await assert.rejects(client.version(), DaemonUnreachableError);
  });

  it('hijacks a connection for attach, both directions', async () => {
    const client = new ApiClient(parseHost(daemon.host));
    const { socket, contentType } = await client.containerAttach('x', { stdin: true, stdout: true });
    assert.equal(contentType, 'application/vnd.docker.multiplexed-stream');
    const out = new PassThrough();
    const done = demultiplex(socket, out, new PassThrough());
    socket.write('ping');
    await done;
    assert.equal(await collectText(out), 'earlyecho:ping');
    client.close();
  });
});
