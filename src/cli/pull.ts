import type { Readable, Writable } from 'node:stream';
import type { ApiClient } from '../client/client.js';
import { ApiError } from '../client/errors.js';
import { readJsonMessages } from '../client/json-messages.js';
import { parseReference } from './reference.js';
import { requireTrustDaemon } from './content-trust.js';

/**
 * Prints a JSON message stream (pull/import progress) the way docker's jsonmessage does for a
 * non-terminal: one line per message, `id: status progress`. Rejects with the stream's
 * `error`, which is how the daemon reports failures after a 200 status.
 */
export async function displayJsonMessages(source: Readable, out: Writable | undefined): Promise<string[]> {
  const statuses: string[] = [];
  for await (const msg of readJsonMessages(source)) {
    if (msg.error || msg.errorDetail?.message) {
      throw new ApiError(msg.errorDetail?.code ?? 500, msg.errorDetail?.message ?? msg.error ?? 'unknown error');
    }
    if (msg.stream) {
      out?.write(msg.stream);
      continue;
    }
    if (msg.status === undefined) continue;
    statuses.push(msg.status);
    if (!out) continue;
    let line = msg.id ? `${msg.id}: ${msg.status}` : msg.status;
    if (msg.progress) line += ` ${msg.progress}`;
    out.write(`${line}\n`);
  }
  return statuses;
}

/** POST /images/create?fromImage=<name>&tag=<tag>[&platform=], progress to `out`. */
export async function pullImage(client: ApiClient, ref: string, out: Writable | undefined, options: { contentTrust?: boolean; platform?: string } = {}): Promise<void> {
  const r = parseReference(ref);
  if (options.contentTrust) await requireTrustDaemon(client);
  const res = await client.imageCreate({ fromImage: r.name, tag: r.digest ?? r.tag ?? 'latest', platform: options.platform, ...(options.contentTrust ? { contentTrust: '1' } : {}) });
  await displayJsonMessages(res, out);
}
