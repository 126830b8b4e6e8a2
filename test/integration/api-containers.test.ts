import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { FrameDecoder } from '../../src/wire/stdcopy.js';
import { existsSync } from 'node:fs';
import { startDaemon, eventually, sleep, type TestDaemon } from '../helpers/daemon.js';

/** Runs a container to completion through the API and returns its exit code and output. */
async function runToEnd(d: TestDaemon, cmd: string[], extra: Record<string, unknown> = {}): Promise<{ id: string; code: number; stdout: string; stderr: string }> {
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: cmd, ...extra });
  assert.equal(c.status, 201, c.body.toString());
  const id = c.json().Id as string;
  const s = await d.api('POST', `/containers/${id}/start`);
  assert.equal(s.status, 204, s.body.toString());
  const w = await d.api('POST', `/containers/${id}/wait`);
  assert.equal(w.status, 200);
  const code = w.json().StatusCode as number;
  const logs = await d.api('GET', `/containers/${id}/logs?stdout=1&stderr=1`);
  const frames = new FrameDecoder().push(logs.body);
  return {
    id,
    code,
    stdout: frames.filter((f) => f.stream === 1).map((f) => f.payload.toString()).join(''),
    stderr: frames.filter((f) => f.stream === 2).map((f) => f.payload.toString()).join(''),
  };
}

