/**
 * The client's TLS settings, by the docker CLI's rules (docker/cli `cli/flags/options.go`):
 *
 * - TLS is on with `--tls`, `--tlsverify`, `DOCKER_TLS` or `DOCKER_TLS_VERIFY` (any value);
 *   `--tlsverify` (or `DOCKER_TLS_VERIFY`) also checks the daemon's certificate against the CA.
 * - The files default to `ca.pem`, `cert.pem`, `key.pem` in `DOCKER_CERT_PATH`, else the
 *   config directory (`~/.docker`). A default cert/key that does not exist is left out (no
 *   client certificate); a file named by a flag must exist.
 * - Only tcp:// hosts use TLS; UNIX sockets ignore all of it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What a TLS connection to the daemon presents and trusts. */
export interface ClientTls {
  /** Check the daemon's certificate (chain to `ca`, or the system roots, and its name/IP). */
  verify: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** The global TLS flags as the user gave them (undefined = not given). */
export interface TlsFlags {
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

/** A TLS file named by the user (or a context) could not be read. */
export class TlsConfigError extends Error {
  readonly code = 'BERTH_ERR_TLS_CONFIG';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TlsConfigError';
  }
}

function readPem(what: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TlsConfigError(`could not read ${what} "${path}": ${(e as Error).message}`, { cause: e });
  }
}

function exists(path: string): boolean {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Resolves the global TLS flags and environment; undefined when TLS is off. */
export function clientTlsFromFlags(flags: TlsFlags, env: NodeJS.ProcessEnv, configDir: string): ClientTls | undefined {
  const verify = flags.tlsverify ?? !!env.DOCKER_TLS_VERIFY;
  const on = flags.tlsverify !== undefined || verify || (flags.tls ?? !!env.DOCKER_TLS);
  if (!on) return undefined;
  const certPath = env.DOCKER_CERT_PATH || configDir;
  const caFile = flags.tlscacert ?? join(certPath, 'ca.pem');
  const certFile = flags.tlscert ?? join(certPath, 'cert.pem');
  const keyFile = flags.tlskey ?? join(certPath, 'key.pem');
  const out: ClientTls = { verify };
  // Without verification the CA is not needed (docker ignores it too).
  if (verify) out.ca = readPem('CA certificate', caFile);
  if (flags.tlscert !== undefined || exists(certFile)) out.cert = readPem('TLS certificate', certFile);
  if (flags.tlskey !== undefined || exists(keyFile)) out.key = readPem('TLS key', keyFile);
  if (!!out.cert !== !!out.key) throw new TlsConfigError('a TLS client certificate needs both --tlscert and --tlskey');
  return out;
}

/**
 * A connection error's message without OpenSSL's location prefix:
 * `…:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:…` → `remote error: tls:
 * tlsv13 alert certificate required` (close to Go's `remote error: tls: certificate required`).
 */
export function describeConnectError(err: Error): string {
  const m = /SSL routines:[^:]*:([^:]+):/.exec(err.message);
  if (!m) return err.message;
  const reason = m[1]!.trim();
  return /alert/.test(reason) ? `remote error: tls: ${reason.replace(/^(sslv3|tlsv1[0-9]*) alert /, '')}` : `tls: ${reason}`;
}
