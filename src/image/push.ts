/**
 * Pushing an image to a registry, as Docker's distribution/push_v2.go:
 *
 * - each layer is pushed as a compressed blob: the one it was pulled as (from the distribution
 *   metadata), or, for a layer made here (import, build, commit), a gzip of its files made
 *   once (archive/diff-layer.ts: overlay whiteouts back to AUFS `.wh.` files) and kept in the content
 *   store, so a second push sends the same digest;
 * - a blob the repository already has is skipped ("Layer already exists"); one known to be in
 *   another repository of the same registry is mounted from there ("Mounted from …"); others are
 *   uploaded (POST, then PUT with the digest, which the registry verifies), 3 at a time;
 * - then the config and a Docker schema2 manifest under the tag; the manifest digest becomes a
 *   RepoDigest of the image.
 */
import { createGzip } from 'node:zlib';
import type { CommandRunner } from '../common/command-runner.js';
import { NoSuchImageError, InvalidParameterError } from '../common/errors.js';
import { chainIds as computeChainIds, sha256Digest, type Digest } from '../oci/digest.js';
import { MEDIA_TYPE } from '../oci/media-types.js';
import { familiarName, familiarString, formatReference, parseReference, type Reference } from '../oci/reference.js';
import { RegistryClient } from '../registry/client/client.js';
import { diffLayer } from '../archive/diff-layer.js';
import type { ImageService } from './image-service.js';
import {
  addBlobSource, hashingTransform, progressBar, readBlobSources, shortDigest, type BlobSource, type RegistryAccessOptions,
} from './pull.js';
import { Transform } from 'node:stream';

export interface PushOptions extends RegistryAccessOptions {
  /** The tag to push; empty or absent pushes every tag of the repository (Docker's API). */
  tag?: string;
  metaDir: string;
  runner: CommandRunner;
}

export interface PushResult {
  tag: string;
  digest: Digest;
  size: number;
}

const PARALLEL_UPLOADS = 3;

/** The compressed blob for a layer, made (and remembered) when the store has none. */
export async function layerBlob(images: ImageService, diffId: string, chainId: string, metaDir: string, runner: CommandRunner): Promise<BlobSource> {
  for (const s of await readBlobSources(metaDir, diffId)) {
    const info = await images.content.info(s.digest);
    if (info && info.size === s.size) return s;
  }
  const tar = diffLayer(images.layers.diffDir(chainId), { runner });
  const diff = hashingTransform();
  const gz = createGzip();
  tar.on('error', (e) => gz.destroy(e));
  const blob = await images.content.ingest(tar.pipe(diff.stream).pipe(gz));
  // The files must still produce the layer the image names; otherwise the blob would lie.
  const produced = diff.digest();
  if (produced !== diffId) {
    await images.content.delete(blob.digest);
    throw new InvalidParameterError(`layer ${diffId} cannot be exported: its files produce ${produced}`);
  }
  const src = { digest: blob.digest, mediaType: MEDIA_TYPE.dockerLayerGzip, size: blob.size };
  await addBlobSource(metaDir, diffId, src);
  return { ...src, repos: [] };
}

