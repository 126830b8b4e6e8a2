/**
 * Pull and push end to end: a private berthd, berth's own registry server (`berth registry
 * serve`) on a loopback port, the berth CLI, hand-made multi-layer and hostile images, and an
 * interrupted pull that resumes.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startDaemon, runCommand, BERTH_BIN, TEST_PREFIX, type TestDaemon } from '../helpers/daemon.js';
import { httpReq, makeLayer, pushRaw, sha, startRegistry, type RegistryProc } from '../helpers/registry.js';

describe('pull and push with berth registry serve', () => {
  let d: TestDaemon;
  let reg: RegistryProc;
  let dir: string;
  let R: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `${TEST_PREFIX}registry-`));
    reg = await startRegistry(dir);
    R = `127.0.0.1:${reg.port}`;
    d = await startDaemon('registry');
    await d.importBusybox();
  });
  after(async () => {
    await reg?.stop();
    await d?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  test('push an imported image, remove it, pull it back and run it', async () => {
    assert.equal((await d.berth(['tag', 'busybox', `${R}/test/busybox:1`])).code, 0);
    const push = await d.berth(['push', `${R}/test/busybox:1`]);
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stdout, new RegExp(`The push refers to repository \\[${R}/test/busybox\\]`));
    assert.match(push.stdout, /: Pushed$/m);
    const m = /^1: digest: (sha256:[a-f0-9]{64}) size: \d+$/m.exec(push.stdout);
    assert.ok(m, push.stdout);
    const tags = await httpReq(reg.port, 'GET', '/v2/test/busybox/tags/list');
    assert.deepEqual(JSON.parse(tags.body.toString()), { name: 'test/busybox', tags: ['1'] });

    assert.equal((await d.berth(['rmi', `${R}/test/busybox:1`])).code, 0);
    const pull = await d.berth(['pull', `${R}/test/busybox:1`]);
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stdout, /^1: Pulling from test\/busybox$/m);
    assert.match(pull.stdout, new RegExp(`^Digest: ${m[1]}$`, 'm'));
    assert.match(pull.stdout, new RegExp(`Status: (Downloaded newer image|Image is up to date) for ${R}/test/busybox:1`));
    const run = await d.berth(['run', '--rm', `${R}/test/busybox:1`, 'echo', 'pulled']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'pulled\n');
    const insp = await d.api('GET', `/images/${R}/test/busybox:1/json`);
    assert.deepEqual(insp.json().RepoDigests, [`${R}/test/busybox@${m[1]}`]);

    // Second push: nothing to send. Another repository: mounted, not uploaded.
    const again = await d.berth(['push', `${R}/test/busybox:1`]);
    assert.match(again.stdout, /: Layer already exists$/m);
    assert.equal((await d.berth(['tag', 'busybox', `${R}/other/bb:2`])).code, 0);
    const mount = await d.berth(['push', `${R}/other/bb:2`]);
    assert.equal(mount.code, 0, mount.stderr);
    assert.match(mount.stdout, /: Mounted from test\/busybox$/m);
  });

  test('a 4-layer image pulls in parallel, shares layers and pulls by digest', async () => {
    const layers = await Promise.all([0, 1, 2, 3].map((i) => makeLayer([{ name: `l${i}/`, type: 'directory' }, { name: `l${i}/f`, body: `layer ${i}\n`.repeat(1000) }])));
    const { manifestDigest } = await pushRaw(reg.port, 'multi/img', 'v1', layers);
    const pull = await d.berth(['pull', `${R}/multi/img:v1`]);
    assert.equal(pull.code, 0, pull.stderr);
    assert.equal(pull.stdout.match(/: Pull complete$/gm)?.length, 4, pull.stdout);
    const insp = (await d.api('GET', `/images/${R}/multi/img:v1/json`)).json();
    assert.equal(insp.RootFS.Layers.length, 4);
    // Same first two layers under another image: "Already exists".
    await pushRaw(reg.port, 'multi/img2', 'v1', [layers[0]!, layers[1]!, await makeLayer([{ name: 'x', body: 'x' }])]);
    const pull2 = await d.berth(['pull', `${R}/multi/img2:v1`]);
    assert.equal(pull2.code, 0, pull2.stderr);
    assert.equal(pull2.stdout.match(/: Already exists$/gm)?.length, 2, pull2.stdout);
    assert.equal(pull2.stdout.match(/: Pull complete$/gm)?.length, 1, pull2.stdout);
    const byDigest = await d.berth(['pull', `${R}/multi/img@${manifestDigest}`]);
    assert.equal(byDigest.code, 0, byDigest.stderr);
    assert.match(byDigest.stdout, /Status: Image is up to date|Downloaded newer image/);
  });

  test('missing tag and unreachable registry fail with clear messages', async () => {
    const missing = await d.berth(['pull', `${R}/multi/img:nope`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Error response from daemon: manifest for .*multi\/img:nope not found: manifest unknown/);
    const t0 = Date.now();
    const refused = await d.berth(['pull', '127.0.0.1:1/x/y:1']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /dial tcp 127\.0\.0\.1:1: connect: connection refused/);
    assert.ok(Date.now() - t0 < 5000);
  });

  test('a hostile layer in a pulled image is refused and leaves no image', async () => {
    const evil = await makeLayer([{ name: 'etc', type: 'symlink', linkname: '/etc' }, { name: 'etc/berth-pwned', body: 'x' }]);
    await pushRaw(reg.port, 'evil/img', 'v1', [evil]);
    const pull = await d.berth(['pull', `${R}/evil/img:v1`]);
    assert.notEqual(pull.code, 0);
    assert.match(pull.stderr, /written through symlink/);
    await assert.rejects(stat('/etc/berth-pwned'));
    assert.equal((await d.api('GET', `/images/${R}/evil/img:v1/json`)).status, 404);
  });

  test('login against an htpasswd registry, push with the stored credentials, logout', async () => {
    const pw = join(dir, 'htpasswd');
    const h = await runCommand('htpasswd', ['-Bbc', pw, 'alice', 's3cret'], {});
    assert.equal(h.code, 0, h.stderr);
    const authReg = await startRegistry(join(dir, 'auth'), ['--htpasswd', pw]);
    const A = `127.0.0.1:${authReg.port}`;
    const env = { BERTH_HOST: d.host, DOCKER_HOST: '', DOCKER_CONFIG: join(dir, 'cfg') };
    try {
      assert.equal((await d.berth(['tag', 'busybox', `${A}/priv/bb:1`])).code, 0);
      const anon = await runCommand(BERTH_BIN, ['push', `${A}/priv/bb:1`], env);
      assert.notEqual(anon.code, 0);
      assert.match(anon.stderr, /unauthorized/i);
      const bad = await runCommand(BERTH_BIN, ['login', '-u', 'alice', '--password-stdin', A], env, { input: 'wrong\n' });
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /401 Unauthorized/);
      const good = await runCommand(BERTH_BIN, ['login', '-u', 'alice', '--password-stdin', A], env, { input: 's3cret\n' });
      assert.equal(good.code, 0, good.stderr);
      assert.match(good.stdout, /Login Succeeded/);
      const cfg = JSON.parse(await readFile(join(dir, 'cfg', 'config.json'), 'utf8'));
      assert.equal(cfg.auths[A].auth, Buffer.from('alice:s3cret').toString('base64'));
      const push = await runCommand(BERTH_BIN, ['push', `${A}/priv/bb:1`], env);
      assert.equal(push.code, 0, push.stderr);
      const out = await runCommand(BERTH_BIN, ['logout', A], env);
      assert.match(out.stdout, new RegExp(`Removing login credentials for ${A}`));
      assert.equal(JSON.parse(await readFile(join(dir, 'cfg', 'config.json'), 'utf8')).auths[A], undefined);
    } finally {
      await authReg.stop();
    }
  });
});

describe('save and load', () => {
  let d: TestDaemon;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `${TEST_PREFIX}archive-`));
    d = await startDaemon('archive');
    await d.importBusybox();
  });
  after(async () => {
    await d?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  test('save, rmi, load round trip keeps the image ID, tags and contents', async () => {
    const id = (await d.api('GET', '/images/busybox/json')).json().Id as string;
    const out = join(dir, 'bb.tar');
    const save = await d.berth(['save', '-o', out, 'busybox']);
    assert.equal(save.code, 0, save.stderr);
    // Both layouts in one archive: docker-archive manifest.json and an OCI index.
    const names = (await runCommand('tar', ['-tf', out], {})).stdout.split('\n');
    for (const n of ['manifest.json', 'index.json', 'oci-layout']) assert.ok(names.includes(n), names.join(','));
    const sk = await runCommand('skopeo', ['inspect', `docker-archive:${out}`], {});
    assert.equal(sk.code, 0, sk.stderr);
    assert.equal(JSON.parse(sk.stdout).Layers.length, 1);
    assert.equal((await d.berth(['rmi', 'busybox'])).code, 0);
    const load = await d.berth(['load', '-i', out]);
    assert.equal(load.code, 0, load.stderr);
    assert.equal(load.stdout, 'Loaded image: busybox:latest\n');
    assert.equal((await d.api('GET', '/images/busybox/json')).json().Id, id);
    const run = await d.berth(['run', '--rm', 'busybox', 'echo', 'loaded']);
    assert.equal(run.stdout, 'loaded\n', run.stderr);
  });

  test('image prune removes dangling images, -a unused ones, never one a container uses', async () => {
    assert.equal((await d.berth(['tag', 'busybox', 'keep:1'])).code, 0);
    const imp = await d.api('POST', `/images/create?fromSrc=-&changes=${encodeURIComponent('LABEL x=1')}`, await makeLayer([{ name: 'only', body: 'dangling' }]), { 'Content-Type': 'application/x-tar' });
    assert.equal(imp.status, 200, imp.body.toString());
    const danglingId = JSON.parse(imp.body.toString().trim()).status as string;
    const c = await d.berth(['create', 'keep:1', 'true']);
    assert.equal(c.code, 0, c.stderr);
    const p = await d.berth(['image', 'prune', '-f']);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, new RegExp(`^deleted: ${danglingId}$`, 'm'));
    assert.match(p.stdout, /^Total reclaimed space: /m);
    assert.equal((await d.api('GET', `/images/${danglingId}/json`)).status, 404);
    const all = await d.docker(['image', 'prune', '-a', '-f']);
    assert.equal(all.code, 0, all.stderr);
    assert.equal((await d.api('GET', '/images/keep:1/json')).status, 200);
    assert.equal((await d.berth(['rm', c.stdout.trim()])).code, 0);
    const all2 = await d.berth(['image', 'prune', '-a', '-f']);
    assert.match(all2.stdout, /untagged: keep:1/);
    assert.equal((await d.api('GET', '/images/keep:1/json')).status, 404);
    // The kept layer blobs went with the last image that used them.
    assert.deepEqual(await readdir(join(d.dataRoot, 'image', 'distribution')), []);
    await d.importBusybox();
  });

  test('commit: changes and deletions become a layer with whiteouts; --change, -m, -a; docker commit too', async () => {
    const c = await d.berth(['run', '--name', 'tocommit', 'busybox', 'sh', '-c', 'echo committed > /hello && rm /etc/group && mkdir -p /opq && rm -rf /tmp']);
    assert.equal(c.code, 0, c.stderr);
    const r = await d.berth(['commit', '-c', 'CMD ["cat", "/hello"]', '-m', 'my message', '-a', 'me <me@x>', 'tocommit', 'committed:1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sha256:[a-f0-9]{64}\n$/);
    const run = await d.berth(['run', '--rm', 'committed:1']);
    assert.equal(run.stdout, 'committed\n', run.stderr);
    const gone = await d.berth(['run', '--rm', 'committed:1', 'sh', '-c', 'test -e /etc/group || echo nogroup; test -e /tmp || echo notmp; test -e /etc/passwd && echo passwd']);
    assert.equal(gone.stdout, 'nogroup\nnotmp\npasswd\n', gone.stderr);
    const insp = (await d.api('GET', '/images/committed:1/json')).json();
    assert.equal(insp.Author, 'me <me@x>');
    assert.equal(insp.Comment, 'my message');
    assert.equal(insp.RootFS.Layers.length, 2);
    const dk = await d.docker(['commit', '--change', 'ENV A=b', 'tocommit', 'committed:2']);
    assert.equal(dk.code, 0, dk.stderr);
    const env = await d.docker(['run', '--rm', 'committed:2', 'sh', '-c', 'echo $A']);
    assert.equal(env.stdout, 'b\n', env.stderr);
    assert.equal((await d.berth(['commit', 'nosuchcontainer'])).code, 1);
    // A committed image pushes and saves: its new layer re-tars to the same diffID.
    const out = join(dir, 'committed.tar');
    const sv = await d.berth(['save', '-o', out, 'committed:1']);
    assert.equal(sv.code, 0, sv.stderr);
    assert.equal((await d.berth(['rm', 'tocommit'])).code, 0);
  });

  test('a hostile layer in a loaded archive is refused and leaves no image', async () => {
    const evil = await makeLayer([{ name: '../../escape', body: 'x' }]);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(evil)] } }));
    const archive = await makeLayer([
      { name: `${sha(config).slice(7)}.json`, body: config.toString() },
      { name: `${'a'.repeat(64)}/layer.tar`, body: evil },
      { name: 'manifest.json', body: JSON.stringify([{ Config: `${sha(config).slice(7)}.json`, RepoTags: ['evil:1'], Layers: [`${'a'.repeat(64)}/layer.tar`] }]) },
    ]);
    // As dockerd streams a load: a 200 whose last JSON line is the error (SDKs read it line by line).
    const r = await d.api('POST', '/images/load', archive, { 'Content-Type': 'application/x-tar' });
    assert.equal(r.status, 200, r.body.toString());
    const last = JSON.parse(r.body.toString().trim().split('\n').pop()!) as { error?: string };
    assert.match(last.error ?? '', /\.\./);
    assert.equal((await d.api('GET', '/images/evil:1/json')).status, 404);
  });
});

describe('hostile and failing registries', () => {
  let d: TestDaemon;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `${TEST_PREFIX}registry-hostile-`));
    d = await startDaemon('registry-hostile');
  });
  after(async () => {
    await d?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  /** A fake registry serving one image from memory, with hooks to misbehave. */
  async function fakeRegistry(blobs: Map<string, Buffer>, manifest: Buffer, hooks: { blob?: (digest: string, res: http.ServerResponse) => boolean } = {}) {
    const hits: string[] = [];
    const server = http.createServer((req, res) => {
      const url = req.url ?? '';
      hits.push(`${req.method} ${url}`);
      if (url === '/v2/') return res.end('{}');
      let m = /\/manifests\/(.+)$/.exec(url);
      if (m) {
        res.writeHead(200, { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json', 'content-length': manifest.length });
        return res.end(manifest);
      }
      m = /\/blobs\/(sha256:[a-f0-9]+)$/.exec(url);
      if (m && blobs.has(m[1]!)) {
        if (hooks.blob?.(m[1]!, res)) return;
        const b = blobs.get(m[1]!)!;
        res.writeHead(200, { 'content-length': b.length });
        return res.end(b);
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    return { port, hits, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
  }

  async function image(tars: Buffer[], corrupt?: number) {
    const gz = tars.map((t) => gzipSync(t));
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: tars.map((t) => sha(t)) } }));
    const blobs = new Map<string, Buffer>();
    gz.forEach((g, i) => blobs.set(sha(g), i === corrupt ? Buffer.concat([g.subarray(0, g.length - 1), Buffer.from([g[g.length - 1]! ^ 1])]) : g));
    blobs.set(sha(config), config);
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha(config) },
      layers: gz.map((g) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: g.length, digest: sha(g) })),
    }));
    return { blobs, manifest, layerDigests: gz.map((g) => sha(g)) };
  }

  const blobDir = () => join(d.dataRoot, 'image', 'blobs', 'sha256');

  test('a blob whose digest does not match is rejected and nothing is stored', async () => {
    const img = await image([await makeLayer([{ name: 'a', body: 'aaaa'.repeat(100) }])], 0);
    const fake = await fakeRegistry(img.blobs, img.manifest);
    try {
      const pull = await d.berth(['pull', `127.0.0.1:${fake.port}/bad/digest:1`]);
      assert.notEqual(pull.code, 0);
      assert.match(pull.stderr, /unexpected commit (digest|size)/);
      const stored = await readdir(blobDir());
      assert.ok(!stored.includes(img.layerDigests[0]!.slice(7)));
      assert.equal((await d.api('GET', `/images/127.0.0.1:${fake.port}/bad/digest:1/json`)).status, 404);
      assert.deepEqual(await readdir(join(d.dataRoot, 'image', 'ingest')), []);
    } finally {
      await fake.close();
    }
  });

  test('an oversized manifest is refused', async () => {
    const big = Buffer.alloc(5 << 20, 0x20);
    const fake = await fakeRegistry(new Map(), big);
    try {
      const pull = await d.berth(['pull', `127.0.0.1:${fake.port}/big/manifest:1`]);
      assert.notEqual(pull.code, 0);
      assert.match(pull.stderr, /too large/);
    } finally {
      await fake.close();
    }
  });

  test('an interrupted pull leaves no image and resumes without downloading again', async () => {
    const tars = await Promise.all([1, 2, 3].map((i) => makeLayer([{ name: `f${i}`, body: `${i}`.repeat(200_000) }])));
    const img = await image(tars);
    let failOnce = true;
    const fake = await fakeRegistry(img.blobs, img.manifest, {
      blob(digest, res) {
        if (digest === img.layerDigests[2] && failOnce) {
          failOnce = false;
          const b = img.blobs.get(digest)!;
          res.writeHead(200, { 'content-length': b.length });
          res.write(b.subarray(0, 100));
          setTimeout(() => res.destroy(), 50);
          return true;
        }
        return false;
      },
    });
    const ref = `127.0.0.1:${fake.port}/resume/img:1`;
    try {
      const first = await d.berth(['pull', ref]);
      assert.notEqual(first.code, 0, first.stdout);
      assert.equal((await d.api('GET', `/images/${ref}/json`)).status, 404);
      fake.hits.length = 0;
      const second = await d.berth(['pull', ref]);
      assert.equal(second.code, 0, second.stderr);
      const layerGets = fake.hits.filter((h) => img.layerDigests.some((l) => h.endsWith(l)));
      assert.deepEqual(layerGets, [`GET /v2/resume/img/blobs/${img.layerDigests[2]}`]);
      assert.equal((await d.api('GET', `/images/${ref}/json`)).json().RootFS.Layers.length, 3);
    } finally {
      await fake.close();
    }
  });
});
