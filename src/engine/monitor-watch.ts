/**
 * Watches the monitors (conmon) of running containers. A monitor killed (OOM killer, a stray
 * kill) leaves nothing to record the exit, reap or log the workload: a running container whose
 * monitor is gone is killed and reported exited, with 137 when it was killed here, the
 * runtime's code when its exit was recorded, 255 otherwise. The timer runs only while some
 * container runs (a timer that fires every 2 s kept berthd's idle RSS ~30 MB higher after the soak).
 */
import type { Logger } from '../common/logger.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import type { ContainerRecord } from './types.js';

/** How often running containers' monitors are checked for life. */
export const MONITOR_CHECK_MS = 2000;

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface MonitorWatchOptions {
  runtime: ContainerRuntime;
  log: Logger;
  /** The containers as the engine knows them now. */
  records(): Iterable<ContainerRecord>;
  /** Records the end of a container whose monitor is gone (the engine's exit handling, with the exit established here). */
  ended(id: string, exitCode: number): Promise<void>;
}

export class MonitorWatch {
  readonly #o: MonitorWatchOptions;
  #timer: NodeJS.Timeout | undefined;
  #enabled = false;
  #checking = false;

  constructor(options: MonitorWatchOptions) {
    this.#o = options;
  }

  /** Allows the timer from now on (after the engine's restore), and starts it. */
  enable(): void {
    this.#enabled = true;
    this.kick();
  }

  /** A container started: makes sure the timer runs. */
  kick(): void {
    if (this.#timer || !this.#enabled) return;
    this.#timer = setInterval(() => void this.check(), MONITOR_CHECK_MS);
    this.#timer.unref();
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#enabled = false;
  }

  /** One round: every running or paused container whose monitor's pid is gone is ended. */
  async check(): Promise<void> {
    if (this.#checking) return;
    const running = (r: ContainerRecord) => r.state.status === 'running' || r.state.status === 'paused';
    if (![...this.#o.records()].some(running)) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    this.#checking = true;
    try {
      for (const rec of [...this.#o.records()]) {
        if (!running(rec) || !rec.state.monitorPid || pidAlive(rec.state.monitorPid)) continue;
        const id = rec.id;
        this.#o.log.warn({ container: id, monitorPid: rec.state.monitorPid }, 'the container monitor (conmon) is gone: ending the container');
        let code = 255;
        const st = await this.#o.runtime.state(id).catch(() => undefined);
        if (st?.status === 'running' || st?.status === 'paused') {
          if (st.status === 'paused') await this.#o.runtime.resume(id).catch(() => {});
          await this.#o.runtime.kill(id, 'SIGKILL', { all: true }).catch(() => {});
          code = 137;
        }
        await this.#o.ended(id, code).catch((err) => this.#o.log.warn({ err, container: id }, 'recording the exit failed'));
      }
    } finally {
      this.#checking = false;
    }
  }
}
