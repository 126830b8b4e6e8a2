/**
 * bin/berth's start-up mechanics (issue 5's speed goal; docs/cli.md "Start-up"): the V8
 * start-up snapshot built by scripts/build-cli.mjs runs the real CLI, is used only while newer
 * than the tsc output, and node starts without NODE_EXTRA_CA_CERTS. The launcher is copied into
 * a temp tree whose dist/src/bin/berth.js is a stand-in that says "fallback", so each test can
 * tell which path ran.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, utimes, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, requireRoot, REPO_ROOT, type TestDaemon } from '../helpers/daemon.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Result> {
  return new Promise((resolve) => {
    const full = { ...process.env, ...env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete full[k];
    execFile(cmd, args, { env: full, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('berth CLI start-up: snapshot, fallback, NODE_EXTRA_CA_CERTS', () => {
  let d: TestDaemon;
  let tmp: string;
  let berth: string;
  let blob: string;
  let coreBlob: string;
  let fallback: string;
  const cliEnv = (): Record<string, string | undefined> => ({ BERTH_HOST: d.host, DOCKER_HOST: undefined, XDG_CACHE_HOME: join(tmp, 'cache') });

  before(async () => {
    requireRoot();
    const bundle = join(REPO_ROOT, 'dist', 'cli', 'berth-snapshot.cjs');
    await access(bundle).catch(() => {
      throw new Error(`${bundle} is missing: build with \`npm run build\` (tsc + scripts/build-cli.mjs)`);
    });
    tmp = await mkdtemp(join(tmpdir(), 'berth-cli-startup-'));
    await mkdir(join(tmp, 'bin'));
    await mkdir(join(tmp, 'dist', 'src', 'bin'), { recursive: true });
    berth = join(tmp, 'bin', 'berth');
    await copyFile(join(REPO_ROOT, 'bin', 'berth'), berth);
    fallback = join(tmp, 'dist', 'src', 'bin', 'berth.js');
    await writeFile(fallback, "process.stdout.write('fallback ' + JSON.stringify(process.argv.slice(2)) + '\\n');\n");
    const old = new Date(Date.now() - 3600_000);
    await utimes(fallback, old, old);
    blob = join(tmp, 'dist', 'berth-cli.blob');
    const built = await run(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', bundle], { BERTH_SNAPSHOT_PRELOAD: 'build,rm,inspect' });
    assert.equal(built.code, 0, built.stderr);
    coreBlob = join(tmp, 'dist', 'berth-core.blob');
    const core = await run(process.execPath, ['--snapshot-blob', coreBlob, '--build-snapshot', join(REPO_ROOT, 'dist', 'cli', 'berth-core-snapshot.cjs')], { BERTH_SNAPSHOT_PRELOAD: 'build,rm,inspect' });
    assert.equal(core.code, 0, core.stderr);
    d = await startDaemon('cli-startup');
    await d.importBusybox();
  });
  after(async () => {
    await d?.destroy();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('a current snapshot runs the CLI itself, global flags included', async () => {
    const v = await run(berth, ['--version']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^berth version \d+\.\d+\.\d+/);
    const r = await run(berth, ['-H', d.host, 'run', '--rm', 'busybox', 'echo', 'from the snapshot'], { BERTH_HOST: undefined, DOCKER_HOST: undefined });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'from the snapshot\n');
    const bad = await run(berth, ['-H', 'unix:///nonexistent/berth.sock', 'ps']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Cannot connect to the berth daemon at unix:\/\/\/nonexistent\/berth.sock/);
  });

  test('builds through the snapshot: whole, then from the cache with references', async () => {
    const ctx = join(tmp, 'ctx');
    await mkdir(join(ctx, 'files'), { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY files/ /files/\nRUN cat /files/a /files/b > /ab\n');
    await writeFile(join(ctx, 'files', 'a'), 'alpha\n');
    await writeFile(join(ctx, 'files', 'b'), 'beta\n');
    const first = await run(berth, ['build', '-t', 'cli-startup:1', ctx], cliEnv());
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /Successfully tagged cli-startup:1/);
    // The upload state was written (it is what makes the next upload references only), and
    // the tar of references that a next build with nothing changed sends as it is.
    assert.deepEqual((await readdir(join(tmp, 'cache', 'berth', 'build-context'))).map((n) => n.replace(/^[0-9a-f]{32}/, 'H')).sort(), ['H.json', 'H.tar']);
    const again = await run(berth, ['build', '-t', 'cli-startup:1', ctx], cliEnv());
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.match(/Using cache/g)?.length, 2, again.stdout);
    await writeFile(join(ctx, 'files', 'b'), 'gamma\n');
    const changed = await run(berth, ['build', '-t', 'cli-startup:1', ctx], cliEnv());
    assert.equal(changed.code, 0, changed.stderr);
    assert.doesNotMatch(changed.stdout, /Using cache/);
    const out = await run(berth, ['run', '--rm', 'cli-startup:1', 'cat', '/ab'], cliEnv());
    assert.equal(out.stdout, 'alpha\ngamma\n');
    await run(berth, ['rmi', 'cli-startup:1'], cliEnv());
  });

  test('build - reads a Dockerfile from stdin through the snapshot', async () => {
    const r = await new Promise<Result>((resolve) => {
      const env: NodeJS.ProcessEnv = { ...process.env, ...cliEnv() };
      delete env['DOCKER_HOST'];
      const child = execFile(berth, ['build', '-q', '-'], { env, timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
      child.stdin!.end('FROM busybox\nRUN echo via-stdin > /v\n');
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const out = await run(berth, ['run', '--rm', r.stdout.trim(), 'cat', '/v'], cliEnv());
    assert.equal(out.stdout, 'via-stdin\n');
    await run(berth, ['rmi', r.stdout.trim()], cliEnv());
  });

  test('node starts without NODE_EXTRA_CA_CERTS (its warning for a missing file shows it is read)', async () => {
    const env = { NODE_EXTRA_CA_CERTS: join(tmp, 'no-such-ca.pem') };
    const plain = await run(process.execPath, ['-e', '0'], env);
    assert.match(plain.stderr, /extra certs/i, 'node itself reads the variable at start-up');
    const r = await run(berth, ['--version'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /extra certs/i);
  });

  test('compose runs from the full snapshot, everything else from the core one (without compose)', async () => {
    const compose = await run(berth, ['compose', 'version']);
    assert.equal(compose.code, 0, compose.stderr);
    assert.match(compose.stdout, /Docker Compose compatible/);
    // The core snapshot itself has no compose: only the launcher's choice makes the above work.
    const direct = await run(process.execPath, ['--snapshot-blob', coreBlob, '--', 'compose', 'version']);
    assert.notEqual(direct.code, 0);
    assert.match(direct.stderr, /not in this start-up snapshot/);
    // A stale core snapshot sends other commands to the fallback, which shows it is theirs.
    const old = new Date(Date.now() - 7200_000);
    await utimes(coreBlob, old, old);
    try {
      assert.equal((await run(berth, ['--version'])).stdout, 'fallback ["--version"]\n');
      assert.match((await run(berth, ['compose', 'version'])).stdout, /Docker Compose compatible/);
    } finally {
      const now = new Date();
      await utimes(coreBlob, now, now);
    }
    assert.match((await run(berth, ['--version'])).stdout, /^berth version/);
  });

  test('a snapshot older than the tsc output is not used', async () => {
    const now = new Date();
    await utimes(fallback, now, now);
    try {
      const r = await run(berth, ['--version', 'x']);
      assert.equal(r.stdout, 'fallback ["--version","x"]\n');
    } finally {
      const old = new Date(Date.now() - 3600_000);
      await utimes(fallback, old, old);
    }
    const r = await run(berth, ['--version']);
    assert.match(r.stdout, /^berth version/);
  });

  test('with NODE_OPTIONS set (V8 flags there make node refuse a snapshot) the tsc output runs', async () => {
    const refused = await run(process.execPath, ['--snapshot-blob', blob, '--', '--version'], { NODE_OPTIONS: '--max-old-space-size=256' });
    assert.notEqual(refused.code, 0, 'node itself refuses the blob under these flags');
    const r = await run(berth, ['--version'], { NODE_OPTIONS: '--max-old-space-size=256' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'fallback ["--version"]\n');
  });
});
