import { hostname as osHostname } from 'node:os';
import { mkdir, readlink, rm, writeFile, readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '../common/logger.js';
import {
  ConflictError, ContainerNotRunningError, ContainerRunningError, InvalidParameterError,
  NameConflictError, NoSuchContainerError, NotFoundError, NotModifiedError, RuntimeError, AmbiguousReferenceError,
  isNotFound,
} from '../common/errors.js';
import { labelsMatch } from '../common/labels.js';
import { parseUntil } from '../common/until-filter.js';
import { generateId, generateName, shortId, VALID_NAME } from '../common/ids.js';
import type { ContainerRuntime, ExitInfo, LogRecord } from '../runtime/runtime.js';
import type { ContainerTable } from '../store/containers.js';
import type { EventBus } from './events.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { EngineImages, EngineNetwork, EnginePorts, EngineRootfs, EngineVolumes, LogReadOptions, LogReader, SpecContext, SpecFactory } from './collaborators.js';
import { resolveMounts, prepareMounts, anonymousVolumes, filesystemView, type ContainerView } from './mounts.js';
import type { ContainerRecord, ContainerSpec, ContainerStatus, HostSpec } from './types.js';
import { readCgroupStats, systemCpuUsage, onlineCpus, containerPids, type CgroupStats } from '../runtime/cgroup-stats.js';
export type { CgroupStats };
import { signalNumber } from '../common/signals.js';
import { LogRotator, readRotatedLogs } from './log-rotation.js';
import { HealthMonitor, mergeHealthCheck } from './health.js';
import type { ExecHandle, StdioConnection } from '../runtime/stdio.js';
import type { OciProcess, OciSpec } from '../runtime/oci-spec.js';
import { resolveUser } from '../runtime/user.js';
import { hostLimits } from '../runtime/capabilities.js';
import { parseSecurityOpts } from './spec-factory.js';
import { assertReadable, localFilePolicy, mergeLogConfig, validateLogConfig } from './logging/drivers.js';
import type { LogShipper } from './logging/shipper.js';
import type { LogSink, SinkContext } from './logging/sink.js';
import { faultPoint } from '../common/fault-point.js';

/** What exec asks of the engine (ExecService's request to run one session). */
export interface ExecProcessRequest {
  execId: string;
  cmd: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  privileged?: boolean;
  tty: boolean;
  stdin: boolean;
  attach: boolean;
  consoleSize?: { height: number; width: number };
}

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
}

/** Docker's /dev/shm size when the client sends none or 0 (the docker CLI always sends 0). */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/**
 * Logs are bounded by default (a chatty container cannot fill the disk): Docker's `local`
 * log driver defaults, 5 files of 20 MiB.
 */
/** How often running containers' monitors (conmon) are checked for life. */
const MONITOR_CHECK_MS = 2000;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const DEFAULT_LOG_MAX_SIZE = 20 * 1024 * 1024;
export const DEFAULT_LOG_MAX_FILE = 5;

export interface WaitResult {
  exitCode: number;
  error?: string;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface ListOptions {
  all?: boolean;
  limit?: number;
  filters?: Map<string, string[]>;
}

/** See attachOutput: how recent a start is to be followed from its beginning. */
const ATTACH_RECENT_START_MS = 2000;
const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ZERO_TIME = '0001-01-01T00:00:00Z';

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
  #monitorTimer: NodeJS.Timeout | undefined;
  #restored = false;
  #checkingMonitors = false;
  /** Exit observers that run before the (locked) exit handling, for operations holding the lock. */
  readonly #exitListeners = new Map<string, Set<(exit: ExitInfo) => void>>();
  #stopWatching?: () => void;
  readonly #rotator: LogRotator;
  readonly #health: HealthMonitor;
  /** Pending restarts by restart policy (status 'restarting'), cancelled by stop/kill/rm. */
  readonly #restartTimers = new Map<string, NodeJS.Timeout>();
  /** Current back-off delay per container (Docker: 100 ms doubling to 1 min, reset after 10 s up). */
  readonly #backoff = new Map<string, number>();

  constructor(options: ContainerServiceOptions) {
    this.#o = options;
    this.#rotator = new LogRotator({ log: options.log });
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
    this.#restored = true;
    this.#watchMonitors();
  }

