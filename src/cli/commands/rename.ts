import type { CommandModule } from '../command.js';

/** `berth rename OLD NEW`: POST /containers/{id}/rename?name=. */
export const command: CommandModule = {
  usage: 'CONTAINER NEW_NAME',
  description: 'Rename a container',
  aliases: ['berth container rename'],
  args: { min: 2, max: 2 },
  configure() {},
  async run(ctx, args) {
    const client = await ctx.client();
    await client.containerRename(args[0]!, args[1]!);
    return 0;
  },
};
