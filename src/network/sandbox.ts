/**
 * Each container's network sandbox: its network namespace (a bind-mounted nsfs file under
 * `<exec-root>/netns/`), one veth pair per bridge network with the container's addresses and
 * routes inside, and their removal. Addresses come from the registry; the bridges they attach
 * to are the bridge driver's (bridge-driver.ts).
 */
import { rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { CommandRunner } from '../common/command-runner.js';
import { quote } from './bridge-driver.js';
import { clearAddress, type NetworkRegistry } from './network-registry.js';
import type { NetEndpoint, NetworkRecord, NetworkedContainer } from './types.js';

export interface SandboxesOptions {
  runner: CommandRunner;
  registry: NetworkRegistry;
  /** `<exec-root>/netns`. */
  netnsDir: string;
  /** Marks berth's links (ip link alias). */
  linkAlias: string;
  /** Writes the container's /etc/hosts and resolv.conf from its endpoints as they are now. */
  writeFiles(c: NetworkedContainer): Promise<void>;
}

export class Sandboxes {
  readonly #o: SandboxesOptions;
  /**
   * Host-side veth deletions still running. Deleting a veth waits for the kernel's RCU grace
   * period (~25 ms here), so exits do not wait for it; whatever depends on the link being gone
   * (a requested address that may be the old one, network removal, shutdown) waits for these
   * first. Other starts skip the addresses still being freed (registry `cool`).
   */
  readonly #pendingDeletes = new Set<Promise<unknown>>();

  constructor(options: SandboxesOptions) {
    this.#o = options;
  }

  /** Resolves when every veth deletion under way is done. */
  async settle(): Promise<void> {
    if (this.#pendingDeletes.size) await Promise.all([...this.#pendingDeletes]);
  }

  /**
   * Makes the namespace with one veth per endpoint in `eps` (bridge networks, in order: the
   * first is eth0 and gives the default routes), allocating their addresses. `onSandbox` is
   * called once the namespace and the container's side are ready (sandboxKey and files final),
   * before the host side is attached. On failure nothing is left behind.
   */
  async setUp(c: NetworkedContainer, eps: NetEndpoint[], onSandbox?: () => void): Promise<void> {
    const network = (c.network ??= { sandboxKey: '', endpoints: {}, ports: {} });
    const file = join(this.#o.netnsDir, c.id);
    await writeFile(file, '');
    const made: NetEndpoint[] = [];
    try {
      const inside: string[] = ['link set lo up'];
      const outside: string[] = [];
      const late: string[] = [];
      let defaultRoute = false;
      let defaultRoute6 = false;
      for (const [i, ep] of eps.entries()) {
        const net = this.#o.registry.mustGet(ep.networkId);
        this.#o.registry.allocate(net, ep, c);
        made.push(ep);
        const dev = `eth${i}`;
        if (i === 0) {
          // One spawn makes the namespace, the pair, the address and the route. The pair is made
          // from inside the new namespace with its host end created directly in berthd's
          // (`peer ... netns PID`): moving an existing link between namespaces costs an RCU
          // grace period under the RTNL lock (measured 25-50 ms here, against ~5 ms for this).
          // The host end is attached to its bridge by a second, host-side request.
          inside.push(`link add ${dev} address ${ep.macAddress} type veth peer name ${ep.hostVeth} netns ${process.pid}`);
          outside.push(`link set ${ep.hostVeth} master ${net.bridge} alias ${quote(this.#o.linkAlias)} up`);
        } else {
          outside.push(`link add ${ep.hostVeth} master ${net.bridge} alias ${quote(this.#o.linkAlias)} up type veth peer name ${dev} address ${ep.macAddress} netns ${file}`);
        }
        const after = i === 0 ? inside : late;
        after.push(`addr add ${ep.ipAddress}/${ep.ipPrefixLen} dev ${dev}`, ...extraAddresses(ep, dev), `link set ${dev} up`);
        if (!defaultRoute && !net.internal) {
          after.push(`route add default via ${ep.gateway} dev ${dev}`);
          defaultRoute = true;
        }
        if (!defaultRoute6 && !net.internal && ep.ipv6Gateway) {
          after.push(`route add ::/0 via ${ep.ipv6Gateway} dev ${dev}`);
          defaultRoute6 = true;
        }
      }
      await this.#o.runner.run(['unshare', `--net=${file}`, 'ip', '-batch', '-'], { input: inside.join('\n') + '\n' });
      network.sandboxKey = file;
      await this.#o.writeFiles(c);
      onSandbox?.();
      await this.#o.runner.run(['ip', '-batch', '-'], { input: outside.join('\n') + '\n' });
      if (late.length) await this.#o.runner.run(['nsenter', `--net=${file}`, 'ip', '-batch', '-'], { input: late.join('\n') + '\n' });
    } catch (err) {
      await this.tearDown(c).catch(() => {});
      await rm(file, { force: true });
      throw err;
    }
    for (const ep of made) this.#o.registry.activate(c, ep);
  }

  /** The container's veths and namespace go (the veths in the background), its addresses are freed. */
  async tearDown(c: NetworkedContainer): Promise<void> {
    const n = c.network;
    if (!n) return;
    const veths: string[] = [];
    const cooling: Array<[string, string]> = [];
    for (const ep of Object.values(n.endpoints)) {
      this.#o.registry.deactivate(c.id, ep);
      if (ep.hostVeth) {
        veths.push(ep.hostVeth);
        if (ep.ipAddress) cooling.push([ep.networkId, ep.ipAddress]);
      }
      clearAddress(ep);
    }
    const file = n.sandboxKey;
    n.sandboxKey = '';
    const jobs: Promise<unknown>[] = [];
    if (veths.length) {
      const warm = this.#o.registry.cool(cooling);
      const del = this.#o.runner.run(['ip', '-force', '-batch', '-'], { input: veths.map((v) => `link del ${v}`).join('\n') + '\n', check: false }).catch(() => {});
      this.#pendingDeletes.add(del);
      void del.finally(() => {
        this.#pendingDeletes.delete(del);
        warm();
      });
    }
    if (file && file.startsWith(this.#o.netnsDir + '/')) {
      jobs.push(this.#o.runner.run(['umount', file], { check: false }).then(() => rm(file, { force: true })));
    }
    await Promise.all(jobs);
  }

  /** `network connect` of a running container: a new veth into its namespace, with addresses and, when it has none, default routes. */
  async connect(c: NetworkedContainer, net: NetworkRecord, ep: NetEndpoint): Promise<void> {
    const network = (c.network ??= { sandboxKey: '', endpoints: {}, ports: {} });
    const file = network.sandboxKey;
    await this.settle();
    const dev = `eth${nextDevIndex(network.endpoints)}`;
    const r = this.#o.registry;
    r.allocate(net, ep, c);
    try {
      await this.#o.runner.run(['ip', '-batch', '-'], {
        input: `link add ${ep.hostVeth} master ${net.bridge} alias ${quote(this.#o.linkAlias)} up type veth peer name ${dev} address ${ep.macAddress} netns ${file}\n`,
      });
      const hasDefault = Object.values(network.endpoints).some((e) => e.ipAddress && !r.byId(e.networkId)?.internal);
      const inside = [`addr add ${ep.ipAddress}/${ep.ipPrefixLen} dev ${dev}`, ...extraAddresses(ep, dev), `link set ${dev} up`];
      if (!hasDefault && !net.internal) inside.push(`route add default via ${ep.gateway} dev ${dev}`);
      const hasDefault6 = Object.values(network.endpoints).some((e) => e.ipv6Gateway && !r.byId(e.networkId)?.internal);
      if (!hasDefault6 && !net.internal && ep.ipv6Gateway) inside.push(`route add ::/0 via ${ep.ipv6Gateway} dev ${dev}`);
      await this.#o.runner.run(['nsenter', `--net=${file}`, 'ip', '-batch', '-'], { input: inside.join('\n') + '\n' });
    } catch (err) {
      if (ep.hostVeth) await this.#o.runner.run(['ip', 'link', 'del', ep.hostVeth], { check: false });
      throw err;
    }
  }

  /** `network disconnect`: the endpoint's veth goes (its address is freed by the caller). */
  async disconnect(ep: NetEndpoint): Promise<void> {
    if (ep.hostVeth) await this.#o.runner.run(['ip', 'link', 'del', ep.hostVeth], { check: false });
  }
}

function nextDevIndex(eps: Record<string, NetEndpoint>): number {
  return Object.values(eps).filter((e) => e.hostVeth).length;
}

/** The container side's IPv6 address (no duplicate address detection: berth's IPAM is the authority) and link-local IPs. */
function extraAddresses(ep: NetEndpoint, dev: string): string[] {
  const out: string[] = [];
  if (ep.globalIPv6Address) out.push(`addr add ${ep.globalIPv6Address}/${ep.globalIPv6PrefixLen} dev ${dev} nodad`);
  for (const ll of ep.linkLocalIPs ?? []) out.push(isIP(ll) === 6 ? `addr add ${ll}/64 dev ${dev} nodad` : `addr add ${ll}/16 dev ${dev} scope link`);
  return out;
}
