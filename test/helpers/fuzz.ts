/**
 * A bounded, seeded, replayable fuzzer of berthd's Engine API (issue 17 item 5). Every route the
 * daemon serves (its own route table, written by berthd to BERTH_ROUTES_FILE) gets a number of
 * cases: path parameters that exist and ones that are hostile (`..`, `%2f`, invalid UTF-8, 5,000
 * characters), random query values of the wrong type, and bodies that are random JSON, truncated
 * JSON, wrong types in known fields, huge numbers, deep nesting, invalid UTF-8 or not JSON at all.
 * A case fails when berthd answers 5xx or stops answering. The same seed gives the same cases.
 *
 * Traffic stays on the machine: every parameter that could name a registry or a URL (image
 * references of pull/push/search/distribution, `remote` of build, `serveraddress` of auth) is
 * pinned to 127.0.0.1:9 (a closed loopback port), and command lines are never meaningful.
 */
import http from 'node:http';
import type { TestDaemon } from './daemon.js';

/** mulberry32: small, fast, good enough to pick cases; the seed makes a run replayable. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Route {
  method: string;
  path: string;
}

export interface Targets {
  container: string;
  image: string;
  network: string;
  volume: string;
  exec: string;
}

export interface Finding {
  route: string;
  request: string;
  status: number;
  message: string;
}

/** Routes whose parameters can name something off the machine, with the value they get instead. */
const LOOPBACK_REF = '127.0.0.1:9/fuzz/img:latest';

/** Routes the fuzzer leaves alone, and why. */
export const SKIPPED: Record<string, string> = {
  'GET /events': 'a stream that never ends on its own; covered by the disconnect cases',
};

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

const HOSTILE_SEGMENTS = ['..', '%2e%2e', '..%2f..%2fetc%2fpasswd', '%2f', '%ff%fe', 'a'.repeat(5000), '%00', '%20', '-', '*', '🙂', '$(id)', 'x/../../y'];
const QUERY_VALUES = ['', '1', '0', 'true', 'yes', '-1', '1e309', '99999999999999999999999', 'NaN', '{', '{"a":', '{"label":["x"]}', '{"status":{"running":true}}', '[]', 'null', '%ff', '\u0000', 'x'.repeat(3000)];
const QUERY_KEYS = ['all', 'limit', 'size', 'filters', 't', 'signal', 'force', 'v', 'link', 'follow', 'tail', 'since', 'until', 'timestamps', 'stdout', 'stderr', 'stream', 'logs', 'name', 'h', 'w', 'condition', 'path', 'noOverwriteDirIsNonDir', 'copyUIDGID', 'ps_args', 'one-shot', 'detachKeys', 'tag', 'repo', 'comment', 'author', 'pause', 'changes', 'dockerfile', 'buildargs', 'labels', 'platform', 'term', 'fromSrc', 'message', 'quiet', 'names', 'digests', 'shared-size', 'dangling', 'noprune', 'container', 'force'];

/** Fields of the request bodies berthd takes, so that wrong types land where they are read. */
const BODY_FIELDS = ['Image', 'Cmd', 'Entrypoint', 'Env', 'User', 'WorkingDir', 'Labels', 'ExposedPorts', 'Volumes', 'Healthcheck', 'StopSignal', 'StopTimeout', 'Tty', 'OpenStdin', 'AttachStdin', 'HostConfig', 'NetworkingConfig', 'Name', 'Driver', 'DriverOpts', 'IPAM', 'Internal', 'Options', 'Container', 'EndpointConfig', 'Force', 'AttachStdout', 'AttachStderr', 'DetachKeys', 'Privileged', 'Detach', 'Memory', 'CpuShares', 'RestartPolicy', 'username', 'password', 'serveraddress', 'Height', 'Width'];
const HOST_FIELDS = ['Binds', 'PortBindings', 'Memory', 'MemorySwap', 'NanoCpus', 'CpuShares', 'RestartPolicy', 'NetworkMode', 'Mounts', 'Tmpfs', 'Ulimits', 'LogConfig', 'Privileged', 'CapAdd', 'CapDrop', 'Dns', 'ExtraHosts', 'SecurityOpt', 'ShmSize', 'PidMode', 'Devices', 'Sysctls', 'GroupAdd', 'AutoRemove', 'VolumesFrom', 'Links', 'ReadonlyRootfs', 'Init', 'PidsLimit'];

