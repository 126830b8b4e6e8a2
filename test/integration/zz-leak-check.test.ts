// Runs last (files run in sorted order): proves the suite left nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_PREFIX, TEST_CGROUP_PARENT, requireRoot } from '../helpers/daemon.js';

test('no daemon, conmon, mount, cgroup or directory of a test daemon remains', async () => {
  requireRoot();
  const marker = join(tmpdir(), TEST_PREFIX);
  const procs: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(marker)) procs.push(`${pid}: ${cmd.replace(/\0/g, ' ').slice(0, 160)}`);
  }
  assert.deepEqual(procs, [], 'processes of test daemons are still running');

  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(marker));
  assert.deepEqual(mounts, [], 'mounts of test daemons remain');

  const dirs = (await readdir(tmpdir())).filter((n) => n.startsWith(TEST_PREFIX));
  assert.deepEqual(dirs, [], 'temp directories of test daemons remain');

  const cgroups: string[] = [];
  for (const hierarchy of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    const parent = join('/sys/fs/cgroup', hierarchy, TEST_CGROUP_PARENT);
    const children = await readdir(parent, { withFileTypes: true }).catch(() => []);
    for (const c of children) if (c.isDirectory()) cgroups.push(join(parent, c.name));
  }
  assert.deepEqual(cgroups, [], 'container cgroups remain');
});
