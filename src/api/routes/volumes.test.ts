// The volume routes driven through the real API server on a private UNIX socket, with a fake mount runner.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../store/db.js';
import { VolumeTable } from '../../store/volumes.js';
import { silentLogger } from '../../common/logger.js';
import type { CommandRunner } from '../../common/command-runner.js';
import { VolumeService, type VolumeRecord } from '../../volume/volume-service.js';
import { Router } from '../router.js';
import { createApiServer } from '../server.js';
import { registerVolumeRoutes } from './volumes.js';

let dir: string;
let db: Db;
let server: http.Server;
let socketPath: string;
const users: Record<string, string[]> = {};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-api-volumes-'));
  db = openDatabase(':memory:');
  const runner: CommandRunner = { run: async () => ({ code: 0, stdout: '', stderr: '' }) } as unknown as CommandRunner;
  const volumes = new VolumeService({ store: new VolumeTable<VolumeRecord>(db), root: join(dir, 'volumes'), runner, usedBy: (n) => users[n] ?? [], publish: () => {}, isMounted: async () => false });
  await volumes.init();
  const router = new Router();
  registerVolumeRoutes(router, { volumes });
  server = createApiServer({ router, log: silentLogger() });
  socketPath = join(dir, 'api.sock');
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
});
after(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  db?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request({ socketPath, method, path, headers: payload ? { 'Content-Type': 'application/json' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode!, json: text ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

test('volume routes: status codes and shapes as dockerd', async () => {
  const cases: Array<[string, string, unknown, number, (j: any) => void]> = [
    ['POST', '/volumes/create', { Name: 'web', Labels: { a: 'b' } }, 201, (j) => assert.deepEqual([j.Name, j.Driver, j.Scope, j.Labels, j.Options], ['web', 'local', 'local', { a: 'b' }, null])],
    ['POST', '/volumes/create', { Name: 'web' }, 201, (j) => assert.equal(j.Name, 'web')],
    ['POST', '/volumes/create', { Name: 'bad/name' }, 400, (j) => assert.match(j.message, /includes invalid characters/)],
    ['POST', '/volumes/create', { Name: 'x1', Driver: 'weird' }, 404, (j) => assert.match(j.message, /plugin "weird" not found/)],
    ['POST', '/volumes/create', { Name: 7 }, 400, (j) => assert.match(j.message, /Name must be a string/)],
    ['POST', '/volumes/create', { Labels: { a: 1 } }, 400, (j) => assert.match(j.message, /Labels/)],
    ['POST', '/volumes/create', '{nope', 400, (j) => assert.match(j.message, /invalid JSON/)],
    ['GET', '/volumes/web', undefined, 200, (j) => assert.match(j.Mountpoint, /\/volumes\/web\/_data$/)],
    ['GET', '/volumes/nope', undefined, 404, (j) => assert.equal(j.message, 'get nope: no such volume')],
    ['GET', '/volumes?filters=' + encodeURIComponent('{"label":["a=b"]}'), undefined, 200, (j) => assert.deepEqual(j.Volumes.map((v: any) => v.Name), ['web'])],
    ['GET', '/volumes?filters=' + encodeURIComponent('{"bogus":["1"]}'), undefined, 400, (j) => assert.match(j.message, /invalid filter 'bogus'/)],
    ['DELETE', '/volumes/nope', undefined, 404, () => {}],
    ['DELETE', '/volumes/nope?force=1', undefined, 204, () => {}],
  ];
  for (const [method, path, body, status, check] of cases) {
    const r = await call(method, path, body);
    assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.json)}`);
    if (r.json !== undefined) check(r.json);
  }
  users['web'] = ['c'.repeat(64)];
  const busy = await call('DELETE', '/volumes/web');
  assert.equal(busy.status, 409);
  assert.equal(busy.json.message, `remove web: volume is in use - [${'c'.repeat(64)}]`);
  delete users['web'];
  const pruned = await call('POST', '/volumes/prune');
  assert.deepEqual(pruned.json, { VolumesDeleted: [], SpaceReclaimed: 0 });
  const all = await call('POST', '/volumes/prune?filters=' + encodeURIComponent('{"all":["true"]}'));
  assert.deepEqual(all.json.VolumesDeleted, ['web']);
  assert.equal((await call('DELETE', '/volumes/web')).status, 404);
});
