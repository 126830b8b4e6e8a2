/**
 * The docker CLI against berthd with a signature policy (#22): the daemon enforces the policy
 * on `docker pull` and `docker run`'s implicit pull (the docker CLI's own content trust, which
 * talks to a Notary server, is not involved), while a berth-signed image is accepted.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BERTH_BIN, runCommand, startDaemon, TEST_PREFIX, type TestDaemon } from '../helpers/daemon.js';
import { startRegistry, type RegistryProc } from '../helpers/registry.js';

describe('docker CLI under the daemon signature policy', () => {
  let d: TestDaemon;
  let reg: RegistryProc;
  let dir: string;
  let R: string;
  const env = (): Record<string, string> => ({ BERTH_HOST: d.host, DOCKER_HOST: '', BERTH_TRUST_PASSPHRASE: 'pw' });
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `${TEST_PREFIX}docker-trust-`));
    reg = await startRegistry(dir);
    R = `127.0.0.1:${reg.port}`;
    d = await startDaemon('docker-trust');
    await d.importBusybox();
  });
  after(async () => {
    await reg?.stop();
    await d?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  test('docker pull of an unsigned image is refused by berthd; a signed one is pulled', async () => {
    assert.equal((await runCommand(BERTH_BIN, ['trust', 'key', 'generate', '--dir', dir, 'k'], env())).code, 0);
    for (const [repo, sign] of [['signed', true], ['unsigned', false]] as const) {
      assert.equal((await d.docker(['tag', 'busybox', `${R}/${repo}/bb:1`])).code, 0);
      const push = await runCommand(BERTH_BIN, ['push', ...(sign ? ['--sign-by', join(dir, 'k.key')] : []), `${R}/${repo}/bb:1`], env());
      assert.equal(push.code, 0, push.stderr);
      assert.equal((await d.docker(['rmi', `${R}/${repo}/bb:1`])).code, 0);
    }
    await writeFile(join(d.dir, 'policy.json'), JSON.stringify({ default: [{ type: 'reject' }], transports: { docker: { [R]: [{ type: 'sigstoreSigned', keyPath: join(dir, 'k.pub') }] } } }));

    const refused = await d.docker(['pull', `${R}/unsigned/bb:1`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`Error response from daemon: image ${R}/unsigned/bb:1 \\(sha256:[a-f0-9]{64}\\) rejected by the signature policy: rule sigstoreSigned`));
    assert.equal((await d.docker(['image', 'inspect', `${R}/unsigned/bb:1`])).code, 1);
    const run = await d.docker(['run', '--rm', `${R}/unsigned/bb:1`, 'true']);
    assert.equal(run.code, 125);
    assert.match(run.stderr, /rejected by the signature policy/);

    const ok = await d.docker(['pull', `${R}/signed/bb:1`]);
    assert.equal(ok.code, 0, ok.stderr);
    const okRun = await d.docker(['run', '--rm', `${R}/signed/bb:1`, 'echo', 'signed']);
    assert.equal(okRun.code, 0, okRun.stderr);
    assert.equal(okRun.stdout, 'signed\n');
  });
});
