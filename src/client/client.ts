import { Agent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { DaemonUnreachableError, errorFromBody } from './errors.js';
import type { Transport } from './transport.js';
import { describeConnectError } from './tls.js';
import type {
  ContainerCreateBody,
  ContainerCreateResponse,
  ContainerInspect,
  ContainerSummary,
  ContainerWaitResponse,
  ImageDeleteResponseItem,
  ImageSummary,
  SystemInfo,
  SystemVersion,
} from '../wire/api-types.js';
import { API_VERSION } from '../wire/api-version.js';

/** The API version berth's client speaks (wire/api-version.ts); sent as the `/vX.Y` path prefix. */
export { API_VERSION };

export type QueryValue = string | number | boolean | string[] | undefined | null;
export type Query = Record<string, QueryValue>;

export interface RequestOptions {
  query?: Query;
  /** A JSON-serialisable value, a Buffer, or a stream piped as the request body. */
  body?: unknown;
  headers?: OutgoingHttpHeaders;
  signal?: AbortSignal;
  /** Called once the whole request has been handed to the socket (before any answer). */
  onSent?: () => void;
}

/** A hijacked connection: a raw duplex stream (101 Switching Protocols) to the container's stdio. */
export interface HijackedStream {
  socket: Duplex;
  /** `application/vnd.docker.multiplexed-stream` or `application/vnd.docker.raw-stream`, when the daemon said. */
  contentType: string | undefined;
}

/** Docker's filter JSON as its CLI sends it: `{"status":{"exited":true}}`. */
export function encodeFilters(filters: Array<[string, string]>): string | undefined {
  if (filters.length === 0) return undefined;
  const out: Record<string, Record<string, boolean>> = {};
  for (const [k, v] of filters) (out[k] ??= {})[v] = true;
  return JSON.stringify(out);
}

/** Encodes a name or ID for a path segment; image references keep their `/` and `:`. */
export function pathPart(s: string): string {
  return encodeURIComponent(s).replace(/%2F/gi, '/').replace(/%3A/gi, ':');
}

function buildQuery(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === false) continue;
    if (Array.isArray(v)) for (const item of v) params.append(k, item);
    else params.append(k, v === true ? '1' : String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function isReadable(v: unknown): v is Readable {
  return typeof v === 'object' && v !== null && typeof (v as Readable).pipe === 'function';
}

/**
 * A Docker Engine API client over node:http. One instance per CLI invocation; `close()` drops
 * pooled connections. Every method sends one request (listed in its doc comment) and throws
 * `ApiError` for a 4xx/5xx answer and `DaemonUnreachableError` when nothing listens.
 */
export class ApiClient {
  readonly transport: Transport;
  readonly apiVersion: string;
  readonly #agent: Agent;

  constructor(transport: Transport, options: { apiVersion?: string } = {}) {
    this.transport = transport;
    this.apiVersion = options.apiVersion ?? API_VERSION;
    this.#agent = transport.createAgent?.(true) ?? new Agent({ keepAlive: true });
  }

  /** Drops pooled connections so the process can exit. */
  close(): void {
    this.#agent.destroy();
  }

  #path(path: string, query?: Query): string {
    return `/v${this.apiVersion}${path}${buildQuery(query)}`;
  }

  #unreachable(err: NodeJS.ErrnoException): Error {
    if (err.code === 'EACCES') {
      return new DaemonUnreachableError(
        `permission denied while trying to connect to the berth daemon socket at ${this.transport.url}: ${err.message}`,
        { cause: err },
      );
    }
    if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTSOCK') {
      return new DaemonUnreachableError(
        `Cannot connect to the berth daemon at ${this.transport.url}. Is the berth daemon running?`,
        { cause: err },
      );
    }
    // TCP/TLS failures (refused certificate, reset, unreachable network): docker's wording.
    if (err.code && this.transport.url.startsWith('tcp://')) {
      return new DaemonUnreachableError(`error during connect: ${this.transport.url}: ${describeConnectError(err)}`, { cause: err });
    }
    return err;
  }

  /** Sends a request; resolves with the response (2xx/3xx) or rejects with ApiError. */
  request(method: string, path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    const headers: OutgoingHttpHeaders = { ...options.headers };
    let payload: Buffer | Readable | undefined;
    const { body } = options;
    if (isReadable(body)) {
      payload = body;
      headers['Content-Type'] ??= 'application/x-tar';
    } else if (Buffer.isBuffer(body)) {
      payload = body;
    } else if (body !== undefined) {
      payload = Buffer.from(JSON.stringify(body));
      headers['Content-Type'] = 'application/json';
    }
    if (Buffer.isBuffer(payload)) headers['Content-Length'] = payload.length;
    return new Promise((resolve, reject) => {
      const req = httpRequest({
        ...this.transport.options,
        // On a unix socket: without a servername, node's agent derives one (for TLS) from the
        // Host header on every request, and its first isIP() compiles V8's IPv6 regex, ~5-8 ms
        // of a short CLI command.
        ...('socketPath' in this.transport.options ? { servername: '' } : {}),
        agent: this.#agent,
        method,
        path: this.#path(path, options.query),
        headers,
        signal: options.signal,
      });
      req.on('error', (err) => reject(this.#unreachable(err)));
      if (options.onSent) req.on('finish', options.onSent);
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status < 400) return resolve(res);
        readAll(res).then((buf) => reject(errorFromBody(status, buf)), reject);
      });
      if (isReadable(payload)) {
        payload.on('error', (err) => req.destroy(err));
        payload.pipe(req);
      } else {
        req.end(payload);
      }
    });
  }

  /** Sends a request and parses a JSON answer (undefined for an empty body, e.g. 204). */
  async json<T>(method: string, path: string, options?: RequestOptions): Promise<T> {
    const res = await this.request(method, path, options);
    const buf = await readAll(res);
    return (buf.length ? JSON.parse(buf.toString('utf8')) : undefined) as T;
  }

  /** Sends a request and discards the answer. */
  async send(method: string, path: string, options?: RequestOptions): Promise<void> {
    const res = await this.request(method, path, options);
    res.resume();
    await new Promise((r) => res.on('end', r));
  }

  /**
   * Upgrades a request to a raw stream (`Connection: Upgrade`, `Upgrade: tcp` → 101), as
   * attach and exec start do. The caller owns the socket: it may write stdin to it and
   * `end()` it to half-close, and reads the container's output from it.
   */
  hijack(method: string, path: string, options: RequestOptions = {}): Promise<HijackedStream> {
    return new Promise((resolve, reject) => {
      const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
      const req = httpRequest({
        ...this.transport.options,
        // A hijacked socket never goes back to the pool.
        agent: this.transport.createAgent?.(false) ?? false,
        method,
        path: this.#path(path, options.query),
        headers: {
          ...options.headers,
          Connection: 'Upgrade',
          Upgrade: 'tcp',
          ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}),
        },
        signal: options.signal,
      });
      req.on('error', (err) => reject(this.#unreachable(err)));
      req.on('upgrade', (res, socket, head) => {
        if (head.length) socket.unshift(head);
        resolve({ socket, contentType: res.headers['content-type'] });
      });
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 400) {
          readAll(res).then((buf) => reject(errorFromBody(status, buf)), reject);
          return;
        }
        // A daemon that streams in the 200 body instead of upgrading: read-only stream.
        resolve({ socket: res as unknown as Duplex, contentType: res.headers['content-type'] });
      });
      req.end(payload);
    });
  }

  // --- containers ---------------------------------------------------------------------

  /** POST /containers/create?name=&platform= */
  containerCreate(body: ContainerCreateBody, name?: string, platform?: string): Promise<ContainerCreateResponse> {
    return this.json('POST', '/containers/create', { query: { name, platform }, body });
  }
  /** POST /containers/{id}/start */
  containerStart(id: string): Promise<void> {
    return this.send('POST', `/containers/${pathPart(id)}/start`);
  }
  /** POST /containers/{id}/stop?t=&signal= */
  containerStop(id: string, options: { timeout?: number; signal?: string } = {}): Promise<void> {
    return this.send('POST', `/containers/${pathPart(id)}/stop`, { query: { t: options.timeout, signal: options.signal } });
  }
  /** POST /containers/{id}/restart?t=&signal= */
  containerRestart(id: string, options: { timeout?: number; signal?: string } = {}): Promise<void> {
    return this.send('POST', `/containers/${pathPart(id)}/restart`, { query: { t: options.timeout, signal: options.signal } });
  }
  /** POST /containers/{id}/kill?signal= */
  containerKill(id: string, signal?: string): Promise<void> {
    return this.send('POST', `/containers/${pathPart(id)}/kill`, { query: { signal } });
  }
  /** DELETE /containers/{id}?force=&v= */
  containerRemove(id: string, options: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    return this.send('DELETE', `/containers/${pathPart(id)}`, { query: { force: options.force, v: options.volumes } });
  }
  /** POST /containers/{id}/wait?condition= — resolves when the container reaches the condition. */
  containerWait(
    id: string,
    condition?: 'not-running' | 'next-exit' | 'removed',
    options: { signal?: AbortSignal; onSent?: () => void } = {},
  ): Promise<ContainerWaitResponse> {
    return this.json('POST', `/containers/${pathPart(id)}/wait`, { query: { condition }, ...options });
  }
  /** GET /containers/{id}/json?size= */
  containerInspect(id: string, options: { size?: boolean } = {}): Promise<ContainerInspect> {
    return this.json('GET', `/containers/${pathPart(id)}/json`, { query: { size: options.size } });
  }
  /** GET /containers/json?all=&limit=&size=&filters= */
  containerList(query: { all?: boolean; limit?: number; size?: boolean; filters?: string }): Promise<ContainerSummary[]> {
    return this.json('GET', '/containers/json', { query });
  }
  /** POST /containers/{id}/pause */
  containerPause(id: string): Promise<void> {
    return this.send('POST', `/containers/${pathPart(id)}/pause`);
  }
  /** POST /containers/{id}/unpause */
  containerUnpause(id: string): Promise<void> {
    return this.send('POST', `/containers/${pathPart(id)}/unpause`);
  }
  /** POST /containers/{id}/rename?name= */
  containerRename(id: string, name: string): Promise<void> {
    return this.send('POST', `/containers/${pathPart(id)}/rename`, { query: { name } });
  }
  /** POST /containers/{id}/update */
  containerUpdate(id: string, body: Record<string, unknown>): Promise<{ Warnings: string[] | null }> {
    return this.json('POST', `/containers/${pathPart(id)}/update`, { body });
  }
  /** GET /containers/{id}/top?ps_args= */
  containerTop(id: string, psArgs?: string): Promise<{ Titles: string[]; Processes: string[][] }> {
    return this.json('GET', `/containers/${pathPart(id)}/top`, { query: { ps_args: psArgs } });
  }
  /** GET /containers/{id}/stats?stream=&one-shot= (a JSON stream when streaming) */
  containerStats(id: string, stream: boolean, signal?: AbortSignal): Promise<IncomingMessage> {
    return this.request('GET', `/containers/${pathPart(id)}/stats`, { query: { stream: stream ? '1' : '0' }, signal });
  }
  /** POST /containers/prune?filters= */
  containerPrune(filters?: string): Promise<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }> {
    return this.json('POST', '/containers/prune', { query: { filters } });
  }
  /** GET /events?since=&until=&filters= (a JSON stream) */
  events(query: Query, signal?: AbortSignal): Promise<IncomingMessage> {
    return this.request('GET', '/events', { query, signal });
  }
  /** GET /containers/{id}/logs?stdout=1&stderr=1&follow=&tail=&timestamps=&since=&until= (a stream) */
  containerLogs(id: string, query: Query): Promise<IncomingMessage> {
    return this.request('GET', `/containers/${pathPart(id)}/logs`, { query: { stdout: true, stderr: true, ...query } });
  }
  /** POST /containers/{id}/attach?stream=1&stdin=&stdout=&stderr= (hijacked) */
  containerAttach(id: string, options: { stdin?: boolean; stdout?: boolean; stderr?: boolean; logs?: boolean; detachKeys?: string }): Promise<HijackedStream> {
    return this.hijack('POST', `/containers/${pathPart(id)}/attach`, {
      query: { stream: true, logs: options.logs, stdin: options.stdin, stdout: options.stdout, stderr: options.stderr, detachKeys: options.detachKeys },
    });
  }

  /** POST /containers/{id}/resize?h=&w= (the container's TTY) */
  containerResize(id: string, height: number, width: number): Promise<void> {
    return this.send('POST', `/containers/${pathPart(id)}/resize`, { query: { h: height, w: width } });
  }

  // --- exec ---------------------------------------------------------------------------

  /** POST /containers/{id}/exec → the exec's ID */
  async execCreate(id: string, body: Record<string, unknown>): Promise<string> {
    const r = await this.json<{ Id: string }>('POST', `/containers/${pathPart(id)}/exec`, { body });
    return r.Id;
  }
  /** POST /exec/{id}/start, hijacked: the process's stdio (raw for a TTY, else multiplexed). */
  execStartAttached(id: string, body: { Tty: boolean; ConsoleSize?: [number, number] }): Promise<HijackedStream> {
    return this.hijack('POST', `/exec/${pathPart(id)}/start`, { body: { Detach: false, ...body } });
  }
  /** POST /exec/{id}/start with Detach */
  execStartDetached(id: string, body: { Tty: boolean }): Promise<void> {
    return this.send('POST', `/exec/${pathPart(id)}/start`, { body: { Detach: true, ...body } });
  }
  /** POST /exec/{id}/resize?h=&w= */
  execResize(id: string, height: number, width: number): Promise<void> {
    return this.send('POST', `/exec/${pathPart(id)}/resize`, { query: { h: height, w: width } });
  }
  /** GET /exec/{id}/json */
  execInspect(id: string): Promise<{ ExitCode: number | null; Running: boolean; Pid: number }> {
    return this.json('GET', `/exec/${pathPart(id)}/json`);
  }

  // --- images -------------------------------------------------------------------------

  /** GET /images/{name}/json */
  imageInspect(name: string): Promise<Record<string, unknown>> {
    return this.json('GET', `/images/${pathPart(name)}/json`);
  }
  /** GET /images/json?all=&filters= */
  imageList(query: { all?: boolean; filters?: string }): Promise<ImageSummary[]> {
    return this.json('GET', '/images/json', { query });
  }
  /** POST /images/create?… (pull with fromImage, import with fromSrc); a JSON message stream. */
  imageCreate(query: Query, body?: Readable): Promise<IncomingMessage> {
    return this.request('POST', '/images/create', { query, body });
  }
  /** DELETE /images/{name}?force=&noprune= */
  imageRemove(name: string, options: { force?: boolean; noPrune?: boolean } = {}): Promise<ImageDeleteResponseItem[]> {
    return this.json('DELETE', `/images/${pathPart(name)}`, { query: { force: options.force, noprune: options.noPrune } });
  }
  /** POST /images/{name}/tag?repo=&tag= */
  imageTag(name: string, repo: string, tag?: string): Promise<void> {
    return this.send('POST', `/images/${pathPart(name)}/tag`, { query: { repo, tag } });
  }

  // --- networks and volumes (used by compose) ------------------------------------------

  /** GET /networks?filters= */
  networkList(filters?: string): Promise<Array<{ Name: string; Id: string; Labels?: Record<string, string> | null; Driver?: string }>> {
    return this.json('GET', '/networks', { query: { filters } });
  }
  /** GET /networks/{id} */
  networkInspect(id: string): Promise<{ Name: string; Id: string; Labels?: Record<string, string> | null; Containers?: Record<string, unknown> | null }> {
    return this.json('GET', `/networks/${pathPart(id)}`);
  }
  /** POST /networks/create */
  networkCreate(body: Record<string, unknown>): Promise<{ Id: string; Warning?: string }> {
    return this.json('POST', '/networks/create', { body });
  }
  /** DELETE /networks/{id} */
  networkRemove(id: string): Promise<void> {
    return this.send('DELETE', `/networks/${pathPart(id)}`);
  }
  /** POST /networks/{id}/connect */
  networkConnect(id: string, body: { Container: string; EndpointConfig?: Record<string, unknown> }): Promise<void> {
    return this.send('POST', `/networks/${pathPart(id)}/connect`, { body });
  }
  /** GET /volumes?filters= */
  volumeList(filters?: string): Promise<{ Volumes: Array<{ Name: string; Labels?: Record<string, string> | null; Driver?: string; Mountpoint?: string }> | null }> {
    return this.json('GET', '/volumes', { query: { filters } });
  }
  /** GET /volumes/{name} */
  volumeInspect(name: string): Promise<{ Name: string; Labels?: Record<string, string> | null; Driver?: string }> {
    return this.json('GET', `/volumes/${pathPart(name)}`);
  }
  /** POST /volumes/create */
  volumeCreate(body: Record<string, unknown>): Promise<{ Name: string }> {
    return this.json('POST', '/volumes/create', { body });
  }
  /** DELETE /volumes/{name}?force= */
  volumeRemove(name: string, options: { force?: boolean } = {}): Promise<void> {
    return this.send('DELETE', `/volumes/${pathPart(name)}`, { query: { force: options.force } });
  }

  // --- system -------------------------------------------------------------------------

  /** GET /version */
  version(): Promise<SystemVersion> {
    return this.json('GET', '/version');
  }
  /** GET /info */
  info(): Promise<SystemInfo> {
    return this.json('GET', '/info');
  }
}

