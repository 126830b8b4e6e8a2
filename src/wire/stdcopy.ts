/**
 * Docker's multiplexed stream framing (stdcopy): each frame is an 8-byte header
 * `[stream, 0, 0, 0, size(uint32 BE)]` followed by `size` bytes. stream: 0 stdin, 1 stdout, 2 stderr.
 */
export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
/** A daemon-side error, sent instead of output (moby stdcopy's Systemerr). */
export const SYSTEMERR = 3;

export function encodeFrame(stream: number, data: Buffer | string): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Incremental decoder: feed chunks, get whole frames. */
export class FrameDecoder {
  #buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): { stream: number; payload: Buffer }[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    const out: { stream: number; payload: Buffer }[] = [];
    while (this.#buf.length >= 8) {
      const size = this.#buf.readUInt32BE(4);
      if (this.#buf.length < 8 + size) break;
      out.push({ stream: this.#buf[0]!, payload: this.#buf.subarray(8, 8 + size) });
      this.#buf = this.#buf.subarray(8 + size);
    }
    return out;
  }

  /** Bytes of an incomplete frame still held. */
  get pending(): number {
    return this.#buf.length;
  }
}
