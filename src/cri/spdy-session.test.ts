import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeHeaders, encodeHeaders } from './spdy-session.js';

describe('SPDY/3 header blocks', () => {
  it('round-trip names (lower-cased) and values', () => {
    const h = decodeHeaders(encodeHeaders({ StreamType: 'stdout', port: '8080', requestID: '0' }));
    assert.deepEqual(h, { streamtype: 'stdout', port: '8080', requestid: '0' });
  });
  it('ignore a block cut short instead of reading past it', () => {
    const b = encodeHeaders({ streamtype: 'error' });
    assert.deepEqual(decodeHeaders(b.subarray(0, b.length - 3)), {});
    assert.deepEqual(decodeHeaders(Buffer.alloc(2)), {});
  });
});
