/**
 * IPv4 address management, pure: CIDR parsing, overlap tests, picking a free subnet from the
 * configured pools (never one that overlaps a host route or another network) and picking free
 * addresses inside a subnet. The network service keeps the state (what is in use); this file
 * only computes.
 */
import { InvalidParameterError } from '../common/errors.js';

export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  base: number;
  prefix: number;
}

/** A pool of subnets to carve networks from, as daemon.json's `default-address-pools`. */
export interface AddressPool {
  base: string;
  size: number;
}

/** Docker's defaults (daemon/config: 172.17.0.0/16 … 172.31.0.0/16, then 192.168.0.0/20s). */
export const DEFAULT_POOLS: AddressPool[] = [
  ...Array.from({ length: 15 }, (_, i) => ({ base: `172.${17 + i}.0.0/16`, size: 16 })),
  { base: '192.168.0.0/16', size: 20 },
];

export function ipToInt(ip: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) throw new InvalidParameterError(`invalid IPv4 address: ${ip}`);
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) throw new InvalidParameterError(`invalid IPv4 address: ${ip}`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/n`; with `strict`, host bits must be zero (Docker: "invalid subnet"). */
export function parseCidr(text: string, options: { strict?: boolean } = {}): Cidr {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m || Number(m[2]) > 32) throw new InvalidParameterError(`invalid CIDR address: ${text}`);
  const prefix = Number(m[2]);
  const addr = ipToInt(m[1]!);
  const base = (addr & mask(prefix)) >>> 0;
  if (options.strict && base !== addr) throw new InvalidParameterError(`invalid subnet ${text}: it should be ${intToIp(base)}/${prefix}`);
  return { base, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.base)}/${c.prefix}`;
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & mask(c.prefix)) >>> 0) === c.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

/**
 * The first subnet of the pools that overlaps none of `taken` (host routes and existing
 * networks). Throws Docker's error when every pool is exhausted.
 */
export function pickSubnet(pools: AddressPool[], taken: Cidr[]): Cidr {
  for (const pool of pools) {
    const base = parseCidr(pool.base);
    if (pool.size < base.prefix || pool.size > 30) throw new InvalidParameterError(`invalid address pool ${pool.base} size ${pool.size}`);
    const step = 2 ** (32 - pool.size);
    const count = 2 ** (pool.size - base.prefix);
    for (let i = 0; i < count; i++) {
      const cand: Cidr = { base: (base.base + i * step) >>> 0, prefix: pool.size };
      if (!taken.some((t) => overlaps(t, cand))) return cand;
    }
  }
  throw new InvalidParameterError('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
}

/**
 * The first free host address of `subnet` (inside `range` when given), skipping the network
 * and broadcast addresses and every address in `used`.
 */
export function pickAddress(subnet: Cidr, used: ReadonlySet<number>, range?: Cidr): number {
  const scope = range ?? subnet;
  const first = scope.base;
  const last = scope.base + cidrSize(scope) - 1;
  const bcast = subnet.base + cidrSize(subnet) - 1;
  for (let ip = first; ip <= last; ip++) {
    if (ip === subnet.base || ip === bcast) continue;
    if (!used.has(ip >>> 0)) return ip >>> 0;
  }
  throw new InvalidParameterError(`no available IPv4 addresses on network subnet ${formatCidr(subnet)}`);
}

/** Whether `ip` may be given to a container on `subnet` (not network, broadcast, or outside). */
export function usableAddress(subnet: Cidr, ip: number): boolean {
  const bcast = subnet.base + cidrSize(subnet) - 1;
  return contains(subnet, ip) && ip !== subnet.base && ip !== bcast;
}

/** IPv4 destinations of `ip -j route` output (the host's routes), skipping the default route. */
export function routesFromIpJson(json: string): Cidr[] {
  let rows: Array<{ dst?: string }>;
  try {
    rows = JSON.parse(json) as Array<{ dst?: string }>;
  } catch {
    return [];
  }
  const out: Cidr[] = [];
  for (const r of rows) {
    if (!r.dst || r.dst === 'default') continue;
    try {
      out.push(parseCidr(r.dst.includes('/') ? r.dst : `${r.dst}/32`));
    } catch {
      /* not IPv4 */
    }
  }
  return out;
}

/** A locally administered MAC derived from the address, as Docker does (02:42:a.b.c.d). */
export function macFor(ip: number): string {
  return ['02', '42', ...[ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
