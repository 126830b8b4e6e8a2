/**
 * Wires container moves (issue 23) into berthd: the exporter and importer over the engine's,
 * image store's and volume service's public methods, the clean-up of interrupted moves at start
 * (after the containers are restored), and the routes. Kept out of daemon.ts so the wiring of
 * this feature is one call there.
 */
import { join } from 'node:path';
import type { CommandRunner } from '../common/command-runner.js';
import type { Logger } from '../common/logger.js';
import type { ContainerService } from '../engine/container-service.js';
import { CheckpointSupport } from '../engine/move/checkpoint-support.js';
import { MoveExporter } from '../engine/move/move-exporter.js';
import { MoveImporter } from '../engine/move/move-importer.js';
import type { ImageService } from '../image/image-service.js';
import type { VolumeService } from '../volume/volume-service.js';
import type { Router } from '../api/router.js';
import { registerMoveRoutes } from '../api/routes/move.js';

export interface MoveWiring {
  dataRoot: string;
  runner: CommandRunner;
  log: Logger;
  containers: ContainerService;
  images: ImageService;
  volumes: VolumeService;
  upperDir(id: string): string;
}

export async function createMoveServices(router: Router, w: MoveWiring): Promise<void> {
  const { containers, images, volumes } = w;
  const log = w.log.child({ module: 'move' });
  const byName = (name: string) => containers.list({ all: true }).find((c) => c.name === name);
  const exporter = new MoveExporter({
    root: join(w.dataRoot, 'move', 'exports'),
    runner: w.runner,
    container: (ref) => containers.get(ref),
    upperDir: w.upperDir,
    volume: (name) => volumes.get(name),
  });
  const importer = new MoveImporter({
    root: join(w.dataRoot, 'move', 'imports'),
    runner: w.runner,
    log,
    containers: {
      find: byName,
      get: (id) => containers.list({ all: true }).find((c) => c.id === id),
      create: (spec) => containers.create(spec),
      remove: (ref) => containers.remove(ref, { force: true, volumes: true }),
      rename: (ref, name) => containers.rename(ref, name),
    },
    upperDir: w.upperDir,
    imageId: (ref) => {
      try {
        return images.resolve(ref).id;
      } catch {
        return undefined;
      }
    },
    hasImage: (id) => images.get(id) !== undefined,
    volumes: {
      exists: (name) => {
        try {
          volumes.get(name);
          return true;
        } catch {
          return false;
        }
      },
      create: async (req) => {
        const { volume, created } = await volumes.create(req);
        return { mountpoint: volume.mountpoint, created };
      },
      mountpoint: (name) => volumes.get(name).mountpoint,
      remove: (name) => volumes.remove(name, { force: true }),
    },
    unpack: async (tar) => {
      const prepared = await images.layers.prepare(tar);
      return { dir: prepared.dir, abort: () => prepared.abort() };
    },
  });
  await exporter.sweep();
  const swept = await importer.sweep();
  if (swept.length) log.warn({ sessions: swept }, 'removed what interrupted container moves left');
  registerMoveRoutes(router, {
    exporter,
    importer,
    images,
    metaDir: join(w.dataRoot, 'image', 'distribution'),
    runner: w.runner,
    checkpoints: new CheckpointSupport(w.runner),
    containerExists: (ref) => void containers.get(ref),
  });
}
