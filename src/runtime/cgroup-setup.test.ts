import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RecordingRunner } from '../common/command-runner.js';
import { assertUsableForCrun, ensureCgroupLayout } from './cgroup-setup.js';

describe('ensureCgroupLayout', () => {
  it('a plain directory is v1 without a unified mount: nothing to mount', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-cg-'));
    try {
      const runner = new RecordingRunner();
      const info = await ensureCgroupLayout(runner, { root: dir });
      assert.deepEqual(info, { version: 1, hybrid: false, driver: 'cgroupfs', mounted: [], leftover: [] });
      assert.deepEqual(runner.calls, []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('refuses crun on a hybrid layout with leftover controllers', () => {
    assert.throws(
      () => assertUsableForCrun({ version: 1, hybrid: true, driver: 'cgroupfs', mounted: [], leftover: ['hugetlb'] }),
      /hugetlb/,
    );
  });
});
