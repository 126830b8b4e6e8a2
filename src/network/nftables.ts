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
  internal: boolean;
  /** Masquerade outbound traffic (Docker's com.docker.network.bridge.enable_ip_masquerade). */
  masquerade: boolean;
  /** The embedded DNS server's address (user networks): reachable from this network's containers only. */
  dnsAddress?: string;
}

/** The transaction that makes the table hold exactly the rules for `networks`. */
export function renderRuleset(table: string, networks: NftNetwork[]): string {
  const q = (s: string) => JSON.stringify(s);
  const lines = [
    `add table ip ${table}`,
    `add chain ip ${table} net-postrouting { type nat hook postrouting priority srcnat; policy accept; }`,
    `add chain ip ${table} net-forward { type filter hook forward priority filter; policy accept; }`,
    `add chain ip ${table} net-input { type filter hook input priority filter; policy accept; }`,
    `flush chain ip ${table} net-postrouting`,
    `flush chain ip ${table} net-forward`,
    `flush chain ip ${table} net-input`,
  ];
  const bridges = networks.map((n) => n.bridge);
  for (const n of networks) {
    if (n.dnsAddress) {
      // The network's DNS answers its own containers only (issue 24 item 5): queries from other
      // networks, the host's other interfaces or another subnet on this bridge are dropped
      // before the server sees them, so it is neither a name directory nor an open resolver.
      const dns = `ip daddr ${n.dnsAddress} meta l4proto { tcp, udp } th dport 53`;
      lines.push(`add rule ip ${table} net-input ${dns} iifname != ${q(n.bridge)} drop`);
      lines.push(`add rule ip ${table} net-input ${dns} ip saddr != ${n.subnet} drop`);
    }
    if (n.internal) {
      // No way out of (or into) an internal network: only traffic within its bridge.
      lines.push(`add rule ip ${table} net-forward iifname ${q(n.bridge)} oifname != ${q(n.bridge)} drop`);
      lines.push(`add rule ip ${table} net-forward oifname ${q(n.bridge)} iifname != ${q(n.bridge)} drop`);
    } else {
      const others = bridges.filter((b) => b !== n.bridge);
      // Containers on different networks cannot reach each other (Docker's isolation chains).
      if (others.length) lines.push(`add rule ip ${table} net-forward iifname ${q(n.bridge)} oifname { ${others.map(q).join(', ')} } drop`);
      if (n.masquerade) lines.push(`add rule ip ${table} net-postrouting ip saddr ${n.subnet} oifname != ${q(n.bridge)} masquerade`);
    }
  }
  return lines.join('\n') + '\n';
}

/** The transaction that removes berth's table (and everything in it). */
export function renderDeleteTable(table: string): string {
  return `add table ip ${table}\ndelete table ip ${table}\n`;
}
