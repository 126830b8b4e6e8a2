/**
 * Published ports of running containers (`-p`, `-P`). The engine calls `publish` after the
 * network core has set up the container's endpoints at start, `unpublish` after it exits (and
 * at remove), `restore` for each running container after a daemon restart, then `sync` once;
 * `close` at a clean shutdown. Calls are serialised here, across containers.
 *
 * Host ports are bookkept by PortAllocator; the traffic goes by nftables DNAT in the ports
 * table (ruleset.ts), re-rendered whole in one `nft -f -` transaction per change. The rules
 * live in the kernel, so they survive a crash of berthd; `restore` + `sync` re-learn them.
 * This module does not create endpoints or bridges (the network core does) and does not
 * import the engine: containers are seen through `PublishableContainer`.
 */
import { linkMaster } from '../links.js';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import type { CommandRunner } from '../../common/command-runner.js';
import type { Logger } from '../../common/logger.js';
import { ConflictError } from '../../common/errors.js';
import { PortAllocator } from './port-allocator.js';
import { comparePortKeys, expandExposedPorts, parsePortKey, parsePortRange, type PortProto } from './port-spec.js';
import { renderDeletePortsTable, renderPortsRuleset, type PortMapping } from './ruleset.js';
import { TcpProxy } from './port-proxy.js';
import type { HostPortExposer } from './rootlesskit-ports.js';

/** What the publisher reads and writes on a container record (the engine's ContainerRecord fits). */
export interface PublishableContainer {
  id: string;
  name: string;
  config: { exposedPorts?: Record<string, object> };
  host: { portBindings?: Record<string, Array<{ hostIp: string; hostPort: string }>>; publishAllPorts?: boolean; networkMode?: string };
  network?: {
    endpoints: Record<string, { ipAddress: string; ipPrefixLen: number; hostVeth?: string; endpointId: string }>;
    ports: Record<string, Array<{ hostIp: string; hostPort: string }> | null>;
  };
}

export interface PortPublisherOptions {
  runner: CommandRunner;
  /** The ports table (`ip <name>`), e.g. `berth_ports`. */
  table: string;
  log: Logger;
  allocator?: PortAllocator;
  /** Where interfaces are looked up (tests point it elsewhere). */
  sysfs?: string;
  procSys?: string;
  /** Userland proxies for IPv6 host addresses; default true. */
  userlandProxy?: boolean;
  /** Rootless (issue 21): opens the host's ports (rootlesskit), after the rules are in place. */
  hostPorts?: HostPortExposer;
}

