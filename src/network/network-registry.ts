/**
 * Network records and address management: the networks (kept in the store, held in memory),
 * the endpoints of running containers on each network (which addresses are taken, what the
 * embedded DNS answers), the IPAM configs of a new network and the address of a new endpoint.
 * No commands, no kernel state: NetworkService drives it, the sandbox and the bridge side act.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { ForbiddenError, InvalidParameterError, NotFoundError, AmbiguousReferenceError } from '../common/errors.js';
import { generateId } from '../common/ids.js';
import { labelsMatch } from '../common/labels.js';
import {
  DEFAULT_POOLS, contains, formatCidr, intToIp, ipToInt, macFor, overlaps, parseCidr, pickAddress, pickSubnet,
  usableAddress, type AddressPool, type Cidr,
} from './ipam.js';
import { bigToIp6, contains6, formatCidr6, ip6ToBig, isV6Cidr, overlaps6, parseCidr6, pickAddress6, pickUlaSubnet } from './ipam6.js';
import type { EndpointRequest, IpamConfig, NetEndpoint, NetworkRecord, NetworkedContainer } from './types.js';

/** Persistence of network records (store/networks.ts fits). */
export interface NetworkStore {
  put(rec: NetworkRecord): void;
  list(): NetworkRecord[];
  delete(id: string): void;
}

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

/** A running container's endpoint on a network. */
export interface ActiveEndpoint {
  containerId: string;
  containerName: string;
  ep: NetEndpoint;
}

export const MASQ_OPT = 'com.docker.network.bridge.enable_ip_masquerade';
export const BRIDGE_OPT = 'com.docker.network.bridge.name';

/** The IPv4 configs of a network, first is the one `--ip`-less containers get an address from. */
export function v4Configs(n: NetworkRecord): IpamConfig[] {
  return n.ipam.config.filter((c) => !isV6Cidr(c.subnet));
}
export function v6Config(n: NetworkRecord): IpamConfig | undefined {
  return n.enableIPv6 ? n.ipam.config.find((c) => isV6Cidr(c.subnet)) : undefined;
}

