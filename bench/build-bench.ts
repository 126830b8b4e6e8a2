/**
 * Dockerfile builds, timed in one run through berth and (when it runs) the reference engine's
 * legacy builder: the same project (a few RUN steps, a COPY of ~10 MB of files, ENV, CMD),
 *   - cold: `--no-cache`, every step executed;
 *   - fully cached: nothing changed, every step reused;
 *   - one file changed: one copied file edited, so COPY and the steps after it rerun.
 * berth is driven by its own CLI and by the real docker CLI (`DOCKER_BUILDKIT=0`) against a
 * private berthd; the reference is Debian's dockerd on /run/anchor-docker.sock (start it with
 * ../shared/reference/start-dockerd.sh) or BENCH_REFERENCE=unix:///path.sock. Prints medians
 * and ratios (berth time / reference time: below 1 is faster). The engines take turns round by
 * round, so load from elsewhere falls on all of them alike. A benchmark, never a test.
 *
 * The berth CLI runs from a private copy of its launcher and start-up snapshot, made at the
 * start (the snapshot rebuilt first when the tsc output is newer): another engineer's `tsc`
 * during the run would otherwise send later rounds to the slower fallback and mix two CLIs.
 *
 * Multi-stage: two independent stages (each a RUN of ~0.6 s) and a final stage copying from both:
 * berth builds the two at once, the legacy builder one after the other (cold, and fully cached).
 *
 * Cache mount: a package-install pattern (`RUN --mount=type=cache` fills a download cache
 * for the packages listed in deps.txt, 0.15 s per package "download"), then deps.txt gains
 * one package and the RUN runs again: berth's second run must find the cache mount's content
 * (it prints how many packages it downloaded). The legacy builder has no cache mounts: the
 * reference runs the same install without one (every package downloaded every time).
 *
 * Upload: after the timed rounds, one fully cached and one one-file-changed build per CLI go
 * through a unix-socket proxy that counts the bytes each client sends to berthd.
 */
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, realpathSync, statSync, utimesSync } from 'node:fs';
import { cp, mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, BERTH_BIN, REPO_ROOT } from '../test/helpers/daemon.js';

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

type Figures = { cold: number; cached: number; changed: number };

/**
 * The three cases for every engine, interleaved round by round (engine A, B, C, then again), so
 * that load from elsewhere on a shared machine falls on all of them alike.
 */
async function scenarios(engines: Engine[], ctx: string, tag: (e: Engine) => string): Promise<Figures[]> {
  const times = engines.map(() => ({ cold: [] as number[], cached: [] as number[], changed: [] as number[] }));
  // A context per engine: berth CLI and docker CLI share one berthd, and a change one of them
  // built must not be a cache hit for the other.
  const dirs = engines.map((_, k) => `${ctx}-${k}`);
  for (const d of dirs) await cp(ctx, d, { recursive: true });
  const each = async (phase: 'cold' | 'cached' | 'changed', args: string[]): Promise<void> => {
    for (const [k, e] of engines.entries()) {
      if (phase === 'changed') await writeFile(join(dirs[k]!, 'files', 'f007.bin'), randomBytes(100 * 1024));
      times[k]![phase].push(await e.build([...args, '-t', tag(e), dirs[k]!]));
    }
  };
  for (const [k, e] of engines.entries()) await e.build(['-t', tag(e), dirs[k]!]); // warm: base image, caches
  for (let i = 0; i < N; i++) await each('cold', ['--no-cache']);
  for (const [k, e] of engines.entries()) await e.build(['-t', tag(e), dirs[k]!]);
  for (let i = 0; i < N; i++) await each('cached', []);
  // One copied file changes (new random content) right before each build.
  for (let i = 0; i < N; i++) await each('changed', []);
  return engines.map((e, k) => {
    const t = times[k]!;
    const r = { cold: median(t.cold), cached: median(t.cached), changed: median(t.changed) };
    console.log(`${e.name.padEnd(34)} cold ${r.cold.toFixed(0).padStart(6)} ms   cached ${r.cached.toFixed(0).padStart(6)} ms   one file changed ${r.changed.toFixed(0).padStart(6)} ms   (cached min ${Math.min(...t.cached).toFixed(0)} ms)`);
    return r;
  });
}

