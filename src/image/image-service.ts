/**
 * The image service: the facade the engine and the API use for images. It owns the content
 * store (config blobs), the layer store (unpacked layers) and the image/tag tables, and keeps
 * them consistent:
 *
 * - an image is its config blob; the image ID is `sha256:` + the config's digest (as Docker);
 * - an image holds one layer-store reference on each chainID of its stack; removing the image
 *   releases them, so a layer disappears when no image (or container, see `acquireLayers`)
 *   uses it;
 * - tags are stored normalised (`docker.io/library/busybox:latest`) and shown familiar
 *   (`busybox:latest`).
 *
 * Not here: pulling and pushing (registry/), save/load archives, build. Container bookkeeping
 * stays in the engine, which answers `isInUse` when an image is removed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { CommandRunner } from '../common/command-runner.js';
import { AmbiguousReferenceError, ImageInUseError, InvalidParameterError, NoSuchImageError } from '../common/errors.js';
import { shortId } from '../common/ids.js';
import type { Db } from '../store/db.js';
import { ImageTable, LayerTable } from '../store/images.js';
import type { Digest } from '../oci/digest.js';
import type { History, ImageConfig, ImageRunConfig, Platform } from '../oci/image.js';
import { hostPlatform, parsePlatform } from '../oci/platform.js';
import {
  familiarString, formatReference, parseReference, repositoryName, withDefaultTag, InvalidReferenceError, type Reference,
} from '../oci/reference.js';
import { ContentStore } from './content-store.js';
import { LayerStore, type LayerRecord } from './layer-store.js';
import { applyChanges } from './changes.js';
import { faultPoint } from '../common/fault-point.js';

/** The persisted image record (the config itself is a blob in the content store). */
export interface ImageRecord {
  /** `sha256:<hex>` of the config blob. */
  id: Digest;
  diffIds: Digest[];
  /** chainIDs, bottom layer first. */
  chainIds: Digest[];
  /** Sum of the layers' content sizes. */
  size: number;
  /** The config's `created`. */
  created: string;
  /** When a tag last pointed here (Docker's `Metadata.LastTagTime`). */
  lastTagTime?: string;
  parent?: string;
}

/** One image, as listed (domain shape; api/convert makes the wire shape). */
export interface ImageSummary {
  id: Digest;
  parentId: string;
  /** Familiar `name:tag` strings. */
  repoTags: string[];
  /** Familiar `name@digest` strings. */
  repoDigests: string[];
  created: string;
  size: number;
  labels: Record<string, string>;
}

/** Everything known about one image. */
export interface ImageDetails extends ImageSummary {
  config: ImageConfig;
  lastTagTime?: string;
  /** Layer diff dirs, topmost first (GraphDriver data). */
  layerDirs: string[];
}

/** One row of `docker history`. */
export interface HistoryEntry {
  id: string;
  created: number;
  createdBy: string;
  tags: string[] | null;
  size: number;
  comment: string;
}

/** Docker's delete response item. */
export type DeleteResponseItem = { Untagged: string } | { Deleted: string };

/** What a user of an image looks like to the service: `true`, or the container for Docker's exact messages. */
export type ImageUse = boolean | { id: string; running: boolean } | undefined;

export interface ImportOptions {
  /** `name[:tag]` to tag the new image with (`latest` when no tag). */
  repoTag?: string;
  /** Dockerfile instructions applied to the config (`docker import --change`). */
  changes?: string[];
  /** History comment; default `Imported from -`. */
  message?: string;
  /** `os[/arch[/variant]]`; default the host's. */
  platform?: string;
  signal?: AbortSignal;
}

export interface RemoveOptions {
  force?: boolean;
  /** Do not delete the untagged parent chain (build steps' intermediate images) with the image. */
  noprune?: boolean;
  /** Whether a container uses the image. Return `{ id, running }` for Docker's exact conflict messages; `true` counts as a stopped container. */
  isInUse?(imageId: string): ImageUse;
}

export interface ImageServiceOptions {
  /** Image data root: `<root>/blobs`, `<root>/layers`. */
  root: string;
  db: Db;
  runner: CommandRunner;
  /** Written into image configs as `docker_version`. */
  dockerVersion?: string;
  /** Where image events (tag, untag, delete, import, …) go: the engine's EventBus. */
  events?: ImageEventSink;
}

