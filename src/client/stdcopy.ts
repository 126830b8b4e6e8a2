import type { Readable, Writable } from 'node:stream';

/**
 * Docker's multiplexed stdio framing (attach, logs and exec when the container has no tty):
 * each frame is an 8-byte header `[stream, 0, 0, 0, size (big-endian uint32)]` followed by
 * `size` bytes. Stream 0 is stdin, 1 stdout, 2 stderr, 3 a daemon-side error (moby stdcopy).
 */
export const STREAM_STDIN = 0;
export const STREAM_STDOUT = 1;
export const STREAM_STDERR = 2;
export const STREAM_SYSTEMERR = 3;

/** One frame, for tests and fakes. */
export function encodeFrame(stream: number, data: string | Buffer): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Thrown when the daemon sends a system-error frame or the framing is broken. */
export class StreamError extends Error {
  readonly code = 'BERTH_ERR_STREAM';
  constructor(message: string) {
    super(message);
    this.name = 'StreamError';
  }
}

function write(w: Writable, chunk: Buffer): Promise<void> | undefined {
  if (w.write(chunk)) return undefined;
  return new Promise((r) => w.once('drain', r));
}

/**
 * Copies frames from `source` to `stdout`/`stderr` until the source ends. Honours
 * back-pressure; rejects with StreamError for a stream-3 frame or an unknown stream id.
 */
export async function demultiplex(source: Readable, stdout: Writable, stderr: Writable): Promise<void> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of source) {
    pending = pending.length ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer);
    while (pending.length >= 8) {
      const size = pending.readUInt32BE(4);
      if (pending.length < 8 + size) break;
      const stream = pending[0];
      const payload = pending.subarray(8, 8 + size);
      pending = pending.subarray(8 + size);
      if (stream === STREAM_STDOUT || stream === STREAM_STDIN) await write(stdout, payload);
      else if (stream === STREAM_STDERR) await write(stderr, payload);
      else if (stream === STREAM_SYSTEMERR) throw new StreamError(`error from daemon in stream: ${payload.toString('utf8')}`);
      else throw new StreamError(`Unrecognized input header: ${stream}`);
    }
  }
}

/** Copies a raw (tty) stream to `stdout` until it ends. */
export async function copyRaw(source: Readable, stdout: Writable): Promise<void> {
  for await (const chunk of source) await write(stdout, chunk as Buffer);
}
