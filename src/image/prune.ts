/**
 * `docker image prune` and the blob garbage collection behind it.
 *
 * Prune removes dangling images (no tag, no digest reference), or with `all` every image no
 * container uses, through ImageService.remove (so layers shared with kept images stay), and
 * reports Docker's `ImagesDeleted` items and the bytes of the layers actually removed.
 *
 * `collectBlobs` drops compressed layer blobs (kept by pull, import and push; see pull.ts)
 * whose diffID no layer of the store has any more, with their distribution metadata: all of
 * them after an image removal, or those of given layers when a container's removal was what
 * let its layers go (an image removed while a container still used it left them behind).
 */
import { readdir, rm } from 'node:fs/promises';
import { labelsMatch } from '../common/labels.js';
import { join } from 'node:path';
import type { DeleteResponseItem, ImageService, ImageUse } from './image-service.js';
import { readBlobSources } from './pull.js';

export interface PruneOptions {
  all?: boolean;
  /** Keep images created after this time (ms since the epoch). */
  until?: number;
  /** `key` or `key=value` labels the image must have (`label`), or must not have (`label!`). */
  labels?: string[];
  notLabels?: string[];
  isInUse(imageId: string): ImageUse;
  metaDir: string;
}

export async function pruneImages(images: ImageService, options: PruneOptions): Promise<{ deleted: DeleteResponseItem[]; spaceReclaimed: number }> {
  const deleted: DeleteResponseItem[] = [];
  let space = 0;
  for (const s of await images.list()) {
    const dangling = s.repoTags.length === 0 && s.repoDigests.length === 0;
    if (!options.all && !dangling) continue;
    // An untagged parent goes with its child's chain (ImageService.remove), never on its own.
    if (images.hasChildren(s.id)) continue;
    if (options.isInUse(s.id)) continue;
    if (options.until !== undefined && Date.parse(s.created) >= options.until) continue;
    if (!labelsMatch(s.labels, options.labels ?? [], options.notLabels ?? [])) continue;
    const sizes = new Map<string, number>();
    for (const c of images.get(s.id)?.chainIds ?? []) sizes.set(c, images.layers.get(c)?.size ?? 0);
    try {
      const items = await images.remove(s.id, { force: true, isInUse: options.isInUse });
      for (const it of items) {
        deleted.push(it);
        if ('Deleted' in it) space += sizes.get(it.Deleted) ?? 0;
      }
    } catch {
      // Raced with a new container or tag: keep it, as Docker skips images it cannot delete.
    }
  }
  await collectBlobs(images, options.metaDir);
  return { deleted, spaceReclaimed: space };
}

/** Deletes layer blobs (and their metadata) of diffIDs no stored layer has. */
export async function collectBlobs(images: ImageService, metaDir: string, onlyDiffIds?: readonly string[]): Promise<number> {
  const live = new Set(images.layers.list().map((l) => l.diffId.slice(7)));
  const configs = new Set(images.records().map((r) => r.id));
  let n = 0;
  const names = onlyDiffIds ? onlyDiffIds.map((d) => d.slice(d.indexOf(':') + 1)) : await readdir(metaDir).catch(() => [] as string[]);
  for (const name of names) {
    if (!/^[a-f0-9]{64}$/.test(name) || live.has(name)) continue;
    for (const s of await readBlobSources(metaDir, `sha256:${name}`)) {
      if (!configs.has(s.digest)) {
        await images.content.delete(s.digest);
        n++;
      }
    }
    await rm(join(metaDir, name), { force: true });
  }
  return n;
}
