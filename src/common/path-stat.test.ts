import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePathStat, encodePathStat, GO_DIR } from './path-stat.js';

test('path stat header: base64 JSON with Go mode bits, decoded back unchanged', () => {
  const s = { name: 'etc', size: 4096, mode: GO_DIR + 0o755, mtime: '2024-01-02T03:04:05Z', linkTarget: '' };
  const h = encodePathStat(s);
  assert.deepEqual(JSON.parse(Buffer.from(h, 'base64').toString()), s);
  assert.deepEqual(decodePathStat(h), s);
  assert.equal(s.mode, 2147484141);
});
