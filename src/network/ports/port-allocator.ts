/**
 * Host-port bookkeeping, as Docker's portallocator: a port is allocated per (protocol, host
 * address, port); 0.0.0.0 overlaps every IPv4 address and :: every address. A request for a
 * specific port that is taken fails with Docker's "port is already allocated"; a request for
 * any port takes the next free one of the dynamic range after the last one handed out, asking
 * `isFree` (a bind probe in the daemon) so ports held by other programs are skipped.
 */
import { readFileSync } from 'node:fs';
import { ConflictError } from '../../common/errors.js';
import type { PortProto } from './port-spec.js';

/** Docker's fallback when /proc/sys/net/ipv4/ip_local_port_range can't be read. */
export const DEFAULT_DYNAMIC_RANGE: [number, number] = [49153, 65535];

/** The kernel's ephemeral range, as Docker's portallocator reads it. */
export function dynamicPortRange(path = '/proc/sys/net/ipv4/ip_local_port_range'): [number, number] {
  try {
    const [a, b] = readFileSync(path, 'utf8').trim().split(/\s+/).map(Number) as [number, number];
    if (a > 0 && b <= 65535 && a <= b) return [a, b];
  } catch {
    // fall through
  }
  return DEFAULT_DYNAMIC_RANGE;
}

export class PortAllocatedError extends ConflictError {
  override readonly code = 'BERTH_ERR_PORT_ALLOCATED';
}

export interface AllocateRequest {
  proto: PortProto;
  hostIp: string;
  /** [start, end]; [0, 0] for any port of the dynamic range. */
  range: [number, number];
  owner: string;
}

interface Holding {
  proto: PortProto;
  hostIp: string;
  port: number;
  owner: string;
}

function isWildcard(ip: string): boolean {
  return ip === '' || ip === '0.0.0.0' || ip === '::';
}

function family(ip: string): 4 | 6 {
  return ip.includes(':') ? 6 : 4;
}

/** Whether two host addresses share a port space. */
function overlaps(a: string, b: string): boolean {
  if (a === b) return true;
  if (a === '' || a === '::' || b === '' || b === '::') return true;
  if (a === '0.0.0.0') return family(b) === 4;
  if (b === '0.0.0.0') return family(a) === 4;
  return false;
}

export class PortAllocator {
  #held: Holding[] = [];
  #last = new Map<PortProto, number>();
  readonly #dynamic: [number, number];
  readonly #isFree: (proto: PortProto, hostIp: string, port: number) => Promise<boolean>;

  constructor(options: { dynamicRange?: [number, number]; isFree?: (proto: PortProto, hostIp: string, port: number) => Promise<boolean> } = {}) {
    this.#dynamic = options.dynamicRange ?? dynamicPortRange();
    this.#isFree = options.isFree ?? (async () => true);
  }

  /** Who holds the port, if anyone. */
  holder(proto: PortProto, hostIp: string, port: number): string | undefined {
    return this.#held.find((h) => h.proto === proto && h.port === port && overlaps(h.hostIp, hostIp))?.owner;
  }

  /** Records a port already in use by `owner` (restore after a daemon restart). */
  reserve(proto: PortProto, hostIp: string, port: number, owner: string): void {
    if (this.holder(proto, hostIp, port) === owner) return;
    this.#held.push({ proto, hostIp, port, owner });
  }

  /** Allocates one port; throws PortAllocatedError when none of the requested ones is free. */
  async allocate(req: AllocateRequest): Promise<number> {
    const shown = `${isWildcard(req.hostIp) ? (family(req.hostIp) === 6 ? '[::]' : '0.0.0.0') : req.hostIp.includes(':') ? `[${req.hostIp}]` : req.hostIp}`;
    if (req.range[0] === 0) {
      const [lo, hi] = this.#dynamic;
      const n = hi - lo + 1;
      const start = this.#last.get(req.proto) ?? hi;
      for (let i = 1; i <= n; i++) {
        const port = lo + ((start - lo + i) % n);
        if (this.holder(req.proto, req.hostIp, port) !== undefined) continue;
        if (!(await this.#isFree(req.proto, req.hostIp, port))) continue;
        this.#last.set(req.proto, port);
        this.#held.push({ proto: req.proto, hostIp: req.hostIp, port, owner: req.owner });
        return port;
      }
      throw new PortAllocatedError(`Bind for ${shown}:0 failed: all dynamic ports are allocated`);
    }
    const [start, end] = req.range;
    for (let port = start; port <= end; port++) {
      if (this.holder(req.proto, req.hostIp, port) !== undefined) continue;
      if (!(await this.#isFree(req.proto, req.hostIp, port))) {
        if (start === end) throw new PortAllocatedError(`failed to bind host port for ${shown}:${port}/${req.proto}: address already in use`);
        continue;
      }
      this.#held.push({ proto: req.proto, hostIp: req.hostIp, port, owner: req.owner });
      return port;
    }
    const what = start === end ? String(start) : `${start}-${end}`;
    throw new PortAllocatedError(`Bind for ${shown}:${what} failed: port is already allocated`);
  }

  /** Frees everything `owner` holds. */
  release(owner: string): void {
    this.#held = this.#held.filter((h) => h.owner !== owner);
  }

  /** Number of ports held (for tests and shutdown). */
  get size(): number {
    return this.#held.length;
  }
}
