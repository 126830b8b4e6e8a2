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

interface Result {
  mibPerSec: number;
  p50: number;
  p99: number;
  churnMs: number;
}

async function benchEngine(label: string, socketPath: string, network: Record<string, unknown>): Promise<Result> {
  const tag = `netbench-${process.pid}`;
  const script = `mkdir -p /www && echo small > /www/small && dd if=/dev/zero of=/www/big bs=1M count=${BIG_MIB} 2>/dev/null && httpd -f -p 80 -h /www`;
  const created = await api(socketPath, 'POST', `/containers/create?name=${tag}-web`, {
    Image: 'busybox',
    Cmd: ['sh', '-c', script],
    ExposedPorts: { '80/tcp': {} },
    HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
  });
  const id = created.json.Id as string;
  let netId = '';
  try {
    await api(socketPath, 'POST', `/containers/${id}/start`);
    const ins = (await api(socketPath, 'GET', `/containers/${id}/json`)).json;
    const port = Number(ins.NetworkSettings.Ports['80/tcp'][0].HostPort);
    // Wait for httpd (and the 10 MiB file) to be there.
    for (let i = 0; ; i++) {
      try {
        const r = await get(port, '/big');
        if (r.bytes === BIG_MIB * 1048576) break;
      } catch {
        /* not up yet */
      }
      if (i > 100) throw new Error(`${label}: httpd did not come up on ${port}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const rates: number[] = [];
    for (let i = 0; i < GETS; i++) {
      const r = await get(port, '/big');
      rates.push(r.bytes / 1048576 / (r.ms / 1000));
    }
    for (let i = 0; i < 20; i++) await get(port, '/small');
    const lat: number[] = [];
    for (let i = 0; i < SMALL; i++) lat.push((await get(port, '/small')).ms);
    const res: Result = { mibPerSec: pct(rates, 0.5), p50: pct(lat, 0.5), p99: pct(lat, 0.99), churnMs: 0 };
    // Container churn on a user network: run and remove CONTAINERS containers.
    netId = (await api(socketPath, 'POST', '/networks/create', { Name: `${tag}-net`, ...network })).json.Id as string;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CONTAINERS; i++) {
      const c = (await api(socketPath, 'POST', `/containers/create?name=${tag}-c${i}`, { Image: 'busybox', Cmd: ['sleep', '60'], HostConfig: { NetworkMode: `${tag}-net` } })).json.Id as string;
      await api(socketPath, 'POST', `/containers/${c}/start`);
      await api(socketPath, 'DELETE', `/containers/${c}?force=1`);
    }
    res.churnMs = Number(process.hrtime.bigint() - t0) / 1e6;
    console.log(
      `${label.padEnd(22)} throughput ${res.mibPerSec.toFixed(0).padStart(5)} MiB/s (median of ${GETS} × ${BIG_MIB} MiB)   latency p50 ${res.p50.toFixed(2)} ms p99 ${res.p99.toFixed(2)} ms (${SMALL} GETs)   ${CONTAINERS} × run+rm on a user network ${(res.churnMs / 1000).toFixed(1)} s`,
    );
    return res;
  } finally {
    await api(socketPath, 'DELETE', `/containers/${id}?force=1`).catch(() => {});
    if (netId) await api(socketPath, 'DELETE', `/networks/${netId}`).catch(() => {});
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root');
  console.log(`net benchmark: published port on 127.0.0.1 (busybox httpd), ${GETS} × ${BIG_MIB} MiB GETs, ${SMALL} small GETs, ${CONTAINERS} containers on a user network`);
  const d = await startDaemon('netbench');
  let berth: Result;
  try {
    await d.importBusybox();
    const base = d.net!.pool.split('/')[0]!.split('.').map(Number);
    berth = await benchEngine('berth (berthd)', d.socket, { IPAM: { Config: [{ Subnet: `${base[0]}.${base[1]}.${base[2]! + 5}.0/24` }] } });
  } finally {
    await d.destroy();
  }
  const ref = process.env['BENCH_REFERENCE'] ?? (existsSync('/run/anchor-docker.sock') ? 'unix:///run/anchor-docker.sock' : '');
  if (!ref) {
    console.log('  (no reference engine: start ../shared/reference/start-dockerd.sh or set BENCH_REFERENCE to compare)');
    return;
  }
  const reference = await benchEngine('reference (dockerd)', ref.replace(/^unix:\/\//, ''), {});
  console.log(`ratios berth/reference: throughput ${(berth.mibPerSec / reference.mibPerSec).toFixed(2)}x (> 1 means berth is faster; goal ≥ 1)   latency p50 ${(berth.p50 / reference.p50).toFixed(2)}x p99 ${(berth.p99 / reference.p99).toFixed(2)}x   churn ${(berth.churnMs / reference.churnMs).toFixed(2)}x (< 1 means berth is faster)`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
