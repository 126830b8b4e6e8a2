import type { CommandModule } from '../command.js';
import { forEachTarget } from '../targets.js';

/** `berth pause`: POST /containers/{id}/pause for each container (cgroup freezer). */
export const command: CommandModule = {
  usage: 'CONTAINER [CONTAINER...]',
  description: 'Pause all processes within one or more containers',
  aliases: ['berth container pause'],
  args: { min: 1 },
  configure() {},
  async run(ctx, args) {
    const client = await ctx.client();
    return forEachTarget(ctx, args, (id) => client.containerPause(id));
  },
};
