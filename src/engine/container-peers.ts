/**
 * What a container takes from other containers: legacy links (`--link`: environment variables
 * and /etc/hosts entries, the peer must run) and `container:NAME` modes for the pid, ipc and
 * network namespaces. Checked at create, resolved at start; `get` is the container service's
 * lookup by reference.
 */
import { ConflictError, InvalidParameterError } from '../common/errors.js';
import type { SpecContext } from './collaborators.js';
import type { ContainerRecord, ContainerSpec } from './types.js';

/** Finds a container by reference (throws NoSuchContainerError). */
export type Lookup = (ref: string) => ContainerRecord;

/** Create-time checks of what a container refers to: links and `container:` namespace modes. */
export function validatePeers(spec: ContainerSpec, get: Lookup): void {
  const h = spec.host;
  if (h.utsMode === 'host' && spec.hostname) throw new InvalidParameterError('Conflicting options: hostname and the UTS mode');
  for (const l of h.links ?? []) {
    try {
      get(l.name);
    } catch (e) {
      throw new InvalidParameterError(`could not get container for ${l.name}`, { cause: e });
    }
  }
  for (const [kind, mode] of [['pid', h.pidMode], ['ipc', h.ipcMode]] as const) {
    if (!mode?.startsWith('container:')) continue;
    const ref = mode.slice('container:'.length);
    try {
      get(ref);
    } catch (e) {
      throw new InvalidParameterError(`cannot join ${kind} namespace of container ${ref}: No such container: ${ref}`, { cause: e });
    }
  }
}

/** The linked containers of a legacy `--link`, each running (Docker refuses a link to a stopped one). */
export function linked(rec: ContainerRecord, get: Lookup): { alias: string; peer: ContainerRecord; ip: string }[] {
  return (rec.host.links ?? []).map((l) => {
    const peer = get(l.name);
    if (peer.state.status !== 'running') throw new ConflictError(`Cannot link to a non running container: /${peer.name} AS /${rec.name}/${l.alias}`);
    const ip = Object.values(peer.network?.endpoints ?? {}).find((e) => e.ipAddress)?.ipAddress ?? '';
    return { alias: l.alias, peer, ip };
  });
}

/** What the spec needs from other containers: link variables, `container:` pid/ipc peers. */
export function specContext(rec: ContainerRecord, get: Lookup): SpecContext {
  const peerPid = (mode: string | undefined) => {
    if (!mode?.startsWith('container:')) return undefined;
    const peer = get(mode.slice('container:'.length));
    if (peer.id === rec.id) throw new InvalidParameterError('cannot join own namespace');
    if (peer.state.status !== 'running' && peer.state.status !== 'paused') throw new ConflictError(`cannot join namespace of a non running container: container ${peer.id} is not running`);
    return peer.state.pid;
  };
  const linkEnv: string[] = [];
  for (const { alias, peer, ip } of linked(rec, get)) {
    const prefix = alias.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
    linkEnv.push(`${prefix}_NAME=/${rec.name}/${alias}`);
    const ports = Object.keys(peer.config.exposedPorts ?? {})
      .map((p) => { const [port, proto = 'tcp'] = p.split('/'); return { port: Number(port), proto }; })
      .filter((p) => Number.isInteger(p.port))
      .sort((a, b) => a.port - b.port || a.proto.localeCompare(b.proto));
    if (ports[0] && ip) linkEnv.push(`${prefix}_PORT=${ports[0].proto}://${ip}:${ports[0].port}`);
    for (const p of ip ? ports : []) {
      const base = `${prefix}_PORT_${p.port}_${p.proto.toUpperCase()}`;
      linkEnv.push(`${base}=${p.proto}://${ip}:${p.port}`, `${base}_ADDR=${ip}`, `${base}_PORT=${p.port}`, `${base}_PROTO=${p.proto}`);
    }
    for (const e of peer.config.env) {
      const k = e.split('=')[0]!;
      if (k === 'HOME' || k === 'PATH' || k === 'HOSTNAME') continue;
      linkEnv.push(`${prefix}_ENV_${e}`);
    }
  }
  return { linkEnv, pidPeer: peerPid(rec.host.pidMode), ipcPeer: peerPid(rec.host.ipcMode) };
}

/** The record as networking sees it at start: legacy links become /etc/hosts entries (alias, then name). */
export function withLinkHosts(rec: ContainerRecord, get: Lookup): ContainerRecord {
  if (!rec.host.links?.length) return rec;
  const extra = linked(rec, get)
    .filter((l) => l.ip)
    .map((l) => `${l.alias === l.peer.name ? l.alias : `${l.alias} ${l.peer.name}`} ${l.peer.id.slice(0, 12)}:${l.ip}`);
  return new Proxy(rec, {
    get: (target, key, receiver) => (key === 'host' ? { ...target.host, extraHosts: [...(target.host.extraHosts ?? []), ...extra] } : Reflect.get(target, key, receiver)),
  });
}

/** The container whose network a `container:NAME` mode joins (must be running). */
export function networkPeer(rec: ContainerRecord, get: Lookup): ContainerRecord | undefined {
  const mode = rec.host.networkMode ?? '';
  if (!mode.startsWith('container:')) return undefined;
  const peer = get(mode.slice('container:'.length));
  if (peer.id === rec.id) throw new InvalidParameterError('cannot join own network namespace');
  if (peer.state.status !== 'running' && peer.state.status !== 'paused') {
    throw new ConflictError(`cannot join network namespace of a non running container: container ${peer.id} is ${peer.state.status === 'restarting' ? 'restarting' : 'not running'}`);
  }
  return peer;
}
