/**
 * Networks and container endpoints. Owns the network records (SQLite), the Linux bridges,
 * berth's nftables table, the embedded DNS servers of user networks, address allocation and
 * each container's network namespace.
 *
 * Lifecycle, as the engine drives it:
 *   create  → `prepare` (check the mode and endpoint settings; no addresses yet)
 *   start   → `setUp` (netns file, veths, addresses, routes, /etc/hosts, resolv.conf) before
 *             the OCI spec is made, which then names the netns by path
 *   exit    → `tearDown` (veths and netns go, addresses are released)
 *   running container after a daemon restart → `restore` (addresses and DNS names again)
 *   `connect` / `disconnect` on a created or running container.
 * It does not decide when containers start or stop, and it never touches the runtime.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { CommandRunner } from '../common/command-runner.js';
import type { Logger } from '../common/logger.js';
import {
  ConflictError, ContainerNotRunningError, ForbiddenError, InvalidParameterError, NotFoundError, AmbiguousReferenceError,
} from '../common/errors.js';
import { generateId } from '../common/ids.js';
import { labelsMatch } from '../common/labels.js';
import { parseUntil } from '../common/until-filter.js';
import {
  DEFAULT_POOLS, contains, formatCidr, intToIp, ipToInt, macFor, overlaps, parseCidr, pickAddress, pickSubnet,
  routesFromIpJson, usableAddress, type AddressPool, type Cidr,
} from './ipam.js';
import { renderDeleteTable, renderRuleset } from './nftables.js';
import { bigToIp6, contains6, formatCidr6, ip6ToBig, isV6Cidr, overlaps6, parseCidr6, pickAddress6, pickUlaSubnet, type Cidr6 } from './ipam6.js';
import { isIP } from 'node:net';
import { EmbeddedDns } from './dns-server.js';
import { linkExists } from './links.js';
import type { EndpointRequest, IpamConfig, NetEndpoint, NetworkRecord, NetworkedContainer } from './types.js';
import { faultPoint } from '../common/fault-point.js';
import { nameservers, renderHostNetworkHosts, renderHosts, renderResolvConf } from './etc-files.js';

/** Where networking events go (the engine's EventBus fits). */
export interface NetworkEvents {
  publish(type: 'network', action: string, id: string, attributes?: Record<string, string>): void;
}

/** Persistence of network records (store/networks.ts fits). */
export interface NetworkStore {
  put(rec: NetworkRecord): void;
  list(): NetworkRecord[];
  delete(id: string): void;
}

export interface NetworkServiceOptions {
  store: NetworkStore;
  runner: CommandRunner;
  events: NetworkEvents;
  log: Logger;
  /** `<exec-root>`: netns files live in `<exec-root>/netns/`. */
  execRoot: string;
  /** Linux bridge of the default `bridge` network (`--bridge`, default `berth0`). */
  defaultBridge: string;
  /** `--bip`: the default bridge's gateway address and prefix (`172.18.0.1/16`). */
  bip?: string;
  pools?: AddressPool[];
  /** berth's nftables table (`ip <name>`). */
  nftTable: string;
  /** Marks berth's links (ip link alias) so leftovers can be found. */
  linkAlias: string;
  /** The host as seen through /sys and /proc; unit tests substitute it (default: the real one). */
  host?: NetworkHost;
  /** daemon.json `ipv6` + `fixed-cidr-v6`: the default bridge's IPv6 subnet. */
  defaultBridgeIPv6?: string;
}

/** What the service reads of, and writes to, the host outside of commands. */
export interface NetworkHost {
  linkExists(name: string): Promise<boolean>;
  enableForwarding(): Promise<void>;
  /** IPv6 forwarding, turned on when the first IPv6 network is made (as Docker does). */
  enableForwarding6?(): Promise<void>;
  /** Starts a DNS server (EmbeddedDns by default). */
  startDns(options: ConstructorParameters<typeof EmbeddedDns>[0]): Promise<{ close(): Promise<void> }>;
}

const REAL_HOST: NetworkHost = {
  linkExists,
  enableForwarding: () => writeFile('/proc/sys/net/ipv4/ip_forward', '1'),
  enableForwarding6: () => writeFile('/proc/sys/net/ipv6/conf/all/forwarding', '1'),
  startDns: async (o) => {
    const d = new EmbeddedDns(o);
    await d.start();
    return d;
  },
};

export interface CreateNetworkRequest {
  name: string;
  driver?: string;
  internal?: boolean;
  attachable?: boolean;
  labels?: Record<string, string>;
  options?: Record<string, string>;
  ipam?: { driver?: string; options?: Record<string, string>; config?: Array<{ subnet?: string; gateway?: string; ipRange?: string; auxAddresses?: Record<string, string> }> };
  enableIPv6?: boolean;
  checkDuplicate?: boolean;
}

interface ActiveEndpoint {
  containerId: string;
  containerName: string;
  ep: NetEndpoint;
}

const MASQ_OPT = 'com.docker.network.bridge.enable_ip_masquerade';
/** How often a container start may spend an `nft` spawn on checking berth's table is still there. */
const TABLE_CHECK_MS = 2000;
const BRIDGE_OPT = 'com.docker.network.bridge.name';
// Docker does not restrict network names ("test 01" is fine); berth only refuses '/' and control characters.
const VALID_NET_NAME = /^[^/\x00-\x1f\x7f]+$/;

/** The IPv4 configs of a network, first is the one `--ip`-less containers get an address from. */
function v4Configs(n: NetworkRecord): IpamConfig[] {
  return n.ipam.config.filter((c) => !isV6Cidr(c.subnet));
}
function v6Config(n: NetworkRecord): IpamConfig | undefined {
  return n.enableIPv6 ? n.ipam.config.find((c) => isV6Cidr(c.subnet)) : undefined;
}

export class NetworkService {
  readonly #o: NetworkServiceOptions;
  readonly #nets = new Map<string, NetworkRecord>();
  /** networkId → containerId → endpoint, for running containers. */
  readonly #active = new Map<string, Map<string, ActiveEndpoint>>();
  readonly #dns = new Map<string, { close(): Promise<void> }>();
  readonly #host: NetworkHost;
  #upstreams: string[] = [];
  /**
   * Host-side veth deletions still running. Deleting a veth waits for the kernel's RCU grace
   * period (~25 ms here), so exits do not wait for it; whatever depends on the link being gone
   * (a requested address that may be the old one, network removal, shutdown) waits for these
   * first. Other starts skip the addresses still being freed (#cooling).
   */
  readonly #pendingDeletes = new Set<Promise<unknown>>();
  /**
   * networkId → addresses whose old veth is still being deleted. A start picks another address
   * rather than wait for the deletion; only an explicitly requested address waits (#settle).
   */
  readonly #cooling = new Map<string, Set<string>>();
  #foreignForwardDrop = false;
  /** Whether the ip6 table exists (an IPv6 network was there at the last rules update). */
  #had6 = false;
  /** Serialises changes to networks (create/remove/prune and bridge set-up). */
  #queue: Promise<unknown> = Promise.resolve();
  /** When berth's nftables table was last checked for (#repairHost), ms since the epoch. */
  #tableCheckedAt = 0;
  /** The repair under way, so that concurrent starts share it. */
  #repairing: Promise<void> | undefined;

