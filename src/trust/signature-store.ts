/**
 * Reading and writing signatures of an image in its registry, through the registry client:
 * sigstore signatures from the referrers API (OCI 1.1) and from cosign's `sha256-<hex>.sig`
 * tag (the fallback every registry supports, and where cosign and skopeo look); GPG simple
 * signatures from a lookaside store (lookaside.ts) when one is configured.
 *
 * Everything read is bounded (signatures per image, payload size) and untrusted: verification
 * (policy-eval.ts) decides what it is worth.
 */
import { RegistryNotFoundError, readLimited, type RegistryClient } from '../registry/client/client.js';
import { sha256Digest } from '../oci/digest.js';
import { SIGNATURE_ANNOTATION, SIGNATURE_ARTIFACT_TYPE, SIMPLESIGNING_MEDIA_TYPE, buildSignatureManifest, signatureLayer, signatureLayers, signatureTag, type Descriptor, type SigstoreSignature } from './sigstore-signature.js';

/** Most signatures read for one image. */
export const MAX_SIGNATURES = 64;
/** Largest payload read. */
export const MAX_PAYLOAD_BYTES = 64 << 10;

/** The signature manifests of `digest` in `repo`: referrers first, then the `.sig` tag. */
async function signatureManifests(client: RegistryClient, repo: string, digest: string, signal?: AbortSignal): Promise<unknown[]> {
  const digests = new Set<string>();
  const out: unknown[] = [];
  const referrers = await client.getReferrers(repo, digest, { artifactType: SIGNATURE_ARTIFACT_TYPE, ...(signal ? { signal } : {}) });
  for (const d of referrers?.manifests ?? []) {
    if (out.length >= MAX_SIGNATURES) break;
    if (d.artifactType !== SIGNATURE_ARTIFACT_TYPE || typeof d.digest !== 'string' || digests.has(d.digest)) continue;
    const m = await client.getManifest(repo, d.digest, { ...(signal ? { signal } : {}) }).catch((e) => {
      if (e instanceof RegistryNotFoundError) return undefined;
      throw e;
    });
    if (!m || sha256Digest(m.data) !== d.digest) continue;
    digests.add(d.digest);
    out.push(JSON.parse(m.data.toString('utf8')));
  }
  try {
    const m = await client.getManifest(repo, signatureTag(digest), { ...(signal ? { signal } : {}) });
    const d = sha256Digest(m.data);
    if (!digests.has(d)) out.push(JSON.parse(m.data.toString('utf8')));
  } catch (e) {
    if (!(e instanceof RegistryNotFoundError)) throw e;
  }
  return out;
}

/** Every sigstore signature stored for `digest` in `repo` (unverified). */
export async function fetchSigstoreSignatures(client: RegistryClient, repo: string, digest: string, options: { signal?: AbortSignal } = {}): Promise<SigstoreSignature[]> {
  const out: SigstoreSignature[] = [];
  const seen = new Set<string>();
  for (const m of await signatureManifests(client, repo, digest, options.signal)) {
    for (const l of signatureLayers(m)) {
      if (out.length >= MAX_SIGNATURES) return out;
      const key = `${l.digest} ${l.signature}`;
      if (seen.has(key) || l.size > MAX_PAYLOAD_BYTES) continue;
      seen.add(key);
      const res = await client.getBlob(repo, l.digest, { ...(options.signal ? { signal: options.signal } : {}) });
      const payload = await readLimited(res, MAX_PAYLOAD_BYTES, 'signature payload');
      if (sha256Digest(payload) !== l.digest) continue;
      out.push({ payload, signature: l.signature });
    }
  }
  return out;
}

async function uploadBlob(client: RegistryClient, repo: string, data: Buffer): Promise<string> {
  const digest = sha256Digest(data);
  if ((await client.blobSize(repo, digest)) !== undefined) return digest;
  const up = await client.startUpload(repo);
  if (!up.mounted) await client.finishUpload(repo, up.location, digest, data.length, data);
  return digest;
}

/**
 * Adds a signature to the image `subject` in `repo`: the payload blob, then the signature
 * manifest (the existing signatures under the `.sig` tag plus this one) with `subject` set,
 * put under the `.sig` tag. Returns the signature manifest's digest.
 */
export async function pushSigstoreSignature(client: RegistryClient, repo: string, subject: Descriptor, payload: Buffer, signatureB64: string): Promise<string> {
  let existing: Descriptor[] = [];
  try {
    const m = await client.getManifest(repo, signatureTag(subject.digest));
    existing = signatureLayers(JSON.parse(m.data.toString('utf8'))).map((l) => ({ mediaType: SIMPLESIGNING_MEDIA_TYPE, digest: l.digest, size: l.size, annotations: { [SIGNATURE_ANNOTATION]: l.signature } }));
  } catch (e) {
    if (!(e instanceof RegistryNotFoundError)) throw e;
  }
  await uploadBlob(client, repo, payload);
  const { manifest, config } = buildSignatureManifest(subject, [...existing, signatureLayer(payload, signatureB64)]);
  await uploadBlob(client, repo, config);
  await client.putManifest(repo, signatureTag(subject.digest), 'application/vnd.oci.image.manifest.v1+json', manifest);
  return sha256Digest(manifest);
}
