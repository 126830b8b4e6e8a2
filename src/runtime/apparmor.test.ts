import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAppArmorHost, resolveAppArmorProfile } from './apparmor.js';

test('apparmor=: refused where AppArmor is off, checked against loaded profiles where on, unconfined always', async () => {
  const off = { enabled: false };
  assert.equal(resolveAppArmorProfile(undefined, off), undefined);
  assert.equal(resolveAppArmorProfile('unconfined', off), undefined);
  assert.throws(() => resolveAppArmorProfile('docker-default', off), /AppArmor is not enabled on this host/);
  const on = { enabled: true, profiles: new Set(['docker-default']) };
  assert.equal(resolveAppArmorProfile('docker-default', on), 'docker-default');
  assert.throws(() => resolveAppArmorProfile('other', on), /is not loaded/);
  assert.throws(() => resolveAppArmorProfile('', on), /profile name is required/);

  const sys = await mkdtemp(join(tmpdir(), 'berth-aa-'));
  try {
    assert.deepEqual(readAppArmorHost(sys), { enabled: false });
    await mkdir(join(sys, 'module/apparmor/parameters'), { recursive: true });
    await writeFile(join(sys, 'module/apparmor/parameters/enabled'), 'Y\n');
    await mkdir(join(sys, 'kernel/security/apparmor'), { recursive: true });
    await writeFile(join(sys, 'kernel/security/apparmor/profiles'), 'docker-default (enforce)\n/usr/bin/man (complain)\n');
    const host = readAppArmorHost(sys);
    assert.equal(host.enabled, true);
    assert.deepEqual([...host.profiles!].sort(), ['/usr/bin/man', 'docker-default']);
  } finally {
    await rm(sys, { recursive: true, force: true });
  }
});
