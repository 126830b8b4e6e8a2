/**
 * The container state machine: create → start → (exit) → start again | remove, with stop,
 * kill, restart, pause, wait, attach and the engine half of exec. It owns the container
 * records and is their only writer; operations on one container are serialised by one lock.
 *
 * Over 800 lines on purpose (issue 20): what is left here are the transitions, which share the
 * per-container lock, the in-memory records, their watchers and exit listeners; splitting them
 * further would hand that private state around. Everything that does not need it lives beside
 * this file: container-spec.ts (validation, image-config merge, env), container-filters.ts
 * (ps filters), container-peers.ts (links, container: modes), restart-policy.ts (policies and
 * back-off), monitor-watch.ts (dead conmons), exec-process.ts and health.ts (exec process,
 * probes), logging/container-logging.ts (log rotation policy, remote drivers),
 * network/etc-files.ts (hosts, resolv.conf); stats come from the runtime.
 */
import { mkdir, readlink, rm, writeFile, readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '../common/logger.js';
import {
  ConflictError, ContainerNotRunningError, ContainerRunningError, InvalidParameterError,
  NameConflictError, NoSuchContainerError, NotModifiedError, RuntimeError, AmbiguousReferenceError,
  isNotFound,
} from '../common/errors.js';
import { labelsMatch } from '../common/labels.js';
import { parseUntil } from '../common/until-filter.js';
import { generateId, generateName, shortId, VALID_NAME } from '../common/ids.js';
import type { ContainerRuntime, ExitInfo, LogRecord, StatsSample } from '../runtime/runtime.js';
import type { ContainerTable } from '../store/containers.js';
import type { EventBus } from './events.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { EngineImages, EngineNetwork, EnginePorts, EngineRootfs, EngineVolumes, LogReadOptions, LogReader, SpecContext, SpecFactory } from './collaborators.js';
import { resolveMounts, prepareMounts, anonymousVolumes, filesystemView, type ContainerView } from './mounts.js';
import type { ContainerRecord, ContainerSpec, ContainerStatus, HostSpec } from './types.js';
import { filterContainers, type ListOptions } from './container-filters.js';
import { networkPeer, specContext, validatePeers, withLinkHosts } from './container-peers.js';
import { containerPids, type CgroupStats } from '../runtime/cgroup-stats.js';
export type { CgroupStats };
import { signalNumber } from '../common/signals.js';
import { LogRotator, readRotatedLogs } from './log-rotation.js';
import { HealthMonitor, collectProbe, type ProbeResult } from './health.js';
import { execProcessSpec, type ExecProcessRequest } from './exec-process.js';
export type { ExecProcessRequest } from './exec-process.js';
import type { ExecHandle, StdioConnection } from '../runtime/stdio.js';
import type { OciSpec } from '../runtime/oci-spec.js';
import { assertReadable, mergeLogConfig } from './logging/drivers.js';
import { containerLogPolicy, openContainerLogSink } from './logging/container-logging.js';
import type { LogShipper } from './logging/shipper.js';
import type { LogSink } from './logging/sink.js';
import { faultPoint } from '../common/fault-point.js';
import { opendirForRemappedRoot, usernsFor, type UsernsMappings } from './userns-policy.js';
import { renderHostNetworkHosts, renderHosts, renderResolvConf } from '../network/etc-files.js';
import { RestartScheduler, shouldRestart } from './restart-policy.js';
import { MonitorWatch } from './monitor-watch.js';
import { checkVolumeDriver, newContainerRecord, ociResources, validateHost, ZERO_TIME } from './container-spec.js';
export { DEFAULT_SHM_SIZE, mergeEnv, ociResources, parseSize } from './container-spec.js';

export interface ContainerServiceOptions {
  store: ContainerTable<ContainerRecord>;
  runtime: ContainerRuntime;
  images: EngineImages;
  rootfs: EngineRootfs;
  makeSpec: SpecFactory;
  readLogs: LogReader;
  events: EventBus;
  log: Logger;
  /** `<data-root>/containers`. */
  containersRoot: string;
  /** Default log rotation when the container asks for none (bytes, files). */
  defaultLogMaxSize?: number;
  defaultLogMaxFile?: number;
  /** Networking (bridge, netns, addresses); absent in unit tests: containers keep crun's own netns. */
  network?: EngineNetwork;
  /** Published ports (`-p`, `-P`); absent in unit tests. */
  ports?: EnginePorts;
  /** Volumes (named, anonymous); without it, containers may not ask for volumes. */
  volumes?: EngineVolumes;
  /** daemon.json `log-driver`/`log-opts`: merged into each container's LogConfig at create (default json-file). */
  defaultLogConfig?: { type: string; config: Record<string, string> };
  /** Forwards output to remote log drivers (syslog, journald, fluentd); without it those drivers fail to start. */
  shipper?: LogShipper;
  /** The daemon's name for log tags ({{.DaemonName}}). */
  daemonName?: string;
  /** The cgroup namespace of a container that asks for none: Docker's rule, private on cgroup v2, host on v1. */
  defaultCgroupnsMode?: 'host' | 'private';
  /** Refuses `--security-opt apparmor=…` values the host cannot apply (runtime/apparmor.ts). */
  checkAppArmor?: (profile: string) => void;
  /** `--userns-remap` (issue 21): the mappings of containers that do not ask for `--userns=host`. */
  userns?: UsernsMappings;
  /** Refuses host settings this daemon cannot apply, at create and update (rootless: limits without cgroups, issue 21). */
  checkHost?: (host: HostSpec) => void;
}

export { DEFAULT_LOG_MAX_FILE, DEFAULT_LOG_MAX_SIZE } from './logging/container-logging.js';

export interface WaitResult {
  exitCode: number;
  error?: string;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export type { ListOptions } from './container-filters.js';

/** See attachOutput: how recent a start of a running container is to be followed from its beginning. */
const ATTACH_RECENT_START_MS = 10_000;

/**
 * The container state machine: create → start → (exit) → start again | remove. It owns the
 * container records and is the only writer of their state. Operations on one container are
 * serialised; exits reported by the runtime are applied under the same lock.
 */
export class ContainerService {
  readonly #o: ContainerServiceOptions;
  readonly #lock = new KeyedMutex();
  readonly #records = new Map<string, ContainerRecord>();
  /** Names of containers being created, held from the name check until the record is saved. */
  readonly #claimedNames = new Map<string, string>();
  /** Listeners woken on every state change of a container (wait, stop, attach). */
  readonly #watchers = new Map<string, Set<() => void>>();
  /** Removed containers whose disk and kernel state is still being reclaimed (see #reclaim). */
  readonly #reclaims = new Map<string, Promise<void>>();
  /** Exited `--rm` containers whose exit clean-up was left to their removal. */
  readonly #exitUncleaned = new Set<string>();
  /** Tombstones found at start-up ('removing' in the store): reclaimed by restore(). */
  readonly #tombstones: ContainerRecord[] = [];
  /** Ends running containers whose monitor (conmon) died (monitor-watch.ts). */
  readonly #monitors: MonitorWatch;
  /** Exit observers that run before the (locked) exit handling, for operations holding the lock. */
  readonly #exitListeners = new Map<string, Set<(exit: ExitInfo) => void>>();
  #stopWatching?: () => void;
  readonly #rotator: LogRotator;
  readonly #health: HealthMonitor;
  /** Pending restarts by restart policy (status 'restarting'), cancelled by stop/kill/rm. */
  readonly #restarts = new RestartScheduler((id) => this.#restartNow(id));

  constructor(options: ContainerServiceOptions) {
    this.#o = options;
    this.#rotator = new LogRotator({ log: options.log });
    this.#monitors = new MonitorWatch({
      runtime: options.runtime,
      log: options.log,
      records: () => this.#records.values(),
      ended: (id, exitCode) => this.#onExit(id, { exitCode, finishedAt: new Date(), oomKilled: false }, { known: true }),
    });
    this.#health = new HealthMonitor({
      probe: (id, argv, timeoutMs) => this.#probe(id, argv, timeoutMs),
      update: (id, state, changed) => {
        const rec = this.#records.get(id);
        if (!rec || (rec.state.status !== 'running' && rec.state.status !== 'paused')) return;
        rec.state.health = state;
        this.#save(rec);
        if (changed) this.#event(rec, `health_status: ${state.status}`);
      },
    });
    for (const r of options.store.list()) {
      if (r.state.status === 'removing') this.#tombstones.push(r);
      else this.#records.set(r.id, r);
    }
  }

  /**
   * Brings state in line with reality after a (re)start of the daemon: containers that exited
   * while berthd was down get their exit recorded; running ones are watched again.
   */
  async restore(): Promise<void> {
    // Directories of containers that never got their store row (a daemon killed mid-create).
    const known = new Set([...this.#records.keys(), ...this.#tombstones.map((r) => r.id)]);
    for (const name of await readdir(this.#o.containersRoot).catch(() => [] as string[])) {
      if (!/^[a-f0-9]{64}$/.test(name) || known.has(name)) continue;
      await this.#o.rootfs.remove(name).catch((err) => this.#o.log.warn({ err, container: name }, 'removing a half-created container failed'));
    }
    for (const rec of this.#tombstones.splice(0)) this.#reclaim(rec, { runtime: 'force' });
    await this.#restoreRuns();
    // A build's RUN container whose build died with the daemon.
    for (const rec of [...this.#records.values()]) {
      if (rec.buildStep) await this.remove(rec.id, { force: true }).catch((err) => this.#o.log.warn({ err, container: rec.id }, 'removing a build step container failed'));
    }
    // A `--rm` container whose exit was recorded but whose removal the daemon did not live to do.
    for (const rec of [...this.#records.values()]) {
      if (!rec.host.autoRemove || rec.state.status !== 'exited') continue;
      this.#exitUncleaned.add(rec.id);
      await this.remove(rec.id, { force: true }).catch((err) => this.#o.log.warn({ err, container: rec.id }, 'auto-remove failed'));
    }
    // Docker's policies at daemon start: `always` containers come back even if they were
    // stopped by hand, `unless-stopped` ones unless they were; pending restarts resume.
    for (const rec of [...this.#records.values()]) {
      const p = rec.host.restartPolicy?.name;
      if (rec.state.status === 'restarting') this.#scheduleRestart(rec, 0);
      else if (rec.state.status === 'exited' && (p === 'always' || (p === 'unless-stopped' && !rec.manuallyStopped))) {
        rec.manuallyStopped = false;
        this.#scheduleRestart(rec, 0);
      }
    }
  }

  async #restoreRuns(): Promise<void> {
    this.#stopWatching = this.#o.runtime.watchExits((id, exit) => {
      for (const fn of [...(this.#exitListeners.get(id) ?? [])]) fn(exit);
      void this.#onExit(id, exit).catch((err) => this.#o.log.error({ err, container: id }, 'handling exit failed'));
    });
    for (const rec of [...this.#records.values()]) {
      if (rec.state.status !== 'running' && rec.state.status !== 'paused') continue;
      const exit = await this.#o.runtime.readExit(rec.id);
      if (exit) {
        await this.#onExit(rec.id, exit);
        continue;
      }
      const st = await this.#o.runtime.state(rec.id);
      if (st.status === 'running' || st.status === 'paused') {
        rec.state.status = st.status;
        await this.#o.network?.restore(rec);
        await this.#o.ports?.restore(rec).catch((err) => this.#o.log.warn({ err, container: rec.id }, 'restoring published ports failed'));
        this.#save(rec);
      const policy = this.#logPolicy(rec);
        this.#rotator.watch(rec.id, rec.logPath, policy);
        // Remote log drivers resume with what is written from now on (see logging/shipper.ts).
        const sink = await this.#openLogSink(rec).catch((err) => {
          this.#o.log.warn({ err, container: rec.id }, 'log driver: reconnecting after restart failed');
          return undefined;
        });
        if (sink) this.#o.shipper!.run(rec.id, sink, rec.logPath, new Date(), this.#untilNotRunning(rec.id));
      } else {
        await this.#onExit(rec.id, { exitCode: 255, finishedAt: new Date(), oomKilled: false }, { known: true });
      }
    }
    this.#monitors.enable();
  }

  close(): void {
    this.#monitors.close();
    this.#health.close();
    this.#restarts.close();
    this.#stopWatching?.();
    this.#rotator.close();
    this.#o.shipper?.close();
  }

  #logPolicy(rec: ContainerRecord): { maxSize: number; maxFile: number } {
    return containerLogPolicy(rec, { maxSize: this.#o.defaultLogMaxSize, maxFile: this.#o.defaultLogMaxFile });
  }

  #openLogSink(rec: ContainerRecord): Promise<LogSink | undefined> {
    return openContainerLogSink(this.#o.shipper, rec, this.#o.daemonName ?? 'berth');
  }

  // ---- lookup ----

  /** Finds a container by full ID, name (with or without `/`), or unique ID prefix. */
  get(ref: string): ContainerRecord {
    const byId = this.#records.get(ref);
    if (byId) return byId;
    const name = ref.startsWith('/') ? ref.slice(1) : ref;
    for (const r of this.#records.values()) if (r.name === name) return r;
    if (/^[0-9a-f]+$/.test(ref) && ref.length > 0) {
      const matches = [...this.#records.values()].filter((r) => r.id.startsWith(ref));
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1) throw new AmbiguousReferenceError(`multiple IDs found with provided prefix: ${ref}`);
    }
    throw new NoSuchContainerError(ref);
  }

  list(options: ListOptions = {}): ContainerRecord[] {
    return filterContainers([...this.#records.values()], options, (ref) => this.get(ref));
  }

  /** Whether any container (in any state) uses this image ID. */
  usesImage(imageId: string): ContainerRecord | undefined {
    for (const r of this.#records.values()) if (r.imageId === imageId) return r;
    return undefined;
  }

  // ---- create ----

  async create(spec: ContainerSpec): Promise<{ id: string; warnings: string[] }> {
    // The ID is made first, as Docker reserves a name for an ID: a racing create names it.
    const id = generateId();
    const name = this.#claimName(spec, id);
    try {
      return await this.#create(spec, name, id);
    } finally {
      this.#claimedNames.delete(name);
    }
  }

  /**
   * Checks the name and holds it, synchronously, until the record is saved: creates of one name
   * that overlap (the image lookup awaits) must give one 201 and 409s, not a store constraint
   * error (issue 17: 20 at once gave one 201 and nineteen 500s).
   */
  #claimName(spec: ContainerSpec, id: string): string {
    let name = spec.name;
    const taken = (n: string) => this.#claimedNames.has(n) || [...this.#records.values()].some((r) => r.name === n);
    if (name !== undefined && name !== '') {
      if (!VALID_NAME.test(name)) {
        throw new InvalidParameterError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      }
      name = name.replace(/^\//, '');
      for (const r of this.#records.values()) if (r.name === name) throw new NameConflictError(name, r.id);
      const holder = this.#claimedNames.get(name);
      if (holder) throw new NameConflictError(name, holder);
    } else {
      name = generateName(taken);
    }
    this.#claimedNames.set(name, id);
    return name;
  }

  async #create(spec: ContainerSpec, name: string, id: string): Promise<{ id: string; warnings: string[] }> {
    spec = { ...spec, host: { ...spec.host, logConfig: mergeLogConfig(spec.host.logConfig, this.#o.defaultLogConfig ?? { type: 'json-file', config: {} }) } };
    validateHost(spec);
    this.#o.checkHost?.(spec.host);
    validatePeers(spec, (ref) => this.get(ref));
    const userns = usernsFor(spec.host, this.#o.userns, { exempt: !!spec.buildStep || !!spec.cri });
    for (const opt of spec.host.securityOpt ?? []) {
      const m = /^apparmor[=:](.*)$/.exec(opt);
      if (m) this.#o.checkAppArmor?.(m[1]!);
    }
    const image = await this.#o.images.resolve(spec.image);
    checkVolumeDriver(spec, image.config);
    const dir = join(this.#o.containersRoot, id);
    const rec = newContainerRecord(spec, image, { id, name, dir, defaultCgroupnsMode: this.#o.defaultCgroupnsMode });
    if (userns) rec.userns = userns;
    this.#o.network?.prepare(rec, spec.networks);
    // Not recursive (containersRoot exists): a recursive mkdir reports a full disk as ENOENT.
    await mkdir(this.#o.containersRoot, { recursive: true });
    await mkdir(dir, { mode: 0o710 });
    rec.layers = this.#o.images.acquire(image.id);
    try {
      await opendirForRemappedRoot(rec);
      rec.mounts = await resolveMounts(rec, spec, { volumes: this.#o.volumes, container: (ref) => this.get(ref) });
      await this.#o.rootfs.prepare(id, await this.#o.images.lowerDirs(image.id));
      await writeContainerFiles(rec, this.#o.network?.hostGateway?.());
      if (spec.logPath) await mkdir(dirname(spec.logPath), { recursive: true });
      await writeFile(rec.logPath, '', { flag: 'a' });
      faultPoint('container-created');
    } catch (e) {
      for (const name of anonymousVolumes(rec)) await this.#o.volumes?.remove(name).catch(() => {});
      await this.#o.rootfs.remove(id).catch(() => {});
      await rm(dir, { recursive: true, force: true });
      await this.#o.images.release(rec.layers);
      throw e;
    }
    this.#save(rec);
    this.#event(rec, 'create');
    return { id, warnings: [] };
  }

  // ---- start ----

  start(ref: string): Promise<void> {
    const id = this.get(ref).id;
    faultPoint('container-start');
    return this.#lock.run(id, () => this.#start(id));
  }

  async #start(id: string): Promise<void> {
    const rec = this.#must(id);
    if (rec.state.status === 'running' || rec.state.status === 'restarting') throw new NotModifiedError('container already started');
    if (rec.state.status === 'paused') throw new ConflictError('cannot start a paused container, try unpause instead');
    if (rec.state.status === 'removing' || rec.state.status === 'dead') throw new ConflictError(`container is marked for removal and cannot be started`);
    const lower = await this.#o.images.lowerDirs(rec.imageId);
    // The network's host side (bridge attachment, port rules) goes on while the runtime creates
    // the container; it is awaited before the runtime starts it, and always before any clean-up.
    let network: Promise<void> = Promise.resolve();
    let sink: LogSink | undefined;
    const shipSince = new Date();
    try {
      // A remote log driver's connection comes first: an unreachable server fails the start (as Docker's).
      sink = await this.#openLogSink(rec);
      // A previous run whose exit was not fully handled (a daemon crash mid-exit) may have
      // left runtime state behind; a clean exit leaves monitorPid at 0.
      if (rec.state.monitorPid) await this.#o.runtime.delete(id, { force: true }).catch(() => {});
      // The root filesystem and the network namespace do not depend on each other: both are
      // made at once (each is a process spawn and kernel work). Both settle before anything
      // else, so a failure of one never races the clean-up of the other below.
      const net = this.#o.network;
      let sandboxReady = (): void => {};
      const sandbox = new Promise<void>((resolve) => (sandboxReady = resolve));
      if (net) {
        network = (async () => {
          await net.setUp(withLinkHosts(rec, (ref) => this.get(ref)), networkPeer(rec, (ref) => this.get(ref)), sandboxReady);
          net.announce(rec, 'connect');
          await this.#o.ports?.publish(rec);
        })();
      }
      const ready = await Promise.allSettled([this.#o.rootfs.mount(id, lower, rec.rootfs, rec.userns), Promise.race([sandbox, network])]);
      for (const r of ready) if (r.status === 'rejected') throw r.reason;
      // Volume mounts, copy-up of image content into new volumes, targets resolved in the rootfs.
      if (await prepareMounts(rec, { volumes: this.#o.volumes })) this.#save(rec);
      for (const m of rec.mounts ?? []) if (m.name) this.#o.events.publish('volume', 'mount', m.name, { container: id, destination: m.destination, driver: m.driver ?? 'local', propagation: m.propagation, 'read/write': String(m.rw) });
      const spec = await this.#o.makeSpec(rec, specContext(rec, (ref) => this.get(ref)));
      // Regenerated at every start, so no fsync: a torn file after a crash is simply rewritten.
      // The spec holds the environment (passwords passed with -e): root only, as Docker's config.v2.json.
      await writeFile(join(rec.dir, 'config.json'), JSON.stringify(spec), { mode: 0o600 });
      const policy = this.#logPolicy(rec);
      const [made, networked] = await Promise.allSettled([
        this.#o.runtime.create({
          id,
          bundleDir: rec.dir,
          logPath: rec.logPath,
          logMaxSize: policy.maxSize,
          terminal: rec.config.tty ?? false,
          stdin: rec.config.openStdin ?? false,
          stdinOnce: rec.config.stdinOnce ?? false,
        }),
        network,
      ]);
      if (made.status === 'rejected') throw made.reason;
      if (networked.status === 'rejected') throw networked.reason;
      const created = made.value;
      rec.state = {
        ...rec.state,
        status: 'running',
        pid: created.pid,
        monitorPid: created.monitorPid,
        exitCode: 0,
        error: '',
        oomKilled: false,
        startedAt: new Date().toISOString(),
        finishedAt: ZERO_TIME,
      };
      rec.manuallyStopped = false;
      this.#save(rec);
      this.#monitors.kick();
      this.#rotator.watch(id, rec.logPath, policy);
      if (sink) this.#o.shipper!.run(id, sink, rec.logPath, shipSince, this.#untilNotRunning(id));
      await this.#runStartHooks(id, rec.dir);
      await this.#o.runtime.start(id);
      await untilExecuted(rec.state.pid);
    } catch (err) {
      if (sink) await this.#o.shipper!.stop(id);
      await sink?.close().catch(() => {});
      await network.catch(() => {});
      await this.#rotator.unwatch(id);
      const message = (err as Error).message;
      const code = startFailureExitCode(message);
      await this.#o.runtime.delete(id, { force: true }).catch(() => {});
      await this.#o.rootfs.unmount(rec.rootfs).catch(() => {});
      await this.#o.ports?.unpublish(rec).catch((e) => this.#o.log.warn({ err: e, container: id }, 'unpublishing ports failed'));
      await this.#o.network?.tearDown(rec).catch((e) => this.#o.log.warn({ err: e, container: id }, 'network tear-down failed'));
      rec.state = { ...rec.state, status: rec.state.startedAt === ZERO_TIME || rec.state.status === 'created' ? 'created' : 'exited', pid: 0, monitorPid: 0, exitCode: code, error: message };
      if (rec.state.status === 'running') rec.state.status = 'exited';
      this.#save(rec);
      this.#event(rec, 'die', { exitCode: String(code) });
      // As dockerd: a container that was to remove itself does so when it cannot start.
      if (rec.host.autoRemove) setImmediate(() => void this.remove(id, { force: true }).catch(() => {}));
      if (code === 126 || code === 127) throw new InvalidParameterError(message, { cause: err });
      throw err;
    }
    const health = this.#health.start(id, rec.config.healthcheck, Date.parse(rec.state.startedAt));
    if (health || rec.state.health) {
      rec.state.health = health;
      this.#save(rec);
    }
    this.#event(rec, 'start');
  }

  // ---- exit handling ----

  async #onExit(id: string, exit: ExitInfo, options: { known?: boolean } = {}): Promise<void> {
    await this.#lock.run(id, async () => {
      const rec = this.#records.get(id);
      if (!rec) return;
      if (rec.state.status !== 'running' && rec.state.status !== 'paused' && rec.state.status !== 'restarting') return;
      // The report may be stale: the exit it describes may already have been applied by a
      // stop/restart holding the lock, and a new run begun since. The exit file is the truth,
      // unless the monitor died without writing one (`known`: the caller established the exit).
      const current = options.known ? ((await this.#o.runtime.readExit(id)) ?? exit) : await this.#o.runtime.readExit(id);
      if (!current) return;
      exit = current;
      rec.state = {
        ...rec.state,
        status: 'exited',
        pid: 0,
        monitorPid: 0,
        exitCode: exit.exitCode,
        oomKilled: exit.oomKilled,
        finishedAt: exit.finishedAt.toISOString(),
      };
      this.#save(rec);
      await this.#cleanupAfterExit(rec);
      if (exit.oomKilled) this.#event(rec, 'oom');
      this.#event(rec, 'die', { exitCode: String(exit.exitCode) });
    });
    const rec = this.#records.get(id);
    if (rec?.host.autoRemove && rec.state.status === 'exited') {
      await this.remove(id, { force: true }).catch((err) => {
        if (!isNotFound(err)) this.#o.log.warn({ err, container: id }, 'auto-remove failed');
      });
    } else if (rec && rec.state.status === 'exited' && shouldRestart(rec)) {
      this.#scheduleRestart(rec);
    }
  }

  /** Puts the container into `restarting` and schedules its start by policy (restart-policy.ts). */
  #scheduleRestart(rec: ContainerRecord, delayOverride?: number): void {
    rec.state.status = 'restarting';
    this.#save(rec);
    this.#restarts.schedule(rec, delayOverride);
  }

  /** A policy restart is due: starts the container again, or schedules the next try. */
  #restartNow(id: string): void {
    void this.#lock.run(id, async () => {
      const cur = this.#records.get(id);
      if (!cur || cur.state.status !== 'restarting') return;
      cur.restartCount++;
      cur.state.status = 'exited';
      try {
        await this.#start(id);
      } catch (err) {
        this.#o.log.warn({ err, container: id }, 'restart by policy failed');
        const again = this.#records.get(id);
        if (again && again.state.status !== 'running' && shouldRestart(again)) {
          if (again.state.status === 'created') again.state.status = 'exited';
          this.#scheduleRestart(again);
        }
      }
    }).catch(() => {});
  }

  /** Stops a pending policy restart; returns whether one was pending. */
  #cancelRestart(rec: ContainerRecord): boolean {
    this.#restarts.cancel(rec.id);
    if (rec.state.status !== 'restarting') return false;
    rec.state.status = 'exited';
    this.#save(rec);
    return true;
  }

  // ---- stop / kill / restart ----

  stop(ref: string, options: { signal?: string; timeout?: number } = {}): Promise<void> {
    const id = this.get(ref).id;
    return this.#lock.run(id, () => this.#stop(id, options));
  }

  async #stop(id: string, options: { signal?: string; timeout?: number }): Promise<void> {
    const rec = this.#must(id);
    if (rec.state.status === 'restarting') {
      rec.manuallyStopped = true;
      this.#cancelRestart(rec);
      this.#event(rec, 'stop');
      return;
    }
    if (rec.state.status !== 'running' && rec.state.status !== 'paused') throw new NotModifiedError('container already stopped');
    rec.manuallyStopped = true;
    this.#save(rec);
    const signal = options.signal || rec.config.stopSignal || 'SIGTERM';
    const timeout = options.timeout ?? rec.config.stopTimeout ?? 10;
    if (rec.state.status === 'paused') await this.#o.runtime.resume(id).catch(() => {});
    const exited = this.#waitForExit(id);
    if (timeout !== 0) await this.#o.runtime.kill(id, signal).catch(() => {});
    if (timeout < 0) {
      await exited.promise;
    } else if (!(await exited.within(timeout * 1000))) {
      await this.#o.runtime.kill(id, 'SIGKILL', { all: true }).catch(() => {});
      if (!(await exited.within(10_000))) {
        exited.cancel();
        throw new RuntimeError(`container ${shortId(id)} did not exit after SIGKILL`);
      }
    }
    this.#event(rec, 'stop');
  }

  /**
   * Resolves when the runtime reports the container's exit. The exit is normally applied by
   * #onExit, which needs the container's lock; callers already holding the lock (stop, remove)
   * use this to observe the exit directly and apply it themselves.
   */
  #waitForExit(id: string): { promise: Promise<void>; within(ms: number): Promise<boolean>; cancel(): void } {
    let cancel = () => {};
    const promise = new Promise<void>((resolve) => {
      let done = false;
      const finish = (exit: ExitInfo) => {
        if (done) return;
        done = true;
        unlisten(this.#exitListeners, id, finish);
        void this.#applyExitLocked(id, exit).then(resolve, resolve);
      };
      let set = this.#exitListeners.get(id);
      if (!set) this.#exitListeners.set(id, (set = new Set()));
      set.add(finish);
      cancel = () => {
        done = true;
        unlisten(this.#exitListeners, id, finish);
      };
      // The exit may already have happened before we started listening.
      void this.#o.runtime.readExit(id).then((exit) => exit && finish(exit), () => {});
    });
    return {
      promise,
      within: (ms) =>
        new Promise<boolean>((resolve) => {
          const t = setTimeout(() => resolve(false), ms);
          void promise.then(() => {
            clearTimeout(t);
            resolve(true);
          });
        }),
      cancel,
    };
  }

  /** The part of #onExit that runs while the caller already holds the container's lock. */
  async #applyExitLocked(id: string, exit: ExitInfo): Promise<void> {
    const rec = this.#records.get(id);
    if (!rec || (rec.state.status !== 'running' && rec.state.status !== 'paused')) return;
    rec.state = { ...rec.state, status: 'exited', pid: 0, monitorPid: 0, exitCode: exit.exitCode, oomKilled: exit.oomKilled, finishedAt: exit.finishedAt.toISOString() };
    this.#save(rec);
    await this.#cleanupAfterExit(rec);
    this.#event(rec, 'die', { exitCode: String(exit.exitCode) });
    if (rec.host.autoRemove) {
      // Remove after the current operation releases the lock.
      setImmediate(() => void this.remove(id, { force: true }).catch(() => {}));
    }
  }

  /**
   * After an exit: the runtime's record, the rootfs mount and the log watch go (concurrently).
   * A container that removes itself (`run --rm`) skips that here: its removal right after
   * reclaims all of it in the background (#reclaim), so `wait?condition=removed` is not held up.
   */
  async #cleanupAfterExit(rec: ContainerRecord): Promise<void> {
    this.#health.stop(rec.id);
    if (rec.state.health) rec.state.health = { ...rec.state.health, status: 'unhealthy' };
    for (const m of rec.mounts ?? []) {
      if (!m.name) continue;
      this.#o.events.publish('volume', 'unmount', m.name, { container: rec.id, driver: m.driver ?? 'local' });
      await this.#o.volumes?.release?.(m.name).catch((err) => this.#o.log.warn({ err, volume: m.name }, 'volume unmount failed'));
    }
    if (rec.host.autoRemove) {
      this.#exitUncleaned.add(rec.id);
      this.#save(rec);
      return;
    }
    await Promise.all([
      this.#rotator.unwatch(rec.id),
      this.#o.runtime.delete(rec.id).catch((err) => this.#o.log.warn({ err, container: rec.id }, 'runtime delete failed')),
      this.#o.rootfs.unmount(rec.rootfs).catch((err) => this.#o.log.warn({ err, container: rec.id }, 'unmount failed')),
      this.#o.network?.tearDown(rec).catch((err) => this.#o.log.warn({ err, container: rec.id }, 'network tear-down failed')),
      this.#o.ports?.unpublish(rec).catch((err) => this.#o.log.warn({ err, container: rec.id }, 'unpublishing ports failed')),
    ]);
    this.#o.network?.announce(rec, 'disconnect');
    this.#save(rec);
  }

  kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const rec = this.get(ref);
    const n = signalNumber(signal);
    if (n === undefined) throw new InvalidParameterError(`Invalid signal: ${signal}`);
    return this.#lock
      .run(rec.id, async () => {
        const r = this.#must(rec.id);
        if (r.state.status !== 'running' && r.state.status !== 'paused') {
          throw new ContainerNotRunningError(`cannot kill container: ${ref}: container ${r.id} is not running`);
        }
        if (n === 9 || n === 15) {
          r.manuallyStopped = true;
          this.#save(r);
        }
        await this.#o.runtime.kill(r.id, n);
        this.#event(r, 'kill', { signal: String(n) });
      })
      .then(async () => {
        // As dockerd: a SIGKILL returns once the exit is recorded (bounded: a process stuck in
        // the kernel must not hold the request forever), so an inspect right after sees it.
        if (n !== 9) return;
        const abort = new AbortController();
        const timer = setTimeout(() => abort.abort(), 10_000);
        await this.wait(rec.id, 'not-running', abort.signal).catch(() => {});
        clearTimeout(timer);
      });
  }

  async restart(ref: string, options: { timeout?: number; signal?: string } = {}): Promise<void> {
    const id = this.get(ref).id;
    await this.#lock.run(id, async () => {
      const rec = this.#must(id);
      if (rec.state.status === 'running' || rec.state.status === 'paused') await this.#stop(id, options);
      await this.#start(id);
      this.#event(rec, 'restart');
    });
  }

  // ---- remove ----

  async remove(ref: string, options: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const id = this.get(ref).id;
    await this.#lock.run(id, async () => {
      const rec = this.#records.get(id);
      if (!rec) throw new NoSuchContainerError(ref);
      if (rec.state.status === 'restarting' && options.force) this.#cancelRestart(rec);
      if (rec.state.status === 'running' || rec.state.status === 'paused' || rec.state.status === 'restarting') {
        if (!options.force) {
          throw new ContainerRunningError(
            `cannot remove container "/${rec.name}": container is running: stop the container before removing or force remove`,
          );
        }
        const exited = this.#waitForExit(id);
        if (rec.state.status === 'paused') await this.#o.runtime.resume(id).catch(() => {});
        await this.#o.runtime.kill(id, 'SIGKILL', { all: true }).catch(() => {});
        if (!(await exited.within(10_000))) {
          exited.cancel();
          throw new RuntimeError(`could not kill container ${shortId(id)}`);
        }
      }
      // The container leaves the API at once (name free, not listed, `wait?condition=removed`
      // answered); what it held on disk and in the kernel is reclaimed in the background. The
      // record stays in the store as 'removing' until that is done, so a daemon that dies
      // meanwhile finishes the job at its next start (see restore).
      // A container that exited cleanly has no runtime state left, unless its exit clean-up was
      // left to this removal; a crash mid-exit may have left some (monitorPid still set).
      const runtimeLeft = rec.state.monitorPid !== 0 ? 'force' : this.#exitUncleaned.has(id) ? 'exited' : undefined;
      rec.state.status = 'removing';
      // The tombstone gives its name up (names are unique in the store): '/' is never in a name.
      this.#o.store.put({ ...rec, name: `/removing/${id}` });
      this.#records.delete(id);
      // What another request could trip over is given back before the removal is announced:
      // host ports, addresses (the network's release frees them before its first await), volumes.
      await this.#o.ports?.unpublish(rec).catch((err) => this.#o.log.warn({ err, container: id }, 'unpublishing ports failed'));
      const network = this.#o.network?.release(rec).catch((err) => this.#o.log.warn({ err, container: id }, 'network release failed'));
      if (this.#exitUncleaned.has(id)) this.#o.network?.announce(rec, 'disconnect');
      // `rm -v` and `run --rm` take the container's anonymous volumes along, unless another container uses them.
      if (options.volumes || rec.host.autoRemove) {
        for (const name of anonymousVolumes(rec)) {
          if (this.usesVolume(name).length === 0) await this.#o.volumes?.remove(name).catch((err) => this.#o.log.warn({ err, volume: name }, 'removing anonymous volume failed'));
        }
      }
      this.#event(rec, 'destroy');
      faultPoint('container-remove');
      this.#reclaim(rec, { runtime: runtimeLeft, network });
    });
  }

  /**
   * The physical part of a removal, after the container left the API: the runtime's state, the
   * rootfs mount and directory, the network namespace, the image layer references, then the
   * store's tombstone. Every step is idempotent, so a restart can run it again.
   */
  #reclaim(rec: ContainerRecord, o: { runtime?: 'exited' | 'force'; network?: Promise<unknown> }): void {
    const id = rec.id;
    const warn = (what: string) => (err: unknown) => this.#o.log.warn({ err, container: id }, what);
    const job = (async () => {
      await Promise.all([
        this.#rotator.unwatch(id),
        // A removed container's last lines get a moment to reach a remote log driver.
        this.#o.shipper?.drain(id, 2000).then(() => this.#o.shipper?.stop(id)),
        o.runtime ? this.#o.runtime.delete(id, { force: o.runtime === 'force' }).catch(warn('runtime delete failed')) : undefined,
        o.network ?? this.#o.network?.release(rec).catch(warn('network release failed')),
        (async () => {
          await this.#o.rootfs.unmount(rec.rootfs).catch(() => {});
          await this.#o.rootfs.remove(id);
          await rm(rec.dir, { recursive: true, force: true });
        })().catch(warn('removing the container directory failed')),
      ]);
      await this.#o.images.release(rec.layers ?? []).catch(warn('releasing layers failed'));
      this.#exitUncleaned.delete(id);
      this.#o.store.delete(id);
    })().catch(warn('reclaiming a removed container failed'));
    this.#reclaims.set(id, job);
    void job.finally(() => this.#reclaims.delete(id));
  }

  /** Resolves when every removal's background clean-up has finished (daemon shutdown, tests). */
  async drain(): Promise<void> {
    while (this.#reclaims.size) await Promise.allSettled([...this.#reclaims.values()]);
  }

  /** IDs of the containers (any state) that mount the volume. */
  usesVolume(name: string): string[] {
    const out: string[] = [];
    for (const r of this.#records.values()) if ((r.mounts ?? []).some((m) => m.name === name)) out.push(r.id);
    return out;
  }

  /**
   * Runs `fn` with a view of the container's files (cp, changes, export): a running container is
   * seen through /proc/<pid>/root; a stopped one has its rootfs mounted for the duration (under
   * the container's lock, so it cannot start meanwhile) and its volumes mapped to their sources.
   */
  async withFilesystem<T>(ref: string, fn: (view: ContainerView, rec: ContainerRecord) => Promise<T>): Promise<T> {
    const id = this.get(ref).id;
    return this.#lock.run(id, async () => {
      const rec = this.#must(id);
      const running = rec.state.status === 'running' || rec.state.status === 'paused';
      if (running) return fn(filesystemView(rec, true), rec);
      const lower = await this.#o.images.lowerDirs(rec.imageId);
      await this.#o.rootfs.mount(id, lower, rec.rootfs, rec.userns);
      try {
        return await fn(filesystemView(rec, false), rec);
      } finally {
        await this.#o.rootfs.unmount(rec.rootfs).catch((err) => this.#o.log.warn({ err, container: id }, 'unmount failed'));
      }
    });
  }

  // ---- networks (issue 6) ----

  /** DELETE /containers/{parent}/{alias}?link=1: drops a legacy link (takes effect at the next start, as in Docker). */
  removeLink(parentRef: string, alias: string): void {
    const rec = this.get(parentRef);
    const links = rec.host.links ?? [];
    const i = links.findIndex((l) => l.alias === alias);
    if (i < 0) throw new NoSuchContainerError(`${parentRef}/${alias}`);
    rec.host.links = links.filter((_, j) => j !== i);
    this.#save(rec);
  }

  /** POST /networks/{id}/connect: joins now when running, at the next start otherwise. */
  connectNetwork(ref: string, network: string, request: { aliases?: string[]; ipv4Address?: string; ipv6Address?: string; linkLocalIPs?: string[]; macAddress?: string; links?: string[]; driverOpts?: Record<string, string> } = {}): Promise<void> {
    const id = this.get(ref).id;
    return this.#lock.run(id, async () => {
      const rec = this.#must(id);
      if (!this.#o.network) throw new InvalidParameterError('networking is not available');
      const running = rec.state.status === 'running' || rec.state.status === 'paused';
      await this.#o.network.connect(rec, network, request, running);
      this.#save(rec);
    });
  }

  /** POST /networks/{id}/disconnect. */
  disconnectNetwork(ref: string, network: string, options: { force?: boolean } = {}): Promise<void> {
    const id = this.get(ref).id;
    return this.#lock.run(id, async () => {
      const rec = this.#must(id);
      if (!this.#o.network) throw new InvalidParameterError('networking is not available');
      await this.#o.network.disconnect(rec, network, options);
      this.#save(rec);
    });
  }

  // ---- wait / logs ----

  /**
   * Blocks until the condition holds: `not-running` (now, if not running), `next-exit`, or
   * `removed`. Returns the exit code of the run that ended.
   */
  wait(ref: string, condition: WaitCondition = 'not-running', signal?: AbortSignal): Promise<WaitResult> {
    const rec = this.get(ref);
    const id = rec.id;
    const isRunning = (r: ContainerRecord) => ['running', 'paused', 'restarting'].includes(r.state.status);
    if (condition === 'not-running' && !isRunning(rec)) return Promise.resolve(resultOf(rec));
    let last = rec;
    let sawRunning = isRunning(rec);
    return new Promise<WaitResult>((resolve, reject) => {
      const check = () => {
        const cur = this.#records.get(id);
        if (cur) {
          last = cur;
          if (isRunning(cur)) sawRunning = true;
        }
        const done =
          condition === 'removed'
            ? !cur
            : condition === 'next-exit'
              ? !!cur && sawRunning && !isRunning(cur) && cur.state.status !== 'created'
              : !cur || !isRunning(cur);
        if (done) {
          cleanup();
          resolve(resultOf(last));
        }
      };
      const onAbort = () => {
        cleanup();
        reject(signal?.reason ?? new Error('aborted'));
      };
      const cleanup = () => {
        unlisten(this.#watchers, id, check);
        signal?.removeEventListener('abort', onAbort);
      };
      let set = this.#watchers.get(id);
      if (!set) this.#watchers.set(id, (set = new Set()));
      set.add(check);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The container's output, read back from the monitor's log file. */
  logs(ref: string, options: Omit<LogReadOptions, 'untilExit'>): AsyncIterable<LogRecord> {
    const rec = this.get(ref);
    assertReadable(rec.host.logConfig);
    const untilExit = options.follow ? this.#untilNotRunning(rec.id, options.signal) : undefined;
    return readRotatedLogs(this.#o.readLogs, rec.logPath, this.#logPolicy(rec).maxFile, { ...options, untilExit });
  }

  /**
   * Output of a container from now on (or from the beginning, for one not yet started), until
   * it exits: the non-interactive attach stream.
   */
  attachOutput(ref: string, signal?: AbortSignal, options: { logs?: boolean } = {}): AsyncIterable<LogRecord> {
    const rec = this.get(ref);
    const status = rec.state.status;
    // As dockerd, a stream attach to a container that is not running waits for its next run and
    // lasts until that run ends: that is how `start -a` works, and how compose v1 with
    // COMPOSE_INTERACTIVE_NO_CLI=1 gets a one-off's output: it starts the container, attaches,
    // finds it exited and starts it again (seen in its requests: start, attach, attach, start,
    // wait). Replaying the first run there and ending at once raced with the second start under
    // load, and lost the output.
    const nextRun = status === 'created' || ((status === 'exited' || status === 'dead') && !options.logs);
    // With `logs` (attach?logs=1&stream=1) the log so far is replayed first, then followed.
    // A running container whose run began moments ago is followed from its start: a client that
    // starts a container and then attaches would otherwise lose what it printed in between.
    const started = Date.parse(rec.state.startedAt);
    const fresh = status === 'running' && Date.now() - started < ATTACH_RECENT_START_MS;
    const since = status === 'created' || options.logs ? undefined : fresh ? new Date(started - 250) : new Date();
    const untilExit = nextRun ? this.wait(rec.id, 'next-exit', signal).then(() => {}, () => {}) : this.#untilNotRunning(rec.id, signal);
    return this.#o.readLogs(rec.logPath, { since, follow: true, untilExit, signal });
  }

  #untilNotRunning(id: string, signal?: AbortSignal): Promise<void> {
    return this.wait(id, 'not-running', signal).then(
      () => {},
      () => {},
    );
  }

  // ---- pause / rename / update / top / stats / prune ----

  pause(ref: string): Promise<void> {
    const id = this.get(ref).id;
    return this.#lock.run(id, async () => {
      const rec = this.#must(id);
      if (rec.state.status === 'paused') throw new ConflictError(`Container ${id} is already paused`);
      if (rec.state.status !== 'running') throw new ContainerNotRunningError(`Container ${id} is not running`);
      await this.#o.runtime.pause(id);
      rec.state.status = 'paused';
      this.#save(rec);
      this.#event(rec, 'pause');
    });
  }

  unpause(ref: string): Promise<void> {
    const id = this.get(ref).id;
    return this.#lock.run(id, async () => {
      const rec = this.#must(id);
      if (rec.state.status !== 'paused') throw new ConflictError(`Container ${id} is not paused`);
      await this.#o.runtime.resume(id);
      rec.state.status = 'running';
      this.#save(rec);
      this.#event(rec, 'unpause');
    });
  }

  rename(ref: string, newName: string): void {
    const rec = this.get(ref);
    const name = newName.replace(/^\//, '');
    if (!name) throw new InvalidParameterError('Neither old nor new names may be empty');
    if (!VALID_NAME.test(name)) throw new InvalidParameterError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if (name === rec.name) throw new InvalidParameterError(`Renaming a container with the same name as its current name`);
    for (const r of this.#records.values()) if (r.name === name) throw new NameConflictError(name, r.id);
    const old = rec.name;
    rec.name = name;
    this.#save(rec);
    this.#event(rec, 'rename', { oldName: `/${old}` });
  }

  /** Changes resource limits (and the restart policy); applied at once to a running container. */
  update(ref: string, changes: Partial<HostSpec>): Promise<string[]> {
    const id = this.get(ref).id;
    return this.#lock.run(id, async () => {
      const rec = this.#must(id);
      if (changes.restartPolicy) {
        if (rec.host.autoRemove && changes.restartPolicy.name !== 'no' && changes.restartPolicy.name !== '') {
          throw new InvalidParameterError('Restart policy cannot be updated because AutoRemove is enabled for the container');
        }
      }
      const next: HostSpec = { ...rec.host };
      for (const [k, v] of Object.entries(changes)) if (v !== undefined) (next as Record<string, unknown>)[k] = v;
      validateHost({ image: rec.image, host: next });
      this.#o.checkHost?.(next);
      if (rec.state.status === 'running' || rec.state.status === 'paused') {
        await this.#o.runtime.update(id, ociResources(next));
      }
      rec.host = next;
      this.#save(rec);
      this.#event(rec, 'update');
      return [];
    });
  }

  /** Host PIDs of the container's processes (for top). */
  async pids(ref: string): Promise<number[]> {
    const rec = this.get(ref);
    if (rec.state.status !== 'running' && rec.state.status !== 'paused') throw new ContainerNotRunningError(`Container ${rec.id} is not running`);
    return containerPids(rec.state.pid);
  }

  /** One sample of resource usage (from the runtime); no `sample` when the container is not running. */
  async stats(ref: string): Promise<StatsSample & { at: Date }> {
    const rec = this.get(ref);
    const at = new Date();
    const running = rec.state.status === 'running' || rec.state.status === 'paused';
    return { ...(await this.#o.runtime.stats(rec.id, running ? rec.state.pid : 0)), at };
  }

  /** Removes stopped containers matching the filters (`until`, `label`). */
  async prune(filters: Map<string, string[]> = new Map()): Promise<{ deleted: string[]; reclaimed: number }> {
    for (const k of filters.keys()) if (!['until', 'label', 'label!'].includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
    const until = filters.get('until')?.[0];
    const untilMs = until ? parseUntil(until) : undefined;
    const deleted: string[] = [];
    for (const rec of [...this.#records.values()]) {
      if (rec.state.status !== 'exited' && rec.state.status !== 'created' && rec.state.status !== 'dead') continue;
      if (untilMs !== undefined && Date.parse(rec.created) >= untilMs) continue;
      if (!labelsMatch(rec.config.labels, filters.get('label') ?? [], filters.get('label!') ?? [])) continue;
      await this.remove(rec.id).then(() => deleted.push(rec.id), () => {});
    }
    return { deleted, reclaimed: 0 };
  }

  // ---- internals ----

  #must(id: string): ContainerRecord {
    const rec = this.#records.get(id);
    if (!rec) throw new NoSuchContainerError(id);
    return rec;
  }

  #save(rec: ContainerRecord): void {
    this.#o.store.put(rec);
    this.#records.set(rec.id, rec);
    this.#notify(rec.id);
  }

  #notify(id: string): void {
    for (const fn of [...(this.#watchers.get(id) ?? [])]) fn();
  }

  #event(rec: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.#o.events.publish('container', action, rec.id, { ...rec.config.labels, image: rec.image, name: rec.name, ...extra });
    if (action === 'destroy') this.#notify(rec.id);
  }

  /** Used by exec/health later and by tests: the current status. */
  status(ref: string): ContainerStatus {
    return this.get(ref).state.status;
  }

  /** Reads a file the engine wrote for the container (hosts, hostname). */
  async readContainerFile(ref: string, which: 'hosts' | 'hostname' | 'resolv.conf'): Promise<string> {
    const rec = this.get(ref);
    return readFile(join(rec.dir, which), 'utf8');
  }

  // ---- interactive I/O: attach, resize, exec (issue 3) ----

  /** Callbacks run between `runtime create` and `runtime start`: attach connects there, so no output is lost. */
  readonly #startHooks = new Map<string, Set<(bundleDir: string) => Promise<void>>>();

  async #runStartHooks(id: string, bundleDir: string): Promise<void> {
    const hooks = this.#startHooks.get(id);
    if (!hooks?.size) return;
    this.#startHooks.delete(id);
    await Promise.all([...hooks].map((fn) => fn(bundleDir).catch((err) => this.#o.log.warn({ err, container: id }, 'attach before start failed'))));
  }

  /**
   * Connects to a container's live stdio (the monitor's attach socket). A running or paused
   * container is attached now; any other waits for its next start and is attached before its
   * process runs (`docker run`/`start -a` attach first, then start). Rejects when `signal`
   * aborts first.
   */
  attachStdio(ref: string, options: { signal?: AbortSignal } = {}): Promise<StdioConnection> {
    const rec = this.get(ref);
    const id = rec.id;
    if (rec.state.status === 'running' || rec.state.status === 'paused') return this.#o.runtime.attach(id, rec.dir);
    if (rec.state.status === 'removing' || rec.state.status === 'dead') {
      return Promise.reject(new ConflictError(`You cannot attach to a container that is being removed`));
    }
    return new Promise<StdioConnection>((resolve, reject) => {
      let set = this.#startHooks.get(id);
      if (!set) this.#startHooks.set(id, (set = new Set()));
      const hook = async (bundleDir: string) => {
        options.signal?.removeEventListener('abort', onAbort);
        try {
          const conn = await this.#o.runtime.attach(id, bundleDir);
          if (options.signal?.aborted) conn.close();
          else resolve(conn);
        } catch (err) {
          reject(err);
        }
      };
      const onAbort = () => {
        this.#startHooks.get(id)?.delete(hook);
        reject(options.signal?.reason ?? new Error('aborted'));
      };
      set.add(hook);
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Sets the window size of a running container's TTY (POST /containers/{id}/resize). */
  async resize(ref: string, size: { height: number; width: number }): Promise<void> {
    const rec = this.get(ref);
    if (rec.state.status !== 'running' && rec.state.status !== 'paused') throw new ContainerNotRunningError(`Container ${rec.id} is not running`);
    if (!rec.config.tty) return;
    await this.#o.runtime.resize(rec.id, rec.dir, size);
  }

  /** Runs a health check command in the container and collects its exit code and output (health.ts). */
  async #probe(id: string, argv: string[], timeoutMs: number): Promise<ProbeResult> {
    const handle = await this.execProcess(id, { execId: `health-${generateId().slice(0, 16)}`, cmd: argv, tty: false, stdin: false, attach: true });
    return collectProbe(handle, timeoutMs);
  }

  /**
   * Starts another process in a running container (the engine half of exec; ExecService keeps
   * the sessions). The process inherits the container's process settings, with the exec's
   * command, env, working dir, user, terminal and privileges on top. Docker's refusals: a
   * paused, restarting or stopped container.
   */
  async execProcess(ref: string, o: ExecProcessRequest): Promise<ExecHandle> {
    const rec = this.get(ref);
    const id = rec.id;
    if (rec.state.status === 'paused') throw new ConflictError(`Container ${id} is paused, unpause the container before exec`);
    if (rec.state.status === 'restarting') throw new ConflictError(`Container ${id} is restarting, wait until the container is running`);
    if (rec.state.status !== 'running') throw new ContainerNotRunningError(`Container ${id} is not running`);
    let spec: OciSpec;
    try {
      spec = JSON.parse(await readFile(join(rec.dir, 'config.json'), 'utf8')) as OciSpec;
    } catch (err) {
      throw new RuntimeError(`cannot read the spec of container ${shortId(id)}`, { cause: err });
    }
    const process = await execProcessSpec(spec.process, rec.rootfs, o);
    return this.#o.runtime.exec({ containerId: id, execId: o.execId, process, stdin: o.stdin, attach: o.attach });
  }
}

function resultOf(rec: ContainerRecord): WaitResult {
  return { exitCode: rec.state.exitCode, error: rec.state.error || undefined };
}

/** Docker's exit codes for a command that cannot be started: 127 not found, 126 not executable. */
export function startFailureExitCode(message: string): number {
  if (/executable file not found|no such file or directory/i.test(message)) return 127;
  if (/permission denied|cannot execute|is a directory/i.test(message)) return 126;
  return 128;
}

/**
 * The hostname, hosts and resolv.conf files at create, in the format the network writes at
 * start (network/etc-files.ts), without addresses yet: what a container with no network
 * service (unit tests) keeps.
 */
async function writeContainerFiles(rec: ContainerRecord, hostGateway?: string): Promise<void> {
  await writeFile(rec.hostnamePath, `${rec.config.hostname!}\n`);
  const hosts = rec.host.networkMode === 'host'
    ? renderHostNetworkHosts(await readFile('/etc/hosts', 'utf8').catch(() => undefined), rec.host.extraHosts, hostGateway)
    : renderHosts(rec, [], hostGateway);
  await writeFile(rec.hostsPath, hosts);
  await writeFile(rec.resolvConfPath, renderResolvConf(await readFile('/etc/resolv.conf', 'utf8').catch(() => ''), rec));
}


/** Removes a listener; the container's entry goes with its last one (a soak of 500 containers kept 500 empty Sets). */
function unlisten<T>(map: Map<string, Set<T>>, id: string, fn: T): void {
  const set = map.get(id);
  if (!set) return;
  set.delete(fn);
  if (set.size === 0) map.delete(id);
}

/**
 * `crun start` / `runc start` return once they have told the container's init to go, before it
 * has exec'd the container's command. Docker's start returns later (containerd's round trips),
 * and clients count on it: docker-py reads `logs` right after `start` and expects a quick
 * command's output. So start returns once the process runs the command (its /proc exe is no
 * longer the runtime), at most ~100 ms later.
 */
async function untilExecuted(pid: number): Promise<void> {
  if (!pid) return;
  for (let i = 0; i < 50; i++) {
    const exe = await readlink(`/proc/${pid}/exe`).catch(() => undefined);
    if (exe === undefined || !/(^\/memfd:)|\/(crun|runc)( \(deleted\))?$/.test(exe)) return;
    await new Promise((r) => setTimeout(r, 2));
  }
}
