// Every route group of the Engine API driven in-process (api/inject.ts, fastify's inject()
// style: no socket) over fakes of the services they call: what the route decodes from the
// request, what it asks of the service, and the status and body it answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { ConflictError, NoSuchContainerError, NoSuchExecError, NoSuchImageError, NotFoundError } from '../../common/errors.js';
import { silentLogger } from '../../common/logger.js';
import type { ContainerService } from '../../engine/container-service.js';
import type { ExecService } from '../../engine/exec-service.js';
import type { EventBus } from '../../engine/events.js';
import type { ImageService } from '../../image/image-service.js';
import type { NetworkService } from '../../network/network-service.js';
import type { VolumeService } from '../../volume/volume-service.js';
import type { Builder } from '../../build/builder.js';
import type { ImageTrust } from '../../trust/index.js';
import { injector } from '../inject.js';
import { Router } from '../router.js';
import { createApiServer } from '../server.js';
import { registerArchiveRoutes } from './archive.js';
import { registerBuildRoutes } from './build.js';
import { registerContainerRoutes } from './containers.js';
import { registerExecRoutes } from './exec.js';
import { registerImageRoutes } from './images.js';
import { registerNetworkRoutes } from './networks.js';
import { registerSwarmRoutes } from './swarm.js';
import { registerSystemDfRoute } from './system-df.js';
import { registerSystemRoutes } from './system.js';
import { registerTrustRoutes } from './trust.js';
import { registerVolumeRoutes } from './volumes.js';

type Calls = unknown[][];

function serve(register: (r: Router) => void): ReturnType<typeof injector> {
  const router = new Router();
  register(router);
  return injector(createApiServer({ router, log: silentLogger() }));
}

/** A container service that knows one container, `c1`, and records what it is asked. */
function fakeContainers(calls: Calls): ContainerService {
  const known = (ref: string): void => {
    if (ref !== 'c1') throw new NoSuchContainerError(ref);
  };
  return {
    get(ref: string) {
      known(ref);
      return { id: 'c1', imageId: 'sha256:i', dir: '/nonexistent', mounts: [], state: { status: 'exited' }, config: {}, host: {} };
    },
    list: () => [],
    async start(ref: string) {
      calls.push(['start', ref]);
      known(ref);
    },
    async stop(ref: string, o: unknown) {
      calls.push(['stop', ref, o]);
      known(ref);
    },
    async kill(ref: string, sig: string) {
      calls.push(['kill', ref, sig]);
      known(ref);
      throw new ConflictError(`Container ${ref} is not running`);
    },
    async remove(ref: string, o: unknown) {
      calls.push(['remove', ref, o]);
      known(ref);
    },
    rename(ref: string, name: string) {
      calls.push(['rename', ref, name]);
      known(ref);
    },
    async pids(ref: string) {
      known(ref);
      return [];
    },
    async prune(filters: Map<string, string[]>) {
      calls.push(['prune', [...filters]]);
      return { deleted: ['dead1'], reclaimed: 7 };
    },
    async resize(ref: string, size: unknown) {
      calls.push(['resize', ref, size]);
      known(ref);
    },
    async withFilesystem(ref: string) {
      known(ref);
      throw new Error('not reached in these tests');
    },
  } as unknown as ContainerService;
}

test('containers: start/stop/kill/rm/rename/prune decode the query and map errors', async () => {
  const calls: Calls = [];
  const inject = serve((r) => registerContainerRoutes(r, { containers: fakeContainers(calls), lowerDirs: async () => [] }));
  assert.equal((await inject({ method: 'POST', url: '/v1.47/containers/c1/start' })).statusCode, 204);
  assert.equal((await inject({ method: 'POST', url: '/containers/c1/stop?t=3&signal=SIGINT' })).statusCode, 204);
  assert.deepEqual(calls.at(-1), ['stop', 'c1', { timeout: 3, signal: 'SIGINT' }]);
  let r = await inject({ method: 'POST', url: '/containers/c1/kill' });
  assert.equal(r.statusCode, 409);
  assert.deepEqual(r.json(), { message: 'Container c1 is not running' });
  assert.deepEqual(calls.at(-1), ['kill', 'c1', 'SIGKILL']);
  r = await inject({ method: 'POST', url: '/containers/nope/start' });
  assert.equal(r.statusCode, 404);
  assert.deepEqual(r.json(), { message: 'No such container: nope' });
  assert.equal((await inject({ method: 'DELETE', url: '/containers/c1?force=1&v=true' })).statusCode, 204);
  assert.deepEqual(calls.at(-1), ['remove', 'c1', { force: true, volumes: true }]);
  r = await inject({ method: 'DELETE', url: '/containers/c1?link=1' });
  assert.equal(r.statusCode, 400);
  assert.equal((await inject({ method: 'POST', url: '/containers/c1/rename?name=web' })).statusCode, 204);
  assert.deepEqual(calls.at(-1), ['rename', 'c1', 'web']);
  r = await inject({ method: 'POST', url: '/containers/c1/wait?condition=bogus' });
  assert.equal(r.statusCode, 400);
  assert.deepEqual(r.json(), { message: 'invalid condition: "bogus"' });
  r = await inject({ method: 'POST', url: '/containers/prune?filters=' + encodeURIComponent('{"label":["a=b"]}') });
  assert.equal(r.statusCode, 200);
  assert.deepEqual(r.json(), { ContainersDeleted: ['dead1'], SpaceReclaimed: 7 });
  assert.deepEqual(calls.at(-1), ['prune', [['label', ['a=b']]]]);
  r = await inject({ method: 'GET', url: '/containers/c1/top?ps_args=' + encodeURIComponent('-ef;id') });
  assert.equal(r.statusCode, 400);
  assert.deepEqual(r.json(), { message: 'invalid ps arguments: -ef;id' });
});

