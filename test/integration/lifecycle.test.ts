import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { startDaemon, eventually, sleep, BERTH_BIN, type TestDaemon } from '../helpers/daemon.js';

/** A file of the container's cgroup (v1 controller or v2), found through its init's /proc entry. */
async function cgroupFile(pid: number, controller: string, file: string): Promise<string> {
  const lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n');
  const v1 = lines.find((l) => l.split(':')[1]?.split(',').includes(controller));
  const path = v1 ? `/sys/fs/cgroup/${controller}${v1.split(':')[2]}` : `/sys/fs/cgroup${lines.find((l) => l.startsWith('0::'))!.slice(3)}`;
  return (await readFile(`${path}/${file}`, 'utf8')).trim();
}

describe('container lifecycle and observation', () => {
  let d: TestDaemon;
  const inspect = async (name: string) => (await d.api('GET', `/containers/${name}/json`)).json();
  before(async () => {
    d = await startDaemon('life');
    await d.importBusybox();
  });
  after(async () => {
    await d?.destroy();
  });

  test('pause freezes the processes, unpause thaws them (berth and docker)', async () => {
    assert.equal((await d.berth(['run', '-d', '--name', 'pz', 'busybox', 'sh', '-c', 'while true; do date +%s%N > /tmp/t; sleep 0.05; done'])).code, 0);
    const pid = (await inspect('pz')).State.Pid as number;
    assert.equal((await d.berth(['pause', 'pz'])).code, 0);
    const st = await inspect('pz');
    assert.equal(st.State.Status, 'paused');
    assert.equal(st.State.Paused, true);
    assert.match(await cgroupFile(pid, 'freezer', 'freezer.state').catch(() => cgroupFile(pid, '', 'cgroup.freeze')), /FROZEN|1/);
    assert.match((await d.berth(['ps', '--format', '{{.Status}}', '-f', 'name=pz'])).stdout, /\(Paused\)/);
    const again = await d.docker(['pause', 'pz']);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /already paused/);
    assert.equal((await d.docker(['unpause', 'pz'])).code, 0);
    assert.equal((await inspect('pz')).State.Status, 'running');
    assert.equal((await d.berth(['rm', '-f', 'pz'])).code, 0);
  });

  test('rename: the new name finds it, a taken name is refused', async () => {
    await d.berth(['create', '--name', 'old', 'busybox', 'true']);
    await d.berth(['create', '--name', 'taken', 'busybox', 'true']);
    assert.equal((await d.berth(['rename', 'old', 'new'])).code, 0);
    assert.equal((await inspect('new')).Name, '/new');
    assert.equal((await d.api('GET', '/containers/old/json')).status, 404);
    const clash = await d.docker(['rename', 'new', 'taken']);
    assert.notEqual(clash.code, 0);
    assert.match(clash.stderr, /already in use/);
    await d.berth(['rm', 'new', 'taken']);
  });

  test('limits land in the cgroup at run and change with update on a running container', async () => {
    const r = await d.berth(['run', '-d', '--name', 'lim', '-m', '64m', '--cpus', '0.5', '--pids-limit', '40', '--cpu-shares', '512', '--ulimit', 'nofile=1024:2048', 'busybox', 'sleep', '300']);
    assert.equal(r.code, 0, r.stderr);
    const pid = (await inspect('lim')).State.Pid as number;
    assert.equal(await cgroupFile(pid, 'memory', 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
    assert.equal(await cgroupFile(pid, 'cpu', 'cpu.cfs_quota_us'), '50000');
    assert.equal(await cgroupFile(pid, 'cpu', 'cpu.shares'), '512');
    assert.equal(await cgroupFile(pid, 'pids', 'pids.max'), '40');
    const limits = await readFile(`/proc/${pid}/limits`, 'utf8');
    assert.match(limits, /Max open files\s+1024\s+2048/);
    assert.equal((await d.docker(['update', '--memory', '128m', '--memory-swap', '256m', '--pids-limit', '60', 'lim'])).code, 0);
    assert.equal(await cgroupFile(pid, 'memory', 'memory.limit_in_bytes'), String(128 * 1024 * 1024));
    assert.equal(await cgroupFile(pid, 'pids', 'pids.max'), '60');
    assert.equal((await inspect('lim')).HostConfig.Memory, 128 * 1024 * 1024);
    await d.berth(['rm', '-f', 'lim']);
  });

  test('a container over its memory limit is OOM-killed: 137 and OOMKilled', async () => {
    const r = await d.berth(['run', '--name', 'oom', '-m', '16m', '--memory-swap', '16m', 'busybox', 'sh', '-c', 'x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done']);
    assert.equal(r.code, 137, r.stderr);
    const st = (await inspect('oom')).State;
    assert.equal(st.OOMKilled, true);
    assert.equal(st.ExitCode, 137);
    await d.berth(['rm', 'oom']);
  });

  test('top lists the container\'s processes; stats reports usage', async () => {
    await d.berth(['run', '-d', '--name', 'obs', '-m', '100m', 'busybox', 'sh', '-c', 'sleep 300 & sleep 301']);
    await sleep(200);
    const top = await d.docker(['top', 'obs']);
    assert.equal(top.code, 0, top.stderr);
    assert.match(top.stdout, /^UID\s+PID\s+PPID/);
    assert.match(top.stdout, /sleep 300/);
    assert.match(top.stdout, /sleep 301/);
    // sh execs its last command: two sleeps, nothing from the host.
    assert.equal(top.stdout.trim().split('\n').length, 3);
    const stats = await d.berth(['stats', '--no-stream', 'obs']);
    assert.equal(stats.code, 0, stats.stderr);
    assert.match(stats.stdout, /CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS/);
    assert.match(stats.stdout, /obs\s+\d+\.\d\d%\s+[\d.]+[KM]iB \/ 100MiB\s+[\d.]+%\s+.*\s2\n/);
    const dstats = await d.docker(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}} {{.MemUsage}}', 'obs']);
    assert.equal(dstats.code, 0, dstats.stderr);
    assert.match(dstats.stdout, /^obs 2 [\d.]+[KM]iB \/ 100MiB/);
    await d.berth(['rm', '-f', 'obs']);
  });

  test('events: create, start, die, destroy in order, filtered by container', async () => {
    const since = String(Date.now() / 1000);
    await d.berth(['run', '--rm', '--name', 'ev', 'busybox', 'true']);
    const ev = await d.berth(['events', '--since', since, '--until', String(Date.now() / 1000 + 0.5), '--filter', 'container=ev', '--format', '{{.Action}}']);
    assert.equal(ev.code, 0, ev.stderr);
    assert.deepEqual(ev.stdout.trim().split('\n'), ['create', 'start', 'die', 'destroy']);
    const dev = await d.docker(['events', '--since', since, '--until', String(Date.now() / 1000), '--filter', 'event=die', '--filter', 'container=ev']);
    assert.match(dev.stdout, /container die [0-9a-f]{64} \(exitCode=0, image=busybox, name=ev\)/);
  });

  test('restart policies: on-failure counts, always restarts, stop ends it', async () => {
    await d.berth(['run', '-d', '--name', 'onf', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 3']);
    await eventually(async () => {
      const s = await inspect('onf');
      return s.RestartCount === 2 && s.State.Status === 'exited';
    }, 10_000, 'two restarts then stop');
    assert.equal((await inspect('onf')).State.ExitCode, 3);

    await d.docker(['run', '-d', '--name', 'alw', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.3; exit 0']);
    await eventually(async () => (await inspect('alw')).RestartCount >= 2, 10_000, 'always restarts');
    assert.equal((await d.berth(['stop', 'alw'])).code, 0);
    await sleep(800);
    const st = await inspect('alw');
    assert.notEqual(st.State.Status, 'running');
    assert.notEqual(st.State.Status, 'restarting');
    await d.berth(['rm', '-f', 'onf', 'alw']);
  });

  test('restart policy survives a daemon crash: an always container that died meanwhile comes back', async () => {
    await d.berth(['run', '-d', '--name', 'phoenix', '--restart', 'always', 'busybox', 'sleep', '300']);
    const pid = (await inspect('phoenix')).State.Pid as number;
    await d.crash();
    process.kill(pid, 'SIGKILL');
    await sleep(300);
    await d.start();
    await eventually(async () => {
      const s = await inspect('phoenix');
      return s.State.Status === 'running' && s.State.Pid !== pid;
    }, 10_000, 'restart after daemon start');
    await d.berth(['rm', '-f', 'phoenix']);
  });

  test('--init: PID 1 forwards the stop signal, so stop is quick and exits 143', async () => {
    await d.berth(['run', '-d', '--name', 'ini', '--init', 'busybox', 'sleep', '300']);
    const ps = await d.berth(['top', 'ini']);
    assert.match(ps.stdout, /docker-init -- sleep 300/);
    const t0 = Date.now();
    assert.equal((await d.berth(['stop', 'ini'])).code, 0);
    assert.ok(Date.now() - t0 < 5000, 'stop waited for the timeout');
    assert.equal((await inspect('ini')).State.ExitCode, 143);
    await d.berth(['rm', 'ini']);
  });

  test('health checks: starting → healthy → unhealthy, in inspect, ps and events; --no-healthcheck', async () => {
    const since = String(Date.now() / 1000);
    const r = await d.berth(['run', '-d', '--name', 'hc', '--health-cmd', 'test -f /tmp/ok && echo fine', '--health-interval', '200ms', '--health-retries', '2', '--health-start-period', '3s', 'busybox', 'sh', '-c', 'sleep 1; touch /tmp/ok; sleep 2; rm /tmp/ok; sleep 300']);
    assert.equal(r.code, 0, r.stderr);
    assert.match((await d.berth(['ps', '--format', '{{.Status}}', '-f', 'name=hc'])).stdout, /\(health: starting\)/);
    await eventually(async () => (await inspect('hc')).State.Health?.Status === 'healthy', 5000, 'healthy');
    const healthy = (await inspect('hc')).State.Health;
    assert.equal(healthy.FailingStreak, 0);
    assert.equal(healthy.Log.at(-1).ExitCode, 0);
    assert.equal(healthy.Log.at(-1).Output, 'fine\n');
    assert.match((await d.docker(['ps', '--format', '{{.Status}}', '-f', 'name=hc'])).stdout, /\(healthy\)/);
    await eventually(async () => (await inspect('hc')).State.Health?.Status === 'unhealthy', 6000, 'unhealthy');
    assert.ok((await inspect('hc')).State.Health.Log.length <= 5);
    const ev = await d.docker(['events', '--since', since, '--until', String(Date.now() / 1000), '--filter', 'event=health_status', '--format', '{{.Action}}']);
    assert.deepEqual(ev.stdout.trim().split('\n'), ['health_status: healthy', 'health_status: unhealthy']);
    await d.berth(['rm', '-f', 'hc']);
    await d.docker(['run', '-d', '--name', 'nohc', '--no-healthcheck', 'busybox', 'sleep', '300']);
    assert.equal((await d.berth(['inspect', '-f', '{{json .Config.Healthcheck.Test}}', 'nohc'])).stdout.trim(), '["NONE"]');
    assert.equal((await inspect('nohc')).State.Health, undefined);
    await d.berth(['rm', '-f', 'nohc']);
  });

  test('HEALTHCHECK from the image applies; the container\'s flags override its fields', async () => {
    const ctx = await mkdtemp(join(tmpdir(), 'berth-hc-ctx-'));
    try {
      await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 CMD test -e /etc/hostname || exit 1\nCMD ["sleep", "300"]\n');
      const b = await d.berth(['build', '-q', '-t', 'hcimg', ctx]);
      assert.equal(b.code, 0, b.stderr);
    } finally {
      await rm(ctx, { recursive: true, force: true });
    }
    assert.match((await d.berth(['image', 'inspect', '-f', '{{json .Config.Healthcheck.Test}}', 'hcimg'])).stdout, /CMD-SHELL/);
    await d.docker(['run', '-d', '--name', 'fromimg', 'hcimg']);
    await eventually(async () => (await inspect('fromimg')).State.Health?.Status === 'healthy', 5000, 'healthy from the image check');
    await d.berth(['run', '-d', '--name', 'override', '--health-cmd', 'false', 'hcimg']);
    await eventually(async () => (await inspect('override')).State.Health?.Status === 'unhealthy', 5000, 'the flag replaced the test, the interval came from the image');
    await d.berth(['rm', '-f', 'fromimg', 'override']);
    await d.berth(['rmi', 'hcimg']);
  });

  test('stats streams: a live table per second from berth, JSON samples from the API', async () => {
    await d.berth(['run', '-d', '--name', 'live', 'busybox', 'sleep', '300']);
    const res = await d.berth(['stats', 'live'], { timeoutMs: 3500 });
    const tables = res.stdout.split('CONTAINER ID').length - 1;
    assert.ok(tables >= 2, `expected at least two redraws in 3.5 s, got ${tables}`);
    assert.match(res.stdout, /live\s+\d+\.\d\d%/);
    const t0 = Date.now();
    const api = await d.api('GET', '/containers/live/stats?stream=0');
    assert.ok(Date.now() - t0 >= 900, 'a non-streamed sample waits for a previous one, as dockerd');
    const j = api.json();
    assert.ok(j.cpu_stats.cpu_usage.total_usage >= j.precpu_stats.cpu_usage.total_usage);
    assert.ok(j.memory_stats.usage > 0);
    assert.equal(j.pids_stats.current, 1);
    assert.equal(j.name, '/live');
    await d.berth(['rm', '-f', 'live']);
  });

  test('sig-proxy: a signal to the attached client reaches the container (berth and docker)', async () => {
    const clients = [[BERTH_BIN, { BERTH_HOST: d.host, DOCKER_HOST: '' }], ['docker', { DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config') }]] as const;
    // USR1 too: it is the signal Node keeps for its inspector unless a listener is installed.
    const cases = clients.flatMap(([bin, env]) => [[bin, env, 'SIGUSR2', 5] as const, [bin, env, 'SIGUSR1', 4] as const]);
    for (const [bin, env, sig, want] of cases) {
      const script = 'trap "echo got-usr2; exit 5" USR2; trap "echo got-usr1; exit 4" USR1; echo ready; while true; do sleep 0.1; done';
      const child = spawn(bin, ['run', '--rm', 'busybox', 'sh', '-c', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      try {
        await eventually(async () => out.includes('ready'), 10_000, `${bin} run printed ready`);
        child.kill(sig);
        assert.equal(await exited, want, `${bin} ${sig}: ${out}`);
        assert.match(out, sig === 'SIGUSR1' ? /got-usr1/ : /got-usr2/);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }
  });

  test('container prune removes stopped containers only', async () => {
    await d.berth(['run', '--name', 'done1', 'busybox', 'true']);
    await d.berth(['run', '-d', '--name', 'live1', 'busybox', 'sleep', '300']);
    const r = await d.docker(['container', 'prune', '-f']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Deleted Containers:/);
    const names = (await d.berth(['ps', '-a', '--format', '{{.Names}}'])).stdout.trim().split('\n');
    assert.ok(!names.includes('done1'));
    assert.ok(names.includes('live1'));
    await d.berth(['rm', '-f', 'live1']);
  });
});
