import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RootlesskitPorts } from './rootlesskit-ports.js';
import type { PortMapping } from './ruleset.js';

const silent = { warn() {}, info() {}, debug() {}, error() {}, child() { return silent; } } as never;

describe('RootlesskitPorts (issue 21)', () => {
  let dir = '';
  let server: http.Server;
  const calls: Array<{ method: string; url: string; body: unknown }> = [];
  let nextId = 1;
  let refuse = -1;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-unit-rk-'));
    // rootlesskit's API as its openapi.yaml describes it: POST /v1/ports, DELETE /v1/ports/{id}.
    server = http.createServer((req, res) => {
      let b = '';
      req.on('data', (c: Buffer) => (b += c.toString()));
      req.on('end', () => {
        const body = b ? JSON.parse(b) : undefined;
        calls.push({ method: req.method!, url: req.url!, body });
        if (req.method === 'POST' && body?.parentPort === refuse) {
          res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'listen tcp 0.0.0.0:' + refuse + ': bind: address already in use' }));
          return;
        }
        if (req.method === 'POST') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: nextId++, spec: body }));
        else res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(join(dir, 'api.sock'), r));
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const m = (hostIp: string, hostPort: number, proto: 'tcp' | 'udp' | 'sctp' = 'tcp'): PortMapping => ({ proto, hostIp, hostPort, containerIp: '172.18.0.2', containerPort: 80, bridge: 'b0', subnet: '172.18.0.0/16' });

  it('exposes each mapping with the child side on the namespace\'s loopback, and removes them by id', async () => {
    calls.length = 0;
    const p = new RootlesskitPorts({ apiSocket: join(dir, 'api.sock'), log: silent });
    await p.expose('c1', [m('', 8080), m('127.0.0.1', 8081, 'udp')]);
    assert.deepEqual(calls.map((c) => [c.method, c.url, c.body]), [
      ['POST', '/v1/ports', { proto: 'tcp', parentIP: '0.0.0.0', parentPort: 8080, childIP: '127.0.0.1', childPort: 8080 }],
      ['POST', '/v1/ports', { proto: 'udp', parentIP: '127.0.0.1', parentPort: 8081, childIP: '127.0.0.1', childPort: 8081 }],
    ]);
    calls.length = 0;
    await p.unexpose('c1');
    assert.deepEqual(calls.map((c) => `${c.method} ${c.url}`), ['DELETE /v1/ports/1', 'DELETE /v1/ports/2']);
    calls.length = 0;
    await p.unexpose('c1');
    assert.equal(calls.length, 0);
  });

  it('a refused port fails the call with rootlesskit\'s message and closes what the call opened', async () => {
    calls.length = 0;
    refuse = 9002;
    const p = new RootlesskitPorts({ apiSocket: join(dir, 'api.sock'), log: silent });
    await assert.rejects(p.expose('c2', [m('', 9001), m('', 9002)]), /9002.*address already in use/);
    assert.deepEqual(calls.map((c) => c.method), ['POST', 'POST', 'DELETE']);
    refuse = -1;
  });

  it('refuses what the builtin driver cannot do before asking it', async () => {
    calls.length = 0;
    const p = new RootlesskitPorts({ apiSocket: join(dir, 'api.sock'), log: silent });
    await assert.rejects(p.expose('c3', [m('', 9100, 'sctp')]), /sctp/);
    await assert.rejects(p.expose('c3', [m('192.0.2.7', 9100)]), /0\.0\.0\.0 or a loopback address/);
    assert.equal(calls.length, 0);
  });
});
