import { isIP } from 'node:net';
import { StatusError } from './errors.js';

/**
 * `network create --subnet/--ip-range/--gateway/--aux-address` into IPAM.Config as the docker
 * CLI builds it: each range, gateway and aux address goes to the subnet that contains it (not
 * by position), one gateway and one range per subnet at most.
 */
export interface IpamConfigJson {
  Subnet: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

function toBig(ip: string): { v: bigint; bits: number } | undefined {
  const fam = isIP(ip);
  if (fam === 4) return { v: ip.split('.').reduce((a, p) => (a << 8n) | BigInt(Number(p)), 0n), bits: 32 };
  if (fam !== 6) return undefined;
  const [h, t] = ip.includes('::') ? (ip.split('::') as [string, string]) : [ip, undefined];
  const hp = h ? h.split(':') : [];
  const tp = t ? t.split(':') : [];
  const groups = t === undefined ? hp : [...hp, ...Array(8 - hp.length - tp.length).fill('0'), ...tp];
  return { v: groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g || '0', 16)), 0n), bits: 128 };
}

/** Whether `cidr` contains the address (or the base of the CIDR) `what`. */
function subnetContains(cidr: string, what: string): boolean {
  const [net, len] = cidr.split('/') as [string, string?];
  const a = toBig(net);
  const b = toBig(what.split('/')[0]!);
  if (!a || !b || a.bits !== b.bits || len === undefined) return false;
  const shift = BigInt(a.bits - Number(len));
  return a.v >> shift === b.v >> shift;
}

export function ipamConfigFromFlags(o: { subnet?: string[]; ipRange?: string[]; gateway?: string[]; auxAddress?: string[] }): IpamConfigJson[] {
  const configs: IpamConfigJson[] = (o.subnet ?? []).map((s) => ({ Subnet: s }));
  const find = (what: string, kind: string): IpamConfigJson => {
    const c = configs.find((x) => subnetContains(x.Subnet, what));
    if (!c) throw new StatusError(125, `no matching subnet for ${kind} ${what}`);
    return c;
  };
  for (const r of o.ipRange ?? []) {
    const c = find(r, 'range');
    if (c.IPRange) throw new StatusError(125, 'cannot configure multiple ranges on the same subnet');
    c.IPRange = r;
  }
  for (const g of o.gateway ?? []) {
    const c = find(g, 'gateway');
    if (c.Gateway) throw new StatusError(125, `cannot configure multiple gateways (${g}, ${c.Gateway}) for the same subnet (${c.Subnet})`);
    c.Gateway = g;
  }
  for (const kv of o.auxAddress ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new StatusError(125, `invalid aux-address ${kv}: expected NAME=IP`);
    const c = find(kv.slice(i + 1), 'aux-address');
    (c.AuxiliaryAddresses ??= {})[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return configs;
}
