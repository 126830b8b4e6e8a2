/** `berth compose logs`. */
import { parseIntFlag } from '../../command.js';
import type { FlagSet } from '../../flags.js';
import { LogPrinter } from '../compose-log-printer.js';
import { defineVerb, runner, logName, has, relTime, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = defineVerb({
  usage: '[OPTIONS] [SERVICE...]',
  description: 'View output from containers',
  configure(f: FlagSet) {
    f.option('-f, --follow', 'Follow log output');
    f.option('-n, --tail <string>', 'Number of lines to show from the end of the logs for each container', 'all');
    f.option('-t, --timestamps', 'Show timestamps');
    f.option('--since <string>', 'Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)');
    f.option('--until <string>', 'Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)');
    f.option('--no-color', 'Produce monochrome output');
    f.option('--no-log-prefix', "Don't print prefix in logs");
    f.option('--index <int>', 'index of the container if service has multiple replicas', parseIntFlag);
  },
  async runCompose(session, args, opts) {
    const o = opts as { follow?: boolean; tail?: string; timestamps?: boolean; since?: string; until?: string; color?: boolean; logPrefix?: boolean; index?: number };
    const project = session.load(args);
    const r = await runner(session, project);
    if (args.length) r.selectServices(args);
    let list = await r.containers({ services: args });
    if (o.index !== undefined) list = list.filter((c) => c.number === o.index);
    const printer = new LogPrinter(session.ctx.stdout, { color: session.color && o.color !== false, prefix: o.logPrefix !== false });
    printer.register(list.map((c) => logName(project, c)));
    const client = r.client;
    await Promise.all(
      list.map(async (c) => {
        const info = await client.containerInspect(c.id);
        await printer.follow(client, c.id, logName(project, c), { follow: o.follow, tail: o.tail, timestamps: o.timestamps, since: relTime(o.since, session.ctx.now()), until: relTime(o.until, session.ctx.now(), 'until') }, !!info.Config?.Tty);
      }),
    );
    return 0;
  },
});
