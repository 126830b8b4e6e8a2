/**
 * The low-level runtime contract: run one OCI bundle as one container, through a monitor
 * (conmon) that outlives berthd. Implementations are thin wrappers (libpod's OCIRuntime):
 * they keep no container state of their own beyond what the runtime and conmon keep on disk,
 * and they never touch images, networks or the database. The engine calls, in order:
 *
 *   create(bundle) → start(id) → [kill/pause/resume]* → (exit observed) → delete(id)
 *
 * `create` returns once the container's init process exists but has not run the user's
 * command; `start` runs it. An exit is observed through `watchExits` (live) or `readExit`
 * (after a berthd restart). All methods are idempotent where that makes sense: deleting a
 * container that the runtime does not know is not an error.
 */
import type { CgroupStats } from './cgroup-stats.js';
import type { ExecHandle, ExecProcessOptions, StdioConnection } from './stdio.js';

export interface ContainerRuntime {
  /** 'crun' or 'runc' (or 'fake'). */
  readonly name: string;
  create(options: CreateOptions): Promise<CreateResult>;
  start(id: string): Promise<void>;
  /** Sends a signal (name like 'SIGTERM'/'TERM' or number) to the container's init process (all processes with `all`). */
  kill(id: string, signal: string | number, options?: { all?: boolean }): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** Removes the runtime's record of the container (and conmon's files); `force` kills it first. */
  delete(id: string, options?: { force?: boolean }): Promise<void>;
  /** The runtime's view of a container; `stopped` with the exit code once it has exited. */
  state(id: string): Promise<RuntimeState>;
  /** The exit code recorded by the monitor, if the container has exited. */
  readExit(id: string): Promise<ExitInfo | undefined>;
  /** Calls `onExit` once for each container exit observed from now on. Returns a function that stops watching. */
  watchExits(onExit: (id: string, exit: ExitInfo) => void): () => void;
  /** Changes the resource limits of a created or running container (OCI LinuxResources). */
  update(id: string, resources: object): Promise<void>;
  /** Connects to the stdio of a running container whose bundle is `bundleDir` (see stdio.ts). */
  attach(id: string, bundleDir: string): Promise<StdioConnection>;
  /** Sets the window size of a running container's terminal. */
  resize(id: string, bundleDir: string, size: { height: number; width: number }): Promise<void>;
  /** Runs another process in a running container (`runtime exec`). */
  exec(options: ExecProcessOptions): Promise<ExecHandle>;
  /**
   * One sample of a container's resource usage, with the host's CPU counters it is measured
   * against (docker stats' cpu/precpu). `pid` is the container's init process as the engine
   * recorded it (cgroups are found through it); 0 for a container that is not running, which
   * gets the host's counters only. A container whose cgroups cannot be read has no `sample`.
   */
  stats(id: string, pid: number): Promise<StatsSample>;
}

export interface StatsSample {
  sample?: CgroupStats;
  /** The host's CPU time in all, in nanoseconds (/proc/stat). */
  systemCpu: number;
  onlineCpus: number;
}

export interface CreateOptions {
  id: string;
  /** Directory holding config.json; the spec's root.path must already be mounted. */
  bundleDir: string;
  /** Where the monitor writes the container's stdout/stderr (k8s-file format). */
  logPath: string;
  /** Rotate the log file beyond this many bytes (0 or undefined: no limit). */
  logMaxSize?: number;
  terminal: boolean;
  /** Keep stdin open for attach. */
  stdin: boolean;
  /** Close stdin when the attached client ends (Docker's StdinOnce); otherwise it stays open. */
  stdinOnce?: boolean;
}

export interface CreateResult {
  /** PID of the container's init process (in the host's pid namespace). */
  pid: number;
  /** PID of the monitor process. */
  monitorPid: number;
}

export type RuntimeStatus = 'created' | 'running' | 'paused' | 'stopped' | 'unknown';

export interface RuntimeState {
  status: RuntimeStatus;
  pid?: number;
}

export interface ExitInfo {
  exitCode: number;
  finishedAt: Date;
  oomKilled: boolean;
}

/** A line of container output as the monitor logs it. */
export interface LogRecord {
  time: Date;
  /** RFC3339Nano timestamp as written in the file (kept for exact `--timestamps` output). */
  timeText: string;
  stream: 'stdout' | 'stderr';
  /** The bytes of the line, including the trailing newline when the line was complete. */
  data: Buffer;
}
