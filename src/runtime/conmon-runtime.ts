import { watch, mkdirSync, readdirSync, type FSWatcher } from 'node:fs';
import { mkdir, readFile, readdir, rm, rmdir, stat, writeFile, access } from 'node:fs/promises';
import { signalNumber } from '../common/signals.js';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { CommandFailedError, SpawnRunner, type CommandRunner } from '../common/command-runner.js';
import {
  ContainerNotRunningError,
  InvalidParameterError,
  NoSuchContainerError,
  RuntimeError,
} from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { SpawnConmonLauncher, type ConmonLauncher } from './conmon-launcher.js';
import { connectAttachSocket, resizeTerminal } from './conmon-attach.js';
import { conmonExec } from './conmon-exec.js';
import type { ExecHandle, ExecProcessOptions, StdioConnection } from './stdio.js';
import type { OciSpec, OciState } from './oci-spec.js';
import type {
  ContainerRuntime,
  CreateOptions,
  CreateResult,
  ExitInfo,
  RuntimeState,
  RuntimeStatus,
  StatsSample,
} from './runtime.js';
import { onlineCpus, readCgroupStats, systemCpuUsage } from './cgroup-stats.js';

export interface ConmonRuntimeOptions {
  /** 'crun' (default) or 'runc'. */
  runtime?: 'crun' | 'runc';
  /** Path of the runtime binary; default /usr/bin/<runtime>. */
  runtimePath?: string;
  /** Path of conmon; default /usr/bin/conmon. */
  conmonPath?: string;
  /** The runtime's state dir (`crun --root DIR`), private to this daemon, e.g. <exec-root>/crun. */
  runtimeRoot: string;
  /** Where conmon's per-container files go: <execRoot>/exits/<id>, <execRoot>/ctr/<id>/{exit,oom,pidfile,conmon.pid}. */
  execRoot: string;
  runner?: CommandRunner;
  launcher?: ConmonLauncher;
  logger?: Logger;
  /** Safety-net poll of the exit dir for watchExits, in ms (default 2000). */
  exitPollMs?: number;
  /** How long create may take before conmon is killed (default 60 s). */
  createTimeoutMs?: number;
  /**
   * Containers have no cgroup of their own (rootless without delegation, issue 21): `kill --all`
   * finds no processes there, so the container's init is signalled instead (its private pid
   * namespace ends with it).
   */
  noCgroups?: boolean;
}

