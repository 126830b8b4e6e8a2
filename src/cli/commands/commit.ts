import type { CommandModule } from '../command.js';
import { collect } from '../command.js';
import { parseReference } from '../reference.js';

/** `berth commit`: POST /commit?container=&repo=&tag=&comment=&author=&changes=… ; prints the new image ID. */
export const command: CommandModule = {
  usage: '[OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
  description: "Create a new image from a container's changes",
  aliases: ['berth container commit'],
  args: { min: 1, max: 2 },
  configure(cmd) {
    cmd.option('-a, --author <string>', 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")');
    cmd.option('-c, --change <list>', 'Apply Dockerfile instruction to the created image', collect);
    cmd.option('-m, --message <string>', 'Commit message');
    cmd.option('-p, --pause', 'Pause container during commit', true);
  },
  async run(ctx, args, opts) {
    const o = opts as { author?: string; change?: string[]; message?: string; pause: boolean };
    const [container, ref] = args as [string, string?];
    const r = ref ? parseReference(ref) : undefined;
    const client = await ctx.client();
    const res = await client.json<{ Id: string }>('POST', '/commit', {
      query: { container, repo: r?.name, tag: r?.tag, comment: o.message, author: o.author, changes: o.change, pause: o.pause ? undefined : '0' },
      body: {},
    });
    ctx.stdout.write(`${res.Id}\n`);
    return 0;
  },
};
