/**
 * The CRI streaming server: Exec, Attach and PortForward answer with a one-time URL on this
 * HTTP server, which the client (kubelet, crictl, critest) dials and upgrades to SPDY/3.1
 * (`v4.channel.k8s.io` … `channel.k8s.io` for exec/attach, `portforward.k8s.io`). A URL's token
 * is valid once, for one minute. The session protocols are in remote-command.ts and
 * port-forward.ts; the SPDY framing in spdy-session.ts.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../common/logger.js';
import type { ContainerService } from '../engine/container-service.js';
import { SpdySession } from './spdy-session.js';
import { serveRemoteCommand, REMOTE_COMMAND_PROTOCOLS } from './remote-command.js';
import { servePortForward, PORT_FORWARD_PROTOCOL } from './port-forward.js';

import type { StreamRequest } from './stream-request.js';

export type { StreamRequest };

const TOKEN_TTL_MS = 60_000;

export class StreamingServer {
  readonly #tokens = new Map<string, { req: StreamRequest; expires: number }>();
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #log: Logger;
  readonly #containers: ContainerService;
  #base = '';

  constructor(options: { containers: ContainerService; log: Logger }) {
    this.#log = options.log;
    this.#containers = options.containers;
    this.#server = createServer((req, res) => {
      res.writeHead(this.#take(req) ? 400 : 404, { 'Content-Type': 'text/plain' });
      res.end('this endpoint needs an upgrade to SPDY/3.1\n');
    });
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.#upgrade(req, socket, head));
  }

  async listen(address: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, address, () => resolve());
    });
    const a = this.#server.address();
    if (a && typeof a === 'object') this.#base = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  address(): string {
    return this.#base;
  }

  /** A one-time URL for a request. */
  register(req: StreamRequest): string {
    const now = Date.now();
    for (const [k, v] of this.#tokens) if (v.expires < now) this.#tokens.delete(k);
    const token = randomBytes(18).toString('base64url');
    this.#tokens.set(token, { req, expires: now + TOKEN_TTL_MS });
    return `${this.#base}/${req.kind}/${token}`;
  }

  #take(req: IncomingMessage): StreamRequest | undefined {
    const m = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)$/.exec((req.url ?? '').split('?')[0] ?? '');
    if (!m) return undefined;
    const t = this.#tokens.get(m[2]!);
    if (!t || t.req.kind !== m[1] || t.expires < Date.now()) return undefined;
    this.#tokens.delete(m[2]!);
    return t.req;
  }

  #upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => {});
    const r = this.#take(req);
    const reject = (status: string, msg: string): void => {
      socket.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(msg)}\r\nConnection: close\r\n\r\n${msg}`);
    };
    if (!r) return reject('404 Not Found', 'unknown or expired stream token\n');
    if (String(req.headers['upgrade'] ?? '').toLowerCase() !== 'spdy/3.1') return reject('400 Bad Request', 'only SPDY/3.1 upgrades are supported\n');
    const offered = String(req.headers['x-stream-protocol-version'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const supported = r.kind === 'portforward' ? [PORT_FORWARD_PROTOCOL] : REMOTE_COMMAND_PROTOCOLS;
    // The client lists what it speaks in its order of preference; the first one we speak wins.
    const protocol = offered.length ? offered.find((p) => supported.includes(p)) : r.kind === 'portforward' ? PORT_FORWARD_PROTOCOL : undefined;
    if (!protocol) return reject('403 Forbidden', `unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(offered)}, server supports ${JSON.stringify(supported)}\n`);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);
    const session = new SpdySession(socket, this.#log);
    if (head.length) session.feed(head);
    const done = r.kind === 'portforward'
      ? servePortForward(session, r, this.#log)
      : serveRemoteCommand(session, r, protocol, this.#containers, this.#log);
    done.catch((err: unknown) => this.#log.warn({ err }, 'streaming session failed')).finally(() => session.close());
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
