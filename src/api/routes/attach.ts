/**
 * Hijacked stdio streams (POST /containers/{id}/attach, POST /exec/{id}/start), as the Docker
 * API does them: `Upgrade: tcp` → 101 (or 200 for a plain request), then raw bytes both ways.
 * Output is `application/vnd.docker.raw-stream` for a TTY, else stdcopy frames
 * (`application/vnd.docker.multiplexed-stream`). The client's bytes are the process's stdin;
 * the client half-closing is stdin's end (see engine/attach.ts for what that means).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { InvalidParameterError } from '../../common/errors.js';
import type { ContainerService } from '../../engine/container-service.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys, wireAttach } from '../../engine/attach.js';
import type { LogRecord } from '../../runtime/runtime.js';
import { encodeFrame, STDERR, STDOUT } from '../../wire/stdcopy.js';
import { queryBool, readJson, type RouteContext } from '../router.js';
import { checkJsonContentType } from '../request-guards.js';

export const RAW_STREAM = 'application/vnd.docker.raw-stream';
/** How long already-available output waits after a hijacked response's head (see below). */
export const HEAD_SETTLE_MS = 50;
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

/** Writes one chunk of output: raw for a TTY, else a stdcopy frame. */
export function outputWriter(socket: Duplex, tty: boolean): (stream: 'stdout' | 'stderr', data: Buffer) => void {
  return (stream, data) => {
    if (socket.destroyed || socket.writableEnded) return;
    socket.write(tty ? data : encodeFrame(stream === 'stdout' ? STDOUT : STDERR, data));
  };
}

/**
 * POST /containers/{id}/attach. With stdin (on a container that keeps it open) the session
 * runs over the monitor's attach socket: live output, stdin, detach keys; a container not yet
 * running is attached when it starts, before its process runs. Without stdin the output is
 * followed in the container's log, from its start for a container about to start.
 */
export async function handleContainerAttach(ctx: RouteContext, containers: ContainerService): Promise<void> {
  const q = ctx.query;
  const rec = containers.get(ctx.params.id!);
  if (!queryBool(q, 'stream') && !queryBool(q, 'logs')) throw new InvalidParameterError('Bad parameters: you must choose at least one stream');
  const stdout = queryBool(q, 'stdout');
  const stderr = queryBool(q, 'stderr');
  const stdin = queryBool(q, 'stdin') && (rec.config.openStdin ?? false);
  const detachKeys = parseDetachKeys(q.get('detachKeys') || DEFAULT_DETACH_KEYS);
  const tty = rec.config.tty ?? false;
  const contentType = tty ? RAW_STREAM : MULTIPLEXED_STREAM;

  if (!stdin || !queryBool(q, 'stream')) {
    const abort = new AbortController();
    const records = queryBool(q, 'stream') ? containers.attachOutput(rec.id, abort.signal, { logs: queryBool(q, 'logs') }) : containers.logs(rec.id, { follow: false, signal: abort.signal });
    const socket = ctx.hijack(contentType);
    socket.on('close', () => abort.abort());
    socket.on('error', () => abort.abort());
    socket.resume(); // no stdin: drain and ignore whatever the client sends
    // Output that is already there (the log replay) waits a moment after the response head:
    // docker-py reads the head through a buffered reader and then the raw socket, so bytes
    // that arrive together with the head would be lost to it (its attach(logs=True) race).
    if (queryBool(q, 'logs')) await new Promise((r) => setTimeout(r, HEAD_SETTLE_MS));
    await pumpRecords(records, socket, { stdout, stderr, tty }).catch(() => {});
    socket.end();
    return;
  }

  const abort = new AbortController();
  const connecting = containers.attachStdio(rec.id, { signal: abort.signal });
  connecting.catch(() => {});
  const socket = ctx.hijack(contentType);
  // Hold the client's bytes until the process's stdin is there.
  socket.pause();
  socket.once('close', () => abort.abort());
  socket.on('error', () => abort.abort());
  let conn;
  try {
    conn = await connecting;
    // logs=1 on an interactive attach: the log so far goes out before the live stream.
    if (queryBool(q, 'logs')) await pumpRecords(containers.logs(rec.id, { follow: false, signal: abort.signal }), socket, { stdout, stderr, tty });
  } catch (err) {
    ctx.log.debug({ err, container: rec.id }, 'attach ended before the container started');
    socket.end();
    return;
  }
  const how = await wireAttach({
    conn,
    input: socket,
    stdin: true,
    tty,
    closeStdinOnEof: rec.config.stdinOnce ?? false,
    detachKeys,
    stdout,
    stderr,
    output: outputWriter(socket, tty),
  });
  ctx.log.debug({ container: rec.id, how }, 'attach ended');
  socket.end();
}

/** Copies log records to the client (the non-interactive attach). */
async function pumpRecords(records: AsyncIterable<LogRecord>, out: Duplex, o: { stdout: boolean; stderr: boolean; tty: boolean }): Promise<void> {
  for await (const r of records) {
    if (r.stream === 'stdout' ? !o.stdout : !o.stderr) continue;
    if (!out.write(o.tty ? r.data : encodeFrame(r.stream === 'stdout' ? STDOUT : STDERR, r.data))) {
      await new Promise<void>((resolve) => {
        out.once('drain', resolve);
        out.once('close', resolve);
      });
    }
    if (out.destroyed) return;
  }
}

/**
 * The JSON body of a request that may be an upgrade: Node hands an upgraded request's body
 * to us as raw socket bytes (its HTTP parser stops at the headers), so read Content-Length
 * bytes from the socket there.
 */
export async function readBodyMaybeUpgraded(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!(req as IncomingMessage & { upgrade?: boolean }).upgrade) return readJson(req);
  const len = Number(req.headers['content-length'] ?? 0);
  if (!Number.isInteger(len) || len <= 0) return {};
  checkJsonContentType(req, true);
  if (len > 1 << 20) throw new InvalidParameterError('request body is too large');
  const socket = req.socket;
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got < len) return;
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.pause();
      const all = Buffer.concat(chunks);
      if (all.length > len) socket.unshift(all.subarray(len));
      resolve(all.subarray(0, len));
    };
    const onEnd = () => reject(new InvalidParameterError('request body ended early'));
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.resume();
  });
  const text = body.toString('utf8').trim();
  if (!text) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new InvalidParameterError(`invalid JSON: ${(e as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new InvalidParameterError('invalid JSON: expected an object');
  return value as Record<string, unknown>;
}
