/**
 * Signing an image that is in a registry (`berth trust sign`, `berth push --sign-by`): the
 * signing happens on the client, where the private key is; only the signature goes to the
 * registry. The payload names the reference as given (`host/repo:tag`, or `host/repo` when
 * signing by digest) and the manifest digest the registry serves for it.
 */
import type { KeyObject } from 'node:crypto';
import type { RegistryClient } from '../registry/client/client.js';
import { sha256Digest } from '../oci/digest.js';
import { repositoryName, type Reference } from '../oci/reference.js';
import type { CommandRunner } from '../common/command-runner.js';
import { ATOMIC_SIGNATURE_TYPE, COSIGN_SIGNATURE_TYPE, makePayload } from './payload.js';
import { gpgSign } from './gpg.js';
import { storeLookasideSignature } from './lookaside.js';
import { keyFingerprint } from './cosign-key.js';
import { signPayload } from './sigstore-signature.js';
import { pushSigstoreSignature } from './signature-store.js';

export interface SignResult {
  manifestDigest: string;
  signatureManifest: string;
  dockerReference: string;
  keyFingerprint: string;
}

/** The digest, media type and size of what `ref` names in its registry. */
export async function resolveSubject(client: RegistryClient, ref: Reference): Promise<{ digest: string; mediaType: string; size: number }> {
  const m = await client.getManifest(ref.path, ref.digest ?? ref.tag ?? 'latest');
  const digest = sha256Digest(m.data);
  if (ref.digest && digest !== ref.digest) throw new Error(`the registry sent manifest ${digest} for ${ref.digest}`);
  let mediaType = m.mediaType;
  if (!mediaType || mediaType === 'application/json') mediaType = (JSON.parse(m.data.toString('utf8')) as { mediaType?: string }).mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
  return { digest, mediaType, size: m.data.length };
}

/** Signs what `ref` names (or `subject`, when the caller knows it, e.g. right after a push). */
export async function signImage(client: RegistryClient, ref: Reference, key: KeyObject, options: { subject?: { digest: string; mediaType: string; size: number }; creator?: string } = {}): Promise<SignResult> {
  const subject = options.subject ?? (await resolveSubject(client, ref));
  const dockerReference = ref.tag !== undefined ? `${repositoryName(ref)}:${ref.tag}` : repositoryName(ref);
  const payload = makePayload({
    type: COSIGN_SIGNATURE_TYPE,
    dockerReference,
    manifestDigest: subject.digest as `sha256:${string}`,
    ...(options.creator ? { creator: options.creator } : {}),
    timestamp: Math.floor(Date.now() / 1000),
  });
  const signatureManifest = await pushSigstoreSignature(client, ref.path, subject, payload, signPayload(payload, key));
  return { manifestDigest: subject.digest, signatureManifest, dockerReference, keyFingerprint: keyFingerprint(key) };
}

/**
 * Signs what `ref` names with a GPG key (simple signing, "atomic container signature") and
 * stores the signature in the `file://` lookaside store `lookaside`: the format and place
 * `skopeo copy --sign-by` uses, so skopeo's and Podman's `signedBy` policies accept it.
 */
export async function signImageGpg(
  client: RegistryClient,
  ref: Reference,
  options: { runner: CommandRunner; fingerprint: string; lookaside: string; env?: NodeJS.ProcessEnv; passphrase?: string; creator?: string },
): Promise<{ manifestDigest: string; dockerReference: string; path: string }> {
  const subject = await resolveSubject(client, ref);
  const dockerReference = ref.tag !== undefined ? `${repositoryName(ref)}:${ref.tag}` : repositoryName(ref);
  const payload = makePayload({
    type: ATOMIC_SIGNATURE_TYPE,
    dockerReference,
    manifestDigest: subject.digest as `sha256:${string}`,
    ...(options.creator ? { creator: options.creator } : {}),
    timestamp: Math.floor(Date.now() / 1000),
  });
  const sig = await gpgSign(options.runner, payload, { fingerprint: options.fingerprint, ...(options.env ? { env: options.env } : {}), ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}) });
  const path = await storeLookasideSignature(options.lookaside, ref, subject.digest, sig);
  return { manifestDigest: subject.digest, dockerReference, path };
}
