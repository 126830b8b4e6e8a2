import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpawnRunner } from '../common/command-runner.js';
import { sha256Digest } from '../oci/digest.js';
import { parseReference } from '../oci/reference.js';
import { RegistryClient } from '../registry/client/client.js';
import { createRegistryHandler } from '../registry/server/server.js';
import { RegistryStorage } from '../registry/server/storage.js';
import { COSIGN_PRIVATE_PEM, generateKeyPair, keyFingerprint, loadPrivateKey, loadPublicKey, parsePem } from './cosign-key.js';
import { InvalidPolicyError, KeyError, PolicyRejectedError } from './errors.js';
import { COSIGN_SIGNATURE_TYPE, makePayload, parsePayload } from './payload.js';
import { evaluatePolicy } from './policy-eval.js';
import { dockerScopes, identityMatches, parsePolicy, requirementsFor, type Policy } from './policy.js';
import { signImage } from './sign-image.js';
import { fetchSigstoreSignatures } from './signature-store.js';
import { signatureTag } from './sigstore-signature.js';

const PASS = 'correct horse';

describe('cosign keys (#22)', () => {
  test('generate, then load with the passphrase; the public key matches', () => {
    const pair = generateKeyPair(PASS);
    assert.equal(parsePem(pair.privatePem)?.type, COSIGN_PRIVATE_PEM);
    const body = JSON.parse(parsePem(pair.privatePem)!.der.toString('utf8'));
    assert.deepEqual(body.kdf.params, { N: 32768, r: 8, p: 1 });
    assert.equal(body.kdf.name, 'scrypt');
    assert.equal(body.cipher.name, 'nacl/secretbox');
    const priv = loadPrivateKey(pair.privatePem, PASS);
    assert.equal(keyFingerprint(priv), keyFingerprint(loadPublicKey(pair.publicPem)));
    assert.match(pair.publicPem, /^-----BEGIN PUBLIC KEY-----\n/);
  });

  test('a wrong passphrase or an altered file is refused', () => {
    const pair = generateKeyPair(PASS);
    assert.throws(() => loadPrivateKey(pair.privatePem, 'wrong'), KeyError);
    const block = parsePem(pair.privatePem)!;
    const j = JSON.parse(block.der.toString('utf8'));
    const ct = Buffer.from(j.ciphertext, 'base64');
    ct[10] = ct[10]! ^ 1;
    j.ciphertext = ct.toString('base64');
    const altered = `-----BEGIN ${COSIGN_PRIVATE_PEM}-----\n${Buffer.from(JSON.stringify(j)).toString('base64')}\n-----END ${COSIGN_PRIVATE_PEM}-----\n`;
    assert.throws(() => loadPrivateKey(altered, PASS), KeyError);
    j.kdf.params.N = 1 << 30;
    const hostile = `-----BEGIN ${COSIGN_PRIVATE_PEM}-----\n${Buffer.from(JSON.stringify(j)).toString('base64')}\n-----END ${COSIGN_PRIVATE_PEM}-----\n`;
    assert.throws(() => loadPrivateKey(hostile, PASS), /scrypt parameters out of range/);
    assert.throws(() => loadPublicKey('not a key'), KeyError);
  });
});

describe('simple signing payload (#22)', () => {
  test('round trip; unknown critical fields and wrong types are refused', () => {
    const digest = sha256Digest('x');
    const p = makePayload({ type: COSIGN_SIGNATURE_TYPE, dockerReference: 'r.example/a:1', manifestDigest: digest, creator: 'berth', timestamp: 5 });
    assert.deepEqual(parsePayload(p), { type: COSIGN_SIGNATURE_TYPE, dockerReference: 'r.example/a:1', manifestDigest: digest, creator: 'berth', timestamp: 5 });
    const v = JSON.parse(p.toString());
    v.critical.extra = 1;
    assert.throws(() => parsePayload(JSON.stringify(v)), /unexpected field "extra"/);
    delete v.critical.extra;
    v.critical.image['docker-manifest-digest'] = 'md5:00';
    assert.throws(() => parsePayload(JSON.stringify(v)), /not a sha256 digest/);
  });
});