/** How bin/berth will start the CLI (the launcher's rule: a snapshot newer than tsc output and node). */
function cliStartMode(root = REPO_ROOT): string {
  // `berth build` runs from the core snapshot (all but compose) when there is one.
  const core = join(root, 'dist', 'berth-core.blob');
  const blob = existsSync(core) ? core : join(root, 'dist', 'berth-cli.blob');
  const name = `dist/${blob.slice(blob.lastIndexOf('/') + 1)}`;
  if (!existsSync(blob)) return 'dist/src/bin/berth.js (no snapshot: run `npm run build`)';
  const m = (p: string): number => statSync(p).mtimeMs;
  const fresh = m(blob) > m(join(root, 'dist', 'src', 'bin', 'berth.js')) && m(blob) > m(realpathSync(process.execPath));
  return fresh ? `start-up snapshot ${name}` : 'dist/src/bin/berth.js (snapshot older than the tsc output: run `npm run build`)';
}

/**
 * The berth CLI for this run: bin/berth and a current snapshot copied to `dir` (rebuilt first
 * when stale), so that a `tsc` elsewhere during the run changes nothing. Without a snapshot,
 * the repository's own launcher (and its fallback) is used.
 */
function privateCli(dir: string): string {
  if (!cliStartMode().startsWith('start-up snapshot')) {
    console.log('snapshot stale or missing: node scripts/build-cli.mjs');
    execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-cli.mjs')], { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: '' } });
  }
  if (!cliStartMode().startsWith('start-up snapshot')) return BERTH_BIN;
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'dist', 'src', 'bin'), { recursive: true });
  copyFileSync(BERTH_BIN, join(dir, 'bin', 'berth'));
  for (const blob of ['berth-cli.blob', 'berth-core.blob']) {
    if (existsSync(join(REPO_ROOT, 'dist', blob))) copyFileSync(join(REPO_ROOT, 'dist', blob), join(dir, 'dist', blob));
  }
  const entry = join(dir, 'dist', 'src', 'bin', 'berth.js');
  copyFileSync(join(REPO_ROOT, 'dist', 'src', 'bin', 'berth.js'), entry);
  const past = new Date(Date.now() - 60_000);
  utimesSync(entry, past, past); // older than the copied blob: the launcher takes the snapshot
  if (!cliStartMode(dir).startsWith('start-up snapshot')) throw new Error('the private CLI copy does not start from its snapshot');
  return join(dir, 'bin', 'berth');
}

