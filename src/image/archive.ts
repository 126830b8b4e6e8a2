/**
 * `docker save` / `docker load` archives.
 *
 * Save writes the layout Docker 25+ writes, which is both an OCI image layout and a legacy
 * docker-archive, so every Docker (and skopeo, and `oci:` tools) can read it:
 *
 *     oci-layout                       {"imageLayoutVersion":"1.0.0"}
 *     index.json                       an OCI index of the images' manifests (tags as annotations)
 *     manifest.json                    docker-archive: [{Config, RepoTags, Layers}]
 *     blobs/sha256/<hex>               configs, manifests and layers (as stored: gzip or plain tar)
 *
 * Load reads that layout, older docker-archives (`<id>/layer.tar`, `<hex>.json`, symlinked
 * duplicate layers) and plain OCI layouts (index.json only). It unpacks the archive into a
 * private temp dir first, accepting only the file names those formats use (anything else is
 * ignored; a symlink is followed only to another accepted name inside the archive), then
 * registers each layer through the layer store (validated tar, diffID checked against the
 * config) and writes the image record last: a bad archive leaves no image.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import type { CommandRunner } from '../common/command-runner.js';
import { InvalidParameterError, InvalidTarError } from '../common/errors.js';
import { chainIds as computeChainIds, digestHex, isDigest, sha256Digest, type Digest } from '../oci/digest.js';
import type { ImageConfig, Index, Manifest } from '../oci/image.js';
import { MEDIA_TYPE } from '../oci/media-types.js';
import { familiarString, formatReference, parseReference, withDefaultTag } from '../oci/reference.js';
import type { ImageService } from './image-service.js';
import { layerBlob } from './push.js';
import { MAX_CONFIG_BYTES } from './pull.js';
import { fromTarStreamHeader, LOAD_POLICY, ScanState } from '../archive/checked-tar.js';

export interface SaveOptions {
  metaDir: string;
  runner: CommandRunner;
}

/** Writes the archive of `refs` (names or IDs) to a stream. Every name is resolved before anything is written. */
export async function saveImages(images: ImageService, refs: string[], options: SaveOptions): Promise<Readable> {
  if (refs.length === 0) throw new InvalidParameterError('no images specified');
  const resolved = refs.map((r) => ({ ref: r, rec: images.resolve(r) }));
  const pack = tar.pack();
  const written = new Set<string>();
  const dockerManifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
  const index: Index = { schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: [] };
  const entry = (name: string, body: Buffer): Promise<void> =>
    new Promise((resolve, reject) => pack.entry({ name, mode: 0o644, mtime: new Date(0) }, body, (e) => (e ? reject(e) : resolve())));
  const fileEntry = async (name: string, path: string): Promise<void> => {
    const size = (await stat(path)).size;
    await new Promise<void>((resolve, reject) => {
      const sink = pack.entry({ name, size, mode: 0o644, mtime: new Date(0) }, (e) => (e ? reject(e) : resolve()));
      pipeline(createReadStream(path), sink).catch(reject);
    });
  };
  void (async () => {
    try {
      await entry('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
      for (const { ref, rec } of resolved) {
        const config = await images.content.read(rec.id);
        const layers = [];
        for (let i = 0; i < rec.diffIds.length; i++) {
          const src = await layerBlob(images, rec.diffIds[i]!, rec.chainIds[i]!, options.metaDir, options.runner);
          layers.push({ mediaType: src.mediaType === MEDIA_TYPE.dockerLayer || src.mediaType === MEDIA_TYPE.ociLayer ? MEDIA_TYPE.ociLayer : MEDIA_TYPE.ociLayerGzip, digest: src.digest, size: src.size });
          if (!written.has(src.digest)) {
            written.add(src.digest);
            await fileEntry(`blobs/sha256/${digestHex(src.digest)}`, images.content.path(src.digest));
          }
        }
        if (!written.has(rec.id)) {
          written.add(rec.id);
          await entry(`blobs/sha256/${digestHex(rec.id)}`, config);
        }
        const manifest: Manifest = { schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config: { mediaType: MEDIA_TYPE.ociConfig, digest: rec.id, size: config.length }, layers };
        const mbytes = Buffer.from(JSON.stringify(manifest));
        const mdigest = sha256Digest(mbytes);
        if (!written.has(mdigest)) {
          written.add(mdigest);
          await entry(`blobs/sha256/${digestHex(mdigest)}`, mbytes);
        }
        // Tags: the one named, or all of the image's when it was named by ID.
        const named = /^(sha256:)?[a-f0-9]{6,64}$/.test(ref) && rec.id.includes(ref.replace(/^sha256:/, '')) ? undefined : withDefaultTag(parseReference(ref));
        const tags = named
          ? [named]
          : images.referencesOf(rec.id).map((r) => parseReference(r)).filter((r) => r.digest === undefined);
        dockerManifest.push({ Config: `blobs/sha256/${digestHex(rec.id)}`, RepoTags: tags.map(familiarString), Layers: layers.map((l) => `blobs/sha256/${digestHex(l.digest)}`) });
        const desc = { mediaType: MEDIA_TYPE.ociManifest, digest: mdigest, size: mbytes.length };
        if (tags.length === 0) index.manifests.push(desc);
        for (const t of tags) {
          index.manifests.push({ ...desc, annotations: { 'io.containerd.image.name': formatReference(t), 'org.opencontainers.image.ref.name': t.tag ?? 'latest' } });
        }
        images.logEvent('save', rec.id, rec.id);
      }
      await entry('index.json', Buffer.from(JSON.stringify(index)));
      await entry('manifest.json', Buffer.from(JSON.stringify(dockerManifest)));
      pack.finalize();
    } catch (e) {
      pack.destroy(e as Error);
    }
  })();
  return pack as unknown as Readable;
}

const ACCEPTED = [
  /^manifest\.json$/, /^index\.json$/, /^oci-layout$/, /^repositories$/,
  /^blobs\/sha256\/[a-f0-9]{64}$/, /^[a-f0-9]{64}\.json$/, /^[a-f0-9]{64}\/(layer\.tar|json|VERSION)$/,
];

function accepted(name: string): string | undefined {
  const n = posix.normalize(name.replace(/^\.\//, '').replace(/^\/+/, ''));
  return ACCEPTED.some((re) => re.test(n)) ? n : undefined;
}

export interface LoadResult {
  /** Lines Docker prints: `Loaded image: busybox:latest` or `Loaded image ID: sha256:…`. */
  messages: string[];
}

/** Loads a docker-archive or OCI layout tar. */
export async function loadImages(
  images: ImageService,
  input: Readable,
  options: {
    signal?: AbortSignal;
    tmpRoot?: string;
    /** Checks each image (its config digest, the image ID) before any image is stored; throws to refuse (#22). */
    verify?: (image: { digest: Digest; tags: string[] }) => Promise<unknown>;
  } = {},
): Promise<LoadResult> {
  const dir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), 'berth-load-'));
  try {
    const links = new Map<string, string>();
    const extract = tar.extract();
    const files = new Set<string>();
    let entries = 0;
    // The hostile-tar rules of the checked reader (archive/checked-tar.ts) for every entry, then
    // the allow-list of names a docker-archive or OCI layout has.
    const rules = new ScanState(LOAD_POLICY);
    extract.on('entry', (header, stream, next) => {
      entries++;
      stream.on('error', () => {});
      try {
        rules.check(fromTarStreamHeader(header));
      } catch (e) {
        stream.resume();
        next(e as Error);
        return;
      }
      const name = accepted(header.name);
      if (!name) {
        stream.resume();
        stream.on('end', () => next());
        return;
      }
      if (header.type === 'symlink' || header.type === 'link') {
        const target = header.type === 'symlink' ? posix.normalize(posix.join(posix.dirname(name), header.linkname ?? '')) : accepted(header.linkname ?? '');
        if (target && accepted(target)) links.set(name, target);
        stream.resume();
        stream.on('end', () => next());
        return;
      }
      if (header.type !== 'file' && header.type !== 'contiguous-file') {
        stream.resume();
        stream.on('end', () => next());
        return;
      }
      const path = join(dir, name);
      mkdir(join(path, '..'), { recursive: true })
        .then(() => pipeline(stream, createWriteStream(path, { flags: 'wx', mode: 0o600 })))
        .then(() => {
          files.add(name);
          next();
        }, (e: Error) => next(e));
    });
    try {
      await pipeline(input, extract, { ...(options.signal ? { signal: options.signal } : {}) });
    } catch (e) {
      if (e instanceof InvalidTarError) throw e;
      throw new InvalidTarError(`invalid tar archive: ${(e as Error).message}`, { cause: e });
    }
    if (entries === 0) throw new InvalidTarError('invalid tar archive: no entries (empty or not a tar file)');
    const resolve = (n: string): string | undefined => {
      let cur = accepted(n);
      for (let i = 0; cur && i < 8 && !files.has(cur); i++) cur = links.get(cur);
      return cur && files.has(cur) ? join(dir, cur) : undefined;
    };
    const readBounded = async (n: string, what: string): Promise<Buffer> => {
      const p = resolve(n);
      if (!p) throw new InvalidParameterError(`invalid archive: ${what} ${JSON.stringify(n)} is missing`);
      if ((await stat(p)).size > MAX_CONFIG_BYTES) throw new InvalidParameterError(`invalid archive: ${what} ${JSON.stringify(n)} is too large`);
      return readFile(p);
    };

    type Item = { config: string; tags: string[]; layers: string[] };
    const items: Item[] = [];
    if (files.has('manifest.json')) {
      const m = JSON.parse((await readBounded('manifest.json', 'manifest')).toString('utf8')) as { Config?: string; RepoTags?: string[] | null; Layers?: string[] }[];
      if (!Array.isArray(m)) throw new InvalidParameterError('invalid archive: manifest.json is not a list');
      for (const e of m) {
        if (typeof e?.Config !== 'string' || !Array.isArray(e.Layers)) throw new InvalidParameterError('invalid archive: manifest.json entry without Config or Layers');
        items.push({ config: e.Config, tags: (e.RepoTags ?? []).filter((t) => typeof t === 'string'), layers: e.Layers });
      }
    } else if (files.has('index.json')) {
      const idx = JSON.parse((await readBounded('index.json', 'index')).toString('utf8')) as Index;
      for (const d of idx.manifests ?? []) {
        if (!isDigest(d.digest)) throw new InvalidParameterError(`invalid archive: bad digest ${JSON.stringify(d.digest)}`);
        const mb = await readBounded(`blobs/sha256/${digestHex(d.digest)}`, 'manifest');
        if (sha256Digest(mb) !== d.digest) throw new InvalidParameterError(`invalid archive: manifest ${d.digest} does not match its digest`);
        const man = JSON.parse(mb.toString('utf8')) as Manifest;
        if (!man.config || !Array.isArray(man.layers)) throw new InvalidParameterError('invalid archive: nested indexes are not supported');
        const name = d.annotations?.['io.containerd.image.name'];
        items.push({
          config: `blobs/sha256/${digestHex(man.config.digest)}`,
          tags: name ? [name] : [],
          layers: man.layers.map((l) => `blobs/sha256/${digestHex(l.digest)}`),
        });
      }
    } else throw new InvalidParameterError('invalid archive: no manifest.json or index.json (not a docker save or OCI layout archive)');

    if (options.verify) {
      for (const it of items) await options.verify({ digest: sha256Digest(await readBounded(it.config, 'config')), tags: it.tags });
    }
    const messages: string[] = [];
    for (const it of items) {
      const configBytes = await readBounded(it.config, 'config');
      const configDigest = sha256Digest(configBytes);
      const named = /([a-f0-9]{64})(\.json)?$/.exec(it.config);
      if (named && `sha256:${named[1]}` !== configDigest) throw new InvalidParameterError(`invalid archive: config ${it.config} does not match its digest`);
      const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
      const diffIds = config.rootfs?.diff_ids;
      if (!Array.isArray(diffIds) || diffIds.length !== it.layers.length) throw new InvalidParameterError('invalid archive: the config and the manifest list different layers');
      const tags = it.tags.map((t) => formatReference(withDefaultTag(parseReference(t))));
      const chain = computeChainIds(diffIds);
      const held: Digest[] = [];
      try {
        for (let i = 0; i < it.layers.length; i++) {
          if (images.layers.get(chain[i]!)) {
            images.layers.acquire(chain[i]!);
            held.push(chain[i]!);
            continue;
          }
          const p = resolve(it.layers[i]!);
          if (!p) throw new InvalidParameterError(`invalid archive: layer ${JSON.stringify(it.layers[i])} is missing`);
          const rec = await images.layers.register(createReadStream(p), { ...(i > 0 ? { parent: chain[i - 1]! } : {}), expectedDiffId: diffIds[i]!, ...(options.signal ? { signal: options.signal } : {}) });
          held.push(rec.chainId);
        }
        await images.content.put(configBytes, { expected: configDigest });
      } catch (e) {
        await images.releaseLayers(held);
        throw e;
      }
      const id = await images.addImage(configDigest, held, tags);
      if (tags.length) for (const t of tags) messages.push(`Loaded image: ${familiarString(parseReference(t))}`);
      else messages.push(`Loaded image ID: ${id}`);
      images.logEvent('load', id, id);
    }
    return { messages };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