describe('containers through the Engine API', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon('api');
    await d.importBusybox();
  });
  after(async () => {
    await d?.destroy();
  });

  test('ping, version and info answer with and without a version prefix', async () => {
    for (const prefix of ['', '/v1.24', '/v1.41', '/v1.47']) {
      const p = await d.api('GET', `${prefix}/_ping`);
      assert.equal(p.status, 200);
      assert.equal(p.body.toString(), 'OK');
      assert.equal(p.headers['api-version'], '1.47');
      const v = await d.api('GET', `${prefix}/version`);
      assert.equal(v.status, 200);
      assert.equal(v.json().ApiVersion, '1.47');
      assert.equal(v.json().MinAPIVersion, '1.24');
    }
    const info = await d.api('GET', '/info');
    assert.equal(info.json().Images, 1);
    assert.equal(info.json().Driver, 'overlay2');
    const head = await d.api('HEAD', '/_ping');
    assert.equal(head.status, 200);
    const tooNew = await d.api('GET', '/v1.99/version');
    assert.equal(tooNew.status, 400);
    assert.match(tooNew.json().message, /too new/);
    const tooOld = await d.api('GET', '/v1.12/version');
    assert.equal(tooOld.status, 400);
    assert.match(tooOld.json().message, /too old/);
  });

  test('echo reaches stdout, stderr stays apart, exit codes are kept', async () => {
    const r = await runToEnd(d, ['sh', '-c', 'echo hello; echo oops >&2; exit 3']);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'hello\n');
    assert.equal(r.stderr, 'oops\n');
    const insp = (await d.api('GET', `/containers/${r.id}/json`)).json();
    assert.equal(insp.State.Status, 'exited');
    assert.equal(insp.State.ExitCode, 3);
    assert.equal(insp.State.Running, false);
    assert.equal(insp.Path, 'sh');
    assert.deepEqual(insp.Args, ['-c', 'echo hello; echo oops >&2; exit 3']);
    assert.equal(insp.Config.Image, 'busybox');
    assert.match(insp.Image, /^sha256:[0-9a-f]{64}$/);
    assert.notEqual(insp.State.FinishedAt, '0001-01-01T00:00:00Z');
  });

  test('config reaches the process: env, workdir, user, hostname, labels', async () => {
    const r = await runToEnd(d, ['sh', '-c', 'echo "$FOO $(pwd) $(id -u):$(id -g) $(hostname)"'], {
      Env: ['FOO=bar'], WorkingDir: '/tmp', User: 'nobody', Hostname: 'box1', Labels: { team: 'a' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'bar /tmp 65534:65534 box1\n');
    const list = (await d.api('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ['team=a'] }))}`)).json();
    assert.deepEqual(list.map((c: any) => c.Id), [r.id]);
  });

  test('isolation: PID 1 is the command, host processes and mounts are invisible', async () => {
    const r = await runToEnd(d, ['sh', '-c', 'echo pid=$$; ls /proc | grep -c "^[0-9]"; cat /proc/mounts | grep -c " / " ; cat /etc/hostname']);
    assert.equal(r.code, 0, r.stderr);
    const [pid, nprocs, , hostname] = r.stdout.trim().split('\n');
    assert.equal(pid, 'pid=1');
    // sh, ls, grep and maybe cat: never the host's hundreds of processes.
    assert.ok(Number(nprocs) <= 5, `container sees ${nprocs} processes`);
    assert.equal(hostname, r.id.slice(0, 12));
    const mounts = await runToEnd(d, ['cat', '/proc/mounts']);
    const points = mounts.stdout.trim().split('\n').map((l) => l.split(' ')[1]!);
    const allowed = /^\/$|^\/(proc|dev|sys)(\/|$)|^\/etc\/(hostname|hosts|resolv\.conf)$/;
    assert.deepEqual(points.filter((p) => !allowed.test(p)), [], 'host mounts are visible in the container');
  });

  test('with --network none the container gets loopback only, no host devices, and its own hosts/resolv.conf', async () => {
    // Since issue 6 the default is the bridge network (eth0 too); `none` is loopback only.
    const r = await runToEnd(d, ['sh', '-c', 'ip -o link | cut -d: -f2; ip -o addr show lo | grep -c "inet 127.0.0.1"; ls /dev; grep localhost /etc/hosts | head -1; grep -c nameserver /etc/resolv.conf'], { HostConfig: { NetworkMode: 'none' } });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => l.trim());
    assert.equal(lines[0], 'lo', 'only the loopback interface');
    assert.equal(lines[1], '1', 'loopback is up with 127.0.0.1');
    const devs = lines.slice(2, lines.indexOf('127.0.0.1\tlocalhost'));
    for (const dev of devs) assert.ok(['core', 'fd', 'full', 'mqueue', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero', 'console'].includes(dev), `unexpected /dev/${dev}`);
    assert.ok(!devs.some((x) => /^(sd|vd|nvme|loop|mem|kmsg)/.test(x)));
    assert.ok(Number(lines.at(-1)) >= 1, 'resolv.conf has a nameserver');
  });

  test('mount and /proc/sys writes fail without --privileged and work with it', async () => {
    const plain = await runToEnd(d, ['sh', '-c', 'mount -t tmpfs x /mnt; echo m=$?; echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null; echo w=$?']);
    assert.match(plain.stdout, /m=[1-9]/);
    assert.match(plain.stdout, /w=[1-9]/);
    const priv = await runToEnd(d, ['sh', '-c', 'mount -t tmpfs x /mnt && echo mounted; grep -c . /proc/sys/kernel/hostname'], { HostConfig: { Privileged: true } });
    assert.equal(priv.code, 0, priv.stderr);
    assert.match(priv.stdout, /mounted/);
    const capped = await runToEnd(d, ['sh', '-c', 'grep CapEff /proc/self/status'], { HostConfig: { CapDrop: ['ALL'] } });
    assert.match(capped.stdout, /CapEff:\s+0000000000000000/);
    const nnp = await runToEnd(d, ['sh', '-c', 'grep NoNewPrivs /proc/self/status'], { HostConfig: { SecurityOpt: ['no-new-privileges'] } });
    assert.match(nnp.stdout, /NoNewPrivs:\s+1/);
    const seccomp = await runToEnd(d, ['sh', '-c', 'grep Seccomp: /proc/self/status'], { HostConfig: { SecurityOpt: ['seccomp=unconfined'] } });
    assert.match(seccomp.stdout, /Seccomp:\s+0/);
    const confined = await runToEnd(d, ['sh', '-c', 'grep Seccomp: /proc/self/status']);
    assert.match(confined.stdout, /Seccomp:\s+2/);
  });

  test('a missing command fails start with 127 and Docker\'s message', async () => {
    const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['nosuchcmd'] });
    const id = c.json().Id;
    const s = await d.api('POST', `/containers/${id}/start`);
    assert.equal(s.status, 400);
    assert.match(s.json().message, /executable file not found/);
    const insp = (await d.api('GET', `/containers/${id}/json`)).json();
    assert.equal(insp.State.ExitCode, 127);
  });

  test('stop sends the stop signal, then SIGKILL after the timeout', async () => {
    const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '100'] });
    const id = c.json().Id;
    assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
    assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 304);
    const t0 = Date.now();
    // sleep as PID 1 ignores SIGTERM (no handler), so only the SIGKILL after 1 s ends it.
    assert.equal((await d.api('POST', `/containers/${id}/stop?t=1`)).status, 204);
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 5000, `stop took ${took} ms`);
    const insp = (await d.api('GET', `/containers/${id}/json`)).json();
    assert.equal(insp.State.ExitCode, 137);
    assert.equal((await d.api('POST', `/containers/${id}/stop`)).status, 304);
    // With a shell that traps TERM, the stop signal alone ends it.
    const c2 = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'trap "exit 42" TERM; while true; do sleep 0.1; done'] });
    const id2 = c2.json().Id;
    await d.api('POST', `/containers/${id2}/start`);
    await sleep(300);
    assert.equal((await d.api('POST', `/containers/${id2}/stop?t=10`)).status, 204);
    assert.equal((await d.api('GET', `/containers/${id2}/json`)).json().State.ExitCode, 42);
  });

  test('kill delivers the named signal; killing a stopped container is a 409', async () => {
    const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'trap "exit 10" USR1; while true; do sleep 0.1; done'] });
    const id = c.json().Id;
    await d.api('POST', `/containers/${id}/start`);
    await sleep(300);
    assert.equal((await d.api('POST', `/containers/${id}/kill?signal=USR1`)).status, 204);
    const w = await d.api('POST', `/containers/${id}/wait`);
    assert.equal(w.json().StatusCode, 10);
    const again = await d.api('POST', `/containers/${id}/kill`);
    assert.equal(again.status, 409);
    assert.match(again.json().message, /is not running/);
    const bad = await d.api('POST', `/containers/${id}/kill?signal=NOPE`);
    assert.equal(bad.status, 400);
  });

  test('restart runs the command again', async () => {
    const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'echo run; sleep 100'] });
    const id = c.json().Id;
    await d.api('POST', `/containers/${id}/start`);
    assert.equal((await d.api('POST', `/containers/${id}/restart?t=0`)).status, 204);
    const insp = (await d.api('GET', `/containers/${id}/json`)).json();
    assert.equal(insp.State.Running, true);
    await eventually(async () => {
      const logs = await d.api('GET', `/containers/${id}/logs?stdout=1`);
      return new FrameDecoder().push(logs.body).length === 2;
    }, 5000, 'two runs in the log');
    assert.equal((await d.api('DELETE', `/containers/${id}`)).status, 409);
    assert.equal((await d.api('DELETE', `/containers/${id}?force=1`)).status, 204);
    assert.equal((await d.api('GET', `/containers/${id}/json`)).status, 404);
  });

  test('names: conflicts are 409, lookups by name and ID prefix work, bad names are 400', async () => {
    const a = await d.api('POST', '/containers/create?name=web', { Image: 'busybox', Cmd: ['true'] });
    assert.equal(a.status, 201);
    const b = await d.api('POST', '/containers/create?name=web', { Image: 'busybox', Cmd: ['true'] });
    assert.equal(b.status, 409);
    assert.match(b.json().message, /The container name "\/web" is already in use/);
    const id = a.json().Id as string;
    assert.equal((await d.api('GET', '/containers/web/json')).json().Id, id);
    assert.equal((await d.api('GET', `/containers/${id.slice(0, 8)}/json`)).json().Name, '/web');
    assert.equal((await d.api('POST', '/containers/create?name=bad%20name', { Image: 'busybox' })).status, 400);
    const missing = await d.api('GET', '/containers/nope/json');
    assert.equal(missing.status, 404);
    assert.equal(missing.json().message, 'No such container: nope');
    const noImage = await d.api('POST', '/containers/create', { Image: 'nosuchimage:1' });
    assert.equal(noImage.status, 404);
    assert.match(noImage.json().message, /No such image: nosuchimage:1/);
    await d.api('DELETE', '/containers/web');
  });

  test('malformed requests get a 400 and the daemon keeps serving', async () => {
    const cases: [string, string, unknown][] = [
      ['POST', '/containers/create', '{not json'],
      ['POST', '/containers/create', '[]'],
      ['POST', '/containers/create', { Image: 42 }],
      ['POST', '/containers/create', { Image: 'busybox', Cmd: [1, 2] }],
      ['POST', '/containers/create', { Image: 'busybox', HostConfig: { RestartPolicy: { Name: 'sometimes' } } }],
      ['GET', '/containers/json?filters=%7Bbad', undefined],
      ['GET', '/containers/json?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D', undefined],
      ['GET', '/containers/json?limit=abc', undefined],
    ];
    for (const [method, path, body] of cases) {
      const r = await d.api(method, path, body);
      assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)} → ${r.status} ${r.body}`);
      assert.equal(typeof r.json().message, 'string');
    }
    assert.equal((await d.api('GET', '/nope')).status, 404);
    assert.equal((await d.api('GET', '/_ping')).status, 200);
  });

  test('logs: tail, timestamps, since, follow', async () => {
    const r = await runToEnd(d, ['sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; done']);
    const tail = new FrameDecoder().push((await d.api('GET', `/containers/${r.id}/logs?stdout=1&tail=2`)).body);
    assert.deepEqual(tail.map((f) => f.payload.toString()), ['line4\n', 'line5\n']);
    const ts = new FrameDecoder().push((await d.api('GET', `/containers/${r.id}/logs?stdout=1&timestamps=1&tail=1`)).body);
    assert.match(ts[0]!.payload.toString(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line5\n$/);
    const future = Math.floor(Date.now() / 1000) + 3600;
    assert.equal((await d.api('GET', `/containers/${r.id}/logs?stdout=1&since=${future}`)).body.length, 0);
    assert.equal((await d.api('GET', `/containers/${r.id}/logs`)).status, 400);

    const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'echo a; sleep 1; echo b'] });
    const id = c.json().Id;
    await d.api('POST', `/containers/${id}/start`);
    const t0 = Date.now();
    const followed = new FrameDecoder().push((await d.api('GET', `/containers/${id}/logs?stdout=1&follow=1`)).body);
    assert.deepEqual(followed.map((f) => f.payload.toString()), ['a\n', 'b\n']);
    assert.ok(Date.now() - t0 >= 500, 'follow returned before the container ended');
  });

  test('log files are bounded by max-size', async () => {
    const r = await runToEnd(d, ['sh', '-c', 'i=0; while [ $i -lt 3000 ]; do echo "line $i padding padding padding padding"; i=$((i+1)); done'], {
      HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': '20k', 'max-file': '2' } } },
    });
    assert.equal(r.code, 0);
    const insp = (await d.api('GET', `/containers/${r.id}/json`)).json();
    const dir = insp.LogPath.replace(/\/[^/]+$/, '');
    let total = 0;
    for (const f of await readdir(dir)) if (f.startsWith('container.log')) total += (await readFile(`${dir}/${f}`)).length;
    // 3000 lines × ~45 bytes ≈ 135 kB of output; the files on disk stay near 2 × 20 kB.
    assert.ok(total < 80_000, `log files hold ${total} bytes`);
    assert.match(r.stdout, /line 2999 padding/, 'the newest output is kept');
  });

  test('max-file keeps rotated files and logs reads across them without gaps', async () => {
    // 40 batches of 50 numbered lines (~2.7 kB each), paced so rotation runs between batches.
    const script = 'i=0; while [ $i -lt 2000 ]; do echo "n=$i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i+1)); [ $((i % 50)) -eq 0 ] && sleep 0.1; done';
    const r = await runToEnd(d, ['sh', '-c', script], {
      HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': '20k', 'max-file': '3' } } },
    });
    assert.equal(r.code, 0);
    const insp = (await d.api('GET', `/containers/${r.id}/json`)).json();
    const dir = insp.LogPath.replace(/\/[^/]+$/, '');
    const files = (await readdir(dir)).filter((f) => f.startsWith('container.log')).sort();
    assert.deepEqual(files, ['container.log', 'container.log.1', 'container.log.2']);
    let total = 0;
    for (const f of files) total += (await readFile(`${dir}/${f}`)).length;
    assert.ok(total < 3 * 20 * 1024 + 8 * 1024, `log files hold ${total} bytes`);
    const nums = r.stdout.trim().split('\n').map((l) => Number(/^n=(\d+) /.exec(l)![1]));
    assert.equal(nums.at(-1), 1999);
    // Each k8s-file line is ~95 bytes on disk: 3 files of 20 kB hold 600-odd lines.
    assert.ok(nums.length >= 400, `only ${nums.length} lines kept`);
    nums.forEach((n, i) => i > 0 && assert.equal(n, nums[i - 1]! + 1, `gap after line ${nums[i - 1]}`));
    const tail = new FrameDecoder().push((await d.api('GET', `/containers/${r.id}/logs?stdout=1&tail=450`)).body);
    assert.equal(tail.length, 450);
    assert.match(tail[0]!.payload.toString(), /^n=1550 /);
  });

  test('attach streams the output of a container started after it', async () => {
    const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'echo out; echo err >&2'] });
    const id = c.json().Id;
    const attached = d.api('POST', `/containers/${id}/attach?stream=1&stdout=1&stderr=1`);
    await sleep(100);
    await d.api('POST', `/containers/${id}/start`);
    const body = (await attached).body;
    const frames = new FrameDecoder().push(body);
    assert.deepEqual(frames.map((f) => [f.stream, f.payload.toString()]).sort(), [[1, 'out\n'], [2, 'err\n']]);
  });

  test('a stream attach to an exited container gets its next run, once (compose v1 run -T without the CLI: start, attach, start again)', async () => {
    const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'echo out-$RANDOM; echo err >&2'] });
    const id = c.json().Id;
    await d.api('POST', `/containers/${id}/start`);
    await d.api('POST', `/containers/${id}/wait`);
    // docker-py sends logs=False as the string "False": no replay was asked for.
    const out = d.api('POST', `/containers/${id}/attach?stream=1&stdout=1&logs=False`);
    const err = d.api('POST', `/containers/${id}/attach?stream=1&stderr=1&logs=False`);
    await sleep(300);
    await d.api('POST', `/containers/${id}/start`);
    const outFrames = new FrameDecoder().push((await out).body);
    const errFrames = new FrameDecoder().push((await err).body);
    assert.equal(outFrames.length, 1, 'only the second run');
    assert.match(outFrames[0]!.payload.toString(), /^out-\d+\n$/);
    assert.deepEqual(errFrames.map((f) => [f.stream, f.payload.toString()]), [[2, 'err\n']]);
    const logs = (await d.api('GET', `/containers/${id}/logs?stdout=1`)).body.toString();
    assert.ok(logs.includes(outFrames[0]!.payload.toString()) && (logs.match(/out-/g) ?? []).length === 2, 'two runs in the log, the attach had the second');
    await d.api('DELETE', `/containers/${id}?force=1`);
  });

  test('wait conditions: next-exit blocks until the run ends, removed until the container is gone', async () => {
    const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'sleep 0.5; exit 7'], HostConfig: { AutoRemove: true } });
    const id = c.json().Id;
    const removed = d.api('POST', `/containers/${id}/wait?condition=removed`);
    const next = d.api('POST', `/containers/${id}/wait?condition=next-exit`);
    await d.api('POST', `/containers/${id}/start`);
    assert.equal((await next).json().StatusCode, 7);
    assert.equal((await removed).json().StatusCode, 7);
    assert.equal((await d.api('GET', `/containers/${id}/json`)).status, 404);
    assert.equal((await d.api("POST", `/containers/${id}/wait?condition=bogus`)).status, 400);
  });

  test('containers survive a daemon crash; exits that happened meanwhile are recorded', async () => {
    const long = (await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '300'] })).json().Id;
    const short = (await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'sleep 1; exit 5'] })).json().Id;
    await d.api('POST', `/containers/${long}/start`);
    await d.api('POST', `/containers/${short}/start`);
    const pid = (await d.api('GET', `/containers/${long}/json`)).json().State.Pid as number;
    await d.crash();
    await sleep(1500);
    process.kill(pid, 0); // still alive while the daemon is down
    await d.start();
    const l = (await d.api('GET', `/containers/${long}/json`)).json();
    assert.equal(l.State.Status, 'running');
    assert.equal(l.State.Pid, pid);
    const s = (await d.api('GET', `/containers/${short}/json`)).json();
    assert.equal(s.State.Status, 'exited');
    assert.equal(s.State.ExitCode, 5);
    // The restored daemon still controls the survivor.
    assert.equal((await d.api('POST', `/containers/${long}/stop?t=0`)).status, 204);
    assert.equal((await d.api('GET', `/containers/${long}/json`)).json().State.ExitCode, 137);
  });

  test('SIGTERM shuts berthd down cleanly: exit 0, socket and pid file gone, containers keep running', async () => {
    const id = (await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '300'] })).json().Id;
    await d.api('POST', `/containers/${id}/start`);
    const pid = (await d.api('GET', `/containers/${id}/json`)).json().State.Pid as number;
    assert.equal(await d.stop(), 0);
    assert.equal(existsSync(d.socket), false, 'socket removed');
    assert.equal(existsSync(`${d.execRoot}/berthd.pid`), false, 'pid file removed');
    process.kill(pid, 0);
    await d.start();
    assert.equal((await d.api('GET', `/containers/${id}/json`)).json().State.Running, true);
    assert.equal((await d.api('DELETE', `/containers/${id}?force=1`)).status, 204);
  });
});
