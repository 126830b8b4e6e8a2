/**
 * `GET /system/df` (Docker's disk usage): images with their shared and unique sizes and the
 * number of containers using each, containers with SizeRw (their upper dir) and SizeRootFs,
 * local volumes with UsageData, and the build cache (the builder's cache mounts; its step
 * cache is images, counted with the images). Also the sizes for `GET /containers/json?size=1`.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Router } from '../router.js';
import { sendJson } from '../router.js';
import { summaryJson } from '../convert/containers.js';
import { imageSummaryJson } from '../convert/images.js';
import { volumeJson } from './volumes.js';
import type { ImageService } from '../../image/image-service.js';
import { readBlobSources } from '../../image/pull.js';
import type { ContainerService } from '../../engine/container-service.js';
import type { VolumeService } from '../../volume/volume-service.js';

type Json = Record<string, unknown>;

/** Bytes of the files under `dir` (hardlinks once, directories not counted), as Docker's directory.Size; 0 when absent. */
export async function dirSize(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    await Promise.all(
      names.map(async (n) => {
        const p = join(d, n);
        const st = await lstat(p).catch(() => undefined);
        if (!st) return;
        if (st.isDirectory()) return walk(p);
        if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          if (seen.has(key)) return;
          seen.add(key);
        }
        total += st.size;
      }),
    );
  };
  await walk(dir);
  return total;
}

/** SizeRw (the container's upper dir) and SizeRootFs (that plus its image's layers). */
export async function containerSizes(deps: Pick<SystemDfDeps, 'images' | 'upperDir'>, c: { id: string; imageId: string }): Promise<{ SizeRw: number; SizeRootFs: number }> {
  const rw = await dirSize(deps.upperDir(c.id));
  let image = 0;
  try {
    image = deps.images.size(c.imageId);
  } catch {
    // the image was force-removed; the container keeps its layers, Docker counts 0 too
  }
  return { SizeRw: rw, SizeRootFs: rw + image };
}

export interface SystemDfDeps {
  images: ImageService;
  containers: ContainerService;
  volumes?: VolumeService;
  /** A container's upper (writable) dir. */
  upperDir(id: string): string;
  /** The builder's cache records (cache mounts), as Docker's BuildCache list. */
  buildCache?: () => Promise<object[]>;
  /** The distribution metadata directory (diffID → the compressed blobs kept for it). */
  metaDir?: string;
}

export async function diskUsage(deps: SystemDfDeps, apiVersion: string): Promise<Json> {
  const { images, containers } = deps;
  const all = containers.list({ all: true });
  const summaries = await images.list();
  const records = new Map<string, { chainIds: readonly string[]; size: number }>(images.records().map((r) => [r.id, r]));
  // How many images use each layer: a layer used by more than one is shared.
  const layerUse = new Map<string, number>();
  for (const r of records.values()) for (const c of new Set(r.chainIds)) layerUse.set(c, (layerUse.get(c) ?? 0) + 1);
  // What a layer takes on disk: its unpacked files and the compressed blob(s) the content store
  // keeps for it after a pull, import or push (for push and resumed pulls; see image/pull.ts), as
  // Docker's containerd image store counts both. Without the blobs `system df` showed 35 MB where
  // du saw 64 MB. Each blob is counted once, with the first layer that names it; blobs no layer
  // names (manifests, configs) go into LayersSize only.
  const layerDisk = new Map<string, number>();
  const counted = new Set<string>();
  let attributed = 0;
  /** The bytes of blobs not counted yet (each counted once, with the first holder that names it). */
  const blobBytes = async (digests: Iterable<string>): Promise<number> => {
    let n = 0;
    for (const digest of digests) {
      if (counted.has(digest)) continue;
      const info = await images.content.info(digest).catch(() => undefined);
      if (!info) continue;
      counted.add(digest);
      n += info.size;
    }
    attributed += n;
    return n;
  };
  for (const l of images.layers.list()) {
    const sources = deps.metaDir ? await readBlobSources(deps.metaDir, l.diffId) : [];
    layerDisk.set(l.chainId, l.size + (await blobBytes(sources.map((src) => src.digest))));
  }
  // An image's own blobs: its config, and the manifests its digests name.
  const imageBlobs = new Map<string, number>();
  for (const sum of summaries) imageBlobs.set(sum.id, await blobBytes([sum.id, ...sum.repoDigests.map((r) => r.slice(r.lastIndexOf('@') + 1))]));
  let layersSize = Math.max(0, (await images.content.usage()) - attributed);
  for (const n of layerDisk.values()) layersSize += n;
  for (const n of imageBlobs.values()) layersSize += n;
  const imageJson = summaries.map((s) => {
    const j = imageSummaryJson(s, apiVersion);
    const rec = records.get(s.id);
    let shared = 0;
    let size = imageBlobs.get(s.id) ?? 0;
    for (const c of new Set(rec?.chainIds ?? [])) {
      const n = layerDisk.get(c) ?? 0;
      size += n;
      if ((layerUse.get(c) ?? 0) > 1) shared += n;
    }
    // Size on disk (layers and their kept blobs), so that the images add up to LayersSize.
    if (rec) j.Size = size;
    j.SharedSize = shared;
    j.Containers = all.filter((c) => c.imageId === s.id).length;
    return j;
  });
  const containerJson = await Promise.all(
    all.map(async (c) => {
      return { ...summaryJson(c), ...(await containerSizes(deps, c)) };
    }),
  );
  const volumeList = deps.volumes ? deps.volumes.list() : [];
  const volumeJsonList = await Promise.all(
    volumeList.map(async (v) => {
      const j = volumeJson(v) as Json;
      const local = v.driver === 'local' && !v.options['type'] && !v.options['device'];
      j['UsageData'] = { Size: local ? await dirSize(v.mountpoint) : -1, RefCount: containers.usesVolume(v.name).length };
      return j;
    }),
  );
  const buildCache = deps.buildCache ? await deps.buildCache() : [];
  return { LayersSize: layersSize, Images: imageJson, Containers: containerJson, Volumes: volumeJsonList, BuildCache: buildCache };
}

export function registerSystemDfRoute(router: Router, deps: SystemDfDeps): void {
  router.get('/system/df', async (ctx) => {
    const types = ctx.query.getAll('type');
    const df = await diskUsage(deps, ctx.apiVersion);
    if (types.length) {
      const keep: Record<string, string> = { image: 'Images', container: 'Containers', volume: 'Volumes', 'build-cache': 'BuildCache' };
      for (const [t, k] of Object.entries(keep)) if (!types.includes(t)) delete df[k];
      if (!types.includes('image')) delete df['LayersSize'];
    }
    sendJson(ctx.res, 200, df);
  });
}
