/**
 * The daemon's side of content trust: the policy berthd enforces on every image that enters
 * its store from outside (pull — and so `run`'s implicit pull and build's `FROM` — and load).
 *
 * Lifecycle: berthd creates one ImageTrust from its config (`--signature-policy`, default
 * /etc/berth/policy.json; `--registries-d` for lookaside GPG signatures) and calls `check()`
 * at start, so a broken policy stops the daemon with a clear error instead of being
 * discovered at the first pull. The policy file is read again for every image, so an edit
 * takes effect without a restart (as Podman, which reads it per operation). An absent file
 * means `insecureAcceptAnything` for everything: berth's behaviour before policies.
 *
 * The revocation list (`revoke`, `revoked`) is kept under the data root and consulted for
 * every signature requirement.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CommandRunner } from '../common/command-runner.js';
import { InvalidParameterError } from '../common/errors.js';
import type { RegistryClient } from '../registry/client/client.js';
import type { Reference } from '../oci/reference.js';
import { InvalidPolicyError } from './errors.js';
import { DEFAULT_REGISTRIES_D, fetchLookasideSignatures, loadRegistriesD, lookasideUrl } from './lookaside.js';
import { evaluatePolicy, type Accepted } from './policy-eval.js';
import { ACCEPT_ANYTHING_POLICY, parsePolicy, type Policy } from './policy.js';
import { fetchSigstoreSignatures } from './signature-store.js';

export const DEFAULT_POLICY_PATH = '/etc/berth/policy.json';

export interface ImageTrustOptions {
  policyPath: string;
  /** containers registries.d directory (lookaside stores of GPG signatures). */
  registriesD?: string;
  /** JSON file of revoked key fingerprints. */
  revocationsPath: string;
  runner: CommandRunner;
}

export interface RevokedKey {
  fingerprint: string;
  revoked: string;
  comment?: string;
}

export class ImageTrust {
  readonly #o: ImageTrustOptions;

  constructor(options: ImageTrustOptions) {
    this.#o = options;
  }

  get policyPath(): string {
    return this.#o.policyPath;
  }

  /** The policy now in force (ACCEPT_ANYTHING_POLICY when the file does not exist). */
  async policy(): Promise<{ policy: Policy; present: boolean }> {
    let text: string;
    try {
      text = await readFile(this.#o.policyPath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { policy: ACCEPT_ANYTHING_POLICY, present: false };
      throw new InvalidPolicyError(`reading the signature policy ${this.#o.policyPath}: ${(e as Error).message}`);
    }
    try {
      return { policy: parsePolicy(text), present: true };
    } catch (e) {
      throw new InvalidPolicyError(`${this.#o.policyPath}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Validates the policy file (called at daemon start). */
  async check(): Promise<{ present: boolean }> {
    const { present } = await this.policy();
    await loadRegistriesD(this.#o.registriesD ?? DEFAULT_REGISTRIES_D);
    return { present };
  }

  /**
   * Checks an image being pulled from a registry, before anything of it is stored: `ref` as
   * asked, `manifestDigest` the digest the reference resolved to, `client` connected to its
   * registry (for the signatures).
   */
  async verifyPull(ref: Reference, manifestDigest: string, client: RegistryClient, options: { requireSignature?: boolean; signal?: AbortSignal } = {}): Promise<Accepted> {
    const { policy } = await this.policy();
    const signal = options.signal;
    return evaluatePolicy(policy, {
      transport: 'docker',
      ref,
      manifestDigest,
      runner: this.#o.runner,
      revoked: await this.#revokedSet(),
      ...(options.requireSignature ? { requireSignature: true } : {}),
      signatures: {
        sigstore: () => fetchSigstoreSignatures(client, ref.path, manifestDigest, { ...(signal ? { signal } : {}) }),
        simple: async () => {
          const base = lookasideUrl(await loadRegistriesD(this.#o.registriesD ?? DEFAULT_REGISTRIES_D), ref);
          return base ? fetchLookasideSignatures(base, ref, manifestDigest, { ...(signal ? { signal } : {}) }) : [];
        },
      },
    });
  }

  /**
   * Checks an image loaded from an archive (`docker-archive` transport): archives carry no
   * signatures, so only requirements that need none can accept.
   */
  async verifyArchive(manifestDigest: string, options: { requireSignature?: boolean } = {}): Promise<Accepted> {
    const { policy } = await this.policy();
    return evaluatePolicy(policy, {
      transport: 'docker-archive',
      manifestDigest,
      runner: this.#o.runner,
      ...(options.requireSignature ? { requireSignature: true } : {}),
      signatures: { sigstore: async () => [], simple: async () => [] },
    });
  }

  async revoked(): Promise<RevokedKey[]> {
    try {
      const v = JSON.parse(await readFile(this.#o.revocationsPath, 'utf8')) as unknown;
      return Array.isArray(v) ? (v as RevokedKey[]).filter((k) => k && typeof k.fingerprint === 'string') : [];
    } catch {
      return [];
    }
  }

  async #revokedSet(): Promise<Set<string>> {
    return new Set((await this.revoked()).map((k) => k.fingerprint));
  }

  /** Adds a key fingerprint (64 hex: cosign key; 40 hex: GPG) to the revocation list. */
  async revoke(fingerprint: string, comment?: string): Promise<RevokedKey> {
    const fpr = /^[a-fA-F0-9]{40}$/.test(fingerprint) ? fingerprint.toUpperCase() : fingerprint.toLowerCase();
    if (!/^[a-f0-9]{64}$/.test(fpr) && !/^[A-F0-9]{40}$/.test(fpr)) {
      throw new InvalidParameterError(`invalid key fingerprint ${JSON.stringify(fingerprint)}: want 64 hex digits (a cosign key) or 40 (a GPG key)`);
    }
    const list = await this.revoked();
    const have = list.find((k) => k.fingerprint === fpr);
    if (have) return have;
    const entry: RevokedKey = { fingerprint: fpr, revoked: new Date().toISOString(), ...(comment ? { comment } : {}) };
    list.push(entry);
    await mkdir(dirname(this.#o.revocationsPath), { recursive: true });
    const tmp = `${this.#o.revocationsPath}.tmp`;
    await writeFile(tmp, JSON.stringify(list, null, 2));
    await rename(tmp, this.#o.revocationsPath);
    return entry;
  }
}
