/**
 * The client side of conmon's attach socket and control fifo (conmon src/conn_sock.c,
 * src/ctr_stdio.c, src/ctrl.c; podman libpod/oci_conmon_attach_common.go is the Go client).
 *
 * - `<bundle>/attach` is a SOCK_SEQPACKET listener. Each packet conmon sends is one read of
 *   the process's output, prefixed by one byte naming the pipe: 2 stdout, 3 stderr. Each
 *   packet we send is written to the process's stdin (conmon reads at most 32 KiB a packet and
 *   drops the rest, so we send smaller ones). Shutting our write side down makes conmon close
 *   the process's stdin, unless it runs with `--leave-stdin-open` (or the stdin is a terminal
 *   that conmon was not asked to treat as a pipe with `-i`).
 * - `<bundle>/ctl` is a fifo conmon reads lines from: `1 <height> <width>\n` resizes the
 *   terminal; `2 0 0\n` reopens the log file.
 *
 * Node has no SOCK_SEQPACKET sockets; node-unix-socket (a prebuilt N-API addon) provides them.
 * This file is the only importer of that package.
 */
import { closeSync, openSync, constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { ContainerNotRunningError, RuntimeError } from '../common/errors.js';
import type { StdioConnection } from './stdio.js';

type SeqpacketSocketCtor = typeof import('node-unix-socket').SeqpacketSocket;
let SeqpacketSocket: SeqpacketSocketCtor | undefined;

function seqpacket(): SeqpacketSocketCtor {
  // Loaded on first use: the addon is only needed by a daemon that attaches.
  SeqpacketSocket ??= (createRequire(import.meta.url)('node-unix-socket') as typeof import('node-unix-socket')).SeqpacketSocket;
  return SeqpacketSocket;
}

/** conmon's pipe ids (ctr_stdio.h). */
const STDOUT_PIPE = 2;
const STDERR_PIPE = 3;
/** Bytes of stdin per packet: well under conmon's CONN_SOCK_BUF_SIZE (32 KiB). */
const MAX_PACKET = 8192;

/**
 * Connects to the attach socket in `dir`. The path goes through `/proc/self/fd/N/` (as conmon
 * binds it) because a bundle path can be longer than a socket address (108 bytes).
 */
export function connectAttachSocket(dir: string): Promise<StdioConnection> {
  return new Promise((resolve, reject) => {
    let dirFd: number;
    try {
      dirFd = openSync(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    } catch (e) {
      reject(new ContainerNotRunningError(`cannot attach: ${(e as Error).message}`, { cause: e }));
      return;
    }
    const Ctor = seqpacket();
    const sock = new Ctor();
    let settled = false;
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      try {
        sock.destroy();
      } catch {
        // already gone
      }
      reject(new ContainerNotRunningError(`cannot attach to ${dir}: ${(e as Error).message}`, { cause: e }));
    };
    sock.once('error', fail);
    try {
      sock.connect(`/proc/self/fd/${dirFd}/attach`, () => {
        if (settled) return;
        settled = true;
        sock.removeListener('error', fail);
        resolve(new ConmonStdio(sock));
      });
    } catch (e) {
      fail(e);
    } finally {
      // connect(2) on a UNIX socket resolves the path synchronously.
      closeSync(dirFd);
    }
  });
}

/** Writes a resize message to conmon's control fifo in `dir`. */
export async function resizeTerminal(dir: string, height: number, width: number): Promise<void> {
  await writeControl(dir, `1 ${height} ${width}\n`);
}

/** Asks conmon to reopen its log file (after rotation). */
export async function reopenLog(dir: string): Promise<void> {
  await writeControl(dir, '2 0 0\n');
}

async function writeControl(dir: string, line: string): Promise<void> {
  let fh;
  try {
    // O_NONBLOCK: opening a fifo nobody reads fails with ENXIO instead of blocking forever.
    fh = await open(join(dir, 'ctl'), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENXIO' || code === 'ENOENT') throw new ContainerNotRunningError('the process is not running', { cause: e });
    throw new RuntimeError(`cannot open the monitor's control fifo: ${(e as Error).message}`, { cause: e });
  }
  try {
    await fh.write(line);
  } finally {
    await fh.close();
  }
}

class ConmonStdio implements StdioConnection {
  #sock: InstanceType<SeqpacketSocketCtor>;
  #sink?: (stream: 'stdout' | 'stderr', data: Buffer) => void;
  #pending: Array<['stdout' | 'stderr', Buffer]> = [];
  #endFns: Array<() => void> = [];
  #ended = false;
  #stdinClosed = false;

  constructor(sock: InstanceType<SeqpacketSocketCtor>) {
    this.#sock = sock;
    sock.on('data', (packet: Buffer) => {
      if (packet.length < 1) return;
      const id = packet[0];
      if (id !== STDOUT_PIPE && id !== STDERR_PIPE) return;
      const data = packet.subarray(1);
      const stream = id === STDOUT_PIPE ? 'stdout' : 'stderr';
      if (this.#sink) this.#sink(stream, data);
      else this.#pending.push([stream, data]);
    });
    sock.on('end', () => this.#finish());
    sock.on('error', () => this.#finish());
  }

  get ended(): boolean {
    return this.#ended;
  }

  write(data: Buffer): void {
    if (this.#ended || this.#stdinClosed) return;
    for (let off = 0; off < data.length; off += MAX_PACKET) {
      try {
        this.#sock.write(data.subarray(off, Math.min(data.length, off + MAX_PACKET)));
      } catch {
        this.#finish();
        return;
      }
    }
  }

  closeStdin(): void {
    if (this.#ended || this.#stdinClosed) return;
    this.#stdinClosed = true;
    try {
      this.#sock.end();
    } catch {
      this.#finish();
    }
  }

  close(): void {
    this.#finish();
  }

  onOutput(fn: (stream: 'stdout' | 'stderr', data: Buffer) => void): void {
    this.#sink = fn;
    const pending = this.#pending;
    this.#pending = [];
    for (const [s, d] of pending) fn(s, d);
  }

  onEnd(fn: () => void): void {
    if (this.#ended) queueMicrotask(fn);
    else this.#endFns.push(fn);
  }

  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    try {
      this.#sock.destroy();
    } catch {
      // already closed
    }
    const fns = this.#endFns;
    this.#endFns = [];
    for (const fn of fns) fn();
  }
}
