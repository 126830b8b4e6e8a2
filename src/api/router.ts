import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import FindMyWay from 'find-my-way';
import type { Logger } from '../common/logger.js';
import { InvalidParameterError } from '../common/errors.js';
import { checkJsonContentType } from './request-guards.js';

/** Everything a route handler gets. Handlers throw BerthErrors; the server maps them to statuses. */
export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The API version the client asked for (from the `/vX.Y/` prefix), or the server's own. */
  apiVersion: string;
  log: Logger;
  /**
   * Takes over the connection for a raw stream, as Docker's attach/exec do (`Upgrade: tcp` →
   * 101 Switching Protocols, or 200 with `application/vnd.docker.raw-stream`). Returns the
   * socket; the handler owns it from then on.
   */
  hijack(contentType?: string): Duplex;
}

export type Handler = (ctx: RouteContext) => Promise<void> | void;
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';

/** A route table over find-my-way; paths are given without the `/vX.Y` prefix. */
export class Router {
  readonly #fmw = FindMyWay({ ignoreTrailingSlash: true, caseSensitive: true, maxParamLength: 4096 });
  readonly #handlers = new Map<string, Handler>();
  readonly #routes: Array<{ method: Method; path: string }> = [];

  /** Every route, in registration order (the fuzzer and the docs walk them). */
  routes(): ReadonlyArray<{ method: Method; path: string }> {
    return this.#routes;
  }

  on(method: Method, path: string, handler: Handler): void {
    const key = `${method} ${path}`;
    this.#handlers.set(key, handler);
    this.#routes.push({ method, path });
    this.#fmw.on(method, path, () => {}, { key });
  }

  get(path: string, handler: Handler): void {
    this.on('GET', path, handler);
  }
  post(path: string, handler: Handler): void {
    this.on('POST', path, handler);
  }
  put(path: string, handler: Handler): void {
    this.on('PUT', path, handler);
  }
  delete(path: string, handler: Handler): void {
    this.on('DELETE', path, handler);
  }
  head(path: string, handler: Handler): void {
    this.on('HEAD', path, handler);
  }

  /** The handler and path parameters for a request, or undefined. */
  find(method: string, path: string): { handler: Handler; params: Record<string, string> } | undefined {
    const m = this.#fmw.find(method as Method, path);
    if (!m) return undefined;
    const key = (m.store as { key: string }).key;
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(m.params)) if (v !== undefined) params[k] = v;
    return { handler: this.#handlers.get(key)!, params };
  }

  /** Whether any method serves this path (to answer 405-ish requests with 404 like Docker). */
  has(path: string): boolean {
    return (['GET', 'POST', 'PUT', 'DELETE', 'HEAD'] as Method[]).some((m) => this.#fmw.find(m, path));
  }
}

/** Writes a JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
  res.end(data);
}

/** Ends with a status and no body (204, 304). */
export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}

/**
 * Reads and parses a JSON request body; an empty body is `{}`. Malformed JSON is a 400, and
 * so is a body without `Content-Type: application/json` (Docker's rule; request-guards.ts).
 */
export async function readJson<T = Record<string, unknown>>(req: IncomingMessage, limit = 16 << 20): Promise<T> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new InvalidParameterError('request body is too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  checkJsonContentType(req, size > 0);
  if (!text) return {} as T;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new InvalidParameterError(`invalid JSON: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidParameterError('invalid JSON: expected an object');
  }
  return value as T;
}

/** Docker's boolean query parameters: `1`, `true`, `True` are true; absent is `dflt`. */
export function queryBool(q: URLSearchParams, name: string, dflt = false): boolean {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  return !['0', 'false', 'False', 'FALSE', 'no'].includes(v);
}

/** An integer query parameter; malformed values are a 400. */
export function queryInt(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidParameterError(`invalid value for ${name}: ${JSON.stringify(v)}`);
  return n;
}

/** Docker's `filters` query parameter: JSON of `{key: [values]}` or the old `{key: {value: true}}`. */
export function queryFilters(q: URLSearchParams): Map<string, string[]> {
  const raw = q.get('filters');
  const out = new Map<string, string[]>();
  if (!raw) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidParameterError(`invalid filter: ${raw}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidParameterError(`invalid filter: ${raw}`);
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(v)) out.set(k, v.map(String));
    else if (v && typeof v === 'object') out.set(k, Object.keys(v as object).filter((x) => (v as Record<string, unknown>)[x]));
    else throw new InvalidParameterError(`invalid filter: ${raw}`);
  }
  return out;
}
