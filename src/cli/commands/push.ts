import { platformQuery } from '../platform-flag.js';
import type { CommandModule } from '../command.js';
import { pathPart } from '../../client/client.js';
import { formatReference, parseReference } from '../../oci/reference.js';
import { StatusError } from '../errors.js';
import { contentTrustEnabled } from '../content-trust.js';
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
    cmd.option('--sign-by <string>', 'Sign the pushed image with this private key (cosign format; berth trust key generate)');
  },
  async run(ctx, args, opts) {
    const o = opts as { allTags?: boolean; quiet?: boolean; signBy?: string; disableContentTrust?: boolean; platform?: string };
    // DOCKER_CONTENT_TRUST asks push to sign; berth signs with a key file, not a Notary server.
    if (!o.signBy && contentTrustEnabled(ctx, o)) throw new StatusError(1, 'DOCKER_CONTENT_TRUST is set: sign with --sign-by KEY (berth trust key generate), or push with --disable-content-trust');
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
    const { aux } = await displayProgress(res, ctx.stdout, { quiet: o.quiet === true });
    if (o.signBy) {
      // Each pushed tag's digest (the push's aux messages), signed by digest as pushed.
      const pushed = aux.filter((a): a is { Tag: string; Digest: string } => !!a && typeof (a as { Tag?: unknown }).Tag === 'string' && typeof (a as { Digest?: unknown }).Digest === 'string');
      if (pushed.length === 0) throw new StatusError(1, 'push --sign-by: the daemon reported no pushed digest to sign');
      const { signWithKeyFile } = await import('./trust.js');
      for (const p of pushed) {
        // name:tag@digest: the payload names the tag, the signature covers exactly what was pushed.
        const r = await signWithKeyFile(ctx, `${name}:${p.Tag}@${p.Digest}`, o.signBy);
        if (!o.quiet) ctx.stdout.write(`Signed ${r.dockerReference}@${r.manifestDigest} with key ${r.keyFingerprint}\n`);
      }
    }
    if (o.quiet) ctx.stdout.write(`${args[0]}\n`);
    return 0;
  },
};
