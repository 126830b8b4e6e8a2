import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, busyboxTar, type TestDaemon } from '../helpers/daemon.js';

// The real docker CLI (client only) against a private berthd.
describe('the docker CLI against berthd', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon('compat');
  });
  after(async () => {
    await d?.destroy();
  });

  test('docker version sees the berth server', async () => {
    const v = await d.docker(['version', '--format', '{{.Server.APIVersion}}']);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout.trim(), '1.47');
  });

  test('docker import and docker images', async () => {
    const imp = await d.docker(['import', '--change', 'CMD ["sh"]', await busyboxTar(), 'busybox:latest']);
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stdout, /^sha256:[0-9a-f]{64}$/m);
    const imgs = await d.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.equal(imgs.code, 0, imgs.stderr);
    assert.match(imgs.stdout, /^busybox:latest$/m);
  });

  test('docker run --rm prints the output and removes the container', async () => {
    const r = await d.docker(['run', '--rm', 'busybox', 'echo', 'hi']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hi\n');
    assert.equal((await d.docker(['ps', '-aq'])).stdout.trim(), '');
  });

  test('docker run passes exit codes and splits stderr', async () => {
    const r = await d.docker(['run', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    const missing = await d.docker(['run', '--rm', 'busybox', 'nosuchcmd']);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /executable file not found/);
  });

  test('docker run -d, logs, ps -a, inspect, stop, rm -f', async () => {
    const run = await d.docker(['run', '-d', '--name', 'dk', '-e', 'X=1', 'busybox', 'sh', '-c', 'echo x=$X; sleep 100']);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    const ps = await d.docker(['ps', '--format', '{{.ID}} {{.Names}} {{.Image}}']);
    assert.equal(ps.stdout.trim(), `${id.slice(0, 12)} dk busybox`);
    for (let i = 0; i < 50; i++) {
      if ((await d.docker(['logs', 'dk'])).stdout === 'x=1\n') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await d.docker(['logs', 'dk'])).stdout, 'x=1\n');
    const insp = await d.docker(['inspect', '--format', '{{.State.Running}} {{.Name}} {{index .Config.Env 0}}', 'dk']);
    assert.equal(insp.code, 0, insp.stderr);
    assert.match(insp.stdout, /^true \/dk /);
    const stop = await d.docker(['stop', '-t', '1', 'dk']);
    assert.equal(stop.code, 0, stop.stderr);
    const psa = await d.docker(['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
    assert.match(psa.stdout, /^dk Exited \(137\) /m);
    assert.equal((await d.docker(['start', 'dk'])).code, 0);
    const rm = await d.docker(['rm', '-f', 'dk']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal((await d.docker(['ps', '-aq', '--filter', 'name=dk'])).stdout.trim(), '');
    assert.doesNotMatch((await d.docker(['ps', '-a', '--no-trunc', '--format', '{{.ID}}'])).stdout, new RegExp(id));
  });

  test('docker errors read like docker\'s', async () => {
    const r = await d.docker(['inspect', 'nosuch']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /No such object: nosuch/);
    const rm = await d.docker(['rm', 'nosuch']);
    assert.notEqual(rm.code, 0);
    assert.match(rm.stderr, /No such container: nosuch/);
  });
});
