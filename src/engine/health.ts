/**
 * Docker's health checks: while a container runs, its test command runs every `interval`
 * (inside the container, like exec); `retries` consecutive failures make it `unhealthy`, a
 * success makes it `healthy`, failures within `startPeriod` do not count. The last five results
 * are kept for inspect; every status change is a `health_status: …` event.
 */
import type { ExecHandle } from '../runtime/stdio.js';
import type { HealthCheck, HealthLogEntry, HealthState } from './types.js';

const NS = 1_000_000;
export const DEFAULTS = { interval: 30_000, timeout: 30_000, startPeriod: 0, retries: 3 };
const MAX_LOG = 5;
const MAX_OUTPUT = 4096;

export interface ProbeResult {
  exitCode: number;
  output: string;
}

export interface HealthMonitorOptions {
  /** Runs the check inside the container; rejects (or times out) → failure. */
  probe(id: string, argv: string[], timeoutMs: number): Promise<ProbeResult>;
  /** Called after each result with the new state. */
  update(id: string, state: HealthState, changed: boolean): void;
}

/** The argv a health check runs, or undefined for none (`NONE`, empty). */
export function healthArgv(test: string[] | undefined): string[] | undefined {
  if (!test || test.length === 0) return undefined;
  switch (test[0]) {
    case 'NONE':
      return undefined;
    case 'CMD':
      return test.length > 1 ? test.slice(1) : undefined;
    case 'CMD-SHELL':
      return test.length > 1 ? ['/bin/sh', '-c', test.slice(1).join(' ')] : undefined;
    default:
      // An image config may hold a bare command (Docker treats it as CMD).
      return test;
  }
}

/** The container's check over the image's: fields the container leaves unset come from the image. */
export function mergeHealthCheck(image: HealthCheck | undefined, container: HealthCheck | undefined): HealthCheck | undefined {
  if (!image && !container) return undefined;
  const test = container?.test?.length ? container.test : image?.test;
  return {
    test,
    interval: container?.interval || image?.interval,
    timeout: container?.timeout || image?.timeout,
    startPeriod: container?.startPeriod || image?.startPeriod,
    retries: container?.retries || image?.retries,
  };
}

/**
 * The result of one check run as an exec (`handle`): its exit code and output, or -1 with
 * Docker's message when it outlives `timeoutMs` (its stdio is closed then). Output still
 * draining when the exit code arrives is waited for, up to 1 s.
 */
export async function collectProbe(handle: ExecHandle, timeoutMs: number): Promise<ProbeResult> {
  const chunks: Buffer[] = [];
  handle.stdio?.onOutput((_stream, data) => chunks.push(data));
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

export class HealthMonitor {
  readonly #o: HealthMonitorOptions;
  readonly #timers = new Map<string, NodeJS.Timeout>();

  constructor(options: HealthMonitorOptions) {
    this.#o = options;
  }

  /** Starts checking a container that has just started; returns its initial state, if any check is configured. */
  start(id: string, check: HealthCheck | undefined, startedAt: number): HealthState | undefined {
    this.stop(id);
    const argv = healthArgv(check?.test);
    if (!argv) return undefined;
    const interval = check!.interval ? check!.interval / NS : DEFAULTS.interval;
    const timeout = check!.timeout ? check!.timeout / NS : DEFAULTS.timeout;
    const startPeriod = check!.startPeriod ? check!.startPeriod / NS : DEFAULTS.startPeriod;
    const retries = check!.retries || DEFAULTS.retries;
    const state: HealthState = { status: 'starting', failingStreak: 0, log: [] };
    const tick = async () => {
      const start = new Date();
      let r: ProbeResult;
      try {
        r = await this.#o.probe(id, argv, timeout);
      } catch (err) {
        r = { exitCode: -1, output: (err as Error).message };
      }
      if (!this.#timers.has(id)) return; // stopped meanwhile
      const entry: HealthLogEntry = { start: start.toISOString(), end: new Date().toISOString(), exitCode: r.exitCode, output: r.output.slice(0, MAX_OUTPUT) };
      state.log = [...state.log, entry].slice(-MAX_LOG);
      const before = state.status;
      if (r.exitCode === 0) {
        state.status = 'healthy';
        state.failingStreak = 0;
      } else if (Date.now() - startedAt >= startPeriod || before !== 'starting') {
        state.failingStreak++;
        if (state.failingStreak >= retries) state.status = 'unhealthy';
      }
      this.#o.update(id, { ...state, log: [...state.log] }, before !== state.status);
      if (this.#timers.has(id)) this.#timers.set(id, setTimeout(() => void tick(), interval).unref());
    };
    this.#timers.set(id, setTimeout(() => void tick(), interval).unref());
    return { ...state };
  }

  stop(id: string): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
  }

  close(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }
}
