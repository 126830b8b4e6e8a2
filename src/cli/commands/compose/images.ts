/** `berth compose images`. */
import type { FlagSet } from '../../flags.js';
import { alignColumns } from '../../format/tabwriter.js';
import { humanSize } from '../../../common/units.js';
import { defineVerb, runner, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = defineVerb({
  usage: '[OPTIONS] [SERVICE...]',
  description: 'List images used by the created containers',
  configure(f: FlagSet) {
    f.option('-q, --quiet', 'Only display IDs');
    f.option('--format <string>', 'Format the output. Values: [table | json]', 'table');
  },
  async runCompose(session, args, opts) {
    const o = opts as { quiet?: boolean; format?: string };
    const r = await runner(session, session.load(args));
    const list = await r.containers({ services: args });
    const rows: Array<Record<string, unknown>> = [];
    for (const c of list) {
      const img = await r.client.imageInspect(c.summary.ImageID ?? c.summary.Image ?? '').catch(() => undefined);
      const ref = c.summary.Image ?? '';
      const i = ref.lastIndexOf(':');
      const [repo, tag] = i > ref.lastIndexOf('/') && i >= 0 ? [ref.slice(0, i), ref.slice(i + 1)] : [ref, 'latest'];
      rows.push({ ContainerName: c.name, Repository: repo, Tag: tag, ID: String(img?.Id ?? c.summary.ImageID ?? ''), Size: Number(img?.Size ?? 0) });
    }
    const out = session.ctx.stdout;
    if (o.quiet) {
      out.write([...new Set(rows.map((r) => String(r.ID)))].map((id) => `${id}\n`).join(''));
      return 0;
    }
    if (o.format === 'json') {
      out.write(`${JSON.stringify(rows)}\n`);
      return 0;
    }
    const lines = ['CONTAINER\tREPOSITORY\tTAG\tIMAGE ID\tSIZE', ...rows.map((r) => `${r.ContainerName}\t${r.Repository}\t${r.Tag}\t${String(r.ID).replace(/^sha256:/, '').slice(0, 12)}\t${humanSize(Number(r.Size))}`)];
    out.write(alignColumns(`${lines.join('\n')}\n`, { padding: 3 }));
    return 0;
  },
});
