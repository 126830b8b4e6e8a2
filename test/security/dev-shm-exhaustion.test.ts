/**
 * Issue 24 item 2: /dev/shm was unlimited. The docker CLI sends `ShmSize: 0`, which berth
 * kept as `size=0` (tmpfs: no limit), so a container could fill the host's memory through
 * /dev/shm. Zero or absent means Docker's default, 64 MiB; `--shm-size` sets it.
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { type TestDaemon } from '../helpers/daemon.js';
import { cliChecks, daemonWithWorkDir } from '../helpers/suite.js';

describe('security: filling host memory through an unlimited /dev/shm', () => {
  const suite = daemonWithWorkDir('sec-shm', 'berth-test-sec-shm-');
  let d: TestDaemon;
  before(() => {
    ({ d } = suite);
  });
  const { ok } = cliChecks(() => d, 'docker');

  test('a container started by the docker CLI cannot write 80 MB into /dev/shm; --shm-size and inspect agree', async () => {
    // dd stops at the limit ("No space left on device"); what landed in the file is what counts.
    const out = await ok(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=80 2>/dev/null; du -k /dev/shm/fill | cut -f1']);
    const kb = Number(out.trim());
    assert.ok(kb <= 64 * 1024, `/dev/shm took ${kb} KiB: more than Docker's 64 MiB default`);
    assert.ok(kb >= 60 * 1024, `/dev/shm took only ${kb} KiB: the 64 MiB default should be usable`);
    const df = await ok(['run', '--rm', '--network', 'none', '--shm-size', '8m', 'busybox', 'df', '-k', '/dev/shm']);
    assert.match(df, /\s8192\s/, `--shm-size 8m: ${df}`);
    await ok(['create', '--name', 'shm-default', 'busybox', 'true']);
    assert.equal((await ok(['inspect', '-f', '{{.HostConfig.ShmSize}}', 'shm-default'])).trim(), String(64 * 1024 * 1024));
    const neg = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { ShmSize: -1 } });
    assert.equal(neg.status, 400);
    assert.match(neg.json().message, /SHM size can not be less than 0/);
  });
});
