import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { findSubRange, nextFreeSubStart } from './rootless.js';

describe('berth rootless setup helpers (issue 21)', () => {
  const text = 'ann:100000:65536\nbob:165536:65536\n1003:231072:65536\n';
  it('finds a user\'s range by name or uid', () => {
    assert.deepEqual(findSubRange(text, 'bob', 1002), { start: 165536, count: 65536 });
    assert.deepEqual(findSubRange(text, 'carl', 1003), { start: 231072, count: 65536 });
    assert.equal(findSubRange(text, 'dan', 1004), undefined);
  });
  it('a new range starts after every range in use, and at 100000 at the least', () => {
    assert.equal(nextFreeSubStart(text), 296608);
    assert.equal(nextFreeSubStart(''), 100000);
    assert.equal(nextFreeSubStart('x:1000:10\n'), 100000);
  });
});
