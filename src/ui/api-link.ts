/**
 * How the dashboard reaches the engine: over the daemon's own UNIX socket, as every other client
 * does (issue 19: "it talks only to the same Docker Engine API"). `forward` relays one browser
 * request (the `/api/…` prefix removed); `open` and `hijack` serve the WebSocket bridge.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** Request headers passed on to the engine; cookies, Origin and the browser's Host stay here. */
const FORWARDED_HEADERS = ['content-type', 'content-length', 'x-registry-auth', 'accept'];
/** Response headers passed back; never any Access-Control-* (no CORS). */
const RETURNED_HEADERS = ['content-type', 'content-length', 'api-version', 'docker-experimental', 'ostype', 'server', 'x-docker-container-path-stat'];

export class ApiLink {
  readonly #socketPath: string;

  constructor(socketPath: string) {
    this.#socketPath = socketPath;
  }

  /** Relays `req` to the engine's `path` and pipes the answer (streams included) back. */
  forward(req: IncomingMessage, res: ServerResponse, path: string): void {
    const headers: Record<string, string> = { host: 'berth' };
    for (const h of FORWARDED_HEADERS) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const up = http.request({ socketPath: this.#socketPath, method: req.method, path, headers }, (answer) => {
      const out: Record<string, string> = { 'Cache-Control': 'no-store' };
      for (const h of RETURNED_HEADERS) {
        const v = answer.headers[h];
        if (typeof v === 'string') out[h] = v;
      }
      res.writeHead(answer.statusCode ?? 502, out);
      answer.pipe(res);
      res.once('close', () => answer.destroy());
    });
    up.on('error', (err) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: `engine unreachable: ${err.message}` }));
      } else res.destroy();
    });
    // A browser closing the tab ends a log or event stream on the engine too.
    res.once('close', () => up.destroy());
    req.pipe(up);
  }

  /** A plain request; the caller reads (or destroys) the answer. */
  open(method: string, path: string, options: { body?: unknown; signal?: AbortSignal } = {}): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
      const req = http.request(
        { socketPath: this.#socketPath, method, path, signal: options.signal, headers: { host: 'berth', ...(payload ? { 'Content-Type': 'application/json' } : {}) } },
        resolve,
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** A request whose body is JSON; rejects with the engine's message on an error status. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.open(method, path, { body });
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString();
    if ((res.statusCode ?? 500) >= 400) {
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        /* not JSON: keep the text */
      }
      throw new Error(message);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** POSTs `body` to `path` with `Upgrade: tcp` and returns the hijacked connection. */
  hijack(path: string, body: unknown): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const payload = Buffer.from(JSON.stringify(body));
      const req = http.request({
        socketPath: this.#socketPath,
        method: 'POST',
        path,
        headers: { host: 'berth', 'Content-Type': 'application/json', 'Content-Length': String(payload.length), Connection: 'Upgrade', Upgrade: 'tcp' },
      });
      req.on('upgrade', (_res, socket, head) => {
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let message = text;
          try {
            message = (JSON.parse(text) as { message?: string }).message ?? text;
          } catch {
            /* keep the text */
          }
          reject(new Error(message || `engine answered ${res.statusCode}`));
        });
      });
      req.on('error', reject);
      req.end(payload);
    });
  }
}
