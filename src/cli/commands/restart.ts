import { parseIntFlag, type CommandModule } from '../command.js';
import { forEachTarget } from '../targets.js';

/** `berth restart`: POST /containers/{id}/restart?t=&signal= for each container. */
export const command: CommandModule = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Restart one or more containers',
  aliases: ['berth container restart'],
  args: { min: 1 },
  configure(cmd) {
    cmd.option('-s, --signal <string>', 'Signal to send to the container');
    cmd.option('-t, --timeout <int>', 'Seconds to wait before killing the container', parseIntFlag);
  },
  async run(ctx, args, opts) {
    const client = await ctx.client();
    const o = opts as { signal?: string; timeout?: number };
    return forEachTarget(ctx, args, (id) => client.containerRestart(id, { timeout: o.timeout, signal: o.signal }));
  },
};
