/**
 * DOCKER_CONTENT_TRUST for berth's CLI (#22): when the variable is true (Go's ParseBool: 1, t,
 * true, …) every pull a command makes asks the daemon for content trust (`contentTrust=1`):
 * the daemon's signature policy must then require a signature for the image, and the image
 * must satisfy it. `--disable-content-trust` turns it off for one command, as docker's flag.
 * (docker's own content trust talks to a Notary v1 server; berth's is the daemon's policy.)
 */
import type { Invocation } from './invocation.js';

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);

/** Whether this command's pulls ask for content trust. */
export function contentTrustEnabled(ctx: Pick<Invocation, 'env'>, opts: { disableContentTrust?: boolean }): boolean {
  if (opts.disableContentTrust) return false;
  return TRUE.has(ctx.env['DOCKER_CONTENT_TRUST'] ?? '');
}

/** The query parameter that carries it. */
export function contentTrustQuery(on: boolean): { contentTrust?: string } {
  return on ? { contentTrust: '1' } : {};
}

export const DISABLE_CONTENT_TRUST_HELP = 'Skip image verification (default true)';

/**
 * Refuses to go on when the daemon does not enforce signature policies (docker's dockerd
 * ignores `contentTrust=1`): the variable must not be silently ignored.
 */
export async function requireTrustDaemon(client: { json<T>(method: string, path: string): Promise<T> }): Promise<void> {
  try {
    await client.json('GET', '/berth/trust');
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) {
      throw new Error('DOCKER_CONTENT_TRUST is set, but the daemon does not enforce a signature policy (it is not berthd); use --disable-content-trust to pull without verification');
    }
    throw e;
  }
}
