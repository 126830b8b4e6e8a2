import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { subIdRange, withSbin } from './rootlesskit-launcher.js';

describe('rootlesskit launcher helpers (issue 21)', () => {
  it('finds the user\'s subordinate range by name or uid', () => {
    const text = 'ann:100000:65536\n1001:165536:65536\nbad:1:0\n';
    assert.deepEqual(subIdRange(text, 'ann', 1000), [100000, 65536]);
    assert.deepEqual(subIdRange(text, 'bob', 1001), [165536, 65536]);
    assert.equal(subIdRange(text, 'bad', 5), undefined);
  });
  it('adds the sbin directories a user\'s PATH lacks (nft, ip, runc)', () => {
    assert.equal(withSbin('/usr/local/bin:/usr/bin:/bin:/usr/games'), '/usr/local/bin:/usr/bin:/bin:/usr/games:/usr/local/sbin:/usr/sbin:/sbin');
    assert.equal(withSbin('/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin'), '/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin');
    assert.equal(withSbin(undefined), '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin');
  });
});
