/**
 * The server side of a SPDY/3.1 session, as far as the Kubernetes streaming protocols use it:
 * the client opens streams (SYN_STREAM with its own headers such as `streamType`), the server
 * replies (SYN_REPLY), both send DATA with FIN for a half-close, RST_STREAM aborts, PING is
 * echoed, GOAWAY ends the session. SETTINGS and WINDOW_UPDATE are read and ignored: Go's
 * spdystream (the client of kubelet, crictl and critest) does no flow control either.
 *
 * Hand-written because the npm SPDY library (spdy-transport 3.0, from node-spdy) only accepts
 * HTTP-shaped streams: its parser rejects every SYN_STREAM without `:method` and `:path`
 * ("Missing `:method` and/or `:path` header"), and spdystream never sends them. The header
 * compression dictionary of SPDY/3 (a constant of the protocol) comes from that library.
 *
 * Frames are handled strictly in order (the header blocks share one zlib context per
 * direction), through one promise chain per direction.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import zlib from 'node:zlib';
import type { Logger } from '../common/logger.js';

const require = createRequire(import.meta.url);
const DICTIONARY: Buffer = (require('spdy-transport/lib/spdy-transport/protocol/spdy/dictionary.js') as Record<string, Buffer>)['3']!;

const TYPE = { SYN_STREAM: 1, SYN_REPLY: 2, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, HEADERS: 8, WINDOW_UPDATE: 9 } as const;
const FLAG_FIN = 0x01;
const FLAG_UNIDIRECTIONAL = 0x02;
const MAX_DATA = 32 * 1024;
/** Largest frame accepted (header blocks and data alike): bounds memory per connection. */
const MAX_FRAME = 1 << 20;

/** One stream a client opened. */
export class SpdyStream {
  readonly id: number;
  readonly headers: Record<string, string>;
  readonly #session: SpdySession;
  #dataFns: ((d: Buffer) => void)[] = [];
  #endFns: (() => void)[] = [];
  #pending: Buffer[] = [];
  #remoteEnded = false;
  #localEnded: boolean;
  #reset = false;

  constructor(session: SpdySession, id: number, headers: Record<string, string>, localEnded: boolean) {
    this.#session = session;
    this.id = id;
    this.headers = headers;
    this.#localEnded = localEnded;
  }

  get remoteEnded(): boolean {
    return this.#remoteEnded;
  }

