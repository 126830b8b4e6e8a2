import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { partFromJson, partJson } from './move.js';

describe('move routes: wire shapes (issue 23)', () => {
  test('parts round-trip the wire shape; bad parts are 400s naming the field', () => {
    const part = { id: 'vol-0', kind: 'volume' as const, digest: `sha256:${'a'.repeat(64)}`, size: 3, volume: { name: 'v', destination: '/d', anonymous: false, driver: 'local', labels: { a: 'b' }, options: {}, mode: 0o755, uid: 1, gid: 2 } };
    assert.deepEqual(partFromJson(partJson(part), 0), part);
    assert.throws(() => partFromJson({ Id: 'rw', Kind: 'disk', Digest: 'x', Size: 1 }, 2), /Parts\[2\]\.Kind must be "rw" or "volume"/);
    assert.throws(() => partFromJson({ Id: 'rw', Kind: 'rw', Digest: 'x', Size: -1 }, 0), /Parts\[0\]\.Size must be a non-negative integer/);
    assert.throws(() => partFromJson({ Id: 'vol-1', Kind: 'volume', Digest: 'x', Size: 1 }, 0), /Volume must be an object/);
    assert.throws(() => partFromJson({ Id: 'vol-1', Kind: 'volume', Digest: 'x', Size: 1, Volume: { Name: 'v', Destination: '/d', Anonymous: 'no' } }, 0), /Anonymous must be a boolean/);
  });

});
