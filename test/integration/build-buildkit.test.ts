/**
 * BuildKit-era build features end to end against a private berthd (the per-rule results are
 * in the Dockerfile corpus, test/compat/dockerfile-corpus.test.ts): cache mounts kept between
 * builds and reclaimed by `builder prune` (system df shows them), `--output`, `--iidfile`,
 * `--metadata-file`, `--progress=plain`, skipped and parallel stages, `--no-cache-filter`,
 * `--build-context`, `--ssh`, `--add-host`, `--network`, `--platform`, the security.insecure
 * entitlement, and the API options berth refuses by name.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import net from 'node:net';
import tar from 'tar-stream';
import { startDaemon, BERTH_BIN, type TestDaemon } from '../helpers/daemon.js';
import { spawnPty } from '../helpers/pty.js';
import { formatPlatform, hostPlatform } from '../../src/oci/platform.js';

let d: TestDaemon;
let work: string;

before(async () => {
  process.env['BERTH_BUILD_ADD_MAX_BYTES'] = String(1024 * 1024); // ADD <url> cap for this daemon: 1 MiB
  d = await startDaemon('build-bk', ['--allow-insecure-entitlement', 'security.insecure']);
  delete process.env['BERTH_BUILD_ADD_MAX_BYTES'];
  await d.importBusybox();
  work = await mkdtemp(join(tmpdir(), 'berth-test-buildbk-'));
  process.env['XDG_CACHE_HOME'] = join(work, 'xdg-cache');
});

after(async () => {
  await d?.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

async function context(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(work, name);
  await rm(dir, { recursive: true, force: true });
  for (const [p, content] of Object.entries(files)) {
    await mkdir(join(dir, p, '..'), { recursive: true });
    await writeFile(join(dir, p), content);
  }
  return dir;
}

const build = (dir: string, ...args: string[]) => d.berth(['build', ...args, dir], { timeoutMs: 120_000 });

async function cat(image: string, path: string): Promise<string> {
  const r = await d.berth(['run', '--rm', image, 'cat', path]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('a cache mount keeps its content between builds; builder prune reclaims it and system df shows it', async () => {
  const Dockerfile = 'FROM busybox\nCOPY v /v\nRUN --mount=type=cache,id=pkgs,target=/cache sh -c "ls /cache > /seen; cat /v >> /cache/log; wc -l < /cache/log > /count"\n';
  const dir = await context('cm', { Dockerfile, v: '1\n' });
  assert.equal((await build(dir, '-t', 'cm:1')).code, 0);
  assert.equal((await cat('cm:1', '/count')).trim(), '1');
  await writeFile(join(dir, 'v'), '2\n'); // the RUN runs again, with what the first run left
  const second = await build(dir, '-t', 'cm:2');
  assert.equal(second.code, 0, second.stderr);
  assert.equal((await cat('cm:2', '/count')).trim(), '2');
  assert.equal(await cat('cm:2', '/seen'), 'log\n');

  const df = (await d.api('GET', '/system/df')).json() as { BuildCache: { Type: string; Size: number; InUse: boolean }[] };
  assert.equal(df.BuildCache.length, 1);
  assert.equal(df.BuildCache[0]!.Type, 'exec.cachemount');
  assert.ok(df.BuildCache[0]!.Size >= 4);
  const dfCli = await d.berth(['system', 'df']);
  assert.match(dfCli.stdout, /Build Cache\s+1\s+0\s+\d+B/);

  // until= keeps what was used recently; a plain prune removes it.
  const keep = await d.berth(['builder', 'prune', '-f', '--filter', 'until=1h']);
  assert.equal(keep.code, 0, keep.stderr);
  assert.match(keep.stdout, /Total:\s+0B/);
  const pruned = await d.berth(['builder', 'prune', '-f']);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stdout, /Deleted build cache objects:\n[0-9a-f]{32}\n/);
  assert.equal(((await d.api('GET', '/system/df')).json() as { BuildCache: unknown[] }).BuildCache.length, 0);
  await writeFile(join(dir, 'v'), '3\n');
  assert.equal((await build(dir, '-t', 'cm:3')).code, 0);
  assert.equal((await cat('cm:3', '/count')).trim(), '1', 'a pruned cache mount starts empty');
  const bad = await d.api('POST', '/build/prune?filters=' + encodeURIComponent(JSON.stringify({ type: ['x'] })));
  assert.equal(bad.status, 400);
  assert.match(bad.json().message, /invalid filter 'type'/);
});

test('COPY --link: a change below the step reuses its layer on the new base', async () => {
  const dir = await context('link', { Dockerfile: 'FROM busybox\nCOPY base.txt /base.txt\nCOPY --link big /big/\n', 'base.txt': '1\n', 'big/a': 'a\n', 'big/b': 'b\n' });
  assert.equal((await build(dir, '-t', 'link:1')).code, 0);
  await writeFile(join(dir, 'base.txt'), '2\n');
  const r = await build(dir, '-t', 'link:2');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Step 3\/3 : COPY --link big \/big\/\n ---> Using cache \(COPY --link layer, put on the new base\)\n/);
  assert.equal(await cat('link:2', '/base.txt'), '2\n');
  assert.equal(await cat('link:2', '/big/b'), 'b\n');
  const img = (await d.api('GET', '/images/link:2/json')).json() as { RootFS: { Layers: string[] } };
  const prev = (await d.api('GET', '/images/link:1/json')).json() as { RootFS: { Layers: string[] } };
  assert.equal(img.RootFS.Layers.at(-1), prev.RootFS.Layers.at(-1), 'the --link layer is the same layer');
  assert.notEqual(img.RootFS.Layers.at(-2), prev.RootFS.Layers.at(-2));
  // Without --link the same change re-runs the copy.
  await writeFile(join(dir, 'Dockerfile'), 'FROM busybox\nCOPY base.txt /base.txt\nCOPY big /big/\n');
  assert.equal((await build(dir)).code, 0);
  await writeFile(join(dir, 'base.txt'), '3\n');
  assert.doesNotMatch((await build(dir)).stdout, /Step 3\/3 : COPY big \/big\/\n ---> Using cache/);
});

test('ADD <url> streams to disk and stops at the size cap, with or without Content-Length', async () => {
  const http = await import('node:http');
  const server = http.createServer((req, res) => {
    const size = req.url === '/small' ? 512 * 1024 : 3 * 1024 * 1024;
    if (req.url === '/chunked') res.writeHead(200); // no Content-Length: counted while streaming
    else res.writeHead(200, { 'Content-Length': String(size) });
    const chunk = Buffer.alloc(64 * 1024, 120);
    let sent = 0;
    const pump = (): void => {
      while (sent < size) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('error', () => undefined);
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
  try {
    const ok = await context('add-ok', { Dockerfile: `FROM busybox\nADD ${url}/small /small\n` });
    const r = await build(ok, '-t', 'addcap:1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await cat('addcap:1', '/small')).length, 512 * 1024);
    for (const path of ['/declared', '/chunked']) {
      const big = await context('add-big', { Dockerfile: `FROM busybox\nADD ${url}${path} /big\n` });
      const f = await build(big);
      assert.notEqual(f.code, 0, path);
      assert.match(f.stderr, /more than the limit of 1048576 bytes|exceeds the limit of 1048576 bytes/, path);
      assert.match(f.stderr, /\(Dockerfile:2\)/);
    }
    assert.deepEqual(await readdir(join(d.dataRoot, 'build', 'staging')).catch(() => []), [], 'no download is left behind');
  } finally {
    server.close();
  }
});

test('--pull fetches the base image from its registry (loopback registry here)', async () => {
  const { startRegistry } = await import('../helpers/registry.js');
  const reg = await startRegistry(join(work, 'reg'));
  try {
    const ref = `127.0.0.1:${reg.port}/base/bb:1`;
    assert.equal((await d.berth(['tag', 'busybox', ref])).code, 0);
    const push = await d.berth(['push', ref]);
    assert.equal(push.code, 0, push.stderr);
    assert.equal((await d.berth(['rmi', ref])).code, 0);
    const dir = await context('pull', { Dockerfile: `FROM ${ref}\nRUN echo pulled > /p\n` });
    // A base image the store lacks is pulled without --pull too (Docker's classic builder does).
    const without = await build(dir, '-t', 'pulled:0');
    assert.equal(without.code, 0, without.stderr);
    assert.match(without.stdout, /Pulling 127\.0\.0\.1:\d+\/base\/bb:1\n/);
    // --pull pulls even an image the store has.
    const r = await build(dir, '--pull', '-t', 'pulled:1');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Pulling 127\.0\.0\.1:\d+\/base\/bb:1\n/);
    assert.equal(await cat('pulled:1', '/p'), 'pulled\n');
  } finally {
    await reg.stop();
  }
});

test('--cache-from reuses the layers of an image whose history matches, when the step cache does not know them', async () => {
  const dir = await context('cf', { Dockerfile: 'FROM busybox\nENV A=1\nCOPY f /f\nRUN echo ran > /r\n', f: 'x\n' });
  assert.equal((await build(dir, '-t', 'cf:src')).code, 0);
  assert.equal((await d.berth(['builder', 'prune', '-a', '-f'])).code, 0); // the step cache forgets
  const r = await build(dir, '-t', 'cf:2', '--cache-from', 'cf:src', '--cache-from', 'nosuch:1');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\[Warning\] --cache-from nosuch:1: no such image here/);
  assert.match(r.stdout, /Step 3\/4 : COPY f \/f\n ---> Using cache \(a layer of a --cache-from image\)\n/);
  assert.match(r.stdout, /Step 4\/4 : RUN echo ran > \/r\n ---> Using cache \(a layer of a --cache-from image\)\n/);
  assert.doesNotMatch(r.stdout, /Running in/);
  const a = (await d.api('GET', '/images/cf:src/json')).json() as { RootFS: { Layers: string[] } };
  const b = (await d.api('GET', '/images/cf:2/json')).json() as { RootFS: { Layers: string[] } };
  assert.deepEqual(b.RootFS.Layers, a.RootFS.Layers);
  // A changed file: that step and the ones after it run.
  await writeFile(join(dir, 'f'), 'y\n');
  assert.equal((await d.berth(['builder', 'prune', '-a', '-f'])).code, 0);
  const c = await build(dir, '--cache-from', 'cf:src');
  assert.match(c.stdout, /Step 4\/4 : RUN echo ran > \/r\n ---> Running in/);
});

test('mount sources in an image are resolved inside it: a symlink to /etc is the image\'s /etc, never the host\'s', async () => {
  const dir = await context('esc', {
    Dockerfile: 'FROM busybox AS s\nRUN ln -s /etc /evil\nFROM busybox\nRUN --mount=type=cache,id=esc,target=/c,from=s,source=/evil ls /c > /cache-ls\nRUN --mount=type=bind,from=s,source=/evil,target=/b ls /b > /bind-ls\n',
  });
  const r = await build(dir, '-t', 'esc:1');
  assert.equal(r.code, 0, r.stderr);
  for (const f of ['/cache-ls', '/bind-ls']) {
    const ls = await cat('esc:1', f);
    assert.match(ls, /^passwd$/m, f);
    assert.doesNotMatch(ls, /debian_version|os-release/, `${f} lists the host's /etc`);
  }
});

test('--output type=local and type=tar give the files and leave no image; --iidfile and --metadata-file', async () => {
  const dir = await context('out', { Dockerfile: 'FROM busybox AS b\nRUN echo built > /result\nFROM scratch\nCOPY --from=b /result /result\n' });
  const local = join(work, 'out-local');
  const outIid = join(work, 'out-iid');
  const r = await build(dir, '--output', `type=local,dest=${local}`, '--iidfile', outIid);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await d.api('GET', `/images/${await readFile(outIid, 'utf8')}/json`)).status, 404, 'an export leaves no image');
  assert.equal(await readFile(join(local, 'result'), 'utf8'), 'built\n');
  const tarFile = join(work, 'out.tar');
  const t = await build(dir, '-o', `type=tar,dest=${tarFile}`);
  assert.equal(t.code, 0, t.stderr);
  assert.ok((await readFile(tarFile)).includes(Buffer.from('built\n')));
  assert.deepEqual(((await d.api('GET', '/containers/json?all=1')).json() as unknown[]), []);
  const bad = await build(dir, '--output', 'type=registry');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--output type=registry is not supported/);

  const iid = join(work, 'iid');
  const meta = join(work, 'meta.json');
  const m = await build(dir, '-t', 'out:1', '--iidfile', iid, '--metadata-file', meta);
  assert.equal(m.code, 0, m.stderr);
  const id = await readFile(iid, 'utf8');
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  const md = JSON.parse(await readFile(meta, 'utf8')) as Record<string, string>;
  assert.equal(md['containerimage.config.digest'], id);
  assert.equal(md['image.name'], 'out:1');
});

test('--progress=plain prints BuildKit-shaped steps (#N, CACHED, DONE); unneeded stages are skipped', async () => {
  const dir = await context('prog', { Dockerfile: 'FROM busybox AS unused\nRUN exit 7\nFROM busybox\nRUN echo hello\n' });
  const r = await build(dir, '--progress=plain', '-t', 'prog:1');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^#1 \[1\/2\] FROM busybox\n/);
  assert.match(r.stdout, /#2 \[2\/2\] RUN echo hello\n#2 \d+\.\d hello\n#2 writing image sha256:[0-9a-f]{12}\n/);
  assert.doesNotMatch(r.stdout, /exit 7/);
  const again = await build(dir, '--progress=plain', '-t', 'prog:1');
  assert.match(again.stdout, /#2 \[2\/2\] RUN echo hello\n#2 CACHED\n/);
  const bad = await build(dir, '--progress=fancy');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid progress mode: fancy/);
});

test('--progress=tty: BuildKit\'s live view, redrawn in place on a terminal, FINISHED at the end; refused without a terminal', async () => {
  const dir = await context('tty', { Dockerfile: 'FROM busybox\nRUN echo tty-step-out && sleep 0.6\nRUN echo second\n' });
  const env = { ...process.env, BERTH_HOST: d.host, DOCKER_HOST: '', XDG_CACHE_HOME: join(work, 'xdg-tty') };
  const run = async (): Promise<string> => {
    const s = spawnPty(BERTH_BIN, ['build', '--progress=tty', '-t', 'tty:1', dir], { env, cols: 100, rows: 30 });
    assert.equal(await s.exit(60_000), 0, s.output);
    return s.output;
  };
  const first = await run();
  assert.match(first, /\[\+\] Building \d+\.\ds \(0\/0\)/, 'a first frame before any step');
  assert.match(first, /=> => # tty-step-out/, 'the running step\'s output under it');
  assert.match(first, /\x1b\[\d+A\r\x1b\[2K\[\+\] Building/, 'frames redrawn in place');
  assert.match(first, /\[\+\] Building \d+\.\ds \(3\/3\) FINISHED\r?\n\x1b\[2K => \[1\/3\] FROM busybox +\d+\.\ds\r?\n\x1b\[2K => \[2\/3\] RUN echo tty-step-out && sleep 0\.6 +(0\.[6-9]|[1-9]\d*\.\d)s\r?\n\x1b\[2K => \[3\/3\] RUN echo second +\d+\.\ds\r?\n\x1b\[J$/);
  const again = await run();
  assert.match(again, /FINISHED\r?\n\x1b\[2K => \[1\/3\] FROM busybox +\d+\.\ds\r?\n\x1b\[2K => CACHED \[2\/3\] RUN echo tty-step-out/);
  const piped = await build(dir, '--progress=tty');
  assert.equal(piped.code, 1);
  assert.match(piped.stderr, /--progress=tty needs a terminal/);
});

test('independent stages run at the same time; their output is in stage order', async () => {
  // Each stage marks its arrival in a shared cache mount and waits (at most 20 s) for the
  // other's mark: built one after the other, the first would time out and fail.
  const wait = (me: string, other: string): string =>
    `RUN --mount=type=cache,id=rv-$R,target=/rv touch /rv/${me} && i=0 && while [ ! -e /rv/${other} ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done && test -e /rv/${other} && echo stage-${me} met ${other}`;
  const dir = await context('par', {
    Dockerfile: `FROM busybox AS a\nARG R\n${wait('a', 'b')}\nFROM busybox AS b\nARG R\n${wait('b', 'a')}\nFROM busybox\nCOPY --from=a /bin/true /a\nCOPY --from=b /bin/true /b\n`,
  });
  const r = await build(dir, '-t', 'par:1', '--build-arg', `R=${Date.now()}`);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const a = r.stdout.indexOf('stage-a met b');
  const b = r.stdout.indexOf('stage-b met a');
  assert.ok(a > 0 && b > a, r.stdout);
  assert.match(r.stdout, /Step 1\/9 : FROM busybox AS a\n[\s\S]*Step 4\/9 : FROM busybox AS b\n[\s\S]*Step 7\/9 : FROM busybox\n/);
});

test('--no-cache-filter rebuilds only the named stage; --build-context names an image', async () => {
  const dir = await context('ncf', { Dockerfile: 'FROM busybox AS a\nRUN echo a\nFROM busybox AS b\nRUN echo b\nFROM base\nCOPY --from=a /bin/true /a\nCOPY --from=b /bin/true /b\n' });
  const first = await build(dir, '-t', 'ncf:1', '--build-context', 'base=docker-image://busybox');
  assert.equal(first.code, 0, first.stderr);
  const r = await build(dir, '-t', 'ncf:1', '--no-cache-filter', 'b', '--build-context', 'base=docker-image://busybox');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Step 2\/7 : RUN echo a\n ---> Using cache\n/);
  assert.match(r.stdout, /Step 4\/7 : RUN echo b\n ---> Running in/);
  const bad = await build(dir, '--build-context', `base=${join(work, 'no-such-dir')}`);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /no-such-dir is not a directory/);
  const url = await build(dir, '--build-context', 'base=https://example.invalid/x.git');
  assert.notEqual(url.code, 0);
  assert.match(url.stderr, /berth takes docker-image:\/\/IMAGE and local directories as build contexts, not https:\/\//);
});

test('--build-context NAME=DIR: COPY --from=NAME and FROM NAME see the directory (its .dockerignore applied); nothing is left behind', async () => {
  const extra = await context('named-extra', { 'conf.txt': 'from the named context\n', 'skip.log': 'ignored\n', '.dockerignore': '*.log\n', 'sub/deep.txt': 'deep\n' });
  const dir = await context('named-main', { Dockerfile: 'FROM busybox\nCOPY --from=extra /conf.txt /sub/deep.txt /got/\nRUN ls /got > /listing\n' });
  const imagesBefore = (await d.api('GET', '/images/json?all=1')).json().length as number;
  const r = await build(dir, '-t', 'named:1', '--build-context', `extra=${extra}`);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(await cat('named:1', '/got/conf.txt'), 'from the named context\n');
  assert.equal(await cat('named:1', '/listing'), 'conf.txt\ndeep.txt\n');
  const fromDir = await context('named-from', { Dockerfile: 'FROM files\n' });
  const f = await build(fromDir, '-t', 'named:2', '--build-context', `files=${extra}`);
  assert.equal(f.code, 0, f.stdout + f.stderr);
  const files = await d.berth(['create', '--pull', 'never', '--name', 'named-from', 'named:2', 'x']);
  assert.equal(files.code, 0, files.stderr);
  const exported = await d.api('GET', '/containers/named-from/export');
  const names = await tarNames(exported.body);
  assert.ok(names.includes('conf.txt') && names.includes('sub/deep.txt') && !names.includes('skip.log'), names.join(' '));
  await d.api('DELETE', '/containers/named-from');
  // The image made for a named context went with the build, unless the build's result is it.
  assert.equal((await d.api('GET', '/images/json?all=1')).json().length, imagesBefore + 3, 'named:1 and its RUN step image, named:2 (the context image itself)');
});

test('RUN --mount=type=ssh forwards an agent socket given with --ssh', async () => {
  const sock = join(work, 'agent.sock');
  const server = net.createServer((c) => c.end('agent-hello\n'));
  await new Promise<void>((r) => server.listen(sock, r));
  try {
    const dir = await context('ssh', { Dockerfile: 'FROM busybox\nRUN --mount=type=ssh test -S /run/buildkit/ssh_agent.0 && echo "$SSH_AUTH_SOCK" > /out\n' });
    const r = await build(dir, '-t', 'ssh:1', '--ssh', `default=${sock}`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(await cat('ssh:1', '/out'), '/run/buildkit/ssh_agent.0\n');
    const req = await context('ssh-req', { Dockerfile: 'FROM busybox\nRUN --mount=type=ssh,required true\n' });
    const miss = await build(req);
    assert.notEqual(miss.code, 0);
    assert.match(miss.stderr, /ssh default: no SSH agent socket forwarded .*\(Dockerfile:2\)/);
  } finally {
    server.close();
  }
});

test('--add-host, --network=none, --platform, and RUN --security=insecure with the entitlement', async () => {
  const dir = await context('net', { Dockerfile: 'FROM busybox\nRUN grep -c eth /proc/net/dev > /eth; grep myhost /etc/hosts > /hosts; true\n' });
  const r = await build(dir, '-t', 'net:1', '--add-host', 'myhost:10.1.2.3', '--network', 'none');
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await cat('net:1', '/eth')).trim(), '0');
  assert.match(await cat('net:1', '/hosts'), /^10\.1\.2\.3\s+myhost/);

  const host = formatPlatform({ os: hostPlatform().os, architecture: hostPlatform().architecture });
  assert.equal((await build(dir, '--platform', host)).code, 0);
  const other = await build(dir, '--platform', host.endsWith('s390x') ? 'linux/amd64' : 'linux/s390x');
  assert.notEqual(other.code, 0);
  assert.match(other.stderr, /is not supported: berth builds and runs only for the host's platform/);

  const ins = await context('insecure', { Dockerfile: 'FROM busybox\nRUN --security=insecure grep CapEff /proc/self/status > /caps\n' });
  const denied = await build(ins);
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /did not ask for entitlement security.insecure/);
  const ok = await build(ins, '-t', 'ins:1', '--allow', 'security.insecure');
  assert.equal(ok.code, 0, ok.stderr);
  assert.doesNotMatch(await cat('ins:1', '/caps'), /CapEff:\s+00000000a80425fb/, 'insecure has more than the default capabilities');
});

test('API options berth does not apply are refused by name, never ignored', async () => {
  const dir = await context('api', { Dockerfile: 'FROM busybox\n' });
  for (const [q, re] of [
    ['memory=1000000', /--memory/], ['cpushares=2', /--cpu-shares/],
    ['networkmode=container:x', /network mode "container:x"/], ['outputs=' + encodeURIComponent('[{"Type":"local"}]'), /build outputs/],
  ] as const) {
    const r = await d.api('POST', `/build?${q}`, await tarOf(dir), { 'Content-Type': 'application/x-tar' });
    assert.ok(r.status >= 400, q);
    assert.match(r.json().message, re, q);
  }
  // Zero values the docker CLI always sends are fine.
  const ok = await d.api('POST', '/build?memory=0&cpushares=0&shmsize=0&networkmode=default&ulimits=null&cachefrom=%5B%5D', await tarOf(dir), { 'Content-Type': 'application/x-tar' });
  assert.equal(ok.status, 200, ok.body.toString());
  void stat;
  void readdir;
});

async function tarOf(dir: string): Promise<Buffer> {
  const { execFileSync } = await import('node:child_process');
  return execFileSync('tar', ['-c', '-C', dir, '.']);
}

/** The regular files' names in a tar (no leading ./). */
async function tarNames(body: Buffer): Promise<string[]> {
  const names: string[] = [];
  const ex = tar.extract();
  ex.on('entry', (h, stream, next) => {
    if (h.type === 'file') names.push(h.name.replace(/^\.?\//, ''));
    stream.on('end', next);
    stream.resume();
  });
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
    ex.end(body);
  });
  return names;
}
