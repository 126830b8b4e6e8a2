/**
 * `berth trust key generate|sign|inspect|revoke` (#22): cosign-style signatures of images in
 * a registry, and the revocation list of the daemon's signature policy.
 *
 * Signing runs here, on the client, where the private key is: the key never goes to the
 * daemon. So `sign` and `inspect` talk to the registry directly (through trust/ and the
 * registry client, with ~/.docker/config.json credentials) rather than through berthd, as
 * cosign and docker's own `trust` commands do; `revoke` goes to the daemon, whose policy it
 * changes. Passphrases come from BERTH_TRUST_PASSPHRASE (or cosign's COSIGN_PASSWORD), else
 * from a prompt on the terminal.
 */
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CommandModule } from '../command.js';
import { collect } from '../command.js';
import type { Invocation } from '../invocation.js';
import { StatusError } from '../errors.js';
import { confirm } from '../resource-list.js';
import { runSubcommand } from './tls.js';
import { formatReference, parseReference, withDefaultTag, type Reference } from '../../oci/reference.js';
import { RegistryClient } from '../../registry/client/client.js';
import { getCredentials } from '../../client/credentials.js';
import { SpawnRunner } from '../../common/command-runner.js';
import {
  DEFAULT_REGISTRIES_D,
  fetchSigstoreSignatures,
  loadRegistriesD,
  lookasideWriteUrl,
  signImageGpg,
  generateKeyPair,
  keyFingerprint,
  loadPrivateKey,
  loadPublicKey,
  parsePayload,
  passphraseFromEnv,
  resolveSubject,
  signImage,
  verifyPayload,
  type SignResult,
} from '../../trust/index.js';

/** Reads a passphrase: the environment, else the terminal (no echo), else a clear error. */
export async function readPassphrase(ctx: Invocation, prompt: string, confirm = false): Promise<string> {
  const env = passphraseFromEnv(ctx.env);
  if (env !== undefined) return env;
  const stdin = ctx.stdin as NodeJS.ReadStream;
  if (!stdin.isTTY || typeof stdin.setRawMode !== 'function') {
    throw new StatusError(1, 'a passphrase is needed: set BERTH_TRUST_PASSPHRASE (standard input is not a terminal)');
  }
  const ask = (text: string): Promise<string> =>
    new Promise((res, rej) => {
      ctx.stderr.write(text);
      let buf = '';
      stdin.setRawMode(true);
      stdin.resume();
      const onData = (d: Buffer): void => {
        for (const ch of d.toString('utf8')) {
          if (ch === '\r' || ch === '\n') return done(undefined);
          if (ch === '\u0003') return done(new StatusError(130, ''));
          if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
          else buf += ch;
        }
      };
      const done = (e: Error | undefined): void => {
        stdin.off('data', onData);
        stdin.setRawMode(false);
        stdin.pause();
        ctx.stderr.write('\n');
        if (e) rej(e);
        else res(buf);
      };
      stdin.on('data', onData);
    });
  const p = await ask(prompt);
  if (confirm && (await ask('Repeat passphrase: ')) !== p) throw new StatusError(1, 'passphrases do not match');
  return p;
}

function parseRef(s: string): Reference {
  try {
    return parseReference(s);
  } catch (e) {
    throw new StatusError(1, (e as Error).message);
  }
}

/** A registry client for `ref`'s registry, with the user's credentials. */
async function registryFor(ctx: Invocation, ref: Reference): Promise<RegistryClient> {
  const auth = await getCredentials(ref.domain, ctx.env).catch((e: Error) => {
    throw new StatusError(1, `error getting credentials - err: ${e.message}`);
  });
  const insecure = (ctx.env['BERTH_INSECURE_REGISTRIES'] ?? '').split(',').filter(Boolean);
  return new RegistryClient(ref.domain, { ...(auth ? { auth } : {}), insecureRegistries: insecure, userAgent: 'berth-trust/0.1' });
}

