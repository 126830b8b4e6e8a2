/**
 * Berth extensions for moving a container between daemons (issue 23), and Docker's checkpoint
 * routes, which answer why CRIU cannot work here. The client (`berth container move`) carries
 * everything between the two daemons; neither daemon talks to the other. docs/api-compat.md
 * ("Moving a container") has the sequence.
 */
import { pipeline } from 'node:stream/promises';
import type { CommandRunner } from '../../common/command-runner.js';
import { InvalidParameterError } from '../../common/errors.js';
import type { ImageService } from '../../image/image-service.js';
import { assembleImage, describeImage, imagePresence, ingestBlob, type TransferLayer } from '../../image/transfer.js';
import type { CheckpointSupport } from '../../engine/move/checkpoint-support.js';
import type { MoveExporter } from '../../engine/move/move-exporter.js';
import type { MoveImporter } from '../../engine/move/move-importer.js';
import type { MovePart } from '../../engine/move/move-types.js';
import { specFromCreateRequest } from '../convert/containers.js';
import { Router, queryBool, queryInt, readJson, sendEmpty, sendJson } from '../router.js';

export interface MoveRouteDeps {
  exporter: MoveExporter;
  importer: MoveImporter;
  images: ImageService;
  metaDir: string;
  runner: CommandRunner;
  checkpoints: CheckpointSupport;
  /** Throws NoSuchContainerError for an unknown reference. */
  containerExists(ref: string): void;
}

type Json = Record<string, unknown>;

/** MovePart → the wire's PascalCase. */
export function partJson(p: MovePart): Json {
  return {
    Id: p.id,
    Kind: p.kind,
    Digest: p.digest,
    Size: p.size,
    ...(p.volume
      ? {
          Volume: {
            Name: p.volume.name, Destination: p.volume.destination, Anonymous: p.volume.anonymous, Driver: p.volume.driver,
            Labels: p.volume.labels, Options: p.volume.options, Mode: p.volume.mode, Uid: p.volume.uid, Gid: p.volume.gid,
          },
        }
      : {}),
  };
}

function str(o: Json, k: string, where: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw new InvalidParameterError(`invalid JSON: ${where}${k} must be a string`);
  return v;
}
function num(o: Json, k: string, where: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new InvalidParameterError(`invalid JSON: ${where}${k} must be a non-negative integer`);
  return v;
}
function strMap(o: Json, k: string, where: string): Record<string, string> {
  const v = o[k] ?? {};
  if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v as object).every((x) => typeof x === 'string')) throw new InvalidParameterError(`invalid JSON: ${where}${k} must be an object of strings`);
  return v as Record<string, string>;
}
function list(o: Json, k: string, where: string): Json[] {
  const v = o[k];
  if (!Array.isArray(v) || !v.every((x) => x && typeof x === 'object' && !Array.isArray(x))) throw new InvalidParameterError(`invalid JSON: ${where}${k} must be an array of objects`);
  return v as Json[];
}

/** The wire's part → MovePart, checked. */
export function partFromJson(o: Json, i: number): MovePart {
  const where = `Parts[${i}].`;
  const kind = str(o, 'Kind', where);
  if (kind !== 'rw' && kind !== 'volume') throw new InvalidParameterError(`invalid JSON: ${where}Kind must be "rw" or "volume"`);
  const part: MovePart = { id: str(o, 'Id', where), kind, digest: str(o, 'Digest', where), size: num(o, 'Size', where) };
  if (kind === 'volume') {
    const v = o['Volume'];
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InvalidParameterError(`invalid JSON: ${where}Volume must be an object`);
    const vj = v as Json;
    const w = `${where}Volume.`;
    if (typeof vj['Anonymous'] !== 'boolean') throw new InvalidParameterError(`invalid JSON: ${w}Anonymous must be a boolean`);
    part.volume = {
      name: str(vj, 'Name', w), destination: str(vj, 'Destination', w), anonymous: vj['Anonymous'], driver: str(vj, 'Driver', w),
      labels: strMap(vj, 'Labels', w), options: strMap(vj, 'Options', w), mode: num(vj, 'Mode', w) & 0o7777, uid: num(vj, 'Uid', w), gid: num(vj, 'Gid', w),
    };
  }
  return part;
}

function layerJson(l: TransferLayer): Json {
  return { Digest: l.digest, MediaType: l.mediaType, Size: l.size, DiffId: l.diffId, ChainId: l.chainId };
}
function layerFromJson(o: Json, i: number): TransferLayer {
  const w = `Layers[${i}].`;
  return { digest: str(o, 'Digest', w), mediaType: str(o, 'MediaType', w), size: num(o, 'Size', w), diffId: str(o, 'DiffId', w), chainId: str(o, 'ChainId', w) } as TransferLayer;
}