  /**
   * Checks monitors while some container runs; a daemon with none has no timer (a timer that
   * fires every 2 s kept berthd's idle RSS ~30 MB higher after the soak).
   */
  #watchMonitors(): void {
    if (this.#monitorTimer || !this.#restored) return;
    this.#monitorTimer = setInterval(() => void this.#checkMonitors(), MONITOR_CHECK_MS);
    this.#monitorTimer.unref();
  }

  /**
   * conmon killed (OOM killer, a stray kill): nothing would record the exit, reap or log the
   * workload. A running container whose monitor is gone is killed and reported exited, with
   * 137 when it was killed here, the runtime's code when its exit was recorded, 255 otherwise.
   */
  async #checkMonitors(): Promise<void> {
    if (this.#checkingMonitors) return;
    const live = [...this.#records.values()].some((r) => r.state.status === 'running' || r.state.status === 'paused');
    if (!live) {
      clearInterval(this.#monitorTimer);
      this.#monitorTimer = undefined;
      return;
    }
    this.#checkingMonitors = true;
    try {
      for (const rec of [...this.#records.values()]) {
        if ((rec.state.status !== 'running' && rec.state.status !== 'paused') || !rec.state.monitorPid || pidAlive(rec.state.monitorPid)) continue;
        const id = rec.id;
        this.#o.log.warn({ container: id, monitorPid: rec.state.monitorPid }, 'the container monitor (conmon) is gone: ending the container');
        let code = 255;
        const st = await this.#o.runtime.state(id).catch(() => undefined);
        if (st?.status === 'running' || st?.status === 'paused') {
          if (st.status === 'paused') await this.#o.runtime.resume(id).catch(() => {});
          await this.#o.runtime.kill(id, 'SIGKILL', { all: true }).catch(() => {});
          code = 137;
        }
        await this.#onExit(id, { exitCode: code, finishedAt: new Date(), oomKilled: false }, { known: true }).catch((err) => this.#o.log.warn({ err, container: id }, 'recording the exit failed'));
      }
    } finally {
      this.#checkingMonitors = false;
    }
  }

  close(): void {
    if (this.#monitorTimer) clearInterval(this.#monitorTimer);
    this.#monitorTimer = undefined;
    this.#restored = false;
    this.#health.close();
    for (const t of this.#restartTimers.values()) clearTimeout(t);
    this.#restartTimers.clear();
    this.#stopWatching?.();
    this.#rotator.close();
    this.#o.shipper?.close();
  }

  #logPolicy(rec: ContainerRecord): { maxSize: number; maxFile: number } {
    // CRI containers: the kubelet rotates their logs and calls ReopenContainerLog.
    if (rec.cri) return { maxSize: 0, maxFile: 1 };
    return localFilePolicy(rec.host.logConfig, {
      maxSize: this.#o.defaultLogMaxSize ?? DEFAULT_LOG_MAX_SIZE,
      maxFile: this.#o.defaultLogMaxFile ?? DEFAULT_LOG_MAX_FILE,
    });
  }

  async #openLogSink(rec: ContainerRecord): Promise<LogSink | undefined> {
    const lc = rec.host.logConfig;
    if (!this.#o.shipper) {
      if (lc && ['syslog', 'journald', 'fluentd'].includes(lc.type)) throw new InvalidParameterError(`logging driver "${lc.type}" needs the daemon's log shipper`);
      return undefined;
    }
    try {
      return await this.#o.shipper.open(lc, this.#sinkContext(rec));
    } catch (err) {
      throw new InvalidParameterError((err as Error).message, { cause: err });
    }
  }

  /** What a remote log driver may put into its messages about `rec`. */
  #sinkContext(rec: ContainerRecord): SinkContext {
    return {
      id: rec.id,
      name: rec.name,
      imageId: rec.imageId,
      imageName: rec.image,
      daemonName: this.#o.daemonName ?? 'berth',
      labels: rec.config.labels ?? {},
      env: rec.config.env ?? [],
      hostname: osHostname(),
    };
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
    let out = [...this.#records.values()];
    const filters = options.filters ?? new Map<string, string[]>();
    const running = (r: ContainerRecord) => r.state.status === 'running' || r.state.status === 'paused' || r.state.status === 'restarting';
    if (!options.all && !filters.has('status') && !filters.has('exited')) out = out.filter(running);
    for (const [key, values] of filters) {
      if (values.length === 0) continue;
      switch (key) {
        case 'id':
          out = out.filter((r) => values.some((v) => r.id.startsWith(v)));
          break;
        case 'name':
          out = out.filter((r) => values.some((v) => r.name.includes(v.replace(/^\//, ''))));
          break;
        case 'status':
          for (const v of values) {
            if (!['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'].includes(v)) {
              throw new InvalidParameterError(`invalid filter 'status=${v}'`);
            }
          }
          out = out.filter((r) => values.includes(r.state.status));
          break;
        case 'health':
          // Docker's values (container.IsValidHealthString); a container without a healthcheck is "none".
          for (const v of values) {
            if (!['starting', 'healthy', 'unhealthy', 'none'].includes(v)) throw new InvalidParameterError(`Unrecognised filter value for health: ${v}`);
          }
          out = out.filter((r) => values.includes(r.state.health?.status ?? 'none'));
          break;
        case 'exited':
          out = out.filter((r) => r.state.status === 'exited' && values.includes(String(r.state.exitCode)));
          break;
        case 'label':
          out = out.filter((r) => labelsMatch(r.config.labels, values));
          break;
        case 'network':
          // Docker's `ps --filter network=`: a network's name or ID (prefix) among the container's endpoints.
          out = out.filter((r) => Object.values(r.network?.endpoints ?? {}).some((e) => values.some((v) => e.networkName === v || (v.length > 0 && e.networkId.startsWith(v)))));
          break;
        case 'ancestor':
          out = out.filter((r) => values.some((v) => r.image === v || r.imageId === v || r.imageId.replace('sha256:', '').startsWith(v.replace('sha256:', ''))));
          break;
        case 'before': {
          const ref = this.get(values[0]!);
          out = out.filter((r) => r.created < ref.created);
          break;
        }
        case 'since': {
          const ref = this.get(values[0]!);
          out = out.filter((r) => r.created > ref.created);
          break;
        }
        default:
          throw new InvalidParameterError(`invalid filter '${key}'`);
      }
    }
    out.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
    if (options.limit !== undefined && options.limit > 0) out = out.slice(0, options.limit);
    return out;
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
    this.#validatePeers(spec);
    for (const opt of spec.host.securityOpt ?? []) {
      const m = /^apparmor[=:](.*)$/.exec(opt);
      if (m) this.#o.checkAppArmor?.(m[1]!);
    }
    const image = await this.#o.images.resolve(spec.image);
    const ic = image.config;
    const vd = spec.host.volumeDriver;
    if (vd && vd !== 'local') {
      const wantsVolumes = Object.keys({ ...(ic.Volumes ?? {}), ...(spec.volumes ?? {}) }).length > 0 || (spec.host.binds ?? []).some((b) => !b.startsWith('/'));
      if (wantsVolumes) throw new NotFoundError(`error looking up volume plugin ${vd}: plugin "${vd}" not found`);
    }

    // Docker's merge with the image config (daemon/commit.go merge): an Entrypoint that is
    // missing or null takes the image's; [] and [""] (the docker CLI's `--entrypoint ""`) mean
    // "no entrypoint". Cmd empty or null takes the image's only when no entrypoint was given as
    // a non-empty list (an explicit entrypoint discards the image's CMD).
    const userEntrypoint = spec.entrypoint && spec.entrypoint.length === 1 && spec.entrypoint[0] === '' ? [] : spec.entrypoint;
    let entrypoint: string[] | null;
    let cmd: string[] | null = spec.cmd && spec.cmd.length > 0 ? spec.cmd : null;
    if (userEntrypoint === undefined || userEntrypoint === null) {
      entrypoint = ic.Entrypoint ?? null;
      if (!cmd) cmd = ic.Cmd ?? null;
    } else {
      entrypoint = userEntrypoint;
      if (!cmd && userEntrypoint.length === 0 && spec.entrypoint?.length === 0) cmd = ic.Cmd ?? null;
    }
    const argv = [...(entrypoint ?? []), ...(cmd ?? [])];
    if (argv.length === 0) throw new InvalidParameterError('No command specified');

    const env = mergeEnv(ic.Env ?? [], spec.env ?? []);
    if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH_ENV);

    const dir = join(this.#o.containersRoot, id);
    // Docker: a container sharing the host's network or UTS namespace takes the host's name.
    const hostNamespace = spec.host.networkMode === 'host' || spec.host.utsMode === 'host';
    const hostname = spec.hostname || (hostNamespace ? osHostname() : id.slice(0, 12));
    const rec: ContainerRecord = {
      id,
      name,
      created: new Date().toISOString(),
      image: spec.image,
      imageId: image.id,
      layers: [],
      path: argv[0]!,
      args: argv.slice(1),
      config: {
        image: spec.image,
        cmd,
        entrypoint,
        env,
        workingDir: spec.workingDir || ic.WorkingDir || '',
        // '' (what the docker CLI sends when --user is not given) is "the image's user".
        user: spec.user || ic.User || '',
        hostname,
        domainname: spec.domainname ?? '',
        labels: { ...(ic.Labels ?? {}), ...(spec.labels ?? {}) },
        tty: spec.tty ?? false,
        openStdin: spec.openStdin ?? false,
        stdinOnce: spec.stdinOnce ?? false,
        attachStdin: spec.attachStdin ?? false,
        attachStdout: spec.attachStdout ?? false,
        attachStderr: spec.attachStderr ?? false,
        stopSignal: spec.stopSignal || ic.StopSignal || 'SIGTERM',
        stopTimeout: spec.stopTimeout,
        exposedPorts: { ...(ic.ExposedPorts ?? {}), ...(spec.exposedPorts ?? {}) },
        volumes: { ...(ic.Volumes ?? {}), ...(spec.volumes ?? {}) },
        healthcheck: mergeHealthCheck(
          ic.Healthcheck ? { test: ic.Healthcheck.Test, interval: ic.Healthcheck.Interval, timeout: ic.Healthcheck.Timeout, startPeriod: ic.Healthcheck.StartPeriod, retries: ic.Healthcheck.Retries } : undefined,
          spec.healthcheck,
        ),
      },
      host: {
        ...spec.host,
        restartPolicy: spec.host.restartPolicy ?? { name: 'no', maximumRetryCount: 0 },
        logConfig: spec.host.logConfig ?? { type: 'json-file', config: {} },
        // An empty or zero value from a client means "the default" (issue 24 item 2): the docker CLI always sends ShmSize 0.
        shmSize: spec.host.shmSize || DEFAULT_SHM_SIZE,
        cgroupnsMode: spec.host.cgroupnsMode || this.#o.defaultCgroupnsMode || 'host',
      },
      state: { status: 'created', pid: 0, monitorPid: 0, exitCode: 0, error: '', oomKilled: false, startedAt: ZERO_TIME, finishedAt: ZERO_TIME },
      ...(spec.buildStep ? { buildStep: true } : {}),
      restartCount: 0,
      dir,
      logPath: spec.logPath || join(dir, 'container.log'),
      hostnamePath: join(dir, 'hostname'),
      hostsPath: join(dir, 'hosts'),
      resolvConfPath: join(dir, 'resolv.conf'),
      rootfs: join(dir, 'rootfs'),
      driver: 'overlay2',
      ...(spec.cri ? { cri: spec.cri } : {}),
    };
    this.#o.network?.prepare(rec, spec.networks);
    // Not recursive (containersRoot exists): a recursive mkdir reports a full disk as ENOENT.
    await mkdir(this.#o.containersRoot, { recursive: true });
    await mkdir(dir, { mode: 0o710 });
    rec.layers = this.#o.images.acquire(image.id);
    try {
      rec.mounts = await resolveMounts(rec, spec, { volumes: this.#o.volumes, container: (ref) => this.get(ref) });
      await this.#o.rootfs.prepare(id, await this.#o.images.lowerDirs(image.id));
      await writeContainerFiles(rec);
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
          await net.setUp(this.#withLinkHosts(rec), this.#networkPeer(rec), sandboxReady);
          net.announce(rec, 'connect');
          await this.#o.ports?.publish(rec);
        })();
      }
      const ready = await Promise.allSettled([this.#o.rootfs.mount(id, lower, rec.rootfs), Promise.race([sandbox, network])]);
      for (const r of ready) if (r.status === 'rejected') throw r.reason;
      // Volume mounts, copy-up of image content into new volumes, targets resolved in the rootfs.
      if (await prepareMounts(rec, { volumes: this.#o.volumes })) this.#save(rec);
      for (const m of rec.mounts ?? []) if (m.name) this.#o.events.publish('volume', 'mount', m.name, { container: id, destination: m.destination, driver: m.driver ?? 'local', propagation: m.propagation, 'read/write': String(m.rw) });
      const spec = await this.#o.makeSpec(rec, this.#specContext(rec));
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
      this.#watchMonitors();
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
    } else if (rec && rec.state.status === 'exited' && this.#shouldRestart(rec)) {
      this.#scheduleRestart(rec);
    }
  }

  #shouldRestart(rec: ContainerRecord): boolean {
    const p = rec.host.restartPolicy;
    if (!p || rec.manuallyStopped) return false;
    if (p.name === 'always' || p.name === 'unless-stopped') return true;
    if (p.name === 'on-failure') return rec.state.exitCode !== 0 && (p.maximumRetryCount <= 0 || rec.restartCount < p.maximumRetryCount);
    return false;
  }

  #scheduleRestart(rec: ContainerRecord, delayOverride?: number): void {
    const id = rec.id;
    const ran = Date.parse(rec.state.finishedAt) - Date.parse(rec.state.startedAt);
    let delay = this.#backoff.get(id);
    delay = ran >= 10_000 || delay === undefined ? 100 : Math.min(delay * 2, 60_000);
    if (delayOverride !== undefined) delay = delayOverride;
    this.#backoff.set(id, delay);
    rec.state.status = 'restarting';
    this.#save(rec);
    clearTimeout(this.#restartTimers.get(id));
    const timer = setTimeout(() => {
      this.#restartTimers.delete(id);
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
          if (again && again.state.status !== 'running' && this.#shouldRestart(again)) {
            if (again.state.status === 'created') again.state.status = 'exited';
            this.#scheduleRestart(again);
          }
        }
      }).catch(() => {});
    }, delay);
    timer.unref();
    this.#restartTimers.set(id, timer);
  }

  /** Stops a pending policy restart; returns whether one was pending. */
  #cancelRestart(rec: ContainerRecord): boolean {
    const timer = this.#restartTimers.get(rec.id);
    clearTimeout(timer);
    this.#restartTimers.delete(rec.id);
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
      await this.#o.rootfs.mount(id, lower, rec.rootfs);
      try {
        return await fn(filesystemView(rec, false), rec);
      } finally {
        await this.#o.rootfs.unmount(rec.rootfs).catch((err) => this.#o.log.warn({ err, container: id }, 'unmount failed'));
      }
    });
  }

  // ---- networks (issue 6) ----

  /** The container whose network a `container:NAME` mode joins (must be running). */
  /** Create-time checks of what a container refers to: links and `container:` namespace modes. */
  #validatePeers(spec: ContainerSpec): void {
    const h = spec.host;
    if (h.utsMode === 'host' && spec.hostname) throw new InvalidParameterError('Conflicting options: hostname and the UTS mode');
    for (const l of h.links ?? []) {
      try {
        this.get(l.name);
      } catch (e) {
        throw new InvalidParameterError(`could not get container for ${l.name}`, { cause: e });
      }
    }
    for (const [kind, mode] of [['pid', h.pidMode], ['ipc', h.ipcMode]] as const) {
      if (!mode?.startsWith('container:')) continue;
      const ref = mode.slice('container:'.length);
      try {
        this.get(ref);
      } catch (e) {
        throw new InvalidParameterError(`cannot join ${kind} namespace of container ${ref}: No such container: ${ref}`, { cause: e });
      }
    }
  }

  /** The linked containers of a legacy `--link`, each running (Docker refuses a link to a stopped one). */
  #linked(rec: ContainerRecord): { alias: string; peer: ContainerRecord; ip: string }[] {
    return (rec.host.links ?? []).map((l) => {
      const peer = this.get(l.name);
      if (peer.state.status !== 'running') throw new ConflictError(`Cannot link to a non running container: /${peer.name} AS /${rec.name}/${l.alias}`);
      const ip = Object.values(peer.network?.endpoints ?? {}).find((e) => e.ipAddress)?.ipAddress ?? '';
      return { alias: l.alias, peer, ip };
    });
  }

  /** What the spec needs from other containers: link variables, `container:` pid/ipc peers. */
  #specContext(rec: ContainerRecord): SpecContext {
    const peerPid = (mode: string | undefined) => {
      if (!mode?.startsWith('container:')) return undefined;
      const peer = this.get(mode.slice('container:'.length));
      if (peer.id === rec.id) throw new InvalidParameterError('cannot join own namespace');
      if (peer.state.status !== 'running' && peer.state.status !== 'paused') throw new ConflictError(`cannot join namespace of a non running container: container ${peer.id} is not running`);
      return peer.state.pid;
    };
    const linkEnv: string[] = [];
    for (const { alias, peer, ip } of this.#linked(rec)) {
      const prefix = alias.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
      linkEnv.push(`${prefix}_NAME=/${rec.name}/${alias}`);
      const ports = Object.keys(peer.config.exposedPorts ?? {})
        .map((p) => { const [port, proto = 'tcp'] = p.split('/'); return { port: Number(port), proto }; })
        .filter((p) => Number.isInteger(p.port))
        .sort((a, b) => a.port - b.port || a.proto.localeCompare(b.proto));
      if (ports[0] && ip) linkEnv.push(`${prefix}_PORT=${ports[0].proto}://${ip}:${ports[0].port}`);
      for (const p of ip ? ports : []) {
        const base = `${prefix}_PORT_${p.port}_${p.proto.toUpperCase()}`;
        linkEnv.push(`${base}=${p.proto}://${ip}:${p.port}`, `${base}_ADDR=${ip}`, `${base}_PORT=${p.port}`, `${base}_PROTO=${p.proto}`);
      }
      for (const e of peer.config.env) {
        const k = e.split('=')[0]!;
        if (k === 'HOME' || k === 'PATH' || k === 'HOSTNAME') continue;
        linkEnv.push(`${prefix}_ENV_${e}`);
      }
    }
    return { linkEnv, pidPeer: peerPid(rec.host.pidMode), ipcPeer: peerPid(rec.host.ipcMode) };
  }

  /** The record as networking sees it at start: legacy links become /etc/hosts entries (alias, then name). */
  #withLinkHosts(rec: ContainerRecord): ContainerRecord {
    if (!rec.host.links?.length) return rec;
    const extra = this.#linked(rec)
      .filter((l) => l.ip)
      .map((l) => `${l.alias === l.peer.name ? l.alias : `${l.alias} ${l.peer.name}`} ${l.peer.id.slice(0, 12)}:${l.ip}`);
    return new Proxy(rec, {
      get: (target, key, receiver) => (key === 'host' ? { ...target.host, extraHosts: [...(target.host.extraHosts ?? []), ...extra] } : Reflect.get(target, key, receiver)),
    });
  }

  /** DELETE /containers/{parent}/{alias}?link=1: drops a legacy link (takes effect at the next start, as in Docker). */
  removeLink(parentRef: string, alias: string): void {
    const rec = this.get(parentRef);
    const links = rec.host.links ?? [];
    const i = links.findIndex((l) => l.alias === alias);
    if (i < 0) throw new NoSuchContainerError(`${parentRef}/${alias}`);
    rec.host.links = links.filter((_, j) => j !== i);
    this.#save(rec);
  }

  #networkPeer(rec: ContainerRecord): ContainerRecord | undefined {
    const mode = rec.host.networkMode ?? '';
    if (!mode.startsWith('container:')) return undefined;
    const peer = this.get(mode.slice('container:'.length));
    if (peer.id === rec.id) throw new InvalidParameterError('cannot join own network namespace');
    if (peer.state.status !== 'running' && peer.state.status !== 'paused') {
      throw new ConflictError(`cannot join network namespace of a non running container: container ${peer.id} is ${peer.state.status === 'restarting' ? 'restarting' : 'not running'}`);
    }
    return peer;
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
    const fromStart = rec.state.status === 'created';
    // With `logs` (attach?logs=1&stream=1) the log so far is replayed first, then followed.
    // A run that began moments ago is followed from its start: clients that start a container
    // and then attach (compose v1's dockerpty with COMPOSE_INTERACTIVE_NO_CLI=1) would
    // otherwise lose what a short-lived process printed in between (even if it has exited).
    const started = Date.parse(rec.state.startedAt);
    const fresh = (rec.state.status === 'running' || rec.state.status === 'exited') && Date.now() - started < ATTACH_RECENT_START_MS;
    const since = fromStart || options.logs ? undefined : fresh ? new Date(started - 250) : new Date();
    // Not yet started: the stream lasts until the run that is about to begin ends.
    const untilExit = fromStart ? this.wait(rec.id, 'next-exit', signal).then(() => {}, () => {}) : this.#untilNotRunning(rec.id, signal);
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

  /** One sample of resource usage; undefined when the container is not running. */
  async stats(ref: string): Promise<{ sample?: CgroupStats; systemCpu: number; onlineCpus: number; at: Date }> {
    const rec = this.get(ref);
    const at = new Date();
    const systemCpu = await systemCpuUsage();
    if (rec.state.status !== 'running' && rec.state.status !== 'paused') return { systemCpu, onlineCpus: onlineCpus(), at };
    const sample = await readCgroupStats(rec.state.pid).catch(() => undefined);
    return { sample, systemCpu, onlineCpus: onlineCpus(), at };
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

  /**
   * Starts another process in a running container (the engine half of exec; ExecService keeps
   * the sessions). The process inherits the container's process settings, with the exec's
   * command, env, working dir, user, terminal and privileges on top. Docker's refusals: a
   * paused, restarting or stopped container.
   */
  /** Runs a health check command in the container and collects its exit code and output. */
  async #probe(id: string, argv: string[], timeoutMs: number): Promise<{ exitCode: number; output: string }> {
    const handle = await this.execProcess(id, { execId: `health-${generateId().slice(0, 16)}`, cmd: argv, tty: false, stdin: false, attach: true });
    const chunks: Buffer[] = [];
    handle.stdio?.onOutput((_stream, data) => chunks.push(data));
    // The output may still be draining when the exit code arrives.
    const drained = new Promise<void>((resolve) => (handle.stdio && !handle.stdio.ended ? handle.stdio.onEnd(resolve) : resolve()));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<number>((resolve) => {
      timer = setTimeout(() => resolve(-2), timeoutMs);
    });
    const code = await Promise.race([handle.exited, timedOut]);
    clearTimeout(timer);
    if (code === -2) {
      handle.stdio?.close();
      return { exitCode: -1, output: `Health check exceeded timeout (${Math.round(timeoutMs / 1000)}s)` };
    }
    await Promise.race([drained, new Promise((r) => setTimeout(r, 1000).unref())]);
    handle.stdio?.close();
    return { exitCode: code, output: Buffer.concat(chunks).toString('utf8') };
  }

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
    const base: OciProcess = spec.process ?? ({ cwd: '/', user: { uid: 0, gid: 0 } } as OciProcess);
    const process: OciProcess = { ...base, args: o.cmd, terminal: o.tty, env: mergeEnv(base.env ?? [], o.env ?? []) };
    delete process.consoleSize;
    if (o.tty && o.consoleSize) process.consoleSize = o.consoleSize;
    if (o.workingDir) process.cwd = o.workingDir;
    if (o.user) {
      const u = await resolveUser(rec.rootfs, o.user);
      process.user = { uid: u.uid, gid: u.gid, ...(u.additionalGids?.length ? { additionalGids: u.additionalGids } : {}) };
      process.env = mergeEnv(process.env ?? [], [`HOME=${u.home || '/'}`]);
    }
    if (o.privileged) {
      const all = [...hostLimits().capabilities];
      process.capabilities = { bounding: all, effective: all, permitted: all, inheritable: [], ambient: [] };
    }
    if (o.tty && !(process.env ?? []).some((e) => e.startsWith('TERM='))) process.env = [...(process.env ?? []), 'TERM=xterm'];
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

/** Image env first, then the container's, later keys replacing earlier ones in place. */
export function mergeEnv(base: string[], extra: string[]): string[] {
  const out: string[] = [];
  const index = new Map<string, number>();
  for (const e of [...base, ...extra]) {
    const key = e.includes('=') ? e.slice(0, e.indexOf('=')) : e;
    const i = index.get(key);
    if (i !== undefined) out[i] = e;
    else {
      index.set(key, out.length);
      out.push(e);
    }
  }
  return out;
}

/** Parses Docker's size strings (`10m`, `1g`, `500k`, `1024`). */
export function parseSize(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(v.trim());
  if (!m) throw new InvalidParameterError(`invalid size: '${v}'`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}

function validateHost(spec: ContainerSpec): void {
  const rp = spec.host.restartPolicy;
  if (rp && !['', 'no', 'always', 'on-failure', 'unless-stopped'].includes(rp.name)) {
    throw new InvalidParameterError(`invalid restart policy '${rp.name}'`);
  }
  if (rp && rp.name !== 'on-failure' && rp.maximumRetryCount > 0) {
    throw new InvalidParameterError(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  }
  if (spec.host.autoRemove && rp && rp.name !== '' && rp.name !== 'no') {
    throw new InvalidParameterError('can\'t create \'AutoRemove\' container with restart policy');
  }
  const lc = spec.host.logConfig;
  if (lc) validateLogConfig(lc.type || 'json-file', lc.config ?? {});
  if (spec.host.shmSize !== undefined && spec.host.shmSize !== null && (!Number.isInteger(spec.host.shmSize) || spec.host.shmSize < 0)) {
    throw new InvalidParameterError('SHM size can not be less than 0');
  }
  const cgns = spec.host.cgroupnsMode;
  if (cgns && cgns !== 'host' && cgns !== 'private') throw new InvalidParameterError(`invalid cgroup namespace mode: ${cgns}`);
  for (const opt of spec.host.securityOpt ?? []) {
    if (!/^(no-new-privileges(:true|:false|=true|=false)?|seccomp[=:].+|apparmor[=:].+|label[=:].+)$/s.test(opt)) {
      throw new InvalidParameterError(`Invalid --security-opt: "${opt}"`);
    }
  }
  // A custom seccomp profile is validated now, so a bad one is a 400 at create rather than a failed start.
  parseSecurityOpts(spec.host.securityOpt ?? []);
}

async function writeContainerFiles(rec: ContainerRecord): Promise<void> {
  const hostname = rec.config.hostname!;
  await writeFile(rec.hostnamePath, `${hostname}\n`);
  const hosts = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    ...(rec.host.extraHosts ?? []).map((h) => {
      const i = h.lastIndexOf(':');
      return i > 0 ? `${h.slice(i + 1)}\t${h.slice(0, i)}` : h;
    }),
  ];
  await writeFile(rec.hostsPath, hosts.join('\n') + '\n');
  await writeFile(rec.resolvConfPath, await resolvConf(rec));
}

/** The host's resolv.conf without loopback nameservers (unreachable from the container), as Docker does. */
async function resolvConf(rec: ContainerRecord): Promise<string> {
  let host = '';
  try {
    host = await readFile('/etc/resolv.conf', 'utf8');
  } catch {
    /* no resolv.conf on the host */
  }
  const lines = host.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1|localhost)/.test(l));
  const out: string[] = [];
  const dns = rec.host.dns ?? [];
  const search = rec.host.dnsSearch ?? [];
  const opts = rec.host.dnsOptions ?? [];
  for (const l of lines) {
    if (dns.length && /^\s*nameserver\s/.test(l)) continue;
    if (search.length && /^\s*(search|domain)\s/.test(l)) continue;
    if (opts.length && /^\s*options\s/.test(l)) continue;
    if (l.trim()) out.push(l);
  }
  for (const d of dns) out.push(`nameserver ${d}`);
  if (search.length) out.push(`search ${search.join(' ')}`);
  if (opts.length) out.push(`options ${opts.join(' ')}`);
  if (!out.some((l) => /^\s*nameserver\s/.test(l))) out.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4');
  return out.join('\n') + '\n';
}

/** The OCI LinuxResources for a container's limits (what `update` changes at run time). */
export function ociResources(h: HostSpec): Record<string, unknown> {
  const quota = h.nanoCpus ? Math.round((h.nanoCpus / 1e9) * 100_000) : h.cpuQuota;
  const period = h.nanoCpus ? 100_000 : h.cpuPeriod;
  const memory: Record<string, number> = {};
  if (h.memory) memory['limit'] = h.memory;
  if (h.memorySwap) memory['swap'] = h.memorySwap;
  const cpu: Record<string, unknown> = {};
  if (h.cpuShares) cpu['shares'] = h.cpuShares;
  if (quota) cpu['quota'] = quota;
  if (period) cpu['period'] = period;
  if (h.cpusetCpus) cpu['cpus'] = h.cpusetCpus;
  const out: Record<string, unknown> = { memory, cpu };
  if (h.pidsLimit !== undefined && h.pidsLimit !== 0) out['pids'] = { limit: h.pidsLimit > 0 ? h.pidsLimit : -1 };
  return out;
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
