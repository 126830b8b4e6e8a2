/**
 * Files across the container boundary, for `docker cp`, `docker diff` and `docker export`:
 * stat and read a path, write an uploaded archive, list the changes of the writable layer,
 * export the root filesystem. The API routes (api/routes/archive.ts) call these and only
 * speak HTTP.
 *
 * Uploads are first validated whole by the checked tar reader (archive/checked-tar.ts: no `..`,
 * nothing written through a link the archive itself made, hardlinks to earlier entries only,
 * no absolute names) into a temp file; only then is anything written into the container, each
 * entry resolved inside its root (volume/archive.ts).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { diffLayer } from '../archive/diff-layer.js';
import { hostIdsOf, layerIdsOf } from './userns-policy.js';
import { scanLayerTar, UPLOAD_POLICY } from '../archive/checked-tar.js';
import { ConflictError, InvalidParameterError } from '../common/errors.js';
import { extractArchive, locate, packPath, statPath, type PathStat } from '../volume/archive.js';
import { containerChanges, type Change } from '../volume/container-changes.js';
import type { ContainerView } from '../volume/scope.js';
import type { ContainerRecord } from './types.js';

/** What container files need of the container service. */
export interface FilesystemSource {
  get(ref: string): ContainerRecord;
  withFilesystem<T>(ref: string, fn: (view: ContainerView, rec: ContainerRecord) => Promise<T>): Promise<T>;
}

export interface ContainerFilesOptions {
  containers: FilesystemSource;
  /** Read-only layer dirs of an image, topmost first. */
  lowerDirs(imageId: string): Promise<string[]>;
  /** Where uploads are staged for validation (same machine; defaults to the OS temp dir). */
  tmp?: string;
}

export type { PathStat };

/** Docker's refusals for writes: a read-only rootfs or a read-only mount. */
function checkWritable(rec: ContainerRecord, resolved: string): void {
  let best: { destination: string; rw: boolean } | undefined;
  for (const m of rec.mounts ?? []) {
    const d = m.resolvedDestination ?? m.destination;
    if ((resolved === d || resolved.startsWith(d + '/')) && (!best || d.length > best.destination.length)) best = { destination: d, rw: m.rw };
  }
  if (best && !best.rw) throw new ConflictError('mounted volume is marked read-only');
  if (!best && rec.host.readonlyRootfs) throw new ConflictError('container rootfs is marked read-only');
}

export class ContainerFiles {
  readonly #o: ContainerFilesOptions;

  constructor(options: ContainerFilesOptions) {
    this.#o = options;
  }

  /** `HEAD …/archive`: what is at `path` (404 PathNotFoundError when nothing). */
  stat(ref: string, path: string): Promise<PathStat> {
    return this.#o.containers.withFilesystem(ref, (view) => statPath(view, path, ref));
  }

  /**
   * `GET …/archive`: `send` gets the path's stat and a tar of it while the container's
   * filesystem is held (a stopped container's rootfs stays mounted until `send` is done).
   */
  read(ref: string, path: string, send: (st: PathStat, tar: Readable, done: Promise<void>) => Promise<void>): Promise<void> {
    return this.#o.containers.withFilesystem(ref, async (view, rec) => {
      const st = await statPath(view, path, ref);
      const { resolved } = await locate(view, path, ref);
      const running = rec.state.status === 'running' || rec.state.status === 'paused';
      // Remapped containers (--userns-remap): owners as the container sees them.
      const mapIds = layerIdsOf(rec.userns);
      const { stream, done } = packPath(view, resolved, path.startsWith('/') ? path : `/${path}`, { skipPseudo: running, ...(mapIds ? { mapIds } : {}) });
      await send(st, stream, done);
    });
  }

  /** `PUT …/archive`: the upload is checked whole before anything is written into the container. */
  async write(ref: string, path: string, upload: Readable, options: { copyUidGid: boolean; noOverwriteDirNonDir: boolean }): Promise<void> {
    const { containers } = this.#o;
    containers.get(ref);
    const base = this.#o.tmp ?? tmpdir();
    await mkdir(base, { recursive: true, mode: 0o700 });
    const dir = await mkdtemp(join(base, 'berth-cp-'));
    try {
      const file = join(dir, 'upload.tar');
      await scanLayerTar(upload, file, { policy: UPLOAD_POLICY });
      await containers.withFilesystem(ref, async (view, rec) => {
        const abs = path.startsWith('/') ? path : `/${path}`;
        const { resolved, st } = await locate(view, abs.endsWith('/') ? abs : `${abs}/`, ref).catch((err) => {
          if ((err as Error).message.endsWith('not a directory')) throw new InvalidParameterError('extraction point is not a directory');
          throw err;
        });
        if (!st.isDirectory()) throw new InvalidParameterError('extraction point is not a directory');
        checkWritable(rec, resolved);
        const mapIds = hostIdsOf(rec.userns);
        await extractArchive(view, resolved, file, { ...options, ...(mapIds ? { mapIds } : {}) });
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** `GET …/changes`: the writable layer against the image, without berth's own mount points. */
  async changes(ref: string): Promise<Change[]> {
    const rec = this.#o.containers.get(ref);
    const lowers = await this.#o.lowerDirs(rec.imageId);
    const mountPoints = new Set<string>(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/proc', '/sys', '/dev', '/sbin/docker-init']);
    for (const m of rec.mounts ?? []) mountPoints.add(m.resolvedDestination ?? m.destination);
    return containerChanges(join(rec.dir, 'upper'), lowers, mountPoints);
  }

  /** `GET …/export`: the container's own filesystem (the overlay at rec.rootfs), without its volumes, as Docker. */
  export(ref: string, send: (tar: Readable) => Promise<void>): Promise<void> {
    return this.#o.containers.withFilesystem(ref, (_view, rec) => {
      const mapIds = layerIdsOf(rec.userns);
      return send(diffLayer(rec.rootfs, mapIds ? { mapIds } : {}));
    });
  }
}
