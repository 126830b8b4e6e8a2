import type { CommandModule } from '../command.js';
import { pathPart } from '../../client/client.js';
import { formatReference, parseReference } from '../../oci/reference.js';
import { StatusError } from '../errors.js';
import { authHeaderFor, displayProgress } from './pull.js';

/** `berth push`: POST /images/{name}/push?tag= with X-Registry-Auth. */
export const command: CommandModule = {
  usage: '[OPTIONS] NAME[:TAG]',
  description: 'Upload an image to a registry',
  aliases: ['berth image push'],
  args: { exact: 1 },
  configure(cmd) {
    cmd.option('-a, --all-tags', 'Push all tags of an image to the repository');
    cmd.option('-q, --quiet', 'Suppress verbose output');
  },
  async run(ctx, args, opts) {
    const o = opts as { allTags?: boolean; quiet?: boolean };
    let ref;
    try {
      ref = parseReference(args[0]!);
    } catch (e) {
      throw new StatusError(1, (e as Error).message);
    }
    if (ref.digest) throw new StatusError(1, 'cannot push a digest reference');
    if (o.allTags && ref.tag) throw new StatusError(1, 'tag can\'t be used with --all-tags/-a');
    const tag = o.allTags ? '' : ref.tag ?? 'latest';
    if (!o.allTags && !ref.tag && !o.quiet) ctx.stdout.write(`Using default tag: latest\n`);
    const client = await ctx.client();
    const name = formatReference({ domain: ref.domain, path: ref.path });
    const res = await client.request('POST', `/images/${pathPart(name)}/push`, {
      query: { tag },
      headers: { 'X-Registry-Auth': await authHeaderFor(ctx, ref.domain) },
    });
    await displayProgress(res, ctx.stdout, { quiet: o.quiet === true });
    if (o.quiet) ctx.stdout.write(`${args[0]}\n`);
    return 0;
  },
};
