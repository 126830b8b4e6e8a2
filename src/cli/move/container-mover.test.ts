import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyFromInspect, humanBytes, refuseUnmovable } from './container-mover.js';

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

  test('sizes as docker prints them', () => {
    assert.equal(humanBytes(999), '999B');
    assert.equal(humanBytes(1536), '1.54kB');
    assert.equal(humanBytes(19_960_000), '20.0MB');
  });
});
