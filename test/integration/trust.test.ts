/**
 * Content trust end to end (#22): berth's registry on loopback, a private berthd with a
 * signature policy (its own policy.json and registries.d, rewritten by each test: the daemon
 * reads them for every image), berth-made cosign-style signatures, skopeo's GPG and sigstore
 * signatures, and skopeo verifying berth's.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BERTH_BIN, TEST_PREFIX, busyboxTar, runCommand, startDaemon, type RunResult, type TestDaemon } from '../helpers/daemon.js';
import { httpReq, startRegistry, type RegistryProc } from '../helpers/registry.js';

async function httpGet(port: number, path: string, headers: Record<string, string> = {}): Promise<Buffer> {
  const r = await httpReq(port, 'GET', path, undefined, headers);
  assert.equal(r.status, 200, `${path}: ${r.status} ${r.body.toString()}`);
  return r.body;
}

const PASS = 'berth test passphrase';

describe('content trust: signatures and the daemon policy', () => {
  let d: TestDaemon;
  let reg: RegistryProc;
  let dir: string;
  let R: string;
  let gnupgHome: string | undefined;

  const berth = (args: string[], env: Record<string, string> = {}): Promise<RunResult> =>
    runCommand(BERTH_BIN, args, { BERTH_HOST: d.host, DOCKER_HOST: '', BERTH_TRUST_PASSPHRASE: PASS, DOCKER_CONTENT_TRUST: '', ...env }, { timeoutMs: 120_000 });
  const setPolicy = (p: unknown): Promise<void> => writeFile(join(d.dir, 'policy.json'), JSON.stringify(p));
  const sigstore = (keyPath: string, extra: Record<string, unknown> = {}) => ({ default: [{ type: 'reject' }], transports: { docker: { [R]: [{ type: 'sigstoreSigned', keyPath, ...extra }] }, 'docker-archive': { '': [{ type: 'insecureAcceptAnything' }] } } });
  const stored = async (ref: string): Promise<boolean> => (await d.api('GET', `/images/${ref}/json`)).status === 200;
  /** An image of its own (busybox with another CMD), pushed to R/<repo>:<tag> and removed locally. */
  const pushVariant = async (repo: string, tag: string, cmd: string, signBy?: string): Promise<string> => {
    const r = await d.api('POST', `/images/create?fromSrc=-&repo=${encodeURIComponent(`${R}/${repo}`)}&tag=${tag}&changes=${encodeURIComponent(`CMD ["${cmd}"]`)}`, await readFile(await busyboxTar()), { 'Content-Type': 'application/x-tar' });
    assert.equal(r.status, 200, r.body.toString());
    const push = await berth(['push', ...(signBy ? ['--sign-by', signBy] : []), `${R}/${repo}:${tag}`]);
    assert.equal(push.code, 0, push.stderr);
    const m = new RegExp(`^${tag}: digest: (sha256:[a-f0-9]{64})`, 'm').exec(push.stdout);
    assert.ok(m, push.stdout);
    assert.equal((await berth(['rmi', `${R}/${repo}:${tag}`])).code, 0);
    return m[1]!;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `${TEST_PREFIX}trust-`));
    reg = await startRegistry(dir);
    R = `127.0.0.1:${reg.port}`;
    d = await startDaemon('trust');
    await d.importBusybox();
    const gen = await berth(['trust', 'key', 'generate', '--dir', dir, 'signer']);
    assert.equal(gen.code, 0, gen.stderr);
    assert.match(gen.stdout, /Key fingerprint: [a-f0-9]{64}/);
    assert.equal((await berth(['trust', 'key', 'generate', '--dir', dir, 'other'])).code, 0);
  });
  after(async () => {
    if (gnupgHome) {
      await runCommand('gpgconf', ['--homedir', gnupgHome, '--kill', 'all'], {});
      await rm(gnupgHome, { recursive: true, force: true });
    }
    await reg?.stop();
    await d?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  test('no policy file: anything is accepted (as before); a broken policy file refuses pulls with its error', async () => {
    const digest = await pushVariant('plain/app', '1', 'true');
    const pull = await berth(['pull', `${R}/plain/app:1`]);
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stdout, new RegExp(`Digest: ${digest}`));
    await writeFile(join(d.dir, 'policy.json'), '{"default": []}');
    assert.equal((await berth(['rmi', `${R}/plain/app:1`])).code, 0);
    const bad = await berth(['pull', `${R}/plain/app:1`]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /policy\.json: invalid policy: default is empty/);
    assert.equal(await stored(`${R}/plain/app:1`), false);
  });

  test('push --sign-by, trust inspect, pull under sigstoreSigned; tag moved to an unsigned image, tampered manifest and wrong key are refused with nothing stored', async () => {
    const digest = await pushVariant('signed/app', '1', 'sh', join(dir, 'signer.key'));
    const insp = await berth(['trust', 'inspect', '--key', join(dir, 'signer.pub'), '--key', join(dir, 'other.pub'), `${R}/signed/app:1`]);
    assert.equal(insp.code, 0, insp.stderr);
    const info = JSON.parse(insp.stdout) as { ManifestDigest: string; Signatures: { Verified: boolean; DockerReference: string; SignedBy?: { Key: string } }[] }[];
    assert.equal(info[0]!.ManifestDigest, digest);
    assert.equal(info[0]!.Signatures.length, 1);
    assert.equal(info[0]!.Signatures[0]!.Verified, true);
    assert.equal(info[0]!.Signatures[0]!.SignedBy?.Key, join(dir, 'signer.pub'));
    assert.equal(info[0]!.Signatures[0]!.DockerReference, `${R}/signed/app:1`);

    await setPolicy(sigstore(join(dir, 'signer.pub')));
    const ok = await berth(['pull', `${R}/signed/app:1`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await stored(`${R}/signed/app:1`), true);
    assert.equal((await berth(['rmi', `${R}/signed/app:1`])).code, 0);

    // The wrong key.
    await setPolicy(sigstore(join(dir, 'other.pub')));
    const wrong = await berth(['pull', `${R}/signed/app:1`]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, new RegExp(`image ${R}/signed/app:1 \\(${digest}\\) rejected by the signature policy: rule sigstoreSigned \\(keyPath [^)]*other\\.pub\\) of scope docker:${R}: no signature verifies with the key`));
    assert.equal(await stored(`${R}/signed/app:1`), false);

    // The tag moved to an unsigned image.
    await setPolicy(sigstore(join(dir, 'signer.pub')));
    const moved = await pushVariant('signed/app', '1', 'true');
    assert.notEqual(moved, digest);
    const refused = await berth(['pull', `${R}/signed/app:1`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`image ${R}/signed/app:1 \\(${moved}\\) rejected .*: a signature was required, but no signature exists`));
    assert.equal(await stored(`${R}/signed/app:1`), false);
    // By digest, the signed manifest is still accepted.
    const byDigest = await berth(['pull', `${R}/signed/app@${digest}`]);
    assert.equal(byDigest.code, 0, byDigest.stderr);
    assert.equal((await berth(['rmi', `${R}/signed/app@${digest}`])).code, 0);

    // The manifest tampered with in the registry's storage (the tag serves other bytes).
    const digest2 = await pushVariant('signed/tamper', '1', 'sh', join(dir, 'signer.key'));
    const blob = join(reg.root, 'blobs', 'sha256', digest2.slice(7));
    const m = JSON.parse(await readFile(blob, 'utf8'));
    m.annotations = { tampered: 'yes' };
    await writeFile(blob, JSON.stringify(m));
    const tampered = await berth(['pull', `${R}/signed/tamper:1`]);
    assert.equal(tampered.code, 1);
    assert.match(tampered.stderr, /rejected by the signature policy: .*no signature exists/);
    assert.equal(await stored(`${R}/signed/tamper:1`), false);
  });

  test('run and build FROM pull through the policy', async () => {
    await setPolicy(sigstore(join(dir, 'signer.pub')));
    await pushVariant('run/signed', '1', 'sh', join(dir, 'signer.key'));
    await pushVariant('run/unsigned', '1', 'sh');
    const run = await berth(['run', '--rm', `${R}/run/signed:1`, 'echo', 'trusted']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'trusted\n');
    const bad = await berth(['run', '--rm', `${R}/run/unsigned:1`, 'echo', 'no']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /rejected by the signature policy: rule sigstoreSigned/);
    assert.equal(await stored(`${R}/run/unsigned:1`), false);

    const ctxDir = join(dir, 'ctx');
    await mkdir(ctxDir, { recursive: true });
    assert.equal((await berth(['rmi', `${R}/run/signed:1`])).code, 0);
    await writeFile(join(ctxDir, 'Dockerfile'), `FROM ${R}/run/signed:1\nRUN echo built > /built\n`);
    const build = await berth(['build', '-q', '-t', 'trust-built', ctxDir]);
    assert.equal(build.code, 0, build.stderr);
    await writeFile(join(ctxDir, 'Dockerfile'), `FROM ${R}/run/unsigned:1\nRUN echo built > /built\n`);
    const badBuild = await berth(['build', '-t', 'trust-built-bad', ctxDir]);
    assert.equal(badBuild.code, 1);
    assert.match(badBuild.stderr + badBuild.stdout, /rejected by the signature policy/);
    assert.equal(await stored(`${R}/run/unsigned:1`), false);
  });

  test('DOCKER_CONTENT_TRUST=1 needs a signature rule; --disable-content-trust; revoked key', async () => {
    await pushVariant('dct/app', '1', 'sh', join(dir, 'signer.key'));
    await setPolicy({ default: [{ type: 'insecureAcceptAnything' }] });
    const dct = await berth(['pull', `${R}/dct/app:1`], { DOCKER_CONTENT_TRUST: '1' });
    assert.equal(dct.code, 1);
    assert.match(dct.stderr, /DOCKER_CONTENT_TRUST is set, but the policy requires no signature/);
    const off = await berth(['pull', '--disable-content-trust', `${R}/dct/app:1`], { DOCKER_CONTENT_TRUST: '1' });
    assert.equal(off.code, 0, off.stderr);
    assert.equal((await berth(['rmi', `${R}/dct/app:1`])).code, 0);
    const pushDct = await berth(['push', `${R}/dct/app:1`], { DOCKER_CONTENT_TRUST: '1' });
    assert.equal(pushDct.code, 1);
    assert.match(pushDct.stderr, /--sign-by/);

    await setPolicy(sigstore(join(dir, 'signer.pub')));
    const signed = await berth(['pull', `${R}/dct/app:1`], { DOCKER_CONTENT_TRUST: '1' });
    assert.equal(signed.code, 0, signed.stderr);
    assert.equal((await berth(['rmi', `${R}/dct/app:1`])).code, 0);

    const rev = await berth(['trust', 'revoke', '-y', '--comment', 'lost laptop', join(dir, 'signer.pub')]);
    assert.equal(rev.code, 0, rev.stderr);
    const list = await berth(['trust', 'revoke', '--list']);
    assert.match(list.stdout, /lost laptop/);
    const revoked = await berth(['pull', `${R}/dct/app:1`]);
    assert.equal(revoked.code, 1);
    assert.match(revoked.stderr, /the key [a-f0-9]{64} has been revoked/);
    assert.equal(await stored(`${R}/dct/app:1`), false);
    // The revocation list is per daemon data root: undo it for the next tests by re-keying.
    await rm(join(d.dataRoot, 'trust', 'revoked.json'));
  });

  test('load follows the docker-archive transport of the policy', async () => {
    const save = join(dir, 'bb.tar');
    const s = await berth(['save', '-o', save, 'busybox']);
    assert.equal(s.code, 0, s.stderr);
    await setPolicy({ default: [{ type: 'insecureAcceptAnything' }], transports: { 'docker-archive': { '': [{ type: 'reject' }] } } });
    const before = (await d.api('GET', '/images/json')).json().length;
    const l = await berth(['load', '-i', save]);
    assert.equal(l.code, 1);
    assert.match(l.stderr, /rejected by the signature policy: rule reject of scope docker-archive:""/);
    assert.equal((await d.api('GET', '/images/json')).json().length, before);
    await setPolicy({ default: [{ type: 'insecureAcceptAnything' }] });
    assert.equal((await berth(['load', '-i', save])).code, 0);
  });

  test('skopeo and berth verify each other\'s GPG simple signatures; berth\'s sigstore signature checks with openssl', async () => {
    const digest = await pushVariant('interop/app', '1', 'sh', join(dir, 'signer.key'));
    const regD = join(dir, 'skopeo-registries.d');
    const lookaside = join(dir, 'lookaside');
    await mkdir(regD, { recursive: true });
    await writeFile(join(regD, 'berth.yaml'), `docker:\n  ${R}:\n    lookaside: file://${lookaside}\n    lookaside-staging: file://${lookaside}\n`);
    gnupgHome = await mkdtemp(join(tmpdir(), `${TEST_PREFIX}gnupg-`));
    const gpg = (args: string[]) => runCommand('gpg', ['--homedir', gnupgHome!, '--batch', '--no-tty', ...args], {});
    assert.equal((await gpg(['--passphrase', '', '--quick-gen-key', 'berth test <trust@berth.test>', 'ed25519', 'sign', '1d'])).code, 0);
    assert.equal((await gpg(['--passphrase', '', '--quick-gen-key', 'someone else <else@berth.test>', 'ed25519', 'sign', '1d'])).code, 0);
    const fprs = (await gpg(['--with-colons', '--list-secret-keys'])).stdout.split('\n').filter((l) => l.startsWith('fpr:')).map((l) => l.split(':')[9]!);
    assert.equal(fprs.length, 2);
    const gpgPub = join(dir, 'gpg-signer.asc');
    const gpgElse = join(dir, 'gpg-else.asc');
    await writeFile(gpgPub, (await gpg(['--armor', '--export', fprs[0]!])).stdout);
    await writeFile(gpgElse, (await gpg(['--armor', '--export', fprs[1]!])).stdout);
    const skopeo = (args: string[]) => runCommand('skopeo', args, { GNUPGHOME: gnupgHome! }, { timeoutMs: 120_000 });
    const skopeoPolicy = async (name: string, keyPath: string): Promise<string> => {
      const p = join(dir, `skopeo-policy-${name}.json`);
      await writeFile(p, JSON.stringify({ default: [{ type: 'reject' }], transports: { docker: { [R]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath }] }, dir: { '': [{ type: 'insecureAcceptAnything' }] } } }));
      return p;
    };
    const acceptAll = join(dir, 'skopeo-accept.json');
    await writeFile(acceptAll, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));

    // berth signs with GPG into the lookaside store; skopeo's signedBy accepts it, and refuses another key.
    const sign = await berth(['trust', 'sign', '--gpg-key', fprs[0]!, '--lookaside', lookaside, `${R}/interop/app:1`], { GNUPGHOME: gnupgHome });
    assert.equal(sign.code, 0, sign.stderr);
    const okCopy = await skopeo(['copy', '--src-tls-verify=false', '--policy', await skopeoPolicy('signer', gpgPub), '--registries.d', regD, `docker://${R}/interop/app:1`, `dir:${join(dir, 'out1')}`]);
    assert.equal(okCopy.code, 0, okCopy.stderr);
    const badCopy = await skopeo(['copy', '--src-tls-verify=false', '--policy', await skopeoPolicy('else', gpgElse), '--registries.d', regD, `docker://${R}/interop/app:1`, `dir:${join(dir, 'out2')}`]);
    assert.notEqual(badCopy.code, 0);
    assert.match(badCopy.stderr, /Source image rejected/);

    // skopeo signs with GPG (copy --sign-by); berth's daemon verifies under signedBy.
    const signCopy = await skopeo(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--policy', acceptAll, '--registries.d', regD, '--sign-by', fprs[0]!, `docker://${R}/interop/app:1`, `docker://${R}/interop/gpg:1`]);
    assert.equal(signCopy.code, 0, signCopy.stderr);
    assert.ok((await readdir(join(lookaside, 'interop'))).includes(`gpg@sha256=${digest.slice(7)}`));
    await mkdir(join(d.dir, 'registries.d'), { recursive: true });
    await writeFile(join(d.dir, 'registries.d', 'lookaside.yaml'), `docker:\n  ${R}:\n    lookaside: file://${lookaside}\n`);
    await setPolicy({ default: [{ type: 'reject' }], transports: { docker: { [`${R}/interop/gpg`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: gpgPub }] } } });
    const gpgPull = await berth(['pull', `${R}/interop/gpg:1`]);
    assert.equal(gpgPull.code, 0, gpgPull.stderr);
    assert.match(gpgPull.stdout, new RegExp(`Digest: ${digest}`));
    assert.equal((await berth(['rmi', `${R}/interop/gpg:1`])).code, 0);
    await setPolicy({ default: [{ type: 'reject' }], transports: { docker: { [`${R}/interop/gpg`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: gpgElse }] } } });
    const gpgWrong = await berth(['pull', `${R}/interop/gpg:1`]);
    assert.equal(gpgWrong.code, 1);
    assert.match(gpgWrong.stderr, /rule signedBy \(keyPath [^)]*gpg-else\.asc\) .*not signed by a key the policy trusts/);
    assert.equal(await stored(`${R}/interop/gpg:1`), false);
    // The signature names interop/gpg:1: replayed under another repository it does not hold.
    const copy2 = await skopeo(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--policy', acceptAll, '--registries.d', join(dir, 'none.d'), `docker://${R}/interop/app:1`, `docker://${R}/interop/gpg2:1`]);
    assert.equal(copy2.code, 0, copy2.stderr);
    const sig2Dir = join(lookaside, 'interop', `gpg2@sha256=${digest.slice(7)}`);
    await mkdir(sig2Dir, { recursive: true });
    // skopeo copied berth's signature (for interop/app:1) along and added its own: replay them all.
    const gpgSigs = join(lookaside, 'interop', `gpg@sha256=${digest.slice(7)}`);
    assert.deepEqual((await readdir(gpgSigs)).sort(), ['signature-1', 'signature-2']);
    for (const f of await readdir(gpgSigs)) await writeFile(join(sig2Dir, f), await readFile(join(gpgSigs, f)));
    await setPolicy({ default: [{ type: 'reject' }], transports: { docker: { [`${R}/interop`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: gpgPub }] } } });
    const replay = await berth(['pull', `${R}/interop/gpg2:1`]);
    assert.equal(replay.code, 1);
    assert.match(replay.stderr, /signature for identity ".*interop\/gpg:1" is not accepted for .*interop\/gpg2:1/);

    // berth's sigstore signature, read back from the .sig tag, verifies with openssl and the .pub file.
    const sigManifest = JSON.parse((await httpGet(reg.port, `/v2/interop/app/manifests/sha256-${digest.slice(7)}.sig`, { accept: 'application/vnd.oci.image.manifest.v1+json' })).toString());
    const layer = sigManifest.layers[0];
    assert.equal(layer.mediaType, 'application/vnd.dev.cosign.simplesigning.v1+json');
    const payloadPath = join(dir, 'payload.json');
    const sigPath = join(dir, 'payload.sig');
    await writeFile(payloadPath, await httpGet(reg.port, `/v2/interop/app/blobs/${layer.digest}`));
    await writeFile(sigPath, Buffer.from(layer.annotations['dev.cosignproject.cosign/signature'], 'base64'));
    const payload = JSON.parse(await readFile(payloadPath, 'utf8'));
    assert.deepEqual(payload.critical, { identity: { 'docker-reference': `${R}/interop/app:1` }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' });
    const ossl = await runCommand('openssl', ['dgst', '-sha256', '-verify', join(dir, 'signer.pub'), '-signature', sigPath, payloadPath], {});
    assert.equal(ossl.code, 0, ossl.stderr);
    assert.match(ossl.stdout, /Verified OK/);
    const osslBad = await runCommand('openssl', ['dgst', '-sha256', '-verify', join(dir, 'other.pub'), '-signature', sigPath, payloadPath], {});
    assert.notEqual(osslBad.code, 0);
  });
});
