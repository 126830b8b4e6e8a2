/**
 * Published-port and network benchmark (issue 6), berth and the reference engine in one run:
 *   - throughput: BENCH_GETS (default 20) GETs of a 10 MiB file from busybox httpd in a
 *     container published on 127.0.0.1:PORT, by a loopback client in this process;
 *   - latency: BENCH_SMALL (default 300) GETs of a small file, p50/p99;
 *   - the time to run and remove 50 containers on a user network (API calls, one at a time).
 * berth runs as a private berthd (test helper); the reference is Debian's dockerd started by
 * ../shared/reference/start-dockerd.sh (socket /run/anchor-docker.sock, or BENCH_REFERENCE).
 * Containers are created through each engine's API, so the CLI is not measured. Traffic goes
 * only to 127.0.0.1. Never part of the test suite.
 */
import http from 'node:http';
import { existsSync } from 'node:fs';
import { startDaemon } from '../test/helpers/daemon.js';

const GETS = Number(process.env['BENCH_GETS'] ?? 20);
const SMALL = Number(process.env['BENCH_SMALL'] ?? 300);
const CONTAINERS = Number(process.env['BENCH_CONTAINERS'] ?? 50);
const BIG_MIB = 10;

function api(socketPath: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request({ socketPath, method, path, headers: payload ? { 'Content-Type': 'application/json' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json: unknown = text;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          /* not JSON */
        }
        if ((res.statusCode ?? 500) >= 400) reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
        else resolve({ status: res.statusCode ?? 0, json });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** One GET on a fresh connection (busybox httpd closes after each answer); bytes and milliseconds. */
function get(port: number, path: string): Promise<{ bytes: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => (res.statusCode === 200 ? resolve({ bytes, ms: Number(process.hrtime.bigint() - t0) / 1e6 }) : reject(new Error(`GET ${path}: ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

interface Engine {
  label: string;
  socketPath: string;
  network: Record<string, unknown>;
  id?: string;
  port?: number;
}

interface Result {
  mibPerSec: number;
  p50: number;
  p99: number;
  churnMs: number;
}

const tag = `netbench-${process.pid}`;

/** Starts the httpd container published on 127.0.0.1 and waits until it serves the big file. */
async function startWeb(e: Engine): Promise<void> {
  const script = `mkdir -p /www && echo small > /www/small && dd if=/dev/zero of=/www/big bs=1M count=${BIG_MIB} 2>/dev/null && httpd -f -p 80 -h /www`;
  const created = await api(e.socketPath, 'POST', `/containers/create?name=${tag}-web`, {
    Image: 'busybox',
    Cmd: ['sh', '-c', script],
    ExposedPorts: { '80/tcp': {} },
    HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
  });
  e.id = created.json.Id as string;
  await api(e.socketPath, 'POST', `/containers/${e.id}/start`);
  const ins = (await api(e.socketPath, 'GET', `/containers/${e.id}/json`)).json;
  e.port = Number(ins.NetworkSettings.Ports['80/tcp'][0].HostPort);
  for (let i = 0; ; i++) {
    try {
      if ((await get(e.port, '/big')).bytes === BIG_MIB * 1048576) return;
    } catch {
      /* not up yet */
    }
    if (i > 100) throw new Error(`${e.label}: httpd did not come up on ${e.port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Run and remove CONTAINERS containers on a fresh user network; milliseconds. */
async function churn(e: Engine): Promise<number> {
  const netId = (await api(e.socketPath, 'POST', '/networks/create', { Name: `${tag}-net`, ...e.network })).json.Id as string;
  try {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CONTAINERS; i++) {
      const c = (await api(e.socketPath, 'POST', `/containers/create?name=${tag}-c${i}`, { Image: 'busybox', Cmd: ['sleep', '60'], HostConfig: { NetworkMode: `${tag}-net` } })).json.Id as string;
      await api(e.socketPath, 'POST', `/containers/${c}/start`);
      await api(e.socketPath, 'DELETE', `/containers/${c}?force=1`);
    }
    return Number(process.hrtime.bigint() - t0) / 1e6;
  } finally {
    await api(e.socketPath, 'DELETE', `/networks/${netId}`).catch(() => {});
  }
}

/** The engines take turns GET by GET, so load changes on this shared machine hit both alike. */
async function measure(engines: Engine[]): Promise<Result[]> {
  const rates = engines.map(() => [] as number[]);
  const lat = engines.map(() => [] as number[]);
  for (let i = 0; i < GETS; i++) {
    for (const [k, e] of engines.entries()) {
      const r = await get(e.port!, '/big');
      rates[k]!.push(r.bytes / 1048576 / (r.ms / 1000));
    }
  }
  for (const e of engines) for (let i = 0; i < 20; i++) await get(e.port!, '/small');
  for (let i = 0; i < SMALL; i++) for (const [k, e] of engines.entries()) lat[k]!.push((await get(e.port!, '/small')).ms);
  const out: Result[] = [];
  for (const [k, e] of engines.entries()) {
    const res: Result = { mibPerSec: pct(rates[k]!, 0.5), p50: pct(lat[k]!, 0.5), p99: pct(lat[k]!, 0.99), churnMs: await churn(e) };
    console.log(
      `${e.label.padEnd(20)} throughput ${res.mibPerSec.toFixed(0).padStart(5)} MiB/s (median of ${GETS} × ${BIG_MIB} MiB)   latency p50 ${res.p50.toFixed(2)} ms p99 ${res.p99.toFixed(2)} ms (${SMALL} GETs)   ${CONTAINERS} × run+rm on a user network ${(res.churnMs / 1000).toFixed(1)} s`,
    );
    out.push(res);
  }
  return out;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root');
  console.log(`net benchmark: published port on 127.0.0.1 (busybox httpd), ${GETS} × ${BIG_MIB} MiB GETs, ${SMALL} small GETs, ${CONTAINERS} containers on a user network`);
  const d = await startDaemon('netbench');
  const engines: Engine[] = [];
  try {
    await d.importBusybox();
    const base = d.net!.pool.split('/')[0]!.split('.').map(Number);
    engines.push({ label: 'berth (berthd)', socketPath: d.socket, network: { IPAM: { Config: [{ Subnet: `${base[0]}.${base[1]}.${base[2]! + 5}.0/24` }] } } });
    const ref = process.env['BENCH_REFERENCE'] ?? (existsSync('/run/anchor-docker.sock') ? 'unix:///run/anchor-docker.sock' : '');
    if (ref) engines.push({ label: 'reference (dockerd)', socketPath: ref.replace(/^unix:\/\//, ''), network: {} });
    else console.log('  (no reference engine: start ../shared/reference/start-dockerd.sh or set BENCH_REFERENCE to compare)');
    for (const e of engines) await startWeb(e);
    const [berth, reference] = await measure(engines);
    if (berth && reference) {
      console.log(`ratios berth/reference: throughput ${(berth.mibPerSec / reference.mibPerSec).toFixed(2)}x (> 1 means berth is faster; goal ≥ 1)   latency p50 ${(berth.p50 / reference.p50).toFixed(2)}x p99 ${(berth.p99 / reference.p99).toFixed(2)}x   churn ${(berth.churnMs / reference.churnMs).toFixed(2)}x (< 1 means berth is faster)`);
    }
  } finally {
    for (const e of engines) if (e.id) await api(e.socketPath, 'DELETE', `/containers/${e.id}?force=1`).catch(() => {});
    await d.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
