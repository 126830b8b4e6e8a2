import type { CommandModule } from '../command.js';
import { forEachTarget } from '../targets.js';

/** `berth wait`: POST /containers/{id}/wait for each container; prints each StatusCode. */
export const command: CommandModule = {
  usage: 'CONTAINER [CONTAINER...]',
  description: 'Block until one or more containers stop, then print their exit codes',
  aliases: ['berth container wait'],
  args: { min: 1 },
  configure() {},
  async run(ctx, args) {
    const client = await ctx.client();
    return forEachTarget(
      ctx,
      args,
      async (id) => {
        const res = await client.containerWait(id);
        ctx.stdout.write(`${res.StatusCode}\n`);
      },
      { print: false },
    );
  },
};
