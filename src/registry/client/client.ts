/**
 * A client of one registry (OCI distribution spec): manifests, blobs, uploads and mounts, with
 * the auth flows of Docker's registry client:
 *
 * - anonymous, or `Authorization: Basic` when the registry answers `WWW-Authenticate: Basic`;
 * - bearer tokens: on `WWW-Authenticate: Bearer realm=…,service=…,scope=…` a token is fetched
 *   from the realm (with basic credentials, or a refresh token, when known) and cached per scope.
 *
 * Transport: node:http/https with keep-alive agents (layers are fetched in parallel over a few
 * connections); docker.io is `https://registry-1.docker.io`; loopback hosts (and the
 * `insecure` set) are plain HTTP, as Docker treats them. Every request has a short connect/idle
 * timeout, and name-lookup or connection failures are reported at once with Docker's wording
 * (`dial tcp: lookup …: no such host`), so an offline machine fails fast. `lookup` is a seam for
 * tests, which must never send traffic off this machine.
 */
import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { NotFoundError, UnauthorizedError, UnavailableError, InvalidParameterError, SystemError } from '../../common/errors.js';
import type { AuthConfig } from '../../wire/registry-auth.js';

/** Largest manifest or token answer read into memory. */
export const MAX_MANIFEST_BYTES = 4 << 20;

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** Opens a TCP connection to `host:port` some other way than a direct connect (see RegistryClientOptions.dial). */
export type DialFunction = (host: string, port: number, callback: (err: Error | null, socket?: Socket) => void) => void;

export interface RegistryClientOptions {
  auth?: AuthConfig;
  /** Extra registries to reach over plain HTTP (daemon.json `insecure-registries`). */
  insecureRegistries?: string[];
  /** Connect and idle timeout per request (default 15 s). */
  timeoutMs?: number;
  /** Name resolution (a seam for tests). */
  lookup?: LookupFunction;
  userAgent?: string;
  /**
   * Opens connections to loopback registries in place of a direct connect (a rootless daemon's
   * registry traffic to the host's 127.0.0.1 goes through the host, issue 21).
   */
  dial?: DialFunction;
  /** A mirror that serves this registry's repositories (`http(s)://host[:port]`, daemon.json `registry-mirrors`): used instead of the registry itself. */
  endpoint?: string;
}

/** A failure talking to a registry that is not one of the categories below. */
export class RegistryError extends SystemError {
  override readonly code: string = 'BERTH_ERR_REGISTRY';
  constructor(message: string, readonly status?: number, readonly errors?: { code?: string; message?: string }[], options?: { cause?: unknown }) {
    super(message, options);
  }
}
export class RegistryUnreachableError extends UnavailableError {
  override readonly code = 'BERTH_ERR_REGISTRY_UNREACHABLE';
}
export class RegistryUnauthorizedError extends UnauthorizedError {
  override readonly code = 'BERTH_ERR_REGISTRY_UNAUTHORIZED';
}
export class RegistryNotFoundError extends NotFoundError {
  override readonly code = 'BERTH_ERR_REGISTRY_NOT_FOUND';
}

/** The registry domain → base URL (`docker.io` → Docker Hub's API host). */
export function registryBaseUrl(domain: string, insecure: readonly string[] = []): string {
  if (domain === 'docker.io' || domain === 'index.docker.io') return 'https://registry-1.docker.io';
  return `${isInsecure(domain, insecure) ? 'http' : 'https'}://${domain}`;
}

/** localhost, 127.0.0.0/8 and ::1 (a URL's hostname, brackets or not). */
export function isLoopbackHostname(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** Loopback registries and the configured ones are plain HTTP (Docker: localhost and 127.0.0.0/8 are insecure). */
export function isInsecure(domain: string, insecure: readonly string[] = []): boolean {
  const host = domain.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost' || host === '::1' || /^127\./.test(host)) return true;
  return insecure.some((e) => {
    if (e === domain || e === host) return true;
    const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(e);
    if (cidr && isIP(host) === 4) {
      const toNum = (ip: string): number => ip.split('.').reduce((a, b) => (a << 8) + Number(b), 0) >>> 0;
      const bits = Number(cidr[2]);
      const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
      return (toNum(host) & mask) === (toNum(cidr[1]!) & mask);
    }
    return false;
  });
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `WWW-Authenticate` (RFC 7235 auth-params, quoted or token values). */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]!))) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

export interface RequestOptions {
  headers?: OutgoingHttpHeaders;
  body?: Buffer | Readable;
  /** The token scope actions for the repository (`pull` or `pull,push`). */
  actions?: string;
  repo?: string;
  /** Follow redirects (blob GETs are often redirected to storage). */
  redirects?: number;
  signal?: AbortSignal;
}

