import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RecordingRunner } from '../common/command-runner.js';
import { isNotFound } from '../common/errors.js';
import type { ConmonLauncher, LaunchResult } from './conmon-launcher.js';
import { ConmonRuntime, describeCreateFailure, normalizeSignal, OciCreateError } from './conmon-runtime.js';

class FakeLauncher implements ConmonLauncher {
  argv: readonly string[] = [];
  env: NodeJS.ProcessEnv = {};
  constructor(private readonly result: LaunchResult) {}
  async launch(argv: readonly string[], o: { env: NodeJS.ProcessEnv }): Promise<LaunchResult> {
    this.argv = argv;
    this.env = o.env;
    return this.result;
  }
}

describe('ConmonRuntime (no root)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-conmon-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('starts conmon with the expected command line and returns the pid', async () => {
    const launcher = new FakeLauncher({ monitorPid: 100, sync: { data: 4242 }, stderr: '' });
    const rt = new ConmonRuntime({ runtimeRoot: join(dir, 'crun'), execRoot: dir, launcher, runner: new RecordingRunner() });
    const res = await rt.create({ id: 'abc', bundleDir: '/b', logPath: '/l/ctr.log', logMaxSize: 1000, terminal: true, stdin: true });
    assert.deepEqual(res, { pid: 4242, monitorPid: 100 });
    const a = launcher.argv;
    const after = (flag: string) => a[a.indexOf(flag) + 1];
    assert.equal(a[0], '/usr/bin/conmon');
    assert.equal(after('--api-version'), '1');
    assert.equal(after('-c'), 'abc');
    assert.equal(after('-r'), '/usr/bin/crun');
    assert.equal(after('-b'), '/b');
    assert.equal(after('-l'), 'k8s-file:/l/ctr.log');
    assert.equal(after('--log-size-max'), '1000');
    assert.equal(after('--runtime-arg'), `--root=${join(dir, 'crun')}`);
    assert.equal(after('--exit-dir'), join(dir, 'exits'));
    assert.equal(after('--persist-dir'), join(dir, 'ctr', 'abc'));
    for (const f of ['--sync', '--full-attach', '-t']) assert.ok(a.includes(f), f);
    // With a TTY, stdin is the pty: -i would make conmon close it (a hangup) when a client detaches.
    assert.ok(!a.includes('-i') && !a.includes('--leave-stdin-open'));
    assert.equal(launcher.env.TZ, 'UTC');
  });

  it('keeps a non-TTY stdin open across clients unless StdinOnce', () => {
    const rt2 = new ConmonRuntime({ runtimeRoot: '/r', execRoot: '/e' });
    const base = { id: 'abc', bundleDir: '/b', logPath: '/l', terminal: false, stdin: true };
    const kept = rt2.conmonArgv(base);
    assert.ok(kept.includes('-i') && kept.includes('--leave-stdin-open'));
    const once = rt2.conmonArgv({ ...base, stdinOnce: true });
    assert.ok(once.includes('-i') && !once.includes('--leave-stdin-open'));
    const none = rt2.conmonArgv({ ...base, stdin: false });
    assert.ok(!none.includes('-i') && !none.includes('--leave-stdin-open'));
  });

  it('turns a runtime create failure into Docker\'s message', async () => {
    const launcher = new FakeLauncher({ monitorPid: 1, sync: { data: -1, message: 'executable file `nosuchcmd` not found in $PATH: No such file or directory\n' }, stderr: '' });
    const rt = new ConmonRuntime({ runtimeRoot: join(dir, 'crun'), execRoot: dir, launcher });
    await assert.rejects(
      rt.create({ id: 'bad', bundleDir: '/b', logPath: '/l', terminal: false, stdin: false }),
      (e: unknown) => e instanceof OciCreateError && e.exitStatus === 127 && /exec: "nosuchcmd": executable file not found in \$PATH/.test(e.message),
    );
  });

  it('runtime verbs go through the runner with --root', async () => {
    const runner = new RecordingRunner((argv) => (argv.includes('kill') && argv.includes('gone') ? { code: 1, stderr: 'container does not exist' } : {}));
    const rt = new ConmonRuntime({ runtime: 'runc', runtimeRoot: '/rr', execRoot: dir, runner });
    await rt.start('x');
    await rt.kill('x', 'term', { all: true });
    await rt.pause('x');
    await rt.resume('x');
    await rt.delete('x');
    assert.deepEqual(runner.calls, [
      ['/usr/bin/runc', '--root=/rr', 'start', 'x'],
      ['/usr/bin/runc', '--root=/rr', 'kill', '--all', 'x', '15'],
      ['/usr/bin/runc', '--root=/rr', 'pause', 'x'],
      ['/usr/bin/runc', '--root=/rr', 'resume', 'x'],
      ['/usr/bin/runc', '--root=/rr', 'delete', 'x'],
    ]);
    await assert.rejects(rt.kill('gone', 9), (e) => isNotFound(e));
  });

  it('rejects ids that could escape its directories', async () => {
    const rt = new ConmonRuntime({ runtimeRoot: '/rr', execRoot: dir, runner: new RecordingRunner() });
    await assert.rejects(rt.state('../etc'), /invalid container id/);
  });

  it('normalizes signals', () => {
    assert.equal(normalizeSignal('SIGTERM'), '15');
    assert.equal(normalizeSignal('kill'), '9');
    assert.equal(normalizeSignal('RTMIN+2'), '36');
    assert.equal(normalizeSignal(15), '15');
    assert.equal(normalizeSignal('9'), '9');
    assert.throws(() => normalizeSignal('SIGNOPE'), /invalid signal/);
  });

  it('describes runc and crun failures', () => {
    const runc = describeCreateFailure(
      'runc',
      'time="2024-01-01T00:00:00Z" level=error msg="runc create failed: unable to start container process: exec: \\"nosuchcmd\\": executable file not found in $PATH"\n',
    );
    assert.deepEqual(runc, { message: 'exec: "nosuchcmd": executable file not found in $PATH', exitStatus: 127 });
    assert.equal(describeCreateFailure('crun', 'mount `/x` to `/y`: No such device\n').exitStatus, 125);
  });
});

describe('removeEmptyCgroup (a container cgroup the runtime left behind)', () => {
  it('removes the empty directory under every hierarchy and the unified root; keeps a busy one and refuses odd paths', async () => {
    const { mkdtemp, mkdir, readdir, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { removeEmptyCgroup } = await import('./conmon-runtime.js');
    const root = await mkdtemp(join(tmpdir(), 'berth-cgroup-test-'));
    try {
      for (const h of ['memory', 'pids']) await mkdir(join(root, h, 'berth', 'c1'), { recursive: true });
      await mkdir(join(root, 'berth', 'c1'), { recursive: true });
      await mkdir(join(root, 'cpu', 'berth', 'c1', 'busy'), { recursive: true });
      await removeEmptyCgroup('/berth/c1', root);
      assert.deepEqual(await readdir(join(root, 'memory', 'berth')), []);
      assert.deepEqual(await readdir(join(root, 'pids', 'berth')), []);
      assert.deepEqual(await readdir(join(root, 'berth')), []);
      assert.deepEqual(await readdir(join(root, 'cpu', 'berth')), ['c1'], 'a cgroup that is not empty stays');
      await mkdir(join(root, 'memory', 'x'), { recursive: true });
      await removeEmptyCgroup('/berth/../x', root);
      await removeEmptyCgroup('system.slice:berth:c1', root);
      assert.deepEqual((await readdir(join(root, 'memory'))).sort(), ['berth', 'x']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
