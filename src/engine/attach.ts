/**
 * Wiring one attached client to a process's live stdio (moby container/stream/attach.go):
 * the client's stdin goes to the process through a detach-key scanner, the process's output
 * goes to the client, and the session ends when the process exits, the client leaves, or the
 * client types the detach keys (the process keeps running). What the client's end of input
 * means is Docker's rule: a process with "close stdin" (a container's StdinOnce, or an exec)
 * and no TTY gets EOF on its stdin and the output runs on until it exits; otherwise the session
 * ends there. HTTP, hijacking and stdcopy framing stay in api/.
 */
import type { Readable } from 'node:stream';
import { InvalidParameterError } from '../common/errors.js';
import type { StdioConnection } from '../runtime/stdio.js';

/** Docker's default detach sequence: ctrl-p, ctrl-q. */
export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/**
 * Parses Docker's detach-keys syntax (moby/term ToBytes): comma-separated keys, each a single
 * character or `ctrl-<c>` with c in a–z, @, [, \, ], ^, _.
 */
export function parseDetachKeys(keys: string): number[] {
  const out: number[] = [];
  for (const raw of keys.split(',')) {
    const k = raw.trim();
    if (k.length > 1 && !k.toLowerCase().startsWith('ctrl-')) throw new InvalidParameterError(`Invalid detach keys (${keys}) provided`);
    if (k.length === 1) {
      out.push(k.charCodeAt(0));
      continue;
    }
    const c = k.slice(5).toLowerCase();
    if (c.length !== 1) throw new InvalidParameterError(`Invalid detach keys (${keys}) provided`);
    const code = c.charCodeAt(0);
    if (code >= 97 && code <= 122) out.push(code - 96);
    else if (c === '@') out.push(0);
    else if (c === '[') out.push(27);
    else if (c === '\\') out.push(28);
    else if (c === ']') out.push(29);
    else if (c === '^') out.push(30);
    else if (c === '_') out.push(31);
    else throw new InvalidParameterError(`Invalid detach keys (${keys}) provided`);
  }
  if (out.length === 0) throw new InvalidParameterError(`Invalid detach keys (${keys}) provided`);
  return out;
}

/**
 * Finds the detach sequence in a byte stream. Bytes that may begin the sequence are held back
 * until it is clear whether they do (moby/term EscapeProxy); everything else passes through.
 */
export class DetachScanner {
  #matched = 0;
  constructor(private readonly keys: readonly number[]) {}

  /** The bytes to forward, and whether the sequence is complete (later bytes are dropped). */
  push(chunk: Buffer): { forward: Buffer; detached: boolean } {
    if (this.keys.length === 0) return { forward: chunk, detached: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.#matched]) {
        this.#matched++;
        if (this.#matched === this.keys.length) {
          this.#matched = 0;
          return { forward: Buffer.from(out), detached: true };
        }
        continue;
      }
      // A partial match that failed: its bytes were real input after all.
      for (let i = 0; i < this.#matched; i++) out.push(this.keys[i]!);
      this.#matched = 0;
      if (b === this.keys[0]) this.#matched = 1;
      else out.push(b);
    }
    return { forward: Buffer.from(out), detached: false };
  }
}

export type AttachEnd = 'exited' | 'detached' | 'closed';

export interface AttachWiring {
  conn: StdioConnection;
  /** The client's side of the connection: its stdin bytes, and its going away. */
  input: Readable;
  /** Whether the client's bytes are the process's stdin (else they are drained and ignored). */
  stdin: boolean;
  tty: boolean;
  /** Give the process EOF when the client's input ends (StdinOnce; always for exec). */
  closeStdinOnEof: boolean;
  /** The detach sequence (parseDetachKeys); empty for none. */
  detachKeys: readonly number[];
  stdout: boolean;
  stderr: boolean;
  /** Receives the process's output (only the streams asked for). */
  output(stream: 'stdout' | 'stderr', data: Buffer): void;
}

/** Runs the session; resolves with how it ended. The connection is closed when it resolves. */
export function wireAttach(w: AttachWiring): Promise<AttachEnd> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (how: AttachEnd) => {
      if (done) return;
      done = true;
      w.input.removeListener('data', onData);
      w.input.removeListener('end', onEnd);
      w.input.removeListener('close', onClose);
      w.input.removeListener('error', onClose);
      w.conn.close();
      resolve(how);
    };
    const scanner = new DetachScanner(w.detachKeys);
    const onData = (chunk: Buffer) => {
      if (!w.stdin) return;
      const { forward, detached } = scanner.push(chunk);
      if (forward.length) w.conn.write(forward);
      if (detached) finish('detached');
    };
    const onEnd = () => {
      if (!w.stdin) return;
      if (w.closeStdinOnEof && !w.tty) w.conn.closeStdin();
      else finish('closed');
    };
    const onClose = () => finish('closed');
    w.conn.onOutput((stream, data) => {
      if (done) return;
      if (stream === 'stdout' ? w.stdout : w.stderr) w.output(stream, data);
    });
    w.conn.onEnd(() => finish('exited'));
    w.input.on('data', onData);
    w.input.once('end', onEnd);
    w.input.once('close', onClose);
    w.input.once('error', onClose);
    w.input.resume();
  });
}
