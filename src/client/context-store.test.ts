import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContextStore, resolveEndpoint, validateContextName } from './context-store.js';

const root = mkdtempSync(join(tmpdir(), 'berth-ctx-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('context store (docker layout)', () => {
  const cfg = join(root, 'cfg');
  const store = new ContextStore(cfg);

  it('writes meta.json and TLS files where docker reads them', async () => {
    await store.write({ Name: 'foo', Metadata: { Description: 'hello' }, Endpoints: { docker: { Host: 'tcp://1.2.3.4:2376', SkipTLSVerify: false } } }, { ca: Buffer.from('CA'), cert: Buffer.from('C'), key: Buffer.from('K') });
    const metaPath = join(cfg, 'contexts', 'meta', sha('foo'), 'meta.json');
    // Byte for byte what docker 28 writes (checked against `docker context create`).
    assert.equal(readFileSync(metaPath, 'utf8'), '{"Name":"foo","Metadata":{"Description":"hello"},"Endpoints":{"docker":{"Host":"tcp://1.2.3.4:2376","SkipTLSVerify":false}}}');
    const key = join(cfg, 'contexts', 'tls', sha('foo'), 'docker', 'key.pem');
    assert.equal(readFileSync(key, 'utf8'), 'K');
    assert.equal(statSync(key).mode & 0o777, 0o600);
    assert.deepEqual(await store.tlsFiles('foo'), { docker: ['ca.pem', 'cert.pem', 'key.pem'] });
    assert.deepEqual((await store.list()).map((m) => m.Name), ['foo']);
  });

  it('keeps other config.json keys when switching the current context', async () => {
    writeFileSync(join(cfg, 'config.json'), JSON.stringify({ auths: { 'r.example': { auth: 'x' } } }));
    await store.setCurrentContext('foo');
    assert.deepEqual(JSON.parse(readFileSync(join(cfg, 'config.json'), 'utf8')), { auths: { 'r.example': { auth: 'x' } }, currentContext: 'foo' });
    await store.setCurrentContext('default');
    assert.deepEqual(JSON.parse(readFileSync(join(cfg, 'config.json'), 'utf8')), { auths: { 'r.example': { auth: 'x' } } });
  });

  it('exports and imports (also docker\'s unterminated archives), renaming the context', async () => {
    const tar = await store.export('foo');
    // Cut the end-of-archive blocks and the last file's padding, as docker's export does.
    const cut = tar.subarray(0, tar.length - 1024 - 510);
    await store.import('bar', cut);
    const bar = await store.get('bar');
    assert.equal(bar.Name, 'bar');
    assert.equal(bar.Endpoints.docker?.Host, 'tcp://1.2.3.4:2376');
    assert.equal((await store.tlsData('bar')).key?.toString(), 'K');
    await assert.rejects(store.import('bar', tar), /already exists/);
    await assert.rejects(store.import('baz', Buffer.from('not a tar at all')), /invalid context|no metadata/);
    assert.equal(await store.exists('baz'), false);
  });

  it('validates names as docker does', () => {
    assert.throws(() => validateContextName('default'), /reserved/);
    assert.throws(() => validateContextName('-x'), /invalid/);
    assert.throws(() => validateContextName('a/b'), /invalid/);
    validateContextName('host-a.1');
  });

  it('resolves the endpoint with docker\'s precedence', async () => {
    const env = { DOCKER_CONFIG: cfg } as NodeJS.ProcessEnv;
    assert.equal((await resolveEndpoint({ env, tls: {} })).context, 'default');
    await store.setCurrentContext('foo');
    const cur = await resolveEndpoint({ env, tls: {} });
    assert.equal(cur.host, 'tcp://1.2.3.4:2376');
    assert.deepEqual(cur.tls, { verify: true, ca: Buffer.from('CA'), cert: Buffer.from('C'), key: Buffer.from('K') });
    // DOCKER_HOST (or BERTH_HOST, or -H) means the default context.
    assert.equal((await resolveEndpoint({ env: { ...env, BERTH_HOST: 'unix:///b.sock' }, tls: {} })).host, 'unix:///b.sock');
    assert.equal((await resolveEndpoint({ env: { ...env, DOCKER_CONTEXT: 'bar' }, tls: {} })).context, 'bar');
    assert.equal((await resolveEndpoint({ env: { ...env, DOCKER_HOST: 'unix:///d.sock' }, context: 'bar', tls: {} })).context, 'bar');
    await assert.rejects(resolveEndpoint({ env, host: 'unix:///x', context: 'bar', tls: {} }), /conflicting options/);
    await assert.rejects(resolveEndpoint({ env, context: 'nope', tls: {} }), /context "nope" does not exist/);
    await store.setCurrentContext('gone');
    await assert.rejects(resolveEndpoint({ env, tls: {} }), /Current context "gone" is not found/);
    await store.setCurrentContext('');
    // TLS flags apply to the default context only; a missing CA named by --tlscacert is an error.
    await assert.rejects(resolveEndpoint({ env, host: 'tcp://h:1', tls: { tlsverify: true, tlscacert: join(root, 'none.pem') } }), /could not read CA certificate/);
    const certDir = join(root, 'certs');
    await store.write({ Name: 'unused', Metadata: {}, Endpoints: {} });
    const plainTls = await resolveEndpoint({ env: { ...env, DOCKER_CERT_PATH: certDir }, host: 'tcp://h:1', tls: { tls: true } });
    assert.deepEqual(plainTls.tls, { verify: false });
  });
});