function randomScalar(r: () => number): unknown {
  return pick(r, [
    null, true, false, 0, -1, 1.5, 2 ** 53 + 1, -(2 ** 63), 1e308, -1e308, '', 'x', '..', '/', '/etc/passwd:/x', 'a'.repeat(10_000), '\u0000', '\ud800', '🙂',
    '127.0.0.1:9/x', '0:0', '-1:-1', 'tcp', '80/tcp', '65536/udp', 'bad=value=x', '1g', '-5m',
  ]);
}

function randomValue(r: () => number, depth: number): unknown {
  const k = r();
  if (depth > 3 || k < 0.45) return randomScalar(r);
  if (k < 0.7) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 4); i > 0; i--) o[pick(r, [...BODY_FIELDS, ...HOST_FIELDS, 'x', ''])] = randomValue(r, depth + 1);
  return o;
}

/** One body: bytes and the content type sent with them. */
function randomBody(r: () => number): { bytes: Buffer; type: string; what: string } {
  const json = (v: unknown, what: string) => ({ bytes: Buffer.from(JSON.stringify(v)), type: 'application/json', what });
  switch (Math.floor(r() * 11)) {
    case 0: {
      const o: Record<string, unknown> = { Image: 'busybox', Cmd: ['true'] };
      o[pick(r, BODY_FIELDS)] = randomValue(r, 1);
      return json(o, 'a known field of the wrong type');
    }
    case 1: {
      const o: Record<string, unknown> = { Image: 'busybox', Cmd: ['true'], HostConfig: { [pick(r, HOST_FIELDS)]: randomValue(r, 2) } };
      return json(o, 'a HostConfig field of the wrong type');
    }
    case 2:
      return json(randomValue(r, 0), 'random JSON');
    case 3: {
      const text = JSON.stringify({ Image: 'busybox', Cmd: ['true'], HostConfig: { Memory: 1 } });
      return { bytes: Buffer.from(text.slice(0, Math.floor(r() * text.length))), type: 'application/json', what: 'truncated JSON' };
    }
    case 4: {
      return { bytes: Buffer.from('['.repeat(100_000) + ']'.repeat(100_000)), type: 'application/json', what: 'nesting 100,000 deep' };
    }
    case 5:
      return { bytes: Buffer.from([0x7b, 0x22, 0x4e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc0, 0x22, 0x7d]), type: 'application/json', what: 'invalid UTF-8 in a string' };
    case 6:
      return json({ Name: '\ud800x', Image: '\u0000', Labels: { '\u0000': 'x' } }, 'lone surrogates and NUL');
    case 7:
      return json([1, 2, 3], 'an array where an object is expected');
    case 8:
      return { bytes: Buffer.from('not json at all'), type: 'application/json', what: 'not JSON' };
    case 9:
      return json({ Image: 'busybox', HostConfig: { Memory: 1e309, NanoCpus: -1, CpuShares: 2 ** 64, ShmSize: Number.MAX_SAFE_INTEGER * 8 } }, 'huge numbers');
    default:
      return { bytes: Buffer.alloc(0), type: 'application/json', what: 'empty' };
  }
}

function fillPath(r: () => number, path: string, t: Targets, hostile: boolean): string {
  return path.replace(/:([A-Za-z]+)\*?|\*/g, (_m, name: string | undefined) => {
    if (hostile) return pick(r, HOSTILE_SEGMENTS);
    switch (name) {
      case 'id':
      case 'name':
        if (path.startsWith('/containers')) return t.container;
        if (path.startsWith('/networks')) return t.network;
        if (path.startsWith('/volumes')) return t.volume;
        if (path.startsWith('/exec')) return t.exec;
        if (path.startsWith('/images') || path.startsWith('/distribution')) return path.includes('push') ? encodeURIComponent(LOOPBACK_REF) : t.image;
        return t.container;
      default:
        return t.container;
    }
  });
}

function pinOffMachine(route: Route, path: string, q: URLSearchParams): string {
  if (route.path.startsWith('/images/create')) {
    if (q.has('fromImage') || !q.has('fromSrc')) q.set('fromImage', LOOPBACK_REF);
    if (q.has('fromSrc') && q.get('fromSrc') !== '-') q.set('fromSrc', '-');
  }
  if (route.path.startsWith('/images/search')) q.set('term', LOOPBACK_REF);
  if (route.path.startsWith('/build')) q.delete('remote');
  if (route.path.startsWith('/distribution') || route.path.includes('/push')) return path.replace(/\/(distribution|images)\/[^/]+/, `/$1/${encodeURIComponent(LOOPBACK_REF)}`);
  return path;
}

