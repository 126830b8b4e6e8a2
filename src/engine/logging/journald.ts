import { existsSync } from 'node:fs';
import type { LogMessage, LogSink, SinkContext } from './sink.js';
import { extraAttributes } from './sink.js';
import { sendUnixDatagram } from './syslog.js';
import { renderTag } from './tag-template.js';

/**
 * The journald log driver: journald's native protocol (one datagram per entry to its socket),
 * with the fields Docker's driver sets (MESSAGE, PRIORITY, CONTAINER_ID, CONTAINER_ID_FULL,
 * CONTAINER_NAME, CONTAINER_TAG, IMAGE_NAME, SYSLOG_IDENTIFIER, CONTAINER_PARTIAL_MESSAGE) plus
 * the extra attributes. Where journald does not run, the container's start fails with Docker's
 * message.
 */

export const JOURNALD_SOCKET = '/run/systemd/journal/socket';

/** KEY=value, or the binary form for values with a newline. */
function field(key: string, value: string | Buffer): Buffer {
  const v = Buffer.isBuffer(value) ? value : Buffer.from(value);
  if (!v.includes(0x0a)) return Buffer.concat([Buffer.from(`${key}=`), v, Buffer.from('\n')]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(v.length));
  return Buffer.concat([Buffer.from(`${key}\n`), len, v, Buffer.from('\n')]);
}

/** Journal field names: upper case letters, digits and underscores, not starting with one. */
function fieldName(k: string): string {
  const s = k.toUpperCase().replace(/[^A-Z0-9_]/g, '_').replace(/^_+/, '');
  return /^[0-9]/.test(s) ? `X${s}` : s;
}

export async function openJournaldSink(config: Record<string, string>, ctx: SinkContext, socket = JOURNALD_SOCKET): Promise<LogSink> {
  if (!existsSync(socket)) throw new Error('failed to initialize logging driver: journald is not enabled on this host');
  const tag = renderTag(config['tag'], ctx);
  const fixed = [
    field('CONTAINER_ID', ctx.id.slice(0, 12)),
    field('CONTAINER_ID_FULL', ctx.id),
    field('CONTAINER_NAME', ctx.name.replace(/^\//, '')),
    field('CONTAINER_TAG', tag),
    field('IMAGE_NAME', ctx.imageName),
    field('SYSLOG_IDENTIFIER', tag),
    ...Object.entries(extraAttributes(config, ctx)).map(([k, v]) => field(fieldName(k), v)),
  ];
  return {
    async send(m: LogMessage) {
      const entry = Buffer.concat([
        field('MESSAGE', m.line),
        field('PRIORITY', m.stream === 'stderr' ? '3' : '6'),
        ...(m.partial ? [field('CONTAINER_PARTIAL_MESSAGE', 'true')] : []),
        ...fixed,
      ]);
      await sendUnixDatagram(socket, entry);
    },
    async close() {},
  };
}
