import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { Logger } from '../common/logger.js';
import { NotFoundError, InvalidParameterError } from '../common/errors.js';
import { messageFromError, statusFromError } from './http-status.js';
import { splitVersion, API_VERSION } from './version.js';
import { Router, sendJson, type RouteContext } from './router.js';

export interface ApiServerOptions {
  router: Router;
  log: Logger;
  /** Headers set on every response (Api-Version, Server, …). */
  headers?: Record<string, string>;
  /** Serve HTTPS with these options (certificates, client verification) instead of plain HTTP. */
  tls?: https.ServerOptions;
  /** TCP listeners: refuses a request whose Host header is not allowed (request-guards.ts makeHostCheck). */
  checkHost?: (req: IncomingMessage) => void;
  /** Overrides of REQUEST_TIMEOUT_MS / HEADERS_TIMEOUT_MS (tests). */
  timeouts?: { requestMs: number; headersMs: number };
}

/** An Engine API server: plain HTTP (UNIX sockets, loopback) or HTTPS (tcp:// with TLS). */
export type ApiServer = http.Server | https.Server;

/**
 * The Engine API HTTP server: strips the `/vX.Y` prefix, dispatches through the router,
 * turns thrown errors into Docker's `{"message": ...}` bodies (one mapping, http-status.ts),
 * and supports hijacked connections for attach/exec (both `Upgrade: tcp` requests, which
 * Node delivers through the 'upgrade' event, and plain ones).
 */
export function createApiServer(options: ApiServerOptions & { tls?: undefined }): http.Server;
export function createApiServer(options: ApiServerOptions): ApiServer;
export function createApiServer(options: ApiServerOptions): ApiServer {
  const { router, log } = options;
  // requestTimeout bounds the time to receive a whole request (headers and body): with 0, a
  // client trickling a body held a connection forever (issue 24 item 8). Hijacked streams and
  // long responses (logs -f, events, pulls) are not affected: the timer stops once the
  // request is received. Build contexts and image loads are uploads of their own size, so the
  // bound is generous.
  const requestTimeout = options.timeouts?.requestMs ?? REQUEST_TIMEOUT_MS;
  const headersTimeout = options.timeouts?.headersMs ?? HEADERS_TIMEOUT_MS;
  // Node checks the two timeouts every connectionsCheckingInterval (30 s by default).
  const timeouts = { requestTimeout, headersTimeout, keepAliveTimeout: 30_000, connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(headersTimeout / 4))) };
  // allowHalfOpen: a hijacked TLS stream must keep sending output after the client half-closes
  // (docker sends close_notify once stdin is done); the plain server has it already.
  const server: ApiServer = options.tls ? https.createServer({ ...options.tls, ...timeouts, allowHalfOpen: true }) : http.createServer(timeouts);
  const hijacked = new Set<Duplex>();
  HIJACKED.set(server, hijacked);

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    void dispatch(req, res, false);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node hands over the raw socket; a ServerResponse on it lets ordinary handlers (and
    // errors raised before the hijack) answer as usual.
    if (head.length) socket.unshift(head);
    const res = new http.ServerResponse(req);
    res.assignSocket(socket as never);
    res.shouldKeepAlive = false;
    void dispatch(req, res, true);
  });
  server.on('clientError', (err, socket) => {
    if ((socket as Duplex & { berthHijacked?: boolean }).berthHijacked) return;
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
    log.debug({ err }, 'client error');
  });

  async function dispatch(req: IncomingMessage, res: ServerResponse, upgrade: boolean): Promise<void> {
    // Per-request costs, measured with a CPU profile of 24,000 keep-alive /_ping and
    // /containers/json requests (issue 17 item 7: 0.28 ms each against dockerd's 0.16): a
    // random request id cost 6 us (randomFillSync), and a pino child logger and two debug
    // records were made for every request at info level. The id is now a per-process counter,
    // and the child logger is made only when a handler or an error uses it.
    const reqId = (REQ_BASE + ++reqCounter).toString(16).slice(-8);
    let childLog: Logger | undefined;
    const rlog = (): Logger => (childLog ??= log.child({ reqId }));
    let isHijacked = false;
    for (const [k, v] of Object.entries(options.headers ?? {})) res.setHeader(k, v);
    try {
      options.checkHost?.(req);
      const url = new URL(req.url ?? '/', 'http://berth');
      const { version, path } = splitVersion(url.pathname);
      const method = req.method === 'HEAD' && !router.find('HEAD', path) ? 'GET' : req.method ?? 'GET';
      const match = router.find(method, path);
      if (log.isLevelEnabled('debug')) {
        const t0 = performance.now();
        rlog().debug({ method: req.method, url: req.url }, 'request');
        res.once('finish', () => rlog().debug({ status: res.statusCode, ms: +(performance.now() - t0).toFixed(1) }, 'response'));
      }
      if (!match) {
        if (router.has(path)) throw new InvalidParameterError(`method ${req.method} not allowed for ${path}`);
        throw new NotFoundError(`page not found`);
      }
      const ctx: RouteContext = {
        req, res, params: match.params, query: url.searchParams, apiVersion: version,
        get log() {
          return rlog();
        },
        hijack(contentType = 'application/vnd.docker.raw-stream') {
          isHijacked = true;
          const socket = req.socket as Duplex & { berthHijacked?: boolean };
          socket.berthHijacked = true;
          hijacked.add(socket);
          socket.once('close', () => hijacked.delete(socket));
          res.detachSocket(req.socket);
          const head = upgrade
            ? `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`
            : `HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\nConnection: close\r\n\r\n`;
          socket.write(head);
          return socket;
        },
      };
      await match.handler(ctx);
    } catch (err) {
      const status = statusFromError(err);
      if (status >= 500) rlog().error({ err, method: req.method, url: req.url }, 'request failed');
      else if (log.isLevelEnabled('debug')) rlog().debug({ status, message: (err as Error).message }, 'request refused');
      if (isHijacked) {
        req.socket.destroy();
        return;
      }
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (status === 304) {
        res.writeHead(304);
        res.end();
      } else {
        sendJson(res, status, { message: messageFromError(err) });
      }
    }
  }

  return server;
}

/** Time allowed to send a request's headers, and its headers and body (Node's server timeouts). */
export const HEADERS_TIMEOUT_MS = 60_000;
export const REQUEST_TIMEOUT_MS = 15 * 60_000;

const HIJACKED = new WeakMap<ApiServer, Set<Duplex>>();
/** Request ids: a counter from a random start, 8 hex digits. */
const REQ_BASE = 0x100000000 + Math.floor(Math.random() * 0x7fffffff);
let reqCounter = 0;

/** Stops listening and ends every connection, hijacked streams included (they are no longer HTTP). */
export async function closeApiServer(server: ApiServer): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  for (const s of HIJACKED.get(server) ?? []) s.destroy();
  await closed;
}

/** Headers every response carries, as dockerd does. */
export function defaultHeaders(serverVersion: string, experimental = false): Record<string, string> {
  return {
    'Api-Version': API_VERSION,
    'Docker-Experimental': String(experimental),
    Ostype: 'linux',
    Server: `Docker/${serverVersion} (linux)`,
  };
}
