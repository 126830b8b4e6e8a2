import { writeFileSync } from 'node:fs';
import type { ApiClient } from '../client/client.js';
import { ApiError } from '../client/errors.js';
import type { ContainerCreateBody } from '../wire/api-types.js';
import type { Invocation } from './invocation.js';
import { StatusError } from './errors.js';
import { pullImage } from './pull.js';
import { contentTrustEnabled } from './content-trust.js';
import { withDefaultTag } from './reference.js';

/**
 * docker's `reportError` for run/create: `berth: <message>.` plus, for errors before the
 * container exists, a pointer to the command's help.
 */
export function runError(ctx: Invocation, verb: string, err: unknown, withHelp: boolean, status = 125): StatusError {
  let text = err instanceof ApiError ? `Error response from daemon: ${err.message}` : err instanceof Error ? err.message : String(err);
  text = `${text.replace(/\.$/, '')}.`;
  if (withHelp) text += `\nSee '${ctx.prog} ${verb} --help'.`;
  return new StatusError(status, `${ctx.prog}: ${text}`);
}

/**
 * POST /containers/create, pulling the image first when the daemon does not have it (404),
 * as docker's createContainer does: `Unable to find image 'busybox:latest' locally` on stderr,
 * POST /images/create?fromImage=busybox&tag=latest, then create again. Returns the new ID.
 */
export async function createContainer(
  ctx: Invocation,
  client: ApiClient,
  verb: string,
  body: ContainerCreateBody,
  options: { name?: string; pull: string; quiet?: boolean; cidfile?: string; platform?: string; useApiSocket?: boolean; disableContentTrust?: boolean },
): Promise<string> {
  if (!['always', 'missing', 'never'].includes(options.pull)) {
    throw runError(ctx, verb, new Error(`invalid pull option: '${options.pull}': must be one of "always", "missing" or "never"`), true);
  }
  const progress = options.quiet ? undefined : ctx.stderr;
  const platform = options.platform || ctx.env['DOCKER_DEFAULT_PLATFORM'] || undefined;
  const trust = { contentTrust: contentTrustEnabled(ctx, options), ...(platform ? { platform } : {}) };
  let apiSocketConfig: Buffer | undefined;
  if (options.useApiSocket) {
    const { prepareApiSocket } = await import('./api-socket.js');
    apiSocketConfig = await prepareApiSocket(ctx.host, body, ctx.env);
  }
  try {
    if (options.pull === 'always') await pullImage(client, body.Image, progress, trust);
    let created;
    try {
      created = await client.containerCreate(body, options.name, platform);
    } catch (err) {
      // Only a missing image is pulled: a 404 for anything else (a network, a container for
      // --volumes-from) must not send the user to a registry.
      if (!(err instanceof ApiError) || err.statusCode !== 404 || options.pull !== 'missing' || !/^No such image/i.test(err.message)) throw err;
      ctx.stderr.write(`Unable to find image '${withDefaultTag(body.Image)}' locally\n`);
      await pullImage(client, body.Image, progress, trust);
      created = await client.containerCreate(body, options.name, platform);
    }
    if (apiSocketConfig) {
      const { copyApiSocketConfig } = await import('./api-socket.js');
      await copyApiSocketConfig(client, created.Id, apiSocketConfig);
    }
    for (const w of created.Warnings ?? []) ctx.stderr.write(`WARNING: ${w}\n`);
    if (options.cidfile) writeFileSync(options.cidfile, created.Id, { flag: 'wx' });
    return created.Id;
  } catch (err) {
    if (err instanceof StatusError) throw err;
    if (err instanceof Error && (err.name === 'ApiError' || err.name === 'DaemonUnreachableError' || 'code' in err)) {
      throw runError(ctx, verb, err, true);
    }
    throw err;
  }
}

/** docker's runStartContainerErr: 127 when the command was not found, 126 when it can't run. */
export function startErrorStatus(message: string): number {
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(message)) return 127;
  if (/permission denied|is a directory/.test(message)) return 126;
  return 125;
}
