/**
 * Published-port specifications as the daemon receives them (`HostConfig.PortBindings`,
 * `ExposedPorts`), checked and normalised with the semantics of Docker's go-connections `nat`
 * package (ParsePort, ParsePortRange, NewPort). Pure: no I/O.
 */
import { isIP } from 'node:net';
import { InvalidParameterError } from '../../common/errors.js';

export type PortProto = 'tcp' | 'udp' | 'sctp';

/** One host binding of a container port, as the API spells it. */
export interface PortBindingSpec {
  hostIp: string;
  /** '' (any free port), a port, or a range "8000-8010" (the first free one of it). */
  hostPort: string;
}

/** A container port key: "80/tcp". */
export interface PortKey {
  port: number;
  proto: PortProto;
}

const PROTOS = new Set(['tcp', 'udp', 'sctp']);

/** `nat.ParsePortRange`: "80" or "8000-8010" → [start, end]; throws on anything else. */
export function parsePortRange(s: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new InvalidParameterError(`invalid port range: ${s}`);
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start > 65535 || end > 65535) throw new InvalidParameterError(`invalid port range: ${s}`);
  if (end < start) throw new InvalidParameterError(`invalid range specified for port: ${s}`);
  return [start, end];
}

/** "80", "80/udp" → {port, proto} (Docker's `nat.NewPort` after `SplitProtoPort`). */
export function parsePortKey(key: string): PortKey {
  const slash = key.indexOf('/');
  const num = slash < 0 ? key : key.slice(0, slash);
  const proto = (slash < 0 ? 'tcp' : key.slice(slash + 1).toLowerCase()) || 'tcp';
  if (!PROTOS.has(proto)) throw new InvalidParameterError(`invalid proto: ${proto}`);
  if (!/^\d+$/.test(num) || Number(num) < 1 || Number(num) > 65535) throw new InvalidParameterError(`invalid port specification: "${key}"`);
  return { port: Number(num), proto: proto as PortProto };
}

/** The canonical key of a container port: "80/tcp". */
export function portKey(p: PortKey): string {
  return `${p.port}/${p.proto}`;
}

/**
 * Checks and normalises `HostConfig.PortBindings` (keys "80/tcp", values [{HostIp, HostPort}]);
 * bad input is an InvalidParameterError and nothing else happens.
 */
export function normalizePortBindings(raw: unknown): Record<string, PortBindingSpec[]> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidParameterError('HostConfig.PortBindings must be an object');
  const out: Record<string, PortBindingSpec[]> = {};
  for (const [key, list] of Object.entries(raw as Record<string, unknown>)) {
    const k = portKey(parsePortKey(key));
    const bindings = (out[k] ??= []);
    if (list === null || list === undefined) continue;
    if (!Array.isArray(list)) throw new InvalidParameterError(`HostConfig.PortBindings["${key}"] must be an array`);
    for (const b of list as unknown[]) {
      if (b === null || typeof b !== 'object') throw new InvalidParameterError(`HostConfig.PortBindings["${key}"] must hold objects`);
      const o = b as Record<string, unknown>;
      const hostIp = normalizeHostIp(o['HostIp']);
      const hostPortRaw = o['HostPort'] ?? '';
      if (typeof hostPortRaw !== 'string' && typeof hostPortRaw !== 'number') throw new InvalidParameterError(`invalid hostPort: ${String(hostPortRaw)}`);
      const hostPort = String(hostPortRaw);
      if (hostPort !== '') {
        let range: [number, number];
        try {
          range = parsePortRange(hostPort);
        } catch {
          throw new InvalidParameterError(`invalid hostPort: ${hostPort}`);
        }
        bindings.push({ hostIp, hostPort: range[0] === range[1] ? (range[0] === 0 ? '' : String(range[0])) : `${range[0]}-${range[1]}` });
      } else bindings.push({ hostIp, hostPort: '' });
    }
  }
  return out;
}

function normalizeHostIp(v: unknown): string {
  if (v === undefined || v === null || v === '') return '';
  if (typeof v !== 'string') throw new InvalidParameterError(`invalid IP address: ${String(v)}`);
  const ip = v.replace(/^\[(.*)\]$/, '$1');
  if (!isIP(ip)) throw new InvalidParameterError(`invalid IP address: ${v}`);
  return ip;
}

/** `ExposedPorts` keys ("80/tcp", "8000-8002/udp" is expanded as the image builder does). */
export function expandExposedPorts(keys: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const key of keys) {
    const slash = key.indexOf('/');
    const num = slash < 0 ? key : key.slice(0, slash);
    const proto = slash < 0 ? 'tcp' : key.slice(slash + 1);
    const [start, end] = parsePortRange(num);
    for (let p = start; p <= end; p++) out.add(portKey(parsePortKey(`${p}/${proto}`)));
  }
  return [...out];
}

/** Sorts "80/tcp" keys as Docker lists them: by number, then protocol. */
export function comparePortKeys(a: string, b: string): number {
  const pa = parsePortKey(a);
  const pb = parsePortKey(b);
  return pa.port - pb.port || pa.proto.localeCompare(pb.proto);
}
