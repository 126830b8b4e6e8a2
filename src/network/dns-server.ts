/**
 * The embedded DNS server of one user network: containers on the network use it (their
 * resolv.conf names the network's gateway), it answers A (and AAAA) queries for the names of containers
 * on the networks the asking container is on (container name, aliases, short ID) and forwards
 * everything else to the host's resolvers. It answers only the network's own containers
 * (`allow`); nftables drops other sources before they reach it. UDP and TCP on port 53 of the
 * gateway address.
 *
 * Wire format through `dns-packet`; only the lookup and forwarding logic is ours.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { Logger } from '../common/logger.js';

/**
 * Answers for a name asked by `client` (the query's source address): addresses when the name
 * belongs to a network the client is on, undefined otherwise.
 */
export type DnsLookup = (name: string, client: string) => string[] | undefined;

export interface EmbeddedDnsOptions {
  address: string;
  port?: number;
  lookup: DnsLookup;
  /**
   * Who may ask (issue 24 item 5): a query whose source address this refuses gets no answer at
   * all, neither local names nor forwarding, so the server is neither a directory of other
   * networks nor an open resolver. Absent: everyone (unit tests).
   */
  allow?: (client: string) => boolean;
  /** Upstream resolvers (host's resolv.conf without loopback ones). */
  upstreams: string[];
  log: Logger;
}

const TTL = 600;
const RCODES = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3 } as const;

export class EmbeddedDns {
  readonly #o: EmbeddedDnsOptions;
  #udp?: dgram.Socket;
  #tcp?: net.Server;
  readonly #conns = new Set<net.Socket>();

  constructor(options: EmbeddedDnsOptions) {
    this.#o = options;
  }

  get address(): string {
    return this.#o.address;
  }

  /** The UDP port bound (the TCP listener uses the same number; tests pass port 0 and read it). */
  get port(): number {
    return this.#udp?.address().port ?? 0;
  }

  async start(): Promise<void> {
    const port = this.#o.port ?? 53;
    const udp = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    udp.on('message', (msg, rinfo) => {
      void this.#answer(msg, rinfo.address).then(
        (reply) => reply && udp.send(reply, rinfo.port, rinfo.address),
        (err) => this.#o.log.debug({ err }, 'dns query failed'),
      );
    });
    udp.on('error', (err) => this.#o.log.warn({ err }, 'dns udp socket error'));
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, this.#o.address, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    this.#udp = udp;
    const tcpPort = udp.address().port;
    const tcp = net.createServer((sock) => this.#serveTcp(sock));
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(tcpPort, this.#o.address, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      this.#udp = undefined;
      throw err;
    }
    this.#tcp = tcp;
  }

  async close(): Promise<void> {
    this.#udp?.close();
    this.#udp = undefined;
    for (const c of this.#conns) c.destroy();
    await new Promise<void>((resolve) => (this.#tcp ? this.#tcp.close(() => resolve()) : resolve()));
    this.#tcp = undefined;
  }

  #serveTcp(sock: net.Socket): void {
    this.#conns.add(sock);
    sock.on('close', () => this.#conns.delete(sock));
    sock.on('error', () => {});
    sock.setTimeout(10_000, () => sock.destroy());
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        void this.#answer(msg, sock.remoteAddress ?? '').then((reply) => {
          if (!reply || sock.destroyed) return;
          const head = Buffer.alloc(2);
          head.writeUInt16BE(reply.length);
          sock.write(Buffer.concat([head, reply]));
        }, () => sock.destroy());
      }
    });
  }

  /** The reply to one query message, or undefined to drop it. */
  async #answer(msg: Buffer, client: string): Promise<Buffer | undefined> {
    const from = client.replace(/^::ffff:/, '');
    if (this.#o.allow && !this.#o.allow(from)) return undefined;
    let q: dnsPacket.Packet;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return undefined;
    }
    const question = q.questions?.[0];
    if (!question || q.type !== 'query') return undefined;
    const name = question.name.replace(/\.$/, '').toLowerCase();
    const ips = this.#o.lookup(name, from);
    // dns-packet encodes the response code only through the low bits of `flags`.
    const reply = (rcode: 'NOERROR' | 'SERVFAIL' | 'NXDOMAIN', answers: dnsPacket.Answer[]) =>
      dnsPacket.encode({
        type: 'response',
        id: q.id,
        flags: dnsPacket.AUTHORITATIVE_ANSWER | ((q.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE | RCODES[rcode],
        questions: [question],
        answers,
      } as dnsPacket.Packet);
    if (ips) {
      // A name of this network: A gets its IPv4 addresses, AAAA its IPv6 ones (containers on
      // IPv6 networks); other types, or a family the container lacks, NOERROR and empty, as Docker.
      const family = question.type === 'A' ? 4 : question.type === 'AAAA' ? 6 : 0;
      const matching = ips.filter((ip) => net.isIP(ip) === family);
      return reply('NOERROR', matching.map((ip) => ({ type: question.type as 'A' | 'AAAA', name: question.name, ttl: TTL, class: 'IN', data: ip })));
    }
    // A single label that is not a container here has no public answer: do not leak it upstream.
    if (!name.includes('.')) return reply('NXDOMAIN', []);
    for (const upstream of this.#o.upstreams) {
      const res = await forwardUdp(msg, upstream).catch(() => undefined);
      if (res) return res;
    }
    return reply('SERVFAIL', []);
  }
}

function forwardUdp(msg: Buffer, server: string, timeoutMs = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(/^[\d.]+(:\d+)?$/.test(server) ? 'udp4' : 'udp6');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error('upstream timeout'));
    }, timeoutMs);
    sock.on('message', (reply) => {
      clearTimeout(timer);
      sock.close();
      resolve(reply);
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      sock.close();
      reject(err);
    });
    const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(server);
    sock.send(msg, m ? Number(m[2]) : 53, m ? m[1] : server);
  });
}