/** Signs `image` (in its registry) with the cosign private key at `keyPath`; used by `trust sign` and `push --sign-by`. */
export async function signWithKeyFile(ctx: Invocation, image: string, keyPath: string): Promise<SignResult> {
  const text = await readFile(keyPath, 'utf8').catch((e: Error) => {
    throw new StatusError(1, `reading the private key: ${e.message}`);
  });
  let key;
  try {
    key = loadPrivateKey(text, await readPassphrase(ctx, `Enter passphrase for ${keyPath}: `));
  } catch (e) {
    if (e instanceof StatusError) throw e;
    throw new StatusError(1, (e as Error).message);
  }
  const ref = parseRef(image);
  const r = ref.digest ? ref : withDefaultTag(ref);
  const client = await registryFor(ctx, r);
  try {
    return await signImage(client, r, key, { creator: 'berth' });
  } catch (e) {
    throw new StatusError(1, `signing ${formatReference(r)}: ${(e as Error).message}`);
  } finally {
    client.close();
  }
}

const keyGenerate: CommandModule = {
  usage: '[OPTIONS] NAME',
  description: 'Generate a signing key pair (NAME.key, encrypted, and NAME.pub, in cosign\'s formats)',
  args: { exact: 1 },
  configure(cmd) {
    cmd.option('--dir <string>', 'Directory to generate the key in');
  },
  async run(ctx, args, opts) {
    const name = args[0]!;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new StatusError(1, `key name "${name}" must use only letters, digits, ".", "_" and "-"`);
    const dir = resolve((opts as { dir?: string }).dir ?? '.');
    const keyPath = join(dir, `${name}.key`);
    const pubPath = join(dir, `${name}.pub`);
    for (const p of [keyPath, pubPath]) {
      if (await stat(p).then(() => true, () => false)) throw new StatusError(1, `${p} already exists: remove it or choose another name`);
    }
    const pass = await readPassphrase(ctx, `Enter passphrase for new key ${name}: `, true);
    const pair = generateKeyPair(pass);
    await writeFile(keyPath, pair.privatePem, { mode: 0o600, flag: 'wx' });
    await chmod(keyPath, 0o600);
    await writeFile(pubPath, pair.publicPem, { mode: 0o644, flag: 'wx' });
    ctx.stdout.write(`Private key written to ${keyPath}\nPublic key written to ${pubPath}\nKey fingerprint: ${keyFingerprint(loadPublicKey(pair.publicPem))}\n`);
    return 0;
  },
};

const key: CommandModule = {
  usage: 'COMMAND',
  description: 'Manage keys for signing images\n\nCommands:\n  generate    Generate a signing key pair',
  positionalStop: true,
  configure() {},
  async run(ctx, args) {
    return runSubcommand(ctx, 'trust key', { generate: keyGenerate }, args);
  },
};

