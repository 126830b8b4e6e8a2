/**
 * The embedded DNS of user networks, one server per network on its gateway address
 * (dns-server.ts answers the queries). This module decides what a server answers: the names of
 * the running containers on the networks the asking container is on (registry endpoints).
 */
import type { Logger } from '../common/logger.js';
import type { NetworkHost } from './network-host.js';
import type { NetworkRegistry } from './network-registry.js';
import type { NetworkRecord } from './types.js';

export class NetworkDns {
  readonly #registry: NetworkRegistry;
  readonly #host: NetworkHost;
  readonly #log: Logger;
  readonly #servers = new Map<string, { close(): Promise<void> }>();
  /** Upstream resolvers for names that are not containers (the host's nameservers). */
  upstreams: string[] = [];

  constructor(o: { registry: NetworkRegistry; host: NetworkHost; log: Logger }) {
    this.#registry = o.registry;
    this.#host = o.host;
    this.#log = o.log;
  }

  has(netId: string): boolean {
    return this.#servers.has(netId);
  }

  /** Starts the network's server (once). */
  async start(net: NetworkRecord): Promise<void> {
    if (this.#servers.has(net.id)) return;
    const dns = await this.#host.startDns({
      address: net.ipam.config[0]!.gateway,
      lookup: (name, client) => this.lookup(net.id, name, client),
      allow: (client) => this.#registry.clientOn(net.id, client) !== undefined,
      upstreams: this.upstreams,
      log: this.#log.child({ dns: net.name }),
    });
    this.#servers.set(net.id, dns);
  }

  async stop(netId: string): Promise<void> {
    await this.#servers.get(netId)?.close();
    this.#servers.delete(netId);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#servers.values()].map((d) => d.close()));
    this.#servers.clear();
  }

  /**
   * What a user network's DNS answers to a container on it: the names (container name, short
   * ID, the endpoint's aliases) on every network the asking container is on, the asked
   * network first (Docker resolves across all of a container's networks; an alias set on one
   * network is found only through that network). Names of networks the container is not on
   * stay unknown (issue 24 item 5, issue 15 item 3).
   */
  lookup(netId: string, name: string, client: string): string[] | undefined {
    const r = this.#registry;
    const asker = r.clientOn(netId, client);
    if (!asker) return undefined;
    // Endpoint links (`--link target:alias` on a user network): the alias names the target for
    // the linking container only, on that network (Docker's embedded DNS does the same).
    for (const link of r.activeEndpoint(netId, asker)?.ep.links ?? []) {
      const [target, alias = target] = link.split(':') as [string, string?];
      if (alias.toLowerCase() !== name) continue;
      for (const a of r.active(netId)) {
        if (a.ep.ipAddress && (a.containerName.toLowerCase() === target.replace(/^\//, '').toLowerCase() || a.containerId.startsWith(target))) return [a.ep.ipAddress];
      }
    }
    const nets = [netId, ...r.networksOf(asker).filter((id) => id !== netId && this.#servers.has(id))];
    for (const id of nets) {
      const out: string[] = [];
      for (const a of r.active(id)) {
        if (!a.ep.ipAddress) continue;
        const names = [a.containerName, a.containerId.slice(0, 12), ...a.ep.aliases].map((n) => n.toLowerCase());
        if (names.includes(name)) {
          out.push(a.ep.ipAddress);
          if (a.ep.globalIPv6Address) out.push(a.ep.globalIPv6Address);
        }
      }
      if (out.length) return out;
    }
    return undefined;
  }
}
