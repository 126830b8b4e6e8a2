import { collect, parseIntFlag, type CommandModule } from '../command.js';
import { encodeFilters } from '../../client/client.js';
import { ContainerRow } from '../format/row-views.js';
import { compileListFormat, renderList } from '../format/formatter.js';
import { parseFilters } from '../filters.js';

const DEFAULT_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

/** `berth ps`: GET /containers/json?all=&limit=&size=&filters=, printed as docker's table. */
export const command: CommandModule = {
  usage: '[OPTIONS]',
  description: 'List containers',
  aliases: ['berth container ls', 'berth container list', 'berth container ps'],
  args: { max: 0 },
  configure(cmd) {
    cmd.option('-a, --all', 'Show all containers (default shows just running)');
    cmd.option('-f, --filter <filter>', 'Filter output based on conditions provided', collect);
    cmd.option('--format <string>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or 'TEMPLATE'");
    cmd.option('-n, --last <int>', 'Show n last created containers (includes all states)', parseIntFlag, -1);
    cmd.option('-l, --latest', 'Show the latest created container (includes all states)');
    cmd.option('--no-trunc', "Don't truncate output");
    cmd.option('-q, --quiet', 'Only display container IDs');
    cmd.option('-s, --size', 'Display total file sizes');
  },
  async run(ctx, _args, opts) {
    const o = opts as { all?: boolean; filter?: string[]; format?: string; last: number; latest?: boolean; trunc: boolean; quiet?: boolean; size?: boolean };
    const filters = encodeFilters(parseFilters(o.filter));
    let format = o.format ?? '';
    if (o.quiet && !format) format = '{{.ID}}';
    const limit = o.latest ? 1 : o.last;
    const spec = {
      format,
      defaultTable: o.size ? `${DEFAULT_TABLE}\t{{.Size}}` : DEFAULT_TABLE,
      headers: ContainerRow.HEADERS,
    };
    // Parse before asking the daemon, so a bad template fails fast (exit 64).
    compileListFormat(spec);
    const client = await ctx.client();
    const list = await client.containerList({
      all: o.all || limit !== -1,
      limit: limit > 0 ? limit : undefined,
      size: o.size || /\{\{\s*\.Size\s*\}\}/.test(format),
      filters,
    });
    const now = ctx.now();
    const rows = list.map((c) => new ContainerRow(c, { trunc: o.trunc, now }));
    ctx.stdout.write(renderList(spec, rows));
    return 0;
  },
};
