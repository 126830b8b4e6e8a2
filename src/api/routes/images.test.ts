// The image routes driven through the real API server on a private UNIX socket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../store/db.js';
import { SpawnRunner } from '../../common/command-runner.js';
import { silentLogger } from '../../common/logger.js';
import { ImageService } from '../../image/image-service.js';
import { makeTar, requireRoot } from '../../image/_test-helpers.js';
import { Router } from '../router.js';
import { createApiServer } from '../server.js';
import { registerImageRoutes } from './images.js';

let dir: string;
let db: Db;
let server: http.Server;
let socketPath: string;
let inUse: string | undefined;

before(async () => {
  requireRoot();
  dir = await mkdtemp(join(tmpdir(), 'berth-api-images-'));
  db = openDatabase(':memory:');
  const images = new ImageService({ root: join(dir, 'data'), db, runner: new SpawnRunner() });
  await images.init();
  const router = new Router();
  registerImageRoutes(router, { images, isImageInUse: (id) => (id === inUse ? { id: 'e'.repeat(64), running: false } : false) });
  server = createApiServer({ router, log: silentLogger() });
  socketPath = join(dir, 'api.sock');
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
});
after(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  db?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function call(method: string, path: string, body?: Buffer): Promise<{ status: number; type: string | undefined; text: string; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path, headers: body ? { 'Content-Type': 'application/x-tar' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, type: res.headers['content-type'], text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('image routes: import, list, inspect, tag, history, remove', async () => {
  const tar = await makeTar([{ name: 'bin/', type: 'directory' }, { name: 'bin/sh', body: 'sh', mode: 0o755 }]);
  const q = new URLSearchParams({ fromSrc: '-', repo: 'localhost:5000/team/app', tag: 'v1', message: 'from test' });
  q.append('changes', 'CMD ["/bin/sh"]');
  q.append('changes', 'LABEL team=core');
  const imp = await call('POST', `/v1.47/images/create?${q}`, tar);
  assert.equal(imp.status, 200, imp.text);
  assert.equal(imp.type, 'application/json');
  assert.match(imp.text, /^\{"status":"sha256:[a-f0-9]{64}"\}\r\n$/);
  const id = JSON.parse(imp.text).status as string;

  const list = await call('GET', '/images/json');
  assert.equal(list.status, 200);
  assert.equal(list.json.length, 1);
  assert.equal(list.json[0].Id, id);
  assert.deepEqual(list.json[0].RepoTags, ['localhost:5000/team/app:v1']);
  assert.deepEqual(list.json[0].Labels, { team: 'core' });
  assert.equal(typeof list.json[0].Created, 'number');
  assert.equal(list.json[0].VirtualSize, undefined);

  const inspect = await call('GET', '/images/localhost:5000/team/app:v1/json');
  assert.equal(inspect.status, 200, inspect.text);
  assert.equal(inspect.json.Id, id);
  assert.equal(inspect.json.Comment, 'from test');
  assert.deepEqual(inspect.json.Config.Cmd, ['/bin/sh']);
  assert.equal(inspect.json.Os, 'linux');
  assert.equal(inspect.json.GraphDriver.Name, 'overlay2');
  assert.match(inspect.json.GraphDriver.Data.UpperDir, /\/layers\/[a-f0-9]{64}\/diff$/);
  assert.equal(inspect.json.RootFS.Type, 'layers');
  assert.equal(inspect.json.RootFS.Layers.length, 1);

  assert.equal((await call('POST', `/images/${id.slice(7, 19)}/tag?repo=busybox&tag=mine`)).status, 201);
  const filtered = await call('GET', `/images/json?filters=${encodeURIComponent(JSON.stringify({ reference: ['busy*'] }))}`);
  assert.deepEqual(filtered.json[0].RepoTags, ['busybox:mine']);
  const dangling = await call('GET', `/images/json?filters=${encodeURIComponent(JSON.stringify({ dangling: ['true'] }))}`);
  assert.deepEqual(dangling.json, []);
  assert.equal((await call('GET', `/images/json?filters=${encodeURIComponent('{"bogus":["x"]}')}`)).status, 400);

  const hist = await call('GET', '/images/busybox:mine/history');
  assert.equal(hist.status, 200);
  assert.equal(hist.json[0].Id, id);
  assert.equal(hist.json[0].Comment, 'from test');

  inUse = id;
  const conflict = await call('DELETE', '/images/busybox:mine');
  assert.equal(conflict.status, 200, 'two tags: untagging one is not a conflict');
  assert.deepEqual(conflict.json, [{ Untagged: 'busybox:mine' }]);
  const c409 = await call('DELETE', '/images/localhost:5000/team/app:v1');
  assert.equal(c409.status, 409);
  assert.match(c409.json.message, /^conflict: unable to remove repository reference "localhost:5000\/team\/app:v1" \(must force\)/);
  inUse = undefined;
  const del = await call('DELETE', '/images/localhost:5000/team/app:v1');
  assert.equal(del.status, 200);
  assert.deepEqual(del.json.slice(0, 2), [{ Untagged: 'localhost:5000/team/app:v1' }, { Deleted: id }]);

  const missing = await call('GET', '/images/nosuch/json');
  assert.equal(missing.status, 404);
  assert.equal(missing.json.message, 'No such image: nosuch');
});

test('image routes: refusals', async () => {
  const pull = await call('POST', '/images/create?fromImage=busybox&tag=latest');
  assert.equal(pull.status, 501);
  // This test's server is built without registry access; berthd always has it (see test/integration/registry.test.ts).
  assert.match(pull.json.message, /cannot pull busybox: this daemon has no registry access configured/);
  const bad = await call('POST', '/images/create?fromSrc=-&repo=Bad', Buffer.from('x'));
  assert.equal(bad.status, 400);
  assert.match(bad.json.message, /invalid reference format: repository name \(library\/Bad\) must be lowercase/);
  const notTar = await call('POST', '/images/create?fromSrc=-', Buffer.alloc(2048, 1));
  assert.equal(notTar.status, 400);
  assert.match(notTar.json.message, /invalid tar archive/);
  const change = await call('POST', `/images/create?fromSrc=-&changes=${encodeURIComponent('RUN x')}`, Buffer.alloc(10));
  assert.equal(change.status, 400);
  assert.equal(change.json.message, 'run is not a valid change command');
});

test('image list for API < 1.43 shows untagged images as <none>:<none>', async () => {
  const tar = await makeTar([{ name: 'f', body: 'untagged' }]);
  const imp = await call('POST', '/images/create?fromSrc=-', tar);
  const id = JSON.parse(imp.text).status as string;
  const old = await call('GET', '/v1.41/images/json');
  const mine = old.json.find((i: { Id: string }) => i.Id === id);
  assert.deepEqual(mine.RepoTags, ['<none>:<none>']);
  assert.equal(mine.VirtualSize, mine.Size);
  const dangling = await call('GET', `/images/json?filters=${encodeURIComponent(JSON.stringify({ dangling: ['true'] }))}`);
  assert.deepEqual(dangling.json.map((i: { Id: string }) => i.Id), [id]);
  assert.equal((await call('DELETE', `/images/${id}`)).status, 200);
});