test('exec: create decodes the config, unknown execs are 404, resize checks h and w', async () => {
  const calls: Calls = [];
  const execs = {
    create(ref: string, cfg: unknown) {
      calls.push(['create', ref, cfg]);
      if (ref !== 'c1') throw new NoSuchContainerError(ref);
      return 'e1';
    },
    get(id: string) {
      throw new NoSuchExecError(id);
    },
    async resize() {},
  } as unknown as ExecService;
  const inject = serve((r) => registerExecRoutes(r, { containers: fakeContainers(calls), execs }));
  let r = await inject({ method: 'POST', url: '/containers/c1/exec', payload: { Cmd: ['ls', '-l'], Tty: true, Env: ['A=1'] } });
  assert.equal(r.statusCode, 201);
  assert.deepEqual(r.json(), { Id: 'e1' });
  const cfg = calls.at(-1)![2] as { cmd: string[]; tty: boolean; env: string[] };
  assert.deepEqual([cfg.cmd, cfg.tty, cfg.env], [['ls', '-l'], true, ['A=1']]);
  r = await inject({ method: 'GET', url: '/exec/zzz/json' });
  assert.equal(r.statusCode, 404);
  assert.deepEqual(r.json(), { message: 'No such exec instance: zzz' });
  r = await inject({ method: 'POST', url: '/containers/c1/resize?h=x&w=80' });
  assert.equal(r.statusCode, 400);
  assert.equal((await inject({ method: 'POST', url: '/containers/c1/resize?h=24&w=80' })).statusCode, 200);
  assert.deepEqual(calls.at(-1), ['resize', 'c1', { height: 24, width: 80 }]);
});

test('attach: an unknown container is 404 and a request for no stream 400, before any hijack', async () => {
  const inject = serve((r) => registerContainerRoutes(r, { containers: fakeContainers([]), lowerDirs: async () => [] }));
  let r = await inject({ method: 'POST', url: '/containers/nope/attach?stream=1&stdout=1' });
  assert.equal(r.statusCode, 404);
  r = await inject({ method: 'POST', url: '/containers/c1/attach?stdout=1' });
  assert.equal(r.statusCode, 400);
  assert.deepEqual(r.json(), { message: 'Bad parameters: you must choose at least one stream' });
});

test('archive: path is required; an unknown container is 404 for stat, read, write, changes and export', async () => {
  const inject = serve((r) => registerArchiveRoutes(r, { containers: fakeContainers([]), lowerDirs: async () => [] }));
  let r = await inject({ method: 'HEAD', url: '/containers/c1/archive' });
  assert.equal(r.statusCode, 400);
  r = await inject({ method: 'GET', url: '/containers/c1/archive' });
  assert.deepEqual(r.json(), { message: 'path query parameter is required' });
  for (const [method, url] of [['HEAD', '/containers/nope/archive?path=/'], ['GET', '/containers/nope/archive?path=/'], ['PUT', '/containers/nope/archive?path=/'], ['GET', '/containers/nope/changes'], ['GET', '/containers/nope/export']] as const) {
    r = await inject({ method, url, ...(method === 'PUT' ? { payload: Buffer.alloc(1024) } : {}) });
    assert.equal(r.statusCode, 404, `${method} ${url}`);
  }
});

