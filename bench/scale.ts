/**
 * Scale figures of issue 17 item 7, berth and the reference engine in one run, as ratios:
 *   - idle RSS with no containers, and with BENCH_SCALE_N containers (half of them running)
 *   - per-request latency of /_ping and /containers/json over one keep-alive connection
 *   - `docker ps -a` (the docker CLI against each engine) and GET /containers/json?all=1
 *   - memory per running container (monitor processes + the daemon's growth)
 *   - `docker run --rm busybox true` at the Nth container
 *   - berthd's start-up with those containers (the reference is not restarted: its restart
 *     would stop its containers without --live-restore)
 * The reference is ../shared/reference/start-dockerd.sh's dockerd (BENCH_REFERENCE or
 * /run/anchor-docker.sock). Needs root. A benchmark: prints figures, never fails on them.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import { startDaemon, type TestDaemon } from '../test/helpers/daemon.js';

const N = Number(process.env['BENCH_SCALE_N'] ?? 1000);
const RUNNING = Math.floor(N / 2);
const REQS = Number(process.env['BENCH_SCALE_REQS'] ?? 2000);

interface Engine {
  name: string;
  socket: string;
  /** Daemon processes whose RSS counts (berthd; dockerd + containerd). */
  pids(): number[];
  /** Per-container monitor processes (conmon; containerd-shim). */
  monitors(): number[];
}

