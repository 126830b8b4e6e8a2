/**
 * The WebSocket bridge: one socket per browser tab carries every long-lived stream the
 * dashboard needs, because a browser keeps at most six HTTP/1.1 connections per origin and a
 * dashboard showing events, logs and stats would otherwise stall its own short requests.
 *
 * Protocol (JSON text frames; `id` is chosen by the page, unique per socket):
 *   page → server  {op:'stream', id, path}              GET path on the Engine API, streamed
 *                                                      (POST for pull and push progress)
 *                  {op:'exec', id, container, cmd, cols, rows}  exec with a tty, hijacked
 *                  {op:'input', id, data}              keystrokes for an exec
 *                  {op:'resize', id, cols, rows}       the terminal's size changed
 *                  {op:'cancel', id}                   stop that stream
 *   server → page  {op:'data', id, text}                a chunk
 *                  {op:'data', id, parts:[[stream, text]…]}  a chunk of multiplexed logs (2 = stderr)
 *                  {op:'end', id, error?}              the stream is over
 * Nothing here reaches the engine by another way than its API (exec create/start/resize, and
 * GET for events, logs and stats).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { FrameDecoder } from '../wire/stdcopy.js';
import type { Logger } from '../common/logger.js';
import type { ApiLink } from './api-link.js';
import type { UiSocket } from './websocket.js';

/** GET paths a page may stream; anything else is refused (the bridge is not a general proxy). */
const STREAMABLE = [/^\/events(\?|$)/, /^\/containers\/[^/?]+\/(logs|stats)(\?|$)/];
/** POSTs whose answer is a progress stream: pull and push. */
const PROGRESS = [/^\/images\/create\?/, /^\/images\/[^?]+\/push(\?|$)/];
/** At most this many streams per socket: a runaway page cannot exhaust the engine. */
const MAX_STREAMS = 128;
/** Pause reading from the engine while the browser has this much unsent data. */
const HIGH_WATER = 4 << 20;
/** How long log chunks are gathered into one message (well under the 100 ms update target); events and stats go at once. */
const FLUSH_MS = 15;
/** A closed terminal's connection is kept this long for the shell to see Ctrl-C, Ctrl-D. */
const EXEC_CLOSE_MS = 2000;

interface Stream {
  stop(): void;
  input?(data: string): void;
  resize?(cols: number, rows: number): void;
}

