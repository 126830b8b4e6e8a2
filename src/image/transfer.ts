/**
 * Moving an image between two daemons through a client, layer by layer (issue 23): the push
 * and pull code paths without a registry in between.
 *
 * Source: `describeImage` lists the image as a push would send it (layer-store chainIDs, each
 * layer's compressed blob from `push.ts` `layerBlob`, made once and kept, and the config blob).
 * Target: `imagePresence` says which of those it already has (the image, each layer by chainID,
 * each blob by digest), so the client sends only the rest; `ingestBlob` takes a blob and
 * verifies its digest as a registry upload does; `assembleImage` then commits the layers in
 * stack order, as a pull does for blobs already in its content store (unpack with the hostile-tar
 * checks and the diffID verified, references held under a lease until the image record takes
 * them over), and records the image with its tags. A failure releases every reference taken.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { CommandRunner } from '../common/command-runner.js';
import { InvalidParameterError, NotFoundError } from '../common/errors.js';
import { chainIds as computeChainIds, isDigest, type Digest } from '../oci/digest.js';
import type { ImageService } from './image-service.js';
import { addBlobSource } from './pull.js';
import { layerBlob } from './push.js';

/** One layer as it travels: its compressed blob and what it unpacks to. */
export interface TransferLayer {
  digest: Digest;
  mediaType: string;
  size: number;
  diffId: Digest;
  chainId: Digest;
}

/** An image as `describeImage` lists it. */
export interface ImageDescription {
  id: Digest;
  configSize: number;
  layers: TransferLayer[];
  /** Normalised `name:tag` references pointing at it. */
  refs: string[];
}

/** Lists `ref`'s config and layer blobs (making a layer's compressed blob when the store has none, as push does). */
export async function describeImage(images: ImageService, ref: string, options: { metaDir: string; runner: CommandRunner }): Promise<ImageDescription> {
  const rec = images.resolve(ref);
  const config = await images.content.info(rec.id);
  if (!config) throw new NotFoundError(`image ${rec.id}: its config blob is missing`);
  const chain = rec.chainIds.length === rec.diffIds.length ? rec.chainIds : computeChainIds(rec.diffIds);
  const layers: TransferLayer[] = [];
  for (let i = 0; i < rec.diffIds.length; i++) {
    const src = await layerBlob(images, rec.diffIds[i]!, chain[i]!, options.metaDir, options.runner);
    layers.push({ digest: src.digest, mediaType: src.mediaType, size: src.size, diffId: rec.diffIds[i]! as Digest, chainId: chain[i]! as Digest });
  }
  return { id: rec.id as Digest, configSize: config.size, layers, refs: images.referencesOf(rec.id).filter((r) => !r.includes('@')) };
}

/** What the target already holds of an image. */
export interface ImagePresence {
  image: boolean;
  config: boolean;
  /** Per layer: present as an unpacked layer (chainID), so no blob is needed. */
  layers: boolean[];
  /** Per layer: the compressed blob is in the content store (an earlier, interrupted move). */
  blobs: boolean[];
}

export async function imagePresence(images: ImageService, want: { id: string; layers: Array<{ chainId: string; digest: string }> }): Promise<ImagePresence> {
  return {
    image: isDigest(want.id) && images.get(want.id) !== undefined,
    config: isDigest(want.id) && (await images.content.info(want.id)) !== undefined,
    layers: want.layers.map((l) => isDigest(l.chainId) && images.layers.get(l.chainId) !== undefined),
    blobs: await Promise.all(want.layers.map(async (l) => isDigest(l.digest) && (await images.content.info(l.digest)) !== undefined)),
  };
}

/** Stores a blob sent by a client; its bytes must hash to `digest` (and be `size` long when given), else nothing is kept. */
export async function ingestBlob(images: ImageService, stream: Readable, digest: string, options: { size?: number; signal?: AbortSignal } = {}): Promise<{ digest: Digest; size: number }> {
  if (!isDigest(digest)) throw new InvalidParameterError(`invalid digest ${JSON.stringify(digest)}`);
  const info = await images.content.ingest(stream, { expected: digest, ...(options.size !== undefined ? { expectedSize: options.size } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  // An existing blob returns at once; the request body is not read then, so drain it.
  if (!stream.readableEnded) stream.resume();
  return info;
}

/**
 * Records image `id` (its config blob already in the store) from `layers`: each present layer
 * (by chainID) is referenced, each missing one is unpacked from its blob in the content store.
 */
export async function assembleImage(images: ImageService, desc: { id: string; layers: TransferLayer[]; refs: string[] }, options: { metaDir: string; signal?: AbortSignal }): Promise<Digest> {
  if (!isDigest(desc.id)) throw new InvalidParameterError(`invalid image ID ${JSON.stringify(desc.id)}`);
  if (!(await images.content.info(desc.id))) throw new NotFoundError(`image config ${desc.id} has not been sent`);
  const config = JSON.parse((await images.content.read(desc.id)).toString('utf8')) as { rootfs?: { diff_ids?: string[] } };
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== desc.layers.length || diffIds.some((d, i) => d !== desc.layers[i]!.diffId)) {
    throw new InvalidParameterError(`image ${desc.id}: the layers sent do not match its config's diff_ids`);
  }
  const chain = computeChainIds(diffIds);
  const lease = `move-${randomBytes(8).toString('hex')}`;
  const held: Digest[] = [];
  try {
    for (let i = 0; i < desc.layers.length; i++) {
      const l = desc.layers[i]!;
      if (images.layers.get(chain[i]!)) {
        images.layers.acquire(chain[i]!, lease);
        held.push(chain[i]!);
        continue;
      }
      if (!isDigest(l.digest) || !(await images.content.info(l.digest))) throw new NotFoundError(`layer blob ${l.digest} has not been sent`);
      const prepared = await images.layers.prepare(images.content.reader(l.digest), { expectedDiffId: l.diffId, ...(options.signal ? { signal: options.signal } : {}) });
      const rec = await prepared.commit(held.at(-1), lease);
      held.push(rec.chainId);
      // Remembered as a pull does, so a later push of this image sends the same blob.
      await addBlobSource(options.metaDir, l.diffId, { digest: l.digest, mediaType: l.mediaType, size: l.size });
    }
  } catch (e) {
    await images.layers.releaseLease(lease, held);
    throw e;
  }
  try {
    return await images.addImage(desc.id, held, desc.refs, () => images.layers.endLease(lease, held));
  } catch (e) {
    await images.layers.releaseLease(lease, held);
    throw e;
  }
}