export class RegistryClient {
  readonly domain: string;
  readonly baseUrl: string;
  readonly #options: RegistryClientOptions;
  readonly #tokens = new Map<string, string>();
  #basic = false;
  readonly #agent: http.Agent;

  constructor(domain: string, options: RegistryClientOptions = {}) {
    this.domain = domain;
    this.baseUrl = options.endpoint?.replace(/\/+$/, '') ?? registryBaseUrl(domain, options.insecureRegistries);
    this.#options = options;
    const agentOpts = { keepAlive: true, maxSockets: 8, ...(options.lookup ? { lookup: options.lookup } : {}) };
    this.#agent = this.baseUrl.startsWith('https:') ? new https.Agent(agentOpts) : new http.Agent(agentOpts);
    const dial = options.dial;
    const base = new URL(this.baseUrl);
    if (dial && base.protocol === 'http:' && isLoopbackHostname(base.hostname)) {
      const port = Number(base.port || 80);
      // The agent keeps connections alive; each new one is dialled through `dial`.
      (this.#agent as unknown as { createConnection: unknown }).createConnection = (_o: unknown, cb: (err: Error | null, s?: Socket) => void) => {
        dial(base.hostname, port, cb);
        return undefined;
      };
    }
  }

  close(): void {
    this.#agent.destroy();
  }

