/** The one import of @msgpack/msgpack (fluentd's forward protocol). */
import { decodeMultiStream, encode as mpEncode, ExtData } from '@msgpack/msgpack';

export function encode(value: unknown): Buffer {
  const u = mpEncode(value);
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** Fluentd's EventTime (ext type 0: seconds and nanoseconds, big-endian 32-bit each). */
export function eventTime(time: Date): ExtData {
  const ms = time.getTime();
  const b = Buffer.alloc(8);
  b.writeUInt32BE(Math.floor(ms / 1000) >>> 0, 0);
  b.writeUInt32BE((ms % 1000) * 1_000_000, 4);
  return new ExtData(0, b);
}

/** The values a byte stream carries, one after the other (values may span chunks). */
export function decodeStream(source: AsyncIterable<Uint8Array>): AsyncGenerator<unknown, void, unknown> {
  return decodeMultiStream(source) as AsyncGenerator<unknown, void, unknown>;
}
