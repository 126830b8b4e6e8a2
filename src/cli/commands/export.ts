import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { CommandModule } from '../command.js';
import { StatusError } from '../errors.js';

/** `berth export`: GET /containers/{id}/export, to `-o FILE` or to a stdout that is not a terminal. */
export const command: CommandModule = {
  usage: '[OPTIONS] CONTAINER',
  description: "Export a container's filesystem as a tar archive",
  aliases: ['berth container export'],
  args: { exact: 1 },
  configure(cmd) {
    cmd.option('-o, --output <string>', 'Write to a file, instead of STDOUT');
  },
  async run(ctx, args, opts) {
    const o = opts as { output?: string };
    if (!o.output && (ctx.stdout as NodeJS.WriteStream).isTTY) {
      throw new StatusError(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
    }
    const client = await ctx.client();
    const res = await client.request('GET', `/containers/${encodeURIComponent(args[0]!)}/export`);
    await pipeline(res, o.output ? createWriteStream(o.output) : (ctx.stdout as NodeJS.WritableStream), { end: !!o.output });
    return 0;
  },
};
