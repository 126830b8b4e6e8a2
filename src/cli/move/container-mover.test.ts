import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyFromInspect, humanBytes, refuseUnmovable } from './container-mover.js';
import { partFromJson, partJson } from '../../api/routes/move.js';

describe('container move helpers (issue 23)', () => {
  test('the create body keeps Config and HostConfig, and network aliases without the source short ID', () => {
    const body = createBodyFromInspect({
      Id: 'abcdef0123456789'.repeat(4),
      Config: { Image: 'app:1', Env: ['A=1'], Hostname: 'abcdef012345' },
      HostConfig: { Memory: 5, RestartPolicy: { Name: 'always', MaximumRetryCount: 0 } },
      NetworkSettings: { Networks: { appnet: { Aliases: ['abcdef012345', 'web'], IPAMConfig: null, Links: null }, bridge: {} } },
    });
    assert.deepEqual(body, {
      Image: 'app:1', Env: ['A=1'], Hostname: 'abcdef012345',
      HostConfig: { Memory: 5, RestartPolicy: { Name: 'always', MaximumRetryCount: 0 } },
      NetworkingConfig: { EndpointsConfig: { appnet: { Aliases: ['web'] }, bridge: {} } },
    });
  });

  test('unmovable containers are refused with the reason', () => {
    assert.throws(() => refuseUnmovable({ HostConfig: { AutoRemove: true } }, 'x', true), /runs with --rm/);
    assert.doesNotThrow(() => refuseUnmovable({ HostConfig: { AutoRemove: true } }, 'x', false));
    assert.throws(() => refuseUnmovable({ HostConfig: { NetworkMode: 'container:db' } }, 'x', false), /shares the network namespace of db/);
    assert.throws(() => refuseUnmovable({ HostConfig: { PidMode: 'container:db' } }, 'x', false), /shares the pid namespace/);
    assert.throws(() => refuseUnmovable({ HostConfig: { VolumesFrom: ['db'] } }, 'x', false), /--volumes-from db/);
    assert.throws(() => refuseUnmovable({ HostConfig: { Links: ['/db:/x/db'] } }, 'x', false), /--link/);
    assert.doesNotThrow(() => refuseUnmovable({ HostConfig: { NetworkMode: 'appnet', Links: null, VolumesFrom: null } }, 'x', true));
  });

  test('parts round-trip the wire shape; bad parts are 400s naming the field', () => {
    const part = { id: 'vol-0', kind: 'volume' as const, digest: `sha256:${'a'.repeat(64)}`, size: 3, volume: { name: 'v', destination: '/d', anonymous: false, driver: 'local', labels: { a: 'b' }, options: {}, mode: 0o755, uid: 1, gid: 2 } };
    assert.deepEqual(partFromJson(partJson(part), 0), part);
    assert.throws(() => partFromJson({ Id: 'rw', Kind: 'disk', Digest: 'x', Size: 1 }, 2), /Parts\[2\]\.Kind must be "rw" or "volume"/);
    assert.throws(() => partFromJson({ Id: 'rw', Kind: 'rw', Digest: 'x', Size: -1 }, 0), /Parts\[0\]\.Size must be a non-negative integer/);
    assert.throws(() => partFromJson({ Id: 'vol-1', Kind: 'volume', Digest: 'x', Size: 1 }, 0), /Volume must be an object/);
    assert.throws(() => partFromJson({ Id: 'vol-1', Kind: 'volume', Digest: 'x', Size: 1, Volume: { Name: 'v', Destination: '/d', Anonymous: 'no' } }, 0), /Anonymous must be a boolean/);
  });

  test('sizes as docker prints them', () => {
    assert.equal(humanBytes(999), '999B');
    assert.equal(humanBytes(1536), '1.54kB');
    assert.equal(humanBytes(19_960_000), '20.0MB');
  });
});
