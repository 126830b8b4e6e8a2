/**
 * Live stdio of a container or exec process, as the monitor (conmon) holds it: what the
 * engine's attach and exec use. The runtime only moves bytes; detach keys, `StdinOnce` and
 * Docker's framing are the engine's and the API's business.
 */
import type { OciProcess } from './oci-spec.js';

/**
 * One attach connection to the monitor. Output arrives through `onOutput` until `onEnd`
 * (the process exited and its output was drained, or the monitor went away). Lifecycle:
 *
 *   write(stdin)* → [closeStdin()] → … → onEnd     or     close() at any time
 *
 * `closeStdin` half-closes: the monitor closes the process's stdin unless it was told to leave
 * it open (a container without `StdinOnce`), and output keeps flowing. `close` drops the
 * connection; for a TTY the process keeps its terminal.
 */
export interface StdioConnection {
  /** Sends bytes to the process's stdin (split into packets the monitor accepts). */
  write(data: Buffer): void;
  closeStdin(): void;
  close(): void;
  /** Registers the output sink; output that arrives before it is registered is kept. */
  onOutput(fn: (stream: 'stdout' | 'stderr', data: Buffer) => void): void;
  /** Called once when the connection ends, whoever ended it. */
  onEnd(fn: () => void): void;
  readonly ended: boolean;
}

/** A process to run inside a running container (`runtime exec`). */
export interface ExecProcessOptions {
  /** The container's runtime id. */
  containerId: string;
  /** The exec session's id: names its directory of monitor files. */
  execId: string;
  /** The OCI process (args, env, cwd, user, capabilities, terminal). */
  process: OciProcess;
  /** Keep a pipe (or the terminal) for stdin. */
  stdin: boolean;
  /** Connect to its stdio before it runs, so no output is lost; false runs it detached. */
  attach: boolean;
}

/** A started exec process. */
export interface ExecHandle {
  /** Host pid of the process. */
  pid: number;
  /** Its stdio, when started with `attach`. */
  stdio?: StdioConnection;
  /** Resolves with the exit code when the process has exited (-1 when the monitor died without one). */
  exited: Promise<number>;
  /** Window size of the exec's terminal (no-op without one). */
  resize(height: number, width: number): Promise<void>;
}
