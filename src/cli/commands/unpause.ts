import type { CommandModule } from '../command.js';
import { forEachTarget } from '../targets.js';

/** `berth unpause`: POST /containers/{id}/unpause for each container. */
export const command: CommandModule = {
  usage: 'CONTAINER [CONTAINER...]',
  description: 'Unpause all processes within one or more containers',
  aliases: ['berth container unpause'],
  args: { min: 1 },
  configure() {},
  async run(ctx, args) {
    const client = await ctx.client();
    return forEachTarget(ctx, args, (id) => client.containerUnpause(id));
  },
};
