/**
 * Pull: the one-pass path against a scripted registry on loopback (every request logged, one
 * blob that can be made to stall), an interrupted pull (berthd killed with -9 mid-layer, then
 * restarted), and `pull --all-tags` through berth and the docker CLI.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startDaemon, eventually, type TestDaemon } from '../helpers/daemon.js';
import { makeLayer, sha } from '../helpers/registry.js';

interface Img {
  manifest: Buffer;
  blobs: Map<string, Buffer>;
  layerDigests: string[];
}

async function makeImage(layers: Buffer[]): Promise<Img> {
  const gz = layers.map((l) => gzipSync(l));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => sha(l)) }, history: [] }));
  const blobs = new Map<string, Buffer>([[sha(config), config], ...gz.map((g) => [sha(g), g] as [string, Buffer])]);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha(config) },
    layers: gz.map((g) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: g.length, digest: sha(g) })),
  }));
  return { manifest, blobs, layerDigests: gz.map((g) => sha(g)) };
}

/** A registry serving `tags` of repository `repo`; a blob in `stall` is sent half, then held until `release()`. */
function scriptedRegistry(repo: string, tags: Map<string, Img>): Promise<{ port: number; log: string[]; stall: Set<string>; stalled: Set<string>; release(): void; close(): Promise<void> }> {
  const log: string[] = [];
  const stall = new Set<string>();
  const stalled = new Set<string>();
  const held: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    log.push(`${req.method} ${url}`);
    if (url === '/v2/') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    if (url === `/v2/${repo}/tags/list`) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: repo, tags: [...tags.keys()] }));
    const m = new RegExp(`^/v2/${repo}/(manifests|blobs)/(.+)$`).exec(url);
    if (m && m[1] === 'manifests') {
      const img = tags.get(m[2]!) ?? [...tags.values()].find((i) => sha(i.manifest) === m[2]);
      if (!img) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
      return void res.writeHead(200, { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json', 'docker-content-digest': sha(img.manifest), 'content-length': img.manifest.length }).end(req.method === 'HEAD' ? undefined : img.manifest);
    }
    if (m && m[1] === 'blobs') {
      const blob = [...tags.values()].map((i) => i.blobs.get(m[2]!)).find((b) => b);
      if (!blob) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.length });
      if (stall.has(m[2]!)) {
        res.write(blob.subarray(0, blob.length >> 1));
        stalled.add(m[2]!);
        held.push(res);
        return;
      }
      return void res.end(blob);
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        port,
        log,
        stall,
        stalled,
        release() {
          for (const r of held.splice(0)) r.destroy();
        },
        close: () =>
          new Promise<void>((r) => {
            for (const h of held.splice(0)) h.destroy();
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    }),
  );
}

async function filesUnder(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => [] as string[]);
}

