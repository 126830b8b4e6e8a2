/**
 * Registry interoperability: the real docker CLI pushes and pulls through berthd to berth's
 * registry; Debian's skopeo copies images into and out of berth's registry; berth pushes to and
 * pulls from Debian's docker-registry (the reference implementation). All on loopback ports.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, runCommand, TEST_PREFIX, type TestDaemon } from '../helpers/daemon.js';
import { startRegistry, type RegistryProc } from '../helpers/registry.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function waitHttp(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status === 200, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing answers on 127.0.0.1:${port}`);
}

describe('registry interoperability', () => {
  let d: TestDaemon;
  let reg: RegistryProc;
  let dir: string;
  let R: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `${TEST_PREFIX}registry-compat-`));
    reg = await startRegistry(dir);
    R = `127.0.0.1:${reg.port}`;
    d = await startDaemon('registry-compat');
    await d.importBusybox();
  });
  after(async () => {
    await reg?.stop();
    await d?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  test('docker push and docker pull through berthd to berth registry serve', async () => {
    assert.equal((await d.docker(['tag', 'busybox', `${R}/dk/busybox:1`])).code, 0);
    const push = await d.docker(['push', `${R}/dk/busybox:1`]);
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stdout, /: Pushed/);
    assert.match(push.stdout, /1: digest: sha256:[a-f0-9]{64} size: \d+/);
    assert.equal((await d.docker(['rmi', `${R}/dk/busybox:1`])).code, 0);
    const pull = await d.docker(['pull', `${R}/dk/busybox:1`]);
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stdout, /Pull complete|Already exists/);
    assert.match(pull.stdout, new RegExp(`${R}/dk/busybox:1`));
    const run = await d.docker(['run', '--rm', `${R}/dk/busybox:1`, 'echo', 'via-docker']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'via-docker\n');
    const digests = await d.docker(['images', '--digests', '--format', '{{.Digest}}', `${R}/dk/busybox`]);
    assert.match(digests.stdout, /^sha256:[a-f0-9]{64}$/m);
  });

  test('docker save and docker load through berthd; skopeo reads the archive as docker-archive and OCI layout', async () => {
    const out = join(dir, 'dk.tar');
    const save = await d.docker(['save', '-o', out, 'busybox']);
    assert.equal(save.code, 0, save.stderr);
    const sk = await runCommand('skopeo', ['--insecure-policy', 'copy', `docker-archive:${out}`, `oci:${join(dir, 'from-save')}:x`], {});
    assert.equal(sk.code, 0, sk.stderr);
    assert.equal((await d.docker(['tag', 'busybox', 'saved:copy'])).code, 0);
    assert.equal((await d.docker(['rmi', 'saved:copy'])).code, 0);
    const load = await d.docker(['load', '-i', out]);
    assert.equal(load.code, 0, load.stderr);
    assert.match(load.stdout, /Loaded image: busybox:latest/);
  });

  test('skopeo copies an image out of and into berth registry serve; berth pulls the copy', async () => {
    assert.equal((await d.berth(['tag', 'busybox', `${R}/sk/src:1`])).code, 0);
    assert.equal((await d.berth(['push', `${R}/sk/src:1`])).code, 0);
    const layout = join(dir, 'oci-layout');
    const out = await runCommand('skopeo', ['--insecure-policy', 'copy', '--src-tls-verify=false', `docker://${R}/sk/src:1`, `oci:${layout}:img`], {});
    assert.equal(out.code, 0, out.stderr);
    const back = await runCommand('skopeo', ['--insecure-policy', 'copy', '--dest-tls-verify=false', `oci:${layout}:img`, `docker://${R}/sk/copy:2`], {});
    assert.equal(back.code, 0, back.stderr);
    const inspect = await runCommand('skopeo', ['inspect', '--tls-verify=false', `docker://${R}/sk/copy:2`], {});
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.equal(JSON.parse(inspect.stdout).Layers.length, 1);
    const pull = await d.berth(['pull', `${R}/sk/copy:2`]);
    assert.equal(pull.code, 0, pull.stderr);
    const run = await d.berth(['run', '--rm', `${R}/sk/copy:2`, 'echo', 'skopeo']);
    assert.equal(run.stdout, 'skopeo\n', run.stderr);
  });

  test('berth pushes to and pulls from Debian docker-registry', async () => {
    const port = await freePort();
    const cfg = join(dir, 'distribution.yml');
    await writeFile(cfg, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'distribution')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`);
    let proc: ChildProcess | undefined;
    try {
      proc = spawn('docker-registry', ['serve', cfg], { stdio: 'ignore' });
      await waitHttp(port);
      const D = `127.0.0.1:${port}`;
      assert.equal((await d.berth(['tag', 'busybox', `${D}/ref/busybox:1`])).code, 0);
      const push = await d.berth(['push', `${D}/ref/busybox:1`]);
      assert.equal(push.code, 0, push.stderr);
      assert.match(push.stdout, /: (Pushed|Layer already exists)$/m);
      assert.equal((await d.berth(['rmi', `${D}/ref/busybox:1`])).code, 0);
      const pull = await d.berth(['pull', `${D}/ref/busybox:1`]);
      assert.equal(pull.code, 0, pull.stderr);
      const run = await d.berth(['run', '--rm', `${D}/ref/busybox:1`, 'echo', 'reference']);
      assert.equal(run.stdout, 'reference\n', run.stderr);
    } finally {
      if (proc && proc.exitCode === null) {
        const exited = new Promise((r) => proc!.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
    }
  });
});
