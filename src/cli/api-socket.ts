import { readFile } from 'node:fs/promises';
import type { ApiClient } from '../client/client.js';
import type { ContainerCreateBody } from '../wire/api-types.js';
import { dockerConfigPath, getCredentials } from '../client/credentials.js';
import { StatusError } from './errors.js';
import { unixSocketPath } from './unix-request.js';

/**
 * `run/create --use-api-socket`, as docker 28 does it: the daemon's socket is bind-mounted at
 * /var/run/docker.sock, and when the user has registry credentials they are copied into the
 * container as /run/secrets/docker/config.json (DOCKER_CONFIG=/run/secrets/docker) once it
 * exists. Only for a daemon reached over a UNIX socket.
 */
export async function prepareApiSocket(host: string, body: ContainerCreateBody, env: NodeJS.ProcessEnv): Promise<Buffer | undefined> {
  const path = unixSocketPath(host);
  if (!path) throw new StatusError(1, `flag --use-api-socket can only be used with unix sockets: berth endpoint ${host} incompatible`);
  const hc = (body.HostConfig ??= {});
  hc.Mounts = [...(hc.Mounts ?? []), { Type: 'bind', Source: path, Target: '/var/run/docker.sock', BindOptions: {} }];
  const auths = await allCredentials(env);
  if (Object.keys(auths).length === 0) return undefined;
  body.Env = [...(body.Env ?? []), 'DOCKER_CONFIG=/run/secrets/docker'];
  return Buffer.from(JSON.stringify({ auths }, null, '\t'));
}

/** Every stored credential (`auths` keys and credential helpers), as config.json `auths`. */
async function allCredentials(env: NodeJS.ProcessEnv): Promise<Record<string, { auth?: string; identitytoken?: string }>> {
  let cfg: { auths?: Record<string, unknown>; credHelpers?: Record<string, string> } = {};
  try {
    cfg = JSON.parse(await readFile(dockerConfigPath(env), 'utf8')) as typeof cfg;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const keys = new Set([...Object.keys(cfg.auths ?? {}), ...Object.keys(cfg.credHelpers ?? {})]);
  const out: Record<string, { auth?: string; identitytoken?: string }> = {};
  for (const key of keys) {
    const domain = key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    const cred = await getCredentials(domain === 'index.docker.io' ? 'docker.io' : domain, env);
    if (!cred) continue;
    out[key] = {
      ...(cred.username !== undefined ? { auth: Buffer.from(`${cred.username}:${cred.password ?? ''}`).toString('base64') } : {}),
      ...(cred.identitytoken ? { identitytoken: cred.identitytoken } : {}),
    };
  }
  return out;
}

/** Copies the prepared config.json into the new container (PUT /containers/{id}/archive). */
export async function copyApiSocketConfig(client: ApiClient, id: string, config: Buffer): Promise<void> {
  const { TarBuffer } = await import('./build-context-pack.js');
  const tar = new TarBuffer();
  const mtime = new Date();
  for (const dir of ['run/', 'run/secrets/', 'run/secrets/docker/']) tar.entry({ name: dir, type: '5', mode: 0o755, size: 0, mtime });
  tar.entry({ name: 'run/secrets/docker/config.json', type: '0', mode: 0o600, size: config.length, mtime }, config);
  try {
    await client.send('PUT', `/containers/${encodeURIComponent(id)}/archive`, {
      query: { path: '/', noOverwriteDirNonDir: true },
      body: tar.finish(),
      headers: { 'Content-Type': 'application/x-tar' },
    });
  } catch (err) {
    throw new StatusError(1, `injecting docker config.json into container failed: copying config.json into container failed: ${(err as Error).name === 'ApiError' ? 'Error response from daemon: ' : ''}${(err as Error).message}`);
  }
}
