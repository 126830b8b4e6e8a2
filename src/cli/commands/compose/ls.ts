/** `berth compose ls`. */
import type { FlagSet } from '../../flags.js';
import { encodeFilters } from '../../../client/client.js';
import type { ContainerSummary } from '../../../wire/api-types.js';
import { LABEL } from '../../../compose/convert.js';
import { alignColumns } from '../../format/tabwriter.js';
import { defineVerb, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = defineVerb({
  usage: '[OPTIONS]',
  description: 'List running compose projects',
  configure(f: FlagSet) {
    f.option('-a, --all', 'Show all stopped Compose projects');
    f.option('-q, --quiet', 'Only display IDs');
    f.option('--format <string>', 'Format the output. Values: [table | json]', 'table');
    f.option('--filter <string>', 'Filter output based on conditions provided');
  },
  async runCompose(session, _args, opts) {
    const o = opts as { all?: boolean; quiet?: boolean; format?: string; filter?: string };
    const client = await session.ctx.client();
    const list: ContainerSummary[] = await client.containerList({ all: true, filters: encodeFilters([['label', LABEL.project]]) });
    const projects = new Map<string, { states: Map<string, number>; files: string }>();
    for (const c of list) {
      const name = c.Labels?.[LABEL.project];
      if (!name) continue;
      const p = projects.get(name) ?? { states: new Map(), files: c.Labels?.[LABEL.configFiles] ?? '' };
      p.states.set(c.State ?? 'unknown', (p.states.get(c.State ?? 'unknown') ?? 0) + 1);
      projects.set(name, p);
    }
    let rows = [...projects.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, p]) => ({
      Name: name,
      Status: [...p.states.entries()].sort().map(([s, n]) => `${s}(${n})`).join(', '),
      ConfigFiles: p.files,
      running: p.states.get('running') ?? 0,
    }));
    if (!o.all) rows = rows.filter((r) => r.running > 0);
    if (o.filter?.startsWith('name=')) rows = rows.filter((r) => r.Name.includes(o.filter!.slice(5)));
    const out = session.ctx.stdout;
    if (o.quiet) out.write(rows.map((r) => `${r.Name}\n`).join(''));
    else if (o.format === 'json') out.write(`${JSON.stringify(rows.map(({ running: _r, ...x }) => x))}\n`);
    else out.write(alignColumns(`${['NAME\tSTATUS\tCONFIG FILES', ...rows.map((r) => `${r.Name}\t${r.Status}\t${r.ConfigFiles}`)].join('\n')}\n`, { padding: 3 }));
    return 0;
  },
});
