/**
 * berthd's listeners: one API server per `--host` address, all carrying the same router.
 *
 * - `unix:///path`: plain HTTP on a UNIX socket, mode 0660, group `berth` when it exists.
 * - `tcp://ADDR:PORT` with `--tlsverify`: HTTPS demanding a client certificate signed by the
 *   configured CA (mutual TLS). A client speaking plain HTTP to it gets dockerd's
 *   "Client sent an HTTP request to an HTTPS server." and nothing else.
 * - `tcp://LOOPBACK:PORT` with `--insecure-tcp`: plain HTTP, with a warning in the log.
 *
 * config.ts has already refused every other combination; this module only opens sockets.
 * Hijacked streams (attach, exec) need nothing special over TLS: the server hands the
 * TLSSocket to the route as it does a plain socket.
 */
import { chmod, chown, mkdir, readFile, rm } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { hostname } from 'node:os';
import { certificateNames } from '../api/request-guards.js';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { SystemError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { ApiServer } from '../api/server.js';
import type { DaemonTlsConfig, ListenAddress } from './config.js';

export interface ListenOptions {
  listen: ListenAddress[];
  tls?: DaemonTlsConfig;
  /** Group owning UNIX sockets (`berth`); sockets stay root-only when it does not exist. */
  group: string;
  /** Makes an API server (HTTPS when `tls` is given) with the daemon's router. */
  makeServer: (tls?: HttpsServerOptions, tcp?: { allowedHosts: string[] }) => ApiServer;
  /** Names besides IP literals and localhost that TCP listeners accept in the Host header (`api-allowed-hosts`). */
  allowedHosts?: string[];
  /** Closes a server made by makeServer, hijacked streams included. */
  closeServer: (server: ApiServer) => Promise<void>;
  log: Logger;
}

/** The open listeners; `close()` stops them all and removes the UNIX socket files. */
export interface Listeners {
  close(): Promise<void>;
}

interface Opened {
  server: ApiServer;
  address: ListenAddress;
  pending?: Set<Socket>;
}

/** Opens every address; on a failure closes those already open and throws SystemError. */
export async function listenAll(options: ListenOptions): Promise<Listeners> {
  const { log } = options;
  const opened: Opened[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(
      opened.map(async (o) => {
        for (const s of o.pending ?? []) s.destroy();
        await options.closeServer(o.server);
        if (o.address.kind === 'unix') await rm(o.address.path, { force: true });
      }),
    );
  };
  // The machine's own name is what a remote client naturally uses; DNS rebinding needs a name of the attacker's.
  const allowedHosts = [hostname(), ...(options.allowedHosts ?? [])];
  const tlsOptions = options.listen.some((a) => a.kind === 'tcp') && options.tls?.verify ? await loadTls(options.tls) : undefined;
  try {
    for (const address of options.listen) {
      if (address.kind === 'unix') {
        const server = options.makeServer();
        opened.push({ server, address });
        await listenUnix(server, address.path, options.group, log);
      } else if (tlsOptions) {
        const server = options.makeServer(tlsOptions, { allowedHosts: [...allowedHosts, ...certificateNames(new X509Certificate(tlsOptions.cert as Buffer).subjectAltName)] });
        const pending = refusePlainHttp(server, log);
        opened.push({ server, address, pending });
        await listenTcp(server, address);
        log.info({ host: address.url }, 'listening with mutual TLS (client certificates required)');
      } else {
        const server = options.makeServer(undefined, { allowedHosts });
        opened.push({ server, address });
        await listenTcp(server, address);
        log.warn(
          { host: address.url },
          `listening on ${address.url} without TLS (--insecure-tcp): every local user and process can reach this API, which is root on this machine`,
        );
      }
    }
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  return { close };
}

/** Reads the CA, certificate and key, and checks that they make a usable TLS context. */
export async function loadTls(tls: DaemonTlsConfig): Promise<HttpsServerOptions> {
  const read = async (what: string, path: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (e) {
      throw new SystemError(`could not read ${what} "${path}": ${(e as Error).message}`, { cause: e });
    }
  };
  const options: HttpsServerOptions = {
    ca: await read('CA certificate', tls.caFile),
    cert: await read('TLS certificate', tls.certFile),
    key: await read('TLS key', tls.keyFile),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  };
  try {
    createSecureContext(options);
  } catch (e) {
    throw new SystemError(`invalid TLS configuration (${tls.certFile}, ${tls.keyFile}, ${tls.caFile}): ${(e as Error).message}`, { cause: e });
  }
  return options;
}

const PEEK_TIMEOUT_MS = 30_000;
const TLS_HANDSHAKE = 0x16;

/**
 * Puts a look at the first byte in front of the TLS handshake: a TLS client starts with a
 * handshake record (0x16); anything else is answered as Go's net/http answers it (the docker
 * CLI prints that line), and the connection is closed before any request is read.
 * Returns the set of connections still in that first phase, so close() can end them.
 */
function refusePlainHttp(server: ApiServer, log: Logger): Set<Socket> {
  const pending = new Set<Socket>();
  const tlsListeners = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    pending.add(socket);
    socket.on('error', () => socket.destroy());
    socket.setTimeout(PEEK_TIMEOUT_MS, () => socket.destroy());
    socket.once('close', () => pending.delete(socket));
    socket.once('readable', () => {
      pending.delete(socket);
      socket.setTimeout(0);
      const first = socket.read(1) as Buffer | null;
      if (!first) {
        socket.destroy();
        return;
      }
      socket.unshift(first);
      if (first[0] === TLS_HANDSHAKE) {
        for (const l of tlsListeners) l.call(server, socket);
        return;
      }
      log.debug({ remote: socket.remoteAddress }, 'plain HTTP on the TLS port refused');
      const body = 'Client sent an HTTP request to an HTTPS server.\n';
      socket.end(`HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    });
  });
  server.on('tlsClientError', (err: Error, socket: Socket) => {
    log.debug({ remote: socket.remoteAddress, err: err.message }, 'TLS handshake refused');
  });
  return pending;
}

async function listenTcp(server: ApiServer, address: Extract<ListenAddress, { kind: 'tcp' }>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => reject(new SystemError(`failed to listen on ${address.url}: ${e.message}`, { cause: e }));
    server.once('error', onError);
    server.listen({ host: address.host, port: address.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Listens on a UNIX socket, replacing a stale one, mode 0660 and group `berth` when it exists. */
async function listenUnix(server: ApiServer, path: string, group: string, log: Logger): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await rm(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => reject(new SystemError(`failed to listen on unix://${path}: ${e.message}`, { cause: e }));
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve();
    });
  });
  await chmod(path, 0o660);
  const gid = groupId(group);
  if (gid !== undefined) await chown(path, 0, gid);
  else log.debug({ group }, 'socket group does not exist; socket is root-only');
}

function groupId(name: string): number | undefined {
  try {
    const text = execFileSync('getent', ['group', name], { encoding: 'utf8' });
    const gid = Number(text.split(':')[2]);
    return Number.isInteger(gid) ? gid : undefined;
  } catch {
    return undefined;
  }
}