describe('pull', () => {
  let d: TestDaemon;
  let reg: Awaited<ReturnType<typeof scriptedRegistry>>;
  const images = new Map<string, Img>();
  before(async () => {
    const big = await Promise.all([0, 1, 2].map((i) => makeLayer([{ name: `l${i}/`, type: 'directory' }, { name: `l${i}/data`, body: randomBytes(4 << 20) }, { name: `l${i}/text`, body: `layer ${i}\n` }])));
    images.set('big', await makeImage(big));
    images.set('v1', await makeImage([await makeLayer([{ name: 'v', body: 'one\n' }])]));
    images.set('v2', await makeImage([await makeLayer([{ name: 'v', body: 'two\n' }])]));
    reg = await scriptedRegistry('test/pull', images);
    d = await startDaemon('pull');
  });
  after(async () => {
    await reg?.close();
    await d?.destroy();
  });

  test('berthd killed with -9 mid-layer leaves no image, no layer, no temp file; the next pull reuses finished downloads', async () => {
    const ref = `127.0.0.1:${reg.port}/test/pull:big`;
    const big = images.get('big')!;
    const last = big.layerDigests[2]!;
    reg.stall.add(last);
    const pulling = d.berth(['pull', ref], { timeoutMs: 60_000 });
    // Layers 0 and 1 are complete (their blobs committed) and layer 2 is half sent.
    const blobs = join(d.dataRoot, 'image', 'blobs', 'sha256');
    await eventually(async () => reg.stalled.has(last) && (await filesUnder(blobs)).length >= 3, 20_000, 'layers 0 and 1 downloaded');
    await d.crash();
    const r = await pulling;
    assert.notEqual(r.code, 0);
    reg.stall.clear();
    reg.release();
    await d.start();
    assert.deepEqual(await filesUnder(join(d.dataRoot, 'image', 'ingest')), [], 'no half blob');
    assert.deepEqual(await filesUnder(join(d.dataRoot, 'image', 'layers', '.ingest')), [], 'no half layer');
    assert.deepEqual((await filesUnder(join(d.dataRoot, 'image', 'layers'))).filter((n) => n !== '.ingest'), [], 'no layer dir');
    const ls = await d.berth(['images', '-q']);
    assert.equal(ls.stdout.trim(), '', 'no half image');
    const df = (await d.api('GET', '/system/df')).json() as { LayersSize: number; Images: unknown[] };
    // What is on disk is the finished downloads kept for the next pull, and df counts them.
    let kept = 0;
    for (const n of await filesUnder(blobs)) kept += (await stat(join(blobs, n))).size;
    assert.ok(kept > 0);
    assert.equal(df.LayersSize, kept);
    assert.equal(df.Images.length, 0);

    reg.log.length = 0;
    const again = await d.berth(['pull', ref], { timeoutMs: 60_000 });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Download complete/);
    const fetched = reg.log.filter((l) => l.includes('/blobs/'));
    assert.deepEqual(fetched.filter((l) => l.includes(big.layerDigests[0]!) || l.includes(big.layerDigests[1]!)), [], 'finished layers are not downloaded again');
    assert.ok(fetched.some((l) => l.includes(last)));
    const run = await d.berth(['image', 'inspect', '--format', '{{len .RootFS.Layers}}', ref]);
    assert.equal(run.stdout.trim(), '3');
    // Each layer is held exactly once (by the image): removing it leaves no layer behind.
    assert.equal((await d.berth(['rmi', ref])).code, 0);
    assert.deepEqual((await filesUnder(join(d.dataRoot, 'image', 'layers'))).filter((n) => n !== '.ingest'), []);
  });

  test('a client that disconnects mid-pull leaves nothing behind', async () => {
    const ref = `127.0.0.1:${reg.port}/test/pull:big`;
    const last = images.get('big')!.layerDigests[2]!;
    reg.stall.add(last);
    reg.stalled.clear();
    const ac = new AbortController();
    const req = http.request({ socketPath: d.host.replace(/^unix:\/\//, ''), method: 'POST', path: `/images/create?fromImage=${encodeURIComponent(`127.0.0.1:${reg.port}/test/pull`)}&tag=big`, signal: ac.signal });
    req.on('error', () => {});
    req.on('response', (res) => res.resume());
    req.end();
    await eventually(async () => reg.stalled.has(last), 20_000, 'stalled download');
    ac.abort();
    await eventually(async () => (await filesUnder(join(d.dataRoot, 'image', 'ingest'))).length === 0 && (await filesUnder(join(d.dataRoot, 'image', 'layers', '.ingest'))).length === 0, 20_000, 'temp files removed');
    reg.stall.clear();
    reg.release();
    assert.equal((await d.berth(['images', '-q'])).stdout.trim(), '');
    assert.deepEqual((await filesUnder(join(d.dataRoot, 'image', 'layers'))).filter((n) => n !== '.ingest'), []);
  });

  test('10 clients pulling the same image at once: every one succeeds and each blob is downloaded once (issue 17)', async () => {
    const ref = `127.0.0.1:${reg.port}/test/pull:big`;
    await d.api('DELETE', `/images/${encodeURIComponent(ref)}?force=1`);
    const img = images.get('big')!;
    const from = reg.log.length;
    const results = await Promise.all(Array.from({ length: 10 }, () => d.api('POST', `/images/create?fromImage=${encodeURIComponent(`127.0.0.1:${reg.port}/test/pull`)}&tag=big`)));
    for (const r of results) {
      assert.equal(r.status, 200);
      const lines = r.body.toString().trim().split('\n').map((l) => JSON.parse(l) as { error?: string; status?: string });
      assert.deepEqual(lines.filter((l) => l.error), [], 'no client saw an error');
    }
    const gets = reg.log.slice(from).filter((l) => l.startsWith('GET ') && l.includes('/blobs/'));
    for (const digest of img.layerDigests) assert.equal(gets.filter((l) => l.endsWith(digest)).length, 1, `layer ${digest.slice(7, 19)} downloaded ${gets.filter((l) => l.endsWith(digest)).length} times`);
    const inspect = await d.api('GET', `/images/${encodeURIComponent(ref)}/json`);
    assert.equal(inspect.status, 200);
  });

  test('pull --all-tags pulls every tag, through berth and the docker CLI', async () => {
    const repo = `127.0.0.1:${reg.port}/test/pull`;
    const bad = await d.berth(['pull', '-a', `${repo}:v1`]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /tag can't be used with --all-tags\/-a/);
    const r = await d.berth(['pull', '--all-tags', repo], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /big: Pulling from test\/pull/);
    assert.match(r.stdout, /v1: Pulling from test\/pull/);
    assert.match(r.stdout, /v2: Pulling from test\/pull/);
    assert.match(r.stdout, new RegExp(`Status: Downloaded newer image for ${repo.replace(/\./g, '\\.')}\\n`));
    const tags = (await d.berth(['images', '--format', '{{.Tag}}', repo])).stdout.trim().split('\n').sort();
    assert.deepEqual(tags, ['big', 'v1', 'v2']);
    for (const t of tags) assert.equal((await d.berth(['rmi', `${repo}:${t}`])).code, 0);
    const dr = await d.docker(['pull', '-a', repo], { timeoutMs: 60_000 });
    assert.equal(dr.code, 0, dr.stderr);
    assert.match(dr.stdout, /v2: Pulling from test\/pull/);
    const dtags = (await d.docker(['images', '--format', '{{.Tag}}', repo])).stdout.trim().split('\n').sort();
    assert.deepEqual(dtags, ['big', 'v1', 'v2']);
    for (const t of dtags) await d.docker(['rmi', `${repo}:${t}`]);
  });
});