/** The part of the engine's EventBus the image side publishes to. */
export interface ImageEventSink {
  publish(type: 'image', action: string, id: string, attributes?: Record<string, string>): void;
}

/** Docker's image event actions. */
export type ImageEventAction = 'pull' | 'push' | 'tag' | 'untag' | 'delete' | 'import' | 'load' | 'save';

/** What `createImage` makes an image from (see there). */
export interface CreateImageOptions {
  /** Parent image (ID or reference); absent for an image from scratch (host platform). */
  parent?: string;
  /** The new layer as a tar stream (plain or gzip); absent for a config-only step. */
  layer?: Readable | AsyncIterable<Buffer>;
  /** The new image's run config (Env, Cmd, …), replacing the parent's. */
  config: ImageRunConfig;
  /** This step's history entry (`created_by`, `comment`; `created` defaults to now). */
  history: History;
  author?: string;
  /** Image-level comment (`docker commit -m`). */
  comment?: string;
  /** `name[:tag]` references to point at the new image. */
  tag?: string[];
  signal?: AbortSignal;
}

export class ImageService {
  readonly content: ContentStore;
  readonly layers: LayerStore;
  readonly #images: ImageTable<ImageRecord>;
  readonly #dockerVersion: string;
  readonly #configs = new Map<string, ImageConfig>();
  readonly #events: ImageEventSink | undefined;

  constructor(options: ImageServiceOptions) {
    this.#events = options.events;
    this.content = new ContentStore(options.root);
    this.layers = new LayerStore(options.root, new LayerTable<LayerRecord>(options.db), options.runner);
    this.#images = new ImageTable<ImageRecord>(options.db);
    this.#dockerVersion = options.dockerVersion ?? '';
  }

