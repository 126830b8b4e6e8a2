/**
 * Where the daemon listens, and how `node:http` reaches it. A transport only turns a host
 * string (`-H`, `BERTH_HOST`, `DOCKER_HOST`) into request options; the client does the HTTP.
 * `unix://` is supported; `tcp://` (with TLS) plugs in here later as another factory.
 */

/** Default daemon address, as DESIGN.md fixes it. */
export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';

/** node:http options that route a request to the daemon. */
export type TransportOptions = { socketPath: string } | { host: string; port: number };

export interface Transport {
  /** The address as the user would write it, for messages (`unix:///run/berth/berth.sock`). */
  readonly url: string;
  /** Request options for node:http (`socketPath`, or `host`+`port`). */
  readonly options: TransportOptions;
}

/** Thrown for a host string berth cannot use. */
export class InvalidHostError extends Error {
  readonly code = 'BERTH_ERR_INVALID_HOST';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidHostError';
  }
}

type Factory = (rest: string, url: string) => Transport;

const FACTORIES: Record<string, Factory> = {
  unix(rest, url) {
    if (!rest.startsWith('/')) throw new InvalidHostError(`invalid unix socket path: "${url}"`);
    return { url, options: { socketPath: rest } };
  },
};

/** Parses a daemon address such as `unix:///run/berth/berth.sock` (a bare path means unix). */
export function parseHost(host: string): Transport {
  if (host.startsWith('/')) return FACTORIES.unix!(host, `unix://${host}`);
  const m = /^([a-z0-9+]+):\/\/(.*)$/i.exec(host);
  if (!m) throw new InvalidHostError(`unable to parse docker host \`${host}\``);
  const scheme = m[1]!.toLowerCase();
  const factory = FACTORIES[scheme];
  if (!factory) {
    if (scheme === 'tcp' || scheme === 'http' || scheme === 'https') {
      throw new InvalidHostError(`${scheme}:// hosts are not supported yet: "${host}"`);
    }
    throw new InvalidHostError(`Invalid bind address format: ${host}`);
  }
  return factory(m[2]!, host);
}

/** The daemon address: `-H`, then `BERTH_HOST`, then `DOCKER_HOST`, then the default socket. */
export function resolveHost(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag || env.BERTH_HOST || env.DOCKER_HOST || DEFAULT_HOST;
}
