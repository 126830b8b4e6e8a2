/**
 * Loopback registries for a rootless berthd (issue 21). The daemon runs in rootlesskit's
 * network namespace, where 127.0.0.1 is the namespace's own loopback, and slirp4netns runs
 * with --disable-host-loopback so that containers cannot reach the host's loopback services
 * (10.0.2.2 would otherwise lead there, for every container). A registry on the host's
 * 127.0.0.1 (`berth registry serve`, a test registry) must still work for pull and push, so
 * the outer berthd process, which stays in the host's namespaces, serves a UNIX socket in the
 * exec root (mode 0600, reachable by the daemon and not by containers) that opens TCP
 * connections to loopback addresses only, on the daemon's behalf.
 *
 * Protocol (one connection per dial): the client writes `HOST PORT\n`; the server answers
 * `OK\n` and then relays bytes both ways, or `ERR <errno code>\n` and closes.
 * Hand-written: a few lines over node:net, no library does this.
 */
import { createConnection, createServer, isIP, type Server, type Socket } from 'node:net';
import { chmod, rm } from 'node:fs/promises';

const MAX_HEADER = 300;

/** Whether a host name or address is the host's loopback (the only targets the dialer serves). */
export function isLoopbackTarget(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** The outer (host-side) end: listens on `path` until `close`. */
export async function serveHostLoopbackDialer(path: string): Promise<{ close(): Promise<void> }> {
  await rm(path, { force: true });
  const server: Server = createServer((conn) => handle(conn));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  await chmod(path, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        void rm(path, { force: true });
      }),
  };
}

function handle(conn: Socket): void {
  let buf = Buffer.alloc(0);
  conn.on('error', () => conn.destroy());
  const onData = (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    const nl = buf.indexOf(10);
    if (nl < 0) {
      if (buf.length > MAX_HEADER) conn.destroy();
      return;
    }
    conn.off('data', onData);
    conn.pause();
    const [host, portText] = buf.subarray(0, nl).toString('utf8').trim().split(' ');
    const rest = buf.subarray(nl + 1);
    const port = Number(portText);
    if (!host || !isLoopbackTarget(host) || !Number.isInteger(port) || port < 1 || port > 65535) {
      conn.end('ERR EACCES\n');
      return;
    }
    const target = createConnection({ host: host === 'localhost' ? '127.0.0.1' : host.replace(/^\[|\]$/g, ''), port });
    target.once('connect', () => {
      conn.write('OK\n');
      if (rest.length) target.write(rest);
      conn.pipe(target);
      target.pipe(conn);
      conn.resume();
    });
    target.once('error', (err: NodeJS.ErrnoException) => {
      if (target.connecting || !target.remoteAddress) conn.end(`ERR ${err.code ?? 'ECONNREFUSED'}\n`);
      else conn.destroy();
    });
    conn.once('close', () => target.destroy());
    target.once('close', () => conn.destroy());
  };
  conn.on('data', onData);
}

/**
 * The daemon's (inner) end, in the shape of Node's `createConnection(options, callback)` for
 * http.Agent: dials `host:port` through the dialer socket at `path`.
 */
export function dialThroughHost(path: string, host: string, port: number, callback: (err: Error | null, socket?: Socket) => void): void {
  const s = createConnection(path);
  let buf = Buffer.alloc(0);
  let done = false;
  const fail = (err: Error) => {
    if (done) return;
    done = true;
    s.destroy();
    callback(err);
  };
  s.once('error', (err) => fail(Object.assign(new Error(`connecting to ${host}:${port} through the host: ${err.message}`), { code: 'ECONNREFUSED' })));
  s.once('connect', () => s.write(`${host} ${port}\n`));
  const onData = (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    const nl = buf.indexOf(10);
    if (nl < 0) {
      if (buf.length > MAX_HEADER) fail(new Error('host loopback dialer: bad answer'));
      return;
    }
    s.off('data', onData);
    s.pause();
    const line = buf.subarray(0, nl).toString('utf8');
    if (!line.startsWith('OK')) {
      const code = line.split(' ')[1] ?? 'ECONNREFUSED';
      fail(Object.assign(new Error(`connect ${code} ${host}:${port}`), { code }));
      return;
    }
    const rest = buf.subarray(nl + 1);
    s.removeAllListeners('error');
    done = true;
    if (rest.length) s.unshift(rest);
    callback(null, s);
    // Paused above so no byte is lost in the hand-over; node:http adds its 'data' listener on a
    // later tick, and a stream paused by hand stays paused until resumed.
    setImmediate(() => s.resume());
  };
  s.on('data', onData);
}
