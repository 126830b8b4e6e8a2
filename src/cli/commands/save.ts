import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { platformQuery } from '../platform-flag.js';
import type { CommandModule } from '../command.js';
import { StatusError } from '../errors.js';

/** `berth save`: GET /images/get?names=… to a file (-o) or stdout (refused on a terminal, as docker). */
export const command: CommandModule = {
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  description: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  aliases: ['berth image save'],
  args: { min: 1 },
  configure(cmd) {
    cmd.option('-o, --output <string>', 'Write to a file, instead of STDOUT');
    cmd.option('--platform <string>', 'Save only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")');
  },
  async run(ctx, args, opts) {
    const o = opts as { output?: string; platform?: string };
    if (!o.output && ctx.stdout.isTTY) throw new StatusError(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const platform = o.platform ? await platformQuery(ctx, o.platform, '1.48') : undefined;
    const client = await ctx.client();
    const res = await client.request('GET', '/images/get', { query: { names: args, platform } });
    if (!o.output) {
      await pipeline(res, ctx.stdout, { end: false });
      return 0;
    }
    // Written next to the target and renamed, so a failed save leaves no partial archive.
    const tmp = `${o.output}.berth-tmp`;
    try {
      await pipeline(res, createWriteStream(tmp));
      await rename(tmp, o.output);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new StatusError(1, `failed to save image: ${(e as Error).message}`);
    }
    return 0;
  },
};
