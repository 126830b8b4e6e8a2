import { Readable, Writable } from 'node:stream';

/** A Writable that keeps everything written to it, for asserting CLI output. */
export class Capture extends Writable {
  #chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.#chunks.push(Buffer.from(chunk));
    cb();
  }
  get text(): string {
    return Buffer.concat(this.#chunks).toString('utf8');
  }
}

/** stdin for a test: the given text, then end. */
export function input(text = ''): Readable {
  return Readable.from(text ? [Buffer.from(text)] : []);
}
