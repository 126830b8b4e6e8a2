import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adaptSpecForRootless, cgroupDelegation, refuseUndelegatedLimits } from './rootless-runtime.js';
import type { OciSpec } from '../../runtime/spec.js';

describe('rootless runtime rules (issue 21)', () => {
  const v1 = { cgroupDelegated: false, cgroupVersion: 1 as const };

  it('refuses every limit that is set, by its docker flag, and says cgroup v2 delegation is needed', () => {
    assert.throws(() => refuseUndelegatedLimits({ memory: 64 << 20, nanoCpus: 5e8, pidsLimit: 10 }, v1), (err: Error) => {
      assert.match(err.message, /--memory, --cpus, --pids-limit/);
      assert.match(err.message, /cgroup v2/);
      assert.match(err.message, /cgroup v1/);
      return true;
    });
    assert.throws(() => refuseUndelegatedLimits({ deviceCgroupRules: ['c 1:3 rwm'] }, v1), /--device-cgroup-rule/);
    assert.throws(() => refuseUndelegatedLimits({ cpuShares: 512 }, { cgroupDelegated: false, cgroupVersion: 2 }), /--cpu-shares.*not delegated/);
  });

  it('accepts Docker\'s "not set" values and everything when the subtree is delegated', () => {
    refuseUndelegatedLimits({ memory: 0, memorySwap: -1, memorySwappiness: -1, pidsLimit: -1, cpusetCpus: '', oomKillDisable: false, deviceCgroupRules: [] }, v1);
    refuseUndelegatedLimits({}, v1);
    refuseUndelegatedLimits({ memory: 1 << 30 }, { cgroupDelegated: true, cgroupVersion: 2 });
  });

  it('drops cgroupsPath and resources from specs without a delegated subtree', () => {
    const spec = { ociVersion: '1.0.2', linux: { cgroupsPath: '/berth/x', resources: { devices: [] }, namespaces: [] } } as unknown as OciSpec;
    const out = adaptSpecForRootless(spec, { cgroupDelegated: false }) as unknown as { linux: Record<string, unknown> };
    assert.equal(out.linux['cgroupsPath'], undefined);
    assert.equal(out.linux['resources'], undefined);
    assert.deepEqual(out.linux['namespaces'], []);
    const kept = adaptSpecForRootless({ linux: { cgroupsPath: '/a' } } as unknown as OciSpec, { cgroupDelegated: true }) as unknown as { linux: Record<string, unknown> };
    assert.equal(kept.linux['cgroupsPath'], '/a');
  });

  it('a cgroup root that is not cgroup2 is never delegated', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-unit-cg-'));
    try {
      assert.deepEqual(cgroupDelegation(dir, join(dir, 'none')), { version: 1, delegated: false });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
