/**
 * Front door of the CRI socket: passes each connection to the gRPC server on a private socket,
 * rewriting one thing on the way in, the HTTP/2 `:authority` of requests.
 *
 * Why: gRPC-Go clients of the Kubernetes 1.26 era (crictl, critest, kubelet ≤ 1.26) send the
 * UNIX socket's path as `:authority` (`/run/berth/cri.sock`). A `/` is not allowed in an
 * authority (RFC 3986), and Node's HTTP/2 (nghttp2, under @grpc/grpc-js) resets such a stream
 * with PROTOCOL_ERROR before any handler sees it; Node offers no switch to relax that check
 * (measured: `crictl version` against a bare `http2.createServer` on a UNIX socket → RST_STREAM
 * PROTOCOL_ERROR; later gRPC-Go sends `localhost`). So the literal `:authority` header field in
 * each HEADERS block is replaced by `localhost`; everything else in the stream is copied.
 *
 * HPACK stays consistent: gRPC-Go's encoder names `:authority` by static index 1, so only
 * literal fields with name index 1 are touched. A replaced value that enters the dynamic table
 * there is shorter than the client's entry, so the server's table only ever evicts later than
 * the client's, and every index the client sends still points at the same entry.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const TYPE_HEADERS = 0x1;
const TYPE_CONTINUATION = 0x9;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
const REPLACEMENT = Buffer.from('localhost');
/** Largest header block gathered from HEADERS + CONTINUATION (bounds memory per connection). */
const MAX_BLOCK = 1 << 20;

/** Reads an HPACK integer with an N-bit prefix at `o`; returns [value, next offset]. */
function readInt(b: Buffer, o: number, bits: number): [number, number] {
  const max = (1 << bits) - 1;
  let v = b[o]! & max;
  o++;
  if (v < max) return [v, o];
  let m = 0;
  for (;;) {
    if (o >= b.length) throw new Error('truncated HPACK integer');
    const byte = b[o++]!;
    v += (byte & 0x7f) * 2 ** m;
    m += 7;
    if (!(byte & 0x80)) return [v, o];
    if (m > 28) throw new Error('HPACK integer too large');
  }
}

/** Skips an HPACK string literal at `o`; returns the next offset. */
function skipString(b: Buffer, o: number): number {
  const [len, p] = readInt(b, o, 7);
  if (p + len > b.length) throw new Error('truncated HPACK string');
  return p + len;
}

/** Rewrites a header block: literal `:authority` (static name index 1) values become `localhost`. */
export function rewriteAuthority(block: Buffer): Buffer {
  const out: Buffer[] = [];
  let o = 0;
  let copied = 0;
  while (o < block.length) {
    const first = block[o]!;
    if (first & 0x80) {
      o = readInt(block, o, 7)[1];
    } else if ((first & 0xe0) === 0x20) {
      o = readInt(block, o, 5)[1];
    } else {
      const bits = (first & 0xc0) === 0x40 ? 6 : 4;
      const [index, p] = readInt(block, o, bits);
      let q = index === 0 ? skipString(block, p) : p;
      const valueStart = q;
      q = skipString(block, q);
      if (index === 1) {
        out.push(block.subarray(copied, valueStart), Buffer.from([REPLACEMENT.length]), REPLACEMENT);
        copied = q;
      }
      o = q;
    }
  }
  if (!out.length) return block;
  out.push(block.subarray(copied));
  return Buffer.concat(out);
}

/** The client → server byte filter of one connection. */
class Filter {
  #buf: Buffer = Buffer.alloc(0);
  #preface = false;
  #pending?: { streamId: number; flags: number; priority: Buffer; parts: Buffer[]; size: number };

  push(d: Buffer): Buffer {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
    const out: Buffer[] = [];
    if (!this.#preface) {
      if (this.#buf.length < PREFACE.length) return Buffer.alloc(0);
      out.push(this.#buf.subarray(0, PREFACE.length));
      this.#buf = this.#buf.subarray(PREFACE.length);
      this.#preface = true;
    }
    while (this.#buf.length >= 9) {
      const len = this.#buf.readUIntBE(0, 3);
      if (this.#buf.length < 9 + len) break;
      const frame = this.#buf.subarray(0, 9 + len);
      this.#buf = this.#buf.subarray(9 + len);
      const type = frame[3]!;
      const flags = frame[4]!;
      const streamId = frame.readUInt32BE(5) & 0x7fffffff;
      if (type === TYPE_HEADERS) {
        let payload = frame.subarray(9);
        let pad = 0;
        if (flags & FLAG_PADDED) {
          pad = payload[0]!;
          payload = payload.subarray(1);
        }
        const priority = flags & FLAG_PRIORITY ? Buffer.from(payload.subarray(0, 5)) : Buffer.alloc(0);
        payload = payload.subarray(priority.length, payload.length - pad);
        this.#pending = { streamId, flags, priority, parts: [Buffer.from(payload)], size: payload.length };
      } else if (type === TYPE_CONTINUATION && this.#pending) {
        this.#pending.parts.push(Buffer.from(frame.subarray(9)));
        this.#pending.size += len;
        if (this.#pending.size > MAX_BLOCK) throw new Error('header block too large');
      } else {
        out.push(frame);
        continue;
      }
      if (!(flags & FLAG_END_HEADERS)) continue;
      const p = this.#pending!;
      this.#pending = undefined;
      const block = rewriteAuthority(Buffer.concat(p.parts));
      const body = Buffer.concat([p.priority, block]);
      const h = Buffer.alloc(9);
      h.writeUIntBE(body.length, 0, 3);
      h[3] = TYPE_HEADERS;
      h[4] = (p.flags & ~FLAG_PADDED) | FLAG_END_HEADERS;
      h.writeUInt32BE(p.streamId, 5);
      out.push(h, body);
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}

/** Listens on `publicPath`, forwarding to the gRPC server on `privatePath`. */
export async function startAuthorityProxy(publicPath: string, privatePath: string): Promise<{ close(): Promise<void> }> {
  const conns = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection(privatePath);
    conns.add(client);
    conns.add(upstream);
    const filter = new Filter();
    const done = (): void => {
      client.destroy();
      upstream.destroy();
      conns.delete(client);
      conns.delete(upstream);
    };
    client.on('data', (d: Buffer) => {
      let out: Buffer;
      try {
        out = filter.push(d);
      } catch {
        return done();
      }
      if (out.length && !upstream.write(out)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.pipe(client);
    client.on('error', done);
    upstream.on('error', done);
    client.on('close', done);
    upstream.on('close', done);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(publicPath, () => resolve());
  });
  return {
    async close() {
      for (const c of conns) c.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
