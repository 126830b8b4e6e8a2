/**
 * Bytes on the wire for `berth container move` (issue 23). Two private berthds on this host
 * (contexts over their UNIX sockets); host a has an image with a 20 MB layer of its own
 * (`movebench:1`) and containers that each changed 1 MiB of their writable layer and hold
 * 8 MiB in a named volume. BENCH_N containers (default 3) move a → b one after the other:
 *
 * - the first finds b without movebench's own layer: the layer (its compressed blob) travels,
 *   with the image config, writable layer and volume;
 * - the others find the image on b: only the writable layer and the volume travel.
 *
 * Printed: bytes sent per part and per move (the figures the CLI reports, which count every
 * byte written to the target), the payload those bytes carry (writable-layer and volume file
 * sizes) and the overhead ratio, the time per move, and what `save` of the image would have
 * weighed (what a save/load transfer sends on every move). Needs root.
 *
 *   npm run build && node dist/bench/move-bench.js
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BERTH_BIN, runCommand, startDaemon, type TestDaemon } from '../test/helpers/daemon.js';

const N = Math.max(2, Number(process.env['BENCH_N'] ?? 3));
const RW_BYTES = 1 << 20;
const VOL_BYTES = 8 << 20;

interface Figure {
  name: string;
  ms: number;
  image: number;
  rw: number;
  volumes: number;
  total: number;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-move-'));
  const config = join(dir, 'docker-config');
  const daemons: TestDaemon[] = [];
  const berth = async (args: string[]): Promise<string> => {
    const r = await runCommand(BERTH_BIN, args, { BERTH_HOST: '', DOCKER_HOST: '', DOCKER_CONFIG: config }, { timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`berth ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  try {
    for (const n of ['a', 'b']) {
      const d = await startDaemon(`bench-move-${n}`);
      daemons.push(d);
      await d.importBusybox();
      await berth(['context', 'create', `bench-${n}`, '--docker', `host=${d.host}`]);
    }
    const a = ['--context', 'bench-a'];
    // An image layer of its own: 10 MB random + 10 MB text.
    await berth([...a, 'run', '--name', 'mk', 'busybox', 'sh', '-c', 'dd if=/dev/urandom of=/random bs=1M count=10 2>/dev/null && yes "some text that compresses well" | head -c 10485760 > /text']);
    await berth([...a, 'commit', 'mk', 'movebench:1']);
    await berth([...a, 'rm', 'mk']);
    const saved = await runCommand(BERTH_BIN, [...a, 'save', 'movebench:1', '-o', join(dir, 'save.tar')], { BERTH_HOST: '', DOCKER_HOST: '', DOCKER_CONFIG: config });
    if (saved.code !== 0) throw new Error(saved.stderr);
    const saveBytes = Number((await runCommand('stat', ['-c', '%s', join(dir, 'save.tar')], {})).stdout.trim());

    const figures: Figure[] = [];
    for (let i = 0; i < N; i++) {
      const name = `c${i}`;
      await berth([...a, 'run', '-d', '--name', name, '-v', `vol${i}:/data`, 'movebench:1', 'sh', '-c', `trap 'exit 0' TERM; dd if=/dev/urandom of=/changed bs=${RW_BYTES} count=1 2>/dev/null; dd if=/dev/urandom of=/data/blob bs=${VOL_BYTES} count=1 2>/dev/null; while sleep 1; do :; done`]);
      for (let t = 0; t < 100; t++) {
        const r = await runCommand(BERTH_BIN, [...a, 'exec', name, 'sh', '-c', `test $(wc -c < /data/blob) -eq ${VOL_BYTES} && test -f /changed`], { BERTH_HOST: '', DOCKER_HOST: '', DOCKER_CONFIG: config });
        if (r.code === 0) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      const t0 = process.hrtime.bigint();
      const out = await berth([...a, 'container', 'move', name, '--to', 'bench-b', '--with-volumes']);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const m = /sent \S+ \((\d+) bytes: image (\d+), writable layer (\d+), volumes (\d+)\)/.exec(out);
      if (!m) throw new Error(`no byte figures in: ${out}`);
      figures.push({ name, ms, total: Number(m[1]), image: Number(m[2]), rw: Number(m[3]), volumes: Number(m[4]) });
    }

    const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
    process.stdout.write(`berth container move, ${N} containers a -> b (each: ${RW_BYTES} B changed in its writable layer, ${VOL_BYTES} B in a named volume, --with-volumes)\n`);
    process.stdout.write(`image movebench:1 as \`save\` would send it: ${mb(saveBytes)} (${saveBytes} bytes)\n\n`);
    process.stdout.write('move  target had image  image bytes  rw bytes  volume bytes  total     payload (rw+vol files)  overhead  time\n');
    for (const [i, f] of figures.entries()) {
      const payload = RW_BYTES + VOL_BYTES;
      process.stdout.write(`${f.name.padEnd(6)}${(i === 0 ? 'no' : 'yes').padEnd(17)}${String(f.image).padEnd(13)}${String(f.rw).padEnd(10)}${String(f.volumes).padEnd(14)}${mb(f.total).padEnd(10)}${mb(payload).padEnd(24)}${(f.total / payload).toFixed(3)}x    ${f.ms.toFixed(0)} ms\n`);
    }
    const warm = figures.slice(1);
    const avg = warm.reduce((n, f) => n + f.total, 0) / warm.length;
    process.stdout.write(`\nwith the image on the target: ${mb(avg)} per move on average, image bytes ${warm.every((f) => f.image === 0) ? '0 (none sent)' : 'NOT 0'}; a save/load move would add ${mb(saveBytes)} each time\n`);
  } finally {
    for (const d of daemons) await d.destroy().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
