/**
 * A userland TCP proxy for the one case the kernel path can't serve: host addresses of IPv6
 * (`[::]`, `[::1]`), since berth's networks are IPv4 only and the DNAT table is `ip`. Each
 * accepted connection is piped to the container's address; either side closing closes both.
 * Hand-written because it is twenty lines over node:net.
 */
import net from 'node:net';

export class TcpProxy {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();

  constructor(
    readonly listen: { host: string; port: number },
    readonly target: { host: string; port: number },
  ) {
    this.#server = net.createServer({ noDelay: true }, (down) => {
      const up = net.connect({ host: target.host, port: target.port, noDelay: true });
      this.#sockets.add(down).add(up);
      const done = () => {
        down.destroy();
        up.destroy();
        this.#sockets.delete(down);
        this.#sockets.delete(up);
      };
      down.on('error', done).on('close', done);
      up.on('error', done).on('close', done);
      down.pipe(up);
      up.pipe(down);
    });
  }

  /** Binds the listening socket (IPv6 only, so it never takes the IPv4 port the DNAT serves). */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host: this.listen.host, port: this.listen.port, ipv6Only: true, exclusive: true }, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops listening and drops the open connections. */
  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    return new Promise((resolve) => (this.#server.listening ? this.#server.close(() => resolve()) : resolve()));
  }
}
