// Runs last (files run in sorted order): proves the suite left nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_PREFIX, TEST_CGROUP_PARENT, TEST_BRIDGE_PREFIX, TEST_NFT_PREFIX, CLAIMS_DIR, requireRoot, runCommand } from '../helpers/daemon.js';

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

test('no bridge, veth, nftables table or forward rule of a test daemon remains (issue 6)', async () => {
  requireRoot();
  const marker = `berth:${join(tmpdir(), TEST_PREFIX)}`;
  // berth marks its bridges and host-side veths with an alias naming the daemon's data root.
  const links = (await runCommand('ip', ['-o', 'link', 'show'], {})).stdout.split('\n').filter(Boolean);
  const names = links.map((l) => l.split(':')[1]!.trim().split('@')[0]!);
  const leftover = links.filter((l) => l.includes(`alias ${marker}`) || l.split(':')[1]!.trim().startsWith(TEST_BRIDGE_PREFIX)).map((l) => l.slice(0, 120));
  assert.deepEqual(leftover, [], 'bridges or veths of test daemons remain');
  const tables = (await runCommand('nft', ['list', 'tables'], {})).stdout.split('\n').filter((l) => l.includes(` ${TEST_NFT_PREFIX}`));
  assert.deepEqual(tables, [], 'nftables tables of test daemons remain');
  // Holes berth opened in another engine's FORWARD chain must name bridges that still exist.
  const hasChain = (await runCommand('nft', ['list', 'chain', 'ip', 'filter', 'FORWARD'], {})).code === 0;
  const fwd = hasChain ? (await runCommand('iptables', ['-w', '-S', 'FORWARD'], {})).stdout : '';
  const holes = fwd.split('\n').filter((l) => l.includes('--comment berth')).filter((l) => {
    const m = / -[io] (\S+)/.exec(l);
    return m && !names.includes(m[1]!);
  });
  assert.deepEqual(holes, [], 'forward rules for removed bridges remain');
});

test('no host claim of a test daemon remains (issue 17)', async () => {
  requireRoot();
  const marker = join(tmpdir(), TEST_PREFIX);
  const left: string[] = [];
  for (const f of await readdir(CLAIMS_DIR).catch(() => [] as string[])) {
    const text = await readFile(join(CLAIMS_DIR, f), 'utf8').catch(() => '');
    if (text.includes(marker)) left.push(`${f}: ${text.trim().slice(0, 160)}`);
  }
  assert.deepEqual(left, [], 'claim files of test daemons remain');
});
