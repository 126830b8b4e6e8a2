/**
 * Issue 24 item 7: hardening Docker has and berth lacked. /proc/interrupts (and each CPU's
 * thermal_throttle, GHSA-6fw5-f8r9-fgfm) readable in the container; `--security-opt
 * apparmor=` silently ignored; no private cgroup namespace on request; no daemon-wide
 * no-new-privileges.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { cliChecks } from '../helpers/suite.js';

describe('security: hardening that Docker applies', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon('sec-hard', ['--no-new-privileges']);
    await d.importBusybox();
  });
  after(async () => {
    await d?.destroy();
  });
  const { ok, fails } = cliChecks(() => d, 'docker');

  test('reading host interrupt counters through /proc/interrupts (side channel) is masked', async () => {
    const host = await readFile('/proc/interrupts', 'utf8');
    assert.ok(host.length > 0);
    const out = await ok(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'wc -c < /proc/interrupts']);
    assert.equal(out.trim(), '0', '/proc/interrupts must read empty inside the container');
    // --privileged masks nothing, as Docker.
    const priv = await ok(['run', '--rm', '--network', 'none', '--privileged', 'busybox', 'sh', '-c', 'wc -c < /proc/interrupts']);
    assert.notEqual(priv.trim(), '0');
  });

  test('an AppArmor profile that cannot be applied is refused, not silently dropped', async () => {
    const enabled = (await readFile('/sys/module/apparmor/parameters/enabled', 'utf8').catch(() => 'N')).trim() === 'Y';
    if (!enabled) {
      await fails(['create', '--security-opt', 'apparmor=docker-default', 'busybox', 'true'], /AppArmor is not enabled on this host/);
    } else {
      await fails(['create', '--security-opt', 'apparmor=berth-no-such-profile', 'busybox', 'true'], /is not loaded/);
    }
    // unconfined is always possible.
    await ok(['run', '--rm', '--network', 'none', '--security-opt', 'apparmor=unconfined', 'busybox', 'true']);
  });

  test('a setuid escalation is blocked daemon-wide by no-new-privileges, and a container may opt out', async () => {
    const nnp = await ok(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'grep NoNewPrivs /proc/self/status']);
    assert.match(nnp, /NoNewPrivs:\s+1/);
    const optOut = await ok(['run', '--rm', '--network', 'none', '--security-opt', 'no-new-privileges=false', 'busybox', 'sh', '-c', 'grep NoNewPrivs /proc/self/status']);
    assert.match(optOut, /NoNewPrivs:\s+0/);
    const info = JSON.parse(await ok(['info', '--format', '{{json .SecurityOptions}}']));
    assert.ok(info.includes('name=no-new-privileges'), JSON.stringify(info));
  });

  test('a container seeing the host cgroup tree: --cgroupns private gives it its own cgroup namespace', async () => {
    const hostNs = (await ok(['run', '--rm', '--network', 'none', '--cgroupns', 'host', 'busybox', 'readlink', '/proc/self/ns/cgroup'])).trim();
    const privNs = (await ok(['run', '--rm', '--network', 'none', '--cgroupns', 'private', 'busybox', 'readlink', '/proc/self/ns/cgroup'])).trim();
    const mine = (await ok(['run', '--rm', '--network', 'none', '--cgroupns', 'private', 'busybox', 'cat', '/proc/self/cgroup'])).trim();
    const { readlinkSync } = await import('node:fs');
    assert.equal(hostNs, readlinkSync('/proc/self/ns/cgroup'), 'host mode shares the host cgroup namespace');
    assert.notEqual(privNs, hostNs, 'private mode has a namespace of its own');
    // Inside its own namespace the container is at the root of every hierarchy.
    for (const line of mine.split('\n')) assert.match(line, /:\/$/, `private cgroup namespace shows host paths: ${line}`);
    // Docker's default: private on cgroup v2, host on v1 and hybrid (this machine kind).
    const v2 = (await ok(['info', '--format', '{{.CgroupVersion}}'])).trim() === '2';
    await ok(['create', '--name', 'cgns-default', 'busybox', 'true']);
    assert.equal((await ok(['inspect', '-f', '{{.HostConfig.CgroupnsMode}}', 'cgns-default'])).trim(), v2 ? 'private' : 'host');
    const bad = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { CgroupnsMode: 'bogus' } });
    assert.equal(bad.status, 400);
  });
});
