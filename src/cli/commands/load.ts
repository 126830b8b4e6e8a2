import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { platformQuery } from '../platform-flag.js';
import type { CommandModule } from '../command.js';
import { StatusError } from '../errors.js';
import { displayProgress } from './pull.js';

/** `berth load`: POST /images/load with the archive from -i FILE or stdin. */
export const command: CommandModule = {
  usage: '[OPTIONS]',
  description: 'Load an image from a tar archive or STDIN',
  aliases: ['berth image load'],
  args: { max: 0 },
  configure(cmd) {
    cmd.option('-i, --input <string>', 'Read from tar archive file, instead of STDIN');
    cmd.option('--platform <string>', 'Load only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")');
    cmd.option('-q, --quiet', 'Suppress the load output');
  },
  async run(ctx, _args, opts) {
    const o = opts as { input?: string; quiet?: boolean; platform?: string };
    const platform = o.platform ? await platformQuery(ctx, o.platform, '1.48') : undefined;
    let body: Readable;
    if (o.input) {
      body = createReadStream(o.input);
      await new Promise<void>((resolve, reject) => {
        body.once('open', () => resolve());
        body.once('error', (e: NodeJS.ErrnoException) => reject(new StatusError(1, `open ${o.input}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`)));
      });
    } else {
      if (ctx.stdin.isTTY) throw new StatusError(1, 'requested load from stdin, but stdin is empty');
      body = ctx.stdin;
    }
    const client = await ctx.client();
    const res = await client.request('POST', '/images/load', { query: { quiet: o.quiet, platform }, body, headers: { 'Content-Type': 'application/x-tar' } });
    await displayProgress(res, ctx.stdout, { quiet: false, stream: true });
    return 0;
  },
};
