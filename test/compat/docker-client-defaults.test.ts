/**
 * Issue 15, "drop-in for real clients": behaviours the docker CLI and SDKs rely on, through the
 * real docker CLI where it exposes them and the raw API otherwise. Each of these failed on the
 * daemon before the fix (image USER ignored, attach without log replay, exec framing, swarm
 * 404s, kill returning before the exit, no health filter, HostConfig fields dropped, …).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { startDaemon, runCommand, eventually, type TestDaemon } from '../helpers/daemon.js';

/** Splits a stdcopy body into [stream, text] frames. */
function frames(buf: Buffer): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const len = buf.readUInt32BE(i + 4);
    out.push([buf[i]!, buf.subarray(i + 8, i + 8 + len).toString()]);
    i += 8 + len;
  }
  return out;
}

describe('docker clients\' default paths against berthd (issue 15)', () => {
  let d: TestDaemon;
  const docker = (args: string[], input?: string) =>
    runCommand('docker', args, { DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config'), DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false', BERTH_HOST: '' }, { timeoutMs: 120_000, ...(input !== undefined ? { input } : {}) });
  const ok = async (args: string[], input?: string) => {
    const r = await docker(args, input);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const create = async (body: object) => {
    const r = await d.api('POST', '/containers/create', body);
    assert.equal(r.status, 201, r.body.toString());
    return r.json().Id as string;
  };
  const inspect = async (id: string) => (await d.api('GET', `/containers/${id}/json`)).json();

  before(async () => {
    d = await startDaemon('client-defaults');
    await d.importBusybox();
    await ok(['build', '-q', '-t', 'u', '-'], 'FROM busybox\nUSER nobody\nWORKDIR /tmp\nSTOPSIGNAL SIGUSR1\n');
    await ok(['build', '-q', '-t', 'e', '-'], 'FROM busybox\nENTRYPOINT ["echo", "ep"]\nCMD ["echo", "cmd"]\n');
  });
  after(async () => {
    await d?.destroy();
  });

  test('the image\'s USER, WORKDIR and STOPSIGNAL apply when the client sends "" (the docker CLI always does)', async () => {
    assert.equal((await ok(['run', '--rm', 'u', 'id', '-u'])).trim(), '65534');
    assert.equal((await ok(['run', '--rm', 'u', 'pwd'])).trim(), '/tmp');
    assert.equal((await ok(['run', '--rm', '-u', '0', 'u', 'id', '-u'])).trim(), '0');
    for (const user of ['', null, undefined]) {
      const id = await create({ Image: 'u', Cmd: ['true'], User: user, WorkingDir: '', StopSignal: '' });
      const c = await inspect(id);
      assert.deepEqual([c.Config.User, c.Config.WorkingDir, c.Config.StopSignal], ['nobody', '/tmp', 'SIGUSR1'], `User ${JSON.stringify(user)}`);
    }
  });

  test('Entrypoint: null takes the image\'s, [] and [""] drop it; an empty Cmd takes the image\'s only without a new entrypoint', async () => {
    assert.equal(await ok(['run', '--rm', 'e']), 'ep echo cmd\n');
    assert.equal(await ok(['run', '--rm', 'e', 'x']), 'ep x\n');
    assert.equal(await ok(['run', '--rm', '--entrypoint', '', 'e', 'echo', 'hi']), 'hi\n');
    const shapes: Array<[unknown, unknown, string[] | null, string[] | null]> = [
      [null, null, ['echo', 'ep'], ['echo', 'cmd']],
      [[], null, [], ['echo', 'cmd']],
      [[], [], [], ['echo', 'cmd']],
      [['sh', '-c', 'true'], null, ['sh', '-c', 'true'], null],
    ];
    for (const [entrypoint, cmd, wantEp, wantCmd] of shapes) {
      const id = await create({ Image: 'e', Entrypoint: entrypoint, Cmd: cmd });
      const c = await inspect(id);
      assert.deepEqual([c.Config.Entrypoint?.length ? c.Config.Entrypoint : c.Config.Entrypoint === null ? null : [], c.Config.Cmd], [wantEp, wantCmd], JSON.stringify({ entrypoint, cmd }));
    }
    const r = await d.api('POST', '/containers/create', { Image: 'e', Entrypoint: [''] });
    assert.equal(r.status, 400, 'an entrypoint reset with no command has nothing to run');
  });

  test('attach with logs=1 replays the log, then streams; stream=0 returns the log and ends', async () => {
    const id = (await ok(['run', '-d', 'busybox', 'sh', '-c', 'echo one; echo two >&2'])).trim();
    await ok(['wait', id]);
    for (const stream of ['1', '0']) {
      const r = await d.api('POST', `/containers/${id}/attach?logs=1&stream=${stream}&stdout=1&stderr=1`);
      assert.equal(r.status, 200);
      assert.deepEqual(frames(r.body), [[1, 'one\n'], [2, 'two\n']], `stream=${stream}`);
    }
  });

  test('exec start read to the end (not hijacked): frames for non-tty, raw for tty, framed tty output when asked, User applied', async () => {
    const id = (await ok(['run', '-d', 'busybox', 'sleep', '100'])).trim();
    const exec = async (config: object, start: object) => {
      const c = await d.api('POST', `/containers/${id}/exec`, { AttachStdout: true, AttachStderr: true, ...config });
      assert.equal(c.status, 201, c.body.toString());
      const r = await d.api('POST', `/exec/${c.json().Id}/start`, start);
      assert.equal(r.status, 200);
      return r.body;
    };
    const sh = ['sh', '-c', 'echo out; echo err >&2'];
    assert.deepEqual(frames(await exec({ Cmd: sh }, { Detach: false, Tty: false })), [[1, 'out\n'], [2, 'err\n']]);
    assert.equal((await exec({ Cmd: sh, Tty: true }, { Detach: false, Tty: true })).toString(), 'out\r\nerr\r\n');
    // docker-py: a tty exec started with Tty=false is the terminal's output in stdout frames.
    const framedTty = frames(await exec({ Cmd: sh, Tty: true }, { Detach: false, Tty: false }));
    assert.ok(framedTty.length > 0 && framedTty.every(([s]) => s === 1), JSON.stringify(framedTty));
    assert.equal(framedTty.map(([, t]) => t).join(''), 'out\r\nerr\r\n');
    assert.deepEqual(frames(await exec({ Cmd: ['id', '-u'], User: 'nobody' }, { Tty: false })), [[1, '65534\n']]);
    assert.equal((await ok(['exec', '-u', 'nobody', id, 'id', '-un'])).trim(), 'nobody');
    await ok(['rm', '-f', id]);
  });

  test('swarm endpoints answer 503 as an engine outside a swarm', async () => {
    for (const path of ['/swarm', '/services', '/nodes', '/tasks', '/secrets', '/configs']) {
      const r = await d.api('GET', `/v1.41${path}`);
      assert.equal(r.status, 503, path);
      assert.match(r.json().message, /^This node is not a swarm manager/, path);
    }
    const leave = await d.api('POST', '/swarm/leave?force=1');
    assert.deepEqual([leave.status, leave.json().message], [503, 'This node is not part of a swarm']);
    const ls = await docker(['service', 'ls']);
    assert.notEqual(ls.code, 0);
    assert.match(ls.stderr, /This node is not a swarm manager/);
  });

  test('kill (SIGKILL) returns once the exit is recorded: 137 right away', async () => {
    const id = (await ok(['run', '-d', 'busybox', 'sleep', '100'])).trim();
    await ok(['kill', id]);
    assert.equal((await ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', id])).trim(), 'exited 137');
    // What SDKs do: kill, then inspect at once (no CLI start-up in between).
    for (let i = 0; i < 3; i++) {
      assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
      assert.equal((await d.api('POST', `/containers/${id}/kill`)).status, 204);
      const s = (await inspect(id)).State;
      assert.deepEqual([s.Status, s.ExitCode], ['exited', 137], `round ${i}`);
    }
    await ok(['rm', id]);
  });

  test('ps --filter health=healthy|unhealthy|starting|none', async () => {
    const healthy = (await ok(['run', '-d', '--health-cmd', 'true', '--health-interval', '300ms', 'busybox', 'sleep', '100'])).trim();
    const plain = (await ok(['run', '-d', 'busybox', 'sleep', '100'])).trim();
    await eventually(async () => (await ok(['ps', '-q', '--no-trunc', '--filter', 'health=healthy'])).includes(healthy), 15_000, 'healthy');
    const none = await ok(['ps', '-q', '--no-trunc', '--filter', 'health=none']);
    assert.ok(none.includes(plain) && !none.includes(healthy), none);
    assert.equal((await ok(['ps', '-q', '--filter', 'health=unhealthy'])).trim(), '');
    const bad = await docker(['ps', '--filter', 'health=sick']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Unrecognised filter value for health: sick/);
    await ok(['rm', '-f', healthy, plain]);
  });

  test('--network host and --uts host take the host\'s hostname', async () => {
    assert.equal((await ok(['run', '--rm', '--network', 'host', 'busybox', 'hostname'])).trim(), hostname());
    assert.equal((await ok(['run', '--rm', '--uts', 'host', 'busybox', 'hostname'])).trim(), hostname());
    const both = await docker(['run', '--rm', '--uts', 'host', '--hostname', 'x', 'busybox', 'true']);
    assert.notEqual(both.code, 0);
    assert.match(both.stderr, /Conflicting options: hostname and the UTS mode/);
  });

  test('HostConfig fields are applied and echoed by inspect', async () => {
    const out = await ok(['run', '--name', 'hc', '--group-add', '1000', '--group-add', 'nogroup', '--pid', 'host', '--ipc', 'host', '--oom-score-adj', '500',
      '--sysctl', 'net.core.somaxconn=1000', '--memory-swappiness', '10', '--device', '/dev/null:/dev/mynull', '--device-cgroup-rule', 'c 1:3 rwm',
      'busybox', 'sh', '-c', 'id -G; cat /proc/self/oom_score_adj; cat /proc/sys/net/core/somaxconn; test -c /dev/mynull && echo dev; test "$(cat /proc/1/comm)" != sh && echo hostpid']);
    const lines = out.split('\n');
    for (const g of ['1000', '65534']) assert.ok(lines[0]!.split(' ').includes(g), out);
    assert.deepEqual(lines.slice(1), ['500', '1000', 'dev', 'hostpid', ''], out);
    const h = (await inspect('hc')).HostConfig;
    assert.deepEqual(
      [h.GroupAdd, h.PidMode, h.IpcMode, h.OomScoreAdj, h.Sysctls, h.MemorySwappiness, h.Devices, h.DeviceCgroupRules],
      [['1000', 'nogroup'], 'host', 'host', 500, { 'net.core.somaxconn': '1000' }, 10, [{ PathOnHost: '/dev/null', PathInContainer: '/dev/mynull', CgroupPermissions: 'rwm' }], ['c 1:3 rwm']],
    );
    const stoppedPeer = await docker(['run', '--rm', '--pid', 'container:hc', 'busybox', 'true']);
    assert.notEqual(stoppedPeer.code, 0, 'hc has exited: its pid namespace is gone');
    assert.match(stoppedPeer.stderr, /non running container/);
    await ok(['rm', 'hc']);
  });

  test('legacy --link: variables and /etc/hosts entries; the link can be removed', async () => {
    await ok(['run', '-d', '--name', 'up', '-e', 'FOO=1', '--expose', '80', 'busybox', 'sleep', '100']);
    const out = await ok(['run', '--name', 'child', '--link', 'up:al', 'busybox', 'sh', '-c', 'env; cat /etc/hosts']);
    assert.match(out, /^AL_NAME=\/child\/al$/m);
    assert.match(out, /^AL_ENV_FOO=1$/m);
    assert.match(out, /^AL_PORT_80_TCP=tcp:\/\/[\d.]+:80$/m);
    assert.match(out, /^[\d.]+\tal up /m);
    assert.deepEqual((await inspect('child')).HostConfig.Links, ['/up:/child/al']);
    const r = await d.api('DELETE', '/containers/child/al?link=1');
    assert.equal(r.status, 204, r.body.toString());
    assert.equal((await inspect('child')).HostConfig.Links, null);
    const missing = await docker(['run', '--rm', '--link', 'nosuch:x', 'busybox', 'true']);
    assert.notEqual(missing.code, 0);
    await ok(['rm', '-f', 'up', 'child']);
  });

  test('log drivers: an unknown one is a 400 at create, none keeps no readable log', async () => {
    const bad = await docker(['create', '--log-driver', 'nosuch', 'busybox']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /no log driver named 'nosuch' is registered/);
    // Attaching still shows the output (as with Docker's none driver); only `logs` has nothing.
    assert.equal(await ok(['run', '--name', 'nolog', '--log-driver', 'none', 'busybox', 'echo', 'hi']), 'hi\n');
    const logs = await docker(['logs', 'nolog']);
    assert.notEqual(logs.code, 0);
    assert.match(logs.stderr, /does not support reading/);
    await ok(['rm', 'nolog']);
  });

  test('a HostConfig field berth cannot honour is a 400 naming it, never ignored', async () => {
    for (const [field, value] of [['CgroupParent', '/elsewhere'], ['BlkioDeviceReadBps', [{ Path: '/dev/sda', Rate: 1 }]], ['Runtime', 'kata']] as const) {
      const r = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { [field]: value } });
      assert.equal(r.status, 400, field);
      assert.match(r.json().message, field === 'Runtime' ? /Unknown runtime specified kata/ : new RegExp(`HostConfig\\.${field}`));
    }
    const r = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { CgroupParent: '', BlkioDeviceReadBps: [], Runtime: 'runc', KernelMemory: 0 } });
    assert.equal(r.status, 201, 'defaults as the docker CLI sends them are fine');
  });

  test('docker load: a bad archive is an error line in a 200 stream (as dockerd), and the CLI fails', async () => {
    const r = await d.api('POST', '/images/load', 'abc', { 'Content-Type': 'application/x-tar' });
    assert.equal(r.status, 200);
    const lines = r.body.toString().split('\r\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.ok(lines.at(-1).errorDetail?.message, r.body.toString());
    const cli = await docker(['load'], 'abc');
    assert.notEqual(cli.code, 0);
  });

  test('build: --add-host, --network, --cache-from and a failing step\'s stderr', async () => {
    const hosts = await ok(['build', '--add-host', 'h.test:127.0.0.1', '--network', 'none', '-'], 'FROM busybox\nRUN grep h.test /etc/hosts && ls /sys/class/net && echo warn >&2\n');
    assert.match(hosts, /127\.0\.0\.1\th\.test/);
    assert.match(hosts, /^lo$/m);
    assert.doesNotMatch(hosts, /eth0/);
    assert.match(hosts, /\x1b\[91mwarn\n\x1b\[0m/);
    await ok(['build', '-t', 'cf1', '-'], 'FROM busybox\nRUN echo a > /a\n');
    assert.match(await ok(['build', '--cache-from', 'cf1', '-'], 'FROM busybox\nRUN echo a > /a\n'), /Using cache/);
    assert.doesNotMatch(await ok(['build', '--cache-from', 'nosuch', '-'], 'FROM busybox\nRUN echo a > /a\n'), /Using cache/);
  });
});
