/**
 * What the network service reads of, and writes to, the host outside of commands (links,
 * forwarding switches, the DNS servers it starts). Unit tests substitute it.
 */
import { writeFile } from 'node:fs/promises';
import { EmbeddedDns } from './dns-server.js';
import { linkExists } from './links.js';

export interface NetworkHost {
  linkExists(name: string): Promise<boolean>;
  enableForwarding(): Promise<void>;
  /** IPv6 forwarding, turned on when the first IPv6 network is made (as Docker does). */
  enableForwarding6?(): Promise<void>;
  /** Starts a DNS server (EmbeddedDns by default). */
  startDns(options: ConstructorParameters<typeof EmbeddedDns>[0]): Promise<{ close(): Promise<void> }>;
}

export const REAL_HOST: NetworkHost = {
  linkExists,
  enableForwarding: () => writeFile('/proc/sys/net/ipv4/ip_forward', '1'),
  enableForwarding6: () => writeFile('/proc/sys/net/ipv6/conf/all/forwarding', '1'),
  startDns: async (o) => {
    const d = new EmbeddedDns(o);
    await d.start();
    return d;
  },
};
