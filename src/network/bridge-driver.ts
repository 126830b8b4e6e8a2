/**
 * The host side of bridge networks: the Linux bridges (one per network, its gateway addresses
 * on it), berth's nftables tables (NAT, isolation; rendered whole by nftables.ts, one
 * transaction per change), the holes in a foreign FORWARD chain, and the repair of what was
 * removed from under a running daemon. Containers' veths are the sandbox's (sandbox.ts).
 */
import type { CommandRunner } from '../common/command-runner.js';
import type { Logger } from '../common/logger.js';
import { routesFromIpJson, type Cidr } from './ipam.js';
import type { NetworkHost } from './network-host.js';
import { MASQ_OPT, v4Configs, v6Config, type NetworkRegistry } from './network-registry.js';
import { renderDeleteTable, renderRuleset } from './nftables.js';
import type { NetworkRecord } from './types.js';

/** How often a container start may spend an `nft` spawn on checking berth's table is still there. */
const TABLE_CHECK_MS = 2000;

export interface BridgeDriverOptions {
  runner: CommandRunner;
  log: Logger;
  host: NetworkHost;
  registry: NetworkRegistry;
  /** berth's nftables table (`ip <name>`, and `ip6 <name>` while there are IPv6 networks). */
  nftTable: string;
  /** Marks berth's links (ip link alias) so leftovers can be found. */
  linkAlias: string;
  /** Runs a change to networks after the ones under way (NetworkService's queue). */
  serial<T>(fn: () => Promise<T>): Promise<T>;
}

export class BridgeDriver {
  readonly #o: BridgeDriverOptions;
  #foreignForwardDrop = false;
  /** Whether the ip6 table exists (an IPv6 network was there at the last rules update). */
  #had6 = false;
  /** When berth's nftables table was last checked for (repair), ms since the epoch. */
  #tableCheckedAt = 0;
  /** The repair under way, so that concurrent starts share it. */
  #repairing: Promise<void> | undefined;

  constructor(options: BridgeDriverOptions) {
    this.#o = options;
  }

  /** IPv4 forwarding on, and whether another engine's FORWARD chain drops by default (see ensure). */
  async init(): Promise<void> {
    await this.#o.host.enableForwarding().catch((err) => this.#o.log.warn({ err }, 'cannot enable ip_forward'));
    const fwd = await this.#o.runner.run(['nft', '-j', 'list', 'chain', 'ip', 'filter', 'FORWARD'], { check: false });
    this.#foreignForwardDrop = fwd.code === 0 && /"policy":\s*"drop"/.test(fwd.stdout);
  }

  async enableForwarding6(): Promise<void> {
    await this.#o.host.enableForwarding6?.().catch((err) => this.#o.log.warn({ err }, 'cannot enable IPv6 forwarding'));
  }

  /** The table was just written: the next check is due TABLE_CHECK_MS from now. */
  tableChecked(): void {
    this.#tableCheckedAt = Date.now();
  }

  /** The host's IPv4 routes a new network's subnet must not overlap (not loopback, not default). */
  async hostRoutes(): Promise<Cidr[]> {
    const r = await this.#o.runner.run(['ip', '-j', '-4', 'route', 'show', 'table', 'all'], { check: false });
    return routesFromIpJson(r.stdout).filter((c) => c.prefix > 0 && c.prefix < 32 && (c.base >>> 24) !== 127);
  }

  /**
   * Bridges and berth's nftables table removed from under a running daemon (by hand, by another
   * engine's clean-up) are made again at the next container start, and logged (issue 17).
   * A bridge is checked at every start (one read of /proc/self/net/dev); the table costs a
   * spawn of `nft`, so it is checked at most every TABLE_CHECK_MS.
   */
  async repair(nets: NetworkRecord[]): Promise<void> {
    if (this.#repairing) return this.#repairing;
    const missing: NetworkRecord[] = [];
    for (const n of new Set(nets)) if (!(await this.#o.host.linkExists(n.bridge))) missing.push(n);
    const checkTable = Date.now() - this.#tableCheckedAt >= TABLE_CHECK_MS;
    if (!missing.length && !checkTable) return;
    this.#repairing = (async () => {
      let rules = missing.length > 0;
      for (const n of missing) {
        this.#o.log.warn({ bridge: n.bridge, network: n.name }, 'bridge was removed from under the daemon: making it again');
        await this.#o.serial(() => this.ensure(n));
      }
      if (checkTable) {
        this.#tableCheckedAt = Date.now();
        const r = await this.#o.runner.run(['nft', 'list', 'table', 'ip', this.#o.nftTable], { check: false });
        if (r.code !== 0) {
          this.#o.log.warn({ table: this.#o.nftTable }, 'nftables table was removed from under the daemon: making it again');
          rules = true;
        }
      }
      if (rules) await this.#o.serial(() => this.applyRules());
    })().finally(() => {
      this.#repairing = undefined;
    });
    return this.#repairing;
  }

  /** Makes the network's bridge with its gateway addresses, unless it exists. */
  async ensure(n: NetworkRecord): Promise<void> {
    if (await this.#o.host.linkExists(n.bridge)) return;
    const c6 = v6Config(n);
    await this.#o.runner.run(['ip', '-batch', '-'], {
      input: [
        `link add ${n.bridge} type bridge`,
        `link set ${n.bridge} alias ${quote(this.#o.linkAlias)}`,
        // One gateway address per subnet (multi-subnet networks route all of them).
        ...v4Configs(n).map((cfg) => `addr add ${cfg.gateway}/${cfg.subnet.split('/')[1]} dev ${n.bridge}`),
        ...(c6 ? [`addr add ${c6.gateway}/${c6.subnet.split('/')[1]} dev ${n.bridge} nodad`] : []),
        `link set ${n.bridge} up`,
      ].join('\n') + '\n',
    });
    if (this.#foreignForwardDrop) {
      // Another engine's FORWARD chain (iptables, policy drop) would drop our bridged and
      // routed traffic; a drop there is final whatever our own table says, so we open a hole
      // for our bridge, through iptables itself so that table stays readable by its owner.
      await this.#o.runner.run(['iptables-restore', '-w', '--noflush'], { input: forwardHole('-I', n.bridge), check: false });
    }
  }

