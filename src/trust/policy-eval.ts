/**
 * Evaluating a policy (policy.ts) for one image, by digest. The caller says which transport
 * and reference the image came by, the digest of the manifest it resolved (the top-level
 * one: the index for a multi-platform image), and gives lazy access to the signatures found
 * for that digest. A requirement list accepts when every requirement accepts; a signature
 * requirement accepts when at least one signature
 *
 * 1. verifies cryptographically with one of the requirement's keys (a revoked key counts as
 *    none: berth's revocation list, and GnuPG's own expiry and revocation),
 * 2. has a payload of the right type whose `docker-manifest-digest` is this digest (a moved
 *    tag or a replaced manifest fails here), and
 * 3. names an identity the requirement's `signedIdentity` accepts for this reference (a
 *    signature made for another repository fails here).
 *
 * A refusal is a PolicyRejectedError naming the image, the digest, the scope and the rule.
 */
import { readFile } from 'node:fs/promises';
import type { CommandRunner } from '../common/command-runner.js';
import { formatReference, type Reference } from '../oci/reference.js';
import { keyFingerprint, loadPublicKey } from './cosign-key.js';
import { PolicyRejectedError } from './errors.js';
import { GpgKeyring } from './gpg.js';
import { ATOMIC_SIGNATURE_TYPE, COSIGN_SIGNATURE_TYPE, parsePayload } from './payload.js';
import { describeRequirement, identityMatches, requirementsFor, type Policy, type Requirement, type SignedIdentity } from './policy.js';
import { verifyPayload, type SigstoreSignature } from './sigstore-signature.js';

/** Where the signatures of the image come from (called at most once each, only when needed). */
export interface SignatureSource {
  sigstore(): Promise<SigstoreSignature[]>;
  simple(): Promise<Buffer[]>;
}

export interface EvaluateOptions {
  /** `docker` for registry pulls, `docker-archive` for load. */
  transport: string;
  /** The reference the image was asked for (undefined for an unnamed archive image). */
  ref?: Reference;
  /** The manifest digest the reference resolved to. */
  manifestDigest: string;
  signatures: SignatureSource;
  runner: CommandRunner;
  /** Revoked key fingerprints (cosign keys: sha256 of the SPKI; GPG: the primary fingerprint). */
  revoked?: ReadonlySet<string>;
  /** DOCKER_CONTENT_TRUST: refuse unless the requirements include a signature requirement. */
  requireSignature?: boolean;
}

export interface Accepted {
  scope: string;
  /** The requirements that accepted, described (`sigstoreSigned (keyPath …)`). */
  rules: string[];
  /** Fingerprints of the keys whose signatures were accepted. */
  signers: string[];
}

function memo<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
}

/** Evaluates the policy; resolves with what accepted, or throws PolicyRejectedError. */
export async function evaluatePolicy(policy: Policy, o: EvaluateOptions): Promise<Accepted> {
  const { scope, requirements } = requirementsFor(policy, o.transport, o.ref);
  const image = o.ref ? formatReference(o.ref) : `(${o.transport} image)`;
  const reject = (rule: string, reason: string): never => {
    throw new PolicyRejectedError(`image ${image} (${o.manifestDigest}) rejected by the signature policy: rule ${rule} of scope ${scope}: ${reason}`);
  };
  if (o.requireSignature && !requirements.some((r) => r.type === 'signedBy' || r.type === 'sigstoreSigned')) {
    reject('content trust', 'DOCKER_CONTENT_TRUST is set, but the policy requires no signature for this image (add a signedBy or sigstoreSigned requirement)');
  }
  const src: SignatureSource = { sigstore: memo(() => o.signatures.sigstore()), simple: memo(() => o.signatures.simple()) };
  const accepted: Accepted = { scope, rules: [], signers: [] };
  for (const r of requirements) {
    const rule = describeRequirement(r);
    const result = await evaluateRequirement(r, o, src);
    if ('reason' in result) reject(rule, result.reason);
    else {
      accepted.rules.push(rule);
      if (result.signer) accepted.signers.push(result.signer);
    }
  }
  return accepted;
}

type Outcome = { signer?: string } | { reason: string };

async function evaluateRequirement(r: Requirement, o: EvaluateOptions, src: SignatureSource): Promise<Outcome> {
  switch (r.type) {
    case 'insecureAcceptAnything':
      return {};
    case 'reject':
      return { reason: 'the policy rejects every image here' };
    case 'sigstoreSigned': {
      const pem = r.keyPath ? await readFile(r.keyPath).catch((e: Error) => e) : Buffer.from(r.keyData!, 'base64');
      if (pem instanceof Error) return { reason: `reading the public key: ${pem.message}` };
      let key;
      try {
        key = loadPublicKey(pem);
      } catch (e) {
        return { reason: (e as Error).message };
      }
      const fpr = keyFingerprint(key);
      if (o.revoked?.has(fpr)) return { reason: `the key ${fpr} has been revoked` };
      const sigs = await src.sigstore();
      if (sigs.length === 0) return { reason: 'a signature was required, but no signature exists' };
      let why = 'no signature verifies with the key';
      for (const s of sigs) {
        if (!verifyPayload(s.payload, s.signature, key)) continue;
        const check = checkPayload(s.payload, COSIGN_SIGNATURE_TYPE, r.signedIdentity, o);
        if (check === undefined) return { signer: fpr };
        why = check;
      }
      return { reason: why };
    }
    case 'signedBy': {
      const sigs = await src.simple();
      if (sigs.length === 0) return { reason: 'a signature was required, but no signature exists' };
      let ring: GpgKeyring;
      try {
        ring = await GpgKeyring.open(o.runner, { ...(r.keyPath ? { paths: [r.keyPath] } : r.keyPaths ? { paths: r.keyPaths } : {}), ...(r.keyData ? { data: Buffer.from(r.keyData, 'base64') } : {}) });
      } catch (e) {
        return { reason: (e as Error).message };
      }
      try {
        let why = 'no signature verifies with the keys';
        for (const s of sigs) {
          const v = await ring.verify(s);
          if ('reason' in v) {
            why = v.reason;
            continue;
          }
          if (o.revoked?.has(v.ok.fingerprint)) {
            why = `the key ${v.ok.fingerprint} has been revoked`;
            continue;
          }
          const check = checkPayload(v.ok.payload, ATOMIC_SIGNATURE_TYPE, r.signedIdentity, o);
          if (check === undefined) return { signer: v.ok.fingerprint };
          why = check;
        }
        return { reason: why };
      } finally {
        await ring.close();
      }
    }
  }
}

/** Checks a verified payload against the image; undefined when it matches, else why not. */
function checkPayload(data: Buffer, type: string, identity: SignedIdentity, o: EvaluateOptions): string | undefined {
  let p;
  try {
    p = parsePayload(data);
  } catch (e) {
    return (e as Error).message;
  }
  if (p.type !== type) return `the signature has type ${JSON.stringify(p.type)}, not ${JSON.stringify(type)}`;
  if (p.manifestDigest !== o.manifestDigest) return `the signature is for manifest ${p.manifestDigest}, not ${o.manifestDigest}`;
  if (!o.ref) return 'the image has no name to check the signed identity against';
  if (!identityMatches(identity, o.ref, p.dockerReference)) {
    return `signature for identity ${JSON.stringify(p.dockerReference)} is not accepted for ${formatReference(o.ref)}`;
  }
  return undefined;
}
