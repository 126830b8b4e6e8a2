/**
 * Host-wide claims on the resources a daemon takes over (issue 17, item 1).
 *
 * A bridge, an nftables table, a subnet, a data root or an exec root belongs to one berthd at a
 * time. Two daemons with default settings would otherwise share `berth0` and the `berth`
 * table, and the first to stop deletes them under the other. Each claim is a small JSON file
 * in one host-wide directory (not under the exec root: two daemons with different exec roots
 * must still see each other's claims), created with O_EXCL so that of two daemons starting at
 * once exactly one wins. A claim whose owner is gone (crash, SIGKILL) is stale and is taken
 * over; a claim whose owner is a live berthd makes the second daemon refuse to start with a
 * message naming the owner's pid and socket.
 *
 * Lifecycle: `claim` at start-up, before anything is created on the host; `release` at a clean
 * shutdown (removes only the files that still name this process).
 */
import { mkdirSync, openSync, closeSync, writeSync, readFileSync, rmSync, realpathSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ConflictError } from '../common/errors.js';

/** Where claims live unless a test says otherwise (tmpfs: a reboot clears them, as it clears bridges). */
export const DEFAULT_CLAIMS_DIR = '/run/berth-claims';

/** One thing a daemon owns on the host. */
export interface HostResource {
  kind: 'bridge' | 'nft-table' | 'subnet' | 'data-root' | 'exec-root';
  /** The resource's name as the user wrote it: bridge name, table name, CIDR or directory. */
  name: string;
}

/** What a claim file records about its owner. */
export interface ClaimOwner {
  pid: number;
  /** The API sockets of the owner, for the refusal message. */
  hosts: string[];
  dataRoot: string;
}

/** A daemon another berthd already owns a resource of: it must not start. */
export class ResourceClaimedError extends ConflictError {
  override readonly code = 'BERTH_ERR_RESOURCE_CLAIMED';
  constructor(message: string, readonly resource: HostResource, readonly owner: ClaimOwner) {
    super(message);
  }
}

export interface HostClaimsOptions {
  dir?: string;
  /** Is this pid a live berthd? Default: /proc says it runs and its command line names berthd. */
  isLive?: (pid: number) => boolean;
}

/** Claims held by one daemon. */
export class HostClaims {
  readonly #dir: string;
  readonly #isLive: (pid: number) => boolean;
  readonly #held: string[] = [];
  readonly #owner: ClaimOwner;

  constructor(owner: ClaimOwner, options: HostClaimsOptions = {}) {
    this.#owner = owner;
    this.#dir = options.dir ?? DEFAULT_CLAIMS_DIR;
    this.#isLive = options.isLive ?? isLiveBerthd;
  }

  /**
   * Claims every resource, or none: when one is held by a live daemon, the ones claimed by this
   * call are released again and a ResourceClaimedError says who holds it.
   */
  claim(resources: HostResource[]): void {
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    const mine: string[] = [];
    try {
      for (const r of resources) {
        const file = this.#file(r);
        this.#claimOne(file, r);
        mine.push(file);
      }
    } catch (err) {
      for (const f of mine) rmSync(f, { force: true });
      throw err;
    }
    this.#held.push(...mine);
  }

  /** Removes this daemon's claim files (those that still name this process). */
  release(): void {
    for (const f of this.#held.splice(0)) {
      const owner = readOwner(f);
      if (!owner || owner.pid === this.#owner.pid) rmSync(f, { force: true });
    }
  }

  #file(r: HostResource): string {
    let key = r.name;
    if (r.kind === 'data-root' || r.kind === 'exec-root') {
      try {
        key = realpathSync(r.name);
      } catch {
        // Not made yet: the name as given is the best key there is.
      }
    }
    // Hashed so that any name (a path, a CIDR with '/') makes a flat, fixed-length file name.
    return join(this.#dir, `${r.kind}-${createHash('sha256').update(key).digest('hex').slice(0, 24)}.json`);
  }

  #claimOne(file: string, r: HostResource): void {
    const body = JSON.stringify({ ...this.#owner, kind: r.kind, name: r.name }) + '\n';
    for (let attempt = 0; attempt < 3; attempt++) {
      let fd: number;
      try {
        fd = openSync(file, 'wx', 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const owner = readOwner(file);
        if (owner && owner.pid !== this.#owner.pid && this.#isLive(owner.pid)) {
          const where = owner.hosts.length ? owner.hosts.join(', ') : 'no socket';
          throw new ResourceClaimedError(
            `${describe(r)} is in use by another berthd (pid ${owner.pid}, ${where}, data root ${owner.dataRoot}): ` +
              `give this daemon its own ${flagFor(r)}`,
            r,
            owner,
          );
        }
        // Stale (its daemon died) or half-written: take it over.
        rmSync(file, { force: true });
        continue;
      }
      try {
        writeSync(fd, body);
      } finally {
        closeSync(fd);
      }
      return;
    }
    throw new ConflictError(`cannot claim ${describe(r)}: its claim file ${file} keeps changing`);
  }
}

function readOwner(file: string): ClaimOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(file, 'utf8')) as Partial<ClaimOwner>;
    if (typeof o.pid !== 'number') return undefined;
    return { pid: o.pid, hosts: Array.isArray(o.hosts) ? o.hosts : [], dataRoot: String(o.dataRoot ?? '') };
  } catch {
    return undefined;
  }
}

function describe(r: HostResource): string {
  switch (r.kind) {
    case 'bridge':
      return `bridge ${r.name}`;
    case 'nft-table':
      return `nftables table ${r.name}`;
    case 'subnet':
      return `subnet ${r.name}`;
    case 'data-root':
      return `data root ${r.name}`;
    case 'exec-root':
      return `exec root ${r.name}`;
  }
}

function flagFor(r: HostResource): string {
  switch (r.kind) {
    case 'bridge':
      return '--bridge';
    case 'nft-table':
      return '--nft-table';
    case 'subnet':
      return '--bip';
    case 'data-root':
      return '--data-root';
    case 'exec-root':
      return '--exec-root';
  }
}

/** A pid from a claim may be a zombie or reused by another program: check both. */
export function isLiveBerthd(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state === 'Z' || state === 'X') return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('berthd');
  } catch {
    return false;
  }
}