/** A unix-socket proxy to `target` that counts the bytes clients send through it. */
async function countingProxy(path: string, target: string): Promise<{ server: Server; sent: () => number; reset: () => void }> {
  let sent = 0;
  const server = createServer((client) => {
    const up = createConnection(target);
    client.on('data', (d: Buffer) => {
      sent += d.length;
    });
    client.pipe(up);
    up.pipe(client);
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { server, sent: () => sent, reset: () => (sent = 0) };
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
    const berth = privateCli(join(work, 'cli'));
    const cliRoot = berth === BERTH_BIN ? REPO_ROOT : join(work, 'cli');
    console.log(`berth CLI starts from: ${cliStartMode(cliRoot)}${berth === BERTH_BIN ? '' : ' (private copy)'}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const engines: Engine[] = [
      { name: 'berth CLI -> berthd', build: (a) => time(berth, ['build', ...a], { BERTH_HOST: d.host, DOCKER_HOST: '', XDG_CACHE_HOME: join(work, 'cache') }) },
      { name: 'docker CLI (legacy) -> berthd', build: (a) => time('docker', ['build', ...a], { DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config'), DOCKER_BUILDKIT: '0', BERTH_HOST: '' }) },
    ];
    const ref = process.env['BENCH_REFERENCE'] ?? (existsSync('/run/anchor-docker.sock') ? 'unix:///run/anchor-docker.sock' : '');
    const refEnv = { DOCKER_HOST: ref, DOCKER_BUILDKIT: '0' };
    if (ref) engines.push({ name: 'docker CLI (legacy) -> dockerd', build: (a) => time('docker', ['build', ...a], refEnv) });
    const tags = new Map<Engine, string>(engines.map((e, i) => [e, ['bench-build:berth', 'bench-build:docker', 'berth-bench-build:ref'][i]!]));
    const [b, db, r] = await scenarios(engines, ctx, (e) => tags.get(e)!);
    console.log(`load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}; berth CLI started from: ${cliStartMode(cliRoot)}`);
    await uploads(berth, d, work, ctx);
    await multiStage(berth, d, work, ref);
    await cacheMount(berth, d, work, ref);
    if (ref) {
      await time('docker', ['rmi', 'berth-bench-build:ref'], refEnv).catch(() => 0);
      console.log('\nratios berth / reference (below 1 = berth faster; 0.50 = twice as fast):');
      for (const k of ['cold', 'cached', 'changed'] as const) {
        console.log(`  ${k.padEnd(8)} berth CLI ${(b![k] / r![k]).toFixed(2)}   docker CLI -> berthd ${(db![k] / r![k]).toFixed(2)}`);
      }
    } else console.log('\n(no reference engine: start ../shared/reference/start-dockerd.sh for ratios)');
  } finally {
    await d.destroy();
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Bytes each CLI sends to berthd for one fully cached and one one-file-changed build (through
 * the counting proxy; untimed). The berth CLI keeps its upload state per daemon address, so it
 * makes one build through the proxy first.
 */
async function uploads(berth: string, d: { host: string; dir: string; socket: string }, work: string, ctx: string): Promise<void> {
  const proxyPath = join(work, 'count.sock');
  const proxy = await countingProxy(proxyPath, d.socket);
  const host = `unix://${proxyPath}`;
  const dir = `${ctx}-upload`;
  await cp(ctx, dir, { recursive: true });
  const contextBytes = [...Array(100).keys()].reduce((n, i) => n + statSync(join(dir, 'files', `f${String(i).padStart(3, '0')}.bin`)).size, statSync(join(dir, 'Dockerfile')).size);
  const measure = async (build: () => Promise<number>): Promise<number> => {
    proxy.reset();
    await build();
    return proxy.sent();
  };
  try {
    const berthBuild = (): Promise<number> => time(berth, ['build', '-t', 'bench-build:upload', dir], { BERTH_HOST: host, DOCKER_HOST: '', XDG_CACHE_HOME: join(work, 'cache') });
    const dockerBuild = (): Promise<number> => time('docker', ['build', '-t', 'bench-build:upload', dir], { DOCKER_HOST: host, DOCKER_CONFIG: join(d.dir, 'docker-config'), DOCKER_BUILDKIT: '0', BERTH_HOST: '' });
    const first = await measure(berthBuild);
    const berthCached = await measure(berthBuild);
    await writeFile(join(dir, 'files', 'f007.bin'), randomBytes(100 * 1024));
    const berthChanged = await measure(berthBuild);
    const dockerCached = await measure(dockerBuild);
    await writeFile(join(dir, 'files', 'f008.bin'), randomBytes(100 * 1024));
    const dockerChanged = await measure(dockerBuild);
    const kb = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
    console.log(`\nupload, bytes the client sent to berthd for one build (context: 101 files, ${kb(contextBytes)} of content):`);
    console.log(`  berth CLI   first build ${kb(first)}   fully cached ${kb(berthCached)}   one file changed ${kb(berthChanged)}`);
    console.log(`  docker CLI  fully cached ${kb(dockerCached)}   one file changed ${kb(dockerChanged)}   (the docker CLI always sends the whole context)`);
  } finally {
    proxy.server.close();
  }
}

const MULTI = `FROM busybox AS a
RUN sleep 0.6 && echo a > /a
FROM busybox AS b
RUN sleep 0.6 && echo b > /b
FROM busybox
COPY --from=a /a /a
COPY --from=b /b /b
`;

/** Two independent stages: cold (--no-cache) and fully cached, berth CLI vs the reference. */
async function multiStage(berth: string, d: { host: string; dir: string }, work: string, ref: string): Promise<void> {
  const dir = join(work, 'multi');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), MULTI);
  const engines: Engine[] = [{ name: 'berth CLI -> berthd', build: (a) => time(berth, ['build', ...a], { BERTH_HOST: d.host, DOCKER_HOST: '', XDG_CACHE_HOME: join(work, 'cache') }) }];
  if (ref) engines.push({ name: 'docker CLI (legacy) -> dockerd', build: (a) => time('docker', ['build', ...a], { DOCKER_HOST: ref, DOCKER_BUILDKIT: '0' }) });
  const tags = ['bench-multi:berth', 'berth-bench-multi:ref'];
  const times = engines.map(() => ({ cold: [] as number[], cached: [] as number[] }));
  for (const [k, e] of engines.entries()) await e.build(['-t', tags[k]!, dir]);
  for (let i = 0; i < N; i++) for (const [k, e] of engines.entries()) times[k]!.cold.push(await e.build(['--no-cache', '-t', tags[k]!, dir]));
  for (let i = 0; i < N; i++) for (const [k, e] of engines.entries()) times[k]!.cached.push(await e.build(['-t', tags[k]!, dir]));
  console.log('\nmulti-stage, two independent stages of ~0.6 s each (medians):');
  const med = times.map((t) => ({ cold: median(t.cold), cached: median(t.cached) }));
  for (const [k, e] of engines.entries()) console.log(`  ${e.name.padEnd(34)} cold ${med[k]!.cold.toFixed(0).padStart(6)} ms   cached ${med[k]!.cached.toFixed(0).padStart(6)} ms`);
  if (ref) {
    console.log(`  ratios berth / reference: cold ${(med[0]!.cold / med[1]!.cold).toFixed(2)}   cached ${(med[0]!.cached / med[1]!.cached).toFixed(2)}`);
    await time('docker', ['rmi', tags[1]!], { DOCKER_HOST: ref }).catch(() => 0);
  }
}

