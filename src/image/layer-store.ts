/**
 * The layer store: each layer unpacked once into a read-only directory, shared between images,
 * after Docker's overlay2 driver.
 *
 * A layer is keyed by its chainID (image-spec `config.md#layer-chainid`), so the same diff on
 * top of different parents is a different layer, and the same stack is stored once. On disk:
 *
 *     <root>/layers/<chainID-hex>/diff     the unpacked files: an overlay lower dir
 *     <root>/layers/.ingest/<random>/      in-flight unpacks (dropped by `init`)
 *
 * Lifecycle: `register(tar, { parent })` (or `prepare` then `commit`, a pull's two steps) reads
 * the tarball once in a worker thread (layer-unpack.ts): every entry is checked (archive/checked-tar.ts: no
 * entry may land outside the layer; diffID computed in the same pass) and then written into a
 * private temp dir (layer-extract.ts). Then AUFS whiteouts become overlay whiteouts (`.wh.NAME`
 * → 0/0 char device NAME, `.wh..wh..opq` → `trusted.overlay.opaque=y` on the dir), and the dir
 * is renamed into place.
 * Nothing half-unpacked is ever visible, and a rejected archive changes nothing.
 *
 * Reference counting: `register` and `acquire` each take one reference (an image holds one on
 * every chainID of its stack; the engine should hold one per container that uses an image's
 * layers, so a forced image removal cannot pull files from under a stopped container);
 * `release` drops one and removes the layer when none is left. The diff dirs are read-only by
 * contract: nothing writes to them after the rename (containers write to their own upper dir,
 * see snapshotter.ts). The store does not mount anything.
 */
