import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame, FrameDecoder, STDERR, STDOUT } from './stdcopy.js';

test('frames round-trip across arbitrary chunk boundaries', () => {
  const data = Buffer.concat([encodeFrame(STDOUT, Buffer.from('hello\n')), encodeFrame(STDERR, Buffer.from('oops\n')), encodeFrame(STDOUT, Buffer.alloc(0))]);
  for (let cut = 1; cut < data.length; cut++) {
    const d = new FrameDecoder();
    const frames = [...d.push(data.subarray(0, cut)), ...d.push(data.subarray(cut))];
    assert.deepEqual(frames.map((f) => [f.stream, f.payload.toString()]), [[1, 'hello\n'], [2, 'oops\n'], [1, '']]);
    assert.equal(d.pending, 0);
  }
});

test('header carries the size big-endian', () => {
  const f = encodeFrame(STDERR, Buffer.alloc(300));
  assert.deepEqual([...f.subarray(0, 8)], [2, 0, 0, 0, 0, 0, 1, 44]);
});
