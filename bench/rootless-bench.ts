/**
 * `run --rm busybox true`, rootful berthd vs rootless berthd (issue 21), side by side in one run:
 * the same CLI binary, from the same root process (root may use the user's socket), so only the
 * daemon differs. The rootless daemon runs as an unprivileged user made for the bench (see
 * test/helpers/rootless.ts), removed at the end. With BENCH_REFERENCE_ROOTLESS=1 it also tries
 * Docker's own rootless mode (dockerd-rootless.sh from docker.io) as that user and reports what
 * happened. Goal: rootless under 1.5x the rootful time. A benchmark, never a test. Needs root.
 */
import { spawn } from 'node:child_process';
import { chown } from 'node:fs/promises';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, BERTH_BIN, busyboxTar } from '../test/helpers/daemon.js';
import { createRootlessDaemon } from '../test/helpers/rootless.js';
import { timedRun } from './timed-run.js';

const N = Number(process.env['BENCH_N'] ?? 20);
const WARMUP = 3;

const run = timedRun;

async function measure(name: string, fn: () => Promise<number>): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < N; i++) times.push(await fn());
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  console.log(`${name.padEnd(40)} median ${median.toFixed(1).padStart(7)} ms   p90 ${times[Math.floor(times.length * 0.9)]!.toFixed(1).padStart(7)} ms   min ${times[0]!.toFixed(1).padStart(7)} ms`);
  return median;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (it makes a user and runs a rootful daemon)');
  console.log(`rootless benchmark: run --rm busybox true, ${N} runs each after ${WARMUP} warm-up runs, measured in turns`);
  const rootful = await startDaemon('bench-rootful');
  const { daemon: rootless } = await createRootlessDaemon('bench-rootless');
  let dockerd: { stop(): Promise<void> } | undefined;
  try {
    await rootful.importBusybox();
    await rootless.start();
    await rootless.importBusybox();
    const dc = join(rootless.dir, 'docker-config');
    const r: Record<string, number> = {};
    // Interleaved (rootful, rootless, rootful, rootless) so load from other work hits both alike.
    for (const round of [1, 2]) {
      console.log(`-- round ${round}`);
      r[`berth-rootful-${round}`] = await measure('berth CLI → rootful berthd', () => run(BERTH_BIN, ['run', '--rm', 'busybox', 'true'], { BERTH_HOST: rootful.host }));
      r[`berth-rootless-${round}`] = await measure('berth CLI → rootless berthd', () => run(BERTH_BIN, ['run', '--rm', 'busybox', 'true'], { BERTH_HOST: `unix://${rootless.socket}` }));
      r[`docker-rootful-${round}`] = await measure('docker CLI → rootful berthd', () => run('docker', ['run', '--rm', 'busybox', 'true'], { DOCKER_HOST: rootful.host, DOCKER_CONFIG: dc }));
      r[`docker-rootless-${round}`] = await measure('docker CLI → rootless berthd', () => run('docker', ['run', '--rm', 'busybox', 'true'], { DOCKER_HOST: `unix://${rootless.socket}`, DOCKER_CONFIG: dc }));
    }
    const best = (k: string) => Math.min(r[`${k}-1`]!, r[`${k}-2`]!);
    console.log('\nratios (rootless median / rootful median, the better round of each; goal < 1.5x):');
    console.log(`  berth CLI : ${(best('berth-rootless') / best('berth-rootful')).toFixed(2)}x  (${best('berth-rootless').toFixed(1)} vs ${best('berth-rootful').toFixed(1)} ms)`);
    console.log(`  docker CLI: ${(best('docker-rootless') / best('docker-rootful')).toFixed(2)}x  (${best('docker-rootless').toFixed(1)} vs ${best('docker-rootful').toFixed(1)} ms)`);
    if (process.env['BENCH_REFERENCE_ROOTLESS'] === '1') {
      // Docker's rootless mode, as the same user, after berth's daemon is stopped (one rootlesskit each).
      await rootless.stop();
      dockerd = await startRootlessDockerd(rootless);
      if (dockerd) {
        const host = `unix://${join(rootless.runDir, 'docker.sock')}`;
        const ref = await measure('docker CLI → rootless dockerd (reference)', () => run('docker', ['run', '--rm', 'busybox', 'true'], { DOCKER_HOST: host, DOCKER_CONFIG: dc }));
        console.log(`  docker CLI → rootless berthd vs rootless dockerd: ${(best('docker-rootless') / ref).toFixed(2)}x  (< 1 means berth is faster)`);
      }
    }
  } finally {
    await dockerd?.stop();
    await rootless.destroy();
    await rootful.destroy();
  }
}

/** dockerd-rootless.sh as the bench user, with the busybox image imported; undefined (and why) when it cannot start. */
async function startRootlessDockerd(u: Awaited<ReturnType<typeof createRootlessDaemon>>['daemon']): Promise<{ stop(): Promise<void> } | undefined> {
  const script = ['/usr/share/docker.io/contrib/dockerd-rootless.sh', '/usr/bin/dockerd-rootless.sh'].find((p) => existsSync(p));
  if (!script) {
    console.log('  (no dockerd-rootless.sh: reference rootless figure not taken)');
    return undefined;
  }
  const log = join(u.dir, 'dockerd-rootless.log');
  const fd = openSync(log, 'a');
  const proc = spawn('setpriv', u.argv(script, ['--data-root', join(u.home, '.local', 'share', 'docker')], { PATH: `/usr/sbin:/usr/bin:/sbin:/bin` }), { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(t);
  };
  const sock = join(u.runDir, 'docker.sock');
  const env = { DOCKER_HOST: `unix://${sock}` };
  for (let i = 0; i < 150; i++) {
    if (proc.exitCode !== null) break;
    if (existsSync(sock) && (await run('docker', ['version'], env).then(() => true, () => false))) {
      const tarCopy = join(u.home, 'busybox-ref.tar');
      await run('cp', [await busyboxTar(), tarCopy]);
      await chown(tarCopy, u.uid, u.gid);
      await run('docker', ['import', '--change', 'CMD ["sh"]', tarCopy, 'busybox:latest'], env);
      return { stop };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log(`  (rootless dockerd did not start; its log ends:\n${readFileSync(log, 'utf8').split('\n').slice(-8).join('\n')})`);
  await stop();
  return undefined;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
