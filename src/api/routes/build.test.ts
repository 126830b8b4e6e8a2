import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildQueryOptions, registryConfigAuth } from './build.js';
import { NotImplementedError, isCategory, isInvalidParameter } from '../../common/errors.js';

const isNotImplemented = (e: unknown): boolean => isCategory(e, NotImplementedError);

const opts = (query: string, headers: Record<string, string> = {}) => buildQueryOptions(new URLSearchParams(query), (n) => headers[n]);
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64');

test('POST /build options: applied, or refused by name; zero values clients always send are fine', () => {
  assert.deepEqual(opts('memory=0&cpushares=0&cpuquota=0&shmsize=0&networkmode=default&isolation=default&squash=False&ulimits=null&cachefrom=%5B%5D&outputs=null'), {});
  assert.deepEqual(opts('networkmode=none&extrahosts=a:1.2.3.4,b:5.6.7.8&extrahosts=c:9.9.9.9&shmsize=1048576&platform=linux/amd64'), {
    networkMode: 'none', extraHosts: ['a:1.2.3.4', 'b:5.6.7.8', 'c:9.9.9.9'], shmSize: 1048576, platform: 'linux/amd64',
  });
  assert.deepEqual(opts(`ulimits=${encodeURIComponent('[{"Name":"nofile","Soft":10,"Hard":20}]')}`).ulimits, [{ name: 'nofile', soft: 10, hard: 20 }]);
  assert.deepEqual(opts(`cachefrom=${encodeURIComponent('["a:1","b"]')}&nocachefilter=x,y&allow=security.insecure`), { cacheFrom: ['a:1', 'b'], noCacheFilter: ['x', 'y'], allow: ['security.insecure'] });
  for (const [q, re] of [['memory=100', /--memory/], ['cpusetcpus=0', /--cpuset-cpus/], ['squash=1', /--squash/], ['remote=https://x', /a remote context/], ['outputs=%5B%7B%7D%5D', /build outputs/]] as const) {
    assert.throws(() => opts(q), (e: unknown) => isNotImplemented(e) && re.test((e as Error).message), q);
  }
  for (const [q, re] of [['networkmode=container:x', /network mode "container:x"/], ['extrahosts=nocolon', /invalid add-host/], ['shmsize=big', /invalid shmsize/], ['ulimits=%7B', /invalid ulimits/], ['allow=root', /invalid entitlement: root/]] as const) {
    assert.throws(() => opts(q), (e: unknown) => isInvalidParameter(e) && re.test((e as Error).message), q);
  }
  assert.throws(() => opts(`buildcontexts=${encodeURIComponent('{"x":"./dir"}')}`), (e: unknown) => isNotImplemented(e) && /docker-image:\/\//.test((e as Error).message));
});

test('POST /build secrets and ssh headers: base64 JSON of strings', () => {
  const o = opts('', { 'berth-build-secrets': b64({ tok: Buffer.from('s3cret').toString('base64') }), 'berth-build-ssh': b64({ default: '/tmp/agent.sock' }) });
  assert.equal(o.secrets?.['tok']?.toString(), 's3cret');
  assert.deepEqual(o.ssh, { default: '/tmp/agent.sock' });
  assert.throws(() => opts('', { 'berth-build-secrets': 'not json' }), /invalid berth-build-secrets header/);
  assert.throws(() => opts('', { 'berth-build-ssh': b64({ default: 1 }) }), /expected an object of strings/);
});

test('X-Registry-Config: the credentials of the image\'s registry, Docker Hub under its index address', () => {
  const h = b64({ 'https://index.docker.io/v1/': { username: 'hub' }, 'registry.example:5000': { username: 'ex' } });
  assert.deepEqual(registryConfigAuth(h, 'busybox'), { username: 'hub' });
  assert.deepEqual(registryConfigAuth(h, 'registry.example:5000/a/b:1'), { username: 'ex' });
  assert.equal(registryConfigAuth(h, 'other.example/x'), undefined);
  assert.equal(registryConfigAuth(undefined, 'busybox'), undefined);
  assert.throws(() => registryConfigAuth('%%%', 'busybox'), /invalid X-Registry-Config/);
});