  /**
   * Publishes an image event as dockerd's LogImageEvent does: Actor.ID `id` (an image ID, or
   * for pull/push the reference), attributes the image's labels (while it exists) plus `name`.
   */
  logEvent(action: ImageEventAction, id: string, name: string): void {
    if (!this.#events) return;
    const attributes: Record<string, string> = {};
    try {
      if (this.#images.get(id)) {
        const config = this.#configs.get(id) ?? (JSON.parse(readFileSync(this.content.path(id as Digest), 'utf8')) as ImageConfig);
        Object.assign(attributes, config.config?.Labels ?? {});
      }
    } catch {
      // labels are a courtesy; an unreadable config must not stop the event
    }
    if (name) attributes['name'] = name;
    this.#events.publish('image', action, id, attributes);
  }

  /** Whether another image records `imageId` as its parent (Docker's "dependent child images"). */
  hasChildren(imageId: string): boolean {
    return this.#images.list().some((r) => r.parent === imageId);
  }

  /** Prepares the stores (directories, crash leftovers). Call once before use. */
  async init(): Promise<void> {
    await this.content.init();
    await this.layers.init();
  }

  /**
   * Start-up, once the containers are known: each layer's reference count is made to match its
   * holders (the images listing it, and `containerLayers`, each container's own list), so a
   * daemon killed between a layer's commit and its image record, or between an image's deletion
   * and its layers' release, leaks no layer. Returns the chainIDs whose count was wrong.
   */
  async reconcileLayers(containers: Iterable<{ imageId: string; layers?: readonly string[] }>): Promise<string[]> {
    const want = new Map<string, number>();
    const add = (c: string): void => void want.set(c, (want.get(c) ?? 0) + 1);
    for (const img of this.#images.list()) for (const c of img.chainIds) add(c);
    for (const c of containers) {
      // A record from before containers kept their list holds its image's layers; when that
      // image is gone too, the holders cannot be known: the counts are left as they are.
      const list = c.layers ?? this.#images.get(c.imageId)?.chainIds;
      if (!list) return [];
      for (const l of list) add(l);
    }
    return this.layers.reconcile(want);
  }

  /**
   * Creates an image of one layer from a rootfs tarball (`POST /images/create?fromSrc=-`,
   * `docker import`). Returns the new image's ID. The tag and changes are checked before the
   * tarball is read.
   */
  async importImage(stream: Readable, options: ImportOptions = {}): Promise<Digest> {
    const ref = options.repoTag ? tagReference(options.repoTag) : undefined;
    const platform: Platform = options.platform ? parsePlatform(options.platform) : hostPlatform();
    if (platform.os !== 'linux') throw new InvalidParameterError(`operating system is not supported: ${platform.os}`);
    const runConfig: ImageRunConfig = applyChanges({}, options.changes ?? []);
    const message = options.message || 'Imported from -';

    const layer = await this.layers.register(stream, { signal: options.signal });
    try {
      const created = new Date().toISOString();
      const history: History = { created, comment: message };
      const config: ImageConfig = {
        architecture: platform.architecture,
        ...(platform.variant ? { variant: platform.variant } : {}),
        os: platform.os,
        created,
        comment: message,
        ...(this.#dockerVersion ? { docker_version: this.#dockerVersion } : {}),
        config: runConfig,
        rootfs: { type: 'layers', diff_ids: [layer.diffId] },
        history: [history],
      };
      const blob = await this.content.put(JSON.stringify(config));
      const id = blob.digest;
      const now = new Date().toISOString();
      const existed = this.#images.transaction(() => {
        const prev = this.#images.get(id);
        if (!prev) {
          this.#images.put({ id, diffIds: [layer.diffId], chainIds: [layer.chainId], size: layer.size, created, ...(ref ? { lastTagTime: now } : {}) });
        } else if (ref) {
          this.#images.put({ ...prev, lastTagTime: now });
        }
        if (ref) this.#images.setTag(formatReference(ref), id);
        return prev !== undefined;
      });
      // The image already held its reference on the layer; drop the one register took.
      if (existed) await this.layers.release(layer.chainId);
      // dockerd: TagImage (a `tag` event) and then the `import` event, both named by ID.
      if (ref) this.logEvent('tag', id, familiarString(ref));
      this.logEvent('import', id, id);
      return id;
    } catch (e) {
      await this.layers.release(layer.chainId);
      throw e;
    }
  }

  /**
   * Finds an image by `name[:tag]`, `name@digest`, full ID (`sha256:…` or 64 hex), or a unique
   * ID prefix (with or without `sha256:`), in Docker's order. Throws NoSuchImageError
   * (`No such image: REF`).
   */
  resolve(ref: string): ImageRecord {
    const full = /^(?:sha256:)?([a-f0-9]{64})$/.exec(ref);
    if (full) {
      const rec = this.#images.get(`sha256:${full[1]}`);
      if (rec) return rec;
      throw new NoSuchImageError(ref);
    }
    let parsed: Reference | undefined;
    let parseError: unknown;
    try {
      parsed = withDefaultTag(parseReference(ref));
    } catch (e) {
      parseError = e;
    }
    if (parsed) {
      const id = this.#images.getTag(formatReference(parsed));
      const rec = id ? this.#images.get(id) : undefined;
      if (rec) return rec;
    }
    const prefix = /^(?:sha256:)?([a-f0-9]{1,63})$/.exec(ref);
    if (prefix) {
      const matches = this.#images.list().filter((r) => r.id.startsWith(`sha256:${prefix[1]}`));
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1) throw new AmbiguousReferenceError(`multiple IDs found with provided prefix: ${prefix[1]}`);
    }
    if (parseError && !prefix) throw parseError;
    throw new NoSuchImageError(ref);
  }

  /** The record for an image ID, or undefined. */
  get(imageId: string): ImageRecord | undefined {
    return this.#images.get(imageId);
  }

