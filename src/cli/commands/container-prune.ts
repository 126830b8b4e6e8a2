import type { CommandModule } from '../command.js';
import { collect } from '../command.js';
import { encodeFilters } from '../../client/client.js';
import { parseFilters } from '../filters.js';
import { humanSize } from '../../common/units.js';
import { confirmPrune } from '../resource-list.js';

/** `berth container prune`: POST /containers/prune; asks first unless -f. */
export const command: CommandModule = {
  usage: '[OPTIONS]',
  description: 'Remove all stopped containers',
  aliases: ['berth container prune'],
  args: { max: 0 },
  configure(cmd) {
    cmd.option('--filter <list>', 'Provide filter values (e.g. "until=<timestamp>")', collect);
    cmd.option('-f, --force', 'Do not prompt for confirmation');
  },
  async run(ctx, _args, opts) {
    const o = opts as { filter?: string[]; force?: boolean };
    if (!o.force) {
      if (!(await confirmPrune(ctx, 'WARNING! This will remove all stopped containers.'))) return 0;
    }
    const client = await ctx.client();
    const r = await client.containerPrune(encodeFilters(parseFilters(o.filter)));
    const deleted = r.ContainersDeleted ?? [];
    if (deleted.length) ctx.stdout.write(`Deleted Containers:\n${deleted.join('\n')}\n\n`);
    ctx.stdout.write(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}\n`);
    return 0;
  },
};