test('images: list, inspect and remove go to the image service; registry operations without registry access are 501', async () => {
  const calls: Calls = [];
  const images = {
    async list(o: unknown) {
      calls.push(['list', o]);
      return [{ id: 'sha256:a', parentId: '', repoTags: ['a:1'], repoDigests: [], created: '2024-01-01T00:00:00Z', size: 5, labels: {} }];
    },
    async inspect(ref: string) {
      throw new NoSuchImageError(ref);
    },
    async remove(ref: string, o: { force: boolean; noprune: boolean }) {
      calls.push(['remove', ref, { force: o.force, noprune: o.noprune }]);
      return [{ Untagged: 'a:1' }];
    },
    resolve() {
      throw new NoSuchImageError('x');
    },
  } as unknown as ImageService;
  const inject = serve((r) => registerImageRoutes(r, { images, isImageInUse: () => false }));
  let r = await inject({ method: 'GET', url: '/v1.47/images/json' });
  assert.equal(r.statusCode, 200);
  assert.deepEqual(r.json(), [{ Containers: -1, Created: 1704067200, Id: 'sha256:a', Labels: {}, ParentId: '', RepoDigests: [], RepoTags: ['a:1'], SharedSize: -1, Size: 5 }]);
  assert.deepEqual(calls.at(-1), ['list', { hideIntermediate: true }]);
  r = await inject({ method: 'GET', url: '/images/localhost:5000/a/b:1/json' });
  assert.equal(r.statusCode, 404);
  assert.deepEqual(r.json(), { message: 'No such image: localhost:5000/a/b:1' });
  r = await inject({ method: 'DELETE', url: '/images/a:1?force=1' });
  assert.deepEqual(r.json(), [{ Untagged: 'a:1' }]);
  assert.deepEqual(calls.at(-1), ['remove', 'a:1', { force: true, noprune: false }]);
  for (const [method, url, message] of [
    ['POST', '/images/create?fromImage=busybox&tag=1', 'cannot pull busybox: this daemon has no registry access configured'],
    ['POST', '/images/a:1/push', 'cannot push a:1: this daemon has no registry access configured'],
    ['POST', '/auth', 'this daemon has no registry access configured'],
    ['GET', '/images/get?names=a', 'this daemon has no image archive support configured'],
    ['POST', '/commit?container=c1', 'commit is not available in this daemon'],
  ] as const) {
    r = await inject({ method, url, ...(url === '/auth' ? { payload: {} } : {}) });
    assert.equal(r.statusCode, 501, url);
    assert.deepEqual(r.json(), { message }, url);
  }
  r = await inject({ method: 'POST', url: '/images/create' });
  assert.equal(r.statusCode, 400);
  r = await inject({ method: 'POST', url: '/images/prune?filters=' + encodeURIComponent('{"bogus":["1"]}') });
  assert.equal(r.statusCode, 400);
  assert.deepEqual(r.json(), { message: "invalid filter 'bogus'" });
  r = await inject({ method: 'POST', url: '/images/create?fromImage=busybox', headers: { 'x-registry-auth': '%%%' } });
  assert.equal(r.statusCode, 501, 'registry access is checked before the credentials');
});

test('networks: create validates IPAM, get and remove map NotFound', async () => {
  const calls: Calls = [];
  const networks = {
    async create(o: unknown) {
      calls.push(['create', o]);
      return { id: 'n1' };
    },
    get(ref: string) {
      throw new NotFoundError(`network ${ref} not found`);
    },
    async remove(ref: string) {
      throw new NotFoundError(`network ${ref} not found`);
    },
    list: () => [],
  } as unknown as NetworkService;
  const inject = serve((r) => registerNetworkRoutes(r, { networks, containers: fakeContainers([]) }));
  let r = await inject({ method: 'POST', url: '/networks/create', payload: { Name: 'n', IPAM: 'x' } });
  assert.equal(r.statusCode, 400);
  assert.deepEqual(r.json(), { message: 'invalid JSON: field IPAM must be an object' });
  r = await inject({ method: 'POST', url: '/networks/create', payload: { Name: 'n', Internal: true, IPAM: { Config: [{ Subnet: '10.9.0.0/24' }] } } });
  assert.equal(r.statusCode, 201);
  assert.deepEqual(r.json(), { Id: 'n1', Warning: '' });
  const o = calls.at(-1)![1] as { name: string; internal: boolean; ipam: { config: { subnet: string }[] } };
  assert.deepEqual([o.name, o.internal, o.ipam.config[0]!.subnet], ['n', true, '10.9.0.0/24']);
  assert.deepEqual((await inject({ method: 'GET', url: '/networks/zz' })).json(), { message: 'network zz not found' });
  assert.equal((await inject({ method: 'DELETE', url: '/networks/zz' })).statusCode, 404);
  assert.deepEqual((await inject({ method: 'GET', url: '/networks' })).json(), []);
});

