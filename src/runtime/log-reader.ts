/**
 * Reads conmon's k8s-file logs: one record per line, `<RFC3339Nano> <stdout|stderr> <P|F> <content>`,
 * where `P` marks a partial line (the container wrote no newline yet; conmon still ends the
 * file line) and `F` a full one. Content never contains a newline.
 *
 * Rotation (`--log-size-max`, Docker's `--log-opt max-size`): when a write would push the file
 * past the limit, conmon opens `<path>.tmp` truncated and renames it over `<path>`: the file
 * starts again empty and the old content is gone. So berth offers max-size with one file
 * (Docker's max-file=1): `logs` shows what is in the current file. A follower holds the old
 * file open, drains it, and then continues at the start of the new one, so `logs -f` loses
 * nothing as long as at most one rotation happens between two of its reads; files rotated
 * away faster than that (tiny max-size, flood of output) are never seen (measured: 20 kB
 * max-size and 2000 lines in a burst, the follower saw ~25%). max-file > 1 (keeping rotated
 * files) is not provided by conmon 2.1 and not yet by berth.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { LogRecord } from './runtime.js';

export interface ReadLogsOptions {
  /** Only records at or after this time. */
  since?: Date;
  /** Only records before or at this time. */
  until?: Date;
  /** Only the last N lines present when reading starts (a line = its partial records plus the full one). */
  tail?: number;
  /**
   * Keep reading new records as they are written. Ends when `signal` aborts, or, when
   * `untilExit` is given, once it resolves (the container exited) and everything written
   * before that has been read.
   */
  follow?: boolean | { untilExit?: Promise<unknown> };
  signal?: AbortSignal;
  /** Safety-net re-check interval while following, ms (default 1000). */
  pollMs?: number;
}

const NL = 0x0a;
const SP = 0x20;

/** Parses one line of a k8s-file log (without its trailing newline). */
export function parseLogLine(line: Buffer): LogRecord | undefined {
  const s1 = line.indexOf(SP);
  if (s1 <= 0) return undefined;
  const s2 = line.indexOf(SP, s1 + 1);
  if (s2 < 0) return undefined;
  const timeText = line.subarray(0, s1).toString('latin1');
  const stream = line.subarray(s1 + 1, s2).toString('latin1');
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const tag = line[s2 + 1];
  const partial = tag === 0x50; /* P */
  if (!partial && tag !== 0x46 /* F */) return undefined;
  if (line.length > s2 + 2 && line[s2 + 2] !== SP) return undefined;
  const time = new Date(timeText);
  if (Number.isNaN(time.getTime())) return undefined;
  const content = line.subarray(Math.min(line.length, s2 + 3));
  const data = partial ? Buffer.from(content) : Buffer.concat([content, Buffer.from('\n')]);
  return { time, timeText, stream, data };
}

/** Docker's `--timestamps` form of a record's time: RFC3339Nano in UTC with `Z`. */
export function dockerTimestamp(record: LogRecord): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(record.timeText);
  if (m && (m[3] === 'Z' || m[3] === '+00:00')) return `${m[1]}${(m[2] ?? '').replace(/0+$/, '').replace(/\.$/, '')}Z`;
  return record.time.toISOString().replace('.000Z', 'Z');
}

function isComplete(r: LogRecord): boolean {
  return r.data.length > 0 && r.data[r.data.length - 1] === NL;
}

/** Splits buffered bytes into complete lines; returns the leftover partial bytes. */
function splitLines(buf: Buffer, onLine: (line: Buffer) => void): Buffer {
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(NL, start);
    if (nl < 0) break;
    if (nl > start) onLine(buf.subarray(start, nl));
    start = nl + 1;
  }
  return start === 0 ? buf : buf.subarray(start);
}

class FileCursor {
  private leftover: Buffer = Buffer.alloc(0);
  private pos = 0;
  private constructor(
    readonly fh: FileHandle,
    readonly ino: number,
  ) {}

