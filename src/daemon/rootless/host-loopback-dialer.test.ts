import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dialThroughHost, isLoopbackTarget, serveHostLoopbackDialer } from './host-loopback-dialer.js';

describe('host loopback dialer (issue 21)', () => {
  let dir = '';
  let dialer: { close(): Promise<void> } | undefined;
  let web: http.Server | undefined;
  let port = 0;
  const sock = () => join(dir, 'dialer.sock');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-unit-dialer-'));
    dialer = await serveHostLoopbackDialer(sock());
    web = http.createServer((req, res) => res.end(`hello ${req.url}`));
    await new Promise<void>((r) => web!.listen(0, '127.0.0.1', r));
    port = (web.address() as { port: number }).port;
  });
  after(async () => {
    await dialer?.close();
    await new Promise((r) => web?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const dial = (host: string, p: number) => new Promise<Socket>((resolve, reject) => dialThroughHost(sock(), host, p, (err, s) => (err ? reject(err) : resolve(s!))));

  it('only loopback targets are served', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) assert.equal(isLoopbackTarget(h), true, h);
    for (const h of ['10.0.2.2', '192.168.1.1', 'example.com', '::ffff:10.0.0.1']) assert.equal(isLoopbackTarget(h), false, h);
  });

  it('relays HTTP over keep-alive connections through node:http', async () => {
    const agent = new http.Agent({ keepAlive: true });
    (agent as unknown as { createConnection: unknown }).createConnection = (_o: unknown, cb: (e: Error | null, s?: Socket) => void) => {
      dialThroughHost(sock(), '127.0.0.1', port, cb);
      return undefined;
    };
    for (const path of ['/a', '/b']) {
      const body = await new Promise<string>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
          let b = '';
          res.on('data', (c: Buffer) => (b += c.toString()));
          res.on('end', () => resolve(b));
        }).on('error', reject);
      });
      assert.equal(body, `hello ${path}`);
    }
    agent.destroy();
  });

  it('reports a refused connection with its errno code, and refuses non-loopback targets', async () => {
    const closed: Server = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const free = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    await assert.rejects(dial('127.0.0.1', free), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
    await assert.rejects(dial('10.0.2.2', 80), (err: NodeJS.ErrnoException) => err.code === 'EACCES');
  });
});
