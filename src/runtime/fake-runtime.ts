import { readFile, appendFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { basename, join } from 'node:path';
import { ConflictError, ContainerNotRunningError, NoSuchContainerError, RuntimeError } from '../common/errors.js';
import { OciCreateError, normalizeSignal } from './conmon-runtime.js';
import type { OciSpec } from './oci-spec.js';
import type { CgroupStats } from './cgroup-stats.js';
import type { ContainerRuntime, CreateOptions, CreateResult, ExitInfo, RuntimeState, RuntimeStatus, StatsSample } from './runtime.js';
import type { ExecHandle, ExecProcessOptions, StdioConnection } from './stdio.js';

/** How a simulated container behaves. */
export interface FakeBehaviour {
  /** Exit by itself with this code (after `exitAfterMs`, default 0). Undefined: run until killed. */
  exitCode?: number;
  exitAfterMs?: number;
  /** Output written to the log file (k8s-file format) when started. */
  output?: { stream: 'stdout' | 'stderr'; data: string }[];
  /** Make create (or start) fail with this error. */
  createError?: Error;
  startError?: Error;
  /** Report the exit as an OOM kill. */
  oomKilled?: boolean;
  /** Signals the process ignores (PID 1 without handlers ignores everything but KILL/STOP). */
  ignoreSignals?: string[];
}

interface FakeContainer {
  id: string;
  options: CreateOptions;
  status: RuntimeStatus;
  pid: number;
  behaviour: FakeBehaviour;
  exit?: ExitInfo;
  timer?: NodeJS.Timeout;
}

const KNOWN_COMMANDS = new Set(['true', 'false', 'sleep', 'sh', 'echo', 'cat', 'top', 'ls', 'env', 'hostname', 'id', 'ps']);

/**
 * Derives a behaviour from the bundle's command, so the contract suite runs unchanged on the
 * fake: `true`, `false`, `sleep N` (ignores TERM as PID 1 does), `echo ...`, and
 * `sh -c '...'` with `echo X`, `echo X >&2`, `exit N` statements; unknown programs fail at
 * create like crun does.
 */
export function interpretCommand(args: readonly string[]): FakeBehaviour {
  const cmd = basename(args[0] ?? '');
  if (!KNOWN_COMMANDS.has(cmd)) {
    return {
      createError: new OciCreateError(`OCI runtime create failed: exec: "${args[0]}": executable file not found in $PATH`, 127, ''),
    };
  }
  if (cmd === 'true') return { exitCode: 0 };
  if (cmd === 'false') return { exitCode: 1 };
  if (cmd === 'echo') return { exitCode: 0, output: [{ stream: 'stdout', data: `${args.slice(1).join(' ')}\n` }] };
  if (cmd === 'sleep') {
    const n = Number(args[1] ?? 0);
    return { exitCode: 0, exitAfterMs: n * 1000, ignoreSignals: ['TERM', 'INT', 'HUP', 'QUIT', 'USR1', 'USR2'] };
  }
  if (cmd === 'sh' && args[1] === '-c') {
    const output: FakeBehaviour['output'] = [];
    for (const stmt of (args[2] ?? '').split(/;|&&|\n/).map((s) => s.trim()).filter(Boolean)) {
      let m = /^echo\s+(.*?)\s*>&2$/.exec(stmt);
      if (m) {
        output.push({ stream: 'stderr', data: `${m[1]!.replace(/^['"]|['"]$/g, '')}\n` });
        continue;
      }
      m = /^echo\s*(.*)$/.exec(stmt);
      if (m) {
        output.push({ stream: 'stdout', data: `${m[1]!.replace(/^['"]|['"]$/g, '')}\n` });
        continue;
      }
      m = /^exit\s+(\d+)$/.exec(stmt);
      if (m) return { exitCode: Number(m[1]), output };
      if (/^sleep\s+\d+$/.test(stmt)) return { output, ignoreSignals: ['TERM', 'INT', 'HUP', 'QUIT'] };
    }
    return { exitCode: 0, output };
  }
  return { exitCode: 0 };
}

function timestamp(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000000+00:00');
}

/**
 * An in-memory ContainerRuntime for engine unit tests: no processes, no root. Behaviour comes
 * from `script(id, …)`, else the constructor's `behaviour` hook, else the bundle's command
 * (see interpretCommand). Exits are delivered through watchExits like the real one.
 */
export class FakeRuntime implements ContainerRuntime {
  readonly name = 'fake';
  /** Every call, as "verb id [args]", for assertions. */
  readonly calls: string[] = [];
  private readonly containers = new Map<string, FakeContainer>();
  private readonly scripts = new Map<string, FakeBehaviour>();
  private readonly watchers = new Set<(id: string, exit: ExitInfo) => void>();
  private nextPid = 10000;

  constructor(private readonly options: { behaviour?: (o: CreateOptions, spec?: OciSpec) => FakeBehaviour | undefined } = {}) {}

  /** Sets the behaviour of the container `id` (before create). */
  script(id: string, behaviour: FakeBehaviour): void {
    this.scripts.set(id, behaviour);
  }

  /** Makes a running container exit now with `exitCode`. */
  exit(id: string, exitCode: number, oomKilled = false): void {
    const c = this.containers.get(id);
    if (c && (c.status === 'running' || c.status === 'paused' || c.status === 'created')) this.finish(c, exitCode, oomKilled);
  }

  async create(o: CreateOptions): Promise<CreateResult> {
    this.calls.push(`create ${o.id}`);
    const existing = this.containers.get(o.id);
    if (existing) throw new ConflictError(`container ${o.id} already exists in the runtime`);
    let spec: OciSpec | undefined;
    try {
      spec = JSON.parse(await readFile(join(o.bundleDir, 'config.json'), 'utf8')) as OciSpec;
    } catch {
      spec = undefined;
    }
    const behaviour =
      this.scripts.get(o.id) ?? this.options.behaviour?.(o, spec) ?? interpretCommand(spec?.process?.args ?? ['true']);
    if (behaviour.createError) throw behaviour.createError;
    const c: FakeContainer = { id: o.id, options: o, status: 'created', pid: this.nextPid++, behaviour };
    this.containers.set(o.id, c);
    return { pid: c.pid, monitorPid: c.pid - 1 };
  }

  async start(id: string): Promise<void> {
    this.calls.push(`start ${id}`);
    const c = this.get(id);
    if (c.status !== 'created') throw new RuntimeError(`cannot start container ${id} in state ${c.status}`);
    if (c.behaviour.startError) throw c.behaviour.startError;
    c.status = 'running';
    const now = new Date();
    for (const out of c.behaviour.output ?? []) {
      const lines = out.data.split('\n');
      const text = lines
        .map((l, i) => (i === lines.length - 1 ? (l ? `${timestamp(now)} ${out.stream} P ${l}\n` : '') : `${timestamp(now)} ${out.stream} F ${l}\n`))
        .join('');
      await appendFile(c.options.logPath, text);
    }
    if (c.behaviour.exitCode !== undefined) {
      const code = c.behaviour.exitCode;
      const after = c.behaviour.exitAfterMs ?? 0;
      c.timer = setTimeout(() => this.finish(c, code, c.behaviour.oomKilled ?? false), after);
    }
  }

  async kill(id: string, signal: string | number, options: { all?: boolean } = {}): Promise<void> {
    const sig = normalizeSignal(signal);
    this.calls.push(`kill ${id} ${sig}${options.all ? ' all' : ''}`);
    const c = this.get(id);
    if (c.status === 'stopped') throw new ContainerNotRunningError(`Container ${id} is not running`);
    const num = Number(sig);
    const name = Object.entries(osConstants.signals).find(([, n]) => n === num)?.[0]?.slice(3) ?? sig;
    if (name === 'KILL' || !(c.behaviour.ignoreSignals ?? []).includes(name)) {
      if (c.status === 'paused' && name !== 'KILL') return; // frozen: delivered on resume; keep it simple
      this.finish(c, 128 + num, false);
    }
  }

  async update(id: string, resources: object): Promise<void> {
    this.calls.push(`update ${id} ${JSON.stringify(resources)}`);
  }

  async pause(id: string): Promise<void> {
    this.calls.push(`pause ${id}`);
    const c = this.get(id);
    if (c.status !== 'running') throw new ContainerNotRunningError(`Container ${id} is not running`);
    c.status = 'paused';
  }

  async resume(id: string): Promise<void> {
    this.calls.push(`resume ${id}`);
    const c = this.get(id);
    if (c.status !== 'paused') throw new RuntimeError(`Container ${id} is not paused`);
    c.status = 'running';
  }

  async delete(id: string, options: { force?: boolean } = {}): Promise<void> {
    this.calls.push(`delete ${id}${options.force ? ' force' : ''}`);
    const c = this.containers.get(id);
    if (!c) return;
    if (c.status === 'running' || c.status === 'paused') {
      if (!options.force) throw new RuntimeError(`cannot delete container ${id}: it is ${c.status}`);
      this.finish(c, 137, false);
    }
    clearTimeout(c.timer);
    this.containers.delete(id);
  }

  async state(id: string): Promise<RuntimeState> {
    const c = this.containers.get(id);
    if (!c) return { status: 'unknown' };
    return c.status === 'stopped' ? { status: 'stopped' } : { status: c.status, pid: c.pid };
  }

  async readExit(id: string): Promise<ExitInfo | undefined> {
    return this.containers.get(id)?.exit;
  }

  watchExits(onExit: (id: string, exit: ExitInfo) => void): () => void {
    this.watchers.add(onExit);
    return () => {
      this.watchers.delete(onExit);
    };
  }

  /** Attach connections by container id: they echo stdin to stdout (like `cat`) and end at exit. */
  private readonly stdio = new Map<string, Set<FakeStdio>>();
  /** Terminal sizes set through resize, by container id (and exec id). */
  readonly sizes = new Map<string, { height: number; width: number }>();

  async attach(id: string, _bundleDir: string): Promise<StdioConnection> {
    this.calls.push(`attach ${id}`);
    const c = this.get(id);
    if (c.status !== 'running' && c.status !== 'paused' && c.status !== 'created') throw new ContainerNotRunningError(`Container ${id} is not running`);
    const conn = new FakeStdio();
    let set = this.stdio.get(id);
    if (!set) this.stdio.set(id, (set = new Set()));
    set.add(conn);
    conn.onEnd(() => set!.delete(conn));
    return conn;
  }

  async resize(id: string, _bundleDir: string, size: { height: number; width: number }): Promise<void> {
    this.calls.push(`resize ${id} ${size.height}x${size.width}`);
    const c = this.get(id);
    if (c.status !== 'running' && c.status !== 'paused') throw new ContainerNotRunningError(`Container ${id} is not running`);
    this.sizes.set(id, size);
  }

  /** An exec runs the fake's command interpretation: exit code and output, or an echo for `cat`. */
  async exec(o: ExecProcessOptions): Promise<ExecHandle> {
    const args = o.process.args ?? [];
    this.calls.push(`exec ${o.containerId} ${args.join(' ')}`);
    const c = this.get(o.containerId);
    if (c.status !== 'running') throw new ContainerNotRunningError(`Container ${o.containerId} is not running`);
    const b = interpretCommand(args);
    if (b.createError) throw b.createError;
    const stdio = o.attach ? new FakeStdio(basename(args[0] ?? '') === 'cat' ? 'echo' : 'sink') : undefined;
    let done!: (code: number) => void;
    const exited = new Promise<number>((r) => (done = r));
    if (basename(args[0] ?? '') === 'cat' && stdio) {
      stdio.onStdinEnd(() => {
        stdio.close();
        done(0);
      });
    } else {
      setImmediate(() => {
        for (const out of b.output ?? []) stdio?.emit(out.stream, Buffer.from(out.data));
        stdio?.close();
        done(b.exitCode ?? 0);
      });
    }
    return { pid: this.nextPid++, stdio, exited, resize: async (height, width) => void this.sizes.set(o.execId, { height, width }) };
  }

  private readonly samples = new Map<string, Partial<CgroupStats>>();
  /** The host's CPU counter the fake reports: 1 s of CPU per stats call, on 2 CPUs. */
  private systemCpu = 0;

  /** Sets what `stats` reports for the container `id` while it runs (the rest of the sample is zeros). */
  setStats(id: string, sample: Partial<CgroupStats>): void {
    this.samples.set(id, sample);
  }

  async stats(id: string, pid: number): Promise<StatsSample> {
    this.calls.push(`stats ${id}`);
    this.systemCpu += 1e9;
    const c = this.containers.get(id);
    if (!pid || !c || (c.status !== 'running' && c.status !== 'paused')) return { systemCpu: this.systemCpu, onlineCpus: 2 };
    const sample: CgroupStats = {
      cpuTotal: 0, cpuUser: 0, cpuKernel: 0, perCpu: [0, 0],
      throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0 },
      memoryUsage: 0, memoryMaxUsage: 0, memoryLimit: 0, memoryStat: {},
      pidsCurrent: 1, pidsLimit: 0, blkio: [], networks: {},
      ...this.samples.get(id),
    };
    return { sample, systemCpu: this.systemCpu, onlineCpus: 2 };
  }

  private get(id: string): FakeContainer {
    const c = this.containers.get(id);
    if (!c) throw new NoSuchContainerError(id);
    return c;
  }

  private finish(c: FakeContainer, exitCode: number, oomKilled: boolean): void {
    clearTimeout(c.timer);
    c.status = 'stopped';
    c.exit = { exitCode, finishedAt: new Date(), oomKilled };
    const exit = c.exit;
    for (const conn of this.stdio.get(c.id) ?? []) conn.close();
    // deliver asynchronously, like the file watcher does
    setImmediate(() => {
      for (const w of this.watchers) w(c.id, exit);
    });
  }
}

