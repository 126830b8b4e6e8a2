/**
 * Issue 24 item 8 (berth's part; the `ADD <url>` cap is the build's): berth's registry server
 * ran bcrypt only for known users (a timing oracle that lists user names) and accepted an
 * upload ID under any repository; berthd's `requestTimeout: 0` let a client trickling a body
 * hold a connection forever.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { startRegistry, httpReq, sha, type RegistryProc } from '../helpers/registry.js';
import { createApiServer, closeApiServer } from '../../src/api/server.js';
import { Router } from '../../src/api/router.js';
import { silentLogger } from '../../src/common/logger.js';

const auth = (user: string, pw: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` });

describe('security: registry user enumeration, cross-repository uploads, slow request bodies', () => {
  const cleanup: Array<() => Promise<void>> = [];
  after(async () => {
    for (const f of cleanup.reverse()) await f();
  });

  async function registry(): Promise<RegistryProc> {
    const dir = await mkdtemp(join(tmpdir(), 'berth-test-sec-reg-'));
    const pw = join(dir, 'htpasswd');
    await writeFile(pw, `alice:${bcrypt.hashSync('correct horse', 10)}\n`);
    const reg = await startRegistry(dir, ['--htpasswd', pw]);
    cleanup.push(async () => {
      await reg.stop();
      await rm(dir, { recursive: true, force: true });
    });
    return reg;
  }

  test('user enumeration by timing: an unknown user is answered no faster than a known one with a wrong password', async () => {
    const reg = await registry();
    const time = async (user: string): Promise<number> => {
      const t0 = performance.now();
      const r = await httpReq(reg.port, 'GET', '/v2/', undefined, auth(user, 'wrong'));
      assert.equal(r.status, 401);
      return performance.now() - t0;
    };
    await time('alice'); // warm-up (the dummy hash is made on first use)
    await time('mallory');
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i++) {
      known.push(await time('alice'));
      unknown.push(await time(`mallory${i}`));
    }
    const k = median(known);
    const u = median(unknown);
    // bcrypt at cost 10 takes tens of milliseconds; a lookup miss without it takes ~1 ms.
    assert.ok(k > 10, `known user took ${k.toFixed(1)} ms: expected a bcrypt comparison`);
    assert.ok(u > k / 2, `unknown user answered in ${u.toFixed(1)} ms vs ${k.toFixed(1)} ms for a known one: user names leak`);
  });

  test('an upload started in one repository cannot be written or committed through another', async () => {
    const reg = await registry();
    const a = auth('alice', 'correct horse');
    const start = await httpReq(reg.port, 'POST', '/v2/team/app/blobs/uploads/', undefined, a);
    assert.equal(start.status, 202);
    const id = String(start.headers['docker-upload-uuid']);
    const body = Buffer.from('payload');
    const foreign = await httpReq(reg.port, 'PUT', `/v2/other/repo/blobs/uploads/${id}?digest=${sha(body)}`, body, { ...a, 'Content-Type': 'application/octet-stream' });
    assert.equal(foreign.status, 404, foreign.body.toString());
    assert.match(foreign.body.toString(), /BLOB_UPLOAD_UNKNOWN/);
    assert.equal((await httpReq(reg.port, 'GET', `/v2/other/repo/blobs/uploads/${id}`, undefined, a)).status, 404);
    assert.equal((await httpReq(reg.port, 'HEAD', `/v2/other/repo/blobs/${sha(body)}`, undefined, a)).status, 404);
    const own = await httpReq(reg.port, 'PUT', `/v2/team/app/blobs/uploads/${id}?digest=${sha(body)}`, body, { ...a, 'Content-Type': 'application/octet-stream' });
    assert.equal(own.status, 201, own.body.toString());
  });

  test('a client trickling a request body is cut off by the request timeout', async () => {
    const server = createApiServer({ router: new Router(), log: silentLogger(), timeouts: { requestMs: 1500, headersMs: 1000 } });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => closeApiServer(server));
    const port = (server.address() as net.AddressInfo).port;
    const t0 = Date.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.write('POST /containers/create HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{');
        // One byte every 200 ms, for at most 15 s: forever, as far as the test is concerned.
        const iv = setInterval(() => s.writable && s.write(' '), 200);
        const guard = setTimeout(() => {
          clearInterval(iv);
          s.destroy();
          reject(new Error('connection still open after 15 s'));
        }, 15_000);
        s.on('close', () => {
          clearInterval(iv);
          clearTimeout(guard);
          resolve(Date.now() - t0);
        });
        s.on('error', () => {});
        s.resume();
      });
    });
    assert.ok(closedAfter < 10_000, `closed after ${closedAfter} ms`);
  });
});
