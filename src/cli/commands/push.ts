import { checkContentTrust } from '../resource-flags.js';
import { platformQuery } from '../platform-flag.js';
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
    cmd.option('--disable-content-trust', 'Skip image signing (default true)');
    cmd.option('--platform <string>', 'Push a platform-specific manifest as a single-platform image to the registry. Image index won\'t be pushed, meaning that other manifests, including attestations won\'t be preserved. \'os[/arch[/variant]]\': Explicit platform (eg. linux/amd64)');
    cmd.option('-q, --quiet', 'Suppress verbose output');
  },
  async run(ctx, args, opts) {
    const o = opts as { allTags?: boolean; quiet?: boolean; disableContentTrust?: boolean; platform?: string };
    checkContentTrust(o.disableContentTrust, ctx.env);
    const platform = o.platform ? await platformQuery(ctx, o.platform, '1.46') : undefined;
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
      query: { tag, platform },
      headers: { 'X-Registry-Auth': await authHeaderFor(ctx, ref.domain) },
    });
    await displayProgress(res, ctx.stdout, { quiet: o.quiet === true });
    if (o.quiet) ctx.stdout.write(`${args[0]}\n`);
    return 0;
  },
};