/** Pushes `name[:tag]` (every tag of `name` when no tag). Returns one result per tag pushed. */
export async function pushImage(images: ImageService, name: string, options: PushOptions): Promise<PushResult[]> {
  const base = parseReference(name);
  if (base.digest) throw new InvalidParameterError('cannot push a digest reference');
  const progress = options.progress;
  const repoName = `${base.domain}/${base.path}`;
  let tags: string[];
  const tag = options.tag || base.tag;
  if (tag) tags = [tag];
  else {
    tags = allTagsOf(images, base);
    if (tags.length === 0) throw new NoSuchImageError(familiarName(base));
  }
  const client = new RegistryClient(base.domain, {
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.insecureRegistries ? { insecureRegistries: options.insecureRegistries } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.lookup ? { lookup: options.lookup } : {}),
    ...(options.dial ? { dial: options.dial } : {}),
  });
  const results: PushResult[] = [];
  try {
    progress?.({ status: `The push refers to repository [${familiarName(base)}]` });
    for (const t of tags) {
      const ref: Reference = { domain: base.domain, path: base.path, tag: t };
      const rec = images.resolve(formatReference(ref));
      const configBytes = await images.content.read(rec.id);
      const diffIds = rec.diffIds;
      const chain = rec.chainIds.length === diffIds.length ? rec.chainIds : computeChainIds(diffIds);
      const ids = diffIds.map((d) => shortDigest(d));
      // Docker lists layers top first.
      for (let i = diffIds.length - 1; i >= 0; i--) progress?.({ status: 'Preparing', id: ids[i]!, progressDetail: {} });

      const blobs: BlobSource[] = new Array(diffIds.length);
      let next = 0;
      const worker = async (): Promise<void> => {
        for (;;) {
          const i = next++;
          if (i >= diffIds.length) return;
          const id = ids[i]!;
          const src = await layerBlob(images, diffIds[i]!, chain[i]!, options.metaDir, options.runner);
          blobs[i] = src;
          if ((await client.blobSize(base.path, src.digest)) !== undefined) {
            progress?.({ status: 'Layer already exists', id, progressDetail: {} });
          } else {
            const from = src.repos.map((r) => parseReference(r)).find((r) => r.domain === base.domain && r.path !== base.path);
            const started = await client.startUpload(base.path, from ? { digest: src.digest, from: from.path } : undefined);
            if (started.mounted) progress?.({ status: `Mounted from ${from!.path}`, id, progressDetail: {} });
            else {
              let sent = 0;
              let last = 0;
              const bar = new Transform({
                transform(chunk: Buffer, _e, cb) {
                  sent += chunk.length;
                  const now = Date.now();
                  if (now - last > 100 || sent === src.size) {
                    last = now;
                    progress?.({ status: 'Pushing', id, progressDetail: { current: sent, total: src.size }, progress: progressBar(sent, src.size) });
                  }
                  cb(null, chunk);
                },
              });
              const body = images.content.reader(src.digest).pipe(bar);
              await client.finishUpload(base.path, started.location, src.digest, src.size, body, options.signal);
              progress?.({ status: 'Pushed', id, progressDetail: {} });
            }
          }
          await addBlobSource(options.metaDir, diffIds[i]!, { digest: src.digest, mediaType: src.mediaType, size: src.size }, repoName);
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARALLEL_UPLOADS, diffIds.length) }, worker));

      if ((await client.blobSize(base.path, rec.id)) === undefined) {
        const started = await client.startUpload(base.path);
        if (!started.mounted) await client.finishUpload(base.path, started.location, rec.id, configBytes.length, configBytes, options.signal);
      }
      const manifest = {
        schemaVersion: 2,
        mediaType: MEDIA_TYPE.dockerManifest,
        config: { mediaType: MEDIA_TYPE.dockerConfig, size: configBytes.length, digest: rec.id },
        layers: blobs.map((b) => ({ mediaType: dockerLayerType(b.mediaType), size: b.size, digest: b.digest })),
      };
      const bytes = Buffer.from(JSON.stringify(manifest, null, 3));
      const digest = sha256Digest(bytes);
      await client.putManifest(base.path, t, MEDIA_TYPE.dockerManifest, bytes);
      images.addDigestReference(rec.id, `${repoName}@${digest}`);
      progress?.({ status: `${t}: digest: ${digest} size: ${bytes.length}` });
      progress?.({ aux: { Tag: t, Digest: digest, Size: bytes.length } });
      results.push({ tag: t, digest, size: bytes.length });
    }
  } finally {
    client.close();
  }
  // dockerd (distribution/push.go): one event, Actor.ID the reference as asked (no tag: every tag).
  images.logEvent('push', familiarString(tag ? { ...base, tag } : base), familiarName(base));
  return results;
}

function dockerLayerType(mt: string): string {
  if (mt === MEDIA_TYPE.ociLayer || mt === MEDIA_TYPE.dockerLayer) return MEDIA_TYPE.dockerLayer;
  return MEDIA_TYPE.dockerLayerGzip;
}

function allTagsOf(images: ImageService, base: Reference): string[] {
  const out: string[] = [];
  for (const rec of images.records()) {
    for (const r of images.referencesOf(rec.id)) {
      const p = parseReference(r);
      if (p.domain === base.domain && p.path === base.path && p.tag !== undefined && p.digest === undefined) out.push(p.tag);
    }
  }
  return out.sort();
}
