/**
 * A private berthd for one test file: its own temp data root, exec root and socket, started
 * from the compiled tree, and everything it made removed at the end.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { existsSync, openSync, closeSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { makeBusyboxTar } from '../fixtures/busybox-rootfs.js';

/** The repository root (this file runs from dist/test/helpers/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BERTH_BIN = join(REPO_ROOT, 'bin', 'berth');
export const BERTHD_BIN = join(REPO_ROOT, 'bin', 'berthd');
/** Every test daemon lives under a directory with this prefix (the leak check looks for it). */
export const TEST_PREFIX = 'berth-test-';
/** Where daemons record what they own on the host (src/daemon/host-claims.ts DEFAULT_CLAIMS_DIR). */
export const CLAIMS_DIR = '/run/berth-claims';
/** Containers of test daemons live under this cgroup parent. */
export const TEST_CGROUP_PARENT = '/berth-test';

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('integration tests need root (namespaces, overlayfs, cgroups): run them as root, e.g. via `npm test`');
  }
}

export interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json<T = any>(): T;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Networking of one test daemon: its own bridge, nftables table, subnet and pool (issue 6). */
export interface TestNetwork {
  bridge: string;
  nftTable: string;
  /** Gateway/prefix of the default bridge. */
  bip: string;
  /** The default bridge's subnet. */
  subnet: string;
  /** Pool for user networks (/24s of a /21 of its own). */
  pool: string;
}

/** Bridges and nftables tables of test daemons start with these (the leak check looks for them). */
export const TEST_BRIDGE_PREFIX = 'bt';
export const TEST_NFT_PREFIX = 'berth_t';

let netCounter = 0;
/**
 * Picks a /21 of 10.200.0.0/13 that no host route overlaps, from the pid and a counter, so
 * parallel test daemons (other files, other engineers) get distinct bridges and subnets.
 */
async function allocateTestNetwork(): Promise<TestNetwork> {
  const routes = await new Promise<string>((r) => execFile('ip', ['-j', '-4', 'route', 'show', 'table', 'all'], (_e, out) => r(out || '[]')));
  const taken: Array<[number, number]> = [];
  for (const row of JSON.parse(routes) as Array<{ dst?: string }>) {
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(row.dst ?? '');
    if (!m) continue;
    const base = ((+m[1]! << 24) | (+m[2]! << 16) | (+m[3]! << 8) | +m[4]!) >>> 0;
    const len = m[5] === undefined ? 32 : +m[5];
    if (len === 0) continue;
    taken.push([base, len]);
  }
  const overlaps = (base: number, len: number) =>
    taken.some(([b, l]) => {
      const p = Math.min(l, len);
      const mask = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
      return ((b & mask) >>> 0) === ((base & mask) >>> 0);
    });
  for (let attempt = 0; attempt < 256; attempt++) {
    const n = netCounter++;
    const block = (process.pid * 13 + n * 17 + attempt * 29) % 256;
    const base = (((10 << 24) | (200 << 16)) + block * 2048) >>> 0;
    if (overlaps(base, 21)) continue;
    const ip = (x: number) => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join('.');
    const tag = `${process.pid.toString(36)}${n.toString(36)}`.slice(-10);
    return { bridge: `${TEST_BRIDGE_PREFIX}${tag}`, nftTable: `${TEST_NFT_PREFIX}${tag}`, bip: `${ip(base + 1)}/24`, subnet: `${ip(base)}/24`, pool: `${ip(base)}/21` };
  }
  throw new Error('no free test subnet in 10.200.0.0/13');
}

export class TestDaemon {
  proc?: ChildProcess;
  /** Set by createDaemon: this daemon's bridge, nftables table and subnets. */
  net?: TestNetwork;
  constructor(
    readonly dir: string,
    readonly dataRoot: string,
    readonly execRoot: string,
    readonly socket: string,
    readonly logFile: string,
  ) {}

  get host(): string {
    return `unix://${this.socket}`;
  }

