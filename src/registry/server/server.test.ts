import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { createRegistryHandler, parseHtpasswd, parseRoute } from './server.js';
import { RegistryStorage } from './storage.js';

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function serve(root: string, users?: Map<string, string>): Promise<{ server: Server; url: string }> {
  const storage = new RegistryStorage(root);
  await storage.init();
  const h = createRegistryHandler(storage, users);
  const server = createServer((req, res) => void h(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

describe('registry server (distribution API)', () => {
  let dir: string;
  let srv: { server: Server; url: string };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-regsrv-'));
    srv = await serve(join(dir, 'root'));
  });
  after(async () => {
    srv.server.closeAllConnections();
    await new Promise((r) => srv.server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  test('routes split the repository name at the last keyword', () => {
    assert.deepEqual(parseRoute('/v2/a/b/c/manifests/latest'), { kind: 'manifest', name: 'a/b/c', ref: 'latest' });
    assert.deepEqual(parseRoute('/v2/a/blobs/uploads/'), { kind: 'uploads', name: 'a' });
    assert.deepEqual(parseRoute('/v2/x/tags/list'), { kind: 'tags', name: 'x' });
  });

  test('version check answers with the API version header', async () => {
    const r = await fetch(`${srv.url}/v2/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0');
  });

  test('chunked upload, HEAD, range GET, wrong digest rejected with nothing stored', async () => {
    const data = Buffer.from('0123456789abcdef');
    const start = await fetch(`${srv.url}/v2/repo/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202);
    const loc = start.headers.get('location')!;
    const p1 = await fetch(`${srv.url}${loc}`, { method: 'PATCH', body: data.subarray(0, 8), headers: { 'content-range': '0-7' } });
    assert.equal(p1.status, 202);
    assert.equal(p1.headers.get('range'), '0-7');
    const bad = await fetch(`${srv.url}${loc}`, { method: 'PATCH', body: data.subarray(8), headers: { 'content-range': '4-11' } });
    assert.equal(bad.status, 416);
    const fin = await fetch(`${srv.url}${loc}?digest=${sha(data)}`, { method: 'PUT', body: data.subarray(8) });
    assert.equal(fin.status, 201);
    const head = await fetch(`${srv.url}/v2/repo/blobs/${sha(data)}`, { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), '16');
    const range = await fetch(`${srv.url}/v2/repo/blobs/${sha(data)}`, { headers: { range: 'bytes=4-7' } });
    assert.equal(range.status, 206);
    assert.equal(await range.text(), '4567');
    // Wrong digest: 400 DIGEST_INVALID, and neither the blob nor the upload remains.
    const lie = Buffer.from('not what was announced');
    const r = await fetch(`${srv.url}/v2/repo/blobs/uploads/?digest=${sha('other')}`, { method: 'POST', body: lie });
    assert.equal(r.status, 400);
    assert.equal(((await r.json()) as { errors: { code: string }[] }).errors[0]!.code, 'DIGEST_INVALID');
    assert.ok(!(await readdir(join(dir, 'root', 'blobs', 'sha256'))).includes(sha(lie).slice(7)));
    assert.ok(!(await readdir(join(dir, 'root', 'blobs', 'sha256'))).includes(sha('other').slice(7)));
    assert.deepEqual(await readdir(join(dir, 'root', 'uploads')), []);
    // A blob of another repository is not visible here until mounted.
    assert.equal((await fetch(`${srv.url}/v2/other/blobs/${sha(data)}`, { method: 'HEAD' })).status, 404);
    const mount = await fetch(`${srv.url}/v2/other/blobs/uploads/?mount=${sha(data)}&from=repo`, { method: 'POST' });
    assert.equal(mount.status, 201);
    assert.equal((await fetch(`${srv.url}/v2/other/blobs/${sha(data)}`, { method: 'HEAD' })).status, 200);
  });

  test('manifests: unknown blobs refused, oversized refused, tag/digest GET, tags list, catalog, delete', async () => {
    const config = Buffer.from('{}');
    await fetch(`${srv.url}/v2/m/blobs/uploads/?digest=${sha(config)}`, { method: 'POST', body: config });
    const mt = 'application/vnd.oci.image.manifest.v1+json';
    const missing = JSON.stringify({ schemaVersion: 2, mediaType: mt, config: { mediaType: 'x', digest: sha(config), size: 2 }, layers: [{ mediaType: 'x', digest: sha('nope'), size: 1 }] });
    const r1 = await fetch(`${srv.url}/v2/m/manifests/v1`, { method: 'PUT', body: missing, headers: { 'content-type': mt } });
    assert.equal(r1.status, 400);
    assert.equal(((await r1.json()) as { errors: { code: string }[] }).errors[0]!.code, 'MANIFEST_BLOB_UNKNOWN');
    const huge = Buffer.alloc((4 << 20) + 1, 0x20);
    const r2 = await fetch(`${srv.url}/v2/m/manifests/v1`, { method: 'PUT', body: huge, headers: { 'content-type': mt } }).catch(() => undefined);
    assert.ok(!r2 || r2.status === 413);
    const good = JSON.stringify({ schemaVersion: 2, mediaType: mt, config: { mediaType: 'x', digest: sha(config), size: 2 }, layers: [] });
    const r3 = await fetch(`${srv.url}/v2/m/manifests/v1`, { method: 'PUT', body: good, headers: { 'content-type': mt } });
    assert.equal(r3.status, 201);
    assert.equal(r3.headers.get('docker-content-digest'), sha(good));
    const wrong = await fetch(`${srv.url}/v2/m/manifests/${sha('x')}`, { method: 'PUT', body: good, headers: { 'content-type': mt } });
    assert.equal(wrong.status, 400);
    const byTag = await fetch(`${srv.url}/v2/m/manifests/v1`);
    assert.equal(byTag.headers.get('content-type'), mt);
    assert.equal(await byTag.text(), good);
    assert.equal((await fetch(`${srv.url}/v2/m/manifests/${sha(good)}`)).status, 200);
    await fetch(`${srv.url}/v2/m/manifests/v2`, { method: 'PUT', body: good, headers: { 'content-type': mt } });
    assert.deepEqual(await (await fetch(`${srv.url}/v2/m/tags/list`)).json(), { name: 'm', tags: ['v1', 'v2'] });
    const page = await fetch(`${srv.url}/v2/m/tags/list?n=1`);
    assert.deepEqual(await page.json(), { name: 'm', tags: ['v1'] });
    assert.match(page.headers.get('link') ?? '', /last=v1/);
    assert.ok(((await (await fetch(`${srv.url}/v2/_catalog`)).json()) as { repositories: string[] }).repositories.includes('m'));
    assert.equal((await fetch(`${srv.url}/v2/m/manifests/${sha(good)}`, { method: 'DELETE' })).status, 202);
    assert.equal((await fetch(`${srv.url}/v2/m/manifests/v1`)).status, 404);
    assert.equal((await fetch(`${srv.url}/v2/M/manifests/v1`)).status, 400);
    assert.equal((await fetch(`${srv.url}/v2/m/manifests/-bad`)).status, 400);
  });

  test('htpasswd: basic auth required, bcrypt checked', async () => {
    const users = parseHtpasswd(`alice:${await bcrypt.hash('pw', 4)}\n`);
    const a = await serve(join(dir, 'auth'), users);
    try {
      const r = await fetch(`${a.url}/v2/`);
      assert.equal(r.status, 401);
      assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm=/);
      const bad = await fetch(`${a.url}/v2/`, { headers: { authorization: `Basic ${Buffer.from('alice:no').toString('base64')}` } });
      assert.equal(bad.status, 401);
      const ok = await fetch(`${a.url}/v2/`, { headers: { authorization: `Basic ${Buffer.from('alice:pw').toString('base64')}` } });
      assert.equal(ok.status, 200);
    } finally {
      a.server.closeAllConnections();
      await new Promise((r) => a.server.close(r));
    }
    await writeFile(join(dir, 'md5'), 'bob:$apr1$x$y\n');
    assert.throws(() => parseHtpasswd('bob:$apr1$x$y\n'), /bcrypt/);
  });
});
