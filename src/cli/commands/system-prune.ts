import { collect, type CommandModule } from '../command.js';
import { encodeFilters } from '../../client/client.js';
import { humanSize } from '../../common/units.js';
import { parseFilters } from '../filters.js';
import { confirm } from '../resource-list.js';

/**
 * `berth system prune`: docker's prompt, then the containers, networks, (with --volumes)
 * anonymous volumes, images (dangling, or all unused with -a) and build cache prunes, each
 * printing what it removed, and the total reclaimed space.
 */
export const command: CommandModule = {
  usage: '[OPTIONS]',
  description: 'Remove unused data',
  args: { max: 0 },
  configure(cmd) {
    cmd.option('-a, --all', 'Remove all unused images not just dangling ones');
    cmd.option('--filter <filter>', 'Provide filter values (e.g. "label=<key>=<value>")', collect);
    cmd.option('-f, --force', 'Do not prompt for confirmation');
    cmd.option('--volumes', 'Prune anonymous volumes');
  },
  async run(ctx, _args, opts) {
    const o = opts as { all?: boolean; filter?: string[]; force?: boolean; volumes?: boolean };
    const pairs = parseFilters(o.filter);
    if (!o.force) {
      const warnings = [
        'all stopped containers',
        'all networks not used by at least one container',
        ...(o.volumes ? ['all anonymous volumes not used by at least one container'] : []),
        o.all ? 'all images without at least one container associated to them' : 'all dangling images',
        o.all ? 'all build cache' : 'unused build cache',
      ];
      let text = `WARNING! This will remove:\n${warnings.map((w) => `  - ${w}\n`).join('')}`;
      if (pairs.length) text += `\n  Items to be pruned will be filtered with:\n${pairs.map(([k, v]) => `  - ${k}=${v}\n`).join('')}`;
      if (!(await confirm(ctx, `${text}\nAre you sure you want to continue?`))) return 0;
    }
    const client = await ctx.client();
    const filters = encodeFilters(pairs);
    let reclaimed = 0;
    const section = (title: string, lines: string[]): void => {
      if (lines.length) ctx.stdout.write(`${title}:\n${lines.join('\n')}\n\n`);
    };

    const c = await client.containerPrune(filters);
    section('Deleted Containers', c.ContainersDeleted ?? []);
    reclaimed += c.SpaceReclaimed ?? 0;

    const n = await client.json<{ NetworksDeleted: string[] | null }>('POST', '/networks/prune', { query: { filters } });
    section('Deleted Networks', n.NetworksDeleted ?? []);

    if (o.volumes) {
      const v = await client.json<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/volumes/prune', { query: { filters } });
      section('Deleted Volumes', v.VolumesDeleted ?? []);
      reclaimed += v.SpaceReclaimed ?? 0;
    }

    const imageFilters = encodeFilters([...pairs, ...(o.all ? ([['dangling', 'false']] as Array<[string, string]>) : [])]);
    const i = await client.json<{ ImagesDeleted: Array<{ Untagged?: string; Deleted?: string }> | null; SpaceReclaimed: number }>('POST', '/images/prune', {
      query: { filters: imageFilters },
    });
    section('Deleted Images', (i.ImagesDeleted ?? []).map((it) => (it.Untagged ? `untagged: ${it.Untagged}` : `deleted: ${it.Deleted}`)));
    reclaimed += i.SpaceReclaimed ?? 0;

    // Build cache: an engine without a build cache to prune (404) has nothing to remove.
    try {
      const b = await client.json<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/build/prune', { query: { filters, all: o.all } });
      section('Deleted build cache objects', b?.CachesDeleted ?? []);
      reclaimed += b?.SpaceReclaimed ?? 0;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }

    ctx.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
    return 0;
  },
};
