/**
 * Docker's client configuration file (`$DOCKER_CONFIG/config.json`, default
 * `~/.docker/config.json`) as the docker CLI reads and writes it: `auths` (base64
 * `user:password`, or an `identitytoken`), `credsStore` (one helper for every registry) and
 * `credHelpers` (a helper per registry). A helper is the program `docker-credential-<name>`,
 * spoken to as the docker CLI does: `get` / `store` / `erase` with the request on stdin.
 *
 * Client side only (src/client): the berth CLI's login, logout, pull, push and trust read and
 * write it, and send what they find as `X-Registry-Auth` (src/wire/registry-auth.ts). Other keys
 * of the file are kept as they are when it is rewritten.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { AuthConfig } from '../wire/registry-auth.js';

export type { AuthConfig };

/** The key Docker uses for Docker Hub in `auths`. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

/** The config file path: `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker');
  return join(dir, 'config.json');
}

/** The `auths` key for a registry domain (`docker.io` → Docker Hub's legacy key). */
export function authKey(domain: string): string {
  if (domain === 'docker.io' || domain === 'index.docker.io' || domain === 'registry-1.docker.io') return DOCKER_HUB_AUTH_KEY;
  return domain;
}

/** The domain of an `auths` key (`https://host/v1/` → `host`). */
function keyDomain(key: string): string {
  return key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
}

type ConfigFile = Record<string, unknown> & {
  auths?: Record<string, { auth?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
};

async function readConfig(path: string): Promise<ConfigFile> {
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return '{}';
    throw e;
  });
  try {
    const v = JSON.parse(text || '{}') as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as ConfigFile) : {};
  } catch (e) {
    throw new Error(`loading config file ${path}: ${(e as Error).message}`, { cause: e });
  }
}

async function writeConfig(path: string, cfg: ConfigFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(cfg, null, '\t')}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

function helperFor(cfg: ConfigFile, domain: string): string | undefined {
  return cfg.credHelpers?.[domain] ?? cfg.credHelpers?.[authKey(domain)] ?? cfg.credsStore;
}

function runHelper(helper: string, action: 'get' | 'store' | 'erase', input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(`docker-credential-${helper}`, [action], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) {
        const text = (stdout || stderr || '').trim();
        reject(Object.assign(new Error(text || `docker-credential-${helper} ${action}: ${err.message}`), { helperOutput: text }));
      } else resolve(stdout);
    });
    child.stdin?.end(input);
  });
}

/** The stored credentials for a registry domain, or undefined (anonymous). */
export async function getCredentials(domain: string, env: NodeJS.ProcessEnv = process.env): Promise<AuthConfig | undefined> {
  const cfg = await readConfig(dockerConfigPath(env));
  const helper = helperFor(cfg, domain);
  const key = authKey(domain);
  if (helper) {
    try {
      const out = JSON.parse(await runHelper(helper, 'get', key)) as { Username?: string; Secret?: string };
      if (!out.Secret) return undefined;
      // Docker's convention: username "<token>" means the secret is an identity token.
      if (out.Username === '<token>') return { identitytoken: out.Secret, serveraddress: key };
      return { username: out.Username ?? '', password: out.Secret, serveraddress: key };
    } catch (e) {
      if (/credentials not found/i.test((e as { helperOutput?: string }).helperOutput ?? '')) return undefined;
      throw e;
    }
  }
  const auths = cfg.auths ?? {};
  const entry = auths[key] ?? Object.entries(auths).find(([k]) => keyDomain(k) === domain)?.[1];
  if (!entry) return undefined;
  const out: AuthConfig = { serveraddress: key };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) throw new Error(`invalid auth configuration file: the auth of ${key} is not "user:password"`);
    out.username = decoded.slice(0, i);
    out.password = decoded.slice(i + 1);
  }
  if (entry.identitytoken) out.identitytoken = entry.identitytoken;
  return out.username || out.identitytoken ? out : undefined;
}

/** Stores credentials as `docker login` does (helper when configured, else base64 in `auths`). Returns where. */
export async function storeCredentials(domain: string, auth: AuthConfig, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const path = dockerConfigPath(env);
  const cfg = await readConfig(path);
  const key = authKey(domain);
  const helper = helperFor(cfg, domain);
  if (helper) {
    const secret = auth.identitytoken ?? auth.password ?? '';
    const username = auth.identitytoken ? '<token>' : auth.username ?? '';
    await runHelper(helper, 'store', JSON.stringify({ ServerURL: key, Username: username, Secret: secret }));
    return `docker-credential-${helper}`;
  }
  cfg.auths ??= {};
  const entry: { auth?: string; identitytoken?: string } = {};
  if (auth.identitytoken) entry.identitytoken = auth.identitytoken;
  else entry.auth = Buffer.from(`${auth.username ?? ''}:${auth.password ?? ''}`).toString('base64');
  cfg.auths[key] = entry;
  await writeConfig(path, cfg);
  return path;
}

/** Removes stored credentials; false when there were none. */
export async function eraseCredentials(domain: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const path = dockerConfigPath(env);
  const cfg = await readConfig(path);
  const key = authKey(domain);
  const helper = helperFor(cfg, domain);
  if (helper) {
    try {
      await runHelper(helper, 'erase', key);
      return true;
    } catch {
      return false;
    }
  }
  const auths = cfg.auths ?? {};
  const keys = Object.keys(auths).filter((k) => k === key || keyDomain(k) === domain);
  if (keys.length === 0) return false;
  for (const k of keys) delete auths[k];
  await writeConfig(path, cfg);
  return true;
}
