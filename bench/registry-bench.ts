/**
 * Pull and push of a 100 MB, 5-layer image through a local registry (`berth registry serve` on
 * loopback), timed with berth (berth CLI → private berthd) and, when its socket exists, with the
 * reference engine (Debian's dockerd from ../shared/reference/start-dockerd.sh, or
 * BENCH_REFERENCE=unix:///path.sock), in one run, the engines taking turns round by round.
 * Prints medians and the ratio. Needs root.
 *
 *   npm run build && node dist/bench/registry-bench.js      (BENCH_N runs, default 3)
 */
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, runCommand, BERTH_BIN } from '../test/helpers/daemon.js';
import { makeLayer, pushRaw, startRegistry } from '../test/helpers/registry.js';

const N = Number(process.env['BENCH_N'] ?? 3);
const REF = process.env['BENCH_REFERENCE'] ?? (existsSync('/run/anchor-docker.sock') ? 'unix:///run/anchor-docker.sock' : '');

async function timed(cmd: string, args: string[], env: Record<string, string>): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await runCommand(cmd, args, env, { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-registry-'));
  const reg = await startRegistry(dir);
  const d = await startDaemon('bench-registry');
  try {
    const R = `127.0.0.1:${reg.port}`;
    // 5 layers x 20 MB: half random (incompressible), half text, like real layers.
    const layers = [];
    for (let i = 0; i < 5; i++) {
      layers.push(await makeLayer([
        { name: `data${i}/`, type: 'directory' },
        { name: `data${i}/random`, body: randomBytes(10 << 20) },
        { name: `data${i}/text`, body: `line ${i} of some text that compresses\n`.repeat((10 << 20) / 36) },
      ]));
    }
    await pushRaw(reg.port, 'bench/img', '1', layers);
    const image = `${R}/bench/img:1`;
    const berthEnv = { BERTH_HOST: d.host, DOCKER_HOST: '' };
    const engines: { name: string; cli: string; env: Record<string, string> }[] = [{ name: 'berth', cli: BERTH_BIN, env: berthEnv }];
    if (REF) engines.push({ name: 'reference dockerd', cli: 'docker', env: { DOCKER_HOST: REF, DOCKER_CONFIG: join(dir, 'dcfg') } });
    const results: Record<string, { pull: number; push: number }> = {};
    const times = engines.map(() => ({ pulls: [] as number[], pushes: [] as number[] }));
    // Round by round, engine after engine, so load from elsewhere falls on all of them alike.
    for (let i = 0; i < N; i++) {
      for (const [k, e] of engines.entries()) {
        await runCommand(e.cli, ['rmi', '-f', image], e.env);
        times[k]!.pulls.push(await timed(e.cli, ['pull', image], e.env));
        // Push to a fresh registry each time, so every layer is really uploaded.
        const target = await startRegistry(join(dir, `push-${e.name.replace(/\W/g, '')}-${i}`));
        const dest = `127.0.0.1:${target.port}/bench/pushed:1`;
        await runCommand(e.cli, ['tag', image, dest], e.env);
        try {
          times[k]!.pushes.push(await timed(e.cli, ['push', dest], e.env));
        } finally {
          await runCommand(e.cli, ['rmi', dest], e.env);
          await target.stop();
        }
      }
    }
    for (const [k, e] of engines.entries()) {
      const { pulls, pushes } = times[k]!;
      await runCommand(e.cli, ['rmi', '-f', image], e.env);
      results[e.name] = { pull: median(pulls), push: median(pushes) };
      console.log(`${e.name.padEnd(20)} pull median ${median(pulls).toFixed(0).padStart(6)} ms (${pulls.map((x) => x.toFixed(0)).join(', ')})   push median ${median(pushes).toFixed(0).padStart(6)} ms (${pushes.map((x) => x.toFixed(0)).join(', ')})`);
    }
    const b = results['berth'];
    const r = results['reference dockerd'];
    if (b && r) {
      console.log(`ratio reference/berth: pull ${(r.pull / b.pull).toFixed(2)}x   push ${(r.push / b.push).toFixed(2)}x   (goal: pull >= 1.5x)`);
    } else console.log('reference engine not running: start ../shared/reference/start-dockerd.sh or set BENCH_REFERENCE');
  } finally {
    await reg.stop();
    await d.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
