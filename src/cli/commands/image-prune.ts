import type { CommandModule } from '../command.js';
import { collect } from '../command.js';
import { encodeFilters } from '../../client/client.js';
import { humanSize } from '../../common/units.js';
import { StatusError } from '../errors.js';
import { confirmPrune } from '../resource-list.js';

/** `berth image prune`: POST /images/prune?filters= (dangling=false with -a). */
export const command: CommandModule = {
  usage: '[OPTIONS]',
  description: 'Remove unused images',
  args: { max: 0 },
  configure(cmd) {
    cmd.option('-a, --all', 'Remove all unused images, not just dangling ones');
    cmd.option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect);
    cmd.option('-f, --force', 'Do not prompt for confirmation');
  },
  async run(ctx, _args, opts) {
    const o = opts as { all?: boolean; filter?: string[]; force?: boolean };
    if (!o.force) {
      const warning = o.all
        ? 'WARNING! This will remove all images without at least one container associated to them.'
        : 'WARNING! This will remove all dangling images.';
      if (!(await confirmPrune(ctx, warning))) return 0;
    }
    const pairs: Array<[string, string]> = [];
    for (const f of o.filter ?? []) {
      const i = f.indexOf('=');
      if (i <= 0) throw new StatusError(125, `bad format of filter (expected name=value)`);
      pairs.push([f.slice(0, i), f.slice(i + 1)]);
    }
    if (o.all) pairs.push(['dangling', 'false']);
    const client = await ctx.client();
    const r = await client.json<{ ImagesDeleted: Array<{ Untagged?: string; Deleted?: string }> | null; SpaceReclaimed: number }>('POST', '/images/prune', {
      query: { filters: encodeFilters(pairs) },
    });
    if (r.ImagesDeleted?.length) {
      ctx.stdout.write('Deleted Images:\n');
      for (const it of r.ImagesDeleted) ctx.stdout.write(it.Untagged ? `untagged: ${it.Untagged}\n` : `deleted: ${it.Deleted}\n`);
      ctx.stdout.write('\n');
    }
    ctx.stdout.write(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}\n`);
    return 0;
  },
};
