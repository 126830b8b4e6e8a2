import type { Logger } from '../../common/logger.js';
import type { LogReader } from '../collaborators.js';
import { logDriver } from './drivers.js';
import { openFluentdSink } from './fluentd.js';
import { openJournaldSink, JOURNALD_SOCKET } from './journald.js';
import type { LogSink, SinkContext } from './sink.js';
import { openSyslogSink } from './syslog.js';

/**
 * Forwards a running container's output to a remote log driver (syslog, journald, fluentd).
 *
 * conmon stays the only writer: it writes the container's local log file as for every driver.
 * The shipper opens the driver's connection before the container starts (so an unreachable
 * server fails the start, as with Docker), then follows that file from the start time with the
 * same reader as `logs --follow` (rotation included) and sends each record, in order, until the
 * container has exited and the file is drained. The file doubles as Docker's dual-logging cache.
 *
 * Known limit: records written while berthd is down are not forwarded; after a daemon restart
 * a running container's shipping resumes with what is written from then on (they stay in the
 * local file).
 */
export class LogShipper {
  readonly #readLogs: LogReader;
  readonly #log: Logger;
  readonly #journaldSocket: string;
  readonly #active = new Map<string, { abort: AbortController; done: Promise<void>; sink: LogSink }>();

  constructor(options: { readLogs: LogReader; log: Logger; journaldSocket?: string }) {
    this.#readLogs = options.readLogs;
    this.#log = options.log;
    this.#journaldSocket = options.journaldSocket ?? JOURNALD_SOCKET;
  }

  /** The driver's connection, or undefined for drivers that keep logs locally only. */
  async open(lc: { type: string; config: Record<string, string> } | undefined, ctx: SinkContext): Promise<LogSink | undefined> {
    const type = lc?.type || 'json-file';
    if (!logDriver(type).remote) return undefined;
    const config = lc?.config ?? {};
    if (type === 'syslog') return openSyslogSink(config, ctx);
    if (type === 'fluentd') return openFluentdSink(config, ctx);
    if (type === 'journald') return openJournaldSink(config, ctx, this.#journaldSocket);
    return undefined;
  }

  /** Ships records written from `since` on, until `untilExit` resolves and the file is drained. */
  run(id: string, sink: LogSink, logPath: string, since: Date, untilExit: Promise<void>): void {
    void this.stop(id);
    const abort = new AbortController();
    const done = (async () => {
      let failures = 0;
      try {
        for await (const r of this.#readLogs(logPath, { since, follow: true, untilExit, signal: abort.signal })) {
          const complete = r.data.length > 0 && r.data[r.data.length - 1] === 0x0a;
          const line = complete ? r.data.subarray(0, r.data.length - 1) : r.data;
          try {
            await sink.send({ line, stream: r.stream, time: r.time, partial: !complete });
          } catch (err) {
            // One warning per burst of failures; the line stays in the local file.
            if (failures++ === 0) this.#log.warn({ err, container: id }, 'log driver: sending a record failed');
            continue;
          }
          failures = 0;
        }
      } catch (err) {
        if (!abort.signal.aborted) this.#log.warn({ err, container: id }, 'log driver: following the log file failed');
      } finally {
        await sink.close().catch(() => {});
        if (this.#active.get(id)?.abort === abort) this.#active.delete(id);
      }
    })();
    this.#active.set(id, { abort, done, sink });
  }

  /** Waits until everything the container wrote has been sent (after its exit), at most `ms`. */
  async drain(id: string, ms = 5000): Promise<void> {
    const a = this.#active.get(id);
    if (!a) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([a.done, new Promise<void>((r) => (t = setTimeout(r, ms)))]);
    clearTimeout(t);
  }

  /** Stops shipping now: the reader ends, and the driver gives up what it is still retrying. */
  async stop(id: string): Promise<void> {
    const a = this.#active.get(id);
    if (!a) return;
    a.abort.abort();
    await Promise.all([a.sink.close().catch(() => {}), a.done]);
  }

  close(): void {
    for (const a of this.#active.values()) a.abort.abort();
  }
}