  /** The image config (cached; configs are immutable). */
  async config(imageId: string): Promise<ImageConfig> {
    const cached = this.#configs.get(imageId);
    if (cached) return cached;
    if (!this.#images.get(imageId)) throw new NoSuchImageError(imageId);
    const config = JSON.parse((await this.content.read(imageId)).toString('utf8')) as ImageConfig;
    this.#configs.set(imageId, config);
    return config;
  }

  /** Layer diff dirs for overlay's lowerdir, topmost first. */
  lowerDirs(imageId: string): string[] {
    const rec = this.#images.get(imageId);
    if (!rec) throw new NoSuchImageError(imageId);
    return [...rec.chainIds].reverse().map((c) => this.layers.diffDir(c));
  }

  /** The image's size in bytes (sum of its layers' content). */
  size(imageId: string): number {
    const rec = this.#images.get(imageId);
    if (!rec) throw new NoSuchImageError(imageId);
    return rec.size;
  }

  /**
   * Takes a reference on each of the image's layers for a container, so the files stay while
   * the container exists even if the image is force-removed. Returns the chainIDs to give back
   * to `releaseLayers` when the container is removed.
   */
  acquireLayers(imageId: string): string[] {
    const rec = this.#images.get(imageId);
    if (!rec) throw new NoSuchImageError(imageId);
    for (const c of rec.chainIds) this.layers.acquire(c);
    return [...rec.chainIds];
  }

  /** Gives back references taken by `acquireLayers`; answers the diffIDs of the layers that went. */
  async releaseLayers(chainIds: readonly string[]): Promise<string[]> {
    const gone: string[] = [];
    for (const c of [...chainIds].reverse()) {
      const diffId = this.layers.get(c)?.diffId;
      if ((await this.layers.release(c)) && diffId) gone.push(diffId);
    }
    return gone;
  }

  /**
   * All images, newest first. `hideIntermediate` leaves out untagged images that are another
   * image's parent (a build's step images), as `GET /images/json` without `all` does.
   */
  async list(options: { hideIntermediate?: boolean } = {}): Promise<ImageSummary[]> {
    const out: ImageSummary[] = [];
    const records = this.#images.list();
    const parents = new Set(records.map((r) => r.parent).filter((p): p is string => !!p));
    for (const rec of records) {
      if (options.hideIntermediate && parents.has(rec.id) && this.#images.tagsOf(rec.id).length === 0) continue;
      out.push(await this.#summary(rec));
    }
    return out.sort((a, b) => b.created.localeCompare(a.created));
  }

  /** Full details of an image (for inspect). */
  async inspect(ref: string): Promise<ImageDetails> {
    const rec = this.resolve(ref);
    const summary = await this.#summary(rec);
    return {
      ...summary,
      config: await this.config(rec.id),
      ...(rec.lastTagTime ? { lastTagTime: rec.lastTagTime } : {}),
      layerDirs: this.lowerDirs(rec.id),
    };
  }

  /** Docker's image history, newest first. */
  async history(ref: string): Promise<HistoryEntry[]> {
    const rec = this.resolve(ref);
    const config = await this.config(rec.id);
    const entries: HistoryEntry[] = [];
    let layer = 0;
    for (const h of config.history ?? []) {
      let size = 0;
      if (!h.empty_layer) {
        const chain = rec.chainIds[layer++];
        size = chain ? this.layers.get(chain)?.size ?? 0 : 0;
      }
      entries.unshift({
        id: '<missing>',
        created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
        createdBy: h.created_by ?? '',
        tags: null,
        size,
        comment: h.comment ?? '',
      });
    }
    if (entries[0]) {
      entries[0].id = rec.id;
      const tags = this.#refsOf(rec.id).filter((r) => r.tag !== undefined && r.digest === undefined).map(familiarString);
      entries[0].tags = tags.length ? tags : null;
    }
    return entries;
  }

  /** Points `newRef` (`name[:tag]`, `latest` by default) at the image `ref` resolves to. */
  tag(ref: string, newRef: string): void {
    const rec = this.resolve(ref);
    const target = tagReference(newRef);
    this.#images.transaction(() => {
      this.#images.setTag(formatReference(target), rec.id);
      this.#images.put({ ...rec, lastTagTime: new Date().toISOString() });
    });
    this.logEvent('tag', rec.id, familiarString(target));
  }

  /**
   * Removes a tag or an image, following Docker's `ImageDelete` (daemon/images/image_delete.go):
   * by name, the tag is removed and the image only when it was the last reference; by ID, the
   * image and all its tags. A container using the image is a conflict unless forced (a running
   * one, never). Returns Docker's `Untagged`/`Deleted` items, including removed layers.
   */
  async remove(ref: string, options: RemoveOptions = {}): Promise<DeleteResponseItem[]> {
    const rec = this.resolve(ref);
    const imgId = rec.id;
    const force = options.force ?? false;
    const use = normaliseUse(options.isInUse?.(imgId));
    const records: DeleteResponseItem[] = [];
    let repoRefs = this.#refsOf(imgId);
    let quiet = false;

    if (!isImageIdPrefix(imgId, ref)) {
      if (!force && isSingleReference(repoRefs) && use) {
        throw new ImageInUseError(
          `conflict: unable to remove repository reference ${JSON.stringify(ref)} (must force) - container ${use.id ? shortId(use.id) : '(unknown)'} is using its referenced image ${shortId(imgId)}`,
        );
      }
      const parsed = withDefaultTag(parseReference(ref));
      this.#untag(imgId, parsed, records);
      repoRefs = this.#refsOf(imgId);
      // A tag removed and only digest references of that repository left: remove those too.
      if (parsed.digest === undefined) {
        const name = repositoryName(parsed);
        const tagLeft = repoRefs.some((r) => r.digest === undefined && repositoryName(r) === name);
        if (!tagLeft) {
          const remaining: Reference[] = [];
          for (const r of repoRefs) {
            if (r.digest !== undefined && repositoryName(r) === name) {
              this.#untag(imgId, r, records);
            } else remaining.push(r);
          }
          repoRefs = remaining;
        }
      }
      if (repoRefs.length > 0) return records;
      quiet = true;
    } else if (isSingleReference(repoRefs)) {
      const conflict = this.#conflict(rec, use, { running: true, stopped: !force, activeReference: false });
      if (conflict) throw conflict.error;
      for (const r of repoRefs) this.#untag(imgId, r, records);
    }

    const conflict = this.#conflict(rec, use, { running: true, stopped: !force, activeReference: !force });
    if (conflict) {
      // Untagging already happened; Docker keeps a used (or still referenced, or parent) image silently then.
      if (quiet && (this.#refsOf(imgId).length > 0 || this.hasChildren(imgId) || conflict.used)) return records;
      throw conflict.error;
    }
    for (const r of this.#refsOf(imgId)) this.#untag(imgId, r, records);
    await this.#deleteImage(rec, records);
    // image_delete.go: then the parent chain, quietly, while a parent is untagged, has no
    // other child and no container uses it (a build's step images go with the built image).
    let parent = options.noprune ? undefined : rec.parent;
    while (parent) {
      const p = this.#images.get(parent);
      if (!p || this.#refsOf(p.id).length > 0 || this.hasChildren(p.id) || normaliseUse(options.isInUse?.(p.id))) break;
      await this.#deleteImage(p, records);
      parent = p.parent;
    }
    return records;
  }

  #untag(imageId: string, ref: Reference, records: DeleteResponseItem[]): void {
    this.#images.deleteTag(formatReference(ref));
    records.push({ Untagged: familiarString(ref) });
    this.logEvent('untag', imageId, imageId);
  }

  /** Drops an image record (no tags left) and its references on layers; Docker's `Deleted` items. */
  async #deleteImage(rec: ImageRecord, records: DeleteResponseItem[]): Promise<void> {
    this.#images.delete(rec.id);
    this.#configs.delete(rec.id);
    faultPoint('image-remove');
    this.logEvent('delete', rec.id, rec.id);
    records.push({ Deleted: rec.id });
    for (const chain of [...rec.chainIds].reverse()) {
      if (await this.layers.release(chain)) records.push({ Deleted: chain });
    }
    await this.content.delete(rec.id);
  }

  #conflict(
    rec: ImageRecord,
    use: { id?: string; running: boolean } | undefined,
    mask: { running: boolean; stopped: boolean; activeReference: boolean },
  ): { error: ImageInUseError; used: boolean } | undefined {
    const make = (hard: boolean, message: string, used: boolean): { error: ImageInUseError; used: boolean } => ({
      error: new ImageInUseError(`conflict: unable to delete ${shortId(rec.id)} (${hard ? 'cannot be forced' : 'must be forced'}) - ${message}`),
      used,
    });
    const who = use?.id ? ` ${shortId(use.id)}` : '';
    // The hard conflicts: children first, as checkImageDeleteConflict.
    if (mask.running && this.hasChildren(rec.id)) return make(true, 'image has dependent child images', false);
    if (mask.running && use?.running) return make(true, `image is being used by running container${who}`, true);
    if (mask.activeReference && this.#refsOf(rec.id).length > 0) return make(false, 'image is referenced in multiple repositories', false);
    if (mask.stopped && use && !use.running) return make(false, `image is being used by stopped container${who}`, true);
    return undefined;
  }

  #refsOf(imageId: string): Reference[] {
    const out: Reference[] = [];
    for (const s of this.#images.tagsOf(imageId)) {
      try {
        out.push(parseReference(s));
      } catch {
        // a tag row that no longer parses is skipped rather than breaking every listing
      }
    }
    return out;
  }

  async #summary(rec: ImageRecord): Promise<ImageSummary> {
    const refs = this.#refsOf(rec.id);
    const config = await this.config(rec.id);
    return {
      id: rec.id,
      parentId: rec.parent ?? '',
      repoTags: refs.filter((r) => r.digest === undefined).map(familiarString),
      repoDigests: refs.filter((r) => r.digest !== undefined).map((r) => familiarString({ ...r, tag: undefined } as Reference)),
      created: rec.created,
      size: rec.size,
      labels: config.config?.Labels ?? {},
    };
  }

  /**
   * Creates an image from a parent image plus, optionally, one new layer: what the builder does
   * for every Dockerfile step and `docker commit` does for a container. The layer tar goes
   * through the layer store's validated import (content-addressed by chainID, shared with
   * other images); the new config copies the parent's platform, diffIDs and history, takes
   * `config` as its run config, and appends `history` (`empty_layer` when no layer is given).
   * The new image records `parent` (Docker's `Parent`) and holds a reference on every layer of
   * its stack. Tags in `tag` (`name[:tag]`) are checked before anything is written. Returns the
   * image ID; creating an identical config again returns the same ID and changes nothing.
   */
  async createImage(options: CreateImageOptions): Promise<Digest> {
    const refs = (options.tag ?? []).map(tagReference);
    const parent = options.parent ? this.#images.get(options.parent) ?? this.resolve(options.parent) : undefined;
    const parentConfig = parent ? await this.config(parent.id) : undefined;
    const platform: Platform = parentConfig ? { architecture: parentConfig.architecture, os: parentConfig.os, ...(parentConfig.variant ? { variant: parentConfig.variant } : {}) } : hostPlatform();
    const parentChains = parent ? [...parent.chainIds] : [];
    const taken: string[] = [];
    try {
      for (const c of parentChains) {
        this.layers.acquire(c);
        taken.push(c);
      }
      let layer: LayerRecord | undefined;
      if (options.layer) {
        layer = await this.layers.register(options.layer, { parent: parentChains.at(-1), signal: options.signal });
        taken.push(layer.chainId);
        faultPoint('image-create-layer');
      }
      const created = options.history.created ?? new Date().toISOString();
      const history: History = { ...options.history, created };
      if (!layer) history.empty_layer = true;
      else delete history.empty_layer;
      const diffIds = [...(parent?.diffIds ?? []), ...(layer ? [layer.diffId] : [])];
      const chainIds = [...parentChains, ...(layer ? [layer.chainId] : [])];
      const config: ImageConfig = {
        ...platform,
        created,
        ...(options.author ? { author: options.author } : parentConfig?.author ? { author: parentConfig.author } : {}),
        ...(options.comment ? { comment: options.comment } : {}),
        ...(this.#dockerVersion ? { docker_version: this.#dockerVersion } : {}),
        config: options.config,
        rootfs: { type: 'layers', diff_ids: diffIds },
        history: [...(parentConfig?.history ?? []), history],
      };
      const blob = await this.content.put(JSON.stringify(config));
      const id = blob.digest;
      const now = new Date().toISOString();
      const existed = this.#images.transaction(() => {
        const prev = this.#images.get(id);
        if (!prev) {
          this.#images.put({
            id, diffIds, chainIds, size: (parent?.size ?? 0) + (layer?.size ?? 0), created,
            ...(parent ? { parent: parent.id } : {}), ...(refs.length ? { lastTagTime: now } : {}),
          });
        } else if (refs.length) this.#images.put({ ...prev, lastTagTime: now });
        for (const r of refs) this.#images.setTag(formatReference(r), id);
        return prev !== undefined;
      });
      // An identical image already held its references; give back the ones taken here.
      if (existed) await this.releaseLayers(taken);
      for (const r of refs) this.logEvent('tag', id, familiarString(r));
      return id;
    } catch (e) {
      await this.releaseLayers(taken);
      throw e;
    }
  }

  /**
   * (pull, load) Records an image whose config blob is already in the content store and whose
   * layers the caller holds one reference on each (`chainIds`, bottom first, from `register`
   * or `acquire`); points `refs` (normalised `name:tag` or `name@digest` strings) at it, all in
   * one transaction. When the image already exists, the caller's references are given back.
   * Returns the image ID.
   */
  async addImage(configDigest: Digest, chainIds: Digest[], refs: string[] = [], inTransaction?: () => void): Promise<Digest> {
    const config = JSON.parse((await this.content.read(configDigest)).toString('utf8')) as ImageConfig;
    const diffIds = (config.rootfs?.diff_ids ?? []) as Digest[];
    if (diffIds.length !== chainIds.length) throw new InvalidParameterError(`image config lists ${diffIds.length} layers, ${chainIds.length} given`);
    const parsed = refs.map((r) => parseReference(r));
    const size = chainIds.reduce((n, c) => n + (this.layers.get(c)?.size ?? 0), 0);
    const now = new Date().toISOString();
    const existed = this.#images.transaction(() => {
      const prev = this.#images.get(configDigest);
      if (!prev) {
        this.#images.put({ id: configDigest, diffIds, chainIds, size, created: config.created ?? now, ...(parsed.length ? { lastTagTime: now } : {}) });
      } else if (parsed.length) this.#images.put({ ...prev, lastTagTime: now });
      for (const r of parsed) this.#images.setTag(formatReference(r), configDigest);
      inTransaction?.(); // (pull) the layer references change hands atomically with the record
      return prev !== undefined;
    });
    if (existed) await this.releaseLayers(chainIds);
    return configDigest;
  }

  /** (push, save) The normalised references (`name:tag`, `name@digest`) pointing at an image. */
  referencesOf(imageId: string): string[] {
    return this.#images.tagsOf(imageId);
  }

  /** (push) Points a `name@digest` reference at an image (Docker's RepoDigests after a push). */
  addDigestReference(imageId: string, ref: string): void {
    const parsed = parseReference(ref);
    if (parsed.digest === undefined) throw new InvalidParameterError(`not a digest reference: ${ref}`);
    this.#images.setTag(formatReference({ domain: parsed.domain, path: parsed.path, digest: parsed.digest }), imageId);
  }

  /** (image prune) Every image record. */
  records(): ImageRecord[] {
    return this.#images.list();
  }
}

