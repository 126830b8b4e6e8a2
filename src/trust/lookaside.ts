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
import { readFile, readdir } from 'node:fs/promises';
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
}

/** Reads every `*.yaml` of a registries.d directory (a missing directory is an empty config). */
export async function loadRegistriesD(dir: string): Promise<LookasideConfig> {
  const cfg: LookasideConfig = { docker: {} };
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
    const o = v as { 'default-docker'?: { lookaside?: unknown; sigstore?: unknown }; docker?: Record<string, { lookaside?: unknown; sigstore?: unknown }> };
    const url = (e: { lookaside?: unknown; sigstore?: unknown } | undefined): string | undefined => {
      const u = e?.lookaside ?? e?.sigstore;
      return typeof u === 'string' && u ? u : undefined;
    };
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
