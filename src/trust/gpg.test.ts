import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpawnRunner } from '../common/command-runner.js';
import { GpgKeyring, gpgSign } from './gpg.js';

/** GnuPG verification (signedBy, #22): good, expired-key and revoked-key signatures. */
describe('GPG simple signatures', () => {
  const runner = new SpawnRunner();
  let home: string;
  const gpg = (args: string[]) => runner.run(['gpg', '--homedir', home, '--batch', '--no-tty', ...args], { check: false });
  const fprOf = async (uid: string): Promise<string> => {
    const out = (await gpg(['--with-colons', '--list-keys', uid])).stdout;
    return out.split('\n').find((l) => l.startsWith('fpr:'))!.split(':')[9]!;
  };
  const payload = Buffer.from('{"critical":{}}');

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'berth-gpg-test-'));
    assert.equal((await gpg(['--passphrase', '', '--quick-gen-key', 'good <good@berth.test>', 'ed25519', 'sign', '1d'])).code, 0);
    // A key that expired in 2020, with a signature made while it was valid.
    assert.equal((await gpg(['--faked-system-time', '20200101T000000', '--passphrase', '', '--quick-gen-key', 'old <old@berth.test>', 'ed25519', 'sign', '1d'])).code, 0);
    assert.equal((await gpg(['--passphrase', '', '--quick-gen-key', 'revoked <revoked@berth.test>', 'ed25519', 'sign', '1d'])).code, 0);
  });
  after(async () => {
    await runner.run(['gpgconf', '--homedir', home, '--kill', 'all'], { check: false });
    await rm(home, { recursive: true, force: true });
  });

  test('a good signature yields the payload and the signer; expired and revoked keys and other keys are refused', async () => {
    const env = { ...process.env, GNUPGHOME: home };
    const good = await fprOf('good@berth.test');
    const sigGood = await gpgSign(runner, payload, { fingerprint: good, env });
    const old = await fprOf('old@berth.test');
    const p = join(home, 'p');
    await writeFile(p, payload);
    assert.equal((await gpg(['--faked-system-time', '20200101T120000', '--local-user', old, '--output', join(home, 'old.sig'), '--sign', p])).code, 0);
    const sigOld = await readFile(join(home, 'old.sig'));
    const revoked = await fprOf('revoked@berth.test');
    const sigRevoked = await gpgSign(runner, payload, { fingerprint: revoked, env });
    // Revoke it with the certificate gpg made at generation (its first line is a guard ":").
    const revDir = join(home, 'openpgp-revocs.d');
    const cert = (await readFile(join(revDir, (await readdir(revDir)).find((f) => f.startsWith(revoked))!), 'utf8')).replace(/^:-----BEGIN/m, '-----BEGIN');
    await writeFile(join(home, 'rev.asc'), cert);
    assert.equal((await gpg(['--import', join(home, 'rev.asc')])).code, 0);

    const keys = join(home, 'policy-keys.gpg');
    await writeFile(keys, (await runner.run(['gpg', '--homedir', home, '--batch', '--armor', '--export', good, old, revoked])).stdout);
    const ring = await GpgKeyring.open(runner, { paths: [keys] });
    try {
      const ok = await ring.verify(sigGood);
      assert.ok('ok' in ok, JSON.stringify(ok));
      assert.deepEqual(ok.ok.payload, payload);
      assert.equal(ok.ok.fingerprint, good);
      assert.deepEqual(await ring.verify(sigOld), { reason: 'the signing key has expired' });
      assert.deepEqual(await ring.verify(sigRevoked), { reason: 'the signing key has been revoked' });
      const tampered = Buffer.from(sigGood);
      tampered[tampered.length - 5] = tampered[tampered.length - 5]! ^ 0xff;
      assert.ok('reason' in (await ring.verify(tampered)));
    } finally {
      await ring.close();
    }
    // A keyring without the signer's key.
    const onlyOld = join(home, 'only-old.gpg');
    await writeFile(onlyOld, (await runner.run(['gpg', '--homedir', home, '--batch', '--armor', '--export', old])).stdout);
    const other = await GpgKeyring.open(runner, { paths: [onlyOld] });
    try {
      assert.deepEqual(await other.verify(sigGood), { reason: 'not signed by a key the policy trusts' });
    } finally {
      await other.close();
    }
  });
});
