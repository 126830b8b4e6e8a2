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
import type { StdioConnection } from '../runtime/stdio.js';

export { DEFAULT_DETACH_KEYS, DetachScanner, parseDetachKeys } from '../common/detach-keys.js';
import { DetachScanner } from '../common/detach-keys.js';

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
