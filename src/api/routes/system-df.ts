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
}

export async function diskUsage(deps: SystemDfDeps, apiVersion: string): Promise<Json> {
  const { images, containers } = deps;
  const all = containers.list({ all: true });
  const summaries = await images.list();
  const records = new Map<string, { chainIds: readonly string[]; size: number }>(images.records().map((r) => [r.id, r]));
  // How many images use each layer: a layer used by more than one is shared.
  const layerUse = new Map<string, number>();
  for (const r of records.values()) for (const c of new Set(r.chainIds)) layerUse.set(c, (layerUse.get(c) ?? 0) + 1);
  let layersSize = 0;
  for (const l of images.layers.list()) layersSize += l.size;
  const imageJson = summaries.map((s) => {
    const j = imageSummaryJson(s, apiVersion);
    const rec = records.get(s.id);
    let shared = 0;
    for (const c of rec?.chainIds ?? []) if ((layerUse.get(c) ?? 0) > 1) shared += images.layers.get(c)?.size ?? 0;
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
