/**
 * The real docker CLI's legacy builder (`DOCKER_BUILDKIT=0`, which uses POST /build) against
 * a private berthd: same transcript shape as dockerd's, same results, cache reuse, errors.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startDaemon, runCommand, type TestDaemon, type RunResult } from '../helpers/daemon.js';

describe('docker build (legacy builder) against berthd', () => {
  let d: TestDaemon;
  let work: string;
  const docker = (args: string[]): Promise<RunResult> =>
    runCommand('docker', args, { DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config'), DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false', BERTH_HOST: '' }, { timeoutMs: 120_000 });

  before(async () => {
    d = await startDaemon('compat-build');
    await d.importBusybox();
    work = await mkdtemp(join(tmpdir(), 'berth-test-dockerbuild-'));
  });
  after(async () => {
    await d?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function ctx(name: string, files: Record<string, string>): Promise<string> {
    const dir = join(work, name);
    for (const [p, c] of Object.entries(files)) {
      await mkdir(join(dir, p, '..'), { recursive: true });
      await writeFile(join(dir, p), c);
    }
    return dir;
  }

  /** The transcript without IDs and the CLI's own preamble. */
  const shape = (out: string): string =>
    out
      .split('\n')
      .filter((l) => !l.startsWith('Sending build context'))
      .join('\n')
      .replace(/[0-9a-f]{12}/g, 'ID');

  test('build, run, rebuild from cache, history', async () => {
    const dir = await ctx('app', {
      Dockerfile: 'FROM busybox\nENV A=b\nCOPY f /f\nRUN echo hi && ls /f\nCMD ["cat", "/f"]\n',
      f: 'content\n',
      'secret.key': 'nope\n',
      '.dockerignore': '*.key\n',
    });
    const r = await docker(['build', '-t', 'app:1', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      shape(r.stdout),
      [
        'Step 1/5 : FROM busybox', ' ---> ID', 'Step 2/5 : ENV A=b', ' ---> ID', 'Step 3/5 : COPY f /f', ' ---> ID',
        'Step 4/5 : RUN echo hi && ls /f', ' ---> Running in ID', 'hi', '/f', 'Removing intermediate container ID', ' ---> ID',
        'Step 5/5 : CMD ["cat", "/f"]', ' ---> ID', 'Successfully built ID', 'Successfully tagged app:1', '',
      ].join('\n'),
    );
    const run = await docker(['run', '--rm', 'app:1']);
    assert.equal(run.stdout, 'content\n');

    const again = await docker(['build', '-t', 'app:1', dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((again.stdout.match(/ ---> Using cache\n/g) ?? []).length, 4);
    assert.equal(/Successfully built (\w+)/.exec(again.stdout)![1], /Successfully built (\w+)/.exec(r.stdout)![1]);

    const hist = await docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'app:1']);
    assert.equal(hist.code, 0, hist.stderr);
    const lines = hist.stdout.replace(/\n$/, '').split('\n'); // the imported base has an empty CreatedBy
    assert.equal(lines.length, 5);
    assert.match(lines[0]!, /CMD \["cat","\/f"\]/);
    assert.match(lines[1]!, /\/bin\/sh -c echo hi && ls \/f/);
    assert.match(lines[3]!, /ENV A=b/);
  });

  test('the CLI applies .dockerignore; -q, --iidfile, --build-arg, --target, --label, -f', async () => {
    const dir = await ctx('opts', {
      'build.Dockerfile': 'FROM busybox AS base\nARG WHO=nobody\nRUN echo "hello $WHO" > /greeting\nFROM base AS other\nRUN false\n',
      'keep.txt': 'k',
      'drop.tmp': 'd',
      '.dockerignore': '*.tmp\n',
    });
    const iid = join(work, 'iid.txt');
    const r = await docker(['build', '-q', '-f', join(dir, 'build.Dockerfile'), '--target', 'base', '--build-arg', 'WHO=docker', '--label', 'l=v', '--iidfile', iid, '-t', 'opts:1', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
    // As with dockerd: in quiet mode the ID comes from the stream, newline included.
    assert.equal((await readFile(iid, 'utf8')).trim(), r.stdout.trim());
    assert.equal((await docker(['run', '--rm', 'opts:1', 'cat', '/greeting'])).stdout, 'hello docker\n');
    const label = await docker(['inspect', '--format', '{{index .Config.Labels "l"}}', 'opts:1']);
    assert.equal(label.stdout.trim(), 'v');

    const ls = await ctx('ls', { Dockerfile: 'FROM busybox\nCOPY . /ctx/\n', 'a.txt': 'a', 'b.tmp': 'b', '.dockerignore': '*.tmp\n' });
    const b = await docker(['build', '-t', 'ls:1', ls]);
    assert.equal(b.code, 0, b.stderr);
    assert.equal((await docker(['run', '--rm', 'ls:1', 'ls', '-A', '/ctx'])).stdout, '.dockerignore\nDockerfile\na.txt\n');
  });

  test('a failing RUN: docker prints the error and exits with its code; its container stays (as with Docker) unless --force-rm', async () => {
    const dir = await ctx('fail', { Dockerfile: 'FROM busybox\nRUN echo about to fail; exit 7\n' });
    const r = await docker(['build', dir]);
    assert.equal(r.code, 7, 'the docker CLI exits with errorDetail.code');
    assert.match(r.stdout, /Step 2\/2 : RUN echo about to fail; exit 7\n ---> Running in [0-9a-f]{12}\nabout to fail\n/);
    assert.match(r.stderr, /The command '\/bin\/sh -c echo about to fail; exit 7' returned a non-zero code: 7/);
    assert.match((await docker(['ps', '-a', '--format', '{{.Status}}'])).stdout, /^Exited \(7\)/);
    assert.equal((await docker(['container', 'prune', '-f'])).code, 0);
    assert.equal((await docker(['build', '--force-rm', dir])).code, 7);
    assert.equal((await docker(['ps', '-aq'])).stdout.trim(), '');
  });

  test('a parse error is reported by docker with the line', async () => {
    const dir = await ctx('parse', { Dockerfile: 'FROM busybox\nNOPE x\n' });
    const r = await docker(['build', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error response from daemon: dockerfile parse error line 2 of Dockerfile: unknown instruction: NOPE/);
  });
});
