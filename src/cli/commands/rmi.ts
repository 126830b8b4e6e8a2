import { platformQuery } from '../platform-flag.js';
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
    cmd.option('--platform <string>', 'Remove only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")');
  },
  async run(ctx, args, opts) {
    const client = await ctx.client();
    // --no-prune sets prune=false.
    const o = opts as { force?: boolean; prune?: boolean; platform?: string };
    const platforms = o.platform ? await platformQuery(ctx, o.platform, '1.50') : undefined;
    return forEachTarget(
      ctx,
      args,
      async (name) => {
        const items =
          (platforms
            ? await client.json<Array<{ Untagged?: string; Deleted?: string }>>('DELETE', `/images/${encodeURIComponent(name)}`, { query: { force: o.force, noprune: o.prune === false, platforms } })
            : await client.imageRemove(name, { force: o.force, noPrune: o.prune === false })) ?? [];
        for (const item of items) {
          if (item.Untagged) ctx.stdout.write(`Untagged: ${item.Untagged}\n`);
          if (item.Deleted) ctx.stdout.write(`Deleted: ${item.Deleted}\n`);
        }
      },
      { print: false },
    );
  },
};
