import type { CommandModule } from '../command.js';
import { forEachTarget } from '../targets.js';

/** `berth kill`: POST /containers/{id}/kill?signal= for each container. */
export const command: CommandModule = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Kill one or more running containers',
  aliases: ['berth container kill'],
  args: { min: 1 },
  configure(cmd) {
    cmd.option('-s, --signal <string>', 'Signal to send to the container');
  },
  async run(ctx, args, opts) {
    const client = await ctx.client();
    const { signal } = opts as { signal?: string };
    return forEachTarget(ctx, args, (id) => client.containerKill(id, signal));
  },
};
