/**
 * cosign-style ("sigstore") signatures and the artifact that carries them in a registry, in
 * the layout cosign and containers/image (`sigstoreSigned`, `use-sigstore-attachments`) use:
 *
 * - the signature is ECDSA P-256 over SHA-256 of the payload bytes (payload.ts), ASN.1 DER,
 *   base64 — made and checked with node:crypto;
 * - the artifact is an OCI image manifest whose layers are the payloads
 *   (`application/vnd.dev.cosign.simplesigning.v1+json`), each annotated with its signature
 *   (`dev.cosignproject.cosign/signature`); more signatures of one image are more layers;
 * - it is stored under the tag `sha256-<hex>.sig` of the signed manifest's repository (cosign's
 *   tag schema, what skopeo 1.9 reads) and, as berth writes it, carries `subject` and
 *   `artifactType` so OCI 1.1 registries list it in the referrers API.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { sha256Digest, digestHex, type Digest } from '../oci/digest.js';

export const SIMPLESIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const SIGNATURE_ARTIFACT_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';

/** The tag cosign stores an image's signatures under. */
export function signatureTag(digest: string): string {
  return `sha256-${digestHex(digest)}.sig`;
}

/** Signs payload bytes: base64 of the DER ECDSA signature over SHA-256. */
export function signPayload(payload: Buffer, key: KeyObject): string {
  return sign('sha256', payload, { key, dsaEncoding: 'der' }).toString('base64');
}

/** Checks a base64 signature over `payload` with a public key. */
export function verifyPayload(payload: Buffer, signatureB64: string, key: KeyObject): boolean {
  const sig = Buffer.from(signatureB64, 'base64');
  if (sig.length === 0 || sig.length > 256) return false;
  try {
    return verify('sha256', payload, { key, dsaEncoding: 'der' }, sig);
  } catch {
    return false;
  }
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** One signature as found in a registry (untrusted until verified). */
export interface SigstoreSignature {
  payload: Buffer;
  signature: string;
}

export interface SignatureManifest {
  schemaVersion: 2;
  mediaType: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** A signature layer's descriptor. */
export function signatureLayer(payload: Buffer, signatureB64: string): Descriptor {
  return { mediaType: SIMPLESIGNING_MEDIA_TYPE, digest: sha256Digest(payload), size: payload.length, annotations: { [SIGNATURE_ANNOTATION]: signatureB64 } };
}

/** The config blob cosign writes for a signature image (its rootfs lists the payloads). */
export function signatureConfig(layers: Descriptor[]): Buffer {
  return Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } }));
}

/**
 * The signature manifest for `subject` with `layers` (existing ones first, the new one
 * appended when not already there). Returns it with its config blob.
 */
export function buildSignatureManifest(subject: Descriptor, layers: Descriptor[]): { manifest: Buffer; config: Buffer } {
  const seen = new Set<string>();
  const unique = layers.filter((l) => {
    const k = `${l.digest} ${l.annotations?.[SIGNATURE_ANNOTATION] ?? ''}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  const config = signatureConfig(unique);
  const m: SignatureManifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: SIGNATURE_ARTIFACT_TYPE,
    config: { mediaType: OCI_CONFIG, digest: sha256Digest(config), size: config.length },
    layers: unique,
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
  };
  return { manifest: Buffer.from(JSON.stringify(m)), config };
}

/** The signature layers of a manifest (other layers are ignored). */
export function signatureLayers(manifest: unknown): { digest: Digest; size: number; signature: string }[] {
  const layers = (manifest as { layers?: unknown })?.layers;
  if (!Array.isArray(layers)) return [];
  const out: { digest: Digest; size: number; signature: string }[] = [];
  for (const l of layers as Descriptor[]) {
    const sig = l?.annotations?.[SIGNATURE_ANNOTATION];
    if (l?.mediaType !== SIMPLESIGNING_MEDIA_TYPE || typeof sig !== 'string' || typeof l.digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(l.digest)) continue;
    if (!Number.isSafeInteger(l.size) || l.size < 0) continue;
    out.push({ digest: l.digest as Digest, size: l.size, signature: sig });
  }
  return out;
}
