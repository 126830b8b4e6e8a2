/** Content trust: keys, signatures, the containers-policy.json policy and its enforcement. */
export { COSIGN_PRIVATE_PEM, SIGSTORE_PRIVATE_PEM, generateKeyPair, keyFingerprint, loadPrivateKey, loadPublicKey, passphraseFromEnv, publicKeyOf } from './cosign-key.js';
export { InvalidPolicyError, KeyError, PolicyRejectedError } from './errors.js';
export { DEFAULT_POLICY_PATH, ImageTrust, type RevokedKey } from './image-trust.js';
export { DEFAULT_REGISTRIES_D, loadRegistriesD, lookasideWriteUrl } from './lookaside.js';
export { parsePayload, type SimpleSigningPayload } from './payload.js';
export { ACCEPT_ANYTHING_POLICY, parsePolicy, type Policy } from './policy.js';
export { evaluatePolicy, type Accepted } from './policy-eval.js';
export { signImage, signImageGpg, resolveSubject, type SignResult } from './sign-image.js';
export { fetchSigstoreSignatures } from './signature-store.js';
export { verifyPayload, signatureTag } from './sigstore-signature.js';