export interface FuzzOptions {
  seed: number;
  casesPerRoute: number;
  deadlineMs: number;
  /** Recreate targets a case removed. */
  targets: () => Promise<Targets>;
}

/** Runs the cases; returns what failed and how many were tried. */
export async function fuzzRoutes(d: TestDaemon, routes: Route[], options: FuzzOptions): Promise<{ tried: number; findings: Finding[]; perRoute: Map<string, number> }> {
  const r = prng(options.seed);
  const findings: Finding[] = [];
  const perRoute = new Map<string, number>();
  let tried = 0;
  const deadline = Date.now() + options.deadlineMs;
  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    if (SKIPPED[key]) continue;
    for (let i = 0; i < options.casesPerRoute && Date.now() < deadline; i++) {
      const t = await options.targets();
      let path = fillPath(r, route.path, t, r() < 0.3);
      const q = new URLSearchParams();
      for (let n = Math.floor(r() * 4); n > 0; n--) q.set(pick(r, QUERY_KEYS), pick(r, QUERY_VALUES));
      path = pinOffMachine(route, path, q);
      const body = route.method === 'POST' || route.method === 'PUT' ? randomBody(r) : undefined;
      if (route.path.startsWith('/auth') && body) body.bytes = Buffer.from(JSON.stringify({ serveraddress: '127.0.0.1:9', username: 'x', password: 'y' }));
      const url = `${path}${q.size ? `?${q}` : ''}`;
      const what = `${route.method} ${url.slice(0, 200)}${body ? ` [${body.what}]` : ''}`;
      tried++;
      perRoute.set(key, (perRoute.get(key) ?? 0) + 1);
      let res: { status: number; body: string } | undefined;
      try {
        res = await request(d.socket, route.method, url, body);
      } catch (err) {
        findings.push({ route: key, request: what, status: 0, message: `no answer: ${(err as Error).message}` });
      }
      // A registry pinned to a closed loopback port is unreachable: 503 is the right answer there,
      // as it is on the swarm routes of an engine that is not in a swarm (Docker's answer). 501
      // is a deliberate "not implemented" (Docker's, for logs of the none driver; berth's, for
      // build options it does not apply), never a failure.
      const registry = route.path.startsWith('/images/create') || route.path.startsWith('/auth') || route.path.startsWith('/distribution') || route.path.includes('/push') || route.path.startsWith('/images/search');
      const swarm = /^\/(swarm|services|nodes|tasks|secrets|configs)(\/|$)/.test(route.path);
      const expected = res?.status === 501 || (res?.status === 503 && (registry || swarm));
      if (res && res.status >= 500 && !expected) findings.push({ route: key, request: what, status: res.status, message: res.body.slice(0, 200) });
      const ping = await withTimeout(d.api('GET', '/_ping'), 10_000).catch(() => undefined);
      if (!ping || ping.status !== 200) {
        findings.push({ route: key, request: what, status: 0, message: 'berthd stopped answering /_ping after this case' });
        return { tried, findings, perRoute };
      }
    }
  }
  return { tried, findings, perRoute };
}

/**
 * One request; the status counts once the headers are in. Streams (stats, logs, attach, events)
 * do not end by themselves: up to 64 KiB or 2 s of body is read, then the connection is dropped,
 * as an impatient client would (which also exercises berthd's clean-up of dropped streams).
 */
function request(socketPath: string, method: string, url: string, body?: { bytes: Buffer; type: string }): Promise<{ status: number; body: string }> {
  // Node's client refuses raw non-ASCII in a path; the bytes berthd sees are the same percent-encoded.
  const path = url.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path, agent: false, headers: body ? { 'Content-Type': body.type, 'Content-Length': body.bytes.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = () => {
        clearTimeout(timer);
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() });
      };
      const timer = setTimeout(finish, 2000);
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        if (size > 64 << 10) finish();
      });
      res.on('end', finish);
      res.on('error', finish);
    });
    const headerTimer = setTimeout(() => {
      req.destroy();
      reject(new Error('no response headers within 30 s'));
    }, 30_000);
    req.on('response', () => clearTimeout(headerTimer));
    req.on('error', (err) => {
      clearTimeout(headerTimer);
      reject(err);
    });
    req.end(body?.bytes);
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
