/**
 * berth as a Kubernetes node runtime (issue 18): the CRI v1 server beside the Docker API, over
 * the same engine and image store. berthd wires it with `startCri` when `--cri` (or daemon.json
 * `"cri"`) is given; the spec factory hook (`criSpecHook`) must be installed when the engine is
 * made, since pod containers are started by the engine.
 */
import type { SpecContext } from '../engine/collaborators.js';
import { join } from 'node:path';
import type { CommandRunner } from '../common/command-runner.js';
import type { Logger } from '../common/logger.js';
import type { ContainerService } from '../engine/container-service.js';
import type { ContainerRecord } from '../engine/types.js';
import type { ImageService } from '../image/image-service.js';
import type { OciSpec } from '../runtime/spec.js';
import { CniNetwork } from './cni.js';
import { createCriSpecFactory } from './cri-spec.js';
import { serveCri } from './grpc.js';
import { imageHandlers, type ImageHandlerDeps } from './image-handlers.js';
import { CriRuntime } from './runtime-handlers.js';
import { StreamingServer } from './streaming-server.js';

export interface CriOptions {
  socket: string;
  sandboxImage: string;
  cniConfDir: string;
  cniBinDirs: string[];
  streamAddress: string;
  streamPort: number;
  restrictOomScoreAdj: boolean;
}

/** The engine's spec factory with CRI records handled; `bind` connects it to the running CRI. */
export function criSpecHook(base: (rec: ContainerRecord, context?: SpecContext) => Promise<OciSpec>, options: { cgroupParent: string; restrictOomScoreAdj: boolean }): {
  makeSpec: (rec: ContainerRecord, context?: SpecContext) => Promise<OciSpec>;
  bind(runtime: CriRuntime, containers: ContainerService): void;
} {
  let runtime: CriRuntime | undefined;
  let containers: ContainerService | undefined;
  const makeSpec = createCriSpecFactory(
    {
      cgroupParent: options.cgroupParent,
      restrictOomScoreAdj: options.restrictOomScoreAdj,
      pod: (id) => {
        if (!runtime) throw new Error('the CRI is not running');
        return runtime.namespaces(id);
      },
      pidOf: (id) => containers?.get(id).state.pid ?? 0,
    },
    base,
  );
  return {
    makeSpec,
    bind(r, c) {
      runtime = r;
      containers = c;
    },
  };
}

export interface CriDeps {
  containers: ContainerService;
  images: ImageService;
  runner: CommandRunner;
  log: Logger;
  dataRoot: string;
  execRoot: string;
  version: string;
  pull: ImageHandlerDeps['pull'];
  hook: ReturnType<typeof criSpecHook>;
}

export interface CriServer {
  close(): Promise<void>;
}

export async function startCri(options: CriOptions, d: CriDeps): Promise<CriServer> {
  const log = d.log;
  const streaming = new StreamingServer({ containers: d.containers, log: log.child({ part: 'streaming' }) });
  await streaming.listen(options.streamAddress, options.streamPort);
  const cni = new CniNetwork({ confDir: options.cniConfDir, binDirs: options.cniBinDirs, runner: d.runner });
  const runtime = new CriRuntime({
    containers: d.containers,
    cni,
    runner: d.runner,
    log,
    root: join(d.dataRoot, 'cri'),
    execRoot: join(d.execRoot, 'cri'),
    sandboxImage: options.sandboxImage,
    version: d.version,
    ensureImage: async (ref) => {
      try {
        d.images.resolve(ref);
      } catch {
        await d.pull(ref);
      }
    },
    imageIdOf: (ref) => d.images.resolve(ref).id,
    streaming,
  });
  d.hook.bind(runtime, d.containers);
  await runtime.restore();
  const server = await serveCri(
    options.socket,
    {
      runtime: runtime.handlers(),
      image: imageHandlers({
        images: d.images,
        pull: d.pull,
        isInUse: (id) => !!d.containers.usesImage(id),
        imageRoot: join(d.dataRoot, 'image'),
      }),
    },
    log,
  );
  log.info({ socket: options.socket, streaming: streaming.address() }, 'CRI server is up');
  return {
    async close() {
      await server.close();
      await streaming.close();
    },
  };
}
