/**
 * Verifying GPG "simple signing" signatures (the `signedBy` requirement) with GnuPG itself
 * (Debian's `gnupg`), as containers/image does through gpgme: the keys the policy names are
 * imported into a private, temporary GNUPGHOME that holds nothing else, the signature (an
 * OpenPGP signed message wrapping the payload) is unpacked with `gpg --decrypt`, and the
 * machine-readable status lines decide. Only a good signature (GOODSIG + VALIDSIG) by a key
 * that is neither expired nor revoked is accepted; an expired signature is refused too.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandRunner } from '../common/command-runner.js';
import { SystemError } from '../common/errors.js';

export interface GpgVerified {
  /** The payload the signature wraps. */
  payload: Buffer;
  /** The primary key's fingerprint (upper-case hex). */
  fingerprint: string;
}

/** A keyring of the policy's keys in a private GNUPGHOME; `close()` removes it. */
export class GpgKeyring {
  readonly #runner: CommandRunner;
  readonly #home: string;
  #closed = false;

  private constructor(runner: CommandRunner, home: string) {
    this.#runner = runner;
    this.#home = home;
  }

  /** Imports the key files (binary or armored) and key data into a fresh keyring. */
  static async open(runner: CommandRunner, keys: { paths?: string[]; data?: Buffer }): Promise<GpgKeyring> {
    const home = await mkdtemp(join(tmpdir(), 'berth-gpg-'));
    const ring = new GpgKeyring(runner, home);
    try {
      const files = [...(keys.paths ?? [])];
      if (keys.data) {
        const p = join(home, 'key-data');
        await writeFile(p, keys.data);
        files.push(p);
      }
      for (const f of files) {
        const r = await runner.run(['gpg', '--homedir', home, '--batch', '--no-tty', '--quiet', '--import', f], { check: false });
        if (r.code !== 0) throw new SystemError(`importing GPG keys from ${f}: ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0] ?? `gpg exited with ${r.code}`}`);
      }
    } catch (e) {
      await ring.close();
      throw e;
    }
    return ring;
  }

  /** Verifies one signature blob; undefined with a reason when it is not a good signature by these keys. */
  async verify(signature: Buffer): Promise<{ ok: GpgVerified } | { reason: string }> {
    const n = Math.random().toString(36).slice(2);
    const sigPath = join(this.#home, `sig-${n}`);
    const outPath = join(this.#home, `out-${n}`);
    await writeFile(sigPath, signature);
    try {
      const r = await this.#runner.run(['gpg', '--homedir', this.#home, '--batch', '--no-tty', '--status-fd', '1', '--output', outPath, '--decrypt', sigPath], { check: false });
      const status = r.stdout.split('\n').filter((l) => l.startsWith('[GNUPG:] ')).map((l) => l.slice(9).split(' '));
      const has = (k: string) => status.some((s) => s[0] === k);
      if (has('EXPKEYSIG')) return { reason: 'the signing key has expired' };
      if (has('REVKEYSIG')) return { reason: 'the signing key has been revoked' };
      if (has('EXPSIG')) return { reason: 'the signature has expired' };
      if (has('BADSIG')) return { reason: 'bad signature' };
      if (has('ERRSIG') || has('NO_PUBKEY')) return { reason: 'not signed by a key the policy trusts' };
      const valid = status.find((s) => s[0] === 'VALIDSIG');
      if (r.code !== 0 || !has('GOODSIG') || !valid) return { reason: `gpg could not verify the signature${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').slice(-1)[0]}` : ''}` };
      // VALIDSIG <fpr> <date> <ts> <expire> <ver> <res> <pkalgo> <hashalgo> <class> <primary-fpr>
      const fingerprint = (valid[10] ?? valid[1] ?? '').toUpperCase();
      return { ok: { payload: await readFile(outPath), fingerprint } };
    } finally {
      await rm(sigPath, { force: true });
      await rm(outPath, { force: true });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // gpg may have started an agent for this home: stop it (it is ours, bound to this directory).
    if (await stat(join(this.#home, 'S.gpg-agent')).then(() => true, () => false)) {
      await this.#runner.run(['gpgconf', '--homedir', this.#home, '--kill', 'all'], { check: false }).catch(() => undefined);
    }
    await rm(this.#home, { recursive: true, force: true });
  }
}

/**
 * Makes a GPG simple signature (an OpenPGP signed message wrapping `payload`, what
 * `skopeo copy --sign-by` makes) with the key `fingerprint` of the user's keyring (GNUPGHOME
 * in `env`). A passphrase, when given, is passed on a pipe (loopback pinentry), never in argv.
 */
export async function gpgSign(runner: CommandRunner, payload: Buffer, options: { fingerprint: string; env?: NodeJS.ProcessEnv; passphrase?: string }): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-gpgsign-'));
  try {
    const input = join(dir, 'payload');
    const output = join(dir, 'signature');
    await writeFile(input, payload);
    const pass = options.passphrase !== undefined ? ['--pinentry-mode', 'loopback', '--passphrase-fd', '0'] : [];
    const r = await runner.run(['gpg', '--batch', '--no-tty', ...pass, '--local-user', options.fingerprint, '--output', output, '--sign', input], {
      check: false,
      ...(options.env ? { env: options.env } : {}),
      ...(options.passphrase !== undefined ? { input: `${options.passphrase}\n` } : {}),
    });
    if (r.code !== 0) throw new SystemError(`signing with GPG key ${options.fingerprint}: ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0] ?? `gpg exited with ${r.code}`}`);
    return await readFile(output);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
