/**
 * Issue 24 item 4: a web page in a local browser driving the API. A create request with
 * `Content-Type: text/plain` (a cross-origin "simple" request, no CORS preflight) and
 * `"Privileged": true` was accepted, and the Host header was never checked, which left DNS
 * rebinding open on TCP listeners. JSON bodies need the JSON type (Docker's rule), and a TCP
 * listener refuses a Host that is not an IP, localhost or a configured name.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createDaemon, type TestDaemon } from '../helpers/daemon.js';
import { freePort } from '../helpers/http.js';

function tcpRequest(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

describe('security: a browser page driving the API (simple cross-origin POST, DNS rebinding)', () => {
  let d: TestDaemon;
  let port: number;
  before(async () => {
    d = await createDaemon('sec-api');
    port = await freePort();
    await d.start(['-H', d.host, '-H', `tcp://127.0.0.1:${port}`, '--insecure-tcp', '--api-allowed-host', 'berth.example']);
    await d.importBusybox();
  });
  after(async () => {
    await d?.destroy();
  });

  test('a text/plain create of a privileged container is refused with Docker\'s message; JSON is accepted', async () => {
    const body = JSON.stringify({ Image: 'busybox', Cmd: ['true'], HostConfig: { Privileged: true } });
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = await tcpRequest(port, 'POST', '/containers/create?name=evil', { 'Content-Type': ct, Host: `127.0.0.1:${port}` }, body);
      assert.equal(r.status, 400, `${ct}: ${r.body}`);
      assert.match(JSON.parse(r.body).message, /unsupported Content-Type header \(.*\): must be 'application\/json'/);
    }
    // Same over the socket, and without any Content-Type.
    const none = await d.api('POST', '/containers/create?name=evil', body);
    assert.equal(none.status, 400, none.body.toString());
    assert.equal((await d.api('GET', '/containers/json?all=1')).json().length, 0, 'nothing was created');
    const good = await tcpRequest(port, 'POST', '/containers/create?name=fine', { 'Content-Type': 'application/json; charset=utf-8', Host: `localhost:${port}` }, body);
    assert.equal(good.status, 201, good.body);
    // A bodiless POST needs no Content-Type (docker start, kill, …).
    const rm = await d.api('DELETE', '/containers/fine');
    assert.equal(rm.status, 204);
  });

  test('a rebinding attacker\'s Host name is refused on TCP; IPs, localhost and configured names pass; the socket is not checked', async () => {
    const ping = (host: string) => tcpRequest(port, 'GET', '/_ping', { Host: host });
    const evil = await ping(`attacker.example:${port}`);
    assert.equal(evil.status, 403, evil.body);
    assert.match(JSON.parse(evil.body).message, /Host header .* is not allowed/);
    const create = await tcpRequest(port, 'POST', '/containers/create', { Host: 'rebind.attacker.example', 'Content-Type': 'application/json' }, JSON.stringify({ Image: 'busybox' }));
    assert.equal(create.status, 403);
    for (const ok of [`127.0.0.1:${port}`, `localhost:${port}`, 'berth.example', `[::1]:${port}`]) assert.equal((await ping(ok)).status, 200, ok);
    assert.equal((await d.api('GET', '/_ping', undefined, { Host: 'attacker.example' })).status, 200, 'UNIX socket requests are not Host-checked');
  });
});