export function serveBridge(ws: UiSocket, api: ApiLink, log: Logger): void {
  const streams = new Map<string, Stream>();
  const end = (id: string, error?: string) => {
    if (!streams.delete(id)) return;
    ws.send(JSON.stringify({ op: 'end', id, ...(error ? { error } : {}) }));
  };
  ws.onClose(() => {
    for (const s of streams.values()) s.stop();
    streams.clear();
  });
  ws.onMessage((text) => {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text) as Record<string, unknown>;
    } catch {
      ws.close(1003, 'malformed message');
      return;
    }
    const id = typeof msg['id'] === 'string' ? msg['id'] : undefined;
    if (!id) return ws.send(JSON.stringify({ op: 'end', id: '', error: 'message without an id' }));
    const existing = streams.get(id);
    switch (msg['op']) {
      case 'cancel':
        existing?.stop();
        streams.delete(id);
        return;
      case 'input':
        if (typeof msg['data'] === 'string') existing?.input?.(msg['data']);
        return;
      case 'resize':
        existing?.resize?.(Number(msg['cols']), Number(msg['rows']));
        return;
      case 'stream':
      case 'exec': {
        if (existing) return ws.send(JSON.stringify({ op: 'end', id, error: `stream id "${id}" is in use` }));
        if (streams.size >= MAX_STREAMS) return ws.send(JSON.stringify({ op: 'end', id, error: `too many streams (at most ${MAX_STREAMS})` }));
        const stream = msg['op'] === 'stream' ? startStream(id, String(msg['path'] ?? '')) : startExec(id, msg);
        if (stream) streams.set(id, stream);
        return;
      }
      default:
        ws.send(JSON.stringify({ op: 'end', id, error: `unknown op "${String(msg['op'])}"` }));
    }
  });

  function startStream(id: string, path: string): Stream | undefined {
    const post = PROGRESS.some((re) => re.test(path));
    // Dot segments would be resolved by the engine's URL parser into another endpoint.
    const dotted = /\/\.\.?(\/|$)/.test(path.split('?')[0]!);
    if (dotted || (!post && !STREAMABLE.some((re) => re.test(path)))) {
      ws.send(JSON.stringify({ op: 'end', id, error: `path "${path}" cannot be streamed` }));
      return undefined;
    }
    const abort = new AbortController();
    const method = post ? 'POST' : 'GET';
    api
      .open(method, path, { signal: abort.signal })
      .then((res) => pump(id, res, path.includes('/logs') ? FLUSH_MS : 0))
      .catch((err: Error) => {
        if (!abort.signal.aborted) end(id, err.message);
      });
    return { stop: () => abort.abort() };
  }

  async function pump(id: string, res: IncomingMessage, flushMs: number): Promise<void> {
    const status = res.statusCode ?? 500;
    if (status >= 400) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString();
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        /* keep the text */
      }
      return end(id, message);
    }
    const multiplexed = String(res.headers['content-type'] ?? '').includes('multiplexed');
    // Chunks gathered for up to FLUSH_MS go out as one message: the engine writes a log line
    // per chunk, and a message per line (thousands a second) costs the page more than drawing.
    const parts: Array<[number, string]> = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      timer = undefined;
      if (!parts.length || !streams.has(id)) return;
      ws.send(JSON.stringify(multiplexed ? { op: 'data', id, parts } : { op: 'data', id, text: parts.map((p) => p[1]).join('') }));
      parts.length = 0;
    };
    const add = (s: number, text: string) => {
      const prev = parts[parts.length - 1];
      if (prev && prev[0] === s) prev[1] += text;
      else if (text) parts.push([s, text]);
      if (flushMs === 0) flush();
      else timer ??= setTimeout(flush, flushMs);
    };
    const frames = new FrameDecoder();
    const decoders = [new StringDecoder('utf8'), new StringDecoder('utf8'), new StringDecoder('utf8')];
    res.on('data', (chunk: Buffer) => {
      if (!streams.has(id)) return res.destroy();
      if (multiplexed) {
        for (const f of frames.push(chunk)) {
          const s = f.stream === 2 || f.stream === 3 ? 2 : 1;
          add(s, decoders[s]!.write(f.payload));
        }
      } else add(1, decoders[0]!.write(chunk));
      if (ws.bufferedAmount > HIGH_WATER) {
        res.pause();
        const wait = setInterval(() => {
          if (ws.bufferedAmount < HIGH_WATER / 4 || !streams.has(id)) {
            clearInterval(wait);
            res.resume();
          }
        }, 20);
      }
    });
    res.on('end', () => {
      clearTimeout(timer);
      flush();
      end(id);
    });
    res.on('error', (err) => {
      clearTimeout(timer);
      end(id, err.message);
    });
  }

  function startExec(id: string, msg: Record<string, unknown>): Stream | undefined {
    const container = String(msg['container'] ?? '');
    const cmd = Array.isArray(msg['cmd']) && msg['cmd'].every((c) => typeof c === 'string') ? (msg['cmd'] as string[]) : ['sh'];
    const cols = clampSize(msg['cols'], 80);
    const rows = clampSize(msg['rows'], 24);
    let socket: Duplex | undefined;
    let execId: string | undefined;
    let stopped = false;
    const stream: Stream = {
      stop() {
        stopped = true;
        if (!socket) return;
        // The API has no way to end an exec, and a closed connection leaves the shell running:
        // Ctrl-C then Ctrl-D on the tty ends the shell (or what runs in it) the way a user would;
        // apart, because the tty discards input queued behind an interrupt.
        const s = socket;
        s.write('\x03');
        setTimeout(() => s.write('\x04', () => s.end()), 200).unref();
        setTimeout(() => s.destroy(), EXEC_CLOSE_MS).unref();
      },
      input(data) {
        socket?.write(data);
      },
      resize(c, r) {
        if (!execId) return;
        api.json('POST', `/exec/${execId}/resize?h=${clampSize(r, rows)}&w=${clampSize(c, cols)}`).catch((err: Error) => log.debug({ err: err.message }, 'exec resize failed'));
      },
    };
    void (async () => {
      try {
        const created = await api.json<{ Id: string }>('POST', `/containers/${encodeURIComponent(container)}/exec`, {
          Cmd: cmd, Tty: true, AttachStdin: true, AttachStdout: true, AttachStderr: true, ConsoleSize: [rows, cols], Env: ['TERM=xterm-256color'],
        });
        execId = created.Id;
        const s = await api.hijack(`/exec/${execId}/start`, { Detach: false, Tty: true, ConsoleSize: [rows, cols] });
        if (stopped) return s.destroy();
        socket = s;
        const decoder = new StringDecoder('utf8');
        s.on('data', (c: Buffer) => ws.send(JSON.stringify({ op: 'data', id, text: decoder.write(c) })));
        s.on('close', () => end(id));
        s.on('error', () => s.destroy());
        ws.send(JSON.stringify({ op: 'started', id, execId }));
      } catch (err) {
        end(id, (err as Error).message);
      }
    })();
    return stream;
  }
}

function clampSize(v: unknown, dflt: number): number {
  const n = Math.trunc(Number(v));
  return Number.isFinite(n) && n >= 1 && n <= 1000 ? n : dflt;
}
