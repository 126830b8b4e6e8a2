/**
 * berthd's desktop dashboard server (issue 19): static files, the token/cookie door
 * (ui-guard.ts), `/api/…` relayed to the Engine API over the daemon's socket (api-link.ts) and
 * `/ws`, the WebSocket bridge for streams and exec terminals (stream-bridge.ts).
 *
 * Lifecycle: the daemon calls startUiServer after its API listeners are up, and close() before
 * they go down. It is off unless `--ui` / daemon.json "ui" is set.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import type { Duplex } from 'node:stream';
import { SystemError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { ApiLink } from './api-link.js';
import { StaticFiles } from './static-files.js';
import { serveBridge } from './stream-bridge.js';
import { allowedHostsFor, checkRequest, securityHeaders, type GuardOptions } from './ui-guard.js';
import type { UiAddress } from './ui-address.js';
import { createUiSocketServer } from './websocket.js';

export interface UiServerOptions {
  address: UiAddress;
  token: string;
  /** The daemon's UNIX socket, through which every engine call goes. */
  apiSocket: string;
  /** HTTPS with the daemon's certificates and client verification, when it has TLS. */
  tls?: https.ServerOptions;
  log: Logger;
  /** Where the built front end is (default dist/web). */
  webRoot?: string;
}

export interface UiServer {
  /** The address to open, with the token: what `berth desktop` prints. */
  readonly url: string;
  close(): Promise<void>;
}

const API_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE']);

export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const { log } = options;
  const files = await StaticFiles.load(options.webRoot);
  const api = new ApiLink(options.apiSocket);
  const sockets = createUiSocketServer();
  const scheme = options.tls ? 'https' : 'http';
  const server = options.tls ? https.createServer({ ...options.tls }) : http.createServer();
  server.headersTimeout = 30_000;
  let guard: GuardOptions | undefined;

  const refuse = (res: ServerResponse, status: number, message: string) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...securityHeaders() });
    res.end(JSON.stringify({ message }));
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    try {
      const verdict = checkRequest({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers }, guard!);
      if (!verdict.ok) {
        log.debug({ status: verdict.status, url: req.url?.replace(/token=[^&]*/, 'token=…'), reason: verdict.message }, 'desktop request refused');
        return refuse(res, verdict.status, verdict.message);
      }
      if (verdict.redirect !== undefined) {
        res.writeHead(303, { Location: verdict.redirect, 'Set-Cookie': verdict.setCookie!, 'Cache-Control': 'no-store', ...securityHeaders() });
        return res.end();
      }
      for (const [k, v] of Object.entries(securityHeaders())) res.setHeader(k, v);
      const url = req.url ?? '/';
      if (url.startsWith('/api/')) {
        if (!API_METHODS.has(req.method ?? '')) return refuse(res, 405, `method ${req.method} not allowed`);
        return api.forward(req, res, url.slice(4));
      }
      if ((req.method === 'GET' || req.method === 'HEAD') && files.serve(req, res, url.split('?')[0]!)) return;
      refuse(res, 404, 'page not found');
    } catch (err) {
      log.error({ err }, 'desktop request failed');
      if (!res.headersSent) refuse(res, 500, 'internal error');
      else res.destroy();
    }
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      upgrade(req, socket, head);
    } catch (err) {
      log.error({ err }, 'desktop upgrade failed');
      socket.destroy();
    }
  });
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const verdict = checkRequest({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, upgrade: true }, guard!);
    const path = (req.url ?? '').split('?')[0];
    if (!verdict.ok || path !== '/ws' || String(req.headers['upgrade']).toLowerCase() !== 'websocket') {
      const status = verdict.ok ? 404 : verdict.status;
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    sockets.accept(req, socket, head, (ws) => serveBridge(ws, api, log));
  };
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => reject(new SystemError(`failed to serve the desktop UI on ${options.address.host}:${options.address.port}: ${e.message}`, { cause: e }));
    server.once('error', onError);
    server.listen({ host: options.address.host, port: options.address.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  guard = { token: options.token, scheme, allowedHosts: allowedHostsFor(options.address.host, port, wildcardNames(options.address.host)) };
  const shownHost = options.address.host.includes(':') ? `[${options.address.host}]` : options.address.host;
  const url = `${scheme}://${shownHost}:${port}/?token=${options.token}`;
  log.info({ url: `${scheme}://${shownHost}:${port}/` }, 'desktop UI listening (berth desktop prints the URL with its token)');

  return {
    url,
    async close() {
      sockets.close();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** A listener on every address (TLS only) answers to this host's names and addresses. */
function wildcardNames(host: string): string[] {
  if (host !== '0.0.0.0' && host !== '::') return [];
  const addrs = Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address));
  return [hostname(), ...addrs];
}
