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
import { EmbeddedDns } from './dns-server.js';
import { linkExists } from './links.js';
import type { EndpointRequest, NetEndpoint, NetworkRecord, NetworkedContainer } from './types.js';
import { faultPoint } from '../common/fault-point.js';

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
}

/** What the service reads of, and writes to, the host outside of commands. */
export interface NetworkHost {
  linkExists(name: string): Promise<boolean>;
  enableForwarding(): Promise<void>;
  /** Starts a DNS server (EmbeddedDns by default). */
  startDns(options: ConstructorParameters<typeof EmbeddedDns>[0]): Promise<{ close(): Promise<void> }>;
}

const REAL_HOST: NetworkHost = {
  linkExists,
  enableForwarding: () => writeFile('/proc/sys/net/ipv4/ip_forward', '1'),
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
  ipam?: { driver?: string; options?: Record<string, string>; config?: Array<{ subnet?: string; gateway?: string; ipRange?: string }> };
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
const VALID_NET_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

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
    if (def && (def.bridge !== this.#o.defaultBridge || (this.#o.bip && def.ipam.config[0]?.gateway + '/' + def.ipam.config[0]?.subnet.split('/')[1] !== this.#o.bip))) {
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
      this.#save(def);
    }
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
    if (!VALID_NET_NAME.test(name)) throw new InvalidParameterError(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const driver = req.driver || 'bridge';
    if (driver === 'host' || driver === 'null') throw new ForbiddenError(`only one instance of "${driver}" network is allowed`);
    if (driver !== 'bridge') throw new NotFoundError(`plugin "${driver}" not found`);
    if (this.#byName(name)) throw new ConflictError(`network with name ${name} already exists`);
    if (req.ipam?.driver && req.ipam.driver !== 'default') throw new NotFoundError(`plugin "${req.ipam.driver}" not found`);
    const configs = req.ipam?.config ?? [];
    if (configs.length > 1) throw new InvalidParameterError('berth supports one IPv4 subnet per network');
    const options = { ...(req.options ?? {}) };
    const id = generateId();
    const bridge = options[BRIDGE_OPT] || `br-${id.slice(0, 12)}`;
    if (bridge.length > 15 || !/^[a-zA-Z0-9_.-]+$/.test(bridge)) throw new InvalidParameterError(`invalid bridge name "${bridge}": at most 15 characters of [a-zA-Z0-9_.-]`);
    for (const n of this.#nets.values()) if (n.bridge === bridge) throw new ConflictError(`bridge name ${bridge} is already used by network ${n.name}`);
    if (await this.#host.linkExists(bridge)) throw new ConflictError(`a network interface named ${bridge} already exists on the host`);

    let subnet: Cidr;
    let gateway: string;
    let ipRange: string | undefined;
    const c = configs[0];
    const userSubnet = !!c?.subnet;
    if (c?.subnet) {
      subnet = parseCidr(c.subnet, { strict: true });
      if (subnet.prefix > 30) throw new InvalidParameterError(`invalid subnet ${c.subnet}: too small for containers`);
      for (const n of this.#nets.values()) {
        for (const nc of n.ipam.config) if (overlaps(parseCidr(nc.subnet), subnet)) throw new ForbiddenError(`Pool overlaps with other one on this address space`);
      }
      for (const r of await this.#hostRoutes()) {
        if (overlaps(r, subnet)) throw new ForbiddenError(`Pool overlaps with other one on this address space (host route ${formatCidr(r)})`);
      }
      if (c.gateway) {
        if (!contains(subnet, ipToInt(c.gateway))) throw new InvalidParameterError(`no matching subnet for gateway ${c.gateway}`);
        gateway = c.gateway;
      } else {
        gateway = intToIp(subnet.base + 1);
      }
      if (c.ipRange) {
        const r = parseCidr(c.ipRange, { strict: true });
        if (!contains(subnet, r.base) || r.prefix < subnet.prefix) throw new InvalidParameterError(`no matching subnet for range ${c.ipRange}`);
        ipRange = formatCidr(r);
      }
    } else {
      if (c?.gateway || c?.ipRange) throw new InvalidParameterError('gateway and ip-range need a subnet');
      subnet = pickSubnet(this.#o.pools ?? DEFAULT_POOLS, await this.#takenSubnets());
      gateway = intToIp(subnet.base + 1);
    }
    if (!usableAddress(subnet, ipToInt(gateway))) throw new InvalidParameterError(`invalid gateway ${gateway} for subnet ${formatCidr(subnet)}`);
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
      ipam: { driver: 'default', options: req.ipam?.options ?? {}, config: [{ subnet: formatCidr(subnet), gateway, ...(ipRange ? { ipRange } : {}) }] },
      bridge,
      predefined: false,
      userSubnet,
    };
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
      ...(req.macAddress ? { requestedMac: req.macAddress } : {}),
      aliases: req.aliases ?? [],
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
      const subnet = parseCidr(net.ipam.config[0]!.subnet);
      const ip = ipToInt(req.ipv4Address);
      if (!usableAddress(subnet, ip) || req.ipv4Address === net.ipam.config[0]!.gateway) {
        throw new InvalidParameterError(`invalid address ${req.ipv4Address}: it does not belong to any of this network's subnets (${net.ipam.config[0]!.subnet})`);
      }
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
      await writeFile(c.hostsPath, await readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1\tlocalhost\n') + this.#extraHosts(c).join(''));
      await writeFile(c.resolvConfPath, await this.#resolvConf(c, undefined));
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
        after.push(`addr add ${ep.ipAddress}/${ep.ipPrefixLen} dev ${dev}`, `link set ${dev} up`);
        if (!defaultRoute && !net.internal) {
          after.push(`route add default via ${ep.gateway} dev ${dev}`);
          defaultRoute = true;
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
      const inside = [`addr add ${ep.ipAddress}/${ep.ipPrefixLen} dev ${dev}`, `link set ${dev} up`];
      if (!hasDefault && !net.internal) inside.push(`route add default via ${ep.gateway} dev ${dev}`);
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
      if (options.force) return;
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
    const cfg = net.ipam.config[0]!;
    const subnet = parseCidr(cfg.subnet);
    const used = new Set<number>([ipToInt(cfg.gateway)]);
    for (const a of this.#active.get(net.id)?.values() ?? []) if (a.containerId !== c.id) used.add(ipToInt(a.ep.ipAddress));
    let ip: number;
    if (ep.requestedIp) {
      ip = ipToInt(ep.requestedIp);
      if (used.has(ip)) throw new ForbiddenError(`Address already in use`);
    } else {
      const range = cfg.ipRange ? parseCidr(cfg.ipRange) : undefined;
      const cooling = [...(this.#cooling.get(net.id) ?? [])].map(ipToInt);
      try {
        ip = pickAddress(subnet, new Set([...used, ...cooling]), range);
      } catch (err) {
        // Only addresses still cooling down are free: take one (its old veth is nearly gone).
        if (cooling.length === 0) throw err;
        ip = pickAddress(subnet, used, range);
      }
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

  /** The names a user network's DNS answers: container name, aliases, short ID, hostname. */
  #lookup(netId: string, name: string): string[] | undefined {
    const out: string[] = [];
    for (const a of this.#active.get(netId)?.values() ?? []) {
      if (!a.ep.ipAddress) continue;
      const names = [a.containerName, a.containerId.slice(0, 12), ...a.ep.aliases].map((n) => n.toLowerCase());
      if (names.includes(name)) out.push(a.ep.ipAddress);
    }
    return out.length ? out : undefined;
  }

  async #startDns(net: NetworkRecord): Promise<void> {
    if (this.#dns.has(net.id)) return;
    const dns = await this.#host.startDns({
      address: net.ipam.config[0]!.gateway,
      lookup: (name) => this.#lookup(net.id, name),
      upstreams: this.#upstreams,
      log: this.#o.log.child({ dns: net.name }),
    });
    this.#dns.set(net.id, dns);
  }

  #extraHosts(c: NetworkedContainer): string[] {
    return (c.host.extraHosts ?? []).map((h) => {
      const i = h.indexOf(':');
      const name = h.slice(0, i);
      let ip = h.slice(i + 1);
      if (ip === 'host-gateway') ip = this.hostGateway();
      return `${ip}\t${name}\n`;
    });
  }

  async #writeHosts(c: NetworkedContainer): Promise<void> {
    const hostname = c.config.hostname ?? '';
    const fqdn = c.config.domainname ? `${hostname}.${c.config.domainname} ` : '';
    const lines = [
      '127.0.0.1\tlocalhost\n',
      '::1\tlocalhost ip6-localhost ip6-loopback\n',
      'fe00::0\tip6-localnet\n',
      'ff00::0\tip6-mcastprefix\n',
      'ff02::1\tip6-allnodes\n',
      'ff02::2\tip6-allrouters\n',
      ...this.#extraHosts(c),
    ];
    for (const ep of Object.values(c.network?.endpoints ?? {})) {
      if (ep.ipAddress) lines.push(`${ep.ipAddress}\t${fqdn}${hostname}\n`);
    }
    await writeFile(c.hostsPath, lines.join(''));
    const user = Object.values(c.network?.endpoints ?? {}).map((e) => this.#nets.get(e.networkId)).find((n) => n && n.driver === 'bridge' && !n.predefined);
    await writeFile(c.resolvConfPath, await this.#resolvConf(c, user?.ipam.config[0]?.gateway));
  }

  /** resolv.conf: the embedded DNS on user networks, else --dns or the host's non-loopback servers. */
  async #resolvConf(c: NetworkedContainer, embedded: string | undefined): Promise<string> {
    const host = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
    const search = c.host.dnsSearch?.length ? c.host.dnsSearch : parseLines(host, /^\s*(?:search|domain)\s+(.*)$/).flatMap((s) => s.split(/\s+/));
    const opts = c.host.dnsOptions?.length ? c.host.dnsOptions : parseLines(host, /^\s*options\s+(.*)$/).flatMap((s) => s.split(/\s+/));
    let servers: string[];
    if (embedded) servers = [embedded];
    else if (c.host.dns?.length) servers = c.host.dns;
    else {
      servers = parseLines(host, /^\s*nameserver\s+(\S+)/).filter((s) => !/^(127\.|::1$|localhost)/.test(s));
      if (c.host.networkMode === 'host') servers = parseLines(host, /^\s*nameserver\s+(\S+)/);
      if (!servers.length) servers = ['8.8.8.8', '8.8.4.4'];
    }
    const out = servers.map((s) => `nameserver ${s}`);
    if (search.filter((s) => s && s !== '.').length) out.push(`search ${search.filter((s) => s && s !== '.').join(' ')}`);
    if (opts.filter(Boolean).length) out.push(`options ${opts.filter(Boolean).join(' ')}`);
    if (embedded && c.host.dns?.length) out.unshift(`# upstream servers (--dns) ${c.host.dns.join(' ')}`);
    return out.join('\n') + '\n';
  }

  async #hostRoutes(): Promise<Cidr[]> {
    const r = await this.#o.runner.run(['ip', '-j', '-4', 'route', 'show', 'table', 'all'], { check: false });
    return routesFromIpJson(r.stdout).filter((c) => c.prefix > 0 && c.prefix < 32 && (c.base >>> 24) !== 127);
  }

  async #takenSubnets(): Promise<Cidr[]> {
    const own = [...this.#nets.values()].flatMap((n) => n.ipam.config.map((c) => parseCidr(c.subnet)));
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
    const cfg = n.ipam.config[0]!;
    const prefix = cfg.subnet.split('/')[1];
    await this.#o.runner.run(['ip', '-batch', '-'], {
      input: [
        `link add ${n.bridge} type bridge`,
        `link set ${n.bridge} alias ${quote(this.#o.linkAlias)}`,
        `addr add ${cfg.gateway}/${prefix} dev ${n.bridge}`,
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
    const nets = [...this.#nets.values()]
      .filter((n) => n.driver === 'bridge')
      .map((n) => ({ bridge: n.bridge, subnet: n.ipam.config[0]!.subnet, internal: n.internal, masquerade: n.options[MASQ_OPT] !== 'false' }));
    await this.#o.runner.run(['nft', '-f', '-'], { input: renderRuleset(this.#o.nftTable, nets) });
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
}

function nextDevIndex(eps: Record<string, NetEndpoint>): number {
  return Object.values(eps).filter((e) => e.hostVeth).length;
}

function quote(s: string): string {
  return `"${s.replace(/["\\]/g, '')}"`;
}

function parseLines(text: string, re: RegExp): string[] {
  const out: string[] = [];
  for (const l of text.split('\n')) {
    const m = re.exec(l);
    if (m) out.push(m[1]!.trim());
  }
  return out;
}

async function hostResolvers(): Promise<string[]> {
  const text = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  return parseLines(text, /^\s*nameserver\s+(\S+)/);
}
