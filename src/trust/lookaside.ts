/**
 * Lookaside signature stores, configured as containers/image's registries.d
 * (`containers-registries.d.5`): YAML files in a directory (default
 * `/etc/containers/registries.d`) that map a registry, namespace or repository to a URL:
 *
 *     default-docker: {lookaside: file:///var/lib/containers/sigstore}
 *     docker:
 *       registry.example.com/team: {lookaside: https://sigs.example.com}
 *
 * (`sigstore` is the older name of `lookaside`.) The signatures of manifest `sha256:H` of
 * `registry.example.com/team/app` are `<url>/team/app@sha256=H/signature-1`, `-2`, … up to the
 * first one missing. This is where `skopeo copy --sign-by` puts GPG simple signatures
 * (`lookaside-staging`), so berth reads them from the same place. Only `file://` and
 * `http(s)://` URLs are read; everything is bounded in count and size.
 */
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { digestHex } from '../oci/digest.js';
import { repositoryName, type Reference } from '../oci/reference.js';
import { InvalidParameterError } from '../common/errors.js';

export const DEFAULT_REGISTRIES_D = '/etc/containers/registries.d';
const MAX_LOOKASIDE_SIGNATURES = 32;
const MAX_SIGNATURE_BYTES = 64 << 10;

export interface LookasideConfig {
  defaultDocker?: string;
  docker: Record<string, string>;
  /** `lookaside-staging` (where signatures are written), same scopes. */
  defaultDockerStaging?: string;
  dockerStaging: Record<string, string>;
}

/** Reads every `*.yaml` of a registries.d directory (a missing directory is an empty config). */
export async function loadRegistriesD(dir: string): Promise<LookasideConfig> {
  const cfg: LookasideConfig = { docker: {}, dockerStaging: {} };
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.yaml')).sort();
  for (const n of names) {
    const text = await readFile(join(dir, n), 'utf8');
    let v: unknown;
    try {
      v = parseYaml(text);
    } catch (e) {
      throw new InvalidParameterError(`invalid registries.d file ${join(dir, n)}: ${(e as Error).message}`);
    }
    if (!v || typeof v !== 'object') continue;
    type Entry = { lookaside?: unknown; sigstore?: unknown; 'lookaside-staging'?: unknown; 'sigstore-staging'?: unknown };
    const o = v as { 'default-docker'?: Entry; docker?: Record<string, Entry> };
    const url = (e: Entry | undefined): string | undefined => {
      const u = e?.lookaside ?? e?.sigstore;
      return typeof u === 'string' && u ? u : undefined;
    };
    const staging = (e: Entry | undefined): string | undefined => {
      const u = e?.['lookaside-staging'] ?? e?.['sigstore-staging'];
      return typeof u === 'string' && u ? u : undefined;
    };
    const ds = staging(o['default-docker']);
    if (ds) cfg.defaultDockerStaging = ds;
    for (const [scope, e] of Object.entries(o.docker ?? {})) {
      const u = staging(e);
      if (u) cfg.dockerStaging[scope] = u;
    }
    const d = url(o['default-docker']);
    if (d) {
      if (cfg.defaultDocker && cfg.defaultDocker !== d) throw new InvalidParameterError(`registries.d: default-docker is configured twice (${join(dir, n)})`);
      cfg.defaultDocker = d;
    }
    for (const [scope, e] of Object.entries(o.docker ?? {})) {
      const u = url(e);
      if (u) cfg.docker[scope] = u;
    }
  }
  return cfg;
}

/** The lookaside URL for a repository: its most specific scope, else default-docker. */
export function lookasideUrl(cfg: LookasideConfig, ref: Reference): string | undefined {
  const parts = repositoryName(ref).split('/');
  for (let n = parts.length; n >= 1; n--) {
    const u = cfg.docker[parts.slice(0, n).join('/')];
    if (u) return u;
  }
  return cfg.defaultDocker;
}

/** Where signatures of `ref` are written: `lookaside-staging`, else `lookaside` (most specific scope first). */
export function lookasideWriteUrl(cfg: LookasideConfig, ref: Reference): string | undefined {
  const parts = repositoryName(ref).split('/');
  for (let n = parts.length; n >= 1; n--) {
    const scope = parts.slice(0, n).join('/');
    const u = cfg.dockerStaging[scope] ?? cfg.docker[scope];
    if (u) return u;
  }
  return cfg.defaultDockerStaging ?? cfg.defaultDocker;
}

/** Stores a signature in a `file://` lookaside store as the next free `signature-N`; returns its path. */
export async function storeLookasideSignature(base: string, ref: Reference, digest: string, signature: Buffer): Promise<string> {
  if (!base.startsWith('file://')) throw new InvalidParameterError(`cannot write signatures to ${JSON.stringify(base)}: only file:// lookaside stores are writable`);
  const dir = fileURLToPath(`${base.replace(/\/+$/, '')}/${ref.path}@sha256=${digestHex(digest)}`);
  await mkdir(dir, { recursive: true });
  for (let i = 1; i <= MAX_LOOKASIDE_SIGNATURES; i++) {
    const path = join(dir, `signature-${i}`);
    try {
      await writeFile(path, signature, { flag: 'wx' });
      return path;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if ((await readFile(path)).equals(signature)) return path;
    }
  }
  throw new InvalidParameterError(`${dir} already holds ${MAX_LOOKASIDE_SIGNATURES} signatures`);
}

/** The GPG simple signatures of `digest` stored at `base` for `ref`'s repository. */
export async function fetchLookasideSignatures(base: string, ref: Reference, digest: string, options: { signal?: AbortSignal } = {}): Promise<Buffer[]> {
  const out: Buffer[] = [];
  const dir = `${base.replace(/\/+$/, '')}/${ref.path}@sha256=${digestHex(digest)}`;
  for (let i = 1; i <= MAX_LOOKASIDE_SIGNATURES; i++) {
    const url = `${dir}/signature-${i}`;
    let data: Buffer | undefined;
    if (url.startsWith('file://')) {
      data = await readFile(fileURLToPath(url)).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw e;
      });
    } else if (/^https?:\/\//.test(url)) {
      const res = await fetch(url, { signal: options.signal ?? AbortSignal.timeout(15_000) });
      if (res.status === 404) data = undefined;
      else if (!res.ok) throw new InvalidParameterError(`reading signature ${url}: ${res.status} ${res.statusText}`);
      else data = Buffer.from(await res.arrayBuffer());
    } else throw new InvalidParameterError(`unsupported lookaside URL ${JSON.stringify(base)} (want file:// or http(s)://)`);
    if (!data) break;
    if (data.length > MAX_SIGNATURE_BYTES) throw new InvalidParameterError(`signature ${url} is too large`);
    out.push(data);
  }
  return out;
}
