import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';

// Issue 15 item 11 end to end: docker flags and commands the berth CLI gained, on a private berthd.
describe('berth CLI docker flags end to end', () => {
  let d: TestDaemon;
  const dir = mkdtempSync(join(tmpdir(), 'berth-flags-'));
  before(async () => {
    d = await startDaemon('cliflags');
    await d.importBusybox();
  });
  after(async () => {
    await d?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('history lists the image layers as docker does', async () => {
    const r = await d.berth(['history', 'busybox']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    assert.ok(lines.length >= 2, r.stdout);
    assert.match(lines[1]!, /^[0-9a-f]{12}\s/);
    const q = await d.berth(['image', 'history', '-q', '--no-trunc', 'busybox']);
    assert.match(q.stdout.split('\n')[0]!, /^sha256:[0-9a-f]{64}$/);
  });

  test('--domainname, --label-file, --hostname and --env-file reach the container', async () => {
    const labels = join(dir, 'labels');
    writeFileSync(labels, 'from.file=1\n# c\n');
    const r = await d.berth(['run', '--name', 'flags-a', '--domainname', 'example.org', '-h', 'box', '--label-file', labels, 'busybox', 'sh', '-c', 'cat /proc/sys/kernel/domainname']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'example.org\n');
    const i = await d.berth(['inspect', '-f', '{{.Config.Domainname}} {{index .Config.Labels "from.file"}}', 'flags-a']);
    assert.equal(i.stdout, 'example.org 1\n');
    await d.berth(['rm', 'flags-a']);
  });

  test('--shm-size and --pid host are applied', async () => {
    const r = await d.berth([
      'run', '--rm', '--shm-size', '8m',
      'busybox', 'sh', '-c', 'df -k /dev/shm | tail -1',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const shm = r.stdout.trimEnd();
    assert.match(shm!, /\s8192\s/);
    const pid = await d.berth(['run', '--rm', '--pid', 'host', 'busybox', 'sh', '-c', 'test -d /proc/1 && cat /proc/1/comm']);
    assert.equal(pid.code, 0, pid.stderr);
    assert.notEqual(pid.stdout.trim(), 'sh');
  });

  test('a flag the engine cannot honour fails with the reason', async () => {
    const r = await d.berth(['run', '--rm', '--kernel-memory', '10m', 'busybox', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /--kernel-memory is not supported/);
    const ps = await d.berth(['ps', '-aq']);
    assert.equal(ps.stdout, '');
  });

  test('system prune -f removes stopped containers and unused networks', async () => {
    const c = await d.berth(['create', '--name', 'prune-me', 'busybox', 'true']);
    assert.equal(c.code, 0, c.stderr);
    const n = await d.berth(['network', 'create', 'prune-net']);
    assert.equal(n.code, 0, n.stderr);
    const r = await d.berth(['system', 'prune', '-f']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Deleted Containers:\n[0-9a-f]{64}\n\nDeleted Networks:\nprune-net\n\n/);
    assert.match(r.stdout, /Total reclaimed space: /);
    assert.equal((await d.berth(['ps', '-aq'])).stdout, '');
    assert.equal((await d.berth(['images', '-q', 'busybox'])).stdout.trim().length, 12, 'the tagged image stays without -a');
  });
});