import { mkdir, readdir, rename, rm, lstat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { CommandRunner } from '../common/command-runner.js';
import { InvalidTarError, NotFoundError, DigestMismatchError } from '../common/errors.js';
import type { LayerTable } from '../store/images.js';
import { digestHex, parseDigest, sha256Digest, type Digest } from '../oci/digest.js';
import { WHITEOUT_PREFIX } from '../archive/checked-tar.js';
import { unpackInWorker, type UnpackResult } from './layer-unpack.js';

/** A layer unpacked in a private dir, not yet visible (LayerStore.prepare). */
export interface PreparedLayer {
  diffId: Digest;
  size: number;
  /** The unpacked files (overlay whiteouts), private until commit; a caller that moves them elsewhere (a container's upper dir, issue 23) then calls `abort`. */
  dir: string;
  /** Moves the layer into place on top of `parent` (or takes a reference when it exists), one reference held by `lease` when given. */
  commit(parent: string | undefined, lease?: string): Promise<LayerRecord>;
  /** Drops the unpacked files. */
  abort(): Promise<void>;
}

/** The persisted record of one layer. */
export interface LayerRecord {
  chainId: Digest;
  diffId: Digest;
  /** chainID of the layer below, absent for a base layer. */
  parent?: Digest;
  /** Content bytes (files and symlinks), Docker's per-layer size. */
  size: number;
  /** Number of holders (images, containers, pulls in flight). */
  refs: number;
  /**
   * Pulls in flight that hold one of `refs` (one entry per reference). Written in the same
   * record update as the reference, so a daemon killed mid-pull leaves an exact account that
   * `init` rolls back.
   */
  leases?: string[];
  created: string;
}

export interface RegisterOptions {
  parent?: string;
  /** When given (a pull), the uncompressed stream must hash to this diffID. */
  expectedDiffId?: string;
  signal?: AbortSignal;
}

/** A layer asked for by chainID that the store does not have. */
export class NoSuchLayerError extends NotFoundError {
  override readonly code = 'BERTH_ERR_NO_SUCH_LAYER';
  constructor(chainId: string) {
    super(`layer does not exist: ${chainId}`);
  }
}

/** The layer chainID for `diffId` on top of `parent`. */
export function layerChainId(parent: string | undefined, diffId: string): Digest {
  return parent ? sha256Digest(`${parent} ${diffId}`) : parseDigest(diffId);
}

export class LayerStore {
  readonly #dir: string;
  readonly #ingest: string;
  readonly #table: LayerTable<LayerRecord>;
  readonly #runner: CommandRunner;
  readonly #locks = new Map<string, Promise<unknown>>();

  /** `root` is the image data root; layers live in `<root>/layers`. */
  constructor(root: string, table: LayerTable<LayerRecord>, runner: CommandRunner) {
    this.#dir = join(root, 'layers');
    this.#ingest = join(this.#dir, '.ingest');
    this.#table = table;
    this.#runner = runner;
  }

  /**
   * Creates the directories, drops in-flight unpacks, gives back the references of pulls that
   * never finished (a daemon killed mid-pull), and removes layer dirs that have no record.
   */
  async init(): Promise<void> {
    await rm(this.#ingest, { recursive: true, force: true });
    await mkdir(this.#ingest, { recursive: true });
    for (const rec of this.#table.list()) {
      if (!rec.leases?.length) continue;
      const refs = rec.refs - rec.leases.length;
      const { leases: _gone, ...rest } = rec;
      if (refs > 0) this.#table.put({ ...rest, refs });
      else this.#table.delete(rec.chainId);
    }
    const known = new Set(this.#table.list().map((l) => digestHex(l.chainId)));
    for (const name of await readdir(this.#dir)) {
      if (/^[a-f0-9]{64}$/.test(name) && !known.has(name)) await rm(join(this.#dir, name), { recursive: true, force: true });
    }
  }

  /**
   * Start-up, after init: sets every layer's reference count to the number of holders found in
   * the store (`want`: chainID → images and containers listing it). A daemon killed between a
   * layer's commit and the record that holds it (a commit, a build step, a create) or between an
   * image's deletion and its layers' release leaves counts that no holder matches; a layer
   * left with none is removed. Returns the chainIDs whose count was wrong.
   */
  async reconcile(want: ReadonlyMap<string, number>): Promise<string[]> {
    const fixed: string[] = [];
    for (const rec of this.#table.list()) {
      const n = want.get(rec.chainId) ?? 0;
      if (n === rec.refs) continue;
      fixed.push(rec.chainId);
      if (n > 0) {
        this.#table.put({ ...rec, refs: n });
        continue;
      }
      this.#table.delete(rec.chainId);
      const gone = join(this.#ingest, `rm-${randomBytes(8).toString('hex')}`);
      await rename(join(this.#dir, digestHex(rec.chainId)), gone).catch(() => undefined);
      await rm(gone, { recursive: true, force: true });
    }
    return fixed;
  }

  /** The unpacked files of a layer (an overlay lower dir). */
  diffDir(chainId: string): string {
    return join(this.#dir, digestHex(parseDigest(chainId)), 'diff');
  }

  get(chainId: string): LayerRecord | undefined {
    return this.#table.get(chainId);
  }

  list(): LayerRecord[] {
    return this.#table.list();
  }

  /**
   * Unpacks a layer tar (plain or gzip) on top of `parent` and takes one reference on it.
   * When the layer already exists, only the reference is taken.
   */
  async register(tar: Readable | AsyncIterable<Buffer>, options: RegisterOptions = {}): Promise<LayerRecord> {
    const parent = options.parent ? parseDigest(options.parent) : undefined;
    if (parent && !this.#table.get(parent)) throw new NoSuchLayerError(parent);
    // The parent is checked first so a missing one costs no unpack; commit checks it again.
    const prepared = await this.prepare(tar, options);
    return prepared.commit(parent);
  }

  /** Takes one more reference on an existing layer (held by `lease` when given). */
  acquire(chainId: string, lease?: string): LayerRecord {
    const rec = this.#table.get(chainId);
    if (!rec) throw new NoSuchLayerError(chainId);
    const next = { ...rec, refs: rec.refs + 1, ...(lease ? { leases: [...(rec.leases ?? []), lease] } : {}) };
    this.#table.put(next);
    return next;
  }

  /**
   * The references `lease` holds on `chainIds` now belong to whoever took them over (an image
   * record written in the same transaction): only the lease marks are dropped. Synchronous, so
   * it can run inside the image table's transaction.
   */
  endLease(lease: string, chainIds: readonly string[]): void {
    for (const c of chainIds) {
      const rec = this.#table.get(c);
      if (!rec?.leases) continue;
      const i = rec.leases.indexOf(lease);
      if (i < 0) continue;
      const leases = rec.leases.filter((_, j) => j !== i);
      const { leases: _old, ...rest } = rec;
      this.#table.put(leases.length ? { ...rest, leases } : rest);
    }
  }

  /** Gives back references held by `lease` (a failed pull), removing layers left without any. */
  async releaseLease(lease: string, chainIds: readonly string[]): Promise<void> {
    for (const c of [...chainIds].reverse()) {
      this.endLease(lease, [c]);
      await this.release(c);
    }
  }

  /**
   * Flushes the layer store's filesystem (syncfs), and those of `alsoOn`: a pull calls it after
   * unpacking its layers and before committing them, instead of an fsync per file.
   */
  async sync(alsoOn: readonly string[] = []): Promise<void> {
    await this.#runner.run(['sync', '-f', this.#ingest, ...alsoOn]);
  }

  /**
   * The one-pass unpack: reads a layer (plain or gzip) once, hashes the uncompressed stream
   * (diffID), checks every entry against the hostile-tar rules (archive/checked-tar.ts) and only then
   * writes it (layer-extract.ts), so a rejected entry is never written.
   * The files land in a private dir; `commit` makes them visible. A diffID mismatch, a bad entry
   * or a failed extraction throws, and nothing is left.
   */
  async prepare(input: Readable | AsyncIterable<Buffer>, options: Omit<RegisterOptions, 'parent'> = {}): Promise<PreparedLayer> {
    await mkdir(this.#ingest, { recursive: true });
    const work = join(this.#ingest, randomBytes(12).toString('hex'));
    const layerDir = join(work, 'layer');
    const diff = join(layerDir, 'diff');
    await mkdir(work, { mode: 0o700 });
    await mkdir(diff, { recursive: true, mode: 0o755 });
    let scan: UnpackResult;
    try {
      scan = await unpackInWorker(input, diff, options.signal);
      if (options.expectedDiffId && scan.diffId !== options.expectedDiffId) {
        throw new DigestMismatchError(`layer diffID mismatch: got ${scan.diffId}, expected ${options.expectedDiffId}`);
      }
      await this.#convertWhiteouts(diff, scan.plan);
    } catch (e) {
      await rm(work, { recursive: true, force: true });
      throw e;
    }
    const { diffId } = scan;
    const size = scan.size;
    let finished = false;
    return {
      diffId,
      size,
      dir: diff,
      commit: async (parentId, lease) => {
        if (finished) throw new Error('prepared layer already committed or aborted');
        finished = true;
        const parent = parentId ? parseDigest(parentId) : undefined;
        try {
          if (parent && !this.#table.get(parent)) throw new NoSuchLayerError(parent);
          const chainId = layerChainId(parent, diffId);
          return await this.#locked(chainId, async () => {
            const existing = this.#table.get(chainId);
            const leases = (prev?: string[]): { leases?: string[] } => (lease ? { leases: [...(prev ?? []), lease] } : prev ? { leases: prev } : {});
            if (existing) {
              const rec = { ...existing, refs: existing.refs + 1, ...leases(existing.leases) };
              this.#table.put(rec);
              return rec;
            }
            const final = join(this.#dir, digestHex(chainId));
            await rm(final, { recursive: true, force: true }); // an orphan from a crash, never a live layer (no record)
            await rename(layerDir, final);
            const rec: LayerRecord = { chainId, diffId, size, refs: 1, created: new Date().toISOString(), ...leases() };
            if (parent) rec.parent = parent;
            this.#table.put(rec);
            return rec;
          });
        } finally {
          await rm(work, { recursive: true, force: true });
        }
      },
      abort: async () => {
        finished = true;
        await rm(work, { recursive: true, force: true });
      },
    };
  }

  /** Drops one reference; removes the layer (record, then files) when none is left. Returns whether it was removed. */
  async release(chainId: string): Promise<boolean> {
    return this.#locked(chainId, async () => {
      const rec = this.#table.get(chainId);
      if (!rec) return false;
      if (rec.refs > 1) {
        this.#table.put({ ...rec, refs: rec.refs - 1 });
        return false;
      }
      this.#table.delete(chainId);
      // Move out of sight first, so a crash mid-delete leaves only an ingest dir to sweep.
      const gone = join(this.#ingest, `rm-${randomBytes(8).toString('hex')}`);
      await rename(join(this.#dir, digestHex(chainId)), gone).catch(() => undefined);
      await rm(gone, { recursive: true, force: true });
      return true;
    });
  }

  // The paths below come from the scan (ScanState.whiteoutPlan keeps only those whose parents
  // are still directories at the end); each is checked again on disk, component by component,
  // before anything is removed or made there, so no `rm`, `mkdir`, `mknod` or `setfattr` can be
  // steered outside the layer by a symlink.
  async #convertWhiteouts(diff: string, plan: { whiteouts: string[]; dropped: string[]; opaqueDirs: string[] }): Promise<void> {
    for (const p of plan.dropped) {
      await noSymlinkOnTheWay(diff, p, false);
      await rm(join(diff, p), { force: true });
    }
    for (const w of plan.whiteouts) {
      await noSymlinkOnTheWay(diff, w, false);
      const path = join(diff, w);
      await rm(path, { force: true });
      const i = w.lastIndexOf('/');
      const target = join(diff, w.slice(0, i + 1) + w.slice(i + 1 + WHITEOUT_PREFIX.length));
      await mkdir(join(diff, w.slice(0, Math.max(i, 0))), { recursive: true });
      await this.#runner.run(['mknod', '-m', '0', target, 'c', '0', '0']);
    }
    if (plan.opaqueDirs.length) {
      const dirs: string[] = [];
      for (const d of plan.opaqueDirs) {
        await noSymlinkOnTheWay(diff, d, true);
        const dir = join(diff, d);
        await rm(join(dir, '.wh..wh..opq'), { force: true });
        const st = await lstat(dir).catch(() => undefined);
        if (!st) await mkdir(dir, { recursive: true });
        else if (!st.isDirectory()) throw new InvalidTarError(`invalid tar archive: opaque whiteout in ${JSON.stringify(d)}, which is not a directory`);
        dirs.push(dir);
      }
      await this.#runner.run(['setfattr', '-h', '-n', 'trusted.overlay.opaque', '-v', 'y', ...dirs]);
    }
  }

  // Serialises work on one chainID (two imports of the same layer, or a release racing a register).
  async #locked<R>(key: string, fn: () => Promise<R>): Promise<R> {
    const prev = this.#locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.#locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.#locks.get(key) === tail) this.#locks.delete(key);
    }
  }
}

/**
 * Refuses a relative path under `root` whose directories (and the path itself when `self`) are
 * anything but directories or missing: nothing may be removed or made through a symlink.
 */
async function noSymlinkOnTheWay(root: string, rel: string, self: boolean): Promise<void> {
  const parts = rel.split('/').filter((p) => p !== '');
  let path = root;
  for (let i = 0; i < parts.length - (self ? 0 : 1); i++) {
    path = join(path, parts[i]!);
    const st = await lstat(path).catch(() => undefined);
    if (!st) return;
    if (!st.isDirectory()) throw new InvalidTarError(`invalid tar archive: whiteout ${JSON.stringify(rel)} lies below ${JSON.stringify(parts.slice(0, i + 1).join('/'))}, which is not a directory`);
  }
}