  constructor(options: NetworkServiceOptions) {
    this.#o = options;
    this.#host = options.host ?? REAL_HOST;
    for (const n of options.store.list()) this.#nets.set(n.id, n);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(fn, fn);
    this.#queue = p.catch(() => {});
    return p;
  }

  get netnsDir(): string {
    return join(this.#o.execRoot, 'netns');
  }

  /**
   * Makes the predefined networks, the bridges of every bridge network, berth's nftables
   * table and the DNS servers. Call once at daemon start, before restoring containers.
   */
  async init(): Promise<void> {
    await mkdir(this.netnsDir, { recursive: true });
    this.#upstreams = await hostResolvers();
    await this.#host.enableForwarding().catch((err) => this.#o.log.warn({ err }, 'cannot enable ip_forward'));
    const fwd = await this.#o.runner.run(['nft', '-j', 'list', 'chain', 'ip', 'filter', 'FORWARD'], { check: false });
    this.#foreignForwardDrop = fwd.code === 0 && /"policy":\s*"drop"/.test(fwd.stdout);
    if (!this.#byName('host')) this.#save(predefined('host', 'host'));
    if (!this.#byName('none')) this.#save(predefined('none', 'null'));
    let def = this.#byName('bridge');
    const want6 = this.#o.defaultBridgeIPv6 ? formatCidr6(parseCidr6(this.#o.defaultBridgeIPv6)) : undefined;
    if (def && (def.bridge !== this.#o.defaultBridge || (this.#o.bip && def.ipam.config[0]?.gateway + '/' + def.ipam.config[0]?.subnet.split('/')[1] !== this.#o.bip) || v6Config(def)?.subnet !== want6)) {
      // Settings changed since last run (a different --bridge or --bip): rebuild it if unused.
      await this.#deleteBridge(def).catch(() => {});
      this.#o.store.delete(def.id);
      this.#nets.delete(def.id);
      def = undefined;
    }
    if (!def) {
      let subnet: Cidr;
      let gateway: string;
      if (this.#o.bip) {
        const c = parseCidr(this.#o.bip);
        subnet = c;
        gateway = this.#o.bip.split('/')[0]!;
      } else {
        subnet = pickSubnet(this.#o.pools ?? DEFAULT_POOLS, await this.#takenSubnets());
        gateway = intToIp(subnet.base + 1);
      }
      def = {
        ...predefined('bridge', 'bridge'),
        bridge: this.#o.defaultBridge,
        options: {
          'com.docker.network.bridge.default_bridge': 'true',
          'com.docker.network.bridge.enable_icc': 'true',
          [MASQ_OPT]: 'true',
          'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
          [BRIDGE_OPT]: this.#o.defaultBridge,
          'com.docker.network.driver.mtu': '1500',
        },
        ipam: { driver: 'default', options: {}, config: [{ subnet: formatCidr(subnet), gateway }] },
      };
      if (want6) {
        const s6 = parseCidr6(want6);
        def.enableIPv6 = true;
        def.ipam.config.push({ subnet: want6, gateway: bigToIp6(s6.base + 1n) });
      }
      this.#save(def);
    }
    if ([...this.#nets.values()].some((n) => v6Config(n))) await this.#enableForwarding6();
    for (const n of this.#nets.values()) if (n.driver === 'bridge') await this.#ensureBridge(n);
    await this.#removeStrayBridges();
    await this.#applyRules();
    this.#tableCheckedAt = Date.now();
    for (const n of this.#nets.values()) {
      if (n.driver !== 'bridge' || n.predefined) continue;
      // A network whose DNS cannot listen still works by address; the daemon must come up.
      await this.#startDns(n).catch((err) => this.#o.log.warn({ err, network: n.name }, 'embedded DNS did not start'));
    }
  }

  /**
   * Clean shutdown. DNS servers stop; with no container running, berth's bridges, holes in a
   * foreign FORWARD chain and its nftables table go too (they come back at the next start).
   */
  async close(options: { anyRunning: boolean }): Promise<void> {
    await this.#settle();
    await Promise.all([...this.#dns.values()].map((d) => d.close()));
    this.#dns.clear();
    if (options.anyRunning) return;
    for (const n of this.#nets.values()) if (n.driver === 'bridge') await this.#deleteBridge(n).catch((err) => this.#o.log.warn({ err }, 'removing bridge failed'));
    await this.#o.runner.run(['nft', '-f', '-'], { input: renderDeleteTable(this.#o.nftTable), check: false });
    await this.#o.runner.run(['nft', '-f', '-'], { input: renderDeleteTable(this.#o.nftTable, 'ip6'), check: false });
  }

  async #enableForwarding6(): Promise<void> {
    await this.#host.enableForwarding6?.().catch((err) => this.#o.log.warn({ err }, 'cannot enable IPv6 forwarding'));
  }

  // ---- networks ----

  #byName(name: string): NetworkRecord | undefined {
    for (const n of this.#nets.values()) if (n.name === name) return n;
    return undefined;
  }

  /** Finds a network by full ID, name, or unique ID prefix (Docker's order). */
  get(ref: string): NetworkRecord {
    const byId = this.#nets.get(ref);
    if (byId) return byId;
    const byName = this.#byName(ref);
    if (byName) return byName;
    const matches = [...this.#nets.values()].filter((n) => n.id.startsWith(ref));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw new AmbiguousReferenceError(`network ${ref} is ambiguous (${matches.length} matches found based on ID prefix)`);
    throw new NotFoundError(`network ${ref} not found`);
  }

  list(filters: Map<string, string[]> = new Map()): NetworkRecord[] {
    let out = [...this.#nets.values()];
    for (const [key, values] of filters) {
      if (!values.length) continue;
      switch (key) {
        case 'name':
          out = out.filter((n) => values.some((v) => n.name.includes(v)));
          break;
        case 'id':
          out = out.filter((n) => values.some((v) => n.id.startsWith(v)));
          break;
        case 'driver':
          out = out.filter((n) => values.includes(n.driver));
          break;
        case 'label':
          out = out.filter((n) => labelsMatch(n.labels, values));
          break;
        case 'scope':
          out = out.filter((n) => values.includes(n.scope));
          break;
        case 'type':
          for (const v of values) if (v !== 'custom' && v !== 'builtin') throw new InvalidParameterError(`invalid filter: 'type'='${v}'`);
          out = out.filter((n) => values.includes(n.predefined ? 'builtin' : 'custom'));
          break;
        case 'dangling': {
          const want = values[0] === 'true' || values[0] === '1';
          out = out.filter((n) => !n.predefined && (this.#active.get(n.id)?.size ?? 0) === 0 === want);
          break;
        }
        default:
          throw new InvalidParameterError(`invalid filter '${key}'`);
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Running containers attached to the network, for inspect's `Containers`. */
  endpointsOf(net: NetworkRecord): Array<{ containerId: string; name: string; ep: NetEndpoint }> {
    return [...(this.#active.get(net.id)?.values() ?? [])].map((a) => ({ containerId: a.containerId, name: a.containerName, ep: a.ep }));
  }

  create(req: CreateNetworkRequest): Promise<NetworkRecord> {
    return this.#serial(() => this.#create(req));
  }

  async #create(req: CreateNetworkRequest): Promise<NetworkRecord> {
    const name = req.name ?? '';
    if (!name) throw new InvalidParameterError('network name must not be empty');
    if (!VALID_NET_NAME.test(name)) throw new InvalidParameterError(`invalid network name "${name}": '/' and control characters are not allowed`);
    const driver = req.driver || 'bridge';
    if (driver === 'host' || driver === 'null') throw new ForbiddenError(`only one instance of "${driver}" network is allowed`);
    if (driver !== 'bridge') throw new NotFoundError(`plugin "${driver}" not found`);
    if (this.#byName(name)) throw new ConflictError(`network with name ${name} already exists`);
    if (req.ipam?.driver && req.ipam.driver !== 'default') throw new NotFoundError(`plugin "${req.ipam.driver}" not found`);
    const options = { ...(req.options ?? {}) };
    const id = generateId();
    const bridge = options[BRIDGE_OPT] || `br-${id.slice(0, 12)}`;
    if (bridge.length > 15 || !/^[a-zA-Z0-9_.-]+$/.test(bridge)) throw new InvalidParameterError(`invalid bridge name "${bridge}": at most 15 characters of [a-zA-Z0-9_.-]`);
    for (const n of this.#nets.values()) if (n.bridge === bridge) throw new ConflictError(`bridge name ${bridge} is already used by network ${n.name}`);
    if (await this.#host.linkExists(bridge)) throw new ConflictError(`a network interface named ${bridge} already exists on the host`);

    const { configs: ipamConfigs, userSubnet, userSubnet6, enableIPv6 } = await this.#ipamConfigs(req);
    const masq = options[MASQ_OPT];
    if (masq !== undefined && masq !== 'true' && masq !== 'false') throw new InvalidParameterError(`invalid value for ${MASQ_OPT}: ${masq}`);
    const rec: NetworkRecord = {
      id,
      name,
      created: new Date().toISOString(),
      driver: 'bridge',
      scope: 'local',
      internal: req.internal ?? false,
      attachable: req.attachable ?? false,
      labels: req.labels ?? {},
      options,
      ipam: { driver: 'default', options: req.ipam?.options ?? {}, config: ipamConfigs },
      bridge,
      predefined: false,
      userSubnet,
      ...(enableIPv6 ? { enableIPv6, userSubnet6 } : {}),
    };
    if (enableIPv6) await this.#enableForwarding6();
    await this.#ensureBridge(rec);
    faultPoint('network-create');
    try {
      this.#save(rec);
      await this.#applyRules();
      await this.#startDns(rec);
    } catch (err) {
      this.#nets.delete(rec.id);
      this.#o.store.delete(rec.id);
      await this.#dns.get(rec.id)?.close();
      this.#dns.delete(rec.id);
      await this.#deleteBridge(rec).catch(() => {});
      await this.#applyRules().catch(() => {});
      throw err;
    }
    this.#o.events.publish('network', 'create', rec.id, { name: rec.name, type: rec.driver });
    return rec;
  }

  /**
   * The IPAM configs of a new network: the user's subnets (several of each family allowed),
   * each checked against the other networks and the host's routes, with its gateway, ip-range
   * and aux addresses; a subnet from the pools when no IPv4 one is given; a random unique local
   * /64 when IPv6 is enabled without an IPv6 subnet.
   */
  async #ipamConfigs(req: CreateNetworkRequest): Promise<{ configs: IpamConfig[]; userSubnet: boolean; userSubnet6: boolean; enableIPv6: boolean }> {
    const given = req.ipam?.config ?? [];
    const family = (c: { subnet?: string; gateway?: string; ipRange?: string }) => (isV6Cidr(c.subnet ?? c.gateway ?? c.ipRange ?? '') ? 6 : 4);
    const enableIPv6 = req.enableIPv6 ?? false;
    const v4in = given.filter((c) => family(c) === 4);
    const v6in = given.filter((c) => family(c) === 6);
    if (v6in.length && !enableIPv6) throw new InvalidParameterError(`IPv6 subnet ${v6in[0]!.subnet ?? ''} given but IPv6 is not enabled on the network: use --ipv6`);
    const out4: IpamConfig[] = [];
    const out6: IpamConfig[] = [];
    const others4 = [...this.#nets.values()].flatMap((n) => v4Configs(n).map((c) => parseCidr(c.subnet)));
    const others6 = [...this.#nets.values()].flatMap((n) => n.ipam.config.filter((c) => isV6Cidr(c.subnet)).map((c) => parseCidr6(c.subnet)));
    const routes = v4in.some((c) => c.subnet) ? await this.#hostRoutes() : [];
    for (const c of v4in) {
      if (!c.subnet) {
        if (c.gateway || c.ipRange || c.auxAddresses) throw new InvalidParameterError('gateway and ip-range need a subnet');
        continue;
      }
      const subnet = parseCidr(c.subnet, { strict: true });
      if (subnet.prefix > 30) throw new InvalidParameterError(`invalid subnet ${c.subnet}: too small for containers`);
      if (others4.some((o) => overlaps(o, subnet))) throw new ForbiddenError(`Pool overlaps with other one on this address space`);
      for (const r of routes) if (overlaps(r, subnet)) throw new ForbiddenError(`Pool overlaps with other one on this address space (host route ${formatCidr(r)})`);
      others4.push(subnet);
      let gateway = intToIp(subnet.base + 1);
      if (c.gateway) {
        if (isIP(c.gateway) !== 4 || !contains(subnet, ipToInt(c.gateway))) throw new InvalidParameterError(`no matching subnet for gateway ${c.gateway}`);
        gateway = c.gateway;
      }
      if (!usableAddress(subnet, ipToInt(gateway))) throw new InvalidParameterError(`invalid gateway ${gateway} for subnet ${formatCidr(subnet)}`);
      const cfg: IpamConfig = { subnet: formatCidr(subnet), gateway };
      if (c.ipRange) {
        const r = parseCidr(c.ipRange, { strict: true });
        if (!contains(subnet, r.base) || r.prefix < subnet.prefix) throw new InvalidParameterError(`no matching subnet for range ${c.ipRange}`);
        cfg.ipRange = formatCidr(r);
      }
      const aux = this.#auxAddresses(c.auxAddresses, (ip) => isIP(ip) === 4 && contains(subnet, ipToInt(ip)));
      if (aux) cfg.auxAddresses = aux;
      out4.push(cfg);
    }
    // Aux addresses given in a config without a subnet belong to no subnet (Docker: "no matching subnet").
    if (out4.length === 0) {
      const subnet = pickSubnet(this.#o.pools ?? DEFAULT_POOLS, await this.#takenSubnets());
      out4.push({ subnet: formatCidr(subnet), gateway: intToIp(subnet.base + 1) });
    }
    for (const c of v6in) {
      if (!c.subnet) throw new InvalidParameterError('gateway and ip-range need a subnet');
      const subnet = parseCidr6(c.subnet, { strict: true });
      if (subnet.prefix > 120) throw new InvalidParameterError(`invalid subnet ${c.subnet}: too small for containers`);
      if (others6.some((o) => overlaps6(o, subnet))) throw new ForbiddenError(`Pool overlaps with other one on this address space`);
      others6.push(subnet);
      let gateway = bigToIp6(subnet.base + 1n);
      if (c.gateway) {
        if (isIP(c.gateway) !== 6 || !contains6(subnet, ip6ToBig(c.gateway)) || ip6ToBig(c.gateway) === subnet.base) throw new InvalidParameterError(`no matching subnet for gateway ${c.gateway}`);
        gateway = bigToIp6(ip6ToBig(c.gateway));
      }
      const cfg: IpamConfig = { subnet: formatCidr6(subnet), gateway };
      if (c.ipRange) {
        const r = parseCidr6(c.ipRange, { strict: true });
        if (!contains6(subnet, r.base) || r.prefix < subnet.prefix) throw new InvalidParameterError(`no matching subnet for range ${c.ipRange}`);
        cfg.ipRange = formatCidr6(r);
      }
      const aux = this.#auxAddresses(c.auxAddresses, (ip) => isIP(ip) === 6 && contains6(subnet, ip6ToBig(ip)));
      if (aux) cfg.auxAddresses = aux;
      out6.push(cfg);
    }
    if (enableIPv6 && out6.length === 0) {
      const subnet = pickUlaSubnet(others6);
      out6.push({ subnet: formatCidr6(subnet), gateway: bigToIp6(subnet.base + 1n) });
    }
    return { configs: [...out4, ...out6], userSubnet: v4in.some((c) => c.subnet), userSubnet6: v6in.length > 0, enableIPv6 };
  }

  #auxAddresses(aux: Record<string, string> | undefined, fits: (ip: string) => boolean): Record<string, string> | undefined {
    if (!aux || Object.keys(aux).length === 0) return undefined;
    for (const [name, ip] of Object.entries(aux)) {
      if (!isIP(ip)) throw new InvalidParameterError(`invalid auxiliary address ${name}=${ip}`);
      if (!fits(ip)) throw new InvalidParameterError(`no matching subnet for aux-address ${ip}`);
    }
    return { ...aux };
  }

  remove(ref: string): Promise<void> {
    return this.#serial(async () => {
      const net = this.get(ref);
      if (net.predefined) throw new ForbiddenError(`${net.name} is a pre-defined network and cannot be removed`);
      if ((this.#active.get(net.id)?.size ?? 0) > 0) {
        throw new ConflictError(`error while removing network: network ${net.name} id ${net.id} has active endpoints`);
      }
      await this.#settle();
      await this.#dns.get(net.id)?.close();
      this.#dns.delete(net.id);
      this.#nets.delete(net.id);
      this.#o.store.delete(net.id);
      await this.#applyRules();
      await this.#deleteBridge(net);
      this.#o.events.publish('network', 'destroy', net.id, { name: net.name, type: net.driver });
    });
  }

  /** Removes user networks without running containers (filters: until, label). */
  async prune(filters: Map<string, string[]> = new Map()): Promise<string[]> {
    for (const k of filters.keys()) if (!['until', 'label', 'label!'].includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
    const until = filters.get('until')?.[0];
    const untilMs = until ? parseUntil(until) : undefined;
    const deleted: string[] = [];
    for (const n of [...this.#nets.values()]) {
      if (n.predefined || (this.#active.get(n.id)?.size ?? 0) > 0) continue;
      if (untilMs !== undefined && Date.parse(n.created) >= untilMs) continue;
      if (!labelsMatch(n.labels, filters.get('label') ?? [], filters.get('label!') ?? [])) continue;
      await this.remove(n.id).then(() => deleted.push(n.name), () => {});
    }
    return deleted;
  }

  /** Gateway of the default bridge: what `--add-host NAME:host-gateway` points at. */
  hostGateway(): string {
    return this.#byName('bridge')?.ipam.config[0]?.gateway ?? '';
  }

  // ---- containers ----

  /**
   * At create: normalises the network mode (`default` → `bridge`), checks the networks exist
   * and the endpoint settings are allowed, and records the endpoints (without addresses).
   */
  prepare(c: NetworkedContainer, requested: Record<string, EndpointRequest> = {}): void {
    let mode = c.host.networkMode || 'default';
    if (mode === 'default') mode = 'bridge';
    c.host.networkMode = mode;
    c.network = { sandboxKey: '', endpoints: {}, ports: {} };
    if (mode.startsWith('container:')) {
      if (!mode.slice('container:'.length)) throw new InvalidParameterError('invalid network mode: container: needs a container name or ID');
      if (Object.keys(requested).length) throw new InvalidParameterError('conflicting options: network settings and a container: network mode');
      return;
    }
    const net = this.get(mode);
    requested = Object.fromEntries(Object.entries(requested).map(([k, v]) => [k === 'default' ? 'bridge' : k, v]));
    if (net.driver !== 'bridge') {
      c.network.endpoints[net.name] = this.#blankEndpoint(net, {});
      return;
    }
    // The mode names the first network; EndpointsConfig may add more (API ≥ 1.44).
    const first = Object.entries(requested).find(([k]) => k === mode || k === net.name || k === net.id)?.[1] ?? {};
    c.network.endpoints[net.name] = this.#checkedEndpoint(net, first);
    for (const [ref, cfg] of Object.entries(requested)) {
      const other = this.get(ref);
      if (other.id === net.id) continue;
      if (other.driver !== 'bridge') throw new InvalidParameterError(`container cannot be connected to network ${other.name} as well as ${net.name}`);
      c.network.endpoints[other.name] = this.#checkedEndpoint(other, cfg);
    }
  }

  #blankEndpoint(net: NetworkRecord, req: EndpointRequest): NetEndpoint {
    return {
      networkId: net.id,
      networkName: net.name,
      endpointId: '',
      ...(req.ipv4Address ? { requestedIp: req.ipv4Address } : {}),
      ...(req.ipv6Address ? { requestedIp6: bigToIp6(ip6ToBig(req.ipv6Address)) } : {}),
      ...(req.linkLocalIPs?.length ? { linkLocalIPs: [...req.linkLocalIPs] } : {}),
      ...(req.macAddress ? { requestedMac: req.macAddress } : {}),
      aliases: req.aliases ?? [],
      ...(req.links?.length ? { links: [...req.links] } : {}),
      ...(req.driverOpts && Object.keys(req.driverOpts).length ? { driverOpts: { ...req.driverOpts } } : {}),
      ipAddress: '',
      ipPrefixLen: 0,
      gateway: '',
      macAddress: '',
    };
  }

  #checkedEndpoint(net: NetworkRecord, req: EndpointRequest): NetEndpoint {
    if (req.ipv4Address) {
      if (net.predefined) throw new InvalidParameterError('user specified IP address is supported on user defined networks only');
      if (!net.userSubnet) throw new InvalidParameterError('user specified IP address is supported only when connecting to networks with user configured subnets');
      if (isIP(req.ipv4Address) !== 4) throw new InvalidParameterError(`invalid IPv4 address: ${req.ipv4Address}`);
      const ip = ipToInt(req.ipv4Address);
      const cfgs = v4Configs(net);
      if (!cfgs.some((c) => usableAddress(parseCidr(c.subnet), ip) && req.ipv4Address !== c.gateway)) {
        throw new InvalidParameterError(`invalid address ${req.ipv4Address}: it does not belong to any of this network's subnets (${cfgs.map((c) => c.subnet).join(', ')})`);
      }
    }
    if (req.ipv6Address) {
      if (net.predefined) throw new InvalidParameterError('user specified IP address is supported on user defined networks only');
      const cfg = v6Config(net);
      if (!cfg) throw new InvalidParameterError(`invalid address ${req.ipv6Address}: network ${net.name} has no IPv6 (create it with --ipv6)`);
      if (!net.userSubnet6) throw new InvalidParameterError('user specified IP address is supported only when connecting to networks with user configured subnets');
      if (isIP(req.ipv6Address) !== 6) throw new InvalidParameterError(`invalid IPv6 address: ${req.ipv6Address}`);
      const sub = parseCidr6(cfg.subnet);
      const ip = ip6ToBig(req.ipv6Address);
      if (!contains6(sub, ip) || ip === sub.base || ip === ip6ToBig(cfg.gateway)) {
        throw new InvalidParameterError(`invalid address ${req.ipv6Address}: it does not belong to any of this network's subnets (${cfg.subnet})`);
      }
    }
    for (const ll of req.linkLocalIPs ?? []) {
      const fam = isIP(ll);
      const linkLocal = fam === 4 ? contains(parseCidr('169.254.0.0/16'), ipToInt(ll)) : fam === 6 ? contains6(parseCidr6('fe80::/10'), ip6ToBig(ll)) : false;
      if (!linkLocal) throw new InvalidParameterError(`invalid link-local IP address: ${ll} (expected 169.254.0.0/16 or fe80::/10)`);
    }
    if (req.aliases?.length && net.predefined) throw new InvalidParameterError('network-scoped alias is supported only for containers in user defined networks');
    if (req.macAddress && !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(req.macAddress)) throw new InvalidParameterError(`invalid MAC address: ${req.macAddress}`);
    return this.#blankEndpoint(net, req);
  }

  /**
   * Before the runtime starts the container: for bridge networks a netns file with one veth per
   * network and addresses; for `host` nothing; for `container:` the peer's namespace. Writes
   * /etc/hosts and /etc/resolv.conf. `peer` is the container of a `container:` mode.
   *
   * `onSandbox` is called as soon as the namespace exists with the container's side configured
   * (its sandboxKey and files final): enough for the runtime to create the container in it,
   * while the host side (bridge attachment, further networks) is still being done. The
   * returned promise settles when everything is; the container must not start before that.
   */
  async setUp(c: NetworkedContainer, peer?: NetworkedContainer, onSandbox?: () => void): Promise<void> {
    const mode = c.host.networkMode || 'bridge';
    c.network ??= { sandboxKey: '', endpoints: {}, ports: {} };
    if (mode.startsWith('container:')) {
      if (!peer || !peer.state.pid) throw new ContainerNotRunningError(`cannot join network of a non running container: ${mode.slice(10)}`);
      c.network.sandboxKey = peer.network?.sandboxKey || `/proc/${peer.state.pid}/ns/net`;
      for (const [from, to] of [[peer.hostsPath, c.hostsPath], [peer.resolvConfPath, c.resolvConfPath], [peer.hostnamePath, c.hostnamePath]] as const) {
        await writeFile(to, await readFile(from, 'utf8').catch(() => ''));
      }
      return;
    }
    if (mode === 'host') {
      c.network.sandboxKey = '';
      await writeFile(c.hostsPath, renderHostNetworkHosts(await readFile('/etc/hosts', 'utf8').catch(() => undefined), c.host.extraHosts, this.hostGateway()));
      await writeFile(c.resolvConfPath, renderResolvConf(await hostResolvConf(), c));
      return;
    }
    const eps = Object.values(c.network.endpoints).filter((e) => this.#nets.get(e.networkId)?.driver === 'bridge');
    if (mode === 'none' || eps.length === 0) {
      c.network.sandboxKey = '';
      await this.#writeHosts(c);
      return;
    }
    // A bridge deleted from under the daemon comes back now rather than failing every start.
    await this.#repairHost(eps.map((e) => this.#mustNet(e.networkId)));
    // A requested address may be one whose old veth is still going away: wait for that.
    // Otherwise #allocate skips such addresses, and a start never waits for a deletion.
    if (eps.some((e) => e.requestedIp)) await this.#settle();
    const file = join(this.netnsDir, c.id);
    await writeFile(file, '');
    const made: NetEndpoint[] = [];
    try {
      const inside: string[] = ['link set lo up'];
      const outside: string[] = [];
      const late: string[] = [];
      let defaultRoute = false;
      let defaultRoute6 = false;
      for (const [i, ep] of eps.entries()) {
        const net = this.#mustNet(ep.networkId);
        this.#allocate(net, ep, c);
        made.push(ep);
        const dev = `eth${i}`;
        if (i === 0) {
          // One spawn makes the namespace, the pair, the address and the route. The pair is made
          // from inside the new namespace with its host end created directly in berthd's
          // (`peer ... netns PID`): moving an existing link between namespaces costs an RCU
          // grace period under the RTNL lock (measured 25-50 ms here, against ~5 ms for this).
          // The host end is attached to its bridge by a second, host-side request.
          inside.push(`link add ${dev} address ${ep.macAddress} type veth peer name ${ep.hostVeth} netns ${process.pid}`);
          outside.push(`link set ${ep.hostVeth} master ${net.bridge} alias ${quote(this.#o.linkAlias)} up`);
        } else {
          outside.push(`link add ${ep.hostVeth} master ${net.bridge} alias ${quote(this.#o.linkAlias)} up type veth peer name ${dev} address ${ep.macAddress} netns ${file}`);
        }
        const after = i === 0 ? inside : late;
        after.push(`addr add ${ep.ipAddress}/${ep.ipPrefixLen} dev ${dev}`, ...extraAddresses(ep, dev), `link set ${dev} up`);
        if (!defaultRoute && !net.internal) {
          after.push(`route add default via ${ep.gateway} dev ${dev}`);
          defaultRoute = true;
        }
        if (!defaultRoute6 && !net.internal && ep.ipv6Gateway) {
          after.push(`route add ::/0 via ${ep.ipv6Gateway} dev ${dev}`);
          defaultRoute6 = true;
        }
      }
      await this.#o.runner.run(['unshare', `--net=${file}`, 'ip', '-batch', '-'], { input: inside.join('\n') + '\n' });
      c.network.sandboxKey = file;
      await this.#writeHosts(c);
      onSandbox?.();
      await this.#o.runner.run(['ip', '-batch', '-'], { input: outside.join('\n') + '\n' });
      if (late.length) await this.#o.runner.run(['nsenter', `--net=${file}`, 'ip', '-batch', '-'], { input: late.join('\n') + '\n' });
    } catch (err) {
      await this.tearDown(c).catch(() => {});
      await rm(file, { force: true });
      throw err;
    }
    for (const ep of made) this.#activate(c, ep);
  }

  /** After the container exited (or failed to start): its veths and netns go, addresses are freed. */
  async tearDown(c: NetworkedContainer): Promise<void> {
    const n = c.network;
    if (!n) return;
    const veths: string[] = [];
    const cooling: Array<[string, string]> = [];
    for (const ep of Object.values(n.endpoints)) {
      this.#deactivate(c.id, ep);
      if (ep.hostVeth) {
        veths.push(ep.hostVeth);
        if (ep.ipAddress) cooling.push([ep.networkId, ep.ipAddress]);
      }
      clearAddress(ep);
    }
    const file = n.sandboxKey;
    n.sandboxKey = '';
    const jobs: Promise<unknown>[] = [];
    if (veths.length) {
      for (const [net, ip] of cooling) {
        let set = this.#cooling.get(net);
        if (!set) this.#cooling.set(net, (set = new Set()));
        set.add(ip);
      }
      const del = this.#o.runner.run(['ip', '-force', '-batch', '-'], { input: veths.map((v) => `link del ${v}`).join('\n') + '\n', check: false }).catch(() => {});
      this.#pendingDeletes.add(del);
      void del.finally(() => {
        this.#pendingDeletes.delete(del);
        for (const [net, ip] of cooling) this.#cooling.get(net)?.delete(ip);
      });
    }
    if (file && file.startsWith(this.netnsDir + '/')) {
      jobs.push(this.#o.runner.run(['umount', file], { check: false }).then(() => rm(file, { force: true })));
    }
    await Promise.all(jobs);
  }

  /** After a daemon restart, for a container still running: its addresses and names are live again. */
  async restore(c: NetworkedContainer): Promise<void> {
    for (const ep of Object.values(c.network?.endpoints ?? {})) {
      if (!ep.ipAddress || !this.#nets.has(ep.networkId)) continue;
      this.#activate(c, ep);
    }
  }

  /** Releases what a removed container held (nothing when it was torn down at exit). */
  async release(c: NetworkedContainer): Promise<void> {
    if (c.network?.sandboxKey || Object.values(c.network?.endpoints ?? {}).some((e) => e.ipAddress)) await this.tearDown(c);
  }

  /** `network connect`: a created container gets the endpoint at its next start; a running one now. */
  async connect(c: NetworkedContainer, ref: string, req: EndpointRequest, running: boolean): Promise<void> {
    const net = this.get(ref);
    const mode = c.host.networkMode || 'bridge';
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) {
      throw new ForbiddenError(`container cannot be disconnected from host network or connected to host network`.replace('host', mode === 'host' ? 'host' : mode));
    }
    if (net.driver !== 'bridge') throw new ForbiddenError(`container cannot be disconnected from host network or connected to host network`);
    c.network ??= { sandboxKey: '', endpoints: {}, ports: {} };
    if (c.network.endpoints[net.name]) throw new ForbiddenError(`endpoint with name ${c.name} already exists in network ${net.name}`);
    const ep = this.#checkedEndpoint(net, req);
    if (!running) {
      c.network.endpoints[net.name] = ep;
      this.#o.events.publish('network', 'connect', net.id, { container: c.id, name: net.name, type: net.driver });
      return;
    }
    const file = c.network.sandboxKey;
    if (!file) throw new ForbiddenError(`container ${c.name} has no network namespace to connect`);
    await this.#settle();
    const dev = `eth${nextDevIndex(c.network.endpoints)}`;
    this.#allocate(net, ep, c);
    try {
      await this.#o.runner.run(['ip', '-batch', '-'], {
        input: `link add ${ep.hostVeth} master ${net.bridge} alias ${quote(this.#o.linkAlias)} up type veth peer name ${dev} address ${ep.macAddress} netns ${file}\n`,
      });
      const hasDefault = Object.values(c.network.endpoints).some((e) => e.ipAddress && !this.#nets.get(e.networkId)?.internal);
      const inside = [`addr add ${ep.ipAddress}/${ep.ipPrefixLen} dev ${dev}`, ...extraAddresses(ep, dev), `link set ${dev} up`];
      if (!hasDefault && !net.internal) inside.push(`route add default via ${ep.gateway} dev ${dev}`);
      const hasDefault6 = Object.values(c.network.endpoints).some((e) => e.ipv6Gateway && !this.#nets.get(e.networkId)?.internal);
      if (!hasDefault6 && !net.internal && ep.ipv6Gateway) inside.push(`route add ::/0 via ${ep.ipv6Gateway} dev ${dev}`);
      await this.#o.runner.run(['nsenter', `--net=${file}`, 'ip', '-batch', '-'], { input: inside.join('\n') + '\n' });
    } catch (err) {
      if (ep.hostVeth) await this.#o.runner.run(['ip', 'link', 'del', ep.hostVeth], { check: false });
      throw err;
    }
    c.network.endpoints[net.name] = ep;
    this.#activate(c, ep);
    await this.#writeHosts(c);
    this.#o.events.publish('network', 'connect', net.id, { container: c.id, name: net.name, type: net.driver });
  }

  async disconnect(c: NetworkedContainer, ref: string, options: { force?: boolean } = {}): Promise<void> {
    const net = this.get(ref);
    const ep = c.network?.endpoints[net.name];
    if (!ep) {
      // As dockerd: force only matters for a container that is gone; a container that is not
      // on the network is an error either way.
      throw new ForbiddenError(`container ${c.id} is not connected to network ${net.name}`);
    }
    if (net.driver !== 'bridge') throw new ForbiddenError(`container cannot be disconnected from host network or connected to host network`);
    this.#deactivate(c.id, ep);
    if (ep.hostVeth) await this.#o.runner.run(['ip', 'link', 'del', ep.hostVeth], { check: false });
    delete c.network!.endpoints[net.name];
    await this.#writeHosts(c).catch(() => {});
    this.#o.events.publish('network', 'disconnect', net.id, { container: c.id, name: net.name, type: net.driver });
  }

  /** Announces the endpoints of a container's first start (Docker sends `connect` then). */
  announce(c: NetworkedContainer, action: 'connect' | 'disconnect'): void {
    for (const ep of Object.values(c.network?.endpoints ?? {})) {
      const net = this.#nets.get(ep.networkId);
      if (net) this.#o.events.publish('network', action, net.id, { container: c.id, name: net.name, type: net.driver });
    }
  }

  // ---- internals ----

  async #settle(): Promise<void> {
    if (this.#pendingDeletes.size) await Promise.all([...this.#pendingDeletes]);
  }

  #mustNet(id: string): NetworkRecord {
    const n = this.#nets.get(id);
    if (!n) throw new NotFoundError(`network ${id} not found`);
    return n;
  }

  #save(n: NetworkRecord): void {
    this.#o.store.put(n);
    this.#nets.set(n.id, n);
  }

  #allocate(net: NetworkRecord, ep: NetEndpoint, c: NetworkedContainer): void {
    const cfgs = v4Configs(net);
    const others = [...(this.#active.get(net.id)?.values() ?? [])].filter((a) => a.containerId !== c.id);
    const usedIn = (cfg: IpamConfig) => new Set<number>([ipToInt(cfg.gateway), ...Object.values(cfg.auxAddresses ?? {}).map(ipToInt), ...others.filter((a) => a.ep.ipAddress).map((a) => ipToInt(a.ep.ipAddress))]);
    let ip: number | undefined;
    let cfg: IpamConfig;
    if (ep.requestedIp) {
      ip = ipToInt(ep.requestedIp);
      cfg = cfgs.find((x) => contains(parseCidr(x.subnet), ip!)) ?? cfgs[0]!;
      if (usedIn(cfg).has(ip)) throw new ForbiddenError(`Address already in use`);
    } else {
      // The first subnet with room, as Docker's IPAM tries its pools in order.
      let lastErr: unknown;
      cfg = cfgs[0]!;
      for (const x of cfgs) {
        const subnet = parseCidr(x.subnet);
        const used = usedIn(x);
        const range = x.ipRange ? parseCidr(x.ipRange) : undefined;
        const cooling = [...(this.#cooling.get(net.id) ?? [])].filter((a) => isIP(a) === 4).map(ipToInt);
        try {
          try {
            ip = pickAddress(subnet, new Set([...used, ...cooling]), range);
          } catch (err) {
            // Only addresses still cooling down are free: take one (its old veth is nearly gone).
            if (cooling.length === 0) throw err;
            ip = pickAddress(subnet, used, range);
          }
          cfg = x;
          break;
        } catch (err) {
          lastErr = err;
        }
      }
      if (ip === undefined) throw lastErr;
    }
    const subnet = parseCidr(cfg.subnet);
    const c6 = v6Config(net);
    if (c6) {
      const sub6 = parseCidr6(c6.subnet);
      const used6 = new Set<bigint>([ip6ToBig(c6.gateway), ...Object.values(c6.auxAddresses ?? {}).map(ip6ToBig), ...others.filter((a) => a.ep.globalIPv6Address).map((a) => ip6ToBig(a.ep.globalIPv6Address!))]);
      let ip6: bigint;
      if (ep.requestedIp6) {
        ip6 = ip6ToBig(ep.requestedIp6);
        if (used6.has(ip6)) throw new ForbiddenError(`Address already in use`);
      } else {
        ip6 = pickAddress6(sub6, used6, c6.ipRange ? parseCidr6(c6.ipRange) : undefined);
      }
      ep.globalIPv6Address = bigToIp6(ip6);
      ep.globalIPv6PrefixLen = sub6.prefix;
      ep.ipv6Gateway = c6.gateway;
    }
    ep.ipAddress = intToIp(ip);
    ep.ipPrefixLen = subnet.prefix;
    ep.gateway = cfg.gateway;
    ep.macAddress = ep.requestedMac || macFor(ip);
    ep.endpointId = generateId();
    ep.hostVeth = `veth${randomBytes(4).toString('hex').slice(0, 7)}`;
    // Reserve at once so a concurrent start on the same network cannot pick it too.
    this.#activate(c, ep);
  }

  #activate(c: NetworkedContainer, ep: NetEndpoint): void {
    let m = this.#active.get(ep.networkId);
    if (!m) this.#active.set(ep.networkId, (m = new Map()));
    m.set(c.id, { containerId: c.id, containerName: c.name, ep });
  }

  #deactivate(containerId: string, ep: NetEndpoint): void {
    this.#active.get(ep.networkId)?.delete(containerId);
  }

  /** The container on `netId` whose address there is `ip`: who may ask that network's DNS. */
  #clientOn(netId: string, ip: string): string | undefined {
    for (const a of this.#active.get(netId)?.values() ?? []) if (a.ep.ipAddress === ip) return a.containerId;
    return undefined;
  }

  /**
   * What a user network's DNS answers to a container on it: the names (container name, short
   * ID, the endpoint's aliases) on every network the asking container is on, the asked
   * network first (Docker resolves across all of a container's networks; an alias set on one
   * network is found only through that network). Names of networks the container is not on
   * stay unknown (issue 24 item 5, issue 15 item 3).
   */
  #lookup(netId: string, name: string, client: string): string[] | undefined {
    const asker = this.#clientOn(netId, client);
    if (!asker) return undefined;
    // Endpoint links (`--link target:alias` on a user network): the alias names the target for
    // the linking container only, on that network (Docker's embedded DNS does the same).
    for (const link of this.#active.get(netId)?.get(asker)?.ep.links ?? []) {
      const [target, alias = target] = link.split(':') as [string, string?];
      if (alias.toLowerCase() !== name) continue;
      for (const a of this.#active.get(netId)?.values() ?? []) {
        if (a.ep.ipAddress && (a.containerName.toLowerCase() === target.replace(/^\//, '').toLowerCase() || a.containerId.startsWith(target))) return [a.ep.ipAddress];
      }
    }
    const nets = [netId, ...[...this.#active.keys()].filter((id) => id !== netId && this.#active.get(id)!.has(asker) && this.#dns.has(id))];
    for (const id of nets) {
      const out: string[] = [];
      for (const a of this.#active.get(id)?.values() ?? []) {
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

  async #startDns(net: NetworkRecord): Promise<void> {
    if (this.#dns.has(net.id)) return;
    const dns = await this.#host.startDns({
      address: net.ipam.config[0]!.gateway,
      lookup: (name, client) => this.#lookup(net.id, name, client),
      allow: (client) => this.#clientOn(net.id, client) !== undefined,
      upstreams: this.#upstreams,
      log: this.#o.log.child({ dns: net.name }),
    });
    this.#dns.set(net.id, dns);
  }

  /** /etc/hosts and /etc/resolv.conf of a container with its own namespace, from its current endpoints (etc-files.ts). */
  async #writeHosts(c: NetworkedContainer): Promise<void> {
    const eps = Object.values(c.network?.endpoints ?? {});
    const addresses = eps.flatMap((ep) => [ep.ipAddress, ep.globalIPv6Address ?? ''].filter(Boolean));
    await writeFile(c.hostsPath, renderHosts(c, addresses, this.hostGateway()));
    const user = eps.map((e) => this.#nets.get(e.networkId)).find((n) => n && n.driver === 'bridge' && !n.predefined);
    await writeFile(c.resolvConfPath, renderResolvConf(await hostResolvConf(), c, user?.ipam.config[0]?.gateway));
  }

  async #hostRoutes(): Promise<Cidr[]> {
    const r = await this.#o.runner.run(['ip', '-j', '-4', 'route', 'show', 'table', 'all'], { check: false });
    return routesFromIpJson(r.stdout).filter((c) => c.prefix > 0 && c.prefix < 32 && (c.base >>> 24) !== 127);
  }

  async #takenSubnets(): Promise<Cidr[]> {
    const own = [...this.#nets.values()].flatMap((n) => v4Configs(n).map((c) => parseCidr(c.subnet)));
    return [...own, ...(await this.#hostRoutes())];
  }

  /**
   * Bridges and berth's nftables table removed from under a running daemon (by hand, by another
   * engine's clean-up) are made again at the next container start, and logged (issue 17).
   * A bridge is checked at every start (one read of /proc/self/net/dev); the table costs a
   * spawn of `nft`, so it is checked at most every TABLE_CHECK_MS.
   */
  async #repairHost(nets: NetworkRecord[]): Promise<void> {
    if (this.#repairing) return this.#repairing;
    const missing: NetworkRecord[] = [];
    for (const n of new Set(nets)) if (!(await this.#host.linkExists(n.bridge))) missing.push(n);
    const checkTable = Date.now() - this.#tableCheckedAt >= TABLE_CHECK_MS;
    if (!missing.length && !checkTable) return;
    this.#repairing = (async () => {
      let rules = missing.length > 0;
      for (const n of missing) {
        this.#o.log.warn({ bridge: n.bridge, network: n.name }, 'bridge was removed from under the daemon: making it again');
        await this.#serial(() => this.#ensureBridge(n));
      }
      if (checkTable) {
        this.#tableCheckedAt = Date.now();
        const r = await this.#o.runner.run(['nft', 'list', 'table', 'ip', this.#o.nftTable], { check: false });
        if (r.code !== 0) {
          this.#o.log.warn({ table: this.#o.nftTable }, 'nftables table was removed from under the daemon: making it again');
          rules = true;
        }
      }
      if (rules) await this.#serial(() => this.#applyRules());
    })().finally(() => {
      this.#repairing = undefined;
    });
    return this.#repairing;
  }

  async #ensureBridge(n: NetworkRecord): Promise<void> {
    if (await this.#host.linkExists(n.bridge)) return;
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
  async #removeStrayBridges(): Promise<void> {
    const owned = new Set([...this.#nets.values()].map((n) => n.bridge));
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

  async #deleteBridge(n: NetworkRecord): Promise<void> {
    if (this.#foreignForwardDrop) await this.#o.runner.run(['iptables-restore', '-w', '--noflush'], { input: forwardHole('-D', n.bridge), check: false });
    if (!(await this.#host.linkExists(n.bridge))) return;
    await this.#o.runner.run(['ip', 'link', 'del', n.bridge], { check: false });
  }

  async #applyRules(): Promise<void> {
    const bridges = [...this.#nets.values()].filter((n) => n.driver === 'bridge');
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
}

function forwardHole(op: '-I' | '-D', bridge: string): string {
  return `*filter\n${op} FORWARD -i ${bridge} -m comment --comment berth -j ACCEPT\n${op} FORWARD -o ${bridge} -m comment --comment berth -j ACCEPT\nCOMMIT\n`;
}

function predefined(name: string, driver: NetworkRecord['driver']): NetworkRecord {
  return {
    id: generateId(),
    name,
    created: new Date().toISOString(),
    driver,
    scope: 'local',
    internal: false,
    attachable: false,
    labels: {},
    options: {},
    ipam: { driver: 'default', options: {}, config: [] },
    bridge: '',
    predefined: true,
    userSubnet: false,
  };
}

function clearAddress(ep: NetEndpoint): void {
  ep.ipAddress = '';
  ep.ipPrefixLen = 0;
  ep.gateway = '';
  ep.macAddress = '';
  ep.endpointId = '';
  delete ep.hostVeth;
  delete ep.globalIPv6Address;
  delete ep.globalIPv6PrefixLen;
  delete ep.ipv6Gateway;
}

function nextDevIndex(eps: Record<string, NetEndpoint>): number {
  return Object.values(eps).filter((e) => e.hostVeth).length;
}

/** The container side's IPv6 address (no duplicate address detection: berth's IPAM is the authority) and link-local IPs. */
function extraAddresses(ep: NetEndpoint, dev: string): string[] {
  const out: string[] = [];
  if (ep.globalIPv6Address) out.push(`addr add ${ep.globalIPv6Address}/${ep.globalIPv6PrefixLen} dev ${dev} nodad`);
  for (const ll of ep.linkLocalIPs ?? []) out.push(isIP(ll) === 6 ? `addr add ${ll}/64 dev ${dev} nodad` : `addr add ${ll}/16 dev ${dev} scope link`);
  return out;
}

function quote(s: string): string {
  return `"${s.replace(/["\\]/g, '')}"`;
}

function hostResolvConf(): Promise<string> {
  return readFile('/etc/resolv.conf', 'utf8').catch(() => '');
}

async function hostResolvers(): Promise<string[]> {
  return nameservers(await hostResolvConf());
}