/** `trust sign --gpg-key`: a GPG simple signature in the lookaside store (registries.d or --lookaside). */
async function signGpg(ctx: Invocation, image: string, fingerprint: string, lookasideFlag: string | undefined): Promise<number> {
  const ref0 = parseRef(image);
  const ref = ref0.digest ? ref0 : withDefaultTag(ref0);
  let lookaside = lookasideFlag;
  if (lookaside && !/^[a-z]+:\/\//.test(lookaside)) lookaside = `file://${resolve(lookaside)}`;
  if (!lookaside) {
    const dir = ctx.env['BERTH_REGISTRIES_D'] || DEFAULT_REGISTRIES_D;
    lookaside = lookasideWriteUrl(await loadRegistriesD(dir), ref);
    if (!lookaside) throw new StatusError(1, `no lookaside store for ${formatReference(ref)} in ${dir} (set lookaside-staging there, or use --lookaside DIR)`);
  }
  const client = await registryFor(ctx, ref);
  try {
    const r = await signImageGpg(client, ref, { runner: new SpawnRunner(), fingerprint, lookaside, env: ctx.env, ...(passphraseFromEnv(ctx.env) !== undefined ? { passphrase: passphraseFromEnv(ctx.env)! } : {}), creator: 'berth' });
    ctx.stdout.write(`Signed ${r.dockerReference}@${r.manifestDigest} with GPG key ${fingerprint}: ${r.path}\n`);
    return 0;
  } catch (e) {
    throw new StatusError(1, `signing ${formatReference(ref)}: ${(e as Error).message}`);
  } finally {
    client.close();
  }
}

const sign: CommandModule = {
  usage: '[OPTIONS] IMAGE[:TAG|@DIGEST]',
  description: 'Sign an image in its registry (the manifest digest the tag points at now)',
  args: { exact: 1 },
  configure(cmd) {
    cmd.option('--key <string>', 'Private key file (cosign format): a sigstore signature stored in the registry');
    cmd.option('--gpg-key <string>', 'GPG key fingerprint (GNUPGHOME keyring): a simple signature stored in the lookaside store');
    cmd.option('--lookaside <string>', 'Lookaside store (directory or file:// URL) for --gpg-key (default: registries.d lookaside-staging)');
    cmd.option('--local', 'Sign a locally tagged image');
  },
  async run(ctx, args, opts) {
    const o = opts as { key?: string; gpgKey?: string; lookaside?: string; local?: boolean };
    if (o.local) throw new StatusError(1, 'berth trust sign --local: berth signs the manifest an image has in its registry; push it first (berth push --sign-by KEY signs as it pushes)');
    if (o.key && o.gpgKey) throw new StatusError(1, 'berth trust sign: --key and --gpg-key cannot be used together');
    if (o.lookaside && !o.gpgKey) throw new StatusError(1, 'berth trust sign: --lookaside needs --gpg-key');
    if (o.gpgKey) return signGpg(ctx, args[0]!, o.gpgKey, o.lookaside);
    const keyPath = o.key;
    if (!keyPath) throw new StatusError(1, 'berth trust sign: --key or --gpg-key is required');
    const r = await signWithKeyFile(ctx, args[0]!, keyPath);
    ctx.stdout.write(`Signed ${r.dockerReference}@${r.manifestDigest} with key ${r.keyFingerprint}\n`);
    return 0;
  },
};

const inspect: CommandModule = {
  usage: '[OPTIONS] IMAGE[:TAG|@DIGEST] [IMAGE...]',
  description: 'Show the signatures of images in their registry (verified against --key files when given)',
  args: { min: 1 },
  configure(cmd) {
    cmd.option('--key <string>', 'Public key to verify with (repeatable)', collect);
    cmd.option('--pretty', 'Print the information in a human friendly format');
  },
  async run(ctx, args, opts) {
    const keys: { path: string; key: ReturnType<typeof loadPublicKey>; fingerprint: string }[] = [];
    for (const p of (opts as { key?: string[] }).key ?? []) {
      try {
        const k = loadPublicKey(await readFile(p));
        keys.push({ path: p, key: k, fingerprint: keyFingerprint(k) });
      } catch (e) {
        throw new StatusError(1, `${p}: ${(e as Error).message}`);
      }
    }
    const out = [];
    for (const a of args) {
      const ref0 = parseRef(a);
      const ref = ref0.digest ? ref0 : withDefaultTag(ref0);
      const client = await registryFor(ctx, ref);
      try {
        const subject = await resolveSubject(client, ref);
        const sigs = await fetchSigstoreSignatures(client, ref.path, subject.digest);
        out.push({
          Name: formatReference(ref),
          ManifestDigest: subject.digest,
          Signatures: sigs.map((s) => {
            let p;
            try {
              p = parsePayload(s.payload);
            } catch (e) {
              return { Error: (e as Error).message };
            }
            const by = keys.find((k) => verifyPayload(s.payload, s.signature, k.key));
            return {
              Type: p.type,
              DockerReference: p.dockerReference,
              ManifestDigest: p.manifestDigest,
              DigestMatches: p.manifestDigest === subject.digest,
              ...(p.creator !== undefined ? { Creator: p.creator } : {}),
              ...(p.timestamp !== undefined ? { Timestamp: new Date(p.timestamp * 1000).toISOString() } : {}),
              ...(keys.length ? { Verified: by !== undefined, ...(by ? { SignedBy: { Key: by.path, Fingerprint: by.fingerprint } } : {}) } : {}),
            };
          }),
        });
      } catch (e) {
        throw new StatusError(1, `inspecting ${formatReference(ref)}: ${(e as Error).message}`);
      } finally {
        client.close();
      }
    }
    if ((opts as { pretty?: boolean }).pretty) {
      for (const img of out) {
        ctx.stdout.write(`\nSignatures for ${img.Name}\n\nDIGEST${' '.repeat(66)}SIGNED BY\n`);
        if (!img.Signatures.length) ctx.stdout.write(`${img.ManifestDigest}  (no signatures)\n`);
        for (const s of img.Signatures as Array<Record<string, unknown>>) {
          const by = s['Error'] ? `invalid: ${String(s['Error'])}` : s['SignedBy'] ? (s['SignedBy'] as { Key: string }).Key : keys.length ? 'no given key' : 'not verified (give --key)';
          ctx.stdout.write(`${String(s['ManifestDigest'] ?? img.ManifestDigest).padEnd(72)}${by}\n`);
        }
      }
      return 0;
    }
    ctx.stdout.write(`${JSON.stringify(out, null, 4)}\n`);
    return 0;
  },
};

const revoke: CommandModule = {
  usage: '[OPTIONS] KEY.pub|FINGERPRINT',
  description: "Revoke a key in the daemon's signature policy: no signature by it is accepted any more (--list shows the revoked keys)",
  args: { max: 1 },
  configure(cmd) {
    cmd.option('--comment <string>', 'Why the key is revoked');
    cmd.option('--list', 'List the revoked keys');
    cmd.option('-y, --yes', 'Do not prompt for confirmation');
  },
  async run(ctx, args, opts) {
    const o = opts as { comment?: string; list?: boolean; yes?: boolean };
    const client = await ctx.client();
    if (o.list || args.length === 0) {
      if (!o.list) throw new StatusError(1, `"${ctx.prog} trust revoke" requires a key file or fingerprint (or --list)`);
      const info = await client.json<{ Revoked: { Fingerprint: string; Revoked: string; Comment?: string }[] }>('GET', '/berth/trust');
      for (const k of info.Revoked) ctx.stdout.write(`${k.Fingerprint}\t${k.Revoked}${k.Comment ? `\t${k.Comment}` : ''}\n`);
      return 0;
    }
    const arg = args[0]!;
    let fingerprint = arg;
    if (!/^[a-fA-F0-9]{40}$|^[a-fA-F0-9]{64}$/.test(arg)) {
      const text = await readFile(arg).catch((e: Error) => {
        throw new StatusError(1, `${arg} is neither a key fingerprint nor a readable public key file: ${e.message}`);
      });
      try {
        fingerprint = keyFingerprint(loadPublicKey(text));
      } catch (e) {
        throw new StatusError(1, `${arg}: ${(e as Error).message}`);
      }
    }
    if (!o.yes && !(await confirm(ctx, `Please confirm you would like to revoke key ${fingerprint}: no signature by it will be accepted any more.`))) {
      ctx.stdout.write('Aborting action.\n');
      return 1;
    }
    const r = await client.json<{ Fingerprint: string }>('POST', '/berth/trust/revocations', { body: { Fingerprint: fingerprint, ...(o.comment ? { Comment: o.comment } : {}) } });
    ctx.stdout.write(`Revoked key ${r.Fingerprint}\n`);
    return 0;
  },
};

const SUBCOMMANDS: Record<string, CommandModule> = { key, sign, inspect, revoke };

export const command: CommandModule = {
  usage: 'COMMAND',
  description:
    'Manage trust on images (signatures and the daemon\'s signature policy)\n\nCommands:\n' +
    Object.entries(SUBCOMMANDS)
      .map(([k, m]) => `  ${k.padEnd(11)}${m.description.split('\n')[0]}`)
      .join('\n'),
  positionalStop: true,
  configure() {},
  async run(ctx, args) {
    return runSubcommand(ctx, 'trust', SUBCOMMANDS, args);
  },
};
