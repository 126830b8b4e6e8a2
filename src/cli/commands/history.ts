import type { CommandModule } from '../command.js';
import { humanDuration, humanSize } from '../../common/units.js';
import { ellipsis, truncateId } from '../format/row-views.js';
import { renderList } from '../format/formatter.js';
import { GO_TYPE } from '../format/template.js';
import type { ImageHistoryItem } from '../../wire/api-types.js';

const DEFAULT_TABLE = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
const HEADERS = { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' };

type HistoryItem = ImageHistoryItem;

/** RFC 3339 in local time, as Go's time.Format(time.RFC3339). */
function rfc3339(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const off = -d.getTimezoneOffset();
  const p = (n: number): string => String(n).padStart(2, '0');
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${zone}`;
}

/** `berth history IMAGE`: GET /images/{name}/history[?platform=], docker's table. */
export const command: CommandModule = {
  usage: '[OPTIONS] IMAGE',
  description: 'Show the history of an image',
  aliases: ['berth image history'],
  args: { exact: 1 },
  configure(cmd) {
    cmd.option('--format <string>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or 'TEMPLATE'");
    cmd.option('-H, --human', 'Print sizes and dates in human readable format', true);
    cmd.option('--no-trunc', "Don't truncate output");
    cmd.option('--platform <string>', 'Show history for the given platform. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")');
    cmd.option('-q, --quiet', 'Only show image IDs');
  },
  async run(ctx, args, opts) {
    const o = opts as { format?: string; human: boolean; trunc: boolean; platform?: string; quiet?: boolean };
    const client = await ctx.client();
    const platform = o.platform ? JSON.stringify(platformObject(o.platform)) : undefined;
    const items = await client.json<HistoryItem[]>('GET', `/images/${encodeURIComponent(args[0]!)}/history`, { query: { platform } });
    const now = ctx.now();
    const rows = items.map((h) => {
      const id = h.Id && h.Id !== '<missing>' ? (o.trunc ? truncateId(h.Id) : h.Id) : '<missing>';
      let createdBy = (h.CreatedBy ?? '').replace(/\t/g, ' ');
      if (o.trunc) createdBy = ellipsis(createdBy, 45);
      return {
        [GO_TYPE]: 'formatter.historyContext',
        ID: id,
        CreatedSince: o.human ? `${humanDuration(now - h.Created * 1000)} ago` : rfc3339(h.Created),
        CreatedAt: rfc3339(h.Created),
        CreatedBy: createdBy,
        Size: o.human ? humanSize(h.Size, 3) : String(h.Size),
        Comment: h.Comment ?? '',
        Tags: (h.Tags ?? []).join(', '),
      };
    });
    let format = o.format ?? '';
    if (o.quiet) format = '{{.ID}}';
    ctx.stdout.write(renderList({ format: format === 'json' ? '{{json .}}' : format, defaultTable: DEFAULT_TABLE, headers: HEADERS }, rows));
    return 0;
  },
};

/** `os[/arch[/variant]]` → the OCI platform object the API takes. */
function platformObject(p: string): { os: string; architecture?: string; variant?: string } {
  const [os, architecture, variant] = p.split('/');
  return { os: os!, ...(architecture ? { architecture } : {}), ...(variant ? { variant } : {}) };
}