const INSTALL = (mount: boolean): string => `FROM busybox
COPY deps.txt /deps.txt
RUN ${mount ? '--mount=type=cache,id=bench-pkgs,target=/var/cache/pkg ' : ''}mkdir -p /var/cache/pkg /app && n=0 && for p in $(cat /deps.txt); do \\
      [ -f /var/cache/pkg/$p ] || { sleep 0.15; echo "package $p" > /var/cache/pkg/$p; n=$((n+1)); }; \\
      cp /var/cache/pkg/$p /app/$p; done && echo "downloaded $n packages"
`;

/**
 * The cache-mount pattern: first install of 8 packages, then deps.txt gains one and the RUN
 * runs again. berth's second run must download only the new package.
 */
async function cacheMount(berth: string, d: { host: string; dir: string }, work: string, ref: string): Promise<void> {
  const deps = (n: number): string => `${[...Array(n).keys()].map((i) => `pkg${i}`).join('\n')}\n`;
  const first: number[] = [];
  const second: number[] = [];
  const refFirst: number[] = [];
  const refSecond: number[] = [];
  let downloaded = '';
  for (let i = 0; i < N; i++) {
    const dir = join(work, `cm-${i}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'Dockerfile'), INSTALL(true));
    await writeFile(join(dir, 'deps.txt'), deps(8));
    await runBerth(berth, d, work, ['builder', 'prune', '-a', '-f']);
    first.push(await time(berth, ['build', '-t', 'bench-cm:berth', dir], { BERTH_HOST: d.host, DOCKER_HOST: '', XDG_CACHE_HOME: join(work, 'cache') }));
    await writeFile(join(dir, 'deps.txt'), deps(9));
    const t0 = process.hrtime.bigint();
    const out = await runBerth(berth, d, work, ['build', '-t', 'bench-cm:berth', dir]);
    second.push(Number(process.hrtime.bigint() - t0) / 1e6);
    downloaded = /downloaded (\d+) packages/.exec(out)?.[1] ?? '?';
    if (downloaded !== '1') throw new Error(`the second run did not reuse the cache mount (downloaded ${downloaded} packages):\n${out}`);
    if (ref) {
      const rdir = join(work, `cm-ref-${i}`);
      await mkdir(rdir, { recursive: true });
      await writeFile(join(rdir, 'Dockerfile'), INSTALL(false));
      await writeFile(join(rdir, 'deps.txt'), deps(8));
      // --no-cache: every round's first build is a first build (the same files would hit the step cache).
      refFirst.push(await time('docker', ['build', '--no-cache', '-t', 'berth-bench-cm:ref', rdir], { DOCKER_HOST: ref, DOCKER_BUILDKIT: '0' }));
      await writeFile(join(rdir, 'deps.txt'), deps(9));
      refSecond.push(await time('docker', ['build', '--no-cache', '-t', 'berth-bench-cm:ref', rdir], { DOCKER_HOST: ref, DOCKER_BUILDKIT: '0' }));
    }
  }
  console.log('\ncache mount, package-install pattern (8 packages, then 9; 0.15 s per download; medians):');
  console.log(`  berth CLI (RUN --mount=type=cache)  first ${median(first).toFixed(0)} ms   after deps.txt changed ${median(second).toFixed(0)} ms (downloaded ${downloaded} package)`);
  if (ref) {
    console.log(`  reference legacy builder (no cache mounts)  first ${median(refFirst).toFixed(0)} ms   after deps.txt changed ${median(refSecond).toFixed(0)} ms (downloads all 9)`);
    console.log(`  ratio berth / reference after the change: ${(median(second) / median(refSecond)).toFixed(2)}`);
    await time('docker', ['rmi', 'berth-bench-cm:ref'], { DOCKER_HOST: ref }).catch(() => 0);
  }
}

function runBerth(berth: string, d: { host: string }, work: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(berth, args, { env: { ...process.env, BERTH_HOST: d.host, DOCKER_HOST: '', XDG_CACHE_HOME: join(work, 'cache') }, timeout: 300_000 }, (err, out, stderr) => {
      if (err) reject(new Error(`berth ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(out);
    });
  });
}

await main();