describe('containers-policy.json (#22)', () => {
  test('scopes, most specific first; transport default; global default', () => {
    const p = parsePolicy(
      JSON.stringify({
        default: [{ type: 'reject' }],
        transports: {
          docker: {
            'r.example:5000/team/app': [{ type: 'insecureAcceptAnything' }],
            'r.example:5000/team': [{ type: 'sigstoreSigned', keyData: 'eA==' }],
            '*.example': [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/k.gpg' }],
          },
          'docker-archive': { '': [{ type: 'insecureAcceptAnything' }] },
        },
      }),
    );
    assert.deepEqual(dockerScopes(parseReference('r.example:5000/team/app:1')), ['r.example:5000/team/app:1', 'r.example:5000/team/app', 'r.example:5000/team', 'r.example:5000', '*.example']);
    assert.equal(requirementsFor(p, 'docker', parseReference('r.example:5000/team/app:1')).requirements[0]!.type, 'insecureAcceptAnything');
    assert.equal(requirementsFor(p, 'docker', parseReference('r.example:5000/team/other')).requirements[0]!.type, 'sigstoreSigned');
    assert.equal(requirementsFor(p, 'docker', parseReference('a.r.example/x')).requirements[0]!.type, 'signedBy');
    assert.equal(requirementsFor(p, 'docker', parseReference('busybox')).scope, 'default');
    assert.equal(requirementsFor(p, 'docker-archive', undefined).requirements[0]!.type, 'insecureAcceptAnything');
  });

  test('invalid policies are refused with the reason', () => {
    const bad: [unknown, RegExp][] = [
      [{}, /"default" is required/],
      [{ default: [] }, /default is empty/],
      [{ default: [{ type: 'nope' }] }, /unknown requirement type "nope"/],
      [{ default: [{ type: 'reject', extra: 1 }] }, /unknown field "extra"/],
      [{ default: [{ type: 'signedBy', keyPath: '/k' }] }, /keyType must be "GPGKeys"/],
      [{ default: [{ type: 'signedBy', keyType: 'GPGKeys' }] }, /exactly one of keyPath, keyPaths, keyData/],
      [{ default: [{ type: 'sigstoreSigned', keyPath: '/k', fulcio: {} }] }, /fulcio is not supported/],
      [{ default: [{ type: 'sigstoreSigned', keyPath: '/k', signedIdentity: { type: 'matchSomething' } }] }, /unknown signedIdentity type/],
      [{ default: [{ type: 'reject' }], transports: { ftp: {} } }, /unknown transport "ftp"/],
      [{ default: [{ type: 'reject' }], transports: { docker: { 'UPPER/case': [{ type: 'reject' }] } } }, /invalid scope/],
    ];
    for (const [v, re] of bad) assert.throws(() => parsePolicy(JSON.stringify(v)), (e: Error) => e instanceof InvalidPolicyError && re.test(e.message), JSON.stringify(v));
    assert.throws(() => parsePolicy('{'), InvalidPolicyError);
  });

  test('signedIdentity rules', () => {
    const tag = parseReference('r.example/a/b:1');
    const byDigest = parseReference(`r.example/a/b@${sha256Digest('m')}`);
    const cases: [Parameters<typeof identityMatches>[0], typeof tag, string, boolean][] = [
      [{ type: 'matchRepoDigestOrExact' }, tag, 'r.example/a/b:1', true],
      [{ type: 'matchRepoDigestOrExact' }, tag, 'r.example/a/b:2', false],
      [{ type: 'matchRepoDigestOrExact' }, tag, 'r.example/a/b', false],
      [{ type: 'matchRepoDigestOrExact' }, byDigest, 'r.example/a/b:anything', true],
      [{ type: 'matchRepoDigestOrExact' }, byDigest, 'r.example/a/c', false],
      [{ type: 'matchExact' }, byDigest, 'r.example/a/b', false],
      [{ type: 'matchRepository' }, tag, 'r.example/a/b', true],
      [{ type: 'matchRepository' }, tag, 'r.example/a/bb:1', false],
      [{ type: 'exactReference', dockerReference: 'r.example/other:9' }, tag, 'r.example/other:9', true],
      [{ type: 'exactRepository', dockerRepository: 'r.example/other' }, tag, 'r.example/other:3', true],
      [{ type: 'remapIdentity', prefix: 'r.example/a', signedPrefix: 'upstream.example/z' }, tag, 'upstream.example/z/b:1', true],
      [{ type: 'remapIdentity', prefix: 'r.example/a', signedPrefix: 'upstream.example/z' }, tag, 'r.example/a/b:1', false],
    ];
    for (const [rule, img, signed, want] of cases) assert.equal(identityMatches(rule, img, signed), want, `${rule.type} ${signed}`);
  });
});

describe('signing and policy evaluation against a registry (#22)', () => {
  let dir: string;
  let server: Server;
  let client: RegistryClient;
  let host: string;
  const runner = new SpawnRunner();
  const pair = generateKeyPair(PASS);
  const other = generateKeyPair(PASS);
  const key = loadPrivateKey(pair.privatePem, PASS);
  const keyData = Buffer.from(pair.publicPem).toString('base64');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-trust-'));
    const storage = new RegistryStorage(dir);
    await storage.init();
    const h = createRegistryHandler(storage);
    server = createServer((req, res) => void h(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    host = `127.0.0.1:${(server.address() as { port: number }).port}`;
    client = new RegistryClient(host);
  });
  after(async () => {
    client.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  async function pushImage(repo: string, tag: string, salt: string): Promise<string> {
    const cfg = Buffer.from(JSON.stringify({ salt, rootfs: { type: 'layers', diff_ids: [] } }));
    const up = await client.startUpload(repo);
    if (!up.mounted) await client.finishUpload(repo, up.location, sha256Digest(cfg), cfg.length, cfg);
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256Digest(cfg), size: cfg.length }, layers: [] }));
    await client.putManifest(repo, tag, 'application/vnd.oci.image.manifest.v1+json', m);
    return sha256Digest(m);
  }

  const policyFor = (keyDataB64: string): Policy => parsePolicy(JSON.stringify({ default: [{ type: 'sigstoreSigned', keyData: keyDataB64 }] }));
  const evaluate = (policy: Policy, ref: string, digest: string, extra: { revoked?: Set<string>; requireSignature?: boolean } = {}) => {
    const r = parseReference(ref);
    return evaluatePolicy(policy, { transport: 'docker', ref: r, manifestDigest: digest, runner, ...extra, signatures: { sigstore: () => fetchSigstoreSignatures(client, r.path, digest), simple: async () => [] } });
  };

  test('sign by tag: the signature is in the referrers API and under the .sig tag, and satisfies sigstoreSigned', async () => {
    const digest = await pushImage('app', 'v1', 'one');
    const res = await signImage(client, parseReference(`${host}/app:v1`), key);
    assert.equal(res.manifestDigest, digest);
    assert.equal(res.dockerReference, `${host}/app:v1`);
    const refs = await client.getReferrers('app', digest);
    assert.equal(refs?.manifests.length, 1);
    assert.equal(refs?.manifests[0]!.digest, res.signatureManifest);
    await client.getManifest('app', signatureTag(digest));
    // A second signature (another key) is appended, not replacing the first.
    await signImage(client, parseReference(`${host}/app:v1`), loadPrivateKey(other.privatePem, PASS));
    assert.equal((await fetchSigstoreSignatures(client, 'app', digest)).length, 2);

    const ok = await evaluate(policyFor(keyData), `${host}/app:v1`, digest);
    assert.deepEqual(ok.signers, [keyFingerprint(key)]);
    await evaluate(policyFor(keyData), `${host}/app@${digest}`, digest);
  });

  test('refusals: wrong key, moved tag, other repository, revoked key, no signature, reject, content trust without a signature rule', async () => {
    const digest = await pushImage('app2', 'v1', 'two');
    await signImage(client, parseReference(`${host}/app2:v1`), key);
    const rejected = (re: RegExp) => (e: Error) => e instanceof PolicyRejectedError && re.test(e.message) && e.message.includes(digest) === true;

    // Another key.
    const third = generateKeyPair('x');
    await assert.rejects(evaluate(policyFor(Buffer.from(third.publicPem).toString('base64')), `${host}/app2:v1`, digest), rejected(/rule sigstoreSigned \(keyData\) of scope default: no signature verifies/));
    // The tag moved to an unsigned manifest: its digest has no signature.
    const moved = await pushImage('app2', 'v1', 'moved');
    await assert.rejects(evaluate(policyFor(keyData), `${host}/app2:v1`, moved), (e: Error) => e instanceof PolicyRejectedError && /no signature exists/.test(e.message) && e.message.includes(`${host}/app2:v1`));
    // The signature copied to another repository, over the same manifest: the identity does not match.
    await pushImage('copy', 'v1', 'two');
    const sigManifest = await client.getManifest('app2', signatureTag(digest));
    const parsed = JSON.parse(sigManifest.data.toString());
    for (const d of [parsed.config, ...parsed.layers]) {
      const b = await client.getBlob('app2', d.digest);
      const chunks: Buffer[] = [];
      for await (const c of b) chunks.push(c as Buffer);
      const data = Buffer.concat(chunks);
      const up = await client.startUpload('copy');
      if (!up.mounted) await client.finishUpload('copy', up.location, d.digest, data.length, data);
    }
    await client.putManifest('copy', signatureTag(digest), 'application/vnd.oci.image.manifest.v1+json', sigManifest.data);
    await assert.rejects(evaluate(policyFor(keyData), `${host}/copy:v1`, digest), rejected(/signature for identity "127\.0\.0\.1:\d+\/app2:v1" is not accepted/));
    // Revoked.
    await assert.rejects(evaluate(policyFor(keyData), `${host}/app2:v1`, digest, { revoked: new Set([keyFingerprint(key)]) }), rejected(/has been revoked/));
    // reject, and content trust with a policy that asks for no signature.
    await assert.rejects(evaluate(parsePolicy('{"default":[{"type":"reject"}]}'), `${host}/app2:v1`, digest), rejected(/rule reject/));
    await assert.rejects(evaluate(parsePolicy('{"default":[{"type":"insecureAcceptAnything"}]}'), `${host}/app2:v1`, digest, { requireSignature: true }), rejected(/DOCKER_CONTENT_TRUST/));
    await evaluate(parsePolicy('{"default":[{"type":"insecureAcceptAnything"}]}'), `${host}/app2:v1`, digest);
  });
});
