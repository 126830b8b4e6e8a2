import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistryHandler, parseRoute } from './server.js';
import { RegistryStorage } from './storage.js';

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('registry server: OCI 1.1 referrers API (#22)', () => {
  let dir: string;
  let server: Server;
  let url: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-referrers-'));
    const storage = new RegistryStorage(dir);
    await storage.init();
    const h = createRegistryHandler(storage);
    server = createServer((req, res) => void h(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  const blob = async (repo: string, data: Buffer): Promise<string> => {
    const r = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${sha(data)}`, { method: 'POST', body: new Uint8Array(data) });
    assert.equal(r.status, 201);
    return sha(data);
  };
  const put = (repo: string, ref: string, m: unknown) =>
    fetch(`${url}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body: JSON.stringify(m), headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });

  test('routes', () => {
    assert.deepEqual(parseRoute(`/v2/a/b/referrers/${sha('x')}`), { kind: 'referrers', name: 'a/b', digest: sha('x') });
  });

  test('a manifest with a subject is listed, filtered by artifactType, answered with OCI-Subject', async () => {
    const cfg = Buffer.from('{}');
    const cfgDigest = await blob('app', cfg);
    const image = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfgDigest, size: cfg.length }, layers: [] };
    const imgRes = await put('app', 'v1', image);
    assert.equal(imgRes.status, 201);
    assert.equal(imgRes.headers.get('oci-subject'), null);
    const subject = imgRes.headers.get('docker-content-digest')!;

    const empty = await fetch(`${url}/v2/app/referrers/${subject}`);
    assert.equal(empty.status, 200);
    assert.deepEqual(((await empty.json()) as { manifests: unknown[] }).manifests, []);

    const sig = { ...image, artifactType: 'application/vnd.example.sig', subject: { mediaType: image.mediaType, digest: subject, size: JSON.stringify(image).length }, annotations: { a: 'b' } };
    const sigRes = await put('app', 'sig', sig);
    assert.equal(sigRes.status, 201);
    assert.equal(sigRes.headers.get('oci-subject'), subject);
    const other = { ...image, artifactType: 'application/vnd.example.sbom', subject: sig.subject };
    assert.equal((await put('app', 'sbom', other)).status, 201);

    const all = (await (await fetch(`${url}/v2/app/referrers/${subject}`)).json()) as { mediaType: string; manifests: { digest: string; artifactType: string; annotations?: Record<string, string> }[] };
    assert.equal(all.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(all.manifests.map((m) => m.artifactType).sort(), ['application/vnd.example.sbom', 'application/vnd.example.sig']);
    const filtered = await fetch(`${url}/v2/app/referrers/${subject}?artifactType=${encodeURIComponent('application/vnd.example.sig')}`);
    assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
    const fl = (await filtered.json()) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
    assert.equal(fl.manifests.length, 1);
    assert.equal(fl.manifests[0]!.digest, sigRes.headers.get('docker-content-digest'));
    assert.deepEqual(fl.manifests[0]!.annotations, { a: 'b' });

    // A deleted referrer drops out of the list.
    assert.equal((await fetch(`${url}/v2/app/manifests/${sigRes.headers.get('docker-content-digest')}`, { method: 'DELETE' })).status, 202);
    const after = (await (await fetch(`${url}/v2/app/referrers/${subject}`)).json()) as { manifests: unknown[] };
    assert.equal(after.manifests.length, 1);
  });

  test('bad digest and bad subject are refused', async () => {
    assert.equal((await fetch(`${url}/v2/app/referrers/sha256:zz`)).status, 400);
    const cfg = Buffer.from('{"x":1}');
    const d = await blob('app', cfg);
    const r = await put('app', 'bad', { schemaVersion: 2, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d, size: cfg.length }, layers: [], subject: { digest: 'nope' } });
    assert.equal(r.status, 400);
  });
});