export class PortPublisher {
  readonly #o: PortPublisherOptions;
  readonly #alloc: PortAllocator;
  /** Container id → its mappings in the table. */
  readonly #active = new Map<string, PortMapping[]>();
  /** Container id → userland proxies of its IPv6 host addresses. */
  readonly #proxies = new Map<string, TcpProxy[]>();
  /** Start userland proxies for IPv6 host addresses (off in unit tests). */
  readonly #proxy: boolean;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: PortPublisherOptions) {
    this.#o = options;
    this.#alloc = options.allocator ?? new PortAllocator({ isFree: probeFree });
    this.#proxy = options.userlandProxy ?? true;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(fn, fn);
    this.#queue = p.catch(() => {});
    return p;
  }

  /** Allocates host ports, installs the DNAT rules and fills `network.ports`. Leaves nothing behind on failure. */
  publish(c: PublishableContainer): Promise<void> {
    return this.#serial(async () => {
      this.#alloc.release(c.id);
      this.#active.delete(c.id);
      const ep = endpointOf(c);
      if (!c.network) return;
      if (!ep) {
        c.network.ports = {};
        return;
      }
      const wanted = wantedBindings(c);
      const ports: Record<string, Array<{ hostIp: string; hostPort: string }> | null> = {};
      const mappings: PortMapping[] = [];
      try {
        // Most containers publish nothing: the bridge is looked up only for a real binding.
        let bridge: string | undefined;
        for (const [key, bindings] of wanted) {
          const { port, proto } = parsePortKey(key);
          if (!bindings.length) {
            ports[key] = null;
            continue;
          }
          const shown: Array<{ hostIp: string; hostPort: string }> = [];
          for (const b of bindings) {
            bridge ??= await this.#bridgeOf(ep.hostVeth);
            const range: [number, number] = b.hostPort === '' ? [0, 0] : parsePortRange(b.hostPort);
            const hostPort = await this.#alloc.allocate({ proto, hostIp: b.hostIp, range, owner: c.id });
            shown.push({ hostIp: b.hostIp || '0.0.0.0', hostPort: String(hostPort) });
            mappings.push({ proto, hostIp: b.hostIp, hostPort, containerIp: ep.ipAddress, containerPort: port, bridge, subnet: subnetOf(ep.ipAddress, ep.ipPrefixLen) });
          }
          ports[key] = shown;
        }
        if (mappings.length) {
          this.#active.set(c.id, mappings);
          await this.#apply();
          await this.#startProxies(c.id, mappings, true);
          await this.#o.hostPorts?.expose(c.id, mappings);
        }
      } catch (err) {
        await this.#o.hostPorts?.unexpose(c.id).catch(() => undefined);
        await this.#stopProxies(c.id);
        this.#alloc.release(c.id);
        if (this.#active.delete(c.id)) await this.#apply().catch((e) => this.#o.log.warn({ err: e }, 'restoring the ports table failed'));
        if (err instanceof ConflictError) {
          throw new ConflictError(`driver failed programming external connectivity on endpoint ${c.name} (${ep.endpointId}): ${err.message}`, { cause: err });
        }
        throw err;
      }
      c.network.ports = ports;
    });
  }

  /** Removes the container's rules and frees its host ports; `network.ports` is emptied. */
  unpublish(c: PublishableContainer): Promise<void> {
    return this.#serial(async () => {
      this.#alloc.release(c.id);
      if (c.network) c.network.ports = {};
      await this.#o.hostPorts?.unexpose(c.id);
      await this.#stopProxies(c.id);
      if (this.#active.delete(c.id)) await this.#apply();
    });
  }

  /** After a daemon restart, for a running container: re-learns its ports from the record. */
  restore(c: PublishableContainer): Promise<void> {
    return this.#serial(async () => {
      const ep = endpointOf(c);
      if (!ep || !c.network) return;
      const bridge = await this.#bridgeOf(ep.hostVeth).catch(() => '');
      if (!bridge) return;
      const mappings: PortMapping[] = [];
      for (const [key, bindings] of Object.entries(c.network.ports)) {
        const { port, proto } = parsePortKey(key);
        for (const b of bindings ?? []) {
          const hostIp = b.hostIp === '0.0.0.0' ? '' : b.hostIp;
          this.#alloc.reserve(proto, hostIp, Number(b.hostPort), c.id);
          mappings.push({ proto, hostIp, hostPort: Number(b.hostPort), containerIp: ep.ipAddress, containerPort: port, bridge, subnet: subnetOf(ep.ipAddress, ep.ipPrefixLen) });
        }
      }
      if (mappings.length) {
        this.#active.set(c.id, mappings);
        await this.#startProxies(c.id, mappings, false).catch((err) => this.#o.log.warn({ err, container: c.id }, 'restarting userland proxies failed'));
      }
    });
  }

  /** Once after restoring: makes the table match the running containers (drops rules of containers that died meanwhile). */
  sync(): Promise<void> {
    return this.#serial(() => this.#apply());
  }

  /** Clean shutdown: with nothing published, the table goes; otherwise the rules stay for the running containers. */
  close(): Promise<void> {
    return this.#serial(async () => {
      for (const id of [...this.#proxies.keys()]) await this.#stopProxies(id);
      if (this.#active.size === 0) await this.#apply();
    });
  }

  async #apply(): Promise<void> {
    const all = [...this.#active.values()].flat();
    if (!all.length) {
      await this.#o.runner.run(['nft', '-f', '-'], { input: renderDeletePortsTable(this.#o.table), check: false });
      return;
    }
    // Loopback-sourced packets may only be routed out of the bridge with route_localnet (Docker 28 does the same).
    for (const b of new Set(all.map((m) => m.bridge))) {
      await writeFile(`${this.#o.procSys ?? '/proc/sys'}/net/ipv4/conf/${b}/route_localnet`, '1').catch((err) => this.#o.log.warn({ err, bridge: b }, 'setting route_localnet failed'));
    }
    await this.#o.runner.run(['nft', '-f', '-'], { input: renderPortsRuleset(this.#o.table, all) });
  }

  /**
   * TCP on an IPv6 host address goes through a userland proxy: an explicit one must bind (its
   * failure fails the publish when `strict`); the wildcard's `[::]` side is best effort, as the
   * IPv4 side is served by the kernel.
   */
  async #startProxies(id: string, mappings: PortMapping[], strict: boolean): Promise<void> {
    if (!this.#proxy) return;
    const list: TcpProxy[] = [];
    this.#proxies.set(id, list);
    for (const m of mappings) {
      if (m.proto !== 'tcp') continue;
      const explicit = m.hostIp.includes(':') && m.hostIp !== '::';
      if (m.hostIp !== '' && !m.hostIp.includes(':')) continue;
      const p = new TcpProxy({ host: explicit ? m.hostIp : '::', port: m.hostPort }, { host: m.containerIp, port: m.containerPort });
      try {
        await p.start();
        list.push(p);
      } catch (err) {
        if (explicit && strict) throw new ConflictError(`failed to bind host port for [${m.hostIp}]:${m.hostPort}/tcp: ${(err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'address already in use' : (err as Error).message}`, { cause: err });
        this.#o.log.warn({ err, port: m.hostPort, hostIp: m.hostIp }, 'IPv6 userland proxy not started');
      }
    }
  }

  async #stopProxies(id: string): Promise<void> {
    for (const p of this.#proxies.get(id) ?? []) await p.close();
    this.#proxies.delete(id);
  }

  async #bridgeOf(hostVeth: string | undefined): Promise<string> {
    if (!hostVeth) throw new Error('container endpoint has no host interface');
    return linkMaster(hostVeth, this.#o.sysfs);
  }
}

/** The endpoint whose address published ports lead to: the first one with an address. */
function endpointOf(c: PublishableContainer): { ipAddress: string; ipPrefixLen: number; hostVeth?: string; endpointId: string } | undefined {
  const eps = Object.entries(c.network?.endpoints ?? {});
  eps.sort(([a], [b]) => (a === 'bridge' ? -1 : b === 'bridge' ? 1 : 0));
  return eps.map(([, e]) => e).find((e) => e.ipAddress && e.hostVeth);
}

/** Every exposed or bound port, in Docker's order, with the bindings asked for (`-P` adds free ones). */
export function wantedBindings(c: Pick<PublishableContainer, 'config' | 'host'>): Array<[string, Array<{ hostIp: string; hostPort: string }>]> {
  const bound = c.host.portBindings ?? {};
  const keys = new Set([...expandExposedPorts(Object.keys(c.config.exposedPorts ?? {})), ...Object.keys(bound)]);
  return [...keys].sort(comparePortKeys).map((key) => {
    const b = bound[key] ?? [];
    return [key, b.length === 0 && c.host.publishAllPorts ? [{ hostIp: '', hostPort: '' }] : b];
  });
}

function subnetOf(ip: string, prefix: number): string {
  const n = ip.split('.').reduce((a, o) => (a << 8) | Number(o), 0) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const net = (n & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join('.')}/${prefix}`;
}

/** Whether a host program already holds the port (a bind probe, released at once). */
async function probeFree(proto: PortProto, hostIp: string, port: number): Promise<boolean> {
  const host = hostIp || '0.0.0.0';
  if (proto === 'sctp') return true;
  return new Promise((resolve) => {
    if (proto === 'udp') {
      const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      s.once('error', () => {
        s.close();
        resolve(false);
      });
      s.bind({ port, address: host, exclusive: true }, () => s.close(() => resolve(true)));
      return;
    }
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}
