import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CAPABILITIES, capabilitiesFromMask, normalizeCapability } from './capabilities.js';
import { buildSpec, resolveCapabilities, type SpecInput } from './spec.js';

// The machine's facts: CapBnd without CAP_SYS_RESOURCE, nofile hard limit 20000.
const host = { capabilities: capabilitiesFromMask('000001fffeffffff'), nofileHard: 20000 };
const base: SpecInput = { args: ['sh'], rootfs: '/r', cgroupsPath: '/berth/abc', hostname: 'abc', host };

describe('buildSpec', () => {
  it('makes a Docker-like default spec', () => {
    const s = buildSpec(base);
    assert.equal(s.ociVersion, '1.0.2');
    assert.deepEqual(s.process!.args, ['sh']);
    assert.equal(s.process!.cwd, '/');
    assert.deepEqual(s.process!.user, { uid: 0, gid: 0 });
    assert.equal(s.hostname, 'abc');
    assert.deepEqual(s.root, { path: '/r', readonly: false });
    assert.deepEqual(
      s.linux!.namespaces!.map((n) => n.type),
      ['mount', 'pid', 'ipc', 'uts', 'network'],
    );
    assert.deepEqual(
      s.mounts!.map((m) => m.destination),
      ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm'],
    );
    assert.ok(s.mounts!.find((m) => m.destination === '/sys')!.options!.includes('ro'));
    assert.ok(s.linux!.maskedPaths!.includes('/proc/kcore'));
    assert.ok(s.linux!.readonlyPaths!.includes('/proc/sys'));
    assert.equal(s.process!.capabilities!.bounding!.length, 14);
    assert.ok(s.process!.capabilities!.effective!.includes('CAP_NET_BIND_SERVICE'));
    assert.ok(!s.process!.capabilities!.effective!.includes('CAP_SYS_ADMIN'));
    assert.equal(s.linux!.seccomp!.defaultAction, 'SCMP_ACT_ERRNO');
    assert.ok(s.linux!.seccomp!.syscalls![0]!.names.includes('read'));
    assert.ok(!s.linux!.seccomp!.syscalls!.some((c) => c.action === 'SCMP_ACT_ALLOW' && c.names.includes('mount')));
    assert.deepEqual(s.process!.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 }]);
    assert.equal(s.linux!.cgroupsPath, '/berth/abc');
    assert.deepEqual(s.linux!.resources!.devices![0], { allow: false, access: 'rwm' });
    assert.ok(s.linux!.devices!.some((d) => d.path === '/dev/null'));
    assert.equal(s.process!.env![0], 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    assert.ok(s.process!.env!.includes('HOSTNAME=abc'));
  });

  it('privileged: the daemon\'s own capabilities, no seccomp, no masks, all devices', () => {
    const s = buildSpec({ ...base, privileged: true });
    assert.equal(s.process!.capabilities!.bounding!.length, host.capabilities.length);
    assert.ok(!s.process!.capabilities!.bounding!.includes('CAP_SYS_RESOURCE'));
    assert.equal(s.linux!.seccomp, undefined);
    assert.deepEqual(s.linux!.maskedPaths, []);
    assert.deepEqual(s.linux!.readonlyPaths, []);
    assert.deepEqual(s.linux!.resources!.devices, [{ allow: true, access: 'rwm' }]);
    assert.ok(s.mounts!.find((m) => m.destination === '/sys')!.options!.includes('rw'));
  });

  it('cap-add/cap-drop with and without CAP_, and ALL', () => {
    assert.equal(normalizeCapability('net_admin'), 'CAP_NET_ADMIN');
    assert.equal(normalizeCapability('CAP_SYS_ADMIN'), 'CAP_SYS_ADMIN');
    assert.equal(normalizeCapability('all'), 'ALL');
    assert.throws(() => normalizeCapability('bogus'), /invalid capability/);
    let caps = resolveCapabilities({ capAdd: ['NET_ADMIN'], capDrop: ['CAP_CHOWN'] }, host);
    assert.ok(caps.includes('CAP_NET_ADMIN') && !caps.includes('CAP_CHOWN'));
    caps = resolveCapabilities({ capDrop: ['ALL'], capAdd: ['kill'] }, host);
    assert.deepEqual(caps, ['CAP_KILL']);
    caps = resolveCapabilities({ capAdd: ['ALL'], capDrop: ['SYS_ADMIN'] }, host);
    assert.equal(caps.length, host.capabilities.length - 1);
    caps = resolveCapabilities({ capAdd: ['SYS_RESOURCE'] }, host);
    assert.ok(!caps.includes('CAP_SYS_RESOURCE'), 'never more than the daemon holds');
    assert.equal(CAPABILITIES.length, 41);
  });

  it('cap-add SYS_ADMIN opens the matching syscalls', () => {
    const s = buildSpec({ ...base, capAdd: ['SYS_ADMIN'] });
    assert.ok(s.linux!.seccomp!.syscalls![0]!.names.includes('mount'));
    assert.ok(s.linux!.seccomp!.syscalls!.some((c) => c.names.includes('clone') && !c.args));
  });

  it('user, env, terminal, readonly root, unconfined seccomp, sysctls', () => {
    const s = buildSpec({
      ...base,
      user: { uid: 1000, gid: 100, additionalGids: [10, 20] },
      env: ['PATH=/bin', 'A=1'],
      terminal: true,
      readonlyRootfs: true,
      seccomp: 'unconfined',
      noNewPrivileges: true,
      sysctls: { 'net.ipv4.ip_forward': '1' },
    });
    assert.deepEqual(s.process!.user, { uid: 1000, gid: 100, additionalGids: [10, 20] });
    assert.deepEqual(s.process!.env, ['HOSTNAME=abc', 'TERM=xterm', 'PATH=/bin', 'A=1']);
    assert.equal(s.process!.terminal, true);
    assert.equal(s.root!.readonly, true);
    assert.equal(s.linux!.seccomp, undefined);
    assert.equal(s.process!.noNewPrivileges, true);
    assert.deepEqual(s.linux!.sysctl, { 'net.ipv4.ip_forward': '1' });
  });

  it('namespaces: host and paths; host UTS drops the hostname', () => {
    const s = buildSpec({ ...base, namespaces: { network: { path: '/run/netns/x' }, uts: 'host', ipc: 'host', pid: 'host' } });
    assert.deepEqual(s.linux!.namespaces, [{ type: 'mount' }, { type: 'network', path: '/run/netns/x' }]);
    assert.equal(s.hostname, undefined);
    assert.equal(s.mounts!.find((m) => m.destination === '/dev/mqueue')!.type, 'bind');
    const h = buildSpec({ ...base, namespaces: { network: 'host' } });
    assert.ok(!h.linux!.namespaces!.some((n) => n.type === 'network'));
  });

  it('extra mounts: sorted parents first, replacing a standard destination', () => {
    const s = buildSpec({
      ...base,
      mounts: [
        { destination: '/data/sub', type: 'bind', source: '/h/sub', options: ['rbind'] },
        { destination: '/etc/hosts', type: 'bind', source: '/h/hosts', options: ['rbind', 'ro'] },
        { destination: '/dev/shm', type: 'bind', source: '/h/shm', options: ['rbind'] },
        { destination: '/data', type: 'bind', source: '/h/data', options: ['rbind'] },
      ],
    });
    const d = s.mounts!.map((m) => m.destination);
    assert.equal(d.filter((x) => x === '/dev/shm').length, 1);
    assert.ok(d.indexOf('/data') < d.indexOf('/data/sub'));
    assert.equal(s.mounts!.find((m) => m.destination === '/dev/shm')!.source, '/h/shm');
  });

  it('rlimits: names normalized, nofile clamped to the daemon\'s hard limit', () => {
    const s = buildSpec({ ...base, rlimits: [{ type: 'nofile', soft: 1024, hard: 1048576 }, { type: 'nproc', soft: 10, hard: 20 }] });
    assert.deepEqual(s.process!.rlimits, [
      { type: 'RLIMIT_NOFILE', soft: 1024, hard: 20000 },
      { type: 'RLIMIT_NPROC', soft: 10, hard: 20 },
    ]);
    assert.throws(() => buildSpec({ ...base, rlimits: [{ type: 'bogus', soft: 1, hard: 1 }] }), /invalid ulimit/);
  });

  it('resources', () => {
    const s = buildSpec({
      ...base,
      resources: { memory: 64 << 20, cpuShares: 512, cpuQuota: 50000, cpuPeriod: 100000, cpusetCpus: '0', pidsLimit: 100 },
    });
    assert.deepEqual(s.linux!.resources!.memory, { limit: 64 << 20, swap: 128 << 20 });
    assert.deepEqual(s.linux!.resources!.cpu, { shares: 512, quota: 50000, period: 100000, cpus: '0' });
    assert.deepEqual(s.linux!.resources!.pids, { limit: 100 });
  });

  it('rejects an empty command', () => {
    assert.throws(() => buildSpec({ ...base, args: [] }), /no command/);
  });
});

