/**
 * The "simple signing" payload (containers/image `docs/containers-signature.5.md`), signed by
 * both kinds of signature berth knows:
 *
 *     {"critical": {"identity": {"docker-reference": "host/repo:tag"},
 *                   "image": {"docker-manifest-digest": "sha256:…"},
 *                   "type": "cosign container image signature" | "atomic container signature"},
 *      "optional": {"creator": "…", "timestamp": 1700000000} | null}
 *
 * A signature says: the holder of the key vouches that the manifest with this digest is the
 * image named by this reference. The digest is what makes it bind content: a tag moved later
 * points at another digest and no longer matches. Parsing is strict (unknown critical fields,
 * or fields of the wrong type, reject the payload), as containers/image does.
 */
import { isDigest, type Digest } from '../oci/digest.js';
import { InvalidParameterError } from '../common/errors.js';

export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';
export const ATOMIC_SIGNATURE_TYPE = 'atomic container signature';

export interface SimpleSigningPayload {
  type: typeof COSIGN_SIGNATURE_TYPE | typeof ATOMIC_SIGNATURE_TYPE;
  /** `critical.identity.docker-reference`. */
  dockerReference: string;
  /** `critical.image.docker-manifest-digest`. */
  manifestDigest: Digest;
  creator?: string;
  /** Seconds since the epoch. */
  timestamp?: number;
}

/** The payload bytes (compact JSON, fixed key order). */
export function makePayload(p: SimpleSigningPayload): Buffer {
  const optional = p.creator !== undefined || p.timestamp !== undefined ? { ...(p.creator !== undefined ? { creator: p.creator } : {}), ...(p.timestamp !== undefined ? { timestamp: p.timestamp } : {}) } : null;
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': p.dockerReference }, image: { 'docker-manifest-digest': p.manifestDigest }, type: p.type },
      optional,
    }),
  );
}

function exactKeys(v: unknown, keys: string[], what: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InvalidParameterError(`invalid signature payload: ${what} is not an object`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new InvalidParameterError(`invalid signature payload: unexpected field ${JSON.stringify(k)} in ${what}`);
  for (const k of keys) if (!(k in o)) throw new InvalidParameterError(`invalid signature payload: ${what} has no ${JSON.stringify(k)}`);
  return o;
}

/** Parses (untrusted) payload bytes; only call its fields trusted after the signature verified. */
export function parsePayload(data: Buffer | string): SimpleSigningPayload {
  let v: unknown;
  try {
    v = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    throw new InvalidParameterError('invalid signature payload: not JSON');
  }
  const top = exactKeys(v, ['critical', 'optional'], 'the payload');
  const critical = exactKeys(top.critical, ['identity', 'image', 'type'], 'critical');
  const identity = exactKeys(critical.identity, ['docker-reference'], 'critical.identity');
  const image = exactKeys(critical.image, ['docker-manifest-digest'], 'critical.image');
  const type = critical.type;
  if (type !== COSIGN_SIGNATURE_TYPE && type !== ATOMIC_SIGNATURE_TYPE) throw new InvalidParameterError(`invalid signature payload: unknown type ${JSON.stringify(type)}`);
  const ref = identity['docker-reference'];
  const digest = image['docker-manifest-digest'];
  if (typeof ref !== 'string' || !ref) throw new InvalidParameterError('invalid signature payload: docker-reference is not a string');
  if (typeof digest !== 'string' || !isDigest(digest)) throw new InvalidParameterError('invalid signature payload: docker-manifest-digest is not a sha256 digest');
  const out: SimpleSigningPayload = { type, dockerReference: ref, manifestDigest: digest };
  const opt = top.optional;
  if (opt !== null && opt !== undefined) {
    if (typeof opt !== 'object' || Array.isArray(opt)) throw new InvalidParameterError('invalid signature payload: optional is not an object');
    const o = opt as Record<string, unknown>;
    if (o.creator !== undefined) {
      if (typeof o.creator !== 'string') throw new InvalidParameterError('invalid signature payload: optional.creator is not a string');
      out.creator = o.creator;
    }
    if (o.timestamp !== undefined) {
      if (typeof o.timestamp !== 'number' || !Number.isInteger(o.timestamp)) throw new InvalidParameterError('invalid signature payload: optional.timestamp is not an integer');
      out.timestamp = o.timestamp;
    }
  }
  return out;
}