/** A predefined network's record (`host`, `none`, and the base of the default `bridge`). */
export function predefined(name: string, driver: NetworkRecord['driver']): NetworkRecord {
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

/** Forgets an endpoint's address (the endpoint stays, as created). */
export function clearAddress(ep: NetEndpoint): void {
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

export class NetworkRegistry {
  readonly #store: NetworkStore;
  readonly #nets = new Map<string, NetworkRecord>();
  /** networkId → containerId → endpoint, for running containers. */
  readonly #active = new Map<string, Map<string, ActiveEndpoint>>();
  /**
   * networkId → addresses whose old veth is still being deleted. A start picks another address
   * rather than wait for the deletion; only an explicitly requested address waits.
   */
  readonly #cooling = new Map<string, Set<string>>();

  constructor(store: NetworkStore) {
    this.#store = store;
    for (const n of store.list()) this.#nets.set(n.id, n);
  }

  // ---- records ----

  all(): NetworkRecord[] {
    return [...this.#nets.values()];
  }

  byId(id: string): NetworkRecord | undefined {
    return this.#nets.get(id);
  }

  byName(name: string): NetworkRecord | undefined {
    for (const n of this.#nets.values()) if (n.name === name) return n;
    return undefined;
  }

  /** Finds a network by full ID, name, or unique ID prefix (Docker's order). */
  get(ref: string): NetworkRecord {
    const byId = this.#nets.get(ref);
    if (byId) return byId;
    const byName = this.byName(ref);
    if (byName) return byName;
    const matches = [...this.#nets.values()].filter((n) => n.id.startsWith(ref));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw new AmbiguousReferenceError(`network ${ref} is ambiguous (${matches.length} matches found based on ID prefix)`);
    throw new NotFoundError(`network ${ref} not found`);
  }

  mustGet(id: string): NetworkRecord {
    const n = this.#nets.get(id);
    if (!n) throw new NotFoundError(`network ${id} not found`);
    return n;
  }

  save(n: NetworkRecord): void {
    this.#store.put(n);
    this.#nets.set(n.id, n);
  }

  delete(id: string): void {
    this.#nets.delete(id);
    this.#store.delete(id);
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
          out = out.filter((n) => !n.predefined && this.activeCount(n.id) === 0 === want);
          break;
        }
        default:
          throw new InvalidParameterError(`invalid filter '${key}'`);
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  // ---- endpoints of running containers ----

  /** The running containers' endpoints on a network. */
  active(netId: string): ActiveEndpoint[] {
    return [...(this.#active.get(netId)?.values() ?? [])];
  }

  activeCount(netId: string): number {
    return this.#active.get(netId)?.size ?? 0;
  }

  activeEndpoint(netId: string, containerId: string): ActiveEndpoint | undefined {
    return this.#active.get(netId)?.get(containerId);
  }

  /** IDs of the networks the container has a live endpoint on. */
  networksOf(containerId: string): string[] {
    return [...this.#active.keys()].filter((id) => this.#active.get(id)!.has(containerId));
  }

  activate(c: NetworkedContainer, ep: NetEndpoint): void {
    let m = this.#active.get(ep.networkId);
    if (!m) this.#active.set(ep.networkId, (m = new Map()));
    m.set(c.id, { containerId: c.id, containerName: c.name, ep });
  }

  deactivate(containerId: string, ep: NetEndpoint): void {
    this.#active.get(ep.networkId)?.delete(containerId);
  }

  /** The container on `netId` whose address there is `ip`. */
  clientOn(netId: string, ip: string): string | undefined {
    for (const a of this.#active.get(netId)?.values() ?? []) if (a.ep.ipAddress === ip) return a.containerId;
    return undefined;
  }

  /** Marks addresses whose old veth is being deleted; returns the function that unmarks them. */
  cool(addresses: Array<[networkId: string, ip: string]>): () => void {
    for (const [net, ip] of addresses) {
      let set = this.#cooling.get(net);
      if (!set) this.#cooling.set(net, (set = new Set()));
      set.add(ip);
    }
    return () => {
      for (const [net, ip] of addresses) this.#cooling.get(net)?.delete(ip);
    };
  }

  // ---- IPAM ----

  /**
   * The IPAM configs of a new network: the user's subnets (several of each family allowed),
   * each checked against the other networks and the host's routes, with its gateway, ip-range
   * and aux addresses; a subnet from the pools when no IPv4 one is given; a random unique local
   * /64 when IPv6 is enabled without an IPv6 subnet.
   */
  async ipamConfigs(
    req: CreateNetworkRequest,
    hostRoutes: () => Promise<Cidr[]>,
    pools: AddressPool[] = DEFAULT_POOLS,
  ): Promise<{ configs: IpamConfig[]; userSubnet: boolean; userSubnet6: boolean; enableIPv6: boolean }> {
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
    const routes = v4in.some((c) => c.subnet) ? await hostRoutes() : [];
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
      const aux = auxAddresses(c.auxAddresses, (ip) => isIP(ip) === 4 && contains(subnet, ipToInt(ip)));
      if (aux) cfg.auxAddresses = aux;
      out4.push(cfg);
    }
    // Aux addresses given in a config without a subnet belong to no subnet (Docker: "no matching subnet").
    if (out4.length === 0) {
      const subnet = pickSubnet(pools, await this.takenSubnets(hostRoutes));
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
      const aux = auxAddresses(c.auxAddresses, (ip) => isIP(ip) === 6 && contains6(subnet, ip6ToBig(ip)));
      if (aux) cfg.auxAddresses = aux;
      out6.push(cfg);
    }
    if (enableIPv6 && out6.length === 0) {
      const subnet = pickUlaSubnet(others6);
      out6.push({ subnet: formatCidr6(subnet), gateway: bigToIp6(subnet.base + 1n) });
    }
    return { configs: [...out4, ...out6], userSubnet: v4in.some((c) => c.subnet), userSubnet6: v6in.length > 0, enableIPv6 };
  }

  /** Subnets a new network must not take: the networks' own and the host's routes. */
  async takenSubnets(hostRoutes: () => Promise<Cidr[]>): Promise<Cidr[]> {
    const own = [...this.#nets.values()].flatMap((n) => v4Configs(n).map((c) => parseCidr(c.subnet)));
    return [...own, ...(await hostRoutes())];
  }

  /** An endpoint as created (no address yet), from the request's settings. */
  blankEndpoint(net: NetworkRecord, req: EndpointRequest): NetEndpoint {
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

  /** Docker's checks of an endpoint request on `net` (requested addresses, aliases, MAC), then the blank endpoint. */
  checkedEndpoint(net: NetworkRecord, req: EndpointRequest): NetEndpoint {
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
    return this.blankEndpoint(net, req);
  }

  /**
   * Gives the endpoint its addresses (IPv4, and IPv6 on an IPv6 network), MAC, ID and host veth
   * name, and reserves them at once so a concurrent start on the same network cannot take them.
   */
  allocate(net: NetworkRecord, ep: NetEndpoint, c: NetworkedContainer): void {
    const cfgs = v4Configs(net);
    const others = this.active(net.id).filter((a) => a.containerId !== c.id);
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
    this.activate(c, ep);
  }
}

function auxAddresses(aux: Record<string, string> | undefined, fits: (ip: string) => boolean): Record<string, string> | undefined {
  if (!aux || Object.keys(aux).length === 0) return undefined;
  for (const [name, ip] of Object.entries(aux)) {
    if (!isIP(ip)) throw new InvalidParameterError(`invalid auxiliary address ${name}=${ip}`);
    if (!fits(ip)) throw new InvalidParameterError(`no matching subnet for aux-address ${ip}`);
  }
  return { ...aux };
}
