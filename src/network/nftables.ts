/**
 * berth's nftables ruleset, as text for one `nft -f -` transaction. berth keeps everything in
 * a table of its own (`ip <table>`), so it never edits another engine's rules. This file owns
 * the chains named `net-*`; port publishing may add chains of its own to the same table, and a
 * re-render flushes only the `net-*` chains.
 */

/** What the ruleset needs to know of one bridge network. */
export interface NftNetwork {
  bridge: string;
  subnet: string;
  /** Further subnets of the same family on the bridge (multi-subnet networks). */
  moreSubnets?: string[];
  internal: boolean;
  /** Masquerade outbound traffic (Docker's com.docker.network.bridge.enable_ip_masquerade). */
  masquerade: boolean;
  /** The embedded DNS server's address (user networks): reachable from this network's containers only. */
  dnsAddress?: string;
}

/**
 * The transaction that makes the table hold exactly the rules for `networks`. With family
 * `ip6` the same rules go to an `ip6` table of the same name for IPv6 subnets: NAT66 by
 * masquerade, as Docker's ip6tables rules do.
 */
export function renderRuleset(table: string, networks: NftNetwork[], family: 'ip' | 'ip6' = 'ip'): string {
  const q = (s: string) => JSON.stringify(s);
  const f = family;
  const lines = [
    `add table ${f} ${table}`,
    `add chain ${f} ${table} net-postrouting { type nat hook postrouting priority srcnat; policy accept; }`,
    `add chain ${f} ${table} net-forward { type filter hook forward priority filter; policy accept; }`,
    `add chain ${f} ${table} net-input { type filter hook input priority filter; policy accept; }`,
    `flush chain ${f} ${table} net-postrouting`,
    `flush chain ${f} ${table} net-forward`,
    `flush chain ${f} ${table} net-input`,
  ];
  const bridges = networks.map((n) => n.bridge);
  for (const n of networks) {
    const subnets = [n.subnet, ...(n.moreSubnets ?? [])];
    if (n.dnsAddress) {
      // The network's DNS answers its own containers only (issue 24 item 5): queries from other
      // networks, the host's other interfaces or another subnet on this bridge are dropped
      // before the server sees them, so it is neither a name directory nor an open resolver.
      const dns = `${f} daddr ${n.dnsAddress} meta l4proto { tcp, udp } th dport 53`;
      lines.push(`add rule ${f} ${table} net-input ${dns} iifname != ${q(n.bridge)} drop`);
      lines.push(`add rule ${f} ${table} net-input ${dns} ${f} saddr != ${subnets.length === 1 ? subnets[0] : `{ ${subnets.join(', ')} }`} drop`);
    }
    if (n.internal) {
      // No way out of (or into) an internal network: only traffic within its bridge.
      lines.push(`add rule ${f} ${table} net-forward iifname ${q(n.bridge)} oifname != ${q(n.bridge)} drop`);
      lines.push(`add rule ${f} ${table} net-forward oifname ${q(n.bridge)} iifname != ${q(n.bridge)} drop`);
    } else {
      const others = bridges.filter((b) => b !== n.bridge);
      // Containers on different networks cannot reach each other (Docker's isolation chains).
      if (others.length) lines.push(`add rule ${f} ${table} net-forward iifname ${q(n.bridge)} oifname { ${others.map(q).join(', ')} } drop`);
      if (n.masquerade) {
        for (const sn of subnets) lines.push(`add rule ${f} ${table} net-postrouting ${f} saddr ${sn} oifname != ${q(n.bridge)} masquerade`);
      }
    }
  }
  return lines.join('\n') + '\n';
}

/** The transaction that removes berth's table (and everything in it). */
export function renderDeleteTable(table: string, family: 'ip' | 'ip6' = 'ip'): string {
  return `add table ${family} ${table}\ndelete table ${family} ${table}\n`;
}
