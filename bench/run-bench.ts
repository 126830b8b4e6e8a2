/**
 * `run --rm busybox true`, timed through every path in one run:
 *   - the berth CLI against a private berthd
 *   - the real docker CLI against that berthd
 *   - the bare runtime floor: `crun run` (and `runc run`) of a prepared bundle
 *   - the docker CLI's own floor: the same command against a null engine that answers at once
 *   - optionally the reference engine (Debian's dockerd, started by ../shared/reference/start-dockerd.sh)
 *     when BENCH_REFERENCE=unix:///run/anchor-docker.sock (or that socket exists)
 * Prints medians and ratios. A benchmark, never a pass/fail test. Needs root.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, busyboxTar, BERTH_BIN } from '../test/helpers/daemon.js';
import { startNullEngine } from './null-engine.js';
import { timedRun } from './timed-run.js';

const N = Number(process.env['BENCH_N'] ?? 20);
const WARMUP = 3;

const run = timedRun;

async function measure(name: string, fn: () => Promise<number>): Promise<{ name: string; median: number; p90: number; min: number }> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < N; i++) times.push(await fn());
  times.sort((a, b) => a - b);
  const r = { name, median: times[Math.floor(times.length / 2)]!, p90: times[Math.floor(times.length * 0.9)]!, min: times[0]! };
  console.log(`${name.padEnd(44)} median ${r.median.toFixed(1).padStart(7)} ms   p90 ${r.p90.toFixed(1).padStart(7)} ms   min ${r.min.toFixed(1).padStart(7)} ms`);
  return r;
}

async function prepareBundle(dir: string, runtime: string): Promise<string> {
  const bundle = join(dir, `bundle-${runtime}`);
  await mkdir(join(bundle, 'rootfs'), { recursive: true });
  execFileSync('tar', ['-xf', await busyboxTar(), '-C', join(bundle, 'rootfs')]);
  execFileSync('crun', ['spec'], { cwd: bundle });
  const spec = JSON.parse(execFileSync('cat', [join(bundle, 'config.json')]).toString());
  spec.process.terminal = false;
  spec.process.args = ['/bin/true'];
  spec.root.readonly = false;
  spec.linux.cgroupsPath = `/berth-bench/${runtime}`;
  await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
  return bundle;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root');
  console.log(`berth benchmark: run --rm busybox true, ${N} runs each after ${WARMUP} warm-up runs`);
  const d = await startDaemon('bench');
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-'));
  try {
    await d.importBusybox();
    const results: Record<string, number> = {};
    results.berth = (await measure('berth CLI → berthd', () => run(BERTH_BIN, ['run', '--rm', 'busybox', 'true'], { BERTH_HOST: d.host }))).median;
    results.docker = (await measure('docker CLI → berthd', () => run('docker', ['run', '--rm', 'busybox', 'true'], { DOCKER_HOST: d.host, DOCKER_CONFIG: join(work, 'dc') }))).median;
    const nullSock = join(work, 'null-engine.sock');
    const nullEngine = await startNullEngine(nullSock);
    try {
      results.client = (await measure('docker CLI → null engine (client floor)', () => run('docker', ['run', '--rm', 'busybox', 'true'], { DOCKER_HOST: `unix://${nullSock}`, DOCKER_CONFIG: join(work, 'dc') }))).median;
    } finally {
      await nullEngine.close();
    }
    let seq = 0;
    for (const rt of ['crun', 'runc']) {
      const bundle = await prepareBundle(work, rt);
      const root = join(work, `${rt}-root`);
      results[rt] = (await measure(`bare \`${rt} run\` floor`, () => run(rt, ['--root', root, 'run', '-b', bundle, `bench-${rt}-${process.pid}-${seq++}`]))).median;
    }
    const ref = process.env['BENCH_REFERENCE'] ?? (existsSync('/run/anchor-docker.sock') ? 'unix:///run/anchor-docker.sock' : '');
    if (ref) {
      results.reference = (await measure('docker CLI → reference dockerd', () => run('docker', ['run', '--rm', 'busybox', 'true'], { DOCKER_HOST: ref, DOCKER_CONFIG: join(work, 'dc') }))).median;
    }
    console.log('\nratios (median / median):');
    console.log(`  docker CLI → berthd  vs crun floor : ${(results.docker! / results.crun!).toFixed(2)}x   (goal ≤ 2x)`);
    console.log(`  berth CLI  → berthd  vs crun floor : ${(results.berth! / results.crun!).toFixed(2)}x`);
    console.log(`  docker CLI → null engine vs crun floor: ${(results.client! / results.crun!).toFixed(2)}x   (what the client alone costs)`);
    console.log(`  berthd's share: docker CLI → berthd minus the client floor = ${(results.docker! - results.client!).toFixed(1)} ms (${((results.docker! - results.client!) / results.crun!).toFixed(2)}x the crun floor)`);
    if (results.reference) {
      console.log(`  docker CLI → berthd  vs reference  : ${(results.docker! / results.reference).toFixed(2)}x   (< 1 means berth is faster)`);
    } else {
      console.log('  (no reference engine: start ../shared/reference/start-dockerd.sh or set BENCH_REFERENCE to compare)');
    }
  } finally {
    await d.destroy();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
