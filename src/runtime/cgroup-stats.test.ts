import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCgroupStats } from './cgroup-stats.js';

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-cgstats-'));
  for (const [p, text] of Object.entries(files)) {
    await mkdir(join(dir, p, '..'), { recursive: true });
    await writeFile(join(dir, p), text);
  }
  return dir;
}

const NETDEV = 'Inter-|   Receive\n face |bytes packets errs drop\n    lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n  eth0: 1500 10 1 2 0 0 0 0 700 5 0 1 0 0 0 0\n';

test('cgroup v2 (unified): cpu, memory, pids, io and the netns counters', async () => {
  const dir = await tree({
    'proc/42/cgroup': '0::/berth/abc\n',
    'proc/42/net/dev': NETDEV,
    'cg/berth/abc/cpu.stat': 'usage_usec 2000\nuser_usec 1500\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 30\n',
    'cg/berth/abc/memory.current': '1048576\n',
    'cg/berth/abc/memory.peak': '2097152\n',
    'cg/berth/abc/memory.max': '67108864\n',
    'cg/berth/abc/memory.stat': 'anon 4096\ninactive_file 8192\n',
    'cg/berth/abc/pids.current': '3\n',
    'cg/berth/abc/pids.max': 'max\n',
    'cg/berth/abc/io.stat': '8:0 rbytes=100 wbytes=200 rios=1 wios=2\n',
  });
  try {
    const s = await readCgroupStats(42, { cgroupRoot: join(dir, 'cg'), procRoot: join(dir, 'proc') });
    assert.equal(s.cpuTotal, 2_000_000);
    assert.equal(s.cpuUser, 1_500_000);
    assert.deepEqual(s.throttling, { periods: 4, throttledPeriods: 1, throttledTime: 30_000 });
    assert.equal(s.memoryUsage, 1048576);
    assert.equal(s.memoryMaxUsage, 2097152);
    assert.equal(s.memoryLimit, 67108864);
    assert.equal(s.memoryStat['inactive_file'], 8192);
    assert.equal(s.pidsCurrent, 3);
    assert.equal(s.pidsLimit, 0, 'max means unlimited');
    assert.deepEqual(s.blkio, [{ major: 8, minor: 0, op: 'read', value: 100 }, { major: 8, minor: 0, op: 'write', value: 200 }]);
    assert.deepEqual(Object.keys(s.networks), ['eth0']);
    assert.equal(s.networks['eth0']!.rxBytes, 1500);
    assert.equal(s.networks['eth0']!.txBytes, 700);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('cgroup v1 (and hybrid): per-controller paths, unlimited memory is 0', async () => {
  const dir = await tree({
    'proc/7/cgroup': '9:name=systemd:/\n8:pids:/berth/x\n4:memory:/berth/x\n2:cpuacct:/berth/x\n1:cpu:/berth/x\n7:blkio:/berth/x\n0::/\n',
    'cg/cpuacct/berth/x/cpuacct.usage': '5000\n',
    'cg/cpuacct/berth/x/cpuacct.usage_percpu': '3000 2000 \n',
    'cg/cpuacct/berth/x/cpuacct.stat': 'user 2\nsystem 1\n',
    'cg/memory/berth/x/memory.usage_in_bytes': '4096\n',
    'cg/memory/berth/x/memory.limit_in_bytes': '9223372036854771712\n',
    'cg/memory/berth/x/memory.stat': 'total_inactive_file 1024\n',
    'cg/pids/berth/x/pids.current': '1\n',
    'cg/pids/berth/x/pids.max': '50\n',
    'cg/blkio/berth/x/blkio.throttle.io_service_bytes': '8:0 Read 10\n8:0 Write 20\nTotal 30\n',
  });
  try {
    const s = await readCgroupStats(7, { cgroupRoot: join(dir, 'cg'), procRoot: join(dir, 'proc') });
    assert.equal(s.cpuTotal, 5000);
    assert.deepEqual(s.perCpu, [3000, 2000]);
    assert.equal(s.cpuUser, 20_000_000);
    assert.equal(s.memoryUsage, 4096);
    assert.equal(s.memoryLimit, 0);
    assert.equal(s.pidsLimit, 50);
    assert.deepEqual(s.blkio.map((b) => [b.op, b.value]), [['read', 10], ['write', 20]]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
