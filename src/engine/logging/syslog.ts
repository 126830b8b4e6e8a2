import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect as netConnect, isIPv6, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { parseSyslogAddress, syslogFacility, type LogAddress } from './drivers.js';
import type { LogMessage, LogSink, SinkContext } from './sink.js';
import { renderTag } from './tag-template.js';

/**
 * The syslog log driver: Docker's message formats (its default, `rfc3164`, `rfc5424`,
 * `rfc5424micro`), stdout at severity info and stderr at err, over UDP, TCP (RFC 5425 octet
 * counting for the RFC 5424 formats, a newline after each message otherwise), TLS, or a local
 * socket (stream, or datagram as syslog daemons' /dev/log usually is).
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number) => String(n).padStart(2, '0');

/** Go's time.Stamp ("Jan _2 15:04:05"), local time. */
function stamp(t: Date): string {
  return `${MONTHS[t.getMonth()]} ${String(t.getDate()).padStart(2, ' ')} ${p2(t.getHours())}:${p2(t.getMinutes())}:${p2(t.getSeconds())}`;
}

/** RFC 3339 in local time with its offset, seconds or microseconds. */
function rfc3339(t: Date, micro: boolean): string {
  const off = -t.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${p2(Math.floor(Math.abs(off) / 60))}:${p2(Math.abs(off) % 60)}`;
  const frac = micro ? `.${String(t.getMilliseconds()).padStart(3, '0')}000` : '';
  return `${t.getFullYear()}-${p2(t.getMonth() + 1)}-${p2(t.getDate())}T${p2(t.getHours())}:${p2(t.getMinutes())}:${p2(t.getSeconds())}${frac}${zone}`;
}

export interface SyslogFormatOptions {
  format: '' | 'rfc3164' | 'rfc5424' | 'rfc5424micro';
  /** The default format is shorter (no hostname) on a local socket, as Docker's. */
  local: boolean;
  facility: number;
  tag: string;
  hostname: string;
  pid: number;
}

/** One syslog message as Docker formats it (without transport framing). */
export function formatSyslog(o: SyslogFormatOptions, m: { text: string; stream: 'stdout' | 'stderr'; time: Date }): string {
  const pri = o.facility * 8 + (m.stream === 'stderr' ? 3 : 6);
  switch (o.format) {
    case 'rfc5424':
    case 'rfc5424micro':
      return `<${pri}>1 ${rfc3339(m.time, o.format === 'rfc5424micro')} ${o.hostname} ${o.tag} ${o.pid} ${o.tag} - ${m.text}`;
    case 'rfc3164':
      return `<${pri}>${stamp(m.time)} ${o.hostname} ${o.tag}[${o.pid}]: ${m.text}`;
    default:
      return o.local ? `<${pri}>${stamp(m.time)} ${o.tag}[${o.pid}]: ${m.text}` : `<${pri}>${rfc3339(m.time, false)} ${o.hostname} ${o.tag}[${o.pid}]: ${m.text}`;
  }
}

type DgramCtor = typeof import('node-unix-socket').DgramSocket;
let DgramSocket: DgramCtor | undefined;
function unixDgram(): InstanceType<DgramCtor> {
  // Node has no AF_UNIX datagram sockets; node-unix-socket (already used for conmon) has them.
  DgramSocket ??= (createRequire(import.meta.url)('node-unix-socket') as typeof import('node-unix-socket')).DgramSocket;
  return new DgramSocket();
}

/** Sends to a unix datagram socket (one message per datagram). */
export function sendUnixDatagram(path: string, data: Buffer): Promise<void> {
  const s = unixDgram();
  return new Promise<void>((resolve, reject) => {
    try {
      s.sendTo(data, 0, data.length, path, (err) => {
        s.close();
        if (err) reject(err);
        else resolve();
      });
    } catch (err) {
      s.close();
      reject(err);
    }
  });
}

function connectStream(addr: LogAddress, config: Record<string, string>): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let s: Socket;
    if (addr.kind === 'tls') {
      const skip = /^(1|t|true)$/i.test(config['syslog-tls-skip-verify'] ?? '');
      s = tlsConnect({
        host: addr.host,
        port: addr.port,
        ca: config['syslog-tls-ca-cert'] ? readFileSync(config['syslog-tls-ca-cert']) : undefined,
        cert: config['syslog-tls-cert'] ? readFileSync(config['syslog-tls-cert']) : undefined,
        key: config['syslog-tls-key'] ? readFileSync(config['syslog-tls-key']) : undefined,
        rejectUnauthorized: !skip,
      });
      s.once('secureConnect', () => resolve(s));
    } else if (addr.kind === 'tcp') {
      s = netConnect({ host: addr.host, port: addr.port });
      s.once('connect', () => resolve(s));
    } else if (addr.kind === 'unix') {
      s = netConnect({ path: addr.path });
      s.once('connect', () => resolve(s));
    } else {
      reject(new Error(`not a stream address: ${addr.kind}`));
      return;
    }
    s.once('error', reject);
  });
}

function describe(addr: LogAddress): string {
  return 'path' in addr ? `${addr.kind} ${addr.path}` : `${addr.kind} ${addr.host}:${addr.port}`;
}

/** Opens the driver's connection; a failure here fails the container's start, as Docker's. */
export async function openSyslogSink(config: Record<string, string>, ctx: SinkContext): Promise<LogSink> {
  let addr = parseSyslogAddress(config['syslog-address']);
  const fmt: SyslogFormatOptions = {
    format: (config['syslog-format'] ?? '') as SyslogFormatOptions['format'],
    local: addr.kind === 'unix' || addr.kind === 'unixgram',
    facility: syslogFacility(config['syslog-facility']),
    tag: renderTag(config['tag'], ctx),
    hostname: ctx.hostname,
    pid: process.pid,
  };
  const octetCount = fmt.format === 'rfc5424' || fmt.format === 'rfc5424micro';
  let stream: Socket | undefined;
  let udp: UdpSocket | undefined;
  const open = async (): Promise<void> => {
    if (addr.kind === 'udp') {
      const u = createSocket(isIPv6(addr.host) ? 'udp6' : 'udp4');
      await new Promise<void>((resolve, reject) => {
        u.once('error', reject);
        u.connect((addr as { port: number }).port, (addr as { host: string }).host, () => resolve());
      });
      u.on('error', () => {});
      udp = u;
    } else if (addr.kind === 'unixgram') {
      // Nothing to connect; a socket that is not there is the same failure as Docker's dial.
      if (!existsSync(addr.path)) throw new Error(`connect: no such file or directory`);
    } else {
      try {
        const s = await connectStream(addr, config);
        s.on('error', () => {});
        s.on('close', () => {
          if (stream === s) stream = undefined;
        });
        stream = s;
      } catch (err) {
        // Docker tries a unix socket as datagram first, then as stream; here the other way round.
        if (addr.kind === 'unix' && (err as NodeJS.ErrnoException).code === 'EPROTOTYPE') {
          addr = { kind: 'unixgram', path: addr.path };
          return;
        }
        throw err;
      }
    }
  };
  try {
    await open();
  } catch (err) {
    throw new Error(`failed to initialize logging driver: dial ${describe(addr)}: ${(err as Error).message}`, { cause: err });
  }
  const send = async (data: Buffer): Promise<void> => {
    if (addr.kind === 'udp') {
      const u = udp;
      if (!u) throw new Error('syslog: closed');
      await new Promise<void>((resolve) => u.send(data, () => resolve()));
    } else if (addr.kind === 'unixgram') {
      await sendUnixDatagram(addr.path, data);
    } else {
      if (!stream) await open(); // reconnect after the server went away
      const s = stream;
      if (!s) throw new Error('syslog connection lost');
      await new Promise<void>((resolve, reject) => s.write(data, (err) => (err ? reject(err) : resolve())));
    }
  };
  return {
    async send(m: LogMessage) {
      const text = formatSyslog(fmt, { text: m.line.toString('utf8'), stream: m.stream, time: m.time });
      const isStream = addr.kind === 'tcp' || addr.kind === 'tls' || addr.kind === 'unix';
      const framed = isStream ? (octetCount ? `${Buffer.byteLength(text)} ${text}` : `${text}\n`) : text;
      await send(Buffer.from(framed));
    },
    async close() {
      // Idempotent: the shipper may close after a stop already did.
      const u = udp;
      udp = undefined;
      u?.close();
      const s = stream;
      stream = undefined;
      if (s) await new Promise<void>((resolve) => s.end(() => resolve()));
    },
  };
}
