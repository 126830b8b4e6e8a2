import type { Readable, Writable } from 'node:stream';
import type { CommandModule } from '../command.js';
import type { Invocation } from '../invocation.js';
import { ApiError } from '../../client/errors.js';
import { readJsonMessages } from '../../client/json-messages.js';
import { familiarString, formatReference, parseReference, withDefaultTag } from '../../oci/reference.js';
import { getCredentials } from '../../client/credentials.js';
import { encodeRegistryAuth } from '../../wire/registry-auth.js';
import { StatusError } from '../errors.js';
import { DISABLE_CONTENT_TRUST_HELP, contentTrustEnabled, contentTrustQuery, requireTrustDaemon } from '../content-trust.js';

/**
 * Shows a pull/push JSON message stream as docker's jsonmessage does: on a terminal, one line
 * per layer rewritten in place (cursor up/down) with the daemon's progress bar; otherwise
 * plain status lines, progress-bar updates left out. Rejects with the stream's error.
 */
export async function displayProgress(source: Readable, out: Writable & { isTTY?: boolean }, options: { quiet?: boolean; tty?: boolean; stream?: boolean } = {}): Promise<{ aux: unknown[] }> {
  const tty = options.tty ?? out.isTTY === true;
  const lines = new Map<string, number>();
  const aux: unknown[] = [];
  for await (const m of readJsonMessages(source)) {
    if (m.error || m.errorDetail?.message) throw new ApiError(m.errorDetail?.code ?? 500, m.errorDetail?.message ?? m.error ?? 'unknown error');
    if (m.aux !== undefined) {
      aux.push(m.aux);
      continue;
    }
    if (options.stream && m.stream) {
      out.write(m.stream);
      continue;
    }
    if (options.quiet || m.status === undefined) continue;
    const tracked = m.id !== undefined && m.progressDetail !== undefined;
    let diff = 0;
    if (tracked) {
      let line = lines.get(m.id!);
      if (line === undefined) {
        line = lines.size;
        lines.set(m.id!, line);
        if (tty) out.write('\n');
      }
      diff = lines.size - line;
      if (tty) out.write(`\x1b[${diff}A`);
    } else lines.clear();
    const prefix = m.id ? `${m.id}: ` : '';
    if (tty && tracked) {
      out.write(`\x1b[2K\r${prefix}${m.status}${m.progress ? ` ${m.progress}` : ''}\r`);
      out.write(`\x1b[${diff}B`);
    } else if (!m.progress) out.write(`${prefix}${m.status}\n`);
  }
  return { aux };
}

/** `X-Registry-Auth` for a reference's registry, from the docker config file (empty object when none). */
export async function authHeaderFor(ctx: Invocation, domain: string): Promise<string> {
  const creds = await getCredentials(domain, ctx.env).catch((e: Error) => {
    throw new StatusError(1, `error getting credentials - err: ${e.message}`);
  });
  return encodeRegistryAuth(creds ?? {});
}

/** `berth pull`: POST /images/create?fromImage=&tag=&platform= with X-Registry-Auth. */
export const command: CommandModule = {
  usage: '[OPTIONS] NAME[:TAG|@DIGEST]',
  description: 'Download an image from a registry',
  aliases: ['berth image pull'],
  args: { exact: 1 },
  configure(cmd) {
    cmd.option('-a, --all-tags', 'Download all tagged images in the repository');
    cmd.option('--platform <string>', 'Set platform if server is multi-platform capable');
    cmd.option('-q, --quiet', 'Suppress verbose output');
    cmd.option('--disable-content-trust', DISABLE_CONTENT_TRUST_HELP);
  },
  async run(ctx, args, opts) {
    const o = opts as { allTags?: boolean; platform?: string; quiet?: boolean; disableContentTrust?: boolean };
    let ref;
    try {
      ref = parseReference(args[0]!);
    } catch (e) {
      throw new StatusError(1, `invalid reference format: ${(e as Error).message.replace(/^invalid reference format:?\s*/, '')}`.replace(/: $/, ''));
    }
    if (o.allTags && (ref.tag !== undefined || ref.digest !== undefined)) throw new StatusError(1, "tag can't be used with --all-tags/-a");
    const full = o.allTags ? ref : withDefaultTag(ref);
    const client = await ctx.client();
    const fromImage = formatReference({ domain: ref.domain, path: ref.path });
    if (contentTrustEnabled(ctx, o)) {
      try {
        await requireTrustDaemon(client);
      } catch (e) {
        throw new StatusError(1, (e as Error).message);
      }
    }
    const res = await client.request('POST', '/images/create', {
      query: { fromImage, tag: o.allTags ? '' : full.digest ?? full.tag, platform: o.platform, ...contentTrustQuery(contentTrustEnabled(ctx, o)) },
      headers: { 'X-Registry-Auth': await authHeaderFor(ctx, ref.domain) },
    });
    await displayProgress(res, ctx.stdout, { quiet: o.quiet === true });
    ctx.stdout.write(`${o.quiet ? familiarString(full) === args[0] ? args[0] : formatReference(full) : formatReference(full)}\n`);
    return 0;
  },
};
