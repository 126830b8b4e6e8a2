import type { CommandModule } from '../command.js';
import { forEachTarget } from '../targets.js';

/** `berth rmi`: DELETE /images/{name}?force=&noprune=; prints `Untagged:`/`Deleted:` lines. */
export const command: CommandModule = {
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  description: 'Remove one or more images',
  aliases: ['berth image rm', 'berth image remove'],
  args: { min: 1 },
  configure(cmd) {
    cmd.option('-f, --force', 'Force removal of the image');
    cmd.option('--no-prune', 'Do not delete untagged parents');
  },
  async run(ctx, args, opts) {
    const client = await ctx.client();
    // --no-prune sets prune=false.
    const o = opts as { force?: boolean; prune?: boolean };
    return forEachTarget(
      ctx,
      args,
      async (name) => {
        const items = (await client.imageRemove(name, { force: o.force, noPrune: o.prune === false })) ?? [];
        for (const item of items) {
          if (item.Untagged) ctx.stdout.write(`Untagged: ${item.Untagged}\n`);
          if (item.Deleted) ctx.stdout.write(`Deleted: ${item.Deleted}\n`);
        }
      },
      { print: false },
    );
  },
};
