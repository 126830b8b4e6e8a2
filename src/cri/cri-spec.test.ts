import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerRecord } from '../engine/types.js';
import { createCriSpecFactory, type ContainerCri, type SandboxCri } from './cri-spec.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-cri-spec-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const rootfs = join(dir, 'rootfs');
mkdirSync(join(rootfs, 'etc'), { recursive: true });
writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www:/var/www:/bin/sh\n');
writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\nwww-data:x:33:\nextra:x:50000:www-data\n');

const base = async () => ({ ociVersion: 'docker' }) as never;
const factory = createCriSpecFactory(
  {
    cgroupParent: '/berth',
    restrictOomScoreAdj: true,
    pod: () => ({ netns: '/run/b/cri/netns/k', pausePid: 4242, hostsPath: '/p/hosts', resolvConfPath: '/p/resolv.conf', hostnamePath: '/p/hostname' }),
    pidOf: () => 777,
  },
  base,
);

function record(cri: SandboxCri | ContainerCri, user = ''): ContainerRecord {
  return {
    id: 'a'.repeat(64), name: 'n', created: '', image: 'busybox', imageId: 'sha256:x', layers: [], path: 'sh', args: ['-c', 'true'],
    config: { image: 'busybox', cmd: null, entrypoint: null, env: ['PATH=/bin'], labels: {}, user, hostname: 'h' },
    host: {}, state: {} as never, restartCount: 0, dir, logPath: '', hostnamePath: '', hostsPath: '', resolvConfPath: '', rootfs, driver: 'overlay2',
    cri: cri as unknown as Record<string, unknown>,
  } as ContainerRecord;
}
const container = (config: Record<string, unknown>, sandboxConfig: Record<string, unknown> = {}): ContainerRecord =>
  record({ kind: 'container', podId: 'pod1', config: { metadata: { name: 'c' }, ...config }, sandboxConfig });

describe('CRI specs', () => {
  it('leaves records that are not CRI\'s to the Docker factory', async () => {
    const rec = record({ kind: 'container', podId: 'p', config: {}, sandboxConfig: {} });
    delete rec.cri;
    assert.deepEqual(await factory(rec), { ociVersion: 'docker' });
  });

  it('joins the pod\'s namespaces: netns file, the pause process\'s ipc/uts, pid as asked', async () => {
    const s = await factory(container({}));
    assert.deepEqual(s.linux!.namespaces, [
      { type: 'mount' }, { type: 'pid' }, { type: 'ipc', path: '/proc/4242/ns/ipc' }, { type: 'uts', path: '/proc/4242/ns/uts' }, { type: 'network', path: '/run/b/cri/netns/k' },
    ]);
    const pod = await factory(container({ linux: { securityContext: { namespaceOptions: { pid: 'POD' } } } }));
    assert.deepEqual(pod.linux!.namespaces![1], { type: 'pid', path: '/proc/4242/ns/pid' });
    const target = await factory(container({ linux: { securityContext: { namespaceOptions: { pid: 'TARGET', targetId: 'x' } } } }));
    assert.deepEqual(target.linux!.namespaces![1], { type: 'pid', path: '/proc/777/ns/pid' });
    const host = await factory(container({ linux: { securityContext: { namespaceOptions: { pid: 'NODE', ipc: 'NODE', network: 'NODE' } } } }));
    assert.deepEqual(host.linux!.namespaces, [{ type: 'mount' }]);
    assert.equal(s.linux!.cgroupsPath, `/berth/${'a'.repeat(64)}`);
    assert.equal((await factory(container({}, { linux: { cgroupParent: '/kubepods/pod1' } }))).linux!.cgroupsPath, `/kubepods/pod1/${'a'.repeat(64)}`);
  });

  it('resolves run-as user, group and supplemental groups against the image', async () => {
    const byName = await factory(container({ linux: { securityContext: { runAsUsername: 'www-data' } } }));
    assert.deepEqual(byName.process!.user, { uid: 33, gid: 33, additionalGids: [50000] });
    const byId = await factory(container({ linux: { securityContext: { runAsUser: { value: '1000' }, runAsGroup: { value: '2000' }, supplementalGroups: ['3000'] } } }));
    assert.deepEqual(byId.process!.user, { uid: 1000, gid: 2000, additionalGids: [3000] });
    const image = await factory(record({ kind: 'container', podId: 'p', config: {}, sandboxConfig: {} }, 'www-data'));
    assert.equal(image.process!.user.uid, 33);
  });

  it('applies masked/readonly paths, no_new_privs, seccomp; privileged drops seccomp and masks', async () => {
    const s = await factory(container({ linux: { securityContext: { maskedPaths: ['/proc/x'], readonlyPaths: ['/proc/y'], noNewPrivs: true, seccomp: { profileType: 'RuntimeDefault' } } } }));
    assert.deepEqual([s.linux!.maskedPaths, s.linux!.readonlyPaths, s.process!.noNewPrivileges], [['/proc/x'], ['/proc/y'], true]);
    assert.ok(s.linux!.seccomp);
    assert.equal((await factory(container({}))).linux!.seccomp, undefined, 'the CRI default is unconfined');
    const priv = await factory(container({ linux: { securityContext: { privileged: true, seccomp: { profileType: 'RuntimeDefault' } } } }, { linux: { securityContext: { privileged: true } } }));
    assert.equal(priv.linux!.seccomp, undefined);
    assert.deepEqual(priv.linux!.maskedPaths, []);
    await assert.rejects(factory(container({ linux: { securityContext: { privileged: true } } })), /no privileged container allowed in sandbox/);
    await assert.rejects(factory(container({ linux: { securityContext: { seccompProfilePath: '/etc/x.json' } } })), /unknown seccomp profile/);
  });

  it('mounts the pod files and host paths with propagation; a missing host path fails', async () => {
    mkdirSync(join(dir, 'vol'));
    const s = await factory(container({ mounts: [{ hostPath: join(dir, 'vol'), containerPath: '/data', readonly: true, propagation: 'PROPAGATION_BIDIRECTIONAL' }] }));
    const m = s.mounts!.find((x) => x.destination === '/data')!;
    assert.deepEqual(m.options, ['rbind', 'rshared', 'ro']);
    assert.equal(s.linux!.rootfsPropagation, 'rshared');
    assert.equal(s.mounts!.find((x) => x.destination === '/etc/resolv.conf')!.source, '/p/resolv.conf');
    await assert.rejects(factory(container({ mounts: [{ hostPath: join(dir, 'nope'), containerPath: '/d' }] })), /does not exist/);
  });

  it('never asks for an oom_score_adj below berthd\'s own', async () => {
    const s = await factory(container({ linux: { resources: { oomScoreAdj: -999 } } }));
    assert.ok(s.process!.oomScoreAdj! >= -999 && s.process!.oomScoreAdj! >= Number((await import('node:fs')).readFileSync('/proc/self/oom_score_adj', 'utf8')));
    const sb = await factory(record({ kind: 'sandbox', podId: 'k', config: { hostname: 'pod' }, netns: '/n', hostsPath: '/h', resolvConfPath: '/r', hostnamePath: '/hn' }));
    assert.equal(sb.hostname, 'pod');
    assert.deepEqual(sb.linux!.namespaces!.find((n) => n.type === 'network'), { type: 'network', path: '/n' });
  });
});