  /** Data from the client (buffered until a listener is set). */
  onData(fn: (d: Buffer) => void): void {
    this.#dataFns.push(fn);
    for (const d of this.#pending.splice(0)) fn(d);
  }

  /** The client half-closed (FIN) or reset the stream. */
  onEnd(fn: () => void): void {
    if (this.#remoteEnded) fn();
    else this.#endFns.push(fn);
  }

  write(data: Buffer): void {
    if (this.#localEnded || this.#reset) return;
    for (let i = 0; i < data.length; i += MAX_DATA) this.#session.sendData(this.id, data.subarray(i, i + MAX_DATA), false);
  }

  end(): void {
    if (this.#localEnded || this.#reset) return;
    this.#localEnded = true;
    this.#session.sendData(this.id, Buffer.alloc(0), true);
  }

  /** @internal */
  receive(data: Buffer, fin: boolean): void {
    if (data.length) {
      if (this.#dataFns.length) for (const f of this.#dataFns) f(data);
      else this.#pending.push(data);
    }
    if (fin) this.remoteEnd();
  }

  /** @internal */
  remoteEnd(reset = false): void {
    if (reset) this.#reset = true;
    if (this.#remoteEnded) return;
    this.#remoteEnded = true;
    for (const f of this.#endFns.splice(0)) f();
  }
}

export class SpdySession {
  readonly #socket: Socket;
  readonly #log: Logger;
  readonly #inflate = zlib.createInflate({ dictionary: DICTIONARY });
  readonly #deflate = zlib.createDeflate({ dictionary: DICTIONARY });
  readonly #streams = new Map<number, SpdyStream>();
  #buf: Buffer = Buffer.alloc(0);
  #inChain: Promise<void> = Promise.resolve();
  #outChain: Promise<void> = Promise.resolve();
  #streamFns: ((s: SpdyStream) => void)[] = [];
  #closeFns: (() => void)[] = [];
  #closed = false;

  constructor(socket: Socket, log: Logger) {
    this.#socket = socket;
    this.#log = log;
    this.#inflate.on('error', (err) => this.#fail(err));
    this.#deflate.on('error', (err) => this.#fail(err));
    socket.on('data', (d: Buffer) => this.feed(d));
    socket.on('close', () => this.#teardown());
    socket.on('end', () => this.#teardown());
  }

  onStream(fn: (s: SpdyStream) => void): void {
    this.#streamFns.push(fn);
  }

  onClose(fn: () => void): void {
    if (this.#closed) fn();
    else this.#closeFns.push(fn);
  }

  get closed(): boolean {
    return this.#closed;
  }

  feed(d: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
    while (this.#buf.length >= 8) {
      const len = this.#buf.readUIntBE(5, 3);
      if (len > MAX_FRAME) return this.#fail(new Error(`SPDY frame of ${len} bytes is too large`));
      if (this.#buf.length < 8 + len) break;
      const frame = this.#buf.subarray(0, 8 + len);
      this.#buf = this.#buf.subarray(8 + len);
      this.#inChain = this.#inChain.then(() => this.#handle(frame)).catch((err: unknown) => this.#fail(err as Error));
    }
  }

  async #handle(f: Buffer): Promise<void> {
    if (this.#closed) return;
    const control = (f[0]! & 0x80) !== 0;
    const flags = f[4]!;
    const body = f.subarray(8);
    if (!control) {
      const id = f.readUInt32BE(0) & 0x7fffffff;
      this.#streams.get(id)?.receive(Buffer.from(body), (flags & FLAG_FIN) !== 0);
      return;
    }
    const version = f.readUInt16BE(0) & 0x7fff;
    if (version !== 3) throw new Error(`unsupported SPDY version ${version}`);
    const type = f.readUInt16BE(2);
    switch (type) {
      case TYPE.SYN_STREAM: {
        const id = body.readUInt32BE(0) & 0x7fffffff;
        const headers = decodeHeaders(await this.#z(this.#inflate, body.subarray(10)));
        const s = new SpdyStream(this, id, headers, (flags & FLAG_UNIDIRECTIONAL) !== 0);
        this.#streams.set(id, s);
        await this.#reply(id);
        if (flags & FLAG_FIN) s.remoteEnd();
        for (const fn of this.#streamFns) fn(s);
        return;
      }
      case TYPE.HEADERS:
        await this.#z(this.#inflate, body.subarray(4));
        return;
      case TYPE.RST_STREAM: {
        const id = body.readUInt32BE(0) & 0x7fffffff;
        this.#streams.get(id)?.remoteEnd(true);
        this.#streams.delete(id);
        return;
      }
      case TYPE.PING:
        this.#write(Buffer.from(f));
        return;
      case TYPE.GOAWAY:
        this.close();
        return;
      default:
        // SETTINGS, WINDOW_UPDATE, NOOP and CREDENTIAL carry nothing we act on.
        return;
    }
  }

  /** Runs one header block through a session's zlib context (in order, flushed). */
  #z(stream: zlib.Inflate | zlib.Deflate, data: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      const onData = (d: Buffer): void => {
        out.push(d);
      };
      stream.on('data', onData);
      stream.write(data, (err) => {
        if (err) {
          stream.off('data', onData);
          reject(err);
        }
      });
      stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        stream.off('data', onData);
        resolve(Buffer.concat(out));
      });
    });
  }

  #reply(id: number): Promise<void> {
    const p = this.#outChain.then(async () => {
      const block = await this.#z(this.#deflate, encodeHeaders({}));
      const payload = Buffer.alloc(4 + block.length);
      payload.writeUInt32BE(id & 0x7fffffff, 0);
      block.copy(payload, 4);
      this.#write(controlFrame(TYPE.SYN_REPLY, 0, payload));
    });
    this.#outChain = p.catch(() => {});
    return p;
  }

  /** @internal: DATA frames go out after any reply queued before them. */
  sendData(id: number, data: Buffer, fin: boolean): void {
    this.#outChain = this.#outChain.then(() => {
      const h = Buffer.alloc(8);
      h.writeUInt32BE(id & 0x7fffffff, 0);
      h.writeUInt8(fin ? FLAG_FIN : 0, 4);
      h.writeUIntBE(data.length, 5, 3);
      this.#write(data.length ? Buffer.concat([h, data]) : h);
    });
  }

  #write(b: Buffer): void {
    if (!this.#closed && !this.#socket.destroyed) this.#socket.write(b);
  }

  #fail(err: Error): void {
    this.#log.debug({ err }, 'SPDY session error');
    this.close();
  }

  /** Sends GOAWAY after what is queued and closes the connection. */
  close(): void {
    if (this.#closed) return;
    void this.#outChain.then(() => {
      if (this.#closed) return;
      const payload = Buffer.alloc(8);
      this.#write(controlFrame(TYPE.GOAWAY, 0, payload));
      this.#socket.end();
      this.#teardown();
    });
  }

  #teardown(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#streams.values()) s.remoteEnd(true);
    this.#streams.clear();
    this.#inflate.close();
    this.#deflate.close();
    setTimeout(() => this.#socket.destroy(), 1000).unref();
    for (const f of this.#closeFns.splice(0)) f();
  }
}

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8000 | 3, 0);
  h.writeUInt16BE(type, 2);
  h.writeUInt8(flags, 4);
  h.writeUIntBE(payload.length, 5, 3);
  return Buffer.concat([h, payload]);
}

/** SPDY/3 name/value header block (uncompressed): lower-case names; multiple values joined by NUL are kept as one string. */
export function decodeHeaders(b: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  if (b.length < 4) return out;
  const n = b.readUInt32BE(0);
  let o = 4;
  for (let i = 0; i < n && o + 4 <= b.length; i++) {
    const nl = b.readUInt32BE(o);
    o += 4;
    if (o + nl > b.length) break;
    const name = b.subarray(o, o + nl).toString('utf8').toLowerCase();
    o += nl;
    if (o + 4 > b.length) break;
    const vl = b.readUInt32BE(o);
    o += 4;
    if (o + vl > b.length) break;
    out[name] = b.subarray(o, o + vl).toString('utf8');
    o += vl;
  }
  return out;
}

export function encodeHeaders(h: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  const n = Buffer.alloc(4);
  n.writeUInt32BE(Object.keys(h).length, 0);
  parts.push(n);
  for (const [k, v] of Object.entries(h)) {
    for (const s of [k.toLowerCase(), v]) {
      const b = Buffer.from(s, 'utf8');
      const l = Buffer.alloc(4);
      l.writeUInt32BE(b.length, 0);
      parts.push(l, b);
    }
  }
  return Buffer.concat(parts);
}