/** A failed `runtime create`, with the exit status `docker run` gives for it (127 not found, 126 not executable, 125 other). */
export class OciCreateError extends RuntimeError {
  constructor(
    message: string,
    readonly exitStatus: 125 | 126 | 127,
    readonly runtimeMessage: string,
  ) {
    super(message);
  }
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function checkId(id: string): void {
  if (!ID_RE.test(id)) throw new InvalidParameterError(`invalid container id for the runtime: ${JSON.stringify(id)}`);
}

/** Normalizes a signal: 9, '9', 'KILL', 'SIGKILL', 'sigkill' → 'KILL' / '9' as the runtime CLI takes it. */
export function normalizeSignal(signal: string | number): string {
  // One parser for Docker's spellings (SIGTERM, TERM, 15, RTMIN+3) in common/signals.ts; the
  // runtime is handed the number, which crun and runc both accept.
  const n = signalNumber(signal);
  if (n === undefined) throw new InvalidParameterError(`invalid signal: ${signal}`);
  return String(n);
}

/** Turns the runtime's stderr into one readable line, Docker's wording where there is one. */
export function describeCreateFailure(runtime: string, raw: string): { message: string; exitStatus: 125 | 126 | 127 } {
  const lines = raw.split('\n').map((l) => l.trim()).filter(Boolean);
  const texts = lines.map((l) => {
    // runc logs through logrus: time="..." level=error msg="..."
    const m = /\bmsg="((?:[^"\\]|\\.)*)"/.exec(l);
    if (m) {
      try {
        return JSON.parse(`"${m[1]}"`) as string;
      } catch {
        return m[1]!;
      }
    }
    // crun may log JSON lines ({"msg": ...}) when asked; accept both
    if (l.startsWith('{')) {
      try {
        const j = JSON.parse(l) as { msg?: string };
        if (j.msg) return j.msg;
      } catch {
        // fall through
      }
    }
    return l.replace(/^crun: /, '');
  });
  const text = texts.join('; ') || `${runtime} create failed`;
  let m = /executable file `([^`]*)` not found in \$PATH/.exec(text);
  if (m) return { message: `exec: "${m[1]}": executable file not found in $PATH`, exitStatus: 127 };
  m = /exec: "([^"]*)": executable file not found in \$PATH/.exec(text);
  if (m) return { message: `exec: "${m[1]}": executable file not found in $PATH`, exitStatus: 127 };
  m = /executable file `([^`]*)` not found: No such file or directory/.exec(text) ?? /open executable: `?([^`:]*)`?: No such file/.exec(text);
  if (m) return { message: `exec: "${m[1]}": stat ${m[1]}: no such file or directory`, exitStatus: 127 };
  if (/exec: "[^"]*": stat [^:]*: no such file or directory/.test(text)) return { message: text, exitStatus: 127 };
  if (/[Pp]ermission denied/.test(text) && /exec/.test(text)) return { message: text, exitStatus: 126 };
  return { message: text, exitStatus: 125 };
}

/**
 * ContainerRuntime over conmon + crun/runc, one conmon per container (what Podman does).
 * conmon holds the container's stdio, writes the k8s-file log, records the exit code in
 * `<execRoot>/exits/<id>` and keeps running when berthd dies. This class keeps no state of its
 * own: everything is on disk (runtime root, exec root), so a restarted berthd sees the same.
 */
export class ConmonRuntime implements ContainerRuntime {
  readonly name: string;
  private readonly runtimePath: string;
  private readonly conmonPath: string;
  private readonly runner: CommandRunner;
  private readonly launcher: ConmonLauncher;
  private readonly exitDir: string;
  private readonly ctrDir: string;
  private readonly socketDir: string;
  private dirsReady: Promise<void> | undefined;
  private readonly seccompCache = new Map<string, string>();

  constructor(private readonly options: ConmonRuntimeOptions) {
    this.name = options.runtime ?? 'crun';
    this.runtimePath = options.runtimePath ?? `/usr/bin/${this.name}`;
    this.conmonPath = options.conmonPath ?? '/usr/bin/conmon';
    this.runner = options.runner ?? new SpawnRunner();
    this.launcher = options.launcher ?? new SpawnConmonLauncher();
    this.exitDir = join(options.execRoot, 'exits');
    this.ctrDir = join(options.execRoot, 'ctr');
    this.socketDir = join(options.execRoot, 'sockets');
  }

  /** conmon's per-container directory (persist dir): exit, oom, pidfile, conmon.pid. */
  containerDir(id: string): string {
    return join(this.ctrDir, id);
  }

  /** conmon's attach socket (SOCK_SEQPACKET) and control fifos live in the bundle (`--full-attach`). */
  attachPaths(bundleDir: string): { attach: string; ctl: string; winsz: string } {
    return { attach: join(bundleDir, 'attach'), ctl: join(bundleDir, 'ctl'), winsz: join(bundleDir, 'winsz') };
  }

  private ensureDirs(): Promise<void> {
    this.dirsReady ??= Promise.all([
      mkdir(this.exitDir, { recursive: true, mode: 0o700 }),
      mkdir(this.ctrDir, { recursive: true, mode: 0o700 }),
      mkdir(this.socketDir, { recursive: true, mode: 0o700 }),
      mkdir(this.options.runtimeRoot, { recursive: true, mode: 0o700 }),
    ]).then(
      () => undefined,
      (e: unknown) => {
        this.dirsReady = undefined;
        throw e;
      },
    );
    return this.dirsReady;
  }

  private rt(...args: string[]): string[] {
    return [this.runtimePath, `--root=${this.options.runtimeRoot}`, ...args];
  }

  /** The conmon command line for a container (exported for unit tests). */
  conmonArgv(o: CreateOptions): string[] {
    const dir = this.containerDir(o.id);
    const argv = [
      this.conmonPath,
      '--api-version', '1',
      '-c', o.id,
      '-u', o.id,
      '-n', o.id,
      '-r', this.runtimePath,
      '-b', o.bundleDir,
      '-p', join(dir, 'pidfile'),
      '--persist-dir', dir,
      '--exit-dir', this.exitDir,
      '--socket-dir-path', this.socketDir,
      '--full-attach',
      '-l', `k8s-file:${o.logPath}`,
      '--conmon-pidfile', join(dir, 'conmon.pid'),
      '--runtime-arg', `--root=${this.options.runtimeRoot}`,
      '--sync',
      '--no-sync-log',
      '--log-level', 'error',
    ];
    if (o.logMaxSize && o.logMaxSize > 0) argv.push('--log-size-max', String(o.logMaxSize));
    if (o.terminal) argv.push('-t');
    // conmon's -i means "stdin is a pipe I may close when a client leaves": with a terminal,
    // stdin is the pty and must outlive a detaching client (podman passes one or the other).
    else if (o.stdin) argv.push('-i');
    // Docker closes a container's stdin when its attached client ends only with StdinOnce.
    if (o.stdin && !o.terminal && !o.stdinOnce) argv.push('--leave-stdin-open');
    return argv;
  }

  async create(o: CreateOptions): Promise<CreateResult> {
    checkId(o.id);
    await this.ensureDirs();
    const dir = this.containerDir(o.id);
    await Promise.all([mkdir(dir, { recursive: true, mode: 0o700 }), rm(join(this.exitDir, o.id), { force: true })]);
    const spec = await readSpec(o.bundleDir);
    const bpf = this.name === 'crun' && spec ? await this.useCachedSeccomp(o.bundleDir, spec) : undefined;
    // Where the runtime makes the container's cgroup: removed at delete if the runtime left it
    // (a container whose conmon was killed left an empty cgroup behind; issue 17 leak check).
    const cgroupsPath = spec?.linux?.cgroupsPath;
    const cgroupWrite = cgroupsPath && !this.options.noCgroups ? writeFile(join(dir, 'cgroup'), cgroupsPath) : Promise.resolve();
    const argv = this.conmonArgv(o);
    const result = await this.launcher.launch(argv, {
      // conmon writes a stray "oom" file into its cwd, so give it the container's dir. TZ=UTC
      // makes the log timestamps end in +00:00 (see log-reader.ts).
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', TZ: 'UTC' },
      cwd: dir,
      timeoutMs: this.options.createTimeoutMs ?? 60000,
    });
    // conmon only writes --conmon-pidfile when it double-forks; with --sync its pid is ours to record.
    const pidWrite = Promise.all([writeFile(join(dir, 'conmon.pid'), String(result.monitorPid)), cgroupWrite]);
    if (!result.sync) {
      await pidWrite.catch(() => {});
      const detail = result.stderr.trim().split('\n').slice(-3).join('; ');
      throw new RuntimeError(`conmon failed to create container ${o.id}${detail ? `: ${detail}` : ''}`);
    }
    if (result.sync.data <= 0) {
      await pidWrite.catch(() => {});
      const { message, exitStatus } = describeCreateFailure(this.name, result.sync.message ?? '');
      this.options.logger?.debug({ id: o.id, runtimeMessage: result.sync.message }, 'runtime create failed');
      throw new OciCreateError(`OCI runtime create failed: ${message}`, exitStatus, result.sync.message ?? '');
    }
    await pidWrite;
    if (bpf?.miss) void this.rememberSeccomp(o.id, bpf.key);
    return { pid: result.sync.data, monitorPid: result.monitorPid };
  }

  /**
   * crun compiles the seccomp profile with libseccomp for every container (~20 ms here; its
   * own on-disk cache is compiled out of Debian's build). crun accepts precompiled BPF in the
   * `run.oci.seccomp_bpf_data` annotation, so we keep the BPF that crun produced for a profile
   * (it leaves it in its state dir as seccomp.bpf) and hand it back for the same profile.
   * The cache lives in memory only, so a crun or libseccomp upgrade never meets stale BPF.
   */
  private async useCachedSeccomp(bundleDir: string, spec: OciSpec): Promise<{ key: string; miss: boolean } | undefined> {
    const configPath = join(bundleDir, 'config.json');
    const seccomp = spec.linux?.seccomp;
    if (!seccomp || spec.annotations?.['run.oci.seccomp_bpf_data']) return undefined;
    const key = createHash('sha256').update(JSON.stringify(seccomp)).digest('hex');
    const data = this.seccompCache.get(key);
    if (!data) return { key, miss: true };
    spec.annotations = { ...spec.annotations, 'run.oci.seccomp_bpf_data': data };
    await writeFile(configPath, JSON.stringify(spec), { mode: 0o600 });
    return { key, miss: false };
  }

  private async rememberSeccomp(id: string, key: string): Promise<void> {
    try {
      const bpf = await readFile(join(this.options.runtimeRoot, id, 'seccomp.bpf'));
      if (bpf.length > 0 && this.seccompCache.size < 64) this.seccompCache.set(key, bpf.toString('base64'));
    } catch {
      // crun did not leave it: no cache, no harm
    }
  }

  async start(id: string): Promise<void> {
    checkId(id);
    try {
      await this.runner.run(this.rt('start', id));
    } catch (e) {
      throw await this.explain(id, 'start', e);
    }
  }

  async kill(id: string, signal: string | number, options: { all?: boolean } = {}): Promise<void> {
    checkId(id);
    const sig = normalizeSignal(signal);
    const args = options.all && !this.options.noCgroups ? ['kill', '--all', id, sig] : ['kill', id, sig];
    try {
      await this.runner.run(this.rt(...args));
    } catch (e) {
      throw await this.explain(id, 'kill', e);
    }
  }

  async update(id: string, resources: object): Promise<void> {
    checkId(id);
    const file = join(this.containerDir(id), 'resources.json');
    await writeFile(file, JSON.stringify(resources), { mode: 0o600 });
    try {
      await this.runner.run(this.rt('update', '--resources', file, id));
    } catch (e) {
      throw await this.explain(id, 'update', e);
    } finally {
      await rm(file, { force: true });
    }
  }

  async pause(id: string): Promise<void> {
    checkId(id);
    try {
      await this.runner.run(this.rt('pause', id));
    } catch (e) {
      throw await this.explain(id, 'pause', e);
    }
  }

  async resume(id: string): Promise<void> {
    checkId(id);
    try {
      await this.runner.run(this.rt('resume', id));
    } catch (e) {
      throw await this.explain(id, 'resume', e);
    }
  }

  async delete(id: string, options: { force?: boolean } = {}): Promise<void> {
    checkId(id);
    if (!options.force) {
      // Hot path (`run --rm`): one runtime call; it refuses a running container itself.
      const r = await this.runner.run(this.rt('delete', id), { check: false });
      if (r.code !== 0 && !isNotExist(r.stderr)) {
        throw new RuntimeError(`cannot delete container ${id}: ${firstLine(r.stderr)}`);
      }
      await this.removeFiles(id, r.code === 0);
      return;
    }
    const st = await this.state(id);
    if (options.force && (st.status === 'running' || st.status === 'created' || st.status === 'paused')) {
      if (st.status === 'paused') await this.runner.run(this.rt('resume', id), { check: false });
      await this.runner.run(this.rt('kill', '--all', id, 'KILL'), { check: false });
      // Let conmon see the exit and write its exit file before its files are removed, so no
      // stray exit file is left behind (and conmon itself is gone).
      await this.waitForExitFile(id, 5000);
    }
    let deleted = false;
    if (st.status !== 'unknown') {
      const r = await this.runner.run(this.rt('delete', '--force', id), { check: false });
      if (r.code !== 0 && !isNotExist(r.stderr)) {
        throw new RuntimeError(`${this.name} delete ${id} failed: ${firstLine(r.stderr)}`);
      }
      deleted = r.code === 0;
    }
    await this.removeFiles(id, deleted);
  }

  /**
   * `runtimeDeleted`: the runtime's own delete succeeded and took the cgroup with it. Otherwise
   * (its state was gone, as when conmon was killed) the cgroup it made is removed here, if empty.
   */
  private async removeFiles(id: string, runtimeDeleted: boolean): Promise<void> {
    if (!runtimeDeleted) await removeEmptyCgroup(await readFile(join(this.containerDir(id), 'cgroup'), 'utf8').catch(() => ''));
    await Promise.all([
      rm(this.containerDir(id), { recursive: true, force: true }),
      rm(join(this.exitDir, id), { force: true }),
    ]);
  }

  async state(id: string): Promise<RuntimeState> {
    checkId(id);
    const r = await this.runner.run(this.rt('state', id), { check: false });
    if (r.code === 0) {
      try {
        const s = JSON.parse(r.stdout) as OciState;
        const status: RuntimeStatus =
          s.status === 'creating' ? 'created' : (['created', 'running', 'paused', 'stopped'] as const).includes(s.status as never) ? (s.status as RuntimeStatus) : 'unknown';
        return status === 'stopped' || !s.pid ? { status } : { status, pid: s.pid };
      } catch {
        return { status: 'unknown' };
      }
    }
    // The runtime forgot it (deleted, or its state dir was on a tmpfs that went away): an exit file means it ran and stopped.
    return (await this.readExit(id)) ? { status: 'stopped' } : { status: 'unknown' };
  }

  async readExit(id: string): Promise<ExitInfo | undefined> {
    checkId(id);
    const dir = this.containerDir(id);
    for (const file of [join(this.exitDir, id), join(dir, 'exit')]) {
      let text: string;
      let mtime: Date;
      try {
        const [t, st] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
        text = t;
        mtime = st.mtime;
      } catch {
        continue;
      }
      const code = Number.parseInt(text.trim(), 10);
      if (Number.isNaN(code)) continue; // being written
      const oomKilled = await access(join(dir, 'oom')).then(
        () => true,
        () => false,
      );
      return { exitCode: code, finishedAt: mtime, oomKilled };
    }
    return undefined;
  }

  watchExits(onExit: (id: string, exit: ExitInfo) => void): () => void {
    mkdirSync(this.exitDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.ctrDir, { recursive: true, mode: 0o700 });
    // id → mtime (ms) of the exit file already reported or already there when watching began
    const seen = new Map<string, number>();
    const inFlight = new Set<string>();
    let stopped = false;
    const initial = (() => {
      try {
        return readdirSync(this.exitDir);
      } catch {
        return [];
      }
    })();
    const baseline = Promise.all(
      initial.map(async (name) => {
        try {
          seen.set(name, (await stat(join(this.exitDir, name))).mtimeMs);
        } catch {
          // gone already
        }
      }),
    );

    const check = async (name: string) => {
      // glib writes <id>.XXXXXX and renames it into place: only real container dirs count.
      if (stopped || inFlight.has(name) || !ID_RE.test(name)) return;
      inFlight.add(name);
      try {
        await baseline;
        let mtimeMs: number;
        try {
          mtimeMs = (await stat(join(this.exitDir, name))).mtimeMs;
        } catch {
          seen.delete(name); // deleted: a later exit of the same id is new
          return;
        }
        if (seen.get(name) === mtimeMs) return;
        try {
          await access(this.containerDir(name));
        } catch {
          return;
        }
        const exit = await this.readExit(name);
        if (!exit || stopped || seen.get(name) === mtimeMs) return;
        seen.set(name, mtimeMs);
        onExit(name, exit);
      } catch (e) {
        this.options.logger?.warn({ err: e, id: name }, 'reading exit file failed');
      } finally {
        inFlight.delete(name);
      }
    };

    let watcher: FSWatcher | undefined;
    try {
      watcher = watch(this.exitDir, (_event, filename) => {
        if (filename) void check(filename.toString());
      });
      watcher.on('error', (e) => this.options.logger?.warn({ err: e }, 'exit dir watcher failed; polling only'));
    } catch (e) {
      this.options.logger?.warn({ err: e }, 'cannot watch exit dir; polling only');
    }
    const poll = setInterval(() => {
      let names: string[];
      try {
        names = readdirSync(this.exitDir);
      } catch {
        return;
      }
      for (const n of names) void check(n);
    }, this.options.exitPollMs ?? 2000);
    poll.unref();
    return () => {
      stopped = true;
      clearInterval(poll);
      watcher?.close();
    };
  }

  private async waitForExitFile(id: string, timeoutMs: number): Promise<void> {
    const file = join(this.exitDir, id);
    const exists = () => access(file).then(() => true, () => false);
    if (await exists()) return;
    await new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        w?.close();
        clearTimeout(t);
        clearInterval(p);
        resolve();
      };
      let w: FSWatcher | undefined;
      try {
        w = watch(this.exitDir, (_e, f) => {
          if (f?.toString() === id) void exists().then((x) => x && finish());
        });
      } catch {
        // poll only
      }
      const t = setTimeout(finish, timeoutMs);
      const p = setInterval(() => void exists().then((x) => x && finish()), 50);
      void exists().then((x) => x && finish());
    });
  }

  async attach(id: string, bundleDir: string): Promise<StdioConnection> {
    checkId(id);
    return connectAttachSocket(this.attachPaths(bundleDir).attach.replace(/\/attach$/, ''));
  }

  async resize(id: string, bundleDir: string, size: { height: number; width: number }): Promise<void> {
    checkId(id);
    await resizeTerminal(bundleDir, size.height, size.width);
  }

  /** Runs a process in a running container through conmon's exec mode (conmon-exec.ts). */
  async stats(_id: string, pid: number): Promise<StatsSample> {
    const systemCpu = await systemCpuUsage();
    if (!pid) return { systemCpu, onlineCpus: onlineCpus() };
    const sample = await readCgroupStats(pid).catch(() => undefined);
    return { sample, systemCpu, onlineCpus: onlineCpus() };
  }

  exec(options: ExecProcessOptions): Promise<ExecHandle> {
    checkId(options.containerId);
    return conmonExec(
      { conmonPath: this.conmonPath, runtimePath: this.runtimePath, runtimeRoot: this.options.runtimeRoot, sessionsDir: join(this.options.execRoot, 'exec') },
      options,
    );
  }

  /** Maps a failed runtime command to berth's error categories. */
  private async explain(id: string, verb: string, e: unknown): Promise<Error> {
    const stderr = e instanceof CommandFailedError ? e.result.stderr : String(e);
    if (isNotExist(stderr)) return new NoSuchContainerError(id);
    if (verb === 'kill' || verb === 'pause' || verb === 'resume') {
      const st = await this.state(id).catch(() => ({ status: 'unknown' as const }));
      if (st.status === 'stopped' || st.status === 'unknown') {
        return new ContainerNotRunningError(`Container ${id} is not running`, { cause: e });
      }
    }
    return new RuntimeError(`${this.name} ${verb} ${id} failed: ${firstLine(describeCreateFailure(this.name, stderr).message)}`, {
      cause: e,
    });
  }
}

function isNotExist(stderr: string): boolean {
  return /does not exist|No such file or directory|not found/i.test(stderr) && !/executable file/.test(stderr);
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}

/** The bundle's config.json, or undefined when it cannot be read (the runtime reports that). */
async function readSpec(bundleDir: string): Promise<OciSpec | undefined> {
  try {
    return JSON.parse(await readFile(join(bundleDir, 'config.json'), 'utf8')) as OciSpec;
  } catch {
    return undefined;
  }
}

/**
 * Removes a container's cgroup directories (cgroupfs layout: `path` under every hierarchy, or
 * under the unified mount) that the runtime left behind. rmdir only removes an empty cgroup;
 * one with processes stays (EBUSY) and so does anything that is not a plain path.
 */
export async function removeEmptyCgroup(path: string, root = '/sys/fs/cgroup'): Promise<void> {
  const rel = path.trim().replace(/^\/+/, '');
  if (!rel || rel.includes(':') || rel.split('/').includes('..')) return;
  const hierarchies = await readdir(root).catch(() => [] as string[]);
  await Promise.all([join(root, rel), ...hierarchies.map((h) => join(root, h, rel))].map((dir) => rmdir(dir).catch(() => undefined)));
}
