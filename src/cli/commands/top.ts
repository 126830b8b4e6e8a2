import type { CommandModule } from '../command.js';
import { alignColumns } from '../format/tabwriter.js';

/** `berth top CONTAINER [ps OPTIONS]`: GET /containers/{id}/top?ps_args=. */
export const command: CommandModule = {
  usage: 'CONTAINER [ps OPTIONS]',
  description: 'Display the running processes of a container',
  aliases: ['berth container top'],
  args: { min: 1 },
  configure() {},
  async run(ctx, args) {
    const client = await ctx.client();
    const top = await client.containerTop(args[0]!, args.length > 1 ? args.slice(1).join(' ') : undefined);
    const lines = [top.Titles.join('\t'), ...top.Processes.map((p) => p.join('\t'))];
    ctx.stdout.write(alignColumns(lines.join('\n') + '\n', { minWidth: 0, padding: 4 }));
    return 0;
  },
};
