import type { Invocation } from './invocation.js';
import { StatusError } from './errors.js';

/**
 * Image `--platform` flags that the Docker API gained after 1.45 (`image inspect` 1.49, `save`
 * and `load` 1.48, `image rm` 1.50, `push` 1.46): as the docker CLI does, the daemon's API
 * version is checked first, and an older daemon gets docker's error instead of a request
 * that would quietly ignore the platform. Returns the OCI platform as the API's JSON.
 */
export async function platformQuery(ctx: Invocation, platform: string, minApi: string): Promise<string> {
  const client = await ctx.client();
  const ApiVersion = (await client.version()).ApiVersion ?? '1.24';
  if (compareVersions(ApiVersion, minApi) < 0) {
    throw new StatusError(1, `"--platform" requires API version ${minApi}, but the berth daemon API version is ${ApiVersion}`);
  }
  return JSON.stringify(parsePlatform(platform));
}

/** `os[/arch[/variant]]` → `{ os, architecture, variant }`. */
export function parsePlatform(p: string): { os: string; architecture?: string; variant?: string } {
  const [os, architecture, variant, extra] = p.toLowerCase().split('/');
  if (!os || extra !== undefined) throw new StatusError(125, `invalid platform: "${p}": expected os[/arch[/variant]]`);
  return { os, ...(architecture ? { architecture } : {}), ...(variant ? { variant } : {}) };
}

function compareVersions(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}
