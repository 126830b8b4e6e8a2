import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rewriteAuthority } from './authority-proxy.js';

/** An HPACK string literal without Huffman coding (lengths < 127). */
const str = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]);

describe('authority proxy: HPACK :authority rewrite', () => {
  it('replaces a literal :authority (static name index 1) and keeps every other field byte for byte', () => {
    const block = Buffer.concat([
      Buffer.from([0x83, 0x86]), // indexed :method POST, :scheme http
      Buffer.from([0x41]), str('/run/berth/cri.sock'), // literal with indexing, name index 1
      Buffer.from([0x44]), str('/runtime.v1.RuntimeService/Version'), // :path
      Buffer.from([0x40]), str('te'), str('trailers'), // new name
    ]);
    const out = rewriteAuthority(block);
    const want = Buffer.concat([Buffer.from([0x83, 0x86, 0x41]), str('localhost'), Buffer.from([0x44]), str('/runtime.v1.RuntimeService/Version'), Buffer.from([0x40]), str('te'), str('trailers')]);
    assert.deepEqual(out, want);
  });
  it('rewrites the never-indexed and without-indexing forms, and leaves blocks without one alone', () => {
    assert.deepEqual(rewriteAuthority(Buffer.concat([Buffer.from([0x01]), str('/x')])), Buffer.concat([Buffer.from([0x01]), str('localhost')]));
    assert.deepEqual(rewriteAuthority(Buffer.concat([Buffer.from([0x11]), str('/x')])), Buffer.concat([Buffer.from([0x11]), str('localhost')]));
    const untouched = Buffer.concat([Buffer.from([0x3f, 0xe1, 0x1f, 0xbe]), Buffer.from([0x44]), str('/p')]); // table size update, :path
    assert.equal(rewriteAuthority(untouched), untouched);
  });
  it('throws on a truncated block rather than forwarding garbage', () => {
    assert.throws(() => rewriteAuthority(Buffer.from([0x41, 0x10, 0x2f])), /truncated/);
  });
});