  /**
   * Starts berthd with `extraArgs` after the usual ones; `prefix` runs it through another
   * program (e.g. `nsenter --net=/run/netns/NAME` to put it in a network namespace).
   */
  async start(extraArgs: string[] = [], options: { prefix?: string[] } = {}): Promise<void> {
    const fd = openSync(this.logFile, 'a');
    const prefix = options.prefix ?? [];
    this.proc = spawn(
      prefix[0] ?? BERTHD_BIN,
      [...(prefix.length ? [...prefix.slice(1), BERTHD_BIN] : []), '--data-root', this.dataRoot, '--exec-root', this.execRoot, '--host', this.host, '--pidfile', join(this.execRoot, 'berthd.pid'), '--config-file', join(this.dir, 'daemon.json'), '--cgroup-parent', TEST_CGROUP_PARENT, ...this.#trustArgs(), ...this.#netArgs(), ...extraArgs],
      { stdio: ['ignore', fd, fd], detached: false },
    );
    closeSync(fd);
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        const r = await this.api('GET', '/_ping');
        if (r.status === 200) return;
      } catch {
        /* not up yet */
      }
      if (this.proc.exitCode !== null) throw new Error(`berthd exited with ${this.proc.exitCode}: ${await this.log()}`);
      if (Date.now() > deadline) throw new Error(`berthd did not come up: ${await this.log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The signature policy and registries.d of this daemon (absent until a test writes them: accept anything), never the host's. */
  #trustArgs(): string[] {
    return ['--signature-policy', join(this.dir, 'policy.json'), '--registries-d', join(this.dir, 'registries.d')];
  }

  #netArgs(): string[] {
    const n = this.net;
    if (!n) return [];
    return ['--bridge', n.bridge, '--nft-table', n.nftTable, '--bip', n.bip, '--default-address-pool', `base=${n.pool},size=24`];
  }

  /**
   * Removes what a daemon that could not shut down cleanly (killed, crashed, or stopped with
   * containers running) left of its networking: links marked with its alias, its nftables
   * table and the forward rules it opened for its bridges. A clean shutdown leaves none.
   */
  async cleanupNetwork(): Promise<void> {
    if (!this.net) return;
    const links = (await runCommand('ip', ['-o', 'link', 'show'], {})).stdout.split('\n').filter((l) => l.includes(`alias berth:${this.dataRoot}`));
    const names = links.map((l) => l.split(':')[1]!.trim().split('@')[0]!);
    for (const n of names) await runCommand('ip', ['link', 'del', n], {});
    await runCommand('nft', ['delete', 'table', 'ip', this.net.nftTable], {});
    // IPv6 networks' NAT66 and isolation rules live in an ip6 table of the same name.
    await runCommand('nft', ['delete', 'table', 'ip6', this.net.nftTable], {});
    // Published ports live in a table of their own (src/network/ports).
    await runCommand('nft', ['delete', 'table', 'ip', `${this.net.nftTable}_ports`], {});
    if (names.length && (await runCommand('nft', ['list', 'chain', 'ip', 'filter', 'FORWARD'], {})).code === 0) {
      const rules = (await runCommand('iptables', ['-w', '-S', 'FORWARD'], {})).stdout.split('\n');
      for (const r of rules) {
        const m = /^-A FORWARD -([io]) (\S+) -m comment --comment berth -j ACCEPT$/.exec(r.trim());
        if (m && names.includes(m[2]!)) await runCommand('iptables', ['-w', '-D', 'FORWARD', `-${m[1]}`, m[2]!, '-m', 'comment', '--comment', 'berth', '-j', 'ACCEPT'], {});
      }
    }
  }

  /** Host claims (src/daemon/host-claims.ts) a killed daemon could not release. */
  async cleanupClaims(): Promise<void> {
    for (const f of await readdir(CLAIMS_DIR).catch(() => [] as string[])) {
      const owner = await readFile(join(CLAIMS_DIR, f), 'utf8').then((t) => JSON.parse(t) as { dataRoot?: string }, () => undefined);
      if (owner?.dataRoot === this.dataRoot) await rm(join(CLAIMS_DIR, f), { force: true });
    }
  }

  async log(): Promise<string> {
    return readFile(this.logFile, 'utf8').catch(() => '');
  }

  /** SIGTERM and wait for a clean exit; returns the exit code. */
  async stop(): Promise<number | null> {
    const p = this.proc;
    // A process killed by a signal has exitCode null and signalCode set: it is gone too.
    if (!p || p.exitCode !== null || p.signalCode !== null) return p?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(t);
    return code;
  }

  /** kill -9, as a crash. */
  async crash(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
    return new Promise((resolvePromise, reject) => {
      const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : typeof body === 'string' ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
      const req = http.request(
        { socketPath: this.socket, method, path, headers: { ...(payload && !Buffer.isBuffer(body) && typeof body !== 'string' ? { 'Content-Type': 'application/json' } : {}), ...headers } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const buf = Buffer.concat(chunks);
            resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: buf, json: () => JSON.parse(buf.toString()) });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Runs the berth CLI against this daemon. */
  berth(args: string[], options: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<RunResult> {
    return runCommand(BERTH_BIN, args, { BERTH_HOST: this.host, DOCKER_HOST: '' }, options);
  }

  /** Runs the real docker CLI against this daemon. */
  docker(args: string[], options: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<RunResult> {
    return runCommand('docker', args, { DOCKER_HOST: this.host, DOCKER_CONFIG: join(this.dir, 'docker-config'), DOCKER_CLI_HINTS: 'false', BERTH_HOST: '' }, options);
  }

  /** Imports the busybox test image as `busybox:latest` (built once per machine from busybox-static). */
  async importBusybox(ref = 'busybox:latest'): Promise<string> {
    const tar = await busyboxTar();
    const [repo, tag] = ref.split(':');
    const r = await this.api('POST', `/images/create?fromSrc=-&repo=${encodeURIComponent(repo!)}&tag=${encodeURIComponent(tag ?? 'latest')}&changes=${encodeURIComponent('CMD ["sh"]')}`, await readFile(tar), { 'Content-Type': 'application/x-tar' });
    if (r.status !== 200) throw new Error(`import failed: ${r.status} ${r.body}`);
    const img = await this.api('GET', `/images/${ref}/json`);
    return img.json().Id as string;
  }

  /** Removes every container (forced), then stops the daemon and deletes its directories. */
  async destroy(): Promise<void> {
    try {
      if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
        const list = await this.api('GET', '/containers/json?all=1');
        if (list.status === 200) {
          for (const c of list.json() as { Id: string }[]) await this.api('DELETE', `/containers/${c.Id}?force=1`);
        }
        await this.api('POST', '/networks/prune');
      }
    } finally {
      await this.stop();
      await this.cleanupNetwork();
      await this.cleanupClaims();
      await unmountUnder(this.dir);
      await rm(this.dir, { recursive: true, force: true });
    }
  }
}

/** Creates (but does not start) a private daemon in a fresh temp directory. */
export async function createDaemon(name: string): Promise<TestDaemon> {
  requireRoot();
  const dir = await mkdtemp(join(tmpdir(), `${TEST_PREFIX}${name}-`));
  const d = new TestDaemon(dir, join(dir, 'data'), join(dir, 'run'), join(dir, 'run', 'berth.sock'), join(dir, 'berthd.log'));
  await mkdir(d.execRoot, { recursive: true });
  await mkdir(join(dir, 'docker-config'), { recursive: true });
  await writeFile(join(dir, 'daemon.json'), '{}\n');
  d.net = await allocateTestNetwork();
  return d;
}

/** Creates and starts a private daemon. */
export async function startDaemon(name: string, extraArgs: string[] = []): Promise<TestDaemon> {
  const d = await createDaemon(name);
  try {
    await d.start(extraArgs);
  } catch (err) {
    // A daemon that never came up still had its directories made: nothing may stay behind.
    await d.destroy().catch(() => {});
    throw err;
  }
  return d;
}

let tarPromise: Promise<string> | undefined;
/** The busybox rootfs tarball, cached across test files in the system temp dir. */
export function busyboxTar(): Promise<string> {
  tarPromise ??= (async () => {
    const path = join(tmpdir(), 'berth-fixture-busybox.tar');
    const ok = await stat(path).then((s) => s.size > 0, () => false);
    if (!ok) {
      const tmp = `${path}.${process.pid}`;
      await makeBusyboxTar(tmp);
      const { rename } = await import('node:fs/promises');
      await rename(tmp, path);
    }
    return path;
  })();
  return tarPromise;
}

export function runCommand(cmd: string, args: string[], env: Record<string, string>, options: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const child = execFile(cmd, args, { env: { ...process.env, ...env }, timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0;
      resolvePromise({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Unmounts anything still mounted under `dir` (deepest first). */
export async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p && (p === dir || p.startsWith(dir + '/')))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    await runCommand('umount', ['-l', m], {});
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns a truthy value or the deadline passes. */
export async function eventually<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export { existsSync };
