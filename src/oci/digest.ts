import { createHash } from 'node:crypto';
import { InvalidParameterError } from '../common/errors.js';

/** A content digest, `algorithm:hex` (image-spec `descriptor.md#digests`). berth uses sha256. */
export type Digest = `sha256:${string}`;

const SHA256 = /^sha256:[a-f0-9]{64}$/;

/** True when `s` is a well-formed sha256 digest. */
export function isDigest(s: string): s is Digest {
  return SHA256.test(s);
}

/** Checks a digest, throwing `invalid digest format` (InvalidParameter) when malformed. */
export function parseDigest(s: string): Digest {
  if (!isDigest(s)) {
    if (/^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[a-fA-F0-9]{32,}$/.test(s) && !s.startsWith('sha256:')) {
      throw new InvalidParameterError(`unsupported digest algorithm: ${JSON.stringify(s)}`);
    }
    throw new InvalidParameterError(`invalid digest format: ${JSON.stringify(s)}`);
  }
  return s;
}

/** The hex part of a digest. */
export function digestHex(d: string): string {
  const i = d.indexOf(':');
  return i < 0 ? d : d.slice(i + 1);
}

/** The sha256 digest of some bytes. */
export function sha256Digest(data: string | Buffer | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * Chain IDs of a layer stack, image-spec `config.md#layer-chainid`:
 * ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
 */
export function chainIds(diffIds: readonly string[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) {
    const diff = parseDigest(d);
    const prev = out[out.length - 1];
    out.push(prev === undefined ? diff : sha256Digest(`${prev} ${diff}`));
  }
  return out;
}