/** An in-memory attach connection: `echo` mode copies stdin to stdout (a `cat`). */
class FakeStdio implements StdioConnection {
  #sink?: (stream: 'stdout' | 'stderr', data: Buffer) => void;
  #pending: Array<['stdout' | 'stderr', Buffer]> = [];
  #endFns: Array<() => void> = [];
  #stdinEndFns: Array<() => void> = [];
  #ended = false;
  constructor(private readonly mode: 'echo' | 'sink' = 'echo') {}
  get ended(): boolean {
    return this.#ended;
  }
  write(data: Buffer): void {
    if (!this.#ended && this.mode === 'echo') this.emit('stdout', data);
  }
  closeStdin(): void {
    for (const fn of this.#stdinEndFns.splice(0)) fn();
  }
  onStdinEnd(fn: () => void): void {
    this.#stdinEndFns.push(fn);
  }
  close(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const fn of this.#endFns.splice(0)) fn();
  }
  emit(stream: 'stdout' | 'stderr', data: Buffer): void {
    if (this.#ended) return;
    if (this.#sink) this.#sink(stream, data);
    else this.#pending.push([stream, data]);
  }
  onOutput(fn: (stream: 'stdout' | 'stderr', data: Buffer) => void): void {
    this.#sink = fn;
    for (const [s, d] of this.#pending.splice(0)) fn(s, d);
  }
  onEnd(fn: () => void): void {
    if (this.#ended) queueMicrotask(fn);
    else this.#endFns.push(fn);
  }
}
