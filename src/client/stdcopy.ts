import type { Readable, Writable } from 'node:stream';

/**
 * Docker's multiplexed stdio framing (attach, logs and exec when the container has no tty):
 * each frame is an 8-byte header `[stream, 0, 0, 0, size (big-endian uint32)]` followed by
 * `size` bytes. Stream 0 is stdin, 1 stdout, 2 stderr, 3 a daemon-side error (moby stdcopy).
 */
export {
  STDIN as STREAM_STDIN,
  STDOUT as STREAM_STDOUT,
  STDERR as STREAM_STDERR,
  SYSTEMERR as STREAM_SYSTEMERR,
  encodeFrame,
} from '../wire/stdcopy.js';
import { FrameDecoder, STDIN, STDOUT, STDERR, SYSTEMERR } from '../wire/stdcopy.js';

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
  const decoder = new FrameDecoder();
  for await (const chunk of source) {
    for (const { stream, payload } of decoder.push(chunk as Buffer)) {
      if (stream === STDOUT || stream === STDIN) await write(stdout, payload);
      else if (stream === STDERR) await write(stderr, payload);
      else if (stream === SYSTEMERR) throw new StreamError(`error from daemon in stream: ${payload.toString('utf8')}`);
      else throw new StreamError(`Unrecognized input header: ${stream}`);
    }
  }
}

/** Copies a raw (tty) stream to `stdout` until it ends. */
export async function copyRaw(source: Readable, stdout: Writable): Promise<void> {
  for await (const chunk of source) await write(stdout, chunk as Buffer);
}
