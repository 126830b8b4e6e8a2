import { StatusError } from '../errors.js';
import { collect, type CommandModule } from '../command.js';
import { encodeFilters } from '../../client/client.js';
import { ImageRow, imageRows } from '../format/row-views.js';
import { compileListFormat, renderList } from '../format/formatter.js';
import { parseFilters } from '../filters.js';

const DEFAULT_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
const DIGEST_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';

/** `berth images`: GET /images/json?all=&filters= (a REPOSITORY[:TAG] argument is a `reference` filter). */
export const command: CommandModule = {
  usage: '[OPTIONS] [REPOSITORY[:TAG]]',
  description: 'List images',
  aliases: ['berth image ls', 'berth image list'],
  args: { max: 1 },
  configure(cmd) {
    cmd.option('-a, --all', 'Show all images (default hides intermediate images)');
    cmd.option('--digests', 'Show digests');
    cmd.option('-f, --filter <filter>', 'Filter output based on conditions provided', collect);
    cmd.option('--format <string>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or 'TEMPLATE'");
    cmd.option('--no-trunc', "Don't truncate output");
    cmd.option('-q, --quiet', 'Only show image IDs');
    cmd.option('--tree', 'List multi-platform images as a tree (EXPERIMENTAL)');
  },
  async run(ctx, args, opts) {
    const o = opts as { all?: boolean; digests?: boolean; filter?: string[]; format?: string; trunc: boolean; quiet?: boolean };
    if ((opts as { tree?: boolean }).tree) throw new StatusError(1, '--tree (the experimental multi-platform image tree) is not implemented in berth: list images with `berth images` and inspect one with `berth image inspect`');
    const filters = parseFilters(o.filter);
    if (args[0]) filters.push(['reference', args[0]]);
    let format = o.format ?? '';
    if (o.quiet) format = '{{.ID}}';
    const spec = { format, defaultTable: o.digests ? DIGEST_TABLE : DEFAULT_TABLE, headers: ImageRow.HEADERS };
    compileListFormat(spec);
    const client = await ctx.client();
    const images = await client.imageList({ all: o.all, filters: encodeFilters(filters) });
    const now = ctx.now();
    const rows = images.flatMap((i) => imageRows(i).map((r) => new ImageRow(i, r, { trunc: o.trunc, now })));
    ctx.stdout.write(renderList(spec, rows));
    return 0;
  },
};