it('thermalThrottlePaths lists every CPU that has one, to be masked (GHSA-6fw5-f8r9-fgfm)', async () => {
  const { mkdtemp, mkdir, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { thermalThrottlePaths, buildSpec } = await import('./spec.js');
  const root = await mkdtemp(join(tmpdir(), 'berth-sysfs-'));
  try {
    for (const cpu of ['cpu0', 'cpu1', 'cpu10']) await mkdir(join(root, 'devices/system/cpu', cpu, 'thermal_throttle'), { recursive: true });
    await mkdir(join(root, 'devices/system/cpu/cpu2'), { recursive: true });
    await mkdir(join(root, 'devices/system/cpu/cpufreq'), { recursive: true });
    const paths = thermalThrottlePaths(root);
    assert.deepEqual(paths, ['/sys/devices/system/cpu/cpu0/thermal_throttle', '/sys/devices/system/cpu/cpu1/thermal_throttle', '/sys/devices/system/cpu/cpu10/thermal_throttle']);
    const spec = buildSpec({ args: ['true'], rootfs: '/r', cgroupsPath: '/b/x', thermalThrottlePaths: paths, host });
    for (const p of [...paths, '/proc/interrupts']) assert.ok(spec.linux!.maskedPaths!.includes(p), p);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

it('shmSize 0 or absent is Docker\'s 64 MiB, never an unlimited /dev/shm (issue 24 item 2)', () => {
  const shm = (s: ReturnType<typeof buildSpec>) => s.mounts!.find((m) => m.destination === '/dev/shm')!.options!;
  assert.ok(shm(buildSpec({ ...base, shmSize: 0 })).includes('size=67108864'));
  assert.ok(shm(buildSpec(base)).includes('size=67108864'));
  assert.ok(shm(buildSpec({ ...base, shmSize: 8 << 20 })).includes(`size=${8 << 20}`));
});

describe('buildSpec: user namespace (issue 21)', () => {
  const userns = { uidMappings: [{ containerID: 0, hostID: 165536, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 165536, size: 65536 }] };
  const base: SpecInput = { args: ['true'], rootfs: '/r', cgroupsPath: '/berth/x', host, thermalThrottlePaths: [] };
  it('adds a user namespace with the mappings; none without them', () => {
    const s = buildSpec({ ...base, userns });
    assert.ok(s.linux!.namespaces!.some((n) => n.type === 'user' && !n.path));
    assert.deepEqual(s.linux!.uidMappings, userns.uidMappings);
    assert.deepEqual(s.linux!.gidMappings, userns.gidMappings);
    const plain = buildSpec(base);
    assert.ok(!plain.linux!.namespaces!.some((n) => n.type === 'user'));
    assert.equal(plain.linux!.uidMappings, undefined);
  });
  it('binds /sys from the host when the network namespace is not its own (sysfs would be EPERM)', () => {
    const sys = (s: ReturnType<typeof buildSpec>) => s.mounts!.find((m) => m.destination === '/sys')!;
    assert.equal(sys(buildSpec({ ...base, userns })).type, 'sysfs');
    const joined = sys(buildSpec({ ...base, userns, namespaces: { network: { path: '/run/netns/x' } } }));
    assert.deepEqual(joined, { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
    assert.equal(sys(buildSpec({ ...base, namespaces: { network: { path: '/run/netns/x' } } })).type, 'sysfs');
  });
});
