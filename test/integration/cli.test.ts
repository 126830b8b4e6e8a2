import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';

describe('the berth CLI end to end', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon('cli');
    await d.importBusybox();
  });
  after(async () => {
    await d?.destroy();
  });

  test('run --rm prints the output and leaves nothing behind', async () => {
    const r = await d.berth(['run', '--rm', 'busybox', 'echo', 'hello']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello\n');
    const ps = await d.berth(['ps', '-aq']);
    assert.equal(ps.stdout.trim(), '');
  });

  test('run passes the exit code and keeps stderr apart', async () => {
    const r = await d.berth(['run', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  test('run flags: -e, --env-file-less env, -w, -u, -h, --entrypoint, -l', async () => {
    const r = await d.berth(['run', '--rm', '-e', 'A=1', '-w', '/tmp', '-u', '65534', '-h', 'hostx', '-l', 'k=v', '--entrypoint', 'sh', 'busybox', '-c', 'echo "$A $(pwd) $(id -u) $(hostname)"']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '1 /tmp 65534 hostx\n');
  });

  test('unknown image and unknown command fail like docker', async () => {
    const img = await d.berth(['run', '--rm', 'nosuchimage']);
    assert.notEqual(img.code, 0);
    assert.match(img.stderr, /Unable to find image 'nosuchimage:latest' locally/);
    const cmd = await d.berth(['run', '--rm', 'busybox', 'nosuchcmd']);
    assert.equal(cmd.code, 127);
    assert.match(cmd.stderr, /executable file not found/);
    const flag = await d.berth(['run', '--bogus', 'busybox']);
    assert.equal(flag.code, 125);
    assert.match(flag.stderr, /unknown flag: --bogus/);
  });

  test('detached lifecycle: run -d, ps, logs, stop, start, restart, kill, wait, rm', async () => {
    const run = await d.berth(['run', '-d', '--name', 'cli-life', 'busybox', 'sh', '-c', 'echo started; trap "exit 0" TERM; while true; do sleep 0.1; done']);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const ps = await d.berth(['ps']);
    assert.match(ps.stdout, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES/);
    assert.match(ps.stdout, new RegExp(`${id.slice(0, 12)}\\s+busybox\\s+"sh -c 'echo started.*Up .*cli-life`));
    const fmt = await d.berth(['ps', '--format', '{{.ID}} {{.Names}} {{.State}}']);
    assert.equal(fmt.stdout, `${id.slice(0, 12)} cli-life running\n`);
    const logs = await d.berth(['logs', 'cli-life']);
    assert.equal(logs.stdout, 'started\n');
    assert.equal((await d.berth(['stop', 'cli-life'])).stdout.trim(), 'cli-life');
    assert.equal((await d.berth(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', 'cli-life'])).stdout, 'exited 0\n');
    assert.equal((await d.berth(['start', 'cli-life'])).code, 0);
    assert.equal((await d.berth(['restart', '-t', '1', 'cli-life'])).code, 0);
    assert.equal((await d.berth(['kill', '-s', 'KILL', 'cli-life'])).code, 0);
    const wait = await d.berth(['wait', 'cli-life']);
    assert.equal(wait.stdout.trim(), '137');
    const all = await d.berth(['ps', '-a', '--filter', 'name=cli-life', '--format', '{{.Status}}']);
    assert.match(all.stdout, /^Exited \(137\) /);
    assert.equal((await d.berth(['rm', 'cli-life'])).code, 0);
    const gone = await d.berth(['inspect', 'cli-life']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /No such object: cli-life|No such container: cli-life/);
  });

  test('rm refuses a running container without -f', async () => {
    const run = await d.berth(['run', '-d', 'busybox', 'sleep', '100']);
    const id = run.stdout.trim();
    const rm = await d.berth(['rm', id]);
    assert.notEqual(rm.code, 0);
    assert.match(rm.stderr, /stop the container before removing or force remove/);
    assert.equal((await d.berth(['rm', '-f', id])).code, 0);
  });

  test('images, inspect, import with changes, rmi', async () => {
    const imgs = await d.berth(['images']);
    assert.match(imgs.stdout, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE/);
    assert.match(imgs.stdout, /busybox\s+latest\s+[0-9a-f]{12}/);
    const { busyboxTar } = await import('../helpers/daemon.js');
    const imp = await d.berth(['import', '-c', 'ENV GREETING=hi', '-c', 'CMD ["sh", "-c", "echo $GREETING"]', await busyboxTar(), 'greeter:1']);
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const r = await d.berth(['run', '--rm', 'greeter:1']);
    assert.equal(r.stdout, 'hi\n');
    const cfg = await d.berth(['image', 'inspect', '--format', '{{json .Config.Env}}', 'greeter:1']);
    assert.match(cfg.stdout, /GREETING=hi/);
    assert.equal((await d.berth(['rmi', 'greeter:1'])).code, 0);
    assert.notEqual((await d.berth(['image', 'inspect', 'greeter:1'])).code, 0);
  });

  test('version and info talk to the daemon', async () => {
    const v = await d.berth(['version']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /Client:/);
    assert.match(v.stdout, /Server:/);
    assert.match(v.stdout, /API version:\s+1\.47/);
    const info = await d.berth(['info']);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /Storage Driver: overlay2/);
  });
});
