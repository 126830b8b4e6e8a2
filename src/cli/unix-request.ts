/**
 * One HTTP/1.1 request with a Buffer body over a unix socket, without node:http: what `berth
 * build` uses to send a context that fits in memory to a local daemon.
 *
 * Why (issue 5, fully cached rebuilds): a CLI process runs node:http's client cold. Loading it
 * and running a request through ClientRequest, the Agent and the incoming-message parser took
 * 8-10 ms of a ~90 ms rebuild; this writes the request head and body in one writev right after
 * connect and reads the answer with a small parser. Everything else (TLS, TCP, streamed bodies,
 * hijacked connections) stays with ApiClient; errors are the same types ApiClient raises
 * (DaemonUnreachableError, ApiError with the daemon's `message`).
 *
 * Answers: a status line and headers, then a chunked body, a Content-Length body, or a body
 * up to the end of the connection (the request says `Connection: close`). 1xx answers are
 * skipped.
 */
import type { Socket } from 'node:net';
import { DaemonUnreachableError, errorFromBody } from '../client/errors.js';

/** wire/api-version.ts, re-exported (client.ts would load node:http, which this module avoids). */
export { API_VERSION } from '../wire/api-version.js';

/** The socket path of a `unix://` host (or a bare absolute path), else undefined. */
export function unixSocketPath(host: string): string | undefined {
  if (host.startsWith('/')) return host;
  const m = /^unix:\/\/(\/.*)$/i.exec(host);
  return m ? m[1] : undefined;
}

/** The answer: status, headers (lower-case names) and the body as it arrives. */
export interface UnixResponse {
  status: number;
  headers: Record<string, string>;
  body: AsyncIterable<Buffer>;
  /** Drops the connection (the rest of the body is not read). */
  destroy(): void;
}

const MAX_HEAD = 64 * 1024;

/** The body of an answer as it is parsed: an async iterable fed by the socket's data events. */
export class BodyQueue implements AsyncIterable<Buffer> {
  readonly #items: Buffer[] = [];
  #done = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  push(b: Buffer): void {
    if (b.length) this.#items.push(b);
    this.#signal();
  }

  end(err?: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = err;
    this.#signal();
  }

  get done(): boolean {
    return this.#done;
  }

  #signal(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.#items.length) {
        yield this.#items.shift()!;
        continue;
      }
      if (this.#done) {
        if (this.#error) throw this.#error;
        return;
      }
      await new Promise<void>((r) => (this.#wake = r));
    }
  }
}

/**
 * Incremental parser of an HTTP/1.1 response: `push` the bytes as they come; the head goes to
 * `onHead`, the decoded body to `body`.
 */
export class ResponseParser {
  #buf: Buffer = Buffer.alloc(0);
  #state: 'head' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailer' | 'length' | 'eof' | 'done' = 'head';
  #left = 0;
  status = 0;
  headers: Record<string, string> = {};

  constructor(
    readonly onHead: (status: number, headers: Record<string, string>) => void,
    readonly body: BodyQueue,
  ) {}

  get complete(): boolean {
    return this.#state === 'done';
  }

