/**
 * Exec and attach over a SPDY session: Kubernetes' remote-command protocol. The client opens
 * one stream per channel, named by its `streamType` header (`error`, `stdin`, `stdout`,
 * `stderr`, and `resize` with a TTY from v3 on); once all the request's streams are there the
 * process runs; stdin's FIN closes the process's stdin; `resize` carries JSON
 * `{"Width":W,"Height":H}` messages. At the end the `error` stream gets the outcome: from
 * `v4.channel.k8s.io` a JSON metav1.Status (`Success`, or `Failure` with reason
 * `NonZeroExitCode` and the exit code as an `ExitCode` cause); before v4, an error text only.
 */
import { generateId } from '../common/ids.js';
import type { Logger } from '../common/logger.js';
import type { ContainerService } from '../engine/container-service.js';
import type { StdioConnection } from '../runtime/stdio.js';
import type { SpdySession, SpdyStream } from './spdy-session.js';
import type { StreamRequest } from './stream-request.js';

export const REMOTE_COMMAND_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
const STREAM_WAIT_MS = 30_000;

type Io = { kind: 'exec' | 'attach'; containerId: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean; cmd?: string[] };

/** Waits for the streams a request needs; resolves with them by type. */
function collectStreams(session: SpdySession, want: Set<string>): Promise<Map<string, SpdyStream>> {
  return new Promise((resolve, reject) => {
    const got = new Map<string, SpdyStream>();
    const timer = setTimeout(() => reject(new Error(`timed out waiting for client streams (have ${[...got.keys()].join(', ') || 'none'})`)), STREAM_WAIT_MS);
    const check = (): void => {
      if ([...want].every((t) => got.has(t))) {
        clearTimeout(timer);
        resolve(got);
      }
    };
    session.onStream((s) => {
      const t = s.headers['streamtype'] ?? '';
      got.set(t, s);
      check();
    });
    session.onClose(() => {
      clearTimeout(timer);
      reject(new Error('the client closed the connection'));
    });
  });
}

/** Splits a byte stream of concatenated JSON objects (resize messages). */
function jsonObjects(onObject: (o: Record<string, unknown>) => void): (d: Buffer) => void {
  let buf = '';
  return (d) => {
    buf += d.toString('utf8');
    let depth = 0;
    let start = -1;
    for (let i = 0; i < buf.length; i++) {
      if (buf[i] === '{') {
        if (depth++ === 0) start = i;
      } else if (buf[i] === '}' && depth > 0 && --depth === 0) {
        try {
          onObject(JSON.parse(buf.slice(start, i + 1)) as Record<string, unknown>);
        } catch {
          // a malformed message is skipped
        }
        buf = buf.slice(i + 1);
        i = -1;
      }
    }
    if (buf.length > 4096) buf = '';
  };
}

export async function serveRemoteCommand(session: SpdySession, r: StreamRequest, protocol: string, containers: ContainerService, log: Logger): Promise<void> {
  const io = r as Io;
  const v4 = protocol === 'v4.channel.k8s.io';
  const want = new Set(['error']);
  if (io.stdin) want.add('stdin');
  if (io.stdout) want.add('stdout');
  if (io.stderr && !io.tty) want.add('stderr');
  if (io.tty && (v4 || protocol === 'v3.channel.k8s.io')) want.add('resize');
  const streams = await collectStreams(session, want);
  const errStream = streams.get('error')!;
  const out = streams.get('stdout');
  const err = streams.get('stderr');
  const finish = (code: number | undefined, message?: string): void => {
    if (v4) {
      const status = code === 0 && !message
        ? { metadata: {}, status: 'Success' }
        : code !== undefined && !message
          ? { metadata: {}, status: 'Failure', message: `command terminated with non-zero exit code: error executing command [${(io.cmd ?? []).join(' ')}], exit code ${code}`, reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(code) }] } }
          : { metadata: {}, status: 'Failure', message: message ?? 'error', reason: 'InternalError' };
      errStream.write(Buffer.from(JSON.stringify(status)));
    } else if (message || (code !== undefined && code !== 0)) {
      errStream.write(Buffer.from(message ?? `command terminated with non-zero exit code: ${code}`));
    }
    for (const s of streams.values()) s.end();
  };
  const wireInput = (conn: StdioConnection, resize: (h: number, w: number) => Promise<void>): void => {
    const stdin = streams.get('stdin');
    stdin?.onData((d) => conn.write(d));
    stdin?.onEnd(() => conn.closeStdin());
    streams.get('resize')?.onData(jsonObjects((o) => {
      const w = Number(o['Width']);
      const h = Number(o['Height']);
      if (w > 0 && h > 0) resize(h, w).catch(() => {});
    }));
    conn.onOutput((stream, data) => ((stream === 'stderr' && !io.tty ? err : out) ?? out)?.write(data));
  };
  try {
    if (io.kind === 'exec') {
      const handle = await containers.execProcess(io.containerId, { execId: generateId(), cmd: io.cmd ?? [], tty: io.tty, stdin: io.stdin, attach: true });
      const conn = handle.stdio!;
      const drained = new Promise<void>((resolve) => (conn.ended ? resolve() : conn.onEnd(resolve)));
      wireInput(conn, (h, w) => handle.resize(h, w));
      session.onClose(() => conn.close());
      const code = await handle.exited;
      await Promise.race([drained, new Promise((res) => setTimeout(res, 2000).unref())]);
      conn.close();
      finish(code);
    } else {
      const conn = await containers.attachStdio(io.containerId);
      wireInput(conn, (h, w) => containers.resize(io.containerId, { height: h, width: w }));
      await new Promise<void>((resolve) => {
        conn.onEnd(resolve);
        session.onClose(resolve);
      });
      conn.close();
      finish(0);
    }
  } catch (e) {
    log.debug({ err: e }, 'remote command failed');
    finish(undefined, (e as Error).message);
  }
}
