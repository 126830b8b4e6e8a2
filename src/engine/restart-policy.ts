/**
 * Docker's restart policies (`--restart no|always|unless-stopped|on-failure[:N]`): which exits
 * bring a container back, and when. The delay starts at 100 ms and doubles with each restart
 * up to 1 min; a run of 10 s or more resets it. The container service owns the state (it puts
 * the container into `restarting` and starts it again); this module decides and keeps the timers.
 */
import type { ContainerRecord } from './types.js';

export const FIRST_DELAY_MS = 100;
export const MAX_DELAY_MS = 60_000;
/** A run at least this long resets the back-off. */
export const RESET_AFTER_MS = 10_000;

/** Whether the container's policy restarts it after the exit recorded in its state. */
export function shouldRestart(rec: Pick<ContainerRecord, 'host' | 'manuallyStopped' | 'state' | 'restartCount'>): boolean {
  const p = rec.host.restartPolicy;
  if (!p || rec.manuallyStopped) return false;
  if (p.name === 'always' || p.name === 'unless-stopped') return true;
  if (p.name === 'on-failure') return rec.state.exitCode !== 0 && (p.maximumRetryCount <= 0 || rec.restartCount < p.maximumRetryCount);
  return false;
}

/** The next back-off delay, from the previous one (undefined: first restart) and how long the last run lasted. */
export function nextRestartDelay(previous: number | undefined, ranMs: number): number {
  return ranMs >= RESET_AFTER_MS || previous === undefined ? FIRST_DELAY_MS : Math.min(previous * 2, MAX_DELAY_MS);
}

/** Pending policy restarts, one timer per container, and each container's current back-off. */
export class RestartScheduler {
  readonly #fire: (id: string) => void;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #backoff = new Map<string, number>();

  /** `fire(id)` is called when a container's restart is due. */
  constructor(fire: (id: string) => void) {
    this.#fire = fire;
  }

  /** Schedules the restart of a container that has just exited (replacing a pending one); returns the delay. */
  schedule(rec: Pick<ContainerRecord, 'id' | 'state'>, delayOverride?: number): number {
    const id = rec.id;
    const ran = Date.parse(rec.state.finishedAt) - Date.parse(rec.state.startedAt);
    const delay = delayOverride ?? nextRestartDelay(this.#backoff.get(id), ran);
    this.#backoff.set(id, delay);
    clearTimeout(this.#timers.get(id));
    const timer = setTimeout(() => {
      this.#timers.delete(id);
      this.#fire(id);
    }, delay);
    timer.unref();
    this.#timers.set(id, timer);
    return delay;
  }

  /** Drops a pending restart (stop, kill, rm). */
  cancel(id: string): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
  }

  close(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }
}
