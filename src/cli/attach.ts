import { spawnSync } from 'node:child_process';
import type { Duplex } from 'node:stream';
import type { ApiClient } from '../client/client.js';
import { copyRaw, demultiplex } from '../client/stdcopy.js';
import { DEFAULT_DETACH_KEYS, DetachScanner, parseDetachKeys } from '../common/detach-keys.js';
import type { Invocation } from './invocation.js';
import { StatusError } from './errors.js';

/**
 * A process's stdio (a container's via POST /containers/{id}/attach, an exec's via
 * POST /exec/{id}/start) attached to ours over a hijacked connection (`Upgrade: tcp` → 101).
 * Output is demultiplexed (8-byte frames) unless there is a TTY, in which case it is one raw
 * stream. With `stdin`, our stdin is copied in and the write side is half-closed at its end,
 * as docker does, so `echo hi | berth run -i busybox cat` terminates. With a TTY and a
 * terminal on our side, the terminal is put in raw mode (Ctrl-C and friends go to the
 * container as bytes) and restored on every way out. The detach keys (Ctrl-P Ctrl-Q unless
 * `detachKeys` says otherwise) end the session and leave the process running; the daemon
 * watches for them too.
 */
export interface AttachedStreams {
  /** Resolves when the output ends (`ended`: the process exited or the daemon closed) or the user detached. */
  done: Promise<'ended' | 'detached'>;
  /** Tears the connection down (on a failed start). */
  close(): void;
}

export interface StreamOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  /** Docker's detach-keys syntax; default ctrl-p,ctrl-q. */
  detachKeys?: string;
}

/** Validates `--detach-keys` before anything is created (docker's wording). */
export function checkDetachKeys(keys: string | undefined): void {
  if (keys === undefined || keys === '') return;
  try {
    parseDetachKeys(keys);
  } catch (err) {
    throw new StatusError(125, `${(err as Error).message}`);
  }
}

export async function attachContainer(ctx: Invocation, client: ApiClient, id: string, options: StreamOptions): Promise<AttachedStreams> {
  const { socket, contentType } = await client.containerAttach(id, {
    stdin: options.stdin,
    stdout: options.stdout,
    stderr: options.stderr,
    detachKeys: options.detachKeys || undefined,
  });
  return pumpStreams(ctx, socket, contentType, options);
}

type TtyIn = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

/** Puts our terminal in raw mode when stdin is one; returns the function that restores it (idempotent). */
export function enterRawMode(ctx: Invocation): () => void {
  const input = ctx.stdin as TtyIn;
  if (!input.isTTY || typeof input.setRawMode !== 'function') return () => {};
  // libuv's raw mode keeps output post-processing (ONLCR), so the container's "\r\n" would
  // reach the screen as "\r\r\n"; docker's raw mode (cfmakeraw) clears OPOST. Node has no
  // call for that, so stty does it on our terminal (fd 0), and puts every setting back after.
  const onFd0 = input === (process.stdin as unknown);
  const saved = onFd0 ? stty(['-g']) : undefined;
  input.setRawMode(true);
  if (onFd0) stty(['-opost']);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    try {
      input.setRawMode!(false);
    } catch {
      // the terminal is gone
    }
    if (saved) stty([saved]);
    process.removeListener('exit', restore);
  };
  // Whatever way the process ends, the user's terminal comes back cooked.
  process.once('exit', restore);
  return restore;
}

/** Runs stty on our terminal (stdin); its output, or undefined when it failed. */
function stty(args: string[]): string | undefined {
  try {
    const r = spawnSync('stty', args, { stdio: [0, 'pipe', 'ignore'], encoding: 'utf8', timeout: 2000 });
    return r.status === 0 ? r.stdout.trim() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sends our terminal's size now and on every change (SIGWINCH → the stream's 'resize' event),
 * as docker's monitorTtySize does. Returns the function that stops watching.
 */
export function monitorTtySize(ctx: Invocation, resize: (height: number, width: number) => Promise<void>): () => void {
  const out = ctx.stdout as NodeJS.WriteStream;
  if (!out.isTTY || typeof out.rows !== 'number') return () => {};
  const send = () => {
    if (out.rows > 0 && out.columns > 0) resize(out.rows, out.columns).catch(() => {});
  };
  send();
  out.on('resize', send);
  return () => out.removeListener('resize', send);
}

/** Wires a hijacked connection to our stdio (see AttachedStreams). */
export function pumpStreams(ctx: Invocation, socket: Duplex, contentType: string | undefined, options: StreamOptions): AttachedStreams {
  const raw = options.tty || contentType === 'application/vnd.docker.raw-stream';
  let closed = false;
  let detached = false;
  const restore = options.tty && options.stdin ? enterRawMode(ctx) : () => {};
  const output = (raw ? copyRaw(socket, ctx.stdout) : demultiplex(socket, ctx.stdout, ctx.stderr)).catch((err: unknown) => {
    // Tearing the stream down ourselves (a failed start, a detach) is not an error.
    if (!closed && !detached) throw err;
  });
  const done = output.then(() => (detached ? ('detached' as const) : ('ended' as const)));
  if (options.stdin) {
    const input = ctx.stdin;
    const scanner = new DetachScanner(parseDetachKeys(options.detachKeys || DEFAULT_DETACH_KEYS));
    const onData = (chunk: Buffer) => {
      if (detached || socket.writableEnded) return;
      const { forward, detached: now } = scanner.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      if (forward.length) socket.write(forward);
      if (now) {
        detached = true;
        input.removeListener('data', onData);
        socket.destroy();
      }
    };
    input.on('data', onData);
    input.once('end', () => {
      if (!socket.writableEnded && !detached) socket.end();
    });
    input.resume();
    // Stop reading our stdin once the stream is over, so the process can exit.
    void done
      .finally(() => {
        input.removeListener('data', onData);
        input.pause();
      })
      .catch(() => {});
  }
  void done.finally(restore).catch(() => {});
  return {
    done,
    close() {
      closed = true;
      socket.destroy();
      restore();
    },
  };
}
