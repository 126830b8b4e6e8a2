import { watch, type FSWatcher } from 'node:fs';
import { link, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from '../common/logger.js';
import type { LogRecord } from '../runtime/runtime.js';
import type { LogReadOptions, LogReader } from './collaborators.js';

/**
 * Docker's `max-size`/`max-file` for container logs. conmon writes `container.log` and, when
 * the next write would pass max-size, replaces it with a fresh file (its `--log-size-max`),
 * which would throw the old lines away. The rotator keeps a hard link, `container.log.live`,
 * to the file conmon writes; when conmon replaces the file, the link still holds the old one,
 * and the rotator moves it to `container.log.1`, shifting older files up to
 * `.<max-file - 1>` and dropping the oldest. conmon stays the only writer and keeps the bound
 * while berthd is down; the rotator catches up when it starts again.
 */
export interface RotationPolicy {
  maxSize: number;
  maxFile: number;
}

interface Watched extends RotationPolicy {
  logPath: string;
  watcher?: FSWatcher;
  busy: boolean;
  again: boolean;
}

export class LogRotator {
  readonly #log: Logger;
  readonly #watched = new Map<string, Watched>();

  constructor(options: { log: Logger }) {
    this.#log = options.log;
  }

  /** Starts keeping rotated files for a running container (max-file 1 needs nothing: conmon truncates). */
  watch(id: string, logPath: string, policy: RotationPolicy): void {
    if (policy.maxFile < 2 || this.#watched.has(id)) return;
    const w: Watched = { ...policy, logPath, busy: false, again: false };
    this.#watched.set(id, w);
    try {
      w.watcher = watch(dirname(logPath), (_event, file) => {
        if (!file || file === basename(logPath)) void this.#check(id, w);
      });
      w.watcher.on('error', () => {});
    } catch (err) {
      this.#log.warn({ err, container: id }, 'cannot watch the log directory; rotated logs will not be kept');
    }
    void this.#check(id, w);
  }

  /** Stops watching; the live link goes (the current file keeps the newest lines). */
  async unwatch(id: string): Promise<void> {
    const w = this.#watched.get(id);
    if (!w) return;
    this.#watched.delete(id);
    w.watcher?.close();
    await rm(liveLink(w.logPath), { force: true });
  }

  close(): void {
    for (const w of this.#watched.values()) w.watcher?.close();
    this.#watched.clear();
  }

  async #check(id: string, w: Watched): Promise<void> {
    if (w.busy) {
      w.again = true;
      return;
    }
    w.busy = true;
    try {
      do {
        w.again = false;
        await keepRotated(w.logPath, w.maxFile);
      } while (w.again && this.#watched.get(id) === w);
    } catch (err) {
      this.#log.warn({ err, container: id }, 'log rotation failed');
    } finally {
      w.busy = false;
    }
  }
}

function liveLink(path: string): string {
  return `${path}.live`;
}

/**
 * One step of the hard-link protocol: if the live link no longer names the file at `path`,
 * conmon has replaced it, so the linked (old) file becomes `path.1`; then link the current one.
 */
export async function keepRotated(path: string, maxFile: number): Promise<void> {
  const live = liveLink(path);
  const cur = await stat(path).catch(() => undefined);
  const held = await stat(live).catch(() => undefined);
  if (cur && held && cur.ino === held.ino) return;
  if (held) {
    await shiftFiles(path, maxFile);
    await rename(live, `${path}.1`);
  }
  if (cur) {
    await link(path, live).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST' && e.code !== 'ENOENT') throw e;
    });
  }
}

/** Shifts `path.1 … path.(maxFile-2)` up by one, dropping `path.(maxFile-1)`, to make room for a new `path.1`. */
async function shiftFiles(path: string, maxFile: number): Promise<void> {
  await rm(`${path}.${maxFile - 1}`, { force: true });
  for (let i = maxFile - 2; i >= 1; i--) {
    await rename(`${path}.${i}`, `${path}.${i + 1}`).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
}

/** The rotated files that exist for `path`, oldest first. */
export async function rotatedFiles(path: string, maxFile: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = Math.max(maxFile - 1, 1); i >= 1; i--) {
    const p = `${path}.${i}`;
    if (await stat(p).then(() => true, () => false)) out.push(p);
  }
  return out;
}

/**
 * Reads a container's log across its rotated files (oldest first) and the current file.
 * `tail` counts lines over all of them; `follow` applies to the current file.
 */
export async function* readRotatedLogs(read: LogReader, path: string, maxFile: number, options: LogReadOptions): AsyncGenerator<LogRecord> {
  const older = await rotatedFiles(path, maxFile);
  const plain = { since: options.since, until: options.until, signal: options.signal };
  if (options.tail === undefined) {
    for (const f of older) yield* read(f, plain);
    yield* read(path, options);
    return;
  }
  if (options.tail === 0) {
    yield* read(path, options);
    return;
  }
  let inCurrent = 0;
  for await (const r of read(path, { ...plain, tail: options.tail })) if (isLineEnd(r)) inCurrent++;
  const wanted = options.tail - inCurrent;
  if (wanted > 0 && older.length) {
    // Bounded: rotated files are at most max-size each.
    const ring: LogRecord[] = [];
    let lines = 0;
    for (const f of older) {
      for await (const r of read(f, plain)) {
        ring.push(r);
        if (isLineEnd(r)) lines++;
        while (lines > wanted) {
          const dropped = ring.shift()!;
          if (isLineEnd(dropped)) lines--;
        }
      }
    }
    yield* ring;
    yield* read(path, { ...options, tail: undefined });
    return;
  }
  yield* read(path, options);
}

function isLineEnd(r: LogRecord): boolean {
  return r.data.length > 0 && r.data[r.data.length - 1] === 0x0a;
}