  static async open(path: string): Promise<FileCursor | undefined> {
    try {
      const fh = await open(path, 'r');
      const st = await fh.stat();
      return new FileCursor(fh, st.ino);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Reads what is there now; returns the complete records. */
  async readAvailable(): Promise<LogRecord[]> {
    const out: LogRecord[] = [];
    const chunk = Buffer.allocUnsafe(256 * 1024);
    for (;;) {
      const { bytesRead } = await this.fh.read(chunk, 0, chunk.length, this.pos);
      if (bytesRead === 0) break;
      this.pos += bytesRead;
      const buf = this.leftover.length ? Buffer.concat([this.leftover, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      this.leftover = Buffer.from(
        splitLines(buf, (line) => {
          const r = parseLogLine(line);
          if (r) out.push(r);
        }),
      );
    }
    return out;
  }

  close(): Promise<void> {
    return this.fh.close().catch(() => {});
  }
}

function filterTime(r: LogRecord, o: ReadLogsOptions): boolean {
  if (o.since && r.time.getTime() < o.since.getTime()) return false;
  if (o.until && r.time.getTime() > o.until.getTime()) return false;
  return true;
}

/**
 * Keeps the records of the last `n` lines. A partial record belongs to the line of the next
 * record of the same stream, so going backwards, a partial is absorbed once a later record of
 * its stream was kept; anything else starts a line.
 */
function lastLines(records: LogRecord[], n: number): LogRecord[] {
  if (n <= 0) return [];
  let lines = 0;
  const kept = new Set<string>();
  let i = records.length;
  for (; i > 0; i--) {
    const r = records[i - 1]!;
    if (!isComplete(r) && kept.has(r.stream)) continue;
    if (lines === n) break;
    lines++;
    kept.add(r.stream);
  }
  return records.slice(i);
}

/**
 * Reads a k8s-file log as LogRecords (see ReadLogsOptions). Absent file: nothing (or, when
 * following, waits for it to appear).
 */
export async function* readLogs(path: string, options: ReadLogsOptions = {}): AsyncGenerator<LogRecord> {
  const follow = options.follow ?? false;
  const untilExit = typeof follow === 'object' ? follow.untilExit : undefined;
  const signal = options.signal;
  let cursor = await FileCursor.open(path);
  try {
    // 1. what is there now
    let first = cursor ? await cursor.readAvailable() : [];
    first = first.filter((r) => filterTime(r, options));
    if (options.tail !== undefined && options.tail >= 0) first = lastLines(first, options.tail);
    for (const r of first) {
      if (signal?.aborted) return;
      yield r;
    }
    if (!follow) return;

    // 2. follow
    let exited = false;
    untilExit?.then(
      () => (exited = true),
      () => (exited = true),
    );
    let wake: (() => void) | undefined;
    const poke = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const name = basename(path);
    let watcher: FSWatcher | undefined;
    try {
      watcher = watch(dirname(path), { persistent: false }, (_e, f) => {
        if (!f || f.toString() === name) poke();
      });
      watcher.on('error', () => {});
    } catch {
      // no watcher: the poll below still works
    }
    const onAbort = () => poke();
    signal?.addEventListener('abort', onAbort);
    untilExit?.then(poke, poke);
    try {
      for (;;) {
        if (signal?.aborted) return;
        const finalPass = exited;
        // drain the current file, then move to a replacement (rotation) if there is one
        for (;;) {
          if (cursor) {
            for (const r of await cursor.readAvailable()) {
              if (signal?.aborted) return;
              if (options.until && r.time.getTime() > options.until.getTime()) return;
              if (filterTime(r, options)) yield r;
            }
          }
          let st;
          try {
            st = await stat(path);
          } catch {
            break;
          }
          if (cursor && st.ino === cursor.ino) break;
          await cursor?.close();
          cursor = await FileCursor.open(path);
          if (!cursor) break;
        }
        if (finalPass) return;
        await new Promise<void>((resolve) => {
          const t = setTimeout(poke, options.pollMs ?? 1000);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
          if (signal?.aborted || exited) poke();
        });
      }
    } finally {
      watcher?.close();
      signal?.removeEventListener('abort', onAbort);
    }
  } finally {
    await cursor?.close();
  }
}
