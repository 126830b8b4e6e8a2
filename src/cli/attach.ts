import type { ApiClient } from '../client/client.js';
import { copyRaw, demultiplex } from '../client/stdcopy.js';
import type { CliContext } from './context.js';

/**
 * A container's stdio attached to ours over a hijacked connection
 * (POST /containers/{id}/attach?stream=1&stdin=&stdout=1&stderr=1, `Upgrade: tcp` → 101).
 * Output is demultiplexed (8-byte frames) unless the container has a tty, in which case it is
 * one raw stream. With `stdin`, our stdin is copied in and the write side is half-closed at
 * its end, as docker does, so `echo hi | berth run -i busybox cat` terminates.
 *
 * TODO(tty): `-it` needs raw mode on our terminal, detach keys and resize
 * (POST /containers/{id}/resize); the stream code below already carries raw tty bytes.
 */
export interface AttachedStreams {
  /** Resolves when the container's output ends (it exited, or the daemon closed the stream). */
  done: Promise<void>;
  /** Tears the connection down (on a failed start). */
  close(): void;
}

export async function attachContainer(
  ctx: CliContext,
  client: ApiClient,
  id: string,
  options: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean },
): Promise<AttachedStreams> {
  const { socket, contentType } = await client.containerAttach(id, { stdin: options.stdin, stdout: options.stdout, stderr: options.stderr });
  const raw = options.tty || contentType === 'application/vnd.docker.raw-stream';
  let closed = false;
  const done = (raw ? copyRaw(socket, ctx.stdout) : demultiplex(socket, ctx.stdout, ctx.stderr)).catch((err: unknown) => {
    // Tearing the stream down ourselves is not an error.
    if (!closed) throw err;
  });
  if (options.stdin) {
    const input = ctx.stdin;
    input.on('data', (chunk: Buffer) => {
      if (!socket.writableEnded) socket.write(chunk);
    });
    input.once('end', () => {
      if (!socket.writableEnded) socket.end();
    });
    input.resume();
    // Stop reading our stdin once the container is gone, so the process can exit.
    void done.finally(() => input.pause()).catch(() => {});
  }
  return {
    done,
    close() {
      closed = true;
      socket.destroy();
    },
  };
}
