import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { InvalidParameterError } from '../common/errors.js';
import { parseSeccompProfile, resolveSeccompProfile } from './seccomp-profile.js';

const profile = (o: object) => JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', ...o });

test('a minimal profile: name folds into names, errnoRet and args carried over', () => {
  const p = parseSeccompProfile(profile({
    defaultErrnoRet: 1,
    syscalls: [
      { name: 'mkdir', action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }], comment: 'ignored' },
    ],
  }));
  const oci = resolveSeccompProfile(p, [], { arch: 'amd64', kernel: '6.1.0' });
  assert.deepEqual(oci, {
    defaultAction: 'SCMP_ACT_ALLOW',
    defaultErrnoRet: 1,
    syscalls: [
      { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
    ],
  });
});

test('includes/excludes by caps, arches and minKernel; archMap reduced to the native arch', () => {
  const p = parseSeccompProfile(profile({
    archMap: [
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
      { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    ],
    syscalls: [
      { names: ['a'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['b'], action: 'SCMP_ACT_ERRNO', excludes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['c'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
      { names: ['d'], action: 'SCMP_ACT_ALLOW', excludes: { arches: ['arm64'] } },
      { names: ['e'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
      { names: ['f'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '5.10' } },
    ],
  }));
  const names = (caps: string[], arch: string, kernel: string) => resolveSeccompProfile(p, caps, { arch, kernel }).syscalls!.map((s) => s.names[0]);
  assert.deepEqual(names([], 'amd64', '6.1.0-18-amd64'), ['b', 'd', 'e']);
  assert.deepEqual(names(['CAP_SYS_ADMIN'], 'arm64', '4.4.0'), ['a', 'c', 'f']);
  assert.deepEqual(resolveSeccompProfile(p, [], { arch: 'amd64' }).architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.deepEqual(resolveSeccompProfile(p, [], { arch: 'arm64' }).architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
});

test('bad profiles are refused with errors that name the problem', () => {
  const cases: Array<[string, RegExp]> = [
    ['{', /Decoding seccomp profile failed/],
    ['[]', /must be a JSON object/],
    [JSON.stringify({ syscalls: [] }), /defaultAction is missing/],
    [profile({ defaultAction: 'SCMP_ACT_NOPE' }), /unknown action "SCMP_ACT_NOPE"/],
    [profile({ architectures: ['SCMP_ARCH_X86_64'], archMap: [{ architecture: 'SCMP_ARCH_X86_64' }] }), /use either 'architectures' or 'archMap'/],
    [profile({ syscalls: [{ name: 'a', names: ['b'], action: 'SCMP_ACT_ALLOW' }] }), /use either 'name' or 'names'/],
    [profile({ syscalls: [{ names: [], action: 'SCMP_ACT_ALLOW' }] }), /syscalls\[0\]\.names must name/],
    [profile({ syscalls: [{ names: ['mkdir'] }] }), /syscalls\[0\]\.action is missing/],
    [profile({ syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: -1 }] }), /errnoRet must be an errno/],
    [profile({ syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ALLOW', args: [{ index: 7, value: 1, op: 'SCMP_CMP_EQ' }] }] }), /index must be 0-5/],
    [profile({ syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'EQ' }] }] }), /unknown operator "EQ"/],
    [profile({ syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: 'new' } }] }), /invalid kernel version "new"/],
    [profile({ defaultAction: 'SCMP_ACT_NOTIFY' }), /SCMP_ACT_NOTIFY needs a seccomp listener/],
    [profile({ architectures: ['x86_64'] }), /unknown architecture "x86_64"/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseSeccompProfile(text), (err: unknown) => err instanceof InvalidParameterError && re.test((err as Error).message), text);
  }
});

// golang-github-containers-common (scripts/lib.sh) ships Podman's profile, derived from moby's default.json.
test('containers-common seccomp.json (the moby format) parses and resolves', () => {
  const p = parseSeccompProfile(readFileSync('/usr/share/containers/seccomp.json', 'utf8'));
  const oci = resolveSeccompProfile(p, ['CAP_CHOWN'], { arch: 'amd64', kernel: '6.1.0' });
  assert.equal(oci.defaultAction, 'SCMP_ACT_ERRNO');
  assert.ok(oci.syscalls!.some((s) => s.names.includes('mkdir') && s.action === 'SCMP_ACT_ALLOW'));
  // CAP_SYS_ADMIN-only calls are left out for a container without it and refused with EPERM; allowed with it.
  assert.ok(!oci.syscalls!.some((s) => s.names.includes('bpf') && s.action === 'SCMP_ACT_ALLOW'));
  assert.ok(oci.syscalls!.some((s) => s.names.includes('bpf') && s.action === 'SCMP_ACT_ERRNO' && s.errnoRet === 1));
  const admin = resolveSeccompProfile(p, ['CAP_SYS_ADMIN'], { arch: 'amd64', kernel: '6.1.0' });
  assert.ok(admin.syscalls!.some((s) => s.names.includes('bpf') && s.action === 'SCMP_ACT_ALLOW'));
  assert.ok(!admin.syscalls!.some((s) => s.names.includes('bpf') && s.action === 'SCMP_ACT_ERRNO'));
});
