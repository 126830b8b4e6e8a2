/**
 * Broken Dockerfiles and hostile build input must fail cleanly: a clear error naming the
 * Dockerfile and line, exit status 1 from the CLI, no image, no intermediate container left,
 * nothing written outside the daemon's own directories, and the daemon still serving.
 */
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm, access } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import tar from 'tar-stream';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
let work: string;
let imagesBefore = 0;

before(async () => {
  d = await startDaemon('build-errors');
  await d.importBusybox();
  work = await mkdtemp(join(tmpdir(), 'berth-test-builderr-'));
  // berth build remembers uploads under the cache dir: keep that inside the test's temp dir.
  process.env['XDG_CACHE_HOME'] = join(work, 'xdg-cache');
  imagesBefore = (await d.api('GET', '/images/json')).json().length;
});

after(async () => {
  await d?.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

afterEach(async () => {
  assert.deepEqual((await d.api('GET', '/containers/json?all=1')).json(), [], 'no intermediate container is left');
  assert.equal((await d.api('GET', '/_ping')).status, 200, 'the daemon still serves');
});

async function failing(name: string, dockerfile: string, files: Record<string, string> = {}, args: string[] = [], code = 1): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), dockerfile);
  for (const [p, c] of Object.entries(files)) await writeFile(join(dir, p), c);
  const r = await d.berth(['build', '-t', `broken-${name}`, ...args, dir], { timeoutMs: 120_000 });
  assert.equal(r.code, code, `expected failure with ${code}, got ${r.code}: ${r.stdout}${r.stderr}`);
  const img = await d.api('GET', `/images/broken-${name}/json`);
  assert.equal(img.status, 404, 'a failed build tags nothing');
  return r.stderr;
}

test('unknown instruction: rejected before any step, with file and line', async () => {
  const err = await failing('unknown', 'FROM busybox\nRUN true\n\nFOO bar\n');
  assert.match(err, /dockerfile parse error line 4 of Dockerfile: unknown instruction: FOO/);
  assert.equal((await d.api('GET', '/images/json')).json().length, imagesBefore, 'no step ran');
});

