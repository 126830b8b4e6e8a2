/**
 * berthd's wiring: opens the state, composes image/, runtime/ and engine/, registers the API
 * routes and listens on the configured sockets. The only place that knows every part.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SpawnRunner } from '../common/command-runner.js';
import { SystemError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { openDatabase, type Db } from '../store/db.js';
import { ContainerTable } from '../store/containers.js';
import { ConmonRuntime } from '../runtime/conmon-runtime.js';
import { ensureCgroupLayout, assertUsableForCrun } from '../runtime/cgroup-setup.js';
import { readLogs, dockerTimestamp } from '../runtime/log-reader.js';
import { ImageService } from '../image/image-service.js';
import { Snapshotter } from '../image/snapshotter.js';
import { ContainerService } from '../engine/container-service.js';
import { EventBus } from '../engine/events.js';
import { createSpecFactory } from '../engine/spec-factory.js';
import { parseSize } from '../engine/container-service.js';
import type { ContainerRecord } from '../engine/types.js';
import { createApiServer, closeApiServer, defaultHeaders } from '../api/server.js';
import { Router } from '../api/router.js';
import { registerContainerRoutes } from '../api/routes/containers.js';
import { registerExecRoutes } from '../api/routes/exec.js';
import { ExecService } from '../engine/exec-service.js';
import { registerBuildRoutes } from '../api/routes/build.js';
import { Builder } from '../build/builder.js';
import { registerImageRoutes } from '../api/routes/images.js';
import { registerSystemRoutes } from '../api/routes/system.js';
import { containerSizes, registerSystemDfRoute } from '../api/routes/system-df.js';
import type { DaemonConfig } from './config.js';
import { listenAll } from './listen.js';
import { VolumeService, type VolumeRecord } from '../volume/volume-service.js';
import { VolumeTable } from '../store/volumes.js';
import { registerVolumeRoutes } from '../api/routes/volumes.js';
import { registerArchiveRoutes } from '../api/routes/archive.js';
import { NetworkService } from '../network/network-service.js';
import { PortPublisher } from '../network/ports/port-publisher.js';
import { portsTableName } from '../network/ports/ruleset.js';
import { NetworkTable } from '../store/networks.js';
import type { NetworkRecord } from '../network/types.js';
import { registerNetworkRoutes } from '../api/routes/networks.js';
import { HostClaims, type HostResource } from './host-claims.js';
import { IdleTrim } from './idle-trim.js';
import { formatCidr, parseCidr } from '../network/ipam.js';

export const BERTH_VERSION = '0.1.0';

export interface Daemon {
  close(): Promise<void>;
}

/** Finds an executable on the usual system paths (runc lives in /usr/sbin on Debian). */
function findBinary(name: string): string | undefined {
  for (const dir of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export async function startDaemon(config: DaemonConfig, log: Logger): Promise<Daemon> {
  if (process.getuid?.() !== 0) throw new SystemError('berthd must run as root (namespaces, mounts and cgroups need it)');
  // What this daemon takes over on the host is claimed first, before anything is created there:
  // a second daemon with the same bridge, table, subnet or roots refuses to start (issue 17).
  const claims = new HostClaims({ pid: process.pid, hosts: config.hosts, dataRoot: config.dataRoot }, { dir: process.env['BERTH_CLAIMS_DIR'] });
  const resources: HostResource[] = [
    { kind: 'data-root', name: config.dataRoot },
    { kind: 'exec-root', name: config.execRoot },
    { kind: 'bridge', name: config.bridge },
    { kind: 'nft-table', name: config.nftTable },
  ];
  if (config.bip) resources.push({ kind: 'subnet', name: formatCidr(parseCidr(config.bip)) });
  claims.claim(resources);
  try {
    return await startClaimed(config, log, claims);
  } catch (err) {
    claims.release();
    throw err;
  }
}

async function startClaimed(config: DaemonConfig, log: Logger, claims: HostClaims): Promise<Daemon> {
  await mkdir(config.dataRoot, { recursive: true, mode: 0o711 });
  await mkdir(config.execRoot, { recursive: true, mode: 0o711 });
  await claimPidfile(config.pidfile);

  const runner = new SpawnRunner();
  const cgroups = await ensureCgroupLayout(runner);
  if (config.runtime === 'crun') assertUsableForCrun(cgroups);
  log.info({ cgroups }, 'cgroup layout');

  const runtimePath = findBinary(config.runtime);
  if (!runtimePath) throw new SystemError(`OCI runtime "${config.runtime}" is not installed (apt-get install ${config.runtime})`);
  if (!findBinary('conmon')) throw new SystemError('conmon is not installed (apt-get install conmon)');

  const db: Db = openDatabase(join(config.dataRoot, 'berth.db'));
  const events = new EventBus();
  const images = new ImageService({ root: join(config.dataRoot, 'image'), db, runner, dockerVersion: BERTH_VERSION, events });
  await images.init();
  const networks = new NetworkService({
    store: new NetworkTable<NetworkRecord>(db),
    runner,
    events,
    log: log.child({ module: 'network' }),
    execRoot: config.execRoot,
    defaultBridge: config.bridge,
    bip: config.bip,
    pools: config.addressPools,
    nftTable: config.nftTable,
    linkAlias: `berth:${config.dataRoot}`,
  });
  await networks.init();
  // Without --bip the default bridge's subnet is picked from the pools at first start: claim it
  // now that it is known (with --bip it was claimed up front).
  const defaultSubnet = networks.get('bridge').ipam.config[0]?.subnet;
  if (!config.bip && defaultSubnet) claims.claim([{ kind: 'subnet', name: defaultSubnet }]);
  // Published ports (issue 6): DNAT in a table of their own, next to the network core's.
  const ports = new PortPublisher({ runner, table: portsTableName(config.nftTable), log: log.child({ module: 'ports' }) });
  const containersRoot = join(config.dataRoot, 'containers');
  const snapshotter = new Snapshotter(containersRoot, runner);
  const runtime = new ConmonRuntime({
    runtime: config.runtime,
    runtimePath,
    runtimeRoot: join(config.execRoot, config.runtime),
    execRoot: config.execRoot,
    runner,
    logger: log.child({ module: 'runtime' }),
  });
  // Volumes (issue 7): the local driver under <data-root>/volumes; "in use" is asked of the engine.
  let containersRef: ContainerService | undefined;
  const volumes = new VolumeService({
    store: new VolumeTable<VolumeRecord>(db),
    root: join(config.dataRoot, 'volumes'),
    runner,
    usedBy: (name) => containersRef?.usesVolume(name) ?? [],
    publish: (action, name, attributes) => events.publish('volume', action, name, attributes),
    isMounted: (path) => snapshotter.isMounted(path),
  });
  await volumes.init();
  const containers = new ContainerService({
    volumes: {
      create: async (req) => {
        const { volume, created } = await volumes.create(req);
        return { name: volume.name, mountpoint: volume.mountpoint, driver: volume.driver, created };
      },
      mount: async (name) => (await volumes.mount(name)).mountpoint,
      isEmpty: (name) => volumes.isEmpty(name),
      remove: (name) => volumes.remove(name),
      release: async (name) => {
        const running = (containersRef?.list() ?? []).some((c) => (c.mounts ?? []).some((m) => m.name === name));
        if (!running) await volumes.unmount(volumes.get(name));
      },
    },
    store: new ContainerTable<ContainerRecord>(db),
    runtime,
    images: {
      resolve: async (ref) => {
        const img = images.resolve(ref);
        return { id: img.id, config: (await images.config(img.id)).config ?? {} };
      },
      lowerDirs: async (id) => images.lowerDirs(id),
      acquire: (id) => images.acquireLayers(id),
      release: (layers) => images.releaseLayers(layers),
    },
    rootfs: {
      prepare: async (id, lower) => {
        await snapshotter.prepare(id, lower);
      },
      mount: (id, lower, target) => snapshotter.mount(id, lower, target),
      unmount: (target) => snapshotter.unmount(target),
      remove: (id) => snapshotter.remove(id),
    },
    makeSpec: createSpecFactory({ initBinary: findBinary('catatonit'), cgroupParent: config.cgroupParent }),
    readLogs: async function* (path, o) {
      const records = readLogs(path, { since: o.since, until: o.until, tail: o.tail, signal: o.signal, follow: o.follow ? { untilExit: o.untilExit } : false });
      // The API shows Docker's RFC 3339 form (UTC, trailing zeros trimmed) for --timestamps.
      for await (const r of records) yield { ...r, timeText: dockerTimestamp(r) };
    },
    events,
    log: log.child({ module: 'engine' }),
    containersRoot,
    network: networks,
    ports,
    defaultLogMaxSize: parseSize(config.logOpts['max-size']),
    defaultLogMaxFile: config.logOpts['max-file'] !== undefined ? Number(config.logOpts['max-file']) : undefined,
  });
  containersRef = containers;
  // Layer reference counts against their holders (a crash between a layer and its holder's record).
  const fixedLayers = await images.reconcileLayers(new ContainerTable<ContainerRecord>(db).list());
  if (fixedLayers.length) log.warn({ layers: fixedLayers }, 'layer reference counts did not match their images and containers: fixed');
  await containers.restore();
  await ports.sync();

  const router = new Router();
  registerNetworkRoutes(router, { networks, containers });
  registerSystemRoutes(router, {
    events,
    info: {
      version: BERTH_VERSION,
      commit: gitCommit(),
      name: `berth-${config.dataRoot}`,
      dataRoot: config.dataRoot,
      runtime: config.runtime,
      cgroupVersion: cgroups.version === 2 ? '2' : '1',
      cgroupDriver: cgroups.driver,
      securityOptions: ['name=seccomp,profile=builtin'],
      counts: async () => {
        const imageCount = (await images.list()).length;
        const all = containers.list({ all: true });
        const running = all.filter((c) => c.state.status === 'running').length;
        const paused = all.filter((c) => c.state.status === 'paused').length;
        return { containers: all.length, running, paused, stopped: all.length - running - paused, images: imageCount };
      },
    },
  });
  registerContainerRoutes(router, { containers, lowerDirs: async (id) => images.lowerDirs(id), sizes: (c) => containerSizes({ images, upperDir: (id) => snapshotter.paths(id).upper }, c) });
  registerVolumeRoutes(router, { volumes });
  registerSystemDfRoute(router, { images, containers, volumes, upperDir: (id) => snapshotter.paths(id).upper });
  registerArchiveRoutes(router, { containers, lowerDirs: async (id) => images.lowerDirs(id), tmp: join(config.dataRoot, 'tmp') });
  registerExecRoutes(router, { containers, execs: new ExecService({ containers, events, log: log.child({ module: 'exec' }) }) });
  const builder = new Builder({ containers, images, runner, root: join(config.dataRoot, 'build'), log: log.child({ module: 'build' }) });
  await builder.init();
  registerBuildRoutes(router, { builder, images, tmp: join(config.dataRoot, 'build', 'contexts') });
  registerImageRoutes(router, {
    images,
    isImageInUse: (id) => {
      const c = containers.usesImage(id);
      return c ? { id: c.id, running: c.state.status === 'running' || c.state.status === 'paused' } : undefined;
    },
    // Registry access (pull/push/login); plain HTTP for daemon.json's insecure-registries.
    registry: {
      metaDir: join(config.dataRoot, 'image', 'distribution'),
      runner,
      insecureRegistries: config.insecureRegistries,
    },
    commitSource: (ref) => {
      const c = containers.get(ref);
      return { id: c.id, imageId: c.imageId, upperDir: join(c.dir, 'upper'), running: c.state.status === 'running', config: c.config };
    },
  });

  // The route table, for the API fuzzer (test/integration/fuzz-api.test.ts) and docs.
  const routesFile = process.env['BERTH_ROUTES_FILE'];
  if (routesFile) await writeFile(routesFile, JSON.stringify(router.routes()) + '\n');
  // Memory back after bursts of work (issue 17): a few full GCs once the API has been idle a while.
  const trim = new IdleTrim();
  const listeners = await listenAll({
    listen: config.listen,
    tls: config.tls,
    group: config.group,
    makeServer: (tls) => {
      const server = createApiServer({ router, log: log.child({ module: 'api' }), headers: defaultHeaders(BERTH_VERSION), tls });
      server.on('request', (_req: unknown, res: NodeJS.EventEmitter) => {
        trim.touch();
        res.once('close', () => trim.touch());
      });
      return server;
    },
    closeServer: closeApiServer,
    log: log.child({ module: 'listen' }),
  });
  log.info({ hosts: config.hosts, dataRoot: config.dataRoot, runtime: config.runtime }, 'berthd is up');

  return {
    async close() {
      trim.close();
      containers.close();
      await listeners.close();
      // Removed containers whose disk and network state is still being reclaimed.
      await containers.drain();
      const anyRunning = containers.list({ all: true }).some((c) => ['running', 'paused', 'restarting'].includes(c.state.status));
      await ports.close().catch((err) => log.warn({ err }, 'ports shutdown failed'));
      await networks.close({ anyRunning }).catch((err) => log.warn({ err }, 'network shutdown failed'));
      db.close();
      await rm(config.pidfile, { force: true });
      claims.release();
      log.info('berthd stopped; containers keep running');
    },
  };
}

/** Writes our PID, refusing to start when another live berthd holds the file. */
async function claimPidfile(path: string): Promise<void> {
  const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
  if (pid && pid !== process.pid && (await isLiveBerthd(pid))) {
    throw new SystemError(`pid file found, ensure berthd is not running or delete ${path} (pid ${pid} is alive)`);
  }
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, `${process.pid}\n`);
}

/** A PID from a stale pid file may be a zombie or reused by another program: check both. */
async function isLiveBerthd(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (!stat) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state === 'Z' || state === 'X') return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes('berthd');
}

function gitCommit(): string {
  return process.env['BERTH_GIT_COMMIT'] ?? '';
}