  /** Bridges marked as this daemon's that no network owns (a daemon killed mid `network create`). */
  async removeStrays(): Promise<void> {
    const owned = new Set(this.#o.registry.all().map((n) => n.bridge));
    const r = await this.#o.runner.run(['ip', '-j', 'link', 'show', 'type', 'bridge'], { check: false });
    let links: unknown;
    try {
      links = JSON.parse(r.stdout || '[]');
    } catch {
      return;
    }
    if (!Array.isArray(links)) return;
    for (const l of links as Array<{ ifname?: string; ifalias?: string }>) {
      if (l.ifalias !== this.#o.linkAlias || !l.ifname || owned.has(l.ifname)) continue;
      this.#o.log.warn({ bridge: l.ifname }, 'removing a bridge no network owns');
      await this.#o.runner.run(['ip', 'link', 'del', l.ifname], { check: false });
    }
  }

  async delete(n: NetworkRecord): Promise<void> {
    if (this.#foreignForwardDrop) await this.#o.runner.run(['iptables-restore', '-w', '--noflush'], { input: forwardHole('-D', n.bridge), check: false });
    if (!(await this.#o.host.linkExists(n.bridge))) return;
    await this.#o.runner.run(['ip', 'link', 'del', n.bridge], { check: false });
  }

  /** Writes berth's tables for the bridge networks now in the registry (one `nft -f -` each). */
  async applyRules(): Promise<void> {
    const bridges = this.#o.registry.all().filter((n) => n.driver === 'bridge');
    const nets = bridges.map((n) => {
      const [first, ...more] = v4Configs(n).map((c) => c.subnet);
      return {
        bridge: n.bridge,
        subnet: first!,
        moreSubnets: more,
        internal: n.internal,
        masquerade: n.options[MASQ_OPT] !== 'false',
        // User networks have an embedded DNS on the gateway; only their own bridge may reach it.
        ...(n.predefined ? {} : { dnsAddress: v4Configs(n)[0]!.gateway }),
      };
    });
    await this.#o.runner.run(['nft', '-f', '-'], { input: renderRuleset(this.#o.nftTable, nets) });
    // IPv6 networks: NAT66 and isolation in an ip6 table of the same name (only while there are some).
    const v6 = bridges.filter((n) => v6Config(n)).map((n) => ({ bridge: n.bridge, subnet: v6Config(n)!.subnet, internal: n.internal, masquerade: n.options[MASQ_OPT] !== 'false' }));
    if (v6.length) await this.#o.runner.run(['nft', '-f', '-'], { input: renderRuleset(this.#o.nftTable, v6, 'ip6') });
    else if (this.#had6) await this.#o.runner.run(['nft', '-f', '-'], { input: renderDeleteTable(this.#o.nftTable, 'ip6'), check: false });
    this.#had6 = v6.length > 0;
  }

  /** Removes berth's tables (clean shutdown with no container running). */
  async deleteTables(): Promise<void> {
    await this.#o.runner.run(['nft', '-f', '-'], { input: renderDeleteTable(this.#o.nftTable), check: false });
    await this.#o.runner.run(['nft', '-f', '-'], { input: renderDeleteTable(this.#o.nftTable, 'ip6'), check: false });
  }
}

function forwardHole(op: '-I' | '-D', bridge: string): string {
  return `*filter\n${op} FORWARD -i ${bridge} -m comment --comment berth -j ACCEPT\n${op} FORWARD -o ${bridge} -m comment --comment berth -j ACCEPT\nCOMMIT\n`;
}

/** A link alias as `ip -batch` reads it: quoted, with no quotes or backslashes inside. */
export function quote(s: string): string {
  return `"${s.replace(/["\\]/g, '')}"`;
}
