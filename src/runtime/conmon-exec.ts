/**
 * `runtime exec` through conmon's exec mode, as podman runs it
 * (libpod/oci_conmon_exec_linux.go): conmon runs `crun exec --process process.json --detach
 * [--console-socket]`, holds the process's stdio (a pty for a TTY), serves it on an attach
 * socket in the session's directory, and reports the pid and then the exit code on its sync
 * pipe. The handshake with `--exec-attach` (all pipes carry `{"data": N}` lines):
 *
 *   start pipe ← "0"             conmon may proceed; it binds <dir>/attach and <dir>/ctl
 *   attach pipe → {"data": 0}    the socket is ready: we connect
 *   start pipe ← "0"             conmon's child execs the runtime (no output is lost)
 *   sync pipe → {"data": pid}    or a negative number and the runtime's error
 *   sync pipe → {"data": code}   when the process has exited and its output is drained
 *
 * A detached exec (`exec -d`) skips the attach steps. The session directory holds
 * process.json, pidfile, attach, ctl and `exit` (conmon's persist dir); it is removed when the
 * process has exited.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { InvalidParameterError, RuntimeError } from '../common/errors.js';
import { connectAttachSocket, resizeTerminal } from './conmon-attach.js';
import type { ExecHandle, ExecProcessOptions, StdioConnection } from './stdio.js';

export interface ConmonExecConfig {
  conmonPath: string;
  runtimePath: string;
  runtimeRoot: string;
  /** Parent of the exec sessions' directories. */
  sessionsDir: string;
}

/** A failed `runtime exec` (the process never ran), with Docker's exit status: 127 not found, 126 other. */
export class ExecStartError extends RuntimeError {
  constructor(
    message: string,
    readonly exitStatus: 126 | 127,
  ) {
    super(message);
  }
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Line-reader for one of conmon's JSON pipes. */
class PipeReader {
  #buf = '';
  #lines: string[] = [];
  #waiters: Array<(line: string | undefined) => void> = [];
  #ended = false;
  constructor(stream: Readable) {
    stream.on('data', (d: Buffer) => {
      this.#buf += d.toString();
      let nl: number;
      while ((nl = this.#buf.indexOf('\n')) >= 0) {
        const line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        const w = this.#waiters.shift();
        if (w) w(line);
        else this.#lines.push(line);
      }
    });
    const end = () => {
      this.#ended = true;
      for (const w of this.#waiters.splice(0)) w(undefined);
    };
    stream.on('end', end);
    stream.on('error', end);
    stream.on('close', end);
  }
  /** The next message, or undefined when the pipe closed first. */
  next(): Promise<{ data: number; message?: string } | undefined> {
    const line = this.#lines.shift();
    const parse = (l: string | undefined) => {
      if (l === undefined) return undefined;
      try {
        return JSON.parse(l) as { data: number; message?: string };
      } catch {
        return undefined;
      }
    };
    if (line !== undefined) return Promise.resolve(parse(line));
    if (this.#ended) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push((l) => resolve(parse(l))));
  }
}

/** Starts an exec session; resolves once the process runs (or rejects with the runtime's error). */
export async function conmonExec(config: ConmonExecConfig, o: ExecProcessOptions): Promise<ExecHandle> {
  if (!ID_RE.test(o.containerId) || !ID_RE.test(o.execId)) throw new InvalidParameterError('invalid id for exec');
  const dir = join(config.sessionsDir, o.execId);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const specPath = join(dir, 'process.json');
  await writeFile(specPath, JSON.stringify(o.process));
  const terminal = o.process.terminal ?? false;
  const argv = [
    '--api-version', '1',
    '-c', o.containerId,
    '-u', o.execId,
    '-n', o.execId,
    '-r', config.runtimePath,
    '-b', dir,
    '-p', join(dir, 'pidfile'),
    '--persist-dir', dir,
    '--full-attach',
    '-l', 'none',
    '--runtime-arg', `--root=${config.runtimeRoot}`,
    '--sync',
    '--log-level', 'error',
    '--exec',
    '--exec-process-spec', specPath,
  ];
  if (o.attach) argv.push('--exec-attach');
  if (terminal) argv.push('-t');
  // With a terminal, stdin is the pty: conmon's -i would close it when the client leaves (a hangup).
  else if (o.stdin) argv.push('-i');

  const child = spawn(config.conmonPath, argv, {
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', ...(o.attach ? { _OCI_ATTACHPIPE: '5' } : {}) },
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', ...(o.attach ? (['pipe'] as const) : [])],
  });
  const stderrStream = child.stdio[2] as Readable;
  let stderr = '';
  stderrStream.on('data', (d: Buffer) => {
    if (stderr.length < 16384) stderr += d.toString();
  });
  stderrStream.on('error', () => {});
  const sync = new PipeReader(child.stdio[3] as Readable);
  const start = child.stdio[4] as Writable;
  start.on('error', () => {});
  const attachPipe = o.attach ? new PipeReader((child.stdio as unknown as Readable[])[5]!) : undefined;
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (e) => reject(new RuntimeError(`cannot start conmon: ${e.message}`, { cause: e })));
  });
  const childExited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const cleanup = async () => {
    await childExited;
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  };

  let stdio: StdioConnection | undefined;
  try {
    await spawned;
    start.write('0');
    if (attachPipe) {
      const ready = await attachPipe.next();
      if (!ready) throw failure(stderr, 'conmon did not open the attach socket');
      stdio = await connectAttachSocket(dir);
      start.end('0');
    } else {
      start.end();
    }
    const first = await sync.next();
    if (!first || first.data <= 0) {
      const text = first?.message ?? (await settleStderr(childExited, () => stderr));
      throw failure(text, 'the runtime failed to exec the process');
    }
    const pid = first.data;
    const exited = sync.next().then((m) => (m ? m.data : -1));
    void exited.finally(() => void cleanup());
    return { pid, stdio, exited, resize: (h, w) => resizeTerminal(dir, h, w) };
  } catch (e) {
    stdio?.close();
    try {
      if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    } catch {
      // gone
    }
    void cleanup();
    throw e;
  }
}

async function settleStderr(exited: Promise<void>, get: () => string): Promise<string> {
  await Promise.race([exited, new Promise((r) => setTimeout(r, 2000).unref())]);
  return get();
}

/** The runtime's complaint as Docker words it: `OCI runtime exec failed: exec failed: …`. */
function failure(raw: string, fallback: string): ExecStartError {
  const text = raw
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const m = /\bmsg="((?:[^"\\]|\\.)*)"/.exec(l);
      return (m ? m[1]! : l).replace(/^crun: /, '').replace(/^\[conmon:[a-z]\]: /, '');
    })
    .filter((l) => !/^(Failed to create container|exit status|runtime stderr:)/.test(l))
    .join('; ') || fallback;
  let m = /executable file `([^`]*)` not found/.exec(text) ?? /exec: "([^"]*)": executable file not found/.exec(text);
  if (m) return new ExecStartError(`OCI runtime exec failed: exec failed: unable to start container process: exec: "${m[1]}": executable file not found in $PATH: unknown`, 127);
  m = /open executable: `?([^`:]*)`?: No such file/.exec(text) ?? /exec: "([^"]*)": stat [^:]*: no such file/.exec(text);
  if (m) return new ExecStartError(`OCI runtime exec failed: exec failed: unable to start container process: exec: "${m[1]}": stat ${m[1]}: no such file or directory: unknown`, 127);
  return new ExecStartError(`OCI runtime exec failed: exec failed: ${text}: unknown`, 126);
}
