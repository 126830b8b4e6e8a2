import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { parseDuration, parseFluentdAddress } from './drivers.js';
import { decodeStream, encode, eventTime } from './msgpack.js';
import type { LogMessage, LogSink, SinkContext } from './sink.js';
import { extraAttributes } from './sink.js';
import { renderTag } from './tag-template.js';

/**
 * The fluentd log driver: Fluentd's forward protocol in message mode, `[tag, time, record]`
 * (plus `{chunk}` and a wait for `{ack}` with `fluentd-request-ack`), over TCP or a unix
 * socket. The record carries what Docker's does: `container_id`, `container_name`, `source`,
 * `log`, `partial_message` for cut lines, and the extra attributes named by labels/env.
 * Without `fluentd-async` the first connection is made before the container starts (a failure
 * fails the start); with it, connecting (and reconnecting) happens in the background, and up to
 * `fluentd-buffer-limit` messages wait meanwhile.
 */

const bool = (v: string | undefined) => /^(1|t|true)$/i.test(v ?? '');

export async function openFluentdSink(config: Record<string, string>, ctx: SinkContext): Promise<LogSink> {
  const addr = parseFluentdAddress(config['fluentd-address']);
  const tag = renderTag(config['tag'], ctx);
  const async = bool(config['fluentd-async']) || bool(config['fluentd-async-connect']);
  const subSecond = bool(config['fluentd-sub-second-precision']);
  const requestAck = bool(config['fluentd-request-ack']);
  const bufferLimit = config['fluentd-buffer-limit'] ? Number(config['fluentd-buffer-limit']) : 1024 * 1024;
  const retryWait = config['fluentd-retry-wait'] ? parseDuration(config['fluentd-retry-wait'], 'fluentd-retry-wait') : 1000;
  const maxRetries = config['fluentd-max-retries'] ? Number(config['fluentd-max-retries']) : 10;
  const writeTimeout = config['fluentd-write-timeout'] ? parseDuration(config['fluentd-write-timeout'], 'fluentd-write-timeout') : 0;
  const extra = extraAttributes(config, ctx);

  let socket: Socket | undefined;
  let closed = false;
  /** Wakes a retry wait early when the sink closes. */
  let wake: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      t.unref();
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  const acks = new Map<string, () => void>();

  const dial = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s = 'path' in addr ? connect({ path: addr.path }) : connect({ host: addr.host, port: addr.port });
      s.once('connect', () => {
        s.removeListener('error', reject);
        s.on('error', () => {});
        s.on('close', () => {
          if (socket === s) socket = undefined;
        });
        if (requestAck) {
          void (async () => {
            try {
              for await (const v of decodeStream(s)) {
                const chunk = (v as { ack?: unknown })?.ack;
                if (typeof chunk === 'string') acks.get(chunk)?.();
              }
            } catch {
              /* connection closed or garbage: pending acks time out */
            }
          })();
        }
        resolve(s);
      });
      s.once('error', reject);
    });

  const ensure = async (): Promise<Socket> => {
    if (socket) return socket;
    let last: unknown;
    for (let attempt = 0; attempt <= maxRetries && !closed; attempt++) {
      try {
        socket = await dial();
        return socket;
      } catch (err) {
        last = err;
        if (attempt < maxRetries && !closed) await pause(Math.min(retryWait * 2 ** Math.min(attempt, 6), 60_000));
      }
    }
    throw last instanceof Error ? last : new Error('fluentd: closed');
  };

  if (!async) {
    try {
      socket = await dial();
    } catch (err) {
      const where = 'path' in addr ? `unix ${addr.path}` : `tcp ${addr.host}:${addr.port}`;
      throw new Error(`failed to initialize logging driver: dial ${where}: ${(err as Error).message}`, { cause: err });
    }
  }

  let pending = 0;
  // One message at a time, in order (a chain of writes).
  let chain: Promise<void> = Promise.resolve();

  const write = async (m: LogMessage): Promise<void> => {
    const record: Record<string, string> = { ...extra, container_id: ctx.id, container_name: `/${ctx.name.replace(/^\//, '')}`, source: m.stream, log: m.line.toString('utf8') };
    if (m.partial) record['partial_message'] = 'true';
    const time = subSecond ? eventTime(m.time) : Math.floor(m.time.getTime() / 1000);
    const chunk = requestAck ? randomBytes(16).toString('base64') : undefined;
    const payload = encode(chunk ? [tag, time, record, { chunk }] : [tag, time, record]);
    if (closed && !socket) throw new Error('fluentd: closed before the record could be sent');
    const s = await ensure();
    const acked = chunk ? new Promise<void>((resolve) => acks.set(chunk, resolve)) : undefined;
    await new Promise<void>((resolve, reject) => {
      const t = writeTimeout ? setTimeout(() => reject(new Error('fluentd: write timeout')), writeTimeout) : undefined;
      s.write(payload, (err) => {
        if (t) clearTimeout(t);
        if (err) reject(err);
        else resolve();
      });
    });
    if (acked && chunk) {
      const timeout = new Promise<void>((_, reject) => setTimeout(() => reject(new Error('fluentd: no ack')), writeTimeout || 10_000).unref());
      try {
        await Promise.race([acked, timeout]);
      } finally {
        acks.delete(chunk);
      }
    }
  };

  return {
    send(m: LogMessage) {
      if (pending >= bufferLimit) return Promise.reject(new Error(`fluentd: buffer full (fluentd-buffer-limit ${bufferLimit})`));
      pending++;
      const p = chain.then(() => write(m)).finally(() => pending--);
      chain = p.catch(() => {});
      return p;
    },
    async close() {
      // Queued records still go out if the server is there; reconnect attempts stop now.
      closed = true;
      wake?.();
      await chain;
      const s = socket;
      socket = undefined;
      if (s) await new Promise<void>((resolve) => s.end(() => resolve()));
    },
  };
}
