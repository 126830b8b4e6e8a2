/**
 * Files across the container boundary: `GET/HEAD/PUT /containers/{id}/archive` (docker cp),
 * `GET /containers/{id}/changes` (docker diff) and `GET /containers/{id}/export`.
 *
 * Uploads are first validated whole by the layer store's hostile-tar scan (no `..`, nothing
 * written through a link the archive itself made, hardlinks to earlier entries only), plus
 * refusals of absolute names, into a temp file; only then is anything written into the
 * container, each entry resolved inside its root (volume/archive.ts).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ConflictError, InvalidParameterError } from '../../common/errors.js';
import type { ContainerService } from '../../engine/container-service.js';
import { diffLayer } from '../../image/diff-layer.js';
import { scanLayerTar } from '../../archive/checked-tar.js';
import { checkUploadNames, extractArchive, locate, packPath, statPath, type PathStat } from '../../volume/archive.js';
import { encodePathStat } from '../../common/path-stat.js';
import { containerChanges } from '../../volume/container-changes.js';
import type { ContainerView } from '../../volume/scope.js';
import type { ContainerRecord } from '../../engine/types.js';
import { Router, queryBool, sendEmpty, sendJson } from '../router.js';

export interface ArchiveRouteDeps {
  containers: ContainerService;
  /** Read-only layer dirs of an image, topmost first. */
  lowerDirs(imageId: string): Promise<string[]>;
  /** Where uploads are staged for validation (same machine; defaults to the OS temp dir). */
  tmp?: string;
}

const STAT_HEADER = 'X-Docker-Container-Path-Stat';

function statHeader(s: PathStat): string {
  return encodePathStat(s);
}

function pathQuery(q: URLSearchParams): string {
  const p = q.get('path');
  if (!p) throw new InvalidParameterError('path query parameter is required');
  return p;
}

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

export function registerArchiveRoutes(router: Router, deps: ArchiveRouteDeps): void {
  const { containers } = deps;

  router.head('/containers/:id/archive', async (ctx) => {
    const ref = ctx.params.id!;
    const path = pathQuery(ctx.query);
    const st = await containers.withFilesystem(ref, (view) => statPath(view, path, ref));
    ctx.res.writeHead(200, { [STAT_HEADER]: statHeader(st), 'Content-Type': 'application/x-tar' });
    ctx.res.end();
  });

  router.get('/containers/:id/archive', async (ctx) => {
    const ref = ctx.params.id!;
    const path = pathQuery(ctx.query);
    await containers.withFilesystem(ref, async (view: ContainerView, rec) => {
      const st = await statPath(view, path, ref);
      const { resolved } = await locate(view, path, ref);
      const running = rec.state.status === 'running' || rec.state.status === 'paused';
      const { stream, done } = packPath(view, resolved, path.startsWith('/') ? path : `/${path}`, { skipPseudo: running });
      ctx.res.writeHead(200, { [STAT_HEADER]: statHeader(st), 'Content-Type': 'application/x-tar' });
      await Promise.all([pipeline(stream, ctx.res), done]).catch((err) => {
        ctx.log.warn({ err }, 'archive stream failed');
        ctx.res.destroy();
      });
    });
  });

  router.put('/containers/:id/archive', async (ctx) => {
    const ref = ctx.params.id!;
    const path = pathQuery(ctx.query);
    containers.get(ref);
    const base = deps.tmp ?? tmpdir();
    await mkdir(base, { recursive: true, mode: 0o700 });
    const dir = await mkdtemp(join(base, 'berth-cp-'));
    try {
      const file = join(dir, 'upload.tar');
      await scanLayerTar(ctx.req, file);
      await checkUploadNames(file);
      await containers.withFilesystem(ref, async (view, rec) => {
        const abs = path.startsWith('/') ? path : `/${path}`;
        const { resolved, st } = await locate(view, abs.endsWith('/') ? abs : `${abs}/`, ref).catch((err) => {
          if ((err as Error).message.endsWith('not a directory')) throw new InvalidParameterError('extraction point is not a directory');
          throw err;
        });
        if (!st.isDirectory()) throw new InvalidParameterError('extraction point is not a directory');
        checkWritable(rec, resolved);
        await extractArchive(view, resolved, file, { copyUidGid: queryBool(ctx.query, 'copyUIDGID'), noOverwriteDirNonDir: queryBool(ctx.query, 'noOverwriteDirNonDir') });
      });
      sendEmpty(ctx.res, 200);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  router.get('/containers/:id/changes', async (ctx) => {
    const rec = containers.get(ctx.params.id!);
    const lowers = await deps.lowerDirs(rec.imageId);
    const mountPoints = new Set<string>(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/proc', '/sys', '/dev', '/sbin/docker-init']);
    for (const m of rec.mounts ?? []) mountPoints.add(m.resolvedDestination ?? m.destination);
    const changes = await containerChanges(join(rec.dir, 'upper'), lowers, mountPoints);
    sendJson(ctx.res, 200, changes.length ? changes : null);
  });

  router.get('/containers/:id/export', async (ctx) => {
    const ref = ctx.params.id!;
    await containers.withFilesystem(ref, async (_view, rec) => {
      // The container's own filesystem (the overlay at rec.rootfs), without its volumes, as Docker.
      const stream = diffLayer(rec.rootfs);
      ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      await pipeline(stream, ctx.res).catch((err) => {
        ctx.log.warn({ err }, 'export stream failed');
        ctx.res.destroy();
      });
    });
  });
}