  #scope(repo: string | undefined, actions: string | undefined): string {
    return repo ? `repository:${repo}:${actions ?? 'pull'}` : '';
  }

  #authHeader(scope: string): string | undefined {
    const t = this.#tokens.get(scope);
    if (t) return `Bearer ${t}`;
    const a = this.#options.auth;
    if (this.#basic && a?.username !== undefined) return `Basic ${Buffer.from(`${a.username}:${a.password ?? ''}`).toString('base64')}`;
    if (a?.registrytoken) return `Bearer ${a.registrytoken}`;
    return undefined;
  }

  /**
   * Sends a request, answering an auth challenge once. Streams cannot be resent, so a body
   * stream is sent only after a bodiless request has set up auth (callers POST before PUT).
   */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    const scope = this.#scope(options.repo, options.actions);
    let res = await this.#send(method, `${this.baseUrl}${path}`, options, this.#authHeader(scope));
    if (res.statusCode === 401) {
      const challenge = parseChallenge(String(res.headers['www-authenticate'] ?? ''));
      res.resume();
      if (!challenge || (options.body && typeof (options.body as Readable).pipe === 'function')) throw await this.#unauthorized(res, challenge);
      if (challenge.scheme === 'basic') {
        if (this.#options.auth?.username === undefined) throw new RegistryUnauthorizedError(`unauthorized: authentication required`);
        this.#basic = true;
      } else if (challenge.scheme === 'bearer') {
        await this.#fetchToken(challenge, scope);
      } else throw await this.#unauthorized(res, challenge);
      res = await this.#send(method, `${this.baseUrl}${path}`, options, this.#authHeader(scope));
      if (res.statusCode === 401) throw await this.#unauthorized(res, challenge);
    }
    return res;
  }

  async #unauthorized(res: IncomingMessage, _c: Challenge | undefined): Promise<Error> {
    const errors = await readErrors(res);
    const detail = errors.map((e) => `${(e.code ?? 'unauthorized').toLowerCase()}: ${e.message ?? ''}`).join('; ');
    return new RegistryUnauthorizedError(detail || 'unauthorized: authentication required');
  }

  async #fetchToken(c: Challenge, scope: string): Promise<void> {
    const realm = c.params.realm;
    if (!realm) throw new RegistryError('bearer challenge without a realm');
    const url = new URL(realm);
    if (c.params.service) url.searchParams.set('service', c.params.service);
    if (scope) url.searchParams.set('scope', scope);
    const a = this.#options.auth;
    const headers: OutgoingHttpHeaders = {};
    if (a?.username !== undefined && a.password !== undefined) headers.authorization = `Basic ${Buffer.from(`${a.username}:${a.password}`).toString('base64')}`;
    let res: IncomingMessage;
    if (a?.identitytoken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: a.identitytoken, service: c.params.service ?? '', scope, client_id: 'berth' });
      res = await this.#send('POST', realm, { body: Buffer.from(form.toString()), headers: { 'content-type': 'application/x-www-form-urlencoded' } }, undefined);
    } else {
      res = await this.#send('GET', url.toString(), { headers }, undefined);
    }
    const body = await readLimited(res, 1 << 20);
    if ((res.statusCode ?? 0) >= 400) {
      if (res.statusCode === 401 || res.statusCode === 403) throw new RegistryUnauthorizedError(`unauthorized: incorrect username or password`);
      throw new RegistryError(`getting a token from ${url.origin}${url.pathname}: ${res.statusCode}`, res.statusCode);
    }
    let tok: { token?: string; access_token?: string };
    try {
      tok = JSON.parse(body.toString('utf8'));
    } catch {
      throw new RegistryError(`token server ${url.origin} answered something that is not JSON`);
    }
    const token = tok.token ?? tok.access_token;
    if (!token) throw new RegistryError(`token server ${url.origin} answered no token`);
    this.#tokens.set(scope, token);
  }

  #send(method: string, url: string, options: RequestOptions, auth: string | undefined, hops = 0): Promise<IncomingMessage> {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const timeout = this.#options.timeoutMs ?? 15_000;
    const headers: OutgoingHttpHeaders = { 'user-agent': this.#options.userAgent ?? 'berth/0.1', ...options.headers };
    if (auth && u.origin === new URL(this.baseUrl).origin) headers.authorization = auth;
    const body = options.body;
    if (Buffer.isBuffer(body)) headers['content-length'] = body.length;
    return new Promise((resolve, reject) => {
      const sameAgent = u.origin === new URL(this.baseUrl).origin;
      const dial = this.#options.dial;
      // Token realms and redirects on another loopback origin are dialled the same way.
      const viaDial = !sameAgent && dial && u.protocol === 'http:' && isLoopbackHostname(u.hostname);
      const req = mod.request(u, {
        method,
        headers,
        agent: sameAgent ? this.#agent : viaDial ? false : undefined,
        ...(viaDial ? { createConnection: ((_o: unknown, cb: (err: Error | null, s?: Socket) => void) => { dial(u.hostname.replace(/^\[|\]$/g, ''), Number(u.port || 80), cb); return undefined; }) as unknown as http.RequestOptions['createConnection'] } : {}),
        ...(this.#options.lookup ? { lookup: this.#options.lookup } : {}),
        signal: options.signal,
      });
      req.setTimeout(timeout, () => req.destroy(Object.assign(new Error('i/o timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (e: NodeJS.ErrnoException) => reject(this.#dialError(method, u, e)));
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if ([301, 302, 303, 307, 308].includes(status) && res.headers.location && (options.redirects ?? 0) > hops) {
          res.resume();
          const next = new URL(res.headers.location, u).toString();
          const m = status === 303 ? 'GET' : method;
          resolve(this.#send(m, next, { ...options, body: undefined }, auth, hops + 1));
          return;
        }
        // The idle timeout stays on while the body streams: a stalled download fails, it does not hang.
        res.socket?.setTimeout(timeout);
        resolve(res);
      });
      if (body && !Buffer.isBuffer(body)) {
        body.on('error', (e) => req.destroy(e));
        body.pipe(req);
      } else req.end(body);
    });
  }

  #dialError(method: string, u: URL, e: NodeJS.ErrnoException): Error {
    const what = `${method.charAt(0)}${method.slice(1).toLowerCase()} "${u.origin}${u.pathname}"`;
    if (e.name === 'AbortError') return e;
    const port = u.port || (u.protocol === 'https:' ? '443' : '80');
    switch (e.code) {
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
      case 'EAI_FAIL':
      case 'EAI_NONAME':
        return new RegistryUnreachableError(`${what}: dial tcp: lookup ${u.hostname}: no such host`, { cause: e });
      case 'ECONNREFUSED':
        return new RegistryUnreachableError(`${what}: dial tcp ${u.hostname}:${port}: connect: connection refused`, { cause: e });
      case 'ETIMEDOUT':
        return new RegistryUnreachableError(`${what}: dial tcp ${u.hostname}:${port}: i/o timeout`, { cause: e });
      case 'ENETUNREACH':
      case 'EHOSTUNREACH':
        return new RegistryUnreachableError(`${what}: dial tcp ${u.hostname}:${port}: connect: network is unreachable`, { cause: e });
      case 'EPROTO':
      case 'ERR_SSL_WRONG_VERSION_NUMBER':
        return new RegistryUnreachableError(`${what}: http: server gave HTTP response to HTTPS client`, { cause: e });
      default:
        return new RegistryUnreachableError(`${what}: ${e.message}`, { cause: e });
    }
  }

  /** `GET /v2/`: checks the registry and the credentials (login). */
  async ping(): Promise<void> {
    const res = await this.request('GET', '/v2/');
    res.resume();
    if ((res.statusCode ?? 0) >= 400) throw new RegistryError(`${this.baseUrl}/v2/: ${res.statusCode} ${res.statusMessage}`, res.statusCode);
  }

  /** Fetches a manifest (or index) by tag or digest; bounded in size. */
  async getManifest(repo: string, ref: string, options: { signal?: AbortSignal } = {}): Promise<{ data: Buffer; mediaType: string; digest?: string }> {
    const res = await this.request('GET', `/v2/${repo}/manifests/${ref}`, { repo, headers: { accept: MANIFEST_ACCEPT }, signal: options.signal });
    if (res.statusCode === 404) {
      const errors = await readErrors(res);
      throw new RegistryNotFoundError(
        `manifest for ${this.domain}/${repo}:${ref} not found: ${errors.map((e) => `${(e.code ?? '').toLowerCase().replace(/_/g, ' ')}: ${e.message ?? ''}`).join('; ') || 'manifest unknown'}`,
      );
    }
    await this.#expect(res, 200, `fetching manifest ${repo}:${ref}`);
    const len = Number(res.headers['content-length'] ?? 0);
    if (len > MAX_MANIFEST_BYTES) {
      res.destroy();
      throw new InvalidParameterError(`manifest ${repo}:${ref} is too large: ${len} bytes (limit ${MAX_MANIFEST_BYTES})`);
    }
    const data = await readLimited(res, MAX_MANIFEST_BYTES, `manifest ${repo}:${ref}`);
    const mediaType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
    const digest = res.headers['docker-content-digest'] as string | undefined;
    return { data, mediaType, ...(digest ? { digest } : {}) };
  }

  /** `GET /v2/<repo>/tags/list`, following `Link` pagination; bounded (1 MiB a page, 100 pages). */
  async listTags(repo: string, options: { signal?: AbortSignal } = {}): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined = `/v2/${repo}/tags/list`;
    for (let page = 0; path && page < 100; page++) {
      const res = await this.request('GET', path, { repo, signal: options.signal });
      if (res.statusCode === 404) {
        const errors = await readErrors(res);
        throw new RegistryNotFoundError(`repository ${this.domain}/${repo} not found: ${errors.map((e) => e.message ?? '').join('; ') || 'name unknown'}`);
      }
      await this.#expect(res, 200, `listing the tags of ${repo}`);
      const body = await readLimited(res, 1 << 20, `tag list of ${repo}`);
      let parsed: { tags?: unknown };
      try {
        parsed = JSON.parse(body.toString('utf8')) as { tags?: unknown };
      } catch {
        throw new RegistryError(`invalid tag list from ${this.domain}/${repo}`);
      }
      if (Array.isArray(parsed.tags)) for (const t of parsed.tags) if (typeof t === 'string') tags.push(t);
      const link = String(res.headers.link ?? '');
      const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
      path = m && m[1]!.startsWith('/v2/') ? m[1]! : undefined;
    }
    return tags;
  }

  /**
   * `GET /v2/<repo>/referrers/<digest>` (distribution-spec 1.1): the image index of the
   * manifests whose `subject` is `digest`, optionally filtered by `artifactType`; undefined when
   * the registry does not implement the API (404), so the caller falls back to the
   * `sha256-<hex>.<suffix>` tag schema.
   */
  async getReferrers(repo: string, digest: string, options: { artifactType?: string; signal?: AbortSignal } = {}): Promise<{ manifests: { mediaType?: string; digest?: string; size?: number; artifactType?: string; annotations?: Record<string, string> }[] } | undefined> {
    const q = options.artifactType ? `?artifactType=${encodeURIComponent(options.artifactType)}` : '';
    const res = await this.request('GET', `/v2/${repo}/referrers/${digest}${q}`, { repo, headers: { accept: 'application/vnd.oci.image.index.v1+json' }, ...(options.signal ? { signal: options.signal } : {}) });
    if (res.statusCode === 404 || res.statusCode === 405) {
      res.resume();
      return undefined;
    }
    await this.#expect(res, 200, `listing the referrers of ${repo}@${digest}`);
    const body = await readLimited(res, MAX_MANIFEST_BYTES, `referrers of ${repo}@${digest}`);
    try {
      const v = JSON.parse(body.toString('utf8')) as { manifests?: unknown };
      return { manifests: Array.isArray(v.manifests) ? v.manifests.filter((m) => m && typeof m === 'object') : [] };
    } catch {
      throw new RegistryError(`invalid referrers index from ${this.domain}/${repo}`);
    }
  }

  /** Opens a blob for reading (redirects followed); the caller verifies the digest. */
  async getBlob(repo: string, digest: string, options: { signal?: AbortSignal; offset?: number } = {}): Promise<IncomingMessage> {
    const headers: OutgoingHttpHeaders = options.offset ? { range: `bytes=${options.offset}-` } : {};
    const res = await this.request('GET', `/v2/${repo}/blobs/${digest}`, { repo, redirects: 5, headers, signal: options.signal });
    if (res.statusCode === 404) {
      res.resume();
      throw new RegistryNotFoundError(`blob ${digest} of ${this.domain}/${repo}: blob unknown to registry`);
    }
    await this.#expect(res, options.offset ? 206 : 200, `fetching blob ${digest}`);
    return res;
  }

  /** The size of a blob in `repo`, or undefined when the registry does not have it there. */
  async blobSize(repo: string, digest: string): Promise<number | undefined> {
    const res = await this.request('HEAD', `/v2/${repo}/blobs/${digest}`, { repo, actions: 'pull,push', redirects: 5 });
    res.resume();
    if (res.statusCode === 404) return undefined;
    await this.#expect(res, 200, `checking blob ${digest}`);
    return Number(res.headers['content-length'] ?? 0);
  }

  /**
   * Starts an upload, or mounts `digest` from repository `from` of the same registry. Returns
   * `mounted`, or the upload location.
   */
  async startUpload(repo: string, mount?: { digest: string; from: string }): Promise<{ mounted: true } | { mounted: false; location: string }> {
    const q = mount ? `?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}` : '';
    // The token for a mount must also allow pulling from the source repository.
    const res = await this.request('POST', `/v2/${repo}/blobs/uploads/${q}`, { repo, actions: 'pull,push', headers: { 'content-length': 0 } });
    res.resume();
    if (res.statusCode === 201 && mount) return { mounted: true };
    await this.#expect(res, 202, `starting an upload to ${repo}`);
    const loc = res.headers.location;
    if (!loc) throw new RegistryError(`registry answered an upload without a Location`);
    return { mounted: false, location: new URL(loc, this.baseUrl).toString() };
  }

  /** Uploads a whole blob to a started upload (`PUT location?digest=`); the registry verifies the digest. */
  async finishUpload(repo: string, location: string, digest: string, size: number, body: Readable | Buffer, signal?: AbortSignal): Promise<void> {
    const u = new URL(location);
    u.searchParams.set('digest', digest);
    const res = await this.request('PUT', `${u.pathname}${u.search}`, {
      repo,
      actions: 'pull,push',
      body,
      headers: { 'content-type': 'application/octet-stream', 'content-length': size },
      ...(signal ? { signal } : {}),
    });
    await this.#expect(res, 201, `uploading blob ${digest}`);
    res.resume();
  }

  /** Puts a manifest under a tag or digest; returns the digest the registry gives it. */
  async putManifest(repo: string, ref: string, mediaType: string, data: Buffer): Promise<string | undefined> {
    const res = await this.request('PUT', `/v2/${repo}/manifests/${ref}`, { repo, actions: 'pull,push', body: data, headers: { 'content-type': mediaType } });
    await this.#expect(res, 201, `putting manifest ${repo}:${ref}`);
    res.resume();
    return res.headers['docker-content-digest'] as string | undefined;
  }

  async #expect(res: IncomingMessage, status: number, what: string): Promise<void> {
    if (res.statusCode === status || (status === 200 && res.statusCode === 200)) return;
    const errors = await readErrors(res);
    const text = errors.map((e) => `${(e.code ?? 'error').toLowerCase()}: ${e.message ?? ''}`).join('; ') || `${res.statusCode} ${res.statusMessage ?? ''}`.trim();
    if (res.statusCode === 401 || res.statusCode === 403) throw new RegistryUnauthorizedError(`${what}: ${text}`);
    if (res.statusCode === 404) throw new RegistryNotFoundError(`${what}: ${text}`);
    throw new RegistryError(`${what}: ${text}`, res.statusCode, errors);
  }
}

/** Reads a body of at most `limit` bytes. */
export async function readLimited(res: Readable, limit: number, what = 'response'): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res) {
    size += (c as Buffer).length;
    if (size > limit) {
      res.destroy();
      throw new InvalidParameterError(`${what} is too large: more than ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readErrors(res: IncomingMessage): Promise<{ code?: string; message?: string }[]> {
  try {
    const body = await readLimited(res, 64 << 10);
    const v = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[] };
    return Array.isArray(v.errors) ? v.errors : [];
  } catch {
    return [];
  }
}
