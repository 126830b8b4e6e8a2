/**
 * The network module's shapes. Containers are described structurally (the engine's
 * ContainerRecord fits `NetworkedContainer`), so network/ does not import engine/.
 */

export interface IpamConfig {
  /** IPv4 or IPv6 (a network may have several of each family; containers get one of each). */
  subnet: string;
  gateway: string;
  ipRange?: string;
  /** `--aux-address name=ip`: addresses never given to containers. */
  auxAddresses?: Record<string, string>;
}

/** A network as berth keeps it (persisted as JSON in the `networks` table). */
export interface NetworkRecord {
  id: string;
  name: string;
  created: string;
  driver: 'bridge' | 'host' | 'null';
  scope: 'local';
  internal: boolean;
  attachable: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  ipam: { driver: string; options: Record<string, string>; config: IpamConfig[] };
  /** The Linux bridge (driver bridge only). */
  bridge: string;
  /** `bridge`, `host` and `none`: made by the daemon, never removed by users. */
  predefined: boolean;
  /** The subnet was given by the user (then `--ip` is allowed, as Docker). */
  userSubnet: boolean;
  /** `--ipv6`: the network has an IPv6 subnet (ipam.config holds it). */
  enableIPv6?: boolean;
  /** The IPv6 subnet was given by the user (then `--ip6` is allowed). */
  userSubnet6?: boolean;
}

/**
 * One container's membership of a network, as NetworkSettings.Networks[name] shows it (the
 * engine keeps it on its container records as EndpointRecord).
 */
export interface NetEndpoint {
  networkId: string;
  networkName: string;
  endpointId: string;
  /** The address the user asked for (`--ip`), kept so a restart gets the same one. */
  requestedIp?: string;
  /** `--ip6`, kept like requestedIp. */
  requestedIp6?: string;
  /** NetworkingConfig IPAMConfig.LinkLocalIPs: extra link-local addresses on the interface. */
  linkLocalIPs?: string[];
  requestedMac?: string;
  aliases: string[];
  links?: string[];
  driverOpts?: Record<string, string>;
  /** Filled while the container runs (or kept across restarts when requested). */
  ipAddress: string;
  ipPrefixLen: number;
  gateway: string;
  macAddress: string;
  /** IPv6 networks: the container's global address, its prefix length and the gateway. */
  globalIPv6Address?: string;
  globalIPv6PrefixLen?: number;
  ipv6Gateway?: string;
  /** Host-side veth name. */
  hostVeth?: string;
}

export interface NetSettings {
  sandboxKey: string;
  endpoints: Record<string, NetEndpoint>;
  ports: Record<string, unknown>;
}

/** What networking needs to know of a container. */
export interface NetworkedContainer {
  id: string;
  name: string;
  config: { hostname?: string; domainname?: string };
  host: { networkMode?: string; extraHosts?: string[]; dns?: string[]; dnsSearch?: string[]; dnsOptions?: string[] };
  state: { pid: number };
  hostsPath: string;
  resolvConfPath: string;
  hostnamePath: string;
  network?: NetSettings;
}

/** Endpoint settings asked for on create or connect (NetworkingConfig.EndpointsConfig[net]). */
export interface EndpointRequest {
  aliases?: string[];
  ipv4Address?: string;
  ipv6Address?: string;
  linkLocalIPs?: string[];
  macAddress?: string;
  /** Endpoint links (`name:alias`), kept and shown by inspect. */
  links?: string[];
  /** Driver options of the endpoint, kept and shown by inspect. */
  driverOpts?: Record<string, string>;
}
