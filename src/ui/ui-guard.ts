/**
 * The desktop UI's front door (issue 19): who may use the dashboard, decided per request.
 *
 * - A per-daemon token: the URL `berth desktop` prints carries it once (`/?token=…`); the
 *   server answers with a cookie (HttpOnly, SameSite=Strict, Secure under TLS) and a redirect
 *   that drops it from the address bar. Every other request must carry that cookie.
 * - DNS rebinding: a page on evil.example whose name resolves to 127.0.0.1 reaches this port
 *   with `Host: evil.example`; only the names this listener really has are accepted.
 * - CSRF: a page from another origin may make the browser send a request (with the cookie, were
 *   SameSite not enough); a foreign `Origin` is refused, and requests that change something
 *   (and WebSocket upgrades, which browsers never restrict by origin) must carry ours.
 * - No CORS: no `Access-Control-*` header is ever sent, so other origins cannot read answers.
 *
 * Pure: no I/O, so every rule is unit-tested (ui-guard.test.ts).
 */
import { timingSafeEqual } from 'node:crypto';

/** The cookie that carries the token after the first visit. */
export const COOKIE_NAME = 'berth_desktop';

export interface GuardOptions {
  token: string;
  /** host:port forms this listener answers to (e.g. `127.0.0.1:7681`, `localhost:7681`). */
  allowedHosts: ReadonlySet<string>;
  /** `https` under TLS. */
  scheme: 'http' | 'https';
}

export type GuardVerdict =
  | { ok: true; setCookie?: string; redirect?: string }
  | { ok: false; status: 401 | 403 | 421; message: string };

export interface GuardRequest {
  method: string;
  /** Path and query, as on the request line. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** A WebSocket upgrade. */
  upgrade?: boolean;
}

/** The host:port names a listener on `host`:`port` answers to. */
export function allowedHostsFor(host: string, port: number, extra: string[] = []): Set<string> {
  const names = new Set<string>();
  const add = (h: string) => names.add(`${h.includes(':') ? `[${h}]` : h}:${port}`.toLowerCase());
  add(host);
  if (host.startsWith('127.') || host === '::1' || host === 'localhost') {
    add('localhost');
    add('127.0.0.1');
    add('::1');
  }
  for (const e of extra) add(e);
  return names;
}

/** Decides one request; `ok` with `setCookie`/`redirect` for the token landing. */
export function checkRequest(req: GuardRequest, options: GuardOptions): GuardVerdict {
  const host = header(req.headers, 'host')?.toLowerCase();
  if (!host || !options.allowedHosts.has(host)) {
    return { ok: false, status: 421, message: `host "${host ?? ''}" is not this dashboard's address` };
  }
  const origin = header(req.headers, 'origin');
  const ownOrigin = `${options.scheme}://${host}`;
  if (origin !== undefined && origin.toLowerCase() !== ownOrigin) {
    return { ok: false, status: 403, message: `cross-origin request from "${origin}" refused` };
  }
  const safe = req.method === 'GET' || req.method === 'HEAD';
  if ((!safe || req.upgrade) && origin === undefined) {
    // Browsers send Origin on every POST/PUT/DELETE and on WebSocket handshakes: one without it
    // is not our page (curl with a stolen cookie would still need the token, but be strict).
    return { ok: false, status: 403, message: 'request without an Origin header refused' };
  }
  const fetchSite = header(req.headers, 'sec-fetch-site');
  if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') {
    return { ok: false, status: 403, message: `cross-site request (${fetchSite}) refused` };
  }
  const url = new URL(req.url, 'http://x');
  const given = url.searchParams.get('token');
  if (given !== null && safe && !req.upgrade && (url.pathname === '/' || url.pathname === '/index.html')) {
    if (!sameToken(given, options.token)) return { ok: false, status: 401, message: 'invalid token' };
    url.searchParams.delete('token');
    const secure = options.scheme === 'https' ? '; Secure' : '';
    return {
      ok: true,
      setCookie: `${COOKIE_NAME}=${options.token}; Path=/; HttpOnly; SameSite=Strict${secure}`,
      redirect: `${url.pathname}${url.search}`,
    };
  }
  const cookie = parseCookies(header(req.headers, 'cookie'))[COOKIE_NAME];
  if (cookie === undefined) return { ok: false, status: 401, message: 'no token: open the URL that `berth desktop` prints' };
  if (!sameToken(cookie, options.token)) return { ok: false, status: 401, message: 'invalid token: open the URL that `berth desktop` prints' };
  return { ok: true };
}

/** Headers on every answer: no framing, no sniffing, no referrer (the landing URL holds the token). */
export function securityHeaders(): Record<string, string> {
  return {
    'Content-Security-Policy':
      "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };
}

export function parseCookies(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (text ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

function header(headers: GuardRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
