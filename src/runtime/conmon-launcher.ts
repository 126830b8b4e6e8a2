import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { RuntimeError } from '../common/errors.js';

/** What conmon reports on its sync pipe (`--api-version 1`): the container pid, or -1 and the runtime's error text. */
export interface SyncMessage {
  data: number;
  message?: string;
}

export interface LaunchResult {
  /** PID of conmon (with `--sync` it is the monitor itself). */
  monitorPid: number;
  /** The first sync-pipe message, or undefined when conmon closed the pipe without one. */
  sync?: SyncMessage;
  /** conmon's own stderr up to the point it detached (only collected when there was no sync message). */
  stderr: string;
}

/** Starts conmon detached with the _OCI_SYNCPIPE/_OCI_STARTPIPE protocol. A seam for unit tests. */
export interface ConmonLauncher {
  launch(argv: readonly string[], options: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs: number }): Promise<LaunchResult>;
}

/**
 * The real launcher. conmon runs in its own session (`detached`, and conmon calls setsid
 * itself), so it outlives berthd. fd 3 is the sync pipe, fd 4 the start pipe; Node gives the
 * child UNIX socket pairs for these, which conmon reads and writes like pipes. We write the
 * start byte immediately (the hook where a parent could first move conmon into a cgroup),
 * then wait for one JSON line on the sync pipe: the container pid once `runtime create`
 * returned, or `{"data": -1, "message": <runtime stderr>}`. No polling, no sleeps.
 */
export class SpawnConmonLauncher implements ConmonLauncher {
  launch(argv: readonly string[], options: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs: number }): Promise<LaunchResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), {
        env: { ...options.env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' },
        cwd: options.cwd,
        detached: true,
        stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      });
      const stderrStream = child.stdio[2] as Readable;
      const syncStream = child.stdio[3] as Readable;
      const startStream = child.stdio[4] as Writable;
      let settled = false;
      let syncText = '';
      let stderr = '';
      let stderrEnded = false;
      let syncEnded = false;
      const timer = setTimeout(() => {
        finish(new RuntimeError(`conmon did not report within ${options.timeoutMs} ms`));
        try {
          if (child.pid) process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, options.timeoutMs);
      timer.unref();

      const cleanup = () => {
        clearTimeout(timer);
        syncStream.destroy();
        startStream.destroy();
        stderrStream.destroy();
        child.unref();
      };
      const finish = (err: Error | undefined, sync?: SyncMessage) => {
        if (settled) return;
        settled = true;
        cleanup();
        if (err) reject(err);
        else resolve({ monitorPid: child.pid!, sync, stderr });
      };
      const maybeNoMessage = () => {
        // The sync pipe closed without a message: conmon failed before running the runtime.
        // Wait until its stderr is drained too, so the error says why.
        if (syncEnded && stderrEnded) finish(undefined, undefined);
      };

      child.on('error', (e) =>
        finish(new RuntimeError(`cannot start conmon (${argv[0]}): ${e.message}`, { cause: e })),
      );
      stderrStream.on('data', (d: Buffer) => {
        if (stderr.length < 65536) stderr += d.toString();
      });
      stderrStream.on('end', () => {
        stderrEnded = true;
        maybeNoMessage();
      });
      stderrStream.on('error', () => {
        stderrEnded = true;
        maybeNoMessage();
      });
      syncStream.on('data', (d: Buffer) => {
        syncText += d.toString();
        const nl = syncText.indexOf('\n');
        if (nl < 0) return;
        try {
          const msg = JSON.parse(syncText.slice(0, nl)) as SyncMessage;
          finish(undefined, msg);
        } catch (e) {
          finish(new RuntimeError(`conmon sent an unreadable sync message: ${syncText.slice(0, nl)}`, { cause: e }));
        }
      });
      syncStream.on('end', () => {
        syncEnded = true;
        maybeNoMessage();
      });
      syncStream.on('error', () => {
        syncEnded = true;
        maybeNoMessage();
      });
      startStream.on('error', () => {});
      startStream.end('0');
    });
  }
}
