import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { RegistryClient, isInsecure, parseChallenge, registryBaseUrl } from './client.js';
import { isCategory, UnavailableError, UnauthorizedError } from '../../common/errors.js';

describe('registry client', () => {
  test('docker.io goes to Docker Hub over HTTPS; loopback and configured registries are plain HTTP', () => {
    assert.equal(registryBaseUrl('docker.io'), 'https://registry-1.docker.io');
    assert.equal(registryBaseUrl('localhost:5000'), 'http://localhost:5000');
    assert.equal(registryBaseUrl('127.0.0.1:5000'), 'http://127.0.0.1:5000');
    assert.equal(registryBaseUrl('reg.example:5000'), 'https://reg.example:5000');
    assert.ok(isInsecure('10.1.2.3:5000', ['10.0.0.0/8']));
    assert.ok(!isInsecure('11.1.2.3:5000', ['10.0.0.0/8']));
  });

  test('WWW-Authenticate challenges are parsed', () => {
    assert.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"'), {
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' },
    });
  });

  test('docker.io on an offline machine fails at once with a clear message (name lookup fails)', async () => {
    // No traffic leaves the machine: the resolver fails as an offline one does.
    const lookup = ((_h: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null) => void) => {
      cb(Object.assign(new Error('getaddrinfo ENOTFOUND registry-1.docker.io'), { code: 'ENOTFOUND' }));
    }) as never;
    const c = new RegistryClient('docker.io', { lookup });
    const t0 = Date.now();
    await assert.rejects(c.getManifest('library/busybox', 'latest'), (e: Error) => {
      assert.ok(isCategory(e, UnavailableError));
      assert.equal(e.message, 'Get "https://registry-1.docker.io/v2/library/busybox/manifests/latest": dial tcp: lookup registry-1.docker.io: no such host');
      return true;
    });
    assert.ok(Date.now() - t0 < 1000);
    c.close();
  });

  test('a registry that accepts but never answers times out instead of hanging', async () => {
    const sockets: import('node:net').Socket[] = [];
    const hole = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => hole.listen(0, '127.0.0.1', () => r()));
    const port = (hole.address() as { port: number }).port;
    const c = new RegistryClient(`127.0.0.1:${port}`, { timeoutMs: 300 });
    const t0 = Date.now();
    await assert.rejects(c.ping(), /i\/o timeout/);
    assert.ok(Date.now() - t0 < 2000);
    c.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => hole.close(r));
  });

  test('anonymous bearer-token challenge: token fetched with the scope and used', async () => {
    let port = 0;
    const seen: string[] = [];
    const srv = createHttpServer((req, res) => {
      seen.push(`${req.url} ${req.headers.authorization ?? '-'}`);
      if (req.url?.startsWith('/token')) {
        const u = new URL(req.url, 'http://x');
        assert.equal(u.searchParams.get('scope'), 'repository:a/b:pull');
        assert.equal(u.searchParams.get('service'), 'test');
        res.end(JSON.stringify({ token: 'T0K' }));
        return;
      }
      if (req.headers.authorization !== 'Bearer T0K') {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="test",scope="repository:a/b:pull"` });
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      res.end('{"schemaVersion":2}');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    port = (srv.address() as { port: number }).port;
    const c = new RegistryClient(`127.0.0.1:${port}`);
    const m = await c.getManifest('a/b', 'latest');
    assert.equal(m.data.toString(), '{"schemaVersion":2}');
    assert.deepEqual(seen, ['/v2/a/b/manifests/latest -', '/token?service=test&scope=repository%3Aa%2Fb%3Apull -', '/v2/a/b/manifests/latest Bearer T0K']);
    c.close();
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  });

  test('basic challenge without credentials is unauthorized', async () => {
    const srv = createHttpServer((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
      res.end();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const c = new RegistryClient(`127.0.0.1:${(srv.address() as { port: number }).port}`);
    await assert.rejects(c.ping(), (e) => isCategory(e, UnauthorizedError));
    c.close();
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  });
});
