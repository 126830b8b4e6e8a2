/**
 * Docker's `local` volume driver: each volume is a directory `<root>/<name>/_data`, optionally
 * backed by a mount described by the driver options (`type`, `device`, `o`), as Docker's
 * local driver does (`-o type=tmpfs,device=tmpfs,o=size=64m`, `-o type=none,device=/src,o=bind`).
 *
 * Lifecycle: `create` records the volume and makes its directory; `mount` (called by the engine
 * before a container using it starts) mounts an option-backed volume once; `remove` refuses a
 * volume some container uses (the engine tells through `usedBy`) unless forced... as Docker:
 * `force` only ignores a missing volume, a volume in use is never removed.
 *
 * What it does not do: it does not know containers (the `usedBy` callback answers), nor copy
 * image content into volumes (the engine does, when a container first mounts a new volume).
 */
import { chown, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { CommandRunner } from '../common/command-runner.js';
import { ConflictError, InvalidParameterError, NotFoundError } from '../common/errors.js';
import { labelsMatch } from '../common/labels.js';
import type { VolumeTable } from '../store/volumes.js';
import { faultPoint } from '../common/fault-point.js';

/** Docker ≥ 23 marks anonymous volumes with this label; `volume prune` only takes those by default. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';
/** Where a volume being removed goes first (never a volume name: those start with a letter or digit). */
const TRASH_PREFIX = '.removing-';
const VALID_VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const KNOWN_OPTS = new Set(['type', 'device', 'o', 'size']);

export class NoSuchVolumeError extends NotFoundError {
  override readonly code = 'BERTH_ERR_NO_SUCH_VOLUME';
}
export class VolumeInUseError extends ConflictError {
  override readonly code = 'BERTH_ERR_VOLUME_IN_USE';
}

export interface VolumeRecord {
  name: string;
  driver: string;
  created: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  mountpoint: string;
}

export interface VolumeCreateRequest {
  name?: string;
  driver?: string;
  labels?: Record<string, string>;
  options?: Record<string, string>;
}

export interface VolumeServiceOptions {
  store: VolumeTable<VolumeRecord>;
  /** `<data-root>/volumes`. */
  root: string;
  runner: CommandRunner;
  /** IDs of the containers (any state) that mount the volume. */
  usedBy(name: string): string[];
  /** Volume events (create, destroy), in Docker's vocabulary. */
  publish(action: string, name: string, attributes: Record<string, string>): void;
  /** Reads the mount table (tests substitute it). */
  isMounted(path: string): Promise<boolean>;
  /** `--userns-remap` (issue 21): new volumes' `_data` belongs to the remapped root, as dockerd's. */
  rootOwner?: { uid: number; gid: number };
}

export class VolumeService {
  readonly #o: VolumeServiceOptions;
  readonly #root: string;

  constructor(options: VolumeServiceOptions) {
    this.#o = options;
    this.#root = resolve(options.root);
  }

  async init(): Promise<void> {
    await mkdir(this.#root, { recursive: true, mode: 0o701 });
    // What a removal killed half-way left (see remove): its trash, and a row without a directory.
    for (const n of await readdir(this.#root)) if (n.startsWith(TRASH_PREFIX)) await rm(join(this.#root, n), { recursive: true, force: true });
    for (const v of this.#o.store.list()) {
      if (!existsSync(join(this.#root, v.name))) this.#o.store.delete(v.name);
    }
  }

  /** Creates a volume; an existing volume of that name is returned as it is (Docker's behaviour). */
  async create(req: VolumeCreateRequest = {}): Promise<{ volume: VolumeRecord; created: boolean }> {
    const driver = req.driver || 'local';
    if (driver !== 'local') throw new NotFoundError(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const name = req.name || randomBytes(32).toString('hex');
    if (!VALID_VOLUME_NAME.test(name)) {
      throw new InvalidParameterError(
        `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      );
    }
    const existing = this.#o.store.get(name);
    if (existing) return { volume: existing, created: false };
    const options = { ...(req.options ?? {}) };
    validateOptions(options);
    const dir = join(this.#root, name);
    const rec: VolumeRecord = {
      name,
      driver,
      created: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      // As dockerd: a volume created without a name is anonymous (pruned by default since API 1.42).
      labels: { ...(req.name ? {} : { [ANONYMOUS_LABEL]: '' }), ...(req.labels ?? {}) },
      options,
      mountpoint: join(dir, '_data'),
    };
    await mkdir(rec.mountpoint, { recursive: true, mode: 0o755 });
    if (this.#o.rootOwner) await chown(rec.mountpoint, this.#o.rootOwner.uid, this.#o.rootOwner.gid);
    this.#o.store.put(rec);
    this.#o.publish('create', name, { driver });
    return { volume: rec, created: true };
  }

  get(name: string): VolumeRecord {
    const rec = this.#o.store.get(name);
    if (!rec) throw new NoSuchVolumeError(`get ${name}: no such volume`);
    return rec;
  }

  /** Docker's filters: dangling, name (substring), label / label!, driver. */
  list(filters: Map<string, string[]> = new Map()): VolumeRecord[] {
    let out = this.#o.store.list();
    for (const [key, values] of filters) {
      if (values.length === 0) continue;
      switch (key) {
        case 'dangling': {
          const want = values.map((v) => {
            if (['true', '1'].includes(v)) return true;
            if (['false', '0'].includes(v)) return false;
            throw new InvalidParameterError(`invalid filter 'dangling=${v}'`);
          });
          out = out.filter((v) => want.includes(this.#o.usedBy(v.name).length === 0));
          break;
        }
        case 'name':
          out = out.filter((v) => values.some((x) => v.name.includes(x)));
          break;
        case 'label':
        case 'label!':
          out = out.filter((v) => labelsMatch(v.labels, filters.get('label') ?? [], filters.get('label!') ?? []));
          break;
        case 'driver':
          out = out.filter((v) => values.includes(v.driver));
          break;
        default:
          throw new InvalidParameterError(`invalid filter '${key}'`);
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Removes a volume (409 while a container uses it); `force` makes a missing one no error. */
  async remove(name: string, options: { force?: boolean } = {}): Promise<void> {
    const rec = this.#o.store.get(name);
    if (!rec) {
      if (options.force) return;
      throw new NoSuchVolumeError(`get ${name}: no such volume`);
    }
    const users = this.#o.usedBy(name);
    if (users.length > 0) throw new VolumeInUseError(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    await this.unmount(rec);
    // Out of sight first, then the row, then the files: a daemon killed in between leaves a
    // row without its directory (dropped by init) or a trash directory (removed by init).
    const trash = join(this.#root, `${TRASH_PREFIX}${randomBytes(8).toString('hex')}`);
    await rename(join(this.#root, name), trash).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    faultPoint('volume-remove');
    this.#o.store.delete(name);
    this.#o.publish('destroy', name, { driver: rec.driver });
    await rm(trash, { recursive: true, force: true });
  }

  /** Removes unused volumes: anonymous ones only, unless `all=true` (Docker ≥ 23). */
  async prune(filters: Map<string, string[]> = new Map()): Promise<{ deleted: string[]; reclaimed: number }> {
    for (const k of filters.keys()) if (!['all', 'label', 'label!'].includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
    const all = (filters.get('all') ?? []).some((v) => ['true', '1'].includes(v));
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const v of this.#o.store.list()) {
      if (!all && !(ANONYMOUS_LABEL in v.labels)) continue;
      if (!labelsMatch(v.labels, filters.get('label') ?? [], filters.get('label!') ?? [])) continue;
      if (this.#o.usedBy(v.name).length > 0) continue;
      const size = await dirSize(v.mountpoint).catch(() => 0);
      try {
        await this.remove(v.name);
        deleted.push(v.name);
        reclaimed += size;
      } catch {
        /* became used meanwhile */
      }
    }
    return { deleted, reclaimed };
  }

  /** Makes an option-backed volume's mount (tmpfs, bind, device) before a container uses it. */
  async mount(name: string): Promise<VolumeRecord> {
    const rec = this.get(name);
    const o = rec.options;
    if (!o['type'] && !o['device']) return rec;
    if (await this.#o.isMounted(rec.mountpoint)) return rec;
    const type = o['type'] || 'none';
    let mo = o['o'] ?? '';
    if (o['size']) mo = [mo, `size=${o['size']}`].filter(Boolean).join(',');
    const device = o['device'] ?? type;
    const argv = type === 'none' ? ['mount', ...(mo ? ['-o', mo] : ['-o', 'bind']), device, rec.mountpoint] : ['mount', '-t', type, ...(mo ? ['-o', mo] : []), device, rec.mountpoint];
    const r = await this.#o.runner.run(argv, { check: false });
    if (r.code !== 0) throw new InvalidParameterError(`error while mounting volume '${rec.mountpoint}': failed to mount local volume: mount ${device}:${rec.mountpoint}, flags: ${mo}: ${r.stderr.trim()}`);
    return rec;
  }

  async unmount(rec: VolumeRecord): Promise<void> {
    if (!(await this.#o.isMounted(rec.mountpoint))) return;
    const r = await this.#o.runner.run(['umount', rec.mountpoint], { check: false });
    if (r.code !== 0) await this.#o.runner.run(['umount', '-l', rec.mountpoint], { check: false });
  }

  /** Whether the volume's directory holds nothing (a new volume, eligible for copy-up). */
  async isEmpty(name: string): Promise<boolean> {
    const rec = this.get(name);
    return (await readdir(rec.mountpoint).catch(() => [])).length === 0;
  }

  /** Unmounts every option-backed volume (daemon shutdown leaves them; tests call this). */
  async close(): Promise<void> {}
}

function validateOptions(o: Record<string, string>): void {
  for (const k of Object.keys(o)) if (!KNOWN_OPTS.has(k)) throw new InvalidParameterError(`invalid option key: "${k}"`);
  const type = o['type'];
  if (type !== undefined && !/^[a-z0-9]+$/.test(type)) throw new InvalidParameterError(`invalid option: type=${JSON.stringify(type)}`);
  if (o['o'] !== undefined && /[\s\n]/.test(o['o'])) throw new InvalidParameterError(`invalid option: o=${JSON.stringify(o['o'])}`);
  if ((type === 'none' || /(^|,)bind(,|$)/.test(o['o'] ?? '')) && !(o['device'] ?? '').startsWith('/')) {
    throw new InvalidParameterError('invalid option: bind mounts need an absolute device path');
  }
  if (o['o'] && !type && !o['device']) throw new InvalidParameterError('missing required option: "type"');
}

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await dirSize(p);
    else if (e.isFile()) total += (await stat(p)).size;
  }
  return total;
}
