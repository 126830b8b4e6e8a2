import type { CommandModule } from '../command.js';
import { collect } from '../command.js';
import { encodeFilters } from '../../client/client.js';
import { humanSize } from '../../common/units.js';
import { StatusError } from '../errors.js';
import { confirmPrune } from '../resource-list.js';

/** `berth builder prune`: POST /build/prune (all, keep-storage, filters until=). */
export const command: CommandModule = {
  usage: '[OPTIONS]',
  description: 'Remove build cache',
  args: { max: 0 },
  configure(cmd) {
    cmd.option('-a, --all', 'Remove all unused build cache, not just dangling ones');
    cmd.option('--filter <filter>', 'Provide filter values (e.g. "until=24h")', collect);
    cmd.option('-f, --force', 'Do not prompt for confirmation');
    cmd.option('--keep-storage <bytes>', 'Amount of disk space to keep for cache');
  },
  async run(ctx, _args, opts) {
    const o = opts as { all?: boolean; filter?: string[]; force?: boolean; keepStorage?: string };
    const pairs: Array<[string, string]> = [];
    for (const f of o.filter ?? []) {
      const i = f.indexOf('=');
      if (i <= 0) throw new StatusError(125, 'bad format of filter (expected name=value)');
      pairs.push([f.slice(0, i), f.slice(i + 1)]);
    }
    let keep: number | undefined;
    if (o.keepStorage !== undefined) {
      const { parseBytes } = await import('../container-options.js');
      keep = parseBytes(o.keepStorage);
    }
    if (!o.force) {
      const warning = o.all ? 'WARNING! This will remove all build cache.' : 'WARNING! This will remove all dangling build cache.';
      if (!(await confirmPrune(ctx, warning))) return 0;
    }
    const client = await ctx.client();
    const r = await client.json<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/build/prune', {
      query: { all: o.all ? '1' : undefined, 'keep-storage': keep !== undefined ? String(keep) : undefined, filters: pairs.length ? encodeFilters(pairs) : undefined },
    });
    if (r.CachesDeleted?.length) {
      ctx.stdout.write('Deleted build cache objects:\n');
      for (const id of r.CachesDeleted) ctx.stdout.write(`${id}\n`);
      ctx.stdout.write('\n');
    }
    ctx.stdout.write(`Total:\t${humanSize(r.SpaceReclaimed)}\n`);
    return 0;
  },
};
