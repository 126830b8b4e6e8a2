/**
 * The name-resolution files of a container, /etc/hosts and /etc/resolv.conf, as text. Pure:
 * the host's own files come in as strings, the callers read and write. Used by the engine at
 * create (before any address is known) and by the network sandbox at start, connect and
 * disconnect, so a container's files have one format whenever they are written.
 */

/** What the files depend on (a subset of the container record). */
export interface EtcFilesContainer {
  config: { hostname?: string; domainname?: string };
  host: { networkMode?: string; extraHosts?: string[]; dns?: string[]; dnsSearch?: string[]; dnsOptions?: string[] };
}

const HOSTS_HEADER = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

/**
 * `--add-host NAME:IP` entries as hosts lines. The first `:` separates name and address, so an
 * IPv6 address keeps its colons; `host-gateway` is the default bridge's gateway (left as is
 * when none is known).
 */
export function extraHostLines(extraHosts: readonly string[] | undefined, hostGateway?: string): string[] {
  return (extraHosts ?? []).map((h) => {
    const i = h.indexOf(':');
    const name = h.slice(0, i);
    let ip = h.slice(i + 1);
    if (ip === 'host-gateway' && hostGateway) ip = hostGateway;
    return `${ip}\t${name}`;
  });
}

/**
 * /etc/hosts of a container with its own network namespace: loopback entries, `--add-host`
 * entries, then the container's name (`hostname.domainname hostname`) on each of its addresses.
 */
export function renderHosts(c: EtcFilesContainer, addresses: readonly string[] = [], hostGateway?: string): string {
  const hostname = c.config.hostname ?? '';
  const fqdn = c.config.domainname ? `${hostname}.${c.config.domainname} ` : '';
  const lines = [...HOSTS_HEADER, ...extraHostLines(c.host.extraHosts, hostGateway)];
  for (const a of addresses) lines.push(`${a}\t${fqdn}${hostname}`);
  return lines.map((l) => `${l}\n`).join('');
}

/** /etc/hosts of a container on the host's network: the host's file plus `--add-host` entries. */
export function renderHostNetworkHosts(hostEtcHosts: string | undefined, extraHosts: readonly string[] | undefined, hostGateway?: string): string {
  return (hostEtcHosts ?? '127.0.0.1\tlocalhost\n') + extraHostLines(extraHosts, hostGateway).map((l) => `${l}\n`).join('');
}

/** The first capture of `re` on each line of `text` that matches it, trimmed. */
function parseLines(text: string, re: RegExp): string[] {
  const out: string[] = [];
  for (const l of text.split('\n')) {
    const m = re.exec(l);
    if (m) out.push(m[1]!.trim());
  }
  return out;
}

/** The nameservers of a resolv.conf, in order. */
export function nameservers(resolvConf: string): string[] {
  return parseLines(resolvConf, /^\s*nameserver\s+(\S+)/);
}

/**
 * /etc/resolv.conf: the embedded DNS (its address in `embedded`) on user networks, else `--dns`,
 * else the host's nameservers without loopback ones (unreachable from the container; kept on
 * the host's network), else Google's as Docker does. Search domains and options are the
 * container's (`--dns-search`, `--dns-option`) or the host's.
 */
export function renderResolvConf(hostResolvConf: string, c: EtcFilesContainer, embedded?: string): string {
  const search = c.host.dnsSearch?.length ? c.host.dnsSearch : parseLines(hostResolvConf, /^\s*(?:search|domain)\s+(.*)$/).flatMap((s) => s.split(/\s+/));
  const opts = c.host.dnsOptions?.length ? c.host.dnsOptions : parseLines(hostResolvConf, /^\s*options\s+(.*)$/).flatMap((s) => s.split(/\s+/));
  let servers: string[];
  if (embedded) servers = [embedded];
  else if (c.host.dns?.length) servers = c.host.dns;
  else {
    servers = nameservers(hostResolvConf).filter((s) => !/^(127\.|::1$|localhost)/.test(s));
    if (c.host.networkMode === 'host') servers = nameservers(hostResolvConf);
    if (!servers.length) servers = ['8.8.8.8', '8.8.4.4'];
  }
  const out = servers.map((s) => `nameserver ${s}`);
  const domains = search.filter((s) => s && s !== '.');
  if (domains.length) out.push(`search ${domains.join(' ')}`);
  if (opts.filter(Boolean).length) out.push(`options ${opts.filter(Boolean).join(' ')}`);
  if (embedded && c.host.dns?.length) out.unshift(`# upstream servers (--dns) ${c.host.dns.join(' ')}`);
  return out.join('\n') + '\n';
}
