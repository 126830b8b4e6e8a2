/**
 * The page's two ways to the engine: `api()` for short requests (fetch on /api/…, relayed
 * by berthd to the Engine API) and `bridge` for long-lived streams (events, logs, stats, pull
 * progress, exec terminals) multiplexed on one WebSocket (src/ui/stream-bridge.ts).
 */

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`/api${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) {
    let message = text;
    try {
      message = JSON.parse(text).message ?? text;
    } catch {
      /* plain text */
    }
    throw new ApiError(res.status, message || `${res.status} ${res.statusText}`);
  }
  return (text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T;
}

/** Fetches a binary body (archives). */
export async function apiBytes(path: string): Promise<Uint8Array> {
  const res = await fetch(`/api${path}`);
  if (!res.ok) {
    const text = await res.text();
    let message = text;
    try {
      message = JSON.parse(text).message ?? text;
    } catch {
      /* plain text */
    }
    throw new ApiError(res.status, message);
  }
  return new Uint8Array(await res.arrayBuffer());
}

export interface StreamHandlers {
  onData(text: string, stream?: number): void;
  onEnd?(error?: string): void;
  onStarted?(): void;
}

export interface StreamHandle {
  cancel(): void;
  input(data: string): void;
  resize(cols: number, rows: number): void;
}

type Msg = { op: string; id: string; text?: string; parts?: Array<[number, string]>; error?: string };

/** One WebSocket per tab; reconnects with back-off and restarts the streams that were open. */
class Bridge {
  #ws?: WebSocket;
  #open = false;
  #queue: string[] = [];
  #handlers = new Map<string, { h: StreamHandlers; start: object }>();
  #next = 1;
  #retry = 250;
  statusListeners = new Set<(up: boolean) => void>();

  #connect(): void {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    this.#ws = ws;
    ws.onopen = () => {
      this.#open = true;
      this.#retry = 250;
      for (const l of this.statusListeners) l(true);
      for (const q of this.#queue.splice(0)) ws.send(q);
    };
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data as string) as Msg;
      const e = this.#handlers.get(m.id);
      if (!e) return;
      if (m.op === 'data') {
        if (m.parts) for (const [stream, text] of m.parts) e.h.onData(text, stream);
        else e.h.onData(m.text ?? '');
      }
      else if (m.op === 'started') e.h.onStarted?.();
      else if (m.op === 'end') {
        this.#handlers.delete(m.id);
        e.h.onEnd?.(m.error);
      }
    };
    ws.onclose = () => {
      this.#open = false;
      this.#ws = undefined;
      for (const l of this.statusListeners) l(false);
      // Streams cut by a lost connection end with an error; their owners decide whether to reopen.
      for (const [id, e] of [...this.#handlers]) {
        this.#handlers.delete(id);
        e.h.onEnd?.('connection to berthd lost');
      }
      setTimeout(() => this.#connect(), this.#retry);
      this.#retry = Math.min(this.#retry * 2, 5000);
    };
  }

  #send(msg: object): void {
    const text = JSON.stringify(msg);
    if (!this.#ws) this.#connect();
    if (this.#open) this.#ws!.send(text);
    else this.#queue.push(text);
  }

  #start(start: Record<string, unknown>, h: StreamHandlers): StreamHandle {
    const id = `s${this.#next++}`;
    this.#handlers.set(id, { h, start });
    this.#send({ ...start, id });
    return {
      cancel: () => {
        if (this.#handlers.delete(id)) this.#send({ op: 'cancel', id });
      },
      input: (data) => this.#send({ op: 'input', id, data }),
      resize: (cols, rows) => this.#send({ op: 'resize', id, cols, rows }),
    };
  }

  /** Streams GET `path` (events, logs, stats) or a pull (`/images/create?…`). */
  stream(path: string, h: StreamHandlers): StreamHandle {
    return this.#start({ op: 'stream', path }, h);
  }

  /** An exec with a tty in `container`. */
  exec(container: string, cmd: string[], size: { cols: number; rows: number }, h: StreamHandlers): StreamHandle {
    return this.#start({ op: 'exec', container, cmd, ...size }, h);
  }
}

export const bridge = new Bridge();

/** Splits a stream of newline-delimited JSON into objects. */
export function jsonLines<T>(fn: (v: T) => void): (text: string) => void {
  let buf = '';
  return (text) => {
    buf += text;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) fn(JSON.parse(line) as T);
    }
  };
}
