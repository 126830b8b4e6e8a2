/**
 * `berth build` end to end against a private berthd: every instruction, COPY/ADD semantics,
 * whiteouts, multi-stage, and the cache rules (reuse, invalidation from the changed step on,
 * --no-cache).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { startDaemon, runCommand, BERTH_BIN, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
let work: string;

before(async () => {
  d = await startDaemon('build');
  await d.importBusybox();
  work = await mkdtemp(join(tmpdir(), 'berth-test-buildctx-'));
  // berth build remembers uploads under the cache dir: keep that inside the test's temp dir.
  process.env['XDG_CACHE_HOME'] = join(work, 'xdg-cache');
});

after(async () => {
  await d?.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Writes a context directory from a map of relative path → content. */
async function context(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(work, name);
  await rm(dir, { recursive: true, force: true });
  for (const [p, content] of Object.entries(files)) {
    await mkdir(join(dir, p, '..'), { recursive: true });
    await writeFile(join(dir, p), content);
  }
  return dir;
}

async function build(dir: string, ...args: string[]) {
  return d.berth(['build', ...args, dir], { timeoutMs: 120_000 });
}

async function run(image: string, script: string): Promise<string> {
  const r = await d.berth(['run', '--rm', image, 'sh', '-c', script]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

async function inspect(image: string): Promise<any> {
  const r = await d.api('GET', `/images/${image}/json`);
  assert.equal(r.status, 200, r.body.toString());
  return r.json();
}

test('a build streams Docker\'s steps, tags the image, and history has one entry per instruction', async () => {
  const dir = await context('basic', {
    Dockerfile: 'FROM busybox\nENV GREETING=hello\nCOPY hello.txt /app/\nRUN echo "$GREETING from run" > /app/run.txt && rm /bin/vi\nCMD ["cat", "/app/run.txt"]\n',
    'hello.txt': 'hi there\n',
  });
  const r = await build(dir, '-t', 'basic:1', '-t', 'basic:2');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Step 1\/5 : FROM busybox\n ---> [0-9a-f]{12}\nStep 2\/5 : ENV GREETING=hello\n ---> [0-9a-f]{12}\nStep 3\/5 : COPY hello.txt \/app\/\n/);
  assert.match(r.stdout, /Step 4\/5 : RUN echo "\$GREETING from run" > \/app\/run.txt && rm \/bin\/vi\n ---> Running in ([0-9a-f]{12})\nRemoving intermediate container \1\n ---> [0-9a-f]{12}\n/);
  assert.match(r.stdout, /Successfully built [0-9a-f]{12}\nSuccessfully tagged basic:1\nSuccessfully tagged basic:2\n$/);
  assert.equal(await run('basic:1', 'cat /app/hello.txt /app/run.txt; ls /bin/vi 2>&1 || true'), 'hi there\nhello from run\nls: /bin/vi: No such file or directory\n');
  const cmd = await d.berth(['run', '--rm', 'basic:2']);
  assert.equal(cmd.stdout, 'hello from run\n');
  const hist = (await d.api('GET', '/images/basic:1/history')).json() as { CreatedBy: string }[];
  const createdBy = hist.map((h) => h.CreatedBy);
  assert.equal(createdBy.length, 5); // four instructions + the imported base
  assert.match(createdBy[0]!, /CMD \["cat","\/app\/run.txt"\]/);
  assert.match(createdBy[1]!, /^\/bin\/sh -c echo "\$GREETING from run"/);
  assert.match(createdBy[2]!, /COPY .* in \/app\//);
  assert.match(createdBy[3]!, /ENV GREETING=hello/);
  const ps = await d.api('GET', '/containers/json?all=1');
  assert.deepEqual(ps.json(), [], 'no intermediate container is left');
});

test('cache: a rebuild reuses every step; a changed file rebuilds from its COPY on; --no-cache rebuilds all', async () => {
  const files = {
    Dockerfile: 'FROM busybox\nRUN echo one > /one\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\nCMD ["sh"]\n',
    'a.txt': 'version 1\n',
    'b.txt': 'unrelated\n',
  };
  const dir = await context('cache', files);
  const first = await build(dir, '-t', 'cache:1');
  assert.equal(first.code, 0, first.stderr);
  assert.doesNotMatch(first.stdout, /Using cache/);
  const idOf = (out: string) => /Successfully built ([0-9a-f]{12})/.exec(out)![1];

  const again = await build(dir, '-t', 'cache:1');
  assert.equal(again.code, 0, again.stderr);
  assert.equal((again.stdout.match(/ ---> Using cache/g) ?? []).length, 4);
  assert.doesNotMatch(again.stdout, /Running in/);
  assert.equal(idOf(again.stdout), idOf(first.stdout));

  // A file no step uses changes nothing.
  await writeFile(join(dir, 'b.txt'), 'changed but unused\n');
  const unrelated = await build(dir);
  assert.equal(idOf(unrelated.stdout), idOf(first.stdout));

  await writeFile(join(dir, 'a.txt'), 'version 2\n');
  const changed = await build(dir, '-t', 'cache:2');
  assert.equal(changed.code, 0, changed.stderr);
  const steps = changed.stdout.split(/(?=Step \d)/);
  assert.match(steps[1]!, /RUN echo one[\s\S]*Using cache/, 'the step before the change is reused');
  assert.doesNotMatch(steps[2]!, /Using cache/, 'the changed COPY is rebuilt');
  assert.doesNotMatch(steps[3]!, /Using cache/, 'steps after it are rebuilt');
  assert.equal(await run('cache:2', 'cat /copy'), 'version 2\n');

  // Metadata counts too: a mode change invalidates the COPY.
  execFileSync('chmod', ['755', join(dir, 'a.txt')]);
  const mode = await build(dir);
  assert.doesNotMatch(mode.stdout.split(/(?=Step \d)/)[2]!, /Using cache/);

  const nocache = await build(dir, '--no-cache');
  assert.equal(nocache.code, 0, nocache.stderr);
  assert.doesNotMatch(nocache.stdout, /Using cache/);
});

test('config instructions: ARG, ENV, LABEL, EXPOSE, VOLUME, WORKDIR, USER, STOPSIGNAL, HEALTHCHECK, SHELL, ENTRYPOINT, ONBUILD', async () => {
  const dir = await context('config', {
    Dockerfile: [
      '# escape=\\',
      'ARG BASE=busybox',
      'FROM $BASE',
      'ARG VERSION=0.1',
      'ARG FROMCLI',
      'ENV ORDER=old',
      'ENV ORDER=new SEEN=$ORDER',
      'ENV APP_VERSION=${VERSION} \\',
      '    EMPTY_DEFAULT=${UNSET:-fallback} ALT=${VERSION:+set}',
      'LABEL org.example.version="$VERSION" "quoted key"="a b"',
      'EXPOSE 80 53/udp',
      'VOLUME ["/data"]',
      'WORKDIR /srv',
      'WORKDIR app',
      'RUN pwd > /pwd && echo "$FROMCLI" > /fromcli',
      'USER 1000:1000',
      'STOPSIGNAL SIGUSR1',
      'HEALTHCHECK --interval=5s --retries=2 CMD ["true"]',
      'SHELL ["/bin/sh", "-ec"]',
      'ONBUILD RUN id -u > /tmp/onbuild',
      'ENTRYPOINT ["/bin/echo"]',
      '',
    ].join('\n'),
  });
  const r = await build(dir, '-t', 'config:1', '--build-arg', 'FROMCLI=from the cli', '--label', 'extra=yes');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const c = (await inspect('config:1')).Config;
  assert.ok(c.Env.includes('APP_VERSION=0.1'));
  assert.ok(c.Env.includes('EMPTY_DEFAULT=fallback'));
  assert.ok(c.Env.includes('ALT=set'));
  assert.ok(c.Env.includes('ORDER=new') && c.Env.includes('SEEN=old'), 'one ENV sees the values from before it');
  assert.ok(!c.Env.some((e: string) => e.startsWith('FROMCLI=')), 'build args are not kept in the image');
  assert.equal(c.Labels['org.example.version'], '0.1');
  assert.equal(c.Labels['quoted key'], 'a b');
  assert.equal(c.Labels.extra, 'yes');
  assert.deepEqual(Object.keys(c.ExposedPorts).sort(), ['53/udp', '80/tcp']);
  assert.deepEqual(Object.keys(c.Volumes), ['/data']);
  assert.equal(c.WorkingDir, '/srv/app');
  assert.equal(c.User, '1000:1000');
  assert.equal(c.StopSignal, 'SIGUSR1');
  assert.deepEqual(c.Healthcheck.Test, ['CMD', 'true']);
  assert.equal(c.Healthcheck.Interval, 5e9);
  assert.deepEqual(c.Shell, ['/bin/sh', '-ec']);
  assert.deepEqual(c.Entrypoint, ['/bin/echo']);
  assert.equal(c.Cmd, null);
  assert.deepEqual(c.OnBuild, ['RUN id -u > /tmp/onbuild']);
  const out = await d.berth(['run', '--rm', '--entrypoint', 'cat', 'config:1', '/pwd', '/fromcli']);
  assert.equal(out.stdout, '/srv/app\nfrom the cli\n');

  // ONBUILD triggers run in the child build, and are not inherited further.
  const child = await context('onbuild-child', { Dockerfile: 'FROM config:1\nUSER 0\n' });
  const cr = await build(child, '-t', 'config:child');
  assert.equal(cr.code, 0, cr.stdout + cr.stderr);
  assert.match(cr.stdout, /# Executing 1 build trigger/);
  // The trigger ran right after FROM, as the parent's USER.
  const o2 = await d.berth(['run', '--rm', '--entrypoint', 'cat', 'config:child', '/tmp/onbuild']);
  assert.equal(o2.stdout, '1000\n');
  assert.equal((await inspect('config:child')).Config.OnBuild, null);
});

test('COPY and ADD: globs, directory contents, trailing slash, --chown/--chmod, .dockerignore, archives, heredocs', async () => {
  const dir = await context('copy', {
    Dockerfile: [
      'FROM busybox',
      'COPY *.txt /globbed/',
      'COPY src /dst',
      'COPY src/nested/deep.txt /renamed.txt',
      'COPY --chown=1234:5678 --chmod=700 src/one.js /owned/',
      'COPY --chown=nobody src/one.js /byname',
      'ADD archive.tar.gz /unpacked/',
      'COPY archive.tar.gz /kept/',
      'COPY <<EOF /here.txt',
      'made by $HOSTNAME_UNSET heredoc',
      'EOF',
      'RUN <<EOF',
      'echo from heredoc script > /script.out',
      'EOF',
      '',
    ].join('\n'),
    'a.txt': 'A\n',
    'b.txt': 'B\n',
    'secret.txt': 'do not send\n',
    'src/one.js': 'one\n',
    'src/nested/deep.txt': 'deep\n',
    'src/ignored.log': 'log\n',
    '.dockerignore': 'secret.txt\n**/*.log\n',
  });
  const payload = join(work, 'payload');
  await mkdir(join(payload, 'pkg'), { recursive: true });
  await writeFile(join(payload, 'pkg', 'inside.txt'), 'from the archive\n');
  execFileSync('tar', ['-czf', join(dir, 'archive.tar.gz'), '-C', payload, 'pkg']);
  await symlink('one.js', join(dir, 'src', 'link.js'));

  const r = await build(dir, '-t', 'copy:1');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = await run('copy:1', [
    'ls /globbed', 'ls -R /dst', 'cat /renamed.txt', 'stat -c "%u:%g %a" /owned/one.js', 'stat -c "%u" /byname',
    'cat /unpacked/pkg/inside.txt', 'ls /kept', 'cat /here.txt', 'cat /script.out', 'readlink /dst/link.js',
  ].join('; echo --; '));
  const parts = out.split('--\n');
  assert.equal(parts[0], 'a.txt\nb.txt\n', 'the glob matched both, and .dockerignore kept secret.txt out');
  assert.match(parts[1]!, /^\/dst:\nlink.js\nnested\none.js\n/, 'a directory source copies its contents; *.log ignored');
  assert.equal(parts[2], 'deep\n');
  assert.equal(parts[3], '1234:5678 700\n');
  assert.equal(parts[4], '65534\n');
  assert.equal(parts[5], 'from the archive\n', 'ADD unpacks a local archive');
  assert.equal(parts[6], 'archive.tar.gz\n', 'COPY does not');
  assert.equal(parts[7], 'made by  heredoc\n');
  assert.equal(parts[8], 'from heredoc script\n');
  assert.equal(parts[9], 'one.js\n');
});

test('multi-stage: COPY --from a stage by name and index, --target stops early, FROM an earlier stage', async () => {
  const dir = await context('stages', {
    Dockerfile: [
      'FROM busybox AS build',
      'RUN mkdir /out && echo built > /out/artifact',
      'FROM build AS tested',
      'RUN cat /out/artifact > /out/tested',
      'FROM scratch AS final',
      'COPY --from=build /out/artifact /artifact',
      'COPY --from=1 /out/tested /tested',
      'COPY --from=busybox /bin/busybox /bin/busybox',
      '',
    ].join('\n'),
  });
  const r = await build(dir, '-t', 'stages:final');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = await d.berth(['run', '--rm', 'stages:final', '/bin/busybox', 'cat', '/artifact', '/tested']);
  assert.equal(out.stdout, 'built\nbuilt\n');
  const t = await build(dir, '-t', 'stages:tested', '--target', 'tested');
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /Step 4\/4 : RUN cat/);
  assert.doesNotMatch(t.stdout, /FROM scratch/);
});

test('RUN deletions become whiteouts, including a directory emptied and refilled (opaque)', async () => {
  const dir = await context('whiteout', {
    Dockerfile: 'FROM busybox\nRUN mkdir -p /d/sub && touch /d/old /d/sub/x\nRUN rm -rf /d && mkdir /d && touch /d/new && rm /bin/ls\n',
  });
  const r = await build(dir, '-t', 'wh:1');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(await run('wh:1', 'find /d | sort; test -e /bin/ls && echo ls-still-there || echo ls-gone'), '/d\n/d/new\nls-gone\n');
});

test('ADD of a URL downloads from a (loopback) server; an unreachable URL fails fast with a clear error', async () => {
  const server = http.createServer((req, res) => {
    if (req.url === '/file.txt') {
      res.writeHead(200, { 'Last-Modified': 'Wed, 01 Jan 2020 00:00:00 GMT' });
      res.end('downloaded\n');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  try {
    // The daemon fetches, and a container's loopback is its own: the server is the host's.
    const ok = await context('addurl', { Dockerfile: `FROM busybox\nADD http://127.0.0.1:${port}/file.txt /dl/\n` });
    const r = await build(ok, '-t', 'addurl:1');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(await run('addurl:1', 'cat /dl/file.txt; stat -c %a /dl/file.txt'), 'downloaded\n600\n');
    const missing = await context('addurl404', { Dockerfile: `FROM busybox\nADD http://127.0.0.1:${port}/nope /x\n` });
    const m = await build(missing);
    assert.equal(m.code, 1);
    assert.match(m.stderr, /ADD failed: cannot download http:\/\/127\.0\.0\.1:\d+\/nope: 404/);
  } finally {
    await new Promise((r) => server.close(r));
  }
  // A port nobody listens on: refused at once, named in the error.
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const closedPort = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  const closed = await context('addurl-closed', { Dockerfile: `FROM busybox\nADD http://127.0.0.1:${closedPort}/x /x\n` });
  const t0 = Date.now();
  const c = await build(closed);
  assert.equal(c.code, 1);
  assert.match(c.stderr, /ADD failed: cannot download http:\/\/127\.0\.0\.1:\d+\/x: ECONNREFUSED.*\(Dockerfile:2\)/);
  assert.ok(Date.now() - t0 < 10_000);
});

test('-q prints only the image ID; --iidfile writes it; -f picks another Dockerfile; a context from stdin works', async () => {
  const dir = await context('quiet', { 'other.Dockerfile': 'FROM busybox\nLABEL which=other\n', Dockerfile: 'FROM busybox\nLABEL which=default\n' });
  const iid = join(work, 'iid');
  const r = await build(dir, '-q', '-f', join(dir, 'other.Dockerfile'), '--iidfile', iid, '-t', 'quiet:1');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
  assert.equal(await readFile(iid, 'utf8'), r.stdout.trim());
  assert.equal((await inspect('quiet:1')).Config.Labels.which, 'other');
  const tarball = execFileSync('tar', ['-c', '-C', dir, '.']);
  const s = await d.berth(['build', '-t', 'quiet:stdin', '-'], { input: tarball });
  assert.equal(s.code, 0, s.stderr);
  assert.equal((await inspect('quiet:stdin')).Config.Labels.which, 'default');
});

test('symlinks in the image: COPY follows them inside the image (usrmerge), and COPY --from never reaches a host path', async () => {
  const marker = `berth-test-hostmarker-${process.pid}`;
  await writeFile(join('/tmp', marker), 'host secret\n');
  try {
    const dir = await context('symlinks', {
      Dockerfile: [
        'FROM busybox AS base',
        'RUN mkdir -p /usr/real && ln -s usr/real /linked && ln -s /tmp /hosttmp',
        'COPY f /linked/',
        'COPY f /linked/sub/g',
        '',
      ].join('\n'),
      f: 'file\n',
    });
    const r = await build(dir, '-t', 'links:1');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(await run('links:1', 'readlink /linked; cat /usr/real/f /usr/real/sub/g'), 'usr/real\nfile\nfile\n');
    const leak = await context('leak', { Dockerfile: `FROM busybox\nCOPY --from=links:1 /hosttmp/${marker} /x\n` });
    const l = await build(leak);
    assert.equal(l.code, 1, l.stdout + l.stderr);
    assert.match(l.stderr, new RegExp(`COPY failed: stat /tmp/${marker}: file does not exist`));
  } finally {
    await rm(join('/tmp', marker), { force: true });
  }
});

test('berth uploads only changed files: unchanged ones go as references, and a daemon that lost them gets them whole', async () => {
  const cache = join(work, 'xdg-cache-incremental');
  const berth = (args: string[]) => runCommand(BERTH_BIN, args, { BERTH_HOST: d.host, DOCKER_HOST: '', XDG_CACHE_HOME: cache }, { timeoutMs: 120_000 });
  const dir = await context('incremental', { Dockerfile: 'FROM busybox\nCOPY . /ctx/\n', 'a.txt': 'a1\n', 'b.txt': 'b1\n' });
  const first = await berth(['build', '-t', 'inc:1', dir]);
  assert.equal(first.code, 0, first.stderr);
  const stateDir = join(cache, 'berth', 'build-context');
  const { readdir } = await import('node:fs/promises');
  const stateFile = (await readdir(stateDir)).find((n) => n.endsWith('.json'));
  const state = JSON.parse(await readFile(join(stateDir, stateFile!), 'utf8'));
  assert.deepEqual(Object.keys(state).sort(), ['Dockerfile', 'a.txt', 'b.txt'], 'the CLI remembers what it sent');

  // One file changed: the others travel as references, and the image has the new content.
  await writeFile(join(dir, 'a.txt'), 'a2\n');
  const second = await berth(['build', '-t', 'inc:2', dir]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(await run('inc:2', 'cat /ctx/a.txt /ctx/b.txt'), 'a2\nb1\n');

  // A restarted daemon has no contents cached: the CLI is told (409) and sends everything.
  await d.stop();
  await d.start();
  await writeFile(join(dir, 'b.txt'), 'b2\n');
  const third = await berth(['build', '-t', 'inc:3', dir]);
  assert.equal(third.code, 0, third.stderr);
  assert.equal(await run('inc:3', 'cat /ctx/a.txt /ctx/b.txt'), 'a2\nb2\n');

  // Nothing changed: the CLI names the context it sent last instead of sending it (all cached)...
  const fourth = await berth(['build', '-t', 'inc:4', dir]);
  assert.equal(fourth.code, 0, fourth.stderr);
  assert.match(fourth.stdout, /Using cache/);
  // ...and a daemon that no longer knows that name (restarted) gets the context after all.
  await d.stop();
  await d.start();
  const fifth = await berth(['build', '-t', 'inc:5', dir]);
  assert.equal(fifth.code, 0, fifth.stderr);
  assert.equal(await run('inc:5', 'cat /ctx/a.txt /ctx/b.txt'), 'a2\nb2\n');
});
