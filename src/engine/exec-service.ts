/**
 * Exec sessions (`docker exec`): create → start (attached or detached) → exit, observed by
 * inspect. Sessions live in memory, as dockerd keeps them: they are lost with a daemon
 * restart, and dropped when their container is removed. The process itself runs through the
 * runtime's exec (conmon's exec mode, runtime/conmon-exec.ts), so its stdio is served the same
 * way as a container's and its exit code comes from the monitor.
 */
import { ConflictError, InvalidParameterError, NoSuchExecError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { generateId } from '../common/ids.js';
import type { ExecHandle, StdioConnection } from '../runtime/stdio.js';
import type { ContainerService } from './container-service.js';
import type { EventBus } from './events.js';
import { parseDetachKeys } from './attach.js';

export interface ExecConfig {
  cmd: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  privileged?: boolean;
  tty?: boolean;
  attachStdin?: boolean;
  attachStdout?: boolean;
  attachStderr?: boolean;
  detachKeys?: string;
  consoleSize?: { height: number; width: number };
}

export interface ExecRecord {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  /** Set once the process has exited (or failed to start: 126/127). */
  exitCode: number | null;
  pid: number;
  started: boolean;
}

export interface ExecServiceOptions {
  containers: ContainerService;
  events?: EventBus;
  log: Logger;
  /** Finished sessions kept for inspect (oldest dropped first); default 1000. */
  maxFinished?: number;
}

/** A started session: its stdio when attached, and its exit. */
export interface ExecStarted {
  record: ExecRecord;
  stdio?: StdioConnection;
  /** Resolves when the process has exited and the record holds its exit code. */
  exited: Promise<number>;
}

export class ExecService {
  readonly #o: ExecServiceOptions;
  readonly #execs = new Map<string, ExecRecord>();
  readonly #handles = new Map<string, ExecHandle>();
  readonly #unsubscribe?: () => void;

  constructor(options: ExecServiceOptions) {
    this.#o = options;
    this.#unsubscribe = options.events?.subscribe((ev) => {
      if (ev.type !== 'container' || ev.action !== 'destroy') return;
      for (const [id, r] of this.#execs) if (r.containerId === ev.id) this.#execs.delete(id);
    });
  }

  close(): void {
    this.#unsubscribe?.();
  }

  /** POST /containers/{id}/exec: checks the container can exec now and records the session. */
  create(containerRef: string, config: ExecConfig): string {
    const rec = this.#o.containers.get(containerRef);
    if (!Array.isArray(config.cmd) || config.cmd.length === 0 || config.cmd.some((a) => typeof a !== 'string')) {
      throw new InvalidParameterError('No exec command specified');
    }
    if (config.detachKeys) parseDetachKeys(config.detachKeys);
    const st = rec.state.status;
    if (st === 'paused') throw new ConflictError(`Container ${rec.id} is paused, unpause the container before exec`);
    if (st === 'restarting') throw new ConflictError(`Container ${rec.id} is restarting, wait until the container is running`);
    if (st !== 'running') throw new ConflictError(`Container ${rec.id} is not running`);
    const id = generateId();
    this.#execs.set(id, { id, containerId: rec.id, config: { ...config }, running: false, exitCode: null, pid: 0, started: false });
    this.#o.events?.publish('container', `exec_create: ${config.cmd.join(' ')}`, rec.id, { name: rec.name, image: rec.image, execID: id });
    this.#prune();
    return id;
  }

  get(id: string): ExecRecord {
    const r = this.#execs.get(id);
    if (!r) throw new NoSuchExecError(id);
    return r;
  }

  /**
   * POST /exec/{id}/start. `attach` connects to the process's stdio before it runs. A process
   * the runtime cannot start (command not found) records exit code 127 (126 otherwise) and
   * rethrows, so the caller can show Docker's message.
   */
  async start(id: string, options: { attach: boolean; tty?: boolean; consoleSize?: { height: number; width: number } }): Promise<ExecStarted> {
    const r = this.get(id);
    if (r.running) throw new ConflictError(`Error: Exec command ${id} is already running`);
    if (r.started) throw new ConflictError(`Error: Exec command ${id} has already run`);
    const tty = options.tty ?? r.config.tty ?? false;
    r.started = true;
    const c = this.#o.containers.get(r.containerId);
    let handle: ExecHandle;
    try {
      handle = await this.#o.containers.execProcess(r.containerId, {
        execId: id,
        cmd: r.config.cmd,
        env: r.config.env,
        workingDir: r.config.workingDir,
        user: r.config.user,
        privileged: r.config.privileged,
        tty,
        stdin: options.attach && (r.config.attachStdin ?? false),
        attach: options.attach,
        consoleSize: options.consoleSize ?? r.config.consoleSize,
      });
    } catch (err) {
      const status = (err as { exitStatus?: number }).exitStatus;
      if (status === 126 || status === 127) r.exitCode = status;
      else r.started = false; // a refusal (container stopped meanwhile): the session may be started later
      throw err;
    }
    r.running = true;
    r.pid = handle.pid;
    this.#handles.set(id, handle);
    this.#o.events?.publish('container', `exec_start: ${r.config.cmd.join(' ')}`, r.containerId, { name: c.name, image: c.image, execID: id });
    const exited = handle.exited.then((code) => {
      r.running = false;
      r.exitCode = code;
      this.#handles.delete(id);
      this.#o.events?.publish('container', 'exec_die', r.containerId, { name: c.name, image: c.image, execID: id, exitCode: String(code) });
      return code;
    });
    return { record: r, stdio: handle.stdio, exited };
  }

  /** POST /exec/{id}/resize */
  async resize(id: string, size: { height: number; width: number }): Promise<void> {
    const r = this.get(id);
    const h = this.#handles.get(id);
    if (!h || !r.running) throw new ConflictError(`Exec ${id} is not running`);
    if (!r.config.tty) return;
    await h.resize(size.height, size.width);
  }

  #prune(): void {
    const max = this.#o.maxFinished ?? 1000;
    const finished = [...this.#execs.values()].filter((r) => !r.running && (r.exitCode !== null || !r.started));
    for (let i = 0; i < finished.length - max; i++) this.#execs.delete(finished[i]!.id);
  }
}
