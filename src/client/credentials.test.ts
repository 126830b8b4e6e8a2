import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eraseCredentials, getCredentials, storeCredentials } from './credentials.js';
import { decodeRegistryAuth, encodeRegistryAuth } from '../wire/registry-auth.js';

describe('docker config.json credentials', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-dockercfg-'));
  after(() => rm(dir, { recursive: true, force: true }));

  test('store, read and erase in auths, keeping other keys', async () => {
    const env = { DOCKER_CONFIG: join(dir, 'a') };
    await storeCredentials('localhost:5000', { username: 'u', password: 'p:w' }, env);
    const path = join(dir, 'a', 'config.json');
    const cfg = JSON.parse(await readFile(path, 'utf8'));
    cfg.psFormat = 'x';
    await writeFile(path, JSON.stringify(cfg));
    assert.deepEqual(await getCredentials('localhost:5000', env), { serveraddress: 'localhost:5000', username: 'u', password: 'p:w' });
    assert.equal(await getCredentials('other:1', env), undefined);
    await storeCredentials('docker.io', { username: 'h', password: 'x' }, env);
    assert.ok(JSON.parse(await readFile(path, 'utf8')).auths['https://index.docker.io/v1/']);
    assert.equal(await eraseCredentials('localhost:5000', env), true);
    assert.equal(await eraseCredentials('localhost:5000', env), false);
    assert.equal(JSON.parse(await readFile(path, 'utf8')).psFormat, 'x');
  });

  test('credsStore helpers are spoken to as docker does', async () => {
    const bin = join(dir, 'bin');
    await rm(bin, { recursive: true, force: true });
    await (await import('node:fs/promises')).mkdir(bin, { recursive: true });
    const helper = join(bin, 'docker-credential-fake');
    await writeFile(helper, `#!/bin/sh\nread server\nif [ "$1" = get ] && [ "$server" = "reg.test:1" ]; then echo '{"ServerURL":"reg.test:1","Username":"hu","Secret":"hs"}'; else echo "credentials not found in native keychain"; exit 1; fi\n`);
    await chmod(helper, 0o755);
    const env = { DOCKER_CONFIG: join(dir, 'b'), PATH: `${bin}:${process.env.PATH}` };
    await (await import('node:fs/promises')).mkdir(join(dir, 'b'), { recursive: true });
    await writeFile(join(dir, 'b', 'config.json'), JSON.stringify({ credsStore: 'fake' }));
    const saved = process.env.PATH;
    process.env.PATH = env.PATH;
    try {
      assert.deepEqual(await getCredentials('reg.test:1', env), { username: 'hu', password: 'hs', serveraddress: 'reg.test:1' });
      assert.equal(await getCredentials('none:1', env), undefined);
    } finally {
      process.env.PATH = saved;
    }
  });

  test('X-Registry-Auth round trip; empty is anonymous; garbage is an error', () => {
    assert.deepEqual(decodeRegistryAuth(encodeRegistryAuth({ username: 'a', password: 'b' })), { username: 'a', password: 'b' });
    assert.equal(decodeRegistryAuth(encodeRegistryAuth({})), undefined);
    assert.throws(() => decodeRegistryAuth('%%%notbase64'));
  });
});
