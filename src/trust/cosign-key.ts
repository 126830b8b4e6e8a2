/**
 * ECDSA P-256 key pairs in cosign's file formats:
 *
 * - public key: PEM `PUBLIC KEY` (PKIX SubjectPublicKeyInfo), as `cosign generate-key-pair`
 *   writes `cosign.pub`;
 * - private key: PEM `ENCRYPTED COSIGN PRIVATE KEY` (cosign 1.x, which skopeo 1.9 reads) or
 *   `ENCRYPTED SIGSTORE PRIVATE KEY` (cosign 2.x; both are read). The PEM body is the JSON of
 *   go-securesystemslib's `encrypted` package: scrypt (N=32768, r=8, p=1, 32-byte salt) derives
 *   a 32-byte key that seals the PKCS#8 DER of the private key in a NaCl secretbox (24-byte
 *   nonce); the byte fields are base64.
 *
 * scrypt and ECDSA are node:crypto; the secretbox comes from tweetnacl (secretbox.ts).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, scryptSync, type KeyObject } from 'node:crypto';
import { KeyError } from './errors.js';
import { SECRETBOX_KEY_BYTES, SECRETBOX_NONCE_BYTES, secretboxOpen, secretboxSeal } from './secretbox.js';

export const COSIGN_PRIVATE_PEM = 'ENCRYPTED COSIGN PRIVATE KEY';
export const SIGSTORE_PRIVATE_PEM = 'ENCRYPTED SIGSTORE PRIVATE KEY';

/** go-securesystemslib's default scrypt cost (what cosign uses). */
const SCRYPT = { N: 32768, r: 8, p: 1 };
/** Upper bounds on a key file's scrypt cost, so a hostile file cannot exhaust memory. */
const MAX_SCRYPT_N = 1 << 20;
const MAX_SCRYPT_R = 32;
const MAX_SCRYPT_P = 16;

interface EncryptedKeyJson {
  kdf: { name: 'scrypt'; params: { N: number; r: number; p: number }; salt: string };
  cipher: { name: 'nacl/secretbox'; nonce: string };
  ciphertext: string;
}

export interface KeyPairFiles {
  /** `NAME.key`: PEM, encrypted. */
  privatePem: string;
  /** `NAME.pub`: PEM `PUBLIC KEY`. */
  publicPem: string;
}

function pem(type: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${type}-----\n${b64}\n-----END ${type}-----\n`;
}

/** The first PEM block of `text`: its type and body. */
export function parsePem(text: string): { type: string; der: Buffer } | undefined {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) return undefined;
  return { type: m[1]!, der: Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64') };
}

function deriveKey(passphrase: string, salt: Buffer, params: { N: number; r: number; p: number }): Buffer {
  return scryptSync(Buffer.from(passphrase, 'utf8'), salt, SECRETBOX_KEY_BYTES, { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + (1 << 20) });
}

/** Encrypts PKCS#8 DER bytes as cosign does. */
export function encryptPrivateKey(pkcs8: Buffer, passphrase: string, pemType = COSIGN_PRIVATE_PEM): string {
  const salt = randomBytes(32);
  const nonce = randomBytes(SECRETBOX_NONCE_BYTES);
  const key = deriveKey(passphrase, salt, SCRYPT);
  const body: EncryptedKeyJson = {
    kdf: { name: 'scrypt', params: { ...SCRYPT }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: secretboxSeal(pkcs8, nonce, key).toString('base64'),
  };
  return pem(pemType, Buffer.from(JSON.stringify(body)));
}

/** Generates an ECDSA P-256 key pair; the private key encrypted under `passphrase`. */
export function generateKeyPair(passphrase: string): KeyPairFiles {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    privatePem: encryptPrivateKey(pkcs8, passphrase),
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** Decrypts a cosign private key file; a wrong passphrase or an altered file is a KeyError. */
export function loadPrivateKey(text: string, passphrase: string): KeyObject {
  const block = parsePem(text);
  if (!block) throw new KeyError('invalid private key: no PEM block found');
  if (block.type !== COSIGN_PRIVATE_PEM && block.type !== SIGSTORE_PRIVATE_PEM) {
    throw new KeyError(`invalid private key: PEM type ${JSON.stringify(block.type)} is not ${JSON.stringify(COSIGN_PRIVATE_PEM)} or ${JSON.stringify(SIGSTORE_PRIVATE_PEM)}`);
  }
  let j: EncryptedKeyJson;
  try {
    j = JSON.parse(block.der.toString('utf8')) as EncryptedKeyJson;
  } catch {
    throw new KeyError('invalid private key: the PEM body is not JSON');
  }
  const p = j?.kdf?.params;
  if (j?.kdf?.name !== 'scrypt' || j.cipher?.name !== 'nacl/secretbox' || !p) throw new KeyError('invalid private key: unsupported encryption (want scrypt + nacl/secretbox)');
  if (![p.N, p.r, p.p].every((v) => Number.isInteger(v) && v > 0) || p.N > MAX_SCRYPT_N || (p.N & (p.N - 1)) !== 0 || p.r > MAX_SCRYPT_R || p.p > MAX_SCRYPT_P) {
    throw new KeyError('invalid private key: scrypt parameters out of range');
  }
  const salt = Buffer.from(String(j.kdf.salt ?? ''), 'base64');
  const nonce = Buffer.from(String(j.cipher.nonce ?? ''), 'base64');
  if (nonce.length !== SECRETBOX_NONCE_BYTES) throw new KeyError('invalid private key: bad nonce');
  const plain = secretboxOpen(Buffer.from(String(j.ciphertext ?? ''), 'base64'), nonce, deriveKey(passphrase, salt, p));
  if (!plain) throw new KeyError('decrypting the private key: wrong passphrase (or the key file is corrupted)');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: plain, format: 'der', type: 'pkcs8' });
  } catch (e) {
    throw new KeyError(`invalid private key: ${(e as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new KeyError('invalid private key: only ECDSA P-256 keys are supported');
  return key;
}

/** Reads a PEM `PUBLIC KEY` (ECDSA P-256). */
export function loadPublicKey(text: string | Buffer): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: 'pem' });
  } catch (e) {
    throw new KeyError(`invalid public key: ${(e as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new KeyError('invalid public key: only ECDSA P-256 keys are supported');
  return key;
}

/** The public half of a private key. */
export function publicKeyOf(key: KeyObject): KeyObject {
  return createPublicKey(key);
}

/** A key's fingerprint: sha256 of its SubjectPublicKeyInfo DER, hex (what `berth trust` prints and revokes). */
export function keyFingerprint(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(pub.export({ format: 'der', type: 'spki' })).digest('hex');
}

/** The passphrase from `BERTH_TRUST_PASSPHRASE` (or cosign's `COSIGN_PASSWORD`), when set. */
export function passphraseFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env['BERTH_TRUST_PASSPHRASE'] ?? env['COSIGN_PASSWORD'];
}
