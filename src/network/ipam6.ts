/**
 * IPv6 address management, pure: the IPv6 counterpart of ipam.ts with addresses as BigInt.
 * Subnets are given by the user (or daemon.json's fixed-cidr-v6) or picked as a random /64
 * of the unique local range fd00::/8; container addresses are taken in order from the subnet
 * (or its ip-range), skipping the subnet-router anycast address (::0) and the gateway.
 */
import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { InvalidParameterError } from '../common/errors.js';

export interface Cidr6 {
  base: bigint;
  prefix: number;
}

const ALL = (1n << 128n) - 1n;

export function ip6ToBig(ip: string): bigint {
  if (!isIPv6(ip) || ip.includes('%')) throw new InvalidParameterError(`invalid IPv6 address: ${ip}`);
  let text = ip;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const n = v4.slice(1).map(Number);
    text = text.slice(0, v4.index) + `${((n[0]! << 8) | n[1]!).toString(16)}:${((n[2]! << 8) | n[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  let out = 0n;
  for (const g of groups) out = (out << 16n) | BigInt(parseInt(g, 16));
  return out;
}

export function bigToIp6(n: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: the longest run (>1) of zero groups becomes ::
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function mask6(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL << BigInt(128 - prefix)) & ALL;
}

export function isV6Cidr(text: string): boolean {
  return text.includes(':');
}

export function parseCidr6(text: string, options: { strict?: boolean } = {}): Cidr6 {
  const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m || Number(m[2]) > 128) throw new InvalidParameterError(`invalid CIDR address: ${text}`);
  const prefix = Number(m[2]);
  const addr = ip6ToBig(m[1]!);
  const base = addr & mask6(prefix);
  if (options.strict && base !== addr) throw new InvalidParameterError(`invalid subnet ${text}: it should be ${bigToIp6(base)}/${prefix}`);
  return { base, prefix };
}

export function formatCidr6(c: Cidr6): string {
  return `${bigToIp6(c.base)}/${c.prefix}`;
}

export function contains6(c: Cidr6, ip: bigint): boolean {
  return (ip & mask6(c.prefix)) === c.base;
}

export function overlaps6(a: Cidr6, b: Cidr6): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.base & mask6(p)) === (b.base & mask6(p));
}

/** A random /64 of fd00::/8 (RFC 4193's unique local addresses) that overlaps none of `taken`. */
export function pickUlaSubnet(taken: Cidr6[]): Cidr6 {
  for (let i = 0; i < 16; i++) {
    const r = randomBytes(7);
    const base = (BigInt('0x' + Buffer.concat([Buffer.from([0xfd]), r]).toString('hex')) << 64n) & ALL;
    const cand = { base, prefix: 64 };
    if (!taken.some((t) => overlaps6(t, cand))) return cand;
  }
  throw new InvalidParameterError('could not find an available IPv6 subnet');
}

/** The first free address of `subnet` (inside `range` when given) not in `used`; at most `limit` tries. */
export function pickAddress6(subnet: Cidr6, used: ReadonlySet<bigint>, range?: Cidr6, limit = 1 << 16): bigint {
  const scope = range ?? subnet;
  const size = 1n << BigInt(128 - scope.prefix);
  for (let i = 0n; i < size && i < BigInt(limit); i++) {
    const ip = scope.base + i;
    if (ip === subnet.base) continue;
    if (!used.has(ip)) return ip;
  }
  throw new InvalidParameterError(`no available IPv6 addresses on network subnet ${formatCidr6(subnet)}`);
}
