/**
 * Where the daemon listens, and how `node:http` reaches it. A transport only turns a host
 * string (`-H`, `BERTH_HOST`, `DOCKER_HOST`, a context's endpoint) into request options and a
 * connection pool; the client does the HTTP. `unix://` and `tcp://` (plain, or TLS when TLS
 * settings are given, see tls.ts) are supported.
 */
import { Agent } from 'node:http';
import { existsSync } from 'node:fs';
import type { ClientTls } from './tls.js';

/** Default daemon address, as DESIGN.md fixes it. */
export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';

/**
 * The address used when none is given (issue 21): for a non-root user whose rootless berthd is
 * running, its socket `$XDG_RUNTIME_DIR/berth/berth.sock`; otherwise the system daemon's (a user
 * in the `berth` group reaches the rootful daemon as before). Docker's CLI needs DOCKER_HOST or
 * a context for its rootless daemon; berth finds it, and `DOCKER_HOST`/contexts still win.
 */
export function defaultHost(env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? 0): string {
  const run = env.XDG_RUNTIME_DIR;
  if (uid !== 0 && run && run.startsWith('/')) {
    const sock = `${run.replace(/\/+$/, '')}/berth/berth.sock`;
    if (existsSync(sock)) return `unix://${sock}`;
  }
  return DEFAULT_HOST;
}

/** node:http options that route a request to the daemon. */
export type TransportOptions = { socketPath: string } | { host: string; port: number; protocol?: 'http:' | 'https:' };

export interface Transport {
  /** The address as the user would write it, for messages (`unix:///run/berth/berth.sock`). */
  readonly url: string;
  /** Request options for node:http (`socketPath`, or `host`+`port`). */
  readonly options: TransportOptions;
  /**
   * Makes the connection pool for this daemon (TLS transports dial with their certificates);
   * absent means node:http's plain Agent. `keepAlive: false` is for hijacked connections.
   */
  createAgent?(keepAlive: boolean): Agent;
}

/** Thrown for a host string berth cannot use. */
export class InvalidHostError extends Error {
  readonly code = 'BERTH_ERR_INVALID_HOST';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidHostError';
  }
}

type Factory = (rest: string, url: string, tls: ClientTls | undefined) => Transport;

const FACTORIES: Record<string, Factory> = {
  unix(rest, url) {
    if (!rest.startsWith('/')) throw new InvalidHostError(`invalid unix socket path: "${url}"`);
    return { url, options: { socketPath: rest } };
  },
  tcp(rest, url, tls) {
    // tcp://HOST:PORT, tcp://[::1]:PORT; as docker, the port defaults to 2376 with TLS, else 2375.
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:/[\]]+)(?::(\d+))?\/?$/.exec(rest);
    if (!m) throw new InvalidHostError(`Invalid bind address format: ${url}`);
    const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
    const port = m[2] === undefined ? (tls ? 2376 : 2375) : Number(m[2]);
    if (!(port >= 1 && port <= 65535)) throw new InvalidHostError(`invalid port in ${url}`);
    if (!tls) return { url, options: { host, port } };
    return {
      url,
      options: { host, port, protocol: 'https:' },
      createAgent: (keepAlive) =>
        // node:https (and tls) loaded only here: ~3-4 ms of every CLI command that talks plain HTTP.
        new (process.getBuiltinModule('node:https').Agent)({
          keepAlive,
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          rejectUnauthorized: tls.verify,
          minVersion: 'TLSv1.2',
        }),
    };
  },
};

/**
 * Parses a daemon address such as `unix:///run/berth/berth.sock` (a bare path means unix) or
 * `tcp://10.0.0.5:2376`; `tls` applies to tcp:// only.
 */
export function parseHost(host: string, options: { tls?: ClientTls } = {}): Transport {
  if (host.startsWith('/')) return FACTORIES.unix!(host, `unix://${host}`, undefined);
  const m = /^([a-z0-9+]+):\/\/(.*)$/i.exec(host);
  if (!m) throw new InvalidHostError(`unable to parse docker host \`${host}\``);
  const scheme = m[1]!.toLowerCase();
  const factory = FACTORIES[scheme];
  if (!factory) {
    if (scheme === 'http' || scheme === 'https' || scheme === 'ssh') {
      throw new InvalidHostError(`${scheme}:// hosts are not supported yet: "${host}"`);
    }
    throw new InvalidHostError(`Invalid bind address format: ${host}`);
  }
  return factory(m[2]!, host, options.tls);
}

/** The daemon address: `-H`, then `BERTH_HOST`, then `DOCKER_HOST`, then the default socket (see defaultHost). */
export function resolveHost(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag || env.BERTH_HOST || env.DOCKER_HOST || defaultHost(env);
}
