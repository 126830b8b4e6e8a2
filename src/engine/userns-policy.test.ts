import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isInvalidParameter } from '../common/errors.js';
import { containerIdOf, hostIdOf, layerIdsOf, remappedRootOf, usernsFor } from './userns-policy.js';

const remap = { uidMappings: [{ containerID: 0, hostID: 165536, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 200000, size: 65536 }] };

describe('usernsFor (issue 21)', () => {
  it('with --userns-remap: every container is remapped unless it asks for host', () => {
    assert.deepEqual(usernsFor({}, remap), remap);
    assert.equal(usernsFor({ usernsMode: 'host' }, remap), undefined);
    assert.equal(usernsFor({}, remap, { exempt: true }), undefined);
  });
  it('without it: host ids, and "host" is accepted', () => {
    assert.equal(usernsFor({}, undefined), undefined);
    assert.equal(usernsFor({ usernsMode: 'host' }, undefined), undefined);
  });
  it('any other mode is refused, with or without remapping', () => {
    for (const m of ['private', 'keep-id', 'auto', 'container:x']) {
      assert.throws(() => usernsFor({ usernsMode: m }, remap), isInvalidParameter, m);
      assert.throws(() => usernsFor({ usernsMode: m }, undefined), isInvalidParameter, m);
    }
  });
  it("dockerd's conflicts: privileged, host network, host pid need --userns=host", () => {
    assert.throws(() => usernsFor({ privileged: true }, remap), /privileged mode is incompatible with user namespaces/);
    assert.throws(() => usernsFor({ networkMode: 'host' }, remap), /cannot share the host's network namespace/);
    assert.throws(() => usernsFor({ pidMode: 'host' }, remap), /cannot share the host PID namespace/);
    assert.equal(usernsFor({ privileged: true, networkMode: 'host', usernsMode: 'host' }, remap), undefined);
  });
  it('id translation both ways, and layer ids for commit/export', () => {
    assert.equal(hostIdOf(remap.uidMappings, 5), 165541);
    assert.equal(containerIdOf(remap.uidMappings, 165541), 5);
    assert.equal(containerIdOf(remap.uidMappings, 0), undefined);
    assert.deepEqual(remappedRootOf(remap), { uid: 165536, gid: 200000 });
    const f = layerIdsOf(remap)!;
    assert.deepEqual(f(165536, 200005), { uid: 0, gid: 5 });
    assert.deepEqual(f(0, 0), { uid: 65534, gid: 65534 });
    assert.equal(layerIdsOf(undefined), undefined);
  });
});