test('bad syntax: ENV without =, COPY with one argument, bad JSON SHELL, unterminated heredoc', async () => {
  assert.match(await failing('env', 'FROM busybox\nENV A=1 B\n'), /line 2 of Dockerfile: Syntax error - can't find = in "B"/);
  assert.match(await failing('copy1', 'FROM busybox\nCOPY onlyone\n'), /line 2 of Dockerfile: COPY requires at least two arguments/);
  assert.match(await failing('shell', 'FROM busybox\nSHELL /bin/sh -c\n'), /line 2 of Dockerfile: SHELL requires the arguments to be in JSON form/);
  assert.match(await failing('heredoc', 'FROM busybox\nRUN <<EOF\necho\n'), /line 2 of Dockerfile: unterminated heredoc: EOF/);
  assert.match(await failing('before', 'RUN true\nFROM busybox\n'), /line 1 of Dockerfile: RUN before FROM/);
  assert.match(await failing('subst', 'FROM busybox\nENV A=${B\n'), /\(Dockerfile:2\)/);
});

test('missing stage, missing image, missing target', async () => {
  assert.match(await failing('stage', 'FROM busybox\nCOPY --from=nosuchstage /a /a\n'), /invalid from flag value nosuchstage: No such image: nosuchstage.*\(Dockerfile:2\)/);
  // A missing base image is pulled (as Docker's classic builder does); the name pins its registry
  // to a closed loopback port so that the test sends nothing off the machine.
  assert.match(await failing('image', 'FROM 127.0.0.1:9/nosuchimage:1\n'), /No such image: 127\.0\.0\.1:9\/nosuchimage:1 \(Dockerfile:1\)/);
  assert.match(await failing('target', 'FROM busybox AS a\n', {}, ['--target', 'zzz']), /failed to reach build target zzz in Dockerfile/);
});

test('a failing RUN reports the command and its exit code, stops the build, and keeps its container unless --force-rm', async () => {
  // The CLI exits with the command's code, as docker does.
  const err = await failing('run', 'FROM busybox\nRUN echo before\nRUN exit 3\nRUN echo never\n', {}, [], 3);
  assert.match(err, /The command '\/bin\/sh -c exit 3' returned a non-zero code: 3 \(Dockerfile:3\)/);
  // As Docker's builder: the failed step's container stays for inspection (`--rm` removes those
  // of successful steps only); `--force-rm` removes it too.
  const kept = (await d.api('GET', '/containers/json?all=1')).json() as { Id: string; Command: string; State: string; Status: string }[];
  assert.deepEqual(kept.map((c) => [c.Command, c.State]), [["/bin/sh -c 'exit 3'", 'exited']]);
  assert.match(kept[0]!.Status, /^Exited \(3\)/);
  assert.equal((await d.api('DELETE', `/containers/${kept[0]!.Id}`)).status, 204);
  await failing('runforce', 'FROM busybox\nRUN exit 4\n', {}, ['--force-rm'], 4);
  const exec = await failing('runexec', 'FROM busybox\nRUN ["/bin/false"]\n', {}, ['--force-rm']);
  assert.match(exec, /The command \["\/bin\/false"\] returned a non-zero code: 1 \(Dockerfile:2\)/);
});

test('COPY: missing source, source outside the context, several sources to a non-directory, ignored file', async () => {
  assert.match(
    await failing('missing', 'FROM busybox\nCOPY nope /x\n'),
    /COPY failed: file not found in build context or excluded by \.dockerignore: stat nope: file does not exist \(Dockerfile:2\)/,
  );
  assert.match(await failing('outside', 'FROM busybox\nCOPY ../../etc/passwd /x\n'), /Forbidden path outside the build context: \.\.\/\.\.\/etc\/passwd/);
  assert.match(await failing('multi', 'FROM busybox\nCOPY a b /notadir\n', { a: '1', b: '2' }), /When using COPY with more than one source file, the destination must be a directory and end with a \//);
  assert.match(await failing('ignored', 'FROM busybox\nCOPY secret /x\n', { secret: 's', '.dockerignore': 'secret\n' }), /excluded by \.dockerignore: stat secret/);
  assert.match(await failing('noglob', 'FROM busybox\nCOPY *.none /x/\n'), /COPY failed: no source files were specified/);
});

test('API: a context tar that climbs out with ../ is refused and writes nothing outside', async () => {
  const pack = tar.pack();
  pack.entry({ name: 'Dockerfile' }, 'FROM busybox\n');
  const victim = `berth-build-escape-${process.pid}`;
  pack.entry({ name: `../../../../../../tmp/${victim}` }, 'pwned');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  const r = await d.api('POST', '/build?t=escape', Buffer.concat(chunks), { 'Content-Type': 'application/x-tar' });
  assert.equal(r.status, 400, r.body.toString());
  assert.match(r.json().message, /contains "\.\.", which could escape the build context/);
  await assert.rejects(access(join('/tmp', victim)));
});

test('API: malformed buildargs and a missing Dockerfile are 400s with Docker-like messages', async () => {
  const pack = tar.pack();
  pack.entry({ name: 'Dockerfile' }, 'FROM busybox\n');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  const bad = await d.api('POST', '/build?buildargs=%7Bnot-json', body, { 'Content-Type': 'application/x-tar' });
  assert.equal(bad.status, 400);
  assert.match(bad.json().message, /invalid buildargs value/);
  const missing = await d.api('POST', '/build?dockerfile=Nope.Dockerfile', body, { 'Content-Type': 'application/x-tar' });
  assert.equal(missing.status, 400);
  assert.equal(missing.json().message, 'Cannot locate specified Dockerfile: Nope.Dockerfile');
});
