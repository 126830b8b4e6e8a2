/**
 * berthd's wiring: opens the state, composes image/, runtime/ and engine/, registers the API
 * routes and listens on the configured sockets. The only place that knows every part.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SpawnRunner } from '../common/command-runner.js';
import { InvalidParameterError, SystemError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { openDatabase, type Db } from '../store/db.js';
import { ContainerTable } from '../store/containers.js';
import { ConmonRuntime } from '../runtime/conmon-runtime.js';
import { ensureCgroupLayout, assertUsableForCrun } from '../runtime/cgroup-setup.js';
import { readAppArmorHost, resolveAppArmorProfile } from '../runtime/apparmor.js';
import { readLogs, dockerTimestamp } from '../runtime/log-reader.js';
import { ImageService } from '../image/image-service.js';
import { Snapshotter } from '../image/snapshotter.js';
import { ContainerService } from '../engine/container-service.js';
import { EventBus } from '../engine/events.js';
import { createSpecFactory } from '../engine/spec-factory.js';
import { setUpUserns } from './userns-remap.js';
import { remappedRoot } from '../runtime/userns.js';
import { LogShipper } from '../engine/logging/shipper.js';
import { parseSeccompProfile, type DockerSeccompProfile } from '../runtime/seccomp-profile.js';
import { parseSize } from '../engine/container-service.js';
import type { ContainerRecord } from '../engine/types.js';
import { createApiServer, closeApiServer, defaultHeaders } from '../api/server.js';
import { makeHostCheck } from '../api/request-guards.js';
import { Router } from '../api/router.js';
import { registerContainerRoutes } from '../api/routes/containers.js';
import { registerExecRoutes } from '../api/routes/exec.js';
import { ExecService } from '../engine/exec-service.js';
import { registerBuildRoutes } from '../api/routes/build.js';
import { registerBuildHistoryRoutes } from '../api/routes/build-history.js';
import { BuildHistory } from '../build/build-history.js';
import { Builder } from '../build/builder.js';
import { registerImageRoutes } from '../api/routes/images.js';
import { pullVerifier } from '../image/image-ops.js';
import { registerTrustRoutes } from '../api/routes/trust.js';
import { ImageTrust } from '../trust/index.js';
import { pullImage } from '../image/pull.js';
import { registerSystemRoutes } from '../api/routes/system.js';
import { containerSizes, registerSystemDfRoute } from '../api/routes/system-df.js';
import type { DaemonConfig } from './config.js';
import { listenAll, loadTls } from './listen.js';
import { DATA_ROOT_MODES, tightenDataRoot } from './data-root-modes.js';
import { registerDesktopRoute } from '../ui/desktop-route.js';
import type { UiServer } from '../ui/index.js';
import { VolumeService, type VolumeRecord } from '../volume/volume-service.js';
import { VolumeTable } from '../store/volumes.js';
import { registerVolumeRoutes } from '../api/routes/volumes.js';
import { registerSwarmRoutes } from '../api/routes/swarm.js';
import { registerArchiveRoutes } from '../api/routes/archive.js';
import { NetworkService } from '../network/network-service.js';
import { PortPublisher } from '../network/ports/port-publisher.js';
import { portsTableName } from '../network/ports/ruleset.js';
import { NetworkTable } from '../store/networks.js';
import type { NetworkRecord } from '../network/types.js';
import { registerNetworkRoutes } from '../api/routes/networks.js';
import { HostClaims, type HostResource } from './host-claims.js';
import { IdleTrim } from './idle-trim.js';
import { layerIdsOf } from '../engine/userns-policy.js';
import { collectBlobs } from '../image/prune.js';
import { formatCidr, parseCidr } from '../network/ipam.js';
import type { CriServer } from '../cri/index.js';
import { createMoveServices } from './move-wiring.js';
import { rootlessWiring, type RootlessWiring } from './rootless/rootless-wiring.js';

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
  // A rootless daemon's bridges and tables live in its own network namespace: its claims too.
  const claims = new HostClaims({ pid: process.pid, hosts: config.hosts, dataRoot: config.dataRoot }, { dir: process.env['BERTH_CLAIMS_DIR'] ?? (config.rootless ? join(config.execRoot, 'claims') : undefined) });
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
  // Docker's modes (issue 24 item 3): made so before any part writes below them, and an existing
  // data root from an older berth tightened.
  await mkdir(config.dataRoot, { recursive: true, mode: 0o710 });
  for (const { path, mode } of DATA_ROOT_MODES) if (!path.includes('.')) await mkdir(join(config.dataRoot, path), { recursive: true, mode });
  const tightened = await tightenDataRoot(config.dataRoot);
  if (tightened.length) log.warn({ paths: tightened }, 'tightened permissions of the data root');
  await mkdir(config.execRoot, { recursive: true, mode: 0o711 });
  const seccompProfile = await loadDaemonSeccompProfile(config.seccompProfile);
  await claimPidfile(config.pidfile);

  const runner = new SpawnRunner();
  // Rootless (issue 21): inside rootlesskit's namespaces; no cgroup mounts to make, limits refused
  // without a delegated cgroup v2 subtree, ports exposed through rootlesskit.
  const rootless: RootlessWiring | undefined = config.rootless ? rootlessWiring(process.env, log.child({ module: 'rootless' })) : undefined;
  const cgroups = rootless ? rootless.cgroupInfo() : await ensureCgroupLayout(runner);
  if (config.runtime === 'crun' && !rootless) assertUsableForCrun(cgroups);
  log.info({ cgroups }, 'cgroup layout');

  const runtimePath = findBinary(config.runtime);
  if (!runtimePath) throw new SystemError(`OCI runtime "${config.runtime}" is not installed (apt-get install ${config.runtime})`);
  if (!findBinary('conmon')) throw new SystemError('conmon is not installed (apt-get install conmon)');

  // Issue 21: --userns-remap resolved (and its user made) before anything runs a container.
  const userns = await setUpUserns(config.usernsRemap, { dataRoot: config.dataRoot, runner, log: log.child({ module: 'userns' }) });
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
    defaultBridgeIPv6: config.fixedCidrV6,
  });
  await networks.init();
  // Without --bip the default bridge's subnet is picked from the pools at first start: claim it
  // now that it is known (with --bip it was claimed up front).
  const defaultSubnet = networks.get('bridge').ipam.config[0]?.subnet;
  if (!config.bip && defaultSubnet) claims.claim([{ kind: 'subnet', name: defaultSubnet }]);
  // Published ports (issue 6): DNAT in a table of their own, next to the network core's.
  const ports = new PortPublisher({ runner, table: portsTableName(config.nftTable), log: log.child({ module: 'ports' }), hostPorts: rootless?.hostPorts });
  const containersRoot = join(config.dataRoot, 'containers');
  const appArmor = readAppArmorHost();
  const snapshotter = new Snapshotter(containersRoot, runner, rootless ? { fuseOverlayfs: rootless.fuseOverlayfs(findBinary('fuse-overlayfs')) } : {});
  const runtime = new ConmonRuntime({
    runtime: config.runtime,
    runtimePath,
    runtimeRoot: join(config.execRoot, config.runtime),
    execRoot: config.execRoot,
    runner,
    logger: log.child({ module: 'runtime' }),
    noCgroups: rootless ? !rootless.context.cgroupDelegated : false,
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
    ...(userns.remap ? { rootOwner: remappedRoot(userns.remap) } : {}),
  });
  await volumes.init();
  const baseSpec = createSpecFactory({ initBinary: findBinary('catatonit'), cgroupParent: config.cgroupParent, seccompProfile, noNewPrivileges: config.noNewPrivileges, appArmor, runtime: config.runtime });
  // The CRI (issue 18): pod sandboxes and pod containers get their specs from src/cri. It (and
  // gRPC) is loaded only when asked for: ~10 MB of idle RSS for daemons that do not serve it.
  const criModule = config.cri ? await import('../cri/index.js') : undefined;
  const criHook = criModule?.criSpecHook(baseSpec, {
    cgroupParent: config.cgroupParent,
    restrictOomScoreAdj: config.cri?.restrictOomScoreAdj ?? true,
  });
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
      release: async (layers) => {
        // The last holder of a layer of a removed image: its kept blobs go with it.
        const gone = await images.releaseLayers(layers);
        if (gone.length) await collectBlobs(images, join(config.dataRoot, 'image', 'distribution'), gone).catch((err: unknown) => log.warn({ err }, 'blob collection failed'));
      },
    },
    rootfs: {
      prepare: async (id, lower) => {
        await snapshotter.prepare(id, lower);
      },
      mount: (id, lower, target, u) => snapshotter.mount(id, lower, target, u ? { idmap: userns.layers(u) } : {}),
      unmount: (target) => snapshotter.unmount(target),
      remove: (id) => snapshotter.remove(id),
    },
    makeSpec: rootless ? rootless.wrapSpec(criHook?.makeSpec ?? baseSpec) : criHook?.makeSpec ?? baseSpec,
    ...(userns.remap ? { userns: { uidMappings: userns.remap.uidMappings, gidMappings: userns.remap.gidMappings } } : {}),
    checkHost: rootless?.checkHost,
    // Docker's default: a private cgroup namespace on cgroup v2, the host's on v1 (and hybrid).
    defaultCgroupnsMode: cgroups.version === 2 ? 'private' : 'host',
    checkAppArmor: (profile) => void resolveAppArmorProfile(profile, appArmor),
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
    defaultLogConfig: { type: config.logDriver, config: { ...config.logOpts } },
    shipper: new LogShipper({ readLogs: (path, o) => readLogs(path, { since: o.since, signal: o.signal, follow: o.follow ? { untilExit: o.untilExit } : false }), log: log.child({ module: 'log-shipper' }), journaldSocket: process.env['BERTH_JOURNALD_SOCKET'] || undefined }),
    daemonName: 'berth',
    defaultLogMaxSize: config.logDriver === 'json-file' ? parseSize(config.logOpts['max-size']) : undefined,
    defaultLogMaxFile: config.logDriver === 'json-file' && config.logOpts['max-file'] !== undefined ? Number(config.logOpts['max-file']) : undefined,
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
      securityOptions: [
        ...(appArmor.enabled ? ['name=apparmor'] : []),
        `name=seccomp,profile=${config.seccompProfile ?? 'builtin'}`,
        ...(config.noNewPrivileges ? ['name=no-new-privileges'] : []),
        ...(cgroups.version === 2 ? ['name=cgroupns'] : []),
        ...(userns.remap ? ['name=userns'] : []),
        ...(rootless ? ['name=rootless'] : []),
      ],
      ...(rootless ? rootless.info() : {}),
      loggingDriver: config.logDriver,
      experimental: config.experimental,
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
  registerSwarmRoutes(router);
  registerSystemDfRoute(router, { images, containers, volumes, upperDir: (id) => snapshotter.paths(id).upper, buildCache: () => builder.cacheUsage(), metaDir: join(config.dataRoot, 'image', 'distribution') });
  registerArchiveRoutes(router, { containers, lowerDirs: async (id) => images.lowerDirs(id), tmp: join(config.dataRoot, 'tmp') });
  await createMoveServices(router, { dataRoot: config.dataRoot, runner, log, containers, images, volumes, upperDir: (id) => snapshotter.paths(id).upper });
  registerExecRoutes(router, { containers, execs: new ExecService({ containers, events, log: log.child({ module: 'exec' }) }) });
  const builder = new Builder({
    containers, images, runner, root: join(config.dataRoot, 'build'), log: log.child({ module: 'build' }),
    allowInsecureEntitlement: (config.allowInsecureEntitlements ?? []).includes('security.insecure'),
    // ADD <url> size cap (bytes), default 4 GiB: BERTH_BUILD_ADD_MAX_BYTES lowers it.
    ...(Number(process.env['BERTH_BUILD_ADD_MAX_BYTES']) > 0 ? { fetchMaxBytes: Number(process.env['BERTH_BUILD_ADD_MAX_BYTES']) } : {}),
  });
  await builder.init();
  // The signature policy (#22): checked now, so a broken file stops the daemon, and again for
  // every image that enters the store.
  const trust = new ImageTrust({ policyPath: config.signaturePolicy, registriesD: config.registriesD, revocationsPath: join(config.dataRoot, 'trust', 'revoked.json'), runner });
  const policyState = await trust.check();
  log.info({ policy: config.signaturePolicy, present: policyState.present }, policyState.present ? 'signature policy loaded' : 'no signature policy file: every image is accepted');
  registerTrustRoutes(router, { trust });
  const metaDir = join(config.dataRoot, 'image', 'distribution');
  // The last 100 builds (BERTH_BUILD_HISTORY_LIMIT changes it), for the dashboard (GET /berth/builds).
  const historyLimit = Number(process.env['BERTH_BUILD_HISTORY_LIMIT']);
  const buildHistory = new BuildHistory(join(config.dataRoot, 'build', 'history.json'), {
    ...(Number.isInteger(historyLimit) && historyLimit > 0 ? { limit: historyLimit } : {}),
    onSaveError: (err) => log.warn({ err }, 'saving the build history failed'),
  });
  await buildHistory.load();
  registerBuildHistoryRoutes(router, { history: buildHistory });
  registerBuildRoutes(router, {
    builder,
    history: buildHistory,
    images,
    tmp: join(config.dataRoot, 'build', 'contexts'),
    // `build --pull`: base images through the same registry access as POST /images/create, and the signature policy.
    pull: async (ref, o) => {
      await pullImage(images, ref, { metaDir, insecureRegistries: config.insecureRegistries, ...(rootless?.dial ? { dial: rootless.dial } : {}), verify: pullVerifier(trust, o.requireSignature), ...(o.auth ? { auth: o.auth } : {}), signal: o.signal });
    },
  });
  registerImageRoutes(router, {
    images,
    isImageInUse: (id) => {
      const c = containers.usesImage(id);
      return c ? { id: c.id, running: c.state.status === 'running' || c.state.status === 'paused' } : undefined;
    },
    // Registry access (pull/push/login); plain HTTP for daemon.json's insecure-registries.
    registry: {
      metaDir,
      runner,
      insecureRegistries: config.insecureRegistries,
      mirrors: config.registryMirrors,
      ...(rootless?.dial ? { dial: rootless.dial } : {}),
    },
    trust,
    commitSource: (ref) => {
      const c = containers.get(ref);
      const layerIds = layerIdsOf(c.userns);
      return { id: c.id, imageId: c.imageId, upperDir: join(c.dir, 'upper'), running: c.state.status === 'running', config: c.config, ...(layerIds ? { layerIds } : {}) };
    },
  });

  let ui: UiServer | undefined;
  registerDesktopRoute(router, { url: () => ui?.url });
  if (config.ui) {
    // The dashboard (issue 19) reaches the engine through the daemon's own socket, as any client;
    // it is up before the API answers, so `berth desktop` never finds it missing.
    const unix = config.listen.find((a) => a.kind === 'unix');
    if (!unix) throw new SystemError('--ui needs a unix:// host to reach the Engine API through');
    // Loaded only when the dashboard is on (its WebSocket server and static files).
    const { startUiServer, loadOrCreateToken } = await import('../ui/index.js');
    ui = await startUiServer({
      address: config.ui,
      token: await loadOrCreateToken(config.dataRoot),
      apiSocket: unix.path,
      tls: config.tls?.verify ? await loadTls(config.tls) : undefined,
      log: log.child({ module: 'ui' }),
    });
  }

  // The route table, for the API fuzzer (test/integration/fuzz-api.test.ts) and docs.
  const routesFile = process.env['BERTH_ROUTES_FILE'];
  if (routesFile) await writeFile(routesFile, JSON.stringify(router.routes()) + '\n');
  // Memory back after bursts of work (issue 17): a few full GCs once the API has been idle a while.
  // And the store's WAL back to zero bytes (a busy database just answers that it could not).
  const trim = new IdleTrim({ onIdle: () => db.pragma('wal_checkpoint(TRUNCATE)') });
  const listeners = await listenAll({
    listen: config.listen,
    tls: config.tls,
    group: config.group,
    makeServer: (tls, tcp) => {
      const server = createApiServer({ router, log: log.child({ module: 'api' }), headers: defaultHeaders(BERTH_VERSION, config.experimental), tls, checkHost: tcp ? makeHostCheck(tcp.allowedHosts) : undefined });
      server.on('request', (_req: unknown, res: NodeJS.EventEmitter) => {
        trim.touch();
        res.once('close', () => trim.touch());
      });
      return server;
    },
    allowedHosts: config.apiAllowedHosts,
    closeServer: closeApiServer,
    log: log.child({ module: 'listen' }),
  }).catch(async (err: unknown) => {
    await ui?.close().catch(() => undefined);
    throw err;
  });
  let cri: CriServer | undefined;
  if (config.cri && criModule && criHook) {
    try {
      cri = await criModule.startCri(config.cri, {
        containers,
        images,
        runner,
        log: log.child({ module: 'cri' }),
        dataRoot: config.dataRoot,
        execRoot: config.execRoot,
        version: BERTH_VERSION,
        hook: criHook,
        pull: async (ref, auth) => {
          await pullImage(images, ref, {
            metaDir: join(config.dataRoot, 'image', 'distribution'),
            insecureRegistries: config.insecureRegistries,
            mirrors: config.registryMirrors,
            ...(auth ? { auth } : {}),
          });
        },
      });
    } catch (err) {
      await listeners.close();
      throw err;
    }
  }
  log.info({ hosts: config.hosts, dataRoot: config.dataRoot, runtime: config.runtime, cri: config.cri?.socket }, 'berthd is up');

  return {
    async close() {
      // Rootless: the namespaces end with this daemon's rootlesskit, so its containers cannot
      // outlive it as a rootful daemon's do (Docker's rootless mode has no live-restore either).
      if (rootless) await rootless.stopContainers(containers);
      trim.close();
      containers.close();
      await ui?.close();
      await cri?.close();
      await listeners.close();
      // Removed containers whose disk and network state is still being reclaimed.
      await containers.drain();
      const anyRunning = containers.list({ all: true }).some((c) => ['running', 'paused', 'restarting'].includes(c.state.status));
      await ports.close().catch((err) => log.warn({ err }, 'ports shutdown failed'));
      await networks.close({ anyRunning }).catch((err) => log.warn({ err }, 'network shutdown failed'));
      db.close();
      userns.close();
      await rm(config.pidfile, { force: true });
      claims.release();
      log.info(rootless ? 'berthd stopped' : 'berthd stopped; containers keep running');
    },
  };
}

/** Writes our PID, refusing to start when another live berthd holds the file. */
/** daemon.json `seccomp-profile`: read and validated once at start, so a bad file stops berthd with a clear error. */
async function loadDaemonSeccompProfile(setting: string | undefined): Promise<DockerSeccompProfile | 'unconfined' | undefined> {
  if (setting === undefined) return undefined;
  if (setting === 'unconfined') return 'unconfined';
  let text: string;
  try {
    text = await readFile(setting, 'utf8');
  } catch (err) {
    throw new InvalidParameterError(`opening seccomp profile (${setting}) failed: ${(err as Error).message}`);
  }
  try {
    return parseSeccompProfile(text);
  } catch (err) {
    throw new InvalidParameterError(`seccomp-profile ${setting}: ${(err as Error).message}`);
  }
}

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