export function registerMoveRoutes(router: Router, deps: MoveRouteDeps): void {
  const { exporter, importer, images } = deps;

  // ---- source side ----
  router.post('/containers/:id/export-state', async (ctx) => {
    // A client that goes away (Ctrl-C) stops the export, and what was written is removed.
    const ac = new AbortController();
    ctx.res.on('close', () => {
      if (!ctx.res.writableFinished) ac.abort();
    });
    const s = await exporter.export(ctx.params.id!, { volumes: queryBool(ctx.query, 'volumes'), dryRun: queryBool(ctx.query, 'dryRun'), signal: ac.signal });
    if (ac.signal.aborted) {
      if (s.session) await exporter.discard(s.session);
      return;
    }
    sendJson(ctx.res, 200, { Session: s.session ?? null, ContainerId: s.containerId, Name: s.name, ImageId: s.imageId, Parts: s.parts.map(partJson), Warnings: s.warnings });
  });
  router.get('/berth/move/exports/:session/:part', async (ctx) => {
    const { stream, size } = await exporter.part(ctx.params.session!, ctx.params.part!);
    ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar', 'Content-Length': size });
    await pipeline(stream, ctx.res).catch(() => ctx.res.destroy());
  });
  router.delete('/berth/move/exports/:session', async (ctx) => {
    await exporter.discard(ctx.params.session!);
    sendEmpty(ctx.res, 204);
  });
  router.get('/berth/images/:name/layers', async (ctx) => {
    const d = await describeImage(images, ctx.params.name!, { metaDir: deps.metaDir, runner: deps.runner });
    sendJson(ctx.res, 200, { Id: d.id, ConfigSize: d.configSize, Layers: d.layers.map(layerJson), RepoTags: d.refs });
  });
  router.get('/berth/blobs/:digest', async (ctx) => {
    const digest = ctx.params.digest!;
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) throw new InvalidParameterError(`invalid digest ${JSON.stringify(digest)}`);
    const info = await images.content.info(digest);
    if (!info) throw new (await import('../../image/content-store.js')).BlobNotFoundError(digest);
    ctx.res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': info.size, 'Docker-Content-Digest': digest });
    await pipeline(images.content.reader(digest), ctx.res).catch(() => ctx.res.destroy());
  });

  // ---- target side ----
  router.post('/berth/images/presence', async (ctx) => {
    const body = await readJson(ctx.req);
    const layers = list(body, 'Layers', '').map((l, i) => ({ chainId: str(l, 'ChainId', `Layers[${i}].`), digest: str(l, 'Digest', `Layers[${i}].`) }));
    const p = await imagePresence(images, { id: str(body, 'Id', ''), layers });
    sendJson(ctx.res, 200, { Image: p.image, Config: p.config, Layers: p.layers, Blobs: p.blobs });
  });
  router.put('/berth/blobs/:digest', async (ctx) => {
    const size = queryInt(ctx.query, 'size');
    const info = await ingestBlob(images, ctx.req, ctx.params.digest!, size !== undefined ? { size } : {});
    sendJson(ctx.res, 201, { Digest: info.digest, Size: info.size });
  });
  router.post('/berth/images/assemble', async (ctx) => {
    const body = await readJson(ctx.req);
    const tags = body['RepoTags'] ?? [];
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw new InvalidParameterError('invalid JSON: RepoTags must be an array of strings');
    // A tag the target already gives to another image stays where it is.
    const refs = (tags as string[]).filter((t) => {
      try {
        return images.resolve(t).id === body['Id'];
      } catch {
        return true;
      }
    });
    const id = await assembleImage(images, { id: str(body, 'Id', ''), layers: list(body, 'Layers', '').map(layerFromJson), refs }, { metaDir: deps.metaDir });
    sendJson(ctx.res, 200, { Id: id });
  });
  router.post('/berth/move/imports', async (ctx) => {
    const body = await readJson(ctx.req);
    const config = body['Config'];
    if (!config || typeof config !== 'object' || Array.isArray(config)) throw new InvalidParameterError('invalid JSON: Config must be a container create body');
    const name = str(body, 'Name', '');
    const spec = specFromCreateRequest(config as Json, name);
    const r = await importer.begin({ name, spec, imageId: str(body, 'ImageId', ''), parts: list(body, 'Parts', '').map(partFromJson) });
    sendJson(ctx.res, 201, { Session: r.session });
  });
  router.put('/berth/move/imports/:session/:part', async (ctx) => {
    const r = await importer.receive(ctx.params.session!, ctx.params.part!, ctx.req);
    sendJson(ctx.res, 200, { Digest: r.digest, Size: r.size });
  });
  router.post('/berth/move/imports/:session/commit', async (ctx) => {
    const r = await importer.commit(ctx.params.session!);
    sendJson(ctx.res, 201, { Id: r.id, Warnings: r.warnings });
  });
  router.delete('/berth/move/imports/:session', async (ctx) => {
    await importer.abort(ctx.params.session!);
    sendEmpty(ctx.res, 204);
  });

  // ---- Docker's checkpoint routes (experimental in Docker): refused with the reason ----
  router.post('/containers/:id/checkpoints', async (ctx) => {
    deps.containerExists(ctx.params.id!);
    await deps.checkpoints.refuse('checkpoint create');
  });
  router.get('/containers/:id/checkpoints', async (ctx) => {
    deps.containerExists(ctx.params.id!);
    await deps.checkpoints.refuse('checkpoint ls');
  });
  router.delete('/containers/:id/checkpoints/:checkpoint', async (ctx) => {
    deps.containerExists(ctx.params.id!);
    await deps.checkpoints.refuse('checkpoint rm');
  });
}