function call(agent: http.Agent, socket: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request({ socketPath: socket, method, path, agent, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

function rssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function procs(match: (cmd: string) => boolean): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (match(cmd)) out.push(Number(p));
  }
  return out;
}

function timeCmd(cmd: string, args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    execFile(cmd, args, { env: { ...process.env, ...env }, maxBuffer: 64 << 20, timeout: 120_000 }, (err, _o, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(Number(process.hrtime.bigint() - t0) / 1e6);
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function latency(e: Engine, path: string): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 100; i++) await call(agent, e.socket, 'GET', path);
  const times: number[] = [];
  for (let i = 0; i < REQS; i++) {
    const t0 = process.hrtime.bigint();
    await call(agent, e.socket, 'GET', path);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  agent.destroy();
  return median(times);
}

async function measure(e: Engine): Promise<Record<string, number>> {
  const fig: Record<string, number> = {};
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const env = { DOCKER_HOST: `unix://${e.socket}`, DOCKER_CLI_HINTS: 'false' };
  await sleep(3000);
  fig['idle RSS, 0 containers (MiB)'] = sum(e.pids().map(rssKb)) / 1024;
  fig['/_ping keep-alive (ms)'] = await latency(e, '/_ping');
  fig['/containers/json keep-alive, 0 (ms)'] = await latency(e, '/containers/json');
  // N containers, RUNNING of them running, 8 clients at a time.
  let next = 0;
  const ids: string[] = [];
  const work = async () => {
    while (next < N) {
      const i = next++;
      const c = await call(agent, e.socket, 'POST', `/containers/create?name=scale-${i}`, { Image: 'busybox', Cmd: ['sleep', '86400'], HostConfig: { NetworkMode: 'none' } });
      if (c.status !== 201) throw new Error(`${e.name}: create ${c.status} ${c.body}`);
      const id = (JSON.parse(c.body) as { Id: string }).Id;
      ids[i] = id;
      if (i < RUNNING) {
        const s = await call(agent, e.socket, 'POST', `/containers/${id}/start`);
        if (s.status !== 204) throw new Error(`${e.name}: start ${s.status} ${s.body}`);
      }
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 8 }, work));
  fig[`make ${N} containers, start ${RUNNING} (s)`] = (Date.now() - t0) / 1000;
  await sleep(5000);
  const mons = e.monitors();
  const daemonKb = sum(e.pids().map(rssKb));
  fig[`idle RSS, ${N} containers (MiB)`] = daemonKb / 1024;
  fig['memory per running container (MiB)'] = (sum(mons.map(rssKb)) + daemonKb - fig['idle RSS, 0 containers (MiB)']! * 1024) / RUNNING / 1024;
  fig[`GET /containers/json?all=1, ${N} (ms)`] = median(await Promise.all([0, 1, 2, 3, 4].map(async () => {
    const a = Date.now();
    await call(agent, e.socket, 'GET', '/containers/json?all=1');
    return Date.now() - a;
  })));
  const ps: number[] = [];
  for (let i = 0; i < 5; i++) ps.push(await timeCmd('docker', ['ps', '-a'], env));
  fig[`docker ps -a, ${N} (ms)`] = median(ps);
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) runs.push(await timeCmd('docker', ['run', '--rm', '--network', 'none', 'busybox', 'true'], env));
  fig[`docker run --rm at container ${N} (ms)`] = median(runs);
  (e as Engine & { ids?: string[] }).ids = ids;
  agent.destroy();
  return fig;
}

async function cleanup(e: Engine, ids: string[]): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let next = 0;
  const work = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      if (id) await call(agent, e.socket, 'DELETE', `/containers/${id}?force=1`).catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: 8 }, work));
  agent.destroy();
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the scale benchmark needs root');
  const refSock = (process.env['BENCH_REFERENCE'] ?? (existsSync('/run/anchor-docker.sock') ? 'unix:///run/anchor-docker.sock' : '')).replace(/^unix:\/\//, '');
  console.log(`berth scale benchmark: ${N} containers (${RUNNING} running), ${REQS} keep-alive requests per latency figure`);
  const d: TestDaemon = await startDaemon('scale');
  const results: Array<[string, Record<string, number>]> = [];
  try {
    await d.importBusybox();
    const berth: Engine = {
      name: 'berth',
      socket: d.socket,
      pids: () => [d.proc!.pid!],
      monitors: () => procs((c) => (c.startsWith('conmon\0') || c.includes('/conmon\0')) && (c.includes(d.dataRoot) || c.includes(d.execRoot))),
    };
    const bf = await measure(berth);
    // Start-up with the containers: stop berthd (containers keep running), start it again.
    await d.stop();
    const t0 = Date.now();
    await d.start();
    bf[`berthd start-up, ${N} containers (ms)`] = Date.now() - t0;
    results.push(['berth', bf]);
    await cleanup(berth, (berth as Engine & { ids?: string[] }).ids ?? []);
    if (refSock) {
      const ref: Engine = {
        name: 'reference',
        socket: refSock,
        pids: () => procs((c) => (c.startsWith('/usr/sbin/dockerd\0') || c.startsWith('dockerd\0')) && c.includes('anchor')).concat(procs((c) => c.startsWith('containerd\0') || c.startsWith('/usr/bin/containerd\0'))),
        monitors: () => procs((c) => c.includes('containerd-shim') && c.includes('moby')),
      };
      const rf = await measure(ref);
      results.push(['reference', rf]);
      await cleanup(ref, (ref as Engine & { ids?: string[] }).ids ?? []);
    } else {
      console.log('(no reference engine: start ../shared/reference/start-dockerd.sh to compare)');
    }
  } finally {
    await d.destroy();
  }
  const keys = [...new Set(results.flatMap(([, f]) => Object.keys(f)))];
  console.log(`${'figure'.padEnd(44)} ${results.map(([n]) => n.padStart(12)).join(' ')}   ratio berth/reference`);
  for (const k of keys) {
    const vals = results.map(([, f]) => f[k]);
    const ratio = vals.length === 2 && vals[0] !== undefined && vals[1] ? (vals[0] / vals[1]).toFixed(2) : '';
    console.log(`${k.padEnd(44)} ${vals.map((v) => (v === undefined ? '-' : v.toFixed(2)).padStart(12)).join(' ')}   ${ratio}`);
  }
}

await main();