/** The data root layout, for documentation and for callers that need the paths. */
export function imagePaths(root: string): { blobs: string; layers: string } {
  return { blobs: join(root, 'blobs', 'sha256'), layers: join(root, 'layers') };
}

/** Parses a reference to tag with: no digest allowed, `latest` when no tag. */
function tagReference(s: string): Reference {
  const ref = parseReference(s);
  if (ref.digest !== undefined) throw new InvalidReferenceError('refusing to create a tag with a digest reference');
  return withDefaultTag(ref);
}

function normaliseUse(u: ImageUse): { id?: string; running: boolean } | undefined {
  if (!u) return undefined;
  if (u === true) return { running: false };
  return u;
}

function isImageIdPrefix(imageId: string, ref: string): boolean {
  return imageId.startsWith(ref) || imageId.slice('sha256:'.length).startsWith(ref);
}

// image_delete.go isSingleReference: one tag (plus, optionally, digests of the same repository).
function isSingleReference(refs: Reference[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  let single: Reference | undefined;
  const canonical = new Set<string>();
  for (const r of refs) {
    if (r.digest !== undefined) canonical.add(repositoryName(r));
    else if (single === undefined) single = r;
    else return false;
  }
  single ??= refs[0]!;
  return canonical.size === 1 && canonical.has(repositoryName(single));
}

