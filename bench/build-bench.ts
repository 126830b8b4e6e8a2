/**
 * Dockerfile builds, timed in one run through berth and (when it runs) the reference engine's
 * legacy builder: the same project (a few RUN steps, a COPY of ~10 MB of files, ENV, CMD),
 *   - cold: `--no-cache`, every step executed;
 *   - fully cached: nothing changed, every step reused;
 *   - one file changed: one copied file edited, so COPY and the steps after it rerun.
 * berth is driven by its own CLI and by the real docker CLI (`DOCKER_BUILDKIT=0`) against a
 * private berthd; the reference is Debian's dockerd on /run/anchor-docker.sock (start it with
 * ../shared/reference/start-dockerd.sh) or BENCH_REFERENCE=unix:///path.sock. Prints medians
 * and ratios (berth time / reference time: below 1 is faster). A benchmark, never a test.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, BERTH_BIN } from '../test/helpers/daemon.js';

const N = Number(process.env['BENCH_N'] ?? 5);

const DOCKERFILE = `FROM busybox
ENV APP=bench MODE=release
RUN mkdir -p /app/data && echo setup > /app/data/setup
RUN for i in 1 2 3 4 5; do echo line $i >> /app/data/lines; done
COPY files/ /app/files/
RUN du -s /app/files > /app/data/size
CMD ["sh"]
`;

function time(cmd: string, args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: 300_000, maxBuffer: 64 << 20 }, (err, _out, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(Number(process.hrtime.bigint() - t0) / 1e6);
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Engine {
  name: string;
  build(args: string[]): Promise<number>;
}

async function scenario(engine: Engine, ctx: string, tag: string): Promise<{ cold: number; cached: number; changed: number }> {
  await engine.build(['-t', tag, ctx]); // warm: base image, caches
  const cold: number[] = [];
  for (let i = 0; i < N; i++) cold.push(await engine.build(['--no-cache', '-t', tag, ctx]));
  await engine.build(['-t', tag, ctx]);
  const cached: number[] = [];
  for (let i = 0; i < N; i++) cached.push(await engine.build(['-t', tag, ctx]));
  const changed: number[] = [];
  for (let i = 0; i < N; i++) {
    await writeFile(join(ctx, 'files', 'f007.bin'), randomBytes(100 * 1024));
    changed.push(await engine.build(['-t', tag, ctx]));
  }
  const r = { cold: median(cold), cached: median(cached), changed: median(changed) };
  console.log(`${engine.name.padEnd(34)} cold ${r.cold.toFixed(0).padStart(6)} ms   cached ${r.cached.toFixed(0).padStart(6)} ms   one file changed ${r.changed.toFixed(0).padStart(6)} ms`);
  return r;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root');
  const work = await mkdtemp(join(tmpdir(), 'berth-bench-build-'));
  const ctx = join(work, 'ctx');
  await mkdir(join(ctx, 'files'), { recursive: true });
  await writeFile(join(ctx, 'Dockerfile'), DOCKERFILE);
  for (let i = 0; i < 100; i++) await writeFile(join(ctx, 'files', `f${String(i).padStart(3, '0')}.bin`), randomBytes(100 * 1024));
  console.log(`build benchmark: ${N} runs per case (medians); context 100 files x 100 KiB`);

  const d = await startDaemon('bench-build');
  try {
    await d.importBusybox();
    const results: Record<string, { cold: number; cached: number; changed: number }> = {};
    results['berth'] = await scenario({ name: 'berth CLI -> berthd', build: (a) => time(BERTH_BIN, ['build', ...a], { BERTH_HOST: d.host, DOCKER_HOST: '', XDG_CACHE_HOME: join(work, 'cache') }) }, ctx, 'bench-build:berth');
    const dockerEnv = { DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config'), DOCKER_BUILDKIT: '0', BERTH_HOST: '' };
    results['docker-berthd'] = await scenario({ name: 'docker CLI (legacy) -> berthd', build: (a) => time('docker', ['build', ...a], dockerEnv) }, ctx, 'bench-build:docker');
    const ref = process.env['BENCH_REFERENCE'] ?? (existsSync('/run/anchor-docker.sock') ? 'unix:///run/anchor-docker.sock' : '');
    if (ref) {
      const refEnv = { DOCKER_HOST: ref, DOCKER_BUILDKIT: '0' };
      results['reference'] = await scenario({ name: 'docker CLI (legacy) -> dockerd', build: (a) => time('docker', ['build', ...a], refEnv) }, ctx, 'berth-bench-build:ref');
      await time('docker', ['rmi', 'berth-bench-build:ref'], refEnv).catch(() => 0);
      const b = results['berth']!;
      const r = results['reference']!;
      console.log('\nratios berth / reference (below 1 = berth faster):');
      for (const k of ['cold', 'cached', 'changed'] as const) {
        console.log(`  ${k.padEnd(8)} berth CLI ${(b[k] / r[k]).toFixed(2)}   docker CLI -> berthd ${(results['docker-berthd']![k] / r[k]).toFixed(2)}`);
      }
    } else console.log('\n(no reference engine: start ../shared/reference/start-dockerd.sh for ratios)');
  } finally {
    await d.destroy();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
