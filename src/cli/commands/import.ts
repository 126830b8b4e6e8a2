import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { collect, type CommandModule } from '../command.js';
import { displayJsonMessages } from '../pull.js';
import { StatusError } from '../errors.js';

/**
 * `berth import`: POST /images/create?fromSrc=-&repo=<REPOSITORY[:TAG]>&tag=&message=&changes=…
 * with the tarball as the body (a file, or stdin for `-`); a URL source is sent as fromSrc=<URL>
 * with no body. Prints the daemon's status lines, ending with the new image ID.
 */
export const command: CommandModule = {
  usage: '[OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
  description: 'Import the contents from a tarball to create a filesystem image',
  aliases: ['berth image import'],
  args: { min: 1, max: 2 },
  configure(cmd) {
    cmd.option('-c, --change <list>', 'Apply Dockerfile instruction to the created image', collect);
    cmd.option('-m, --message <string>', 'Set commit message for imported image');
    cmd.option('--platform <string>', 'Set platform if server is multi-platform capable');
  },
  async run(ctx, args, opts) {
    const o = opts as { change?: string[]; message?: string; platform?: string };
    const [source, ref] = args as [string, string?];
    let body: Readable | undefined;
    let fromSrc = source;
    if (source === '-') body = ctx.stdin;
    else if (!/^https?:\/\//.test(source)) {
      body = createReadStream(source);
      fromSrc = '-';
      await new Promise<void>((resolve, reject) => {
        body!.once('open', () => resolve());
        body!.once('error', (err: NodeJS.ErrnoException) =>
          reject(new StatusError(1, `open ${source}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`)),
        );
      });
    }
    const client = await ctx.client();
    const res = await client.imageCreate(
      { fromSrc, repo: ref, tag: ref ? '' : undefined, message: o.message, changes: o.change, platform: o.platform },
      body,
    );
    await displayJsonMessages(res, ctx.stdout);
    return 0;
  },
};
