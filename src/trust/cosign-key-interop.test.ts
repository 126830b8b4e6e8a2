import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateKeyPair, keyFingerprint, loadPrivateKey, loadPublicKey, SIGSTORE_PRIVATE_PEM } from './cosign-key.js';
import { signPayload, verifyPayload } from './sigstore-signature.js';

/**
 * cosign's key format checked against a second, independent implementation (#22): Debian's
 * PyNaCl (libsodium secretbox), Python's hashlib.scrypt and pyca/cryptography, driven by
 * /usr/bin/python3 (packages python3-nacl, python3-cryptography: scripts/lib.sh). Debian's
 * skopeo is built without sigstore, so it cannot play this part.
 */
const PY = String.raw`
import base64, hashlib, json, os, re, sys
import nacl.secret
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

mode, path, pw = sys.argv[1], sys.argv[2], sys.argv[3].encode()
def derive(salt, p):
    return hashlib.scrypt(pw, salt=salt, n=p['N'], r=p['r'], p=p['p'], dklen=32, maxmem=256 * p['N'] * p['r'] + (1 << 20))
if mode == 'decrypt-and-sign':
    text = open(path).read()
    m = re.search(r'-----BEGIN ([A-Z ]+)-----\n(.*?)-----END', text, re.S)
    body = json.loads(base64.b64decode(m.group(2)))
    key = derive(base64.b64decode(body['kdf']['salt']), body['kdf']['params'])
    der = nacl.secret.SecretBox(key).decrypt(base64.b64decode(body['ciphertext']), base64.b64decode(body['cipher']['nonce']))
    priv = serialization.load_der_private_key(der, None)
    print(base64.b64encode(priv.sign(b'payload from python', ec.ECDSA(hashes.SHA256()))).decode())
else:
    priv = ec.generate_private_key(ec.SECP256R1())
    der = priv.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    salt, nonce = os.urandom(32), os.urandom(24)
    params = {'N': 32768, 'r': 8, 'p': 1}
    ct = nacl.secret.SecretBox(derive(salt, params)).encrypt(der, nonce).ciphertext
    body = json.dumps({'kdf': {'name': 'scrypt', 'params': params, 'salt': base64.b64encode(salt).decode()}, 'cipher': {'name': 'nacl/secretbox', 'nonce': base64.b64encode(nonce).decode()}, 'ciphertext': base64.b64encode(ct).decode()})
    b64 = base64.b64encode(body.encode()).decode()
    lines = '\n'.join(b64[i:i + 64] for i in range(0, len(b64), 64))
    open(path, 'w').write('-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n' + lines + '\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n')
    open(path + '.pub', 'wb').write(priv.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
`;

test('cosign key files interoperate with PyNaCl + pyca/cryptography, both ways', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-cosign-interop-'));
  const run = promisify(execFile);
  try {
    const script = join(dir, 'k.py');
    await writeFile(script, PY);
    // berth writes, Python decrypts and signs, berth verifies with the public key it wrote.
    const pair = generateKeyPair('pw one');
    await writeFile(join(dir, 'berth.key'), pair.privatePem);
    const { stdout } = await run('/usr/bin/python3', [script, 'decrypt-and-sign', join(dir, 'berth.key'), 'pw one'], { timeout: 60_000 });
    assert.equal(verifyPayload(Buffer.from('payload from python'), stdout.trim(), loadPublicKey(pair.publicPem)), true);
    assert.equal(verifyPayload(Buffer.from('another payload'), stdout.trim(), loadPublicKey(pair.publicPem)), false);
    // Python writes a cosign-2 style key, berth decrypts it and signs; its public key verifies.
    await run('/usr/bin/python3', [script, 'encrypt', join(dir, 'py.key'), 'pw two'], { timeout: 60_000 });
    const text = await readFile(join(dir, 'py.key'), 'utf8');
    assert.ok(text.startsWith(`-----BEGIN ${SIGSTORE_PRIVATE_PEM}-----`));
    const key = loadPrivateKey(text, 'pw two');
    const pub = loadPublicKey(await readFile(join(dir, 'py.key.pub')));
    assert.equal(keyFingerprint(key), keyFingerprint(pub));
    assert.equal(verifyPayload(Buffer.from('x'), signPayload(Buffer.from('x'), key), pub), true);
    assert.throws(() => loadPrivateKey(text, 'pw one'), /wrong passphrase/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