test('volumes: list and a malformed create', async () => {
  const volumes = { list: () => [], async create() {
    throw new Error('not reached');
  } } as unknown as VolumeService;
  const inject = serve((r) => registerVolumeRoutes(r, { volumes }));
  assert.deepEqual((await inject({ method: 'GET', url: '/volumes' })).json(), { Volumes: [], Warnings: [] });
  const r = await inject({ method: 'POST', url: '/volumes/create', payload: { Name: 5 } });
  assert.equal(r.statusCode, 400);
});

test('system: _ping, version (one API version), info; swarm routes are 503', async () => {
  const info = { version: '0.1.0', commit: 'abc', name: 'test', dataRoot: '/d', runtime: 'crun', cgroupVersion: '2' as const, cgroupDriver: 'cgroupfs', securityOptions: [], counts: async () => ({ containers: 2, running: 1, paused: 0, stopped: 1, images: 3 }) };
  const inject = serve((r) => {
    registerSystemRoutes(r, { info, events: {} as EventBus });
    registerSwarmRoutes(r);
  });
  let r = await inject({ method: 'GET', url: '/_ping' });
  assert.equal(r.body, 'OK');
  r = await inject({ method: 'HEAD', url: '/_ping' });
  assert.equal(r.statusCode, 200);
  assert.equal(r.body, '');
  const v = (await inject({ method: 'GET', url: '/version' })).json() as { ApiVersion: string; MinAPIVersion: string };
  const { API_VERSION, MIN_API_VERSION } = await import('../../wire/api-version.js');
  assert.deepEqual([v.ApiVersion, v.MinAPIVersion], [API_VERSION, MIN_API_VERSION]);
  const i = (await inject({ method: 'GET', url: '/info' })).json() as { Containers: number; Images: number; ID: string };
  assert.deepEqual([i.Containers, i.Images, i.ID], [2, 3, 'test']);
  r = await inject({ method: 'GET', url: '/swarm' });
  assert.equal(r.statusCode, 503);
  r = await inject({ method: 'POST', url: '/swarm/init', payload: {} });
  assert.equal(r.statusCode, 503);
});

test('system df: the summary of an empty daemon, and type= keeps only what was asked', async () => {
  const images = { list: async () => [], records: () => [], layers: { list: () => [], get: () => undefined }, content: { usage: async () => 0, info: async () => undefined } } as unknown as ImageService;
  const inject = serve((r) => registerSystemDfRoute(r, { images, containers: fakeContainers([]), upperDir: () => '/nonexistent' }));
  const df = (await inject({ method: 'GET', url: '/system/df' })).json() as Record<string, unknown>;
  assert.deepEqual([df['Images'], df['Containers'], df['LayersSize']], [[], [], 0]);
  const only = (await inject({ method: 'GET', url: '/system/df?type=volume' })).json() as Record<string, unknown>;
  assert.deepEqual(Object.keys(only).sort(), ['Volumes']);
});

test('trust: policy state and a revocation without a fingerprint', async () => {
  const trust = { policyPath: '/etc/containers/policy.json', policy: async () => ({ present: false }), revoked: async () => [{ fingerprint: 'AB', revoked: '2026-01-01T00:00:00Z' }] } as unknown as ImageTrust;
  const inject = serve((r) => registerTrustRoutes(r, { trust }));
  assert.deepEqual((await inject({ method: 'GET', url: '/berth/trust' })).json(), { PolicyPath: '/etc/containers/policy.json', PolicyPresent: false, Revoked: [{ Fingerprint: 'AB', Revoked: '2026-01-01T00:00:00Z' }] });
  const r = await inject({ method: 'POST', url: '/berth/trust/revocations', payload: {} });
  assert.equal(r.statusCode, 400);
  assert.deepEqual(r.json(), { message: 'Fingerprint is required' });
});

test('build: prune decodes filters and keep-storage; a remote context is 501', async () => {
  const calls: Calls = [];
  const builder = {
    async prune(o: unknown) {
      calls.push(['prune', o]);
      return { deleted: ['x'], reclaimed: 9 };
    },
  } as unknown as Builder;
  const inject = serve((r) => registerBuildRoutes(r, { builder, images: {} as ImageService, tmp: '/nonexistent' }));
  let r = await inject({ method: 'POST', url: '/build/prune?all=1&keep-storage=100' });
  assert.deepEqual(r.json(), { CachesDeleted: ['x'], SpaceReclaimed: 9 });
  assert.deepEqual(calls.at(-1), ['prune', { all: true, keepStorage: 100 }]);
  r = await inject({ method: 'POST', url: '/build/prune?filters=' + encodeURIComponent('{"type":["regular"]}') });
  assert.equal(r.statusCode, 400);
  r = await inject({ method: 'POST', url: '/build?remote=https://example.invalid/x.git', payload: Readable.from([]) as never });
  assert.equal(r.statusCode, 501);
});
