import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';

/**
 * A fake Docker Engine API on a temporary UNIX socket, for CLI and client tests: routes are
 * plain functions keyed by `METHOD /path` (path without the `/vX.Y` prefix; `{id}` matches one
 * segment), every request is recorded, and `upgrade` routes get the raw socket as a hijacked
 * attach does. Not a model of the daemon: each test scripts the answers it needs.
 */
export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export type FakeRoute = (req: RecordedRequest, res: ServerResponse) => void | Promise<void>;
export type FakeUpgradeRoute = (req: RecordedRequest, socket: Duplex) => void | Promise<void>;

export class FakeDaemon {
  readonly requests: RecordedRequest[] = [];
  readonly #routes = new Map<string, FakeRoute>();
  readonly #upgrades = new Map<string, FakeUpgradeRoute>();
  readonly #dir: string;
  readonly socketPath: string;
  readonly #server: Server;
  readonly #hijacked = new Set<Duplex>();
  #closed = false;

  constructor() {
    this.#dir = mkdtempSync(join(tmpdir(), 'berth-fake-'));
    this.socketPath = join(this.#dir, 'api.sock');
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.#handleUpgrade(req, socket, head));
  }

  /** `unix://…` address for BERTH_HOST. */
  get host(): string {
    return `unix://${this.socketPath}`;
  }

  on(method: string, path: string, route: FakeRoute): this {
    this.#routes.set(`${method} ${path}`, route);
    return this;
  }

  onUpgrade(method: string, path: string, route: FakeUpgradeRoute): this {
    this.#upgrades.set(`${method} ${path}`, route);
    return this;
  }

  /** `METHOD path?query` of each request so far, for asserting the sequence. */
  calls(): string[] {
    return this.requests.map((r) => `${r.method} ${r.path}${r.query.size ? `?${r.query}` : ''}`);
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.#server.listen(this.socketPath, resolve));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Hijacked sockets are no longer the HTTP server's; close them ourselves.
    for (const s of this.#hijacked) s.destroy();
    this.#server.closeAllConnections();
    await new Promise((r) => this.#server.close(r));
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #find<T>(table: Map<string, T>, method: string, path: string): T | undefined {
    const exact = table.get(`${method} ${path}`);
    if (exact) return exact;
    for (const [key, route] of table) {
      const [m, pattern] = key.split(' ') as [string, string];
      if (m !== method) continue;
      const re = new RegExp(`^${pattern.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);
      if (re.test(path)) return route;
    }
    return undefined;
  }

  async #record(req: IncomingMessage, readBody: boolean): Promise<RecordedRequest> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const chunks: Buffer[] = [];
    if (readBody) for await (const c of req) chunks.push(c as Buffer);
    const rec = {
      method: req.method ?? 'GET',
      path: url.pathname.replace(/^\/v\d+\.\d+/, ''),
      query: url.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks),
    };
    this.requests.push(rec);
    return rec;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rec = await this.#record(req, true);
    const route = this.#find(this.#routes, rec.method, rec.path);
    if (!route) {
      sendJson(res, 404, { message: `page not found: ${rec.method} ${rec.path}` });
      return;
    }
    await route(rec, res);
  }

  async #handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    this.#hijacked.add(socket);
    socket.once('close', () => this.#hijacked.delete(socket));
    const rec = await this.#record(req, false);
    if (head.length) socket.unshift(head);
    const route = this.#find(this.#upgrades, rec.method, rec.path);
    if (!route) {
      const body = JSON.stringify({ message: `page not found: ${rec.method} ${rec.path}` });
      socket.end(`HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      return;
    }
    await route(rec, socket);
  }
}

/** Writes a JSON answer. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
  res.end(data);
}

/** The 101 answer a daemon gives to an attach request, before streaming frames. */
export function upgradeResponse(contentType = 'application/vnd.docker.multiplexed-stream'): string {
  return `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`;
}
