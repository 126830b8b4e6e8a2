/**
 * The nftables table of published ports (`ip <table>_ports`), as text for one `nft -f -`
 * transaction. Kept apart from the network core's table so each side re-renders its own rules
 * without touching the other's. Every transaction re-renders the whole table from the list of
 * published ports, so it is idempotent (restore after a daemon restart is the same call).
 *
 * The kernel path, as Docker 28 without the userland proxy:
 * - `prerouting` (traffic from other hosts and from containers) and `output` (traffic from the
 *   host itself, 127.0.0.1 included) jump to `published` for packets to a local address;
 * - `published` rewrites HOST_IP:HOST_PORT to CONTAINER_IP:CONTAINER_PORT;
 * - `postrouting` masquerades loopback-sourced packets leaving by the bridge (they could not be
 *   answered otherwise; the bridge has route_localnet=1 so the kernel routes them at all) and
 *   hairpin traffic from the container's own subnet;
 * - `raw-prerouting` drops packets for 127.0.0.0/8 arriving from a bridge, so route_localnet
 *   does not open the host's loopback services to containers (CVE-2020-8558).
 */
import type { PortProto } from './port-spec.js';

/** One published port, resolved. */
export interface PortMapping {
  proto: PortProto;
  /** '' or '0.0.0.0' for every IPv4 address of the host. */
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
  /** The Linux bridge the container's endpoint hangs on. */
  bridge: string;
  /** The bridge network's subnet (CIDR), for hairpin masquerade. */
  subnet: string;
}

/** The name of the ports table for a daemon's nftables table name. */
export function portsTableName(nftTable: string): string {
  return `${nftTable}_ports`;
}

/** The transaction that makes the table hold exactly the rules for `mappings` (IPv4 ones). */
export function renderPortsRuleset(table: string, mappings: PortMapping[]): string {
  const q = (s: string) => JSON.stringify(s);
  const t = `ip ${table}`;
  const lines = [
    `add table ${t}`,
    `add chain ${t} prerouting { type nat hook prerouting priority dstnat; policy accept; }`,
    `add chain ${t} output { type nat hook output priority -100; policy accept; }`,
    `add chain ${t} postrouting { type nat hook postrouting priority srcnat; policy accept; }`,
    `add chain ${t} raw-prerouting { type filter hook prerouting priority raw; policy accept; }`,
    `add chain ${t} published`,
  ];
  for (const c of ['prerouting', 'output', 'postrouting', 'raw-prerouting', 'published']) lines.push(`flush chain ${t} ${c}`);
  lines.push(`add rule ${t} prerouting fib daddr type local jump published`);
  lines.push(`add rule ${t} output fib daddr type local jump published`);
  const v4 = mappings.filter((m) => !m.hostIp.includes(':') && !m.containerIp.includes(':'));
  const bridges = [...new Set(v4.map((m) => m.bridge))].sort();
  for (const b of bridges) {
    lines.push(`add rule ${t} raw-prerouting iifname ${q(b)} ip daddr 127.0.0.0/8 drop`);
    lines.push(`add rule ${t} postrouting oifname ${q(b)} ip saddr 127.0.0.0/8 masquerade`);
  }
  const hairpins = new Set<string>();
  for (const m of v4) {
    const daddr = m.hostIp && m.hostIp !== '0.0.0.0' ? `ip daddr ${m.hostIp} ` : '';
    lines.push(`add rule ${t} published ${daddr}${m.proto} dport ${m.hostPort} dnat to ${m.containerIp}:${m.containerPort}`);
    const hp = `add rule ${t} postrouting oifname ${q(m.bridge)} ip saddr ${m.subnet} ip daddr ${m.containerIp} ${m.proto} dport ${m.containerPort} masquerade`;
    if (!hairpins.has(hp)) {
      hairpins.add(hp);
      lines.push(hp);
    }
  }
  return lines.join('\n') + '\n';
}

/** The transaction that removes the ports table (and everything in it), present or not. */
export function renderDeletePortsTable(table: string): string {
  return `add table ip ${table}\ndelete table ip ${table}\n`;
}
