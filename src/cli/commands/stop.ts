import { parseIntFlag, type CommandModule } from '../command.js';
import { forEachTarget } from '../targets.js';

/** `berth stop`: POST /containers/{id}/stop?t=&signal= for each container. */
export const command: CommandModule = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Stop one or more running containers',
  aliases: ['berth container stop'],
  args: { min: 1 },
  configure(cmd) {
    cmd.option('-s, --signal <string>', 'Signal to send to the container');
    cmd.option('-t, --timeout <int>', 'Seconds to wait before killing the container', parseIntFlag);
  },
  async run(ctx, args, opts) {
    const client = await ctx.client();
    const o = opts as { signal?: string; timeout?: number };
    return forEachTarget(ctx, args, (id) => client.containerStop(id, { timeout: o.timeout, signal: o.signal }));
  },
};
