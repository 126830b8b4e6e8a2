import type { CommandModule } from '../command.js';
import { collect } from '../command.js';
import { encodeFilters } from '../../client/client.js';
import { parseFilters } from '../filters.js';
import { parseTimestamp } from '../timestamp.js';
import { parseTemplate } from '../format/template.js';

interface EventMessage {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> };
  time: number;
  timeNano: number;
  [k: string]: unknown;
}

/** docker's default line: `2024-01-02T03:04:05.123456789Z container start ID (image=…, name=…)`. */
export function formatEvent(e: EventMessage, timeNanoDigits = String(e.timeNano)): string {
  // timeNano does not fit a double exactly: the seconds come from `time`, the nanoseconds from the raw digits.
  const digits = timeNanoDigits;
  const secs = e.time;
  const nanos = digits.length > 9 ? digits.slice(-9) : digits.padStart(9, '0');
  const time = new Date(secs * 1000).toISOString().replace(/\.\d{3}Z$/, `.${nanos}Z`);
  const attrs = Object.entries(e.Actor.Attributes ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`);
  return `${time} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs.length ? ` (${attrs.join(', ')})` : ''}`;
}

/** `berth events`: GET /events, one line per event until interrupted (or `--until`). */
export const command: CommandModule = {
  usage: '[OPTIONS]',
  description: 'Get real time events from the server',
  aliases: ['berth system events'],
  args: { max: 0 },
  configure(cmd) {
    cmd.option('-f, --filter <list>', 'Filter output based on conditions provided', collect);
    cmd.option('--format <string>', 'Format output using a custom template');
    cmd.option('--since <string>', 'Show all events created since timestamp');
    cmd.option('--until <string>', 'Stream events until this timestamp');
  },
  async run(ctx, _args, opts) {
    const o = opts as { filter?: string[]; format?: string; since?: string; until?: string };
    const now = Date.now();
    const template = o.format && o.format !== 'json' ? parseTemplate(o.format) : undefined;
    const client = await ctx.client();
    const res = await client.events({
      filters: encodeFilters(parseFilters(o.filter)),
      since: o.since !== undefined ? parseTimestamp(o.since, now, 'since') : undefined,
      until: o.until !== undefined ? parseTimestamp(o.until, now, 'until') : undefined,
    });
    let buf = '';
    for await (const chunk of res) {
      buf += (chunk as Buffer).toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const e = JSON.parse(line) as EventMessage;
        if (o.format === 'json') ctx.stdout.write(`${line}\n`);
        else if (template) ctx.stdout.write(`${template.execute(e)}\n`);
        else ctx.stdout.write(`${formatEvent(e, /"timeNano":(\d+)/.exec(line)?.[1])}\n`);
      }
    }
    return 0;
  },
};