  push(chunk: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    for (;;) {
      switch (this.#state) {
        case 'head': {
          const end = this.#buf.indexOf('\r\n\r\n');
          if (end < 0) {
            if (this.#buf.length > MAX_HEAD) throw new Error('malformed HTTP response: header section too large');
            return;
          }
          const lines = this.#buf.toString('latin1', 0, end).split('\r\n');
          this.#buf = this.#buf.subarray(end + 4);
          const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0]!);
          if (!m) throw new Error(`malformed HTTP response: ${JSON.stringify(lines[0]!.slice(0, 80))}`);
          const status = Number(m[1]);
          if (status >= 100 && status < 200) continue; // an interim answer: the real one follows
          const headers: Record<string, string> = {};
          for (let i = 1; i < lines.length; i++) {
            const colon = lines[i]!.indexOf(':');
            if (colon <= 0) throw new Error(`malformed HTTP response header: ${JSON.stringify(lines[i]!.slice(0, 80))}`);
            const name = lines[i]!.slice(0, colon).trim().toLowerCase();
            const value = lines[i]!.slice(colon + 1).trim();
            headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
          }
          this.status = status;
          this.headers = headers;
          if (/(?:^|,)\s*chunked\s*$/i.test(headers['transfer-encoding'] ?? '')) this.#state = 'chunk-size';
          else if (headers['content-length'] !== undefined) {
            if (!/^\d+$/.test(headers['content-length'])) throw new Error(`malformed HTTP response: Content-Length ${JSON.stringify(headers['content-length'])}`);
            this.#left = Number(headers['content-length']);
            this.#state = this.#left === 0 || status === 204 || status === 304 ? 'done' : 'length';
          } else this.#state = status === 204 || status === 304 ? 'done' : 'eof';
          this.onHead(status, headers);
          if (this.#state === 'done') this.body.end();
          continue;
        }
        case 'chunk-size': {
          const nl = this.#buf.indexOf('\r\n');
          if (nl < 0) {
            if (this.#buf.length > 1024) throw new Error('malformed HTTP response: bad chunk size line');
            return;
          }
          const line = this.#buf.toString('latin1', 0, nl);
          this.#buf = this.#buf.subarray(nl + 2);
          const m = /^([0-9a-fA-F]{1,12})(?:;.*)?$/.exec(line.trim());
          if (!m) throw new Error(`malformed HTTP response: bad chunk size ${JSON.stringify(line.slice(0, 40))}`);
          this.#left = parseInt(m[1]!, 16);
          this.#state = this.#left === 0 ? 'trailer' : 'chunk-data';
          continue;
        }
        case 'chunk-data':
        case 'length': {
          if (this.#buf.length === 0) return;
          const n = Math.min(this.#left, this.#buf.length);
          this.body.push(this.#buf.subarray(0, n));
          this.#buf = this.#buf.subarray(n);
          this.#left -= n;
          if (this.#left > 0) return;
          if (this.#state === 'length') {
            this.#state = 'done';
            this.body.end();
          } else this.#state = 'chunk-crlf';
          continue;
        }
        case 'chunk-crlf': {
          if (this.#buf.length < 2) return;
          if (this.#buf[0] !== 13 || this.#buf[1] !== 10) throw new Error('malformed HTTP response: chunk not followed by CRLF');
          this.#buf = this.#buf.subarray(2);
          this.#state = 'chunk-size';
          continue;
        }
        case 'trailer': {
          // Trailer fields (none expected) up to an empty line.
          const nl = this.#buf.indexOf('\r\n');
          if (nl < 0) return;
          this.#buf = this.#buf.subarray(nl + 2);
          if (nl === 0) {
            this.#state = 'done';
            this.body.end();
          }
          continue;
        }
        case 'eof':
          if (this.#buf.length) this.body.push(this.#buf);
          this.#buf = Buffer.alloc(0);
          return;
        case 'done':
          return;
      }
    }
  }

  /** The connection ended: fine for a body that runs to EOF, an error anywhere else. */
  end(): void {
    if (this.#state === 'eof') {
      this.#state = 'done';
      this.body.end();
    } else if (this.#state !== 'done') throw new Error('the daemon closed the connection before the answer was complete');
  }
}

function unreachable(err: NodeJS.ErrnoException, url: string): Error {
  // ApiClient's wording (client.ts), so a build reports an absent daemon as every command does.
  if (err.code === 'EACCES') {
    return new DaemonUnreachableError(`permission denied while trying to connect to the berth daemon socket at ${url}: ${err.message}`, { cause: err });
  }
  if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTSOCK') {
    return new DaemonUnreachableError(`Cannot connect to the berth daemon at ${url}. Is the berth daemon running?`, { cause: err });
  }
  return err;
}

async function readAll(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of body) parts.push(b);
  return Buffer.concat(parts);
}


/**
 * Sends `method path` with `body` to the daemon on `socketPath` and resolves with the answer
 * once its head is in (2xx/3xx), or rejects with ApiError (4xx/5xx, body read) or
 * DaemonUnreachableError. `url` is the host as the user gave it, for messages.
 */
export function unixRequest(
  socketPath: string, url: string, method: string, path: string, headers: Record<string, string | number>, body: Buffer,
): Promise<UnixResponse> {
  return new Promise((resolve, reject) => {
    const queue = new BodyQueue();
    let socket: Socket | undefined;
    let settled = false;
    const fail = (err: Error): void => {
      socket?.destroy();
      if (!settled) {
        settled = true;
        reject(err);
      } else queue.end(err);
    };
    const parser = new ResponseParser((status) => {
      if (status < 400) {
        settled = true;
        resolve({
          status,
          headers: parser.headers,
          body: queue,
          destroy: () => {
            socket?.destroy();
            queue.end();
          },
        });
        return;
      }
      // An error answer: its body is the message.
      settled = true;
      readAll(queue).then((buf) => reject(errorFromBody(status, buf)), reject);
    }, queue);
    let head = `${method} ${path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: berth\r\nConnection: close\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    head += `Content-Length: ${body.length}\r\n\r\n`;
    // node:net loaded here, not at the top: a module that loads it cannot be kept in the CLI's
    // start-up snapshot (scripts/build-cli.mjs), and the build command is.
    socket = process.getBuiltinModule('node:net').connect(socketPath);
    socket.on('error', (err) => fail(settled ? err : unreachable(err, url)));
    socket.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
        if (parser.complete) socket!.destroy();
      } catch (e) {
        fail(e as Error);
      }
    });
    socket.on('end', () => {
      try {
        parser.end();
      } catch (e) {
        fail(e as Error);
      }
    });
    socket.on('close', () => {
      if (!parser.complete && !queue.done) fail(new Error('the daemon closed the connection before the answer was complete'));
    });
    // Queued until the connection is up, then written together (one writev).
    socket.cork();
    socket.write(head, 'latin1');
    if (body.length) socket.write(body);
    socket.uncork();
  });
}
