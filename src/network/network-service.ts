/**
 * Networks and container endpoints, as the engine and the API see them. The work is done by
 * four parts this service composes and orders:
 *   network-registry.ts  the network records (SQLite), live endpoints, IPAM
 *   bridge-driver.ts     Linux bridges, berth's nftables tables, repairs of the host side
 *   sandbox.ts           each container's network namespace and veths
 *   network-dns.ts       the embedded DNS servers of user networks (dns-server.ts)
 * and /etc/hosts + resolv.conf are rendered by etc-files.ts.
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
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandRunner } from '../common/command-runner.js';
import type { Logger } from '../common/logger.js';
import { ConflictError, ContainerNotRunningError, ForbiddenError, InvalidParameterError, NotFoundError } from '../common/errors.js';
import { generateId } from '../common/ids.js';
import { labelsMatch } from '../common/labels.js';
import { parseUntil } from '../common/until-filter.js';
import { DEFAULT_POOLS, formatCidr, intToIp, parseCidr, pickSubnet, type AddressPool, type Cidr } from './ipam.js';
import { bigToIp6, formatCidr6, parseCidr6 } from './ipam6.js';
import { BridgeDriver } from './bridge-driver.js';
import { nameservers, renderHostNetworkHosts, renderHosts, renderResolvConf } from './etc-files.js';
import { NetworkDns } from './network-dns.js';
import { REAL_HOST, type NetworkHost } from './network-host.js';
import { BRIDGE_OPT, MASQ_OPT, NetworkRegistry, predefined, v6Config, type CreateNetworkRequest, type NetworkStore } from './network-registry.js';
import { Sandboxes } from './sandbox.js';
import type { EndpointRequest, NetEndpoint, NetworkRecord, NetworkedContainer } from './types.js';
import { faultPoint } from '../common/fault-point.js';

export type { NetworkHost } from './network-host.js';
export type { CreateNetworkRequest, NetworkStore } from './network-registry.js';

/** Where networking events go (the engine's EventBus fits). */
export interface NetworkEvents {
  publish(type: 'network', action: string, id: string, attributes?: Record<string, string>): void;
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

// Docker does not restrict network names ("test 01" is fine); berth only refuses '/' and control characters.
const VALID_NET_NAME = /^[^/\x00-\x1f\x7f]+$/;

export class NetworkService {
  readonly #o: NetworkServiceOptions;
  readonly #host: NetworkHost;
  readonly #registry: NetworkRegistry;
  readonly #bridges: BridgeDriver;
  readonly #sandboxes: Sandboxes;
  readonly #dns: NetworkDns;
  /** Serialises changes to networks (create/remove/prune and bridge set-up). */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: NetworkServiceOptions) {
    this.#o = options;
    this.#host = options.host ?? REAL_HOST;
    this.#registry = new NetworkRegistry(options.store);
    this.#bridges = new BridgeDriver({
      runner: options.runner,
      log: options.log,
      host: this.#host,
      registry: this.#registry,
      nftTable: options.nftTable,
      linkAlias: options.linkAlias,
      serial: (fn) => this.#serial(fn),
    });
    this.#sandboxes = new Sandboxes({
      runner: options.runner,
      registry: this.#registry,
      netnsDir: this.netnsDir,
      linkAlias: options.linkAlias,
      writeFiles: (c) => this.#writeHosts(c),
    });
    this.#dns = new NetworkDns({ registry: this.#registry, host: this.#host, log: options.log });
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
    const r = this.#registry;
    await mkdir(this.netnsDir, { recursive: true });
    this.#dns.upstreams = nameservers(await hostResolvConf());
    await this.#bridges.init();
    if (!r.byName('host')) r.save(predefined('host', 'host'));
    if (!r.byName('none')) r.save(predefined('none', 'null'));
    let def = r.byName('bridge');
    const want6 = this.#o.defaultBridgeIPv6 ? formatCidr6(parseCidr6(this.#o.defaultBridgeIPv6)) : undefined;
    if (def && (def.bridge !== this.#o.defaultBridge || (this.#o.bip && def.ipam.config[0]?.gateway + '/' + def.ipam.config[0]?.subnet.split('/')[1] !== this.#o.bip) || v6Config(def)?.subnet !== want6)) {
      // Settings changed since last run (a different --bridge or --bip): rebuild it if unused.
      await this.#bridges.delete(def).catch(() => {});
      r.delete(def.id);
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
        subnet = pickSubnet(this.#o.pools ?? DEFAULT_POOLS, await r.takenSubnets(() => this.#bridges.hostRoutes()));
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
      r.save(def);
    }
    if (r.all().some((n) => v6Config(n))) await this.#bridges.enableForwarding6();
    for (const n of r.all()) if (n.driver === 'bridge') await this.#bridges.ensure(n);
    await this.#bridges.removeStrays();
    await this.#bridges.applyRules();
    this.#bridges.tableChecked();
    for (const n of r.all()) {
      if (n.driver !== 'bridge' || n.predefined) continue;
      // A network whose DNS cannot listen still works by address; the daemon must come up.
      await this.#dns.start(n).catch((err) => this.#o.log.warn({ err, network: n.name }, 'embedded DNS did not start'));
    }
  }

  /**
   * Clean shutdown. DNS servers stop; with no container running, berth's bridges, holes in a
   * foreign FORWARD chain and its nftables table go too (they come back at the next start).
   */
  async close(options: { anyRunning: boolean }): Promise<void> {
    await this.#sandboxes.settle();
    await this.#dns.closeAll();
    if (options.anyRunning) return;
    for (const n of this.#registry.all()) if (n.driver === 'bridge') await this.#bridges.delete(n).catch((err) => this.#o.log.warn({ err }, 'removing bridge failed'));
    await this.#bridges.deleteTables();
  }

  // ---- networks ----

  /** Finds a network by full ID, name, or unique ID prefix (Docker's order). */
  get(ref: string): NetworkRecord {
    return this.#registry.get(ref);
  }

  list(filters: Map<string, string[]> = new Map()): NetworkRecord[] {
    return this.#registry.list(filters);
  }

  /** Running containers attached to the network, for inspect's `Containers`. */
  endpointsOf(net: NetworkRecord): Array<{ containerId: string; name: string; ep: NetEndpoint }> {
    return this.#registry.active(net.id).map((a) => ({ containerId: a.containerId, name: a.containerName, ep: a.ep }));
  }

  create(req: CreateNetworkRequest): Promise<NetworkRecord> {
    return this.#serial(() => this.#create(req));
  }

  async #create(req: CreateNetworkRequest): Promise<NetworkRecord> {
    const r = this.#registry;
    const name = req.name ?? '';
    if (!name) throw new InvalidParameterError('network name must not be empty');
    if (!VALID_NET_NAME.test(name)) throw new InvalidParameterError(`invalid network name "${name}": '/' and control characters are not allowed`);
    const driver = req.driver || 'bridge';
    if (driver === 'host' || driver === 'null') throw new ForbiddenError(`only one instance of "${driver}" network is allowed`);
    if (driver !== 'bridge') throw new NotFoundError(`plugin "${driver}" not found`);
    if (r.byName(name)) throw new ConflictError(`network with name ${name} already exists`);
    if (req.ipam?.driver && req.ipam.driver !== 'default') throw new NotFoundError(`plugin "${req.ipam.driver}" not found`);
    const options = { ...(req.options ?? {}) };
    const id = generateId();
    const bridge = options[BRIDGE_OPT] || `br-${id.slice(0, 12)}`;
    if (bridge.length > 15 || !/^[a-zA-Z0-9_.-]+$/.test(bridge)) throw new InvalidParameterError(`invalid bridge name "${bridge}": at most 15 characters of [a-zA-Z0-9_.-]`);
    for (const n of r.all()) if (n.bridge === bridge) throw new ConflictError(`bridge name ${bridge} is already used by network ${n.name}`);
    if (await this.#host.linkExists(bridge)) throw new ConflictError(`a network interface named ${bridge} already exists on the host`);

    const { configs: ipamConfigs, userSubnet, userSubnet6, enableIPv6 } = await r.ipamConfigs(req, () => this.#bridges.hostRoutes(), this.#o.pools);
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
    if (enableIPv6) await this.#bridges.enableForwarding6();
    await this.#bridges.ensure(rec);
    faultPoint('network-create');
    try {
      r.save(rec);
      await this.#bridges.applyRules();
      await this.#dns.start(rec);
    } catch (err) {
      r.delete(rec.id);
      await this.#dns.stop(rec.id);
      await this.#bridges.delete(rec).catch(() => {});
      await this.#bridges.applyRules().catch(() => {});
      throw err;
    }
    this.#o.events.publish('network', 'create', rec.id, { name: rec.name, type: rec.driver });
    return rec;
  }

  remove(ref: string): Promise<void> {
    return this.#serial(async () => {
      const net = this.get(ref);
      if (net.predefined) throw new ForbiddenError(`${net.name} is a pre-defined network and cannot be removed`);
      if (this.#registry.activeCount(net.id) > 0) {
        throw new ConflictError(`error while removing network: network ${net.name} id ${net.id} has active endpoints`);
      }
      await this.#sandboxes.settle();
      await this.#dns.stop(net.id);
      this.#registry.delete(net.id);
      await this.#bridges.applyRules();
      await this.#bridges.delete(net);
      this.#o.events.publish('network', 'destroy', net.id, { name: net.name, type: net.driver });
    });
  }

  /** Removes user networks without running containers (filters: until, label). */
  async prune(filters: Map<string, string[]> = new Map()): Promise<string[]> {
    for (const k of filters.keys()) if (!['until', 'label', 'label!'].includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
    const until = filters.get('until')?.[0];
    const untilMs = until ? parseUntil(until) : undefined;
    const deleted: string[] = [];
    for (const n of this.#registry.all()) {
      if (n.predefined || this.#registry.activeCount(n.id) > 0) continue;
      if (untilMs !== undefined && Date.parse(n.created) >= untilMs) continue;
      if (!labelsMatch(n.labels, filters.get('label') ?? [], filters.get('label!') ?? [])) continue;
      await this.remove(n.id).then(() => deleted.push(n.name), () => {});
    }
    return deleted;
  }

  /** Gateway of the default bridge: what `--add-host NAME:host-gateway` points at. */
  hostGateway(): string {
    return this.#registry.byName('bridge')?.ipam.config[0]?.gateway ?? '';
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
      c.network.endpoints[net.name] = this.#registry.blankEndpoint(net, {});
      return;
    }
    // The mode names the first network; EndpointsConfig may add more (API ≥ 1.44).
    const first = Object.entries(requested).find(([k]) => k === mode || k === net.name || k === net.id)?.[1] ?? {};
    c.network.endpoints[net.name] = this.#registry.checkedEndpoint(net, first);
    for (const [ref, cfg] of Object.entries(requested)) {
      const other = this.get(ref);
      if (other.id === net.id) continue;
      if (other.driver !== 'bridge') throw new InvalidParameterError(`container cannot be connected to network ${other.name} as well as ${net.name}`);
      c.network.endpoints[other.name] = this.#registry.checkedEndpoint(other, cfg);
    }
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
    const network = (c.network ??= { sandboxKey: '', endpoints: {}, ports: {} });
    if (mode.startsWith('container:')) {
      if (!peer || !peer.state.pid) throw new ContainerNotRunningError(`cannot join network of a non running container: ${mode.slice(10)}`);
      network.sandboxKey = peer.network?.sandboxKey || `/proc/${peer.state.pid}/ns/net`;
      for (const [from, to] of [[peer.hostsPath, c.hostsPath], [peer.resolvConfPath, c.resolvConfPath], [peer.hostnamePath, c.hostnamePath]] as const) {
        await writeFile(to, await readFile(from, 'utf8').catch(() => ''));
      }
      return;
    }
    if (mode === 'host') {
      network.sandboxKey = '';
      await writeFile(c.hostsPath, renderHostNetworkHosts(await readFile('/etc/hosts', 'utf8').catch(() => undefined), c.host.extraHosts, this.hostGateway()));
      await writeFile(c.resolvConfPath, renderResolvConf(await hostResolvConf(), c));
      return;
    }
    const eps = Object.values(network.endpoints).filter((e) => this.#registry.byId(e.networkId)?.driver === 'bridge');
    if (mode === 'none' || eps.length === 0) {
      network.sandboxKey = '';
      await this.#writeHosts(c);
      return;
    }
    // A bridge deleted from under the daemon comes back now rather than failing every start.
    await this.#bridges.repair(eps.map((e) => this.#registry.mustGet(e.networkId)));
    // A requested address may be one whose old veth is still going away: wait for that.
    // Otherwise allocation skips such addresses, and a start never waits for a deletion.
    if (eps.some((e) => e.requestedIp)) await this.#sandboxes.settle();
    await this.#sandboxes.setUp(c, eps, onSandbox);
  }

  /** After the container exited (or failed to start): its veths and netns go, addresses are freed. */
  async tearDown(c: NetworkedContainer): Promise<void> {
    await this.#sandboxes.tearDown(c);
  }

  /** After a daemon restart, for a container still running: its addresses and names are live again. */
  async restore(c: NetworkedContainer): Promise<void> {
    for (const ep of Object.values(c.network?.endpoints ?? {})) {
      if (!ep.ipAddress || !this.#registry.byId(ep.networkId)) continue;
      this.#registry.activate(c, ep);
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
    const network = (c.network ??= { sandboxKey: '', endpoints: {}, ports: {} });
    if (network.endpoints[net.name]) throw new ForbiddenError(`endpoint with name ${c.name} already exists in network ${net.name}`);
    const ep = this.#registry.checkedEndpoint(net, req);
    if (!running) {
      network.endpoints[net.name] = ep;
      this.#o.events.publish('network', 'connect', net.id, { container: c.id, name: net.name, type: net.driver });
      return;
    }
    if (!network.sandboxKey) throw new ForbiddenError(`container ${c.name} has no network namespace to connect`);
    await this.#sandboxes.connect(c, net, ep);
    network.endpoints[net.name] = ep;
    this.#registry.activate(c, ep);
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
    this.#registry.deactivate(c.id, ep);
    await this.#sandboxes.disconnect(ep);
    delete c.network!.endpoints[net.name];
    await this.#writeHosts(c).catch(() => {});
    this.#o.events.publish('network', 'disconnect', net.id, { container: c.id, name: net.name, type: net.driver });
  }

  /** Announces the endpoints of a container's first start (Docker sends `connect` then). */
  announce(c: NetworkedContainer, action: 'connect' | 'disconnect'): void {
    for (const ep of Object.values(c.network?.endpoints ?? {})) {
      const net = this.#registry.byId(ep.networkId);
      if (net) this.#o.events.publish('network', action, net.id, { container: c.id, name: net.name, type: net.driver });
    }
  }

  /** /etc/hosts and /etc/resolv.conf of a container with its own namespace, from its current endpoints (etc-files.ts). */
  async #writeHosts(c: NetworkedContainer): Promise<void> {
    const eps = Object.values(c.network?.endpoints ?? {});
    const addresses = eps.flatMap((ep) => [ep.ipAddress, ep.globalIPv6Address ?? ''].filter(Boolean));
    await writeFile(c.hostsPath, renderHosts(c, addresses, this.hostGateway()));
    const user = eps.map((e) => this.#registry.byId(e.networkId)).find((n) => n && n.driver === 'bridge' && !n.predefined);
    await writeFile(c.resolvConfPath, renderResolvConf(await hostResolvConf(), c, user?.ipam.config[0]?.gateway));
  }
}

function hostResolvConf(): Promise<string> {
  return readFile('/etc/resolv.conf', 'utf8').catch(() => '');
}
