/**
 * NaCl secretbox (XSalsa20-Poly1305), the cipher of cosign's encrypted private keys. Node's
 * crypto has no XSalsa20, so this is the one wrapper around `tweetnacl` (STYLE.md: a
 * third-party package is imported in one file).
 */
import nacl from 'tweetnacl';

export const SECRETBOX_KEY_BYTES = nacl.secretbox.keyLength;
export const SECRETBOX_NONCE_BYTES = nacl.secretbox.nonceLength;

/** Encrypts and authenticates `plaintext` under a 32-byte key and a 24-byte nonce. */
export function secretboxSeal(plaintext: Uint8Array, nonce: Uint8Array, key: Uint8Array): Buffer {
  return Buffer.from(nacl.secretbox(plaintext, nonce, key));
}

/** Opens a sealed box; undefined when the key is wrong or the data was altered. */
export function secretboxOpen(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Buffer | undefined {
  const out = nacl.secretbox.open(box, nonce, key);
  return out ? Buffer.from(out) : undefined;
}
