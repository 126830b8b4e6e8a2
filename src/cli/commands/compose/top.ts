/** `berth compose top`. */
import { alignColumns } from '../../format/tabwriter.js';
import { defineVerb, runner, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = defineVerb({
  usage: '[SERVICES...]',
  description: 'Display the running processes',
  configure() {},
  async runCompose(session, args) {
    const r = await runner(session, session.load(args));
    const list = (await r.containers({ services: args })).filter((c) => c.state === 'running');
    let out = '';
    for (const c of list) {
      const top = await r.client.containerTop(c.id);
      out += `${c.name}\n`;
      out += alignColumns([top.Titles.join('\t'), ...top.Processes.map((p) => p.join('\t'))].join('\n') + '\n', { padding: 3 });
      out += '\n';
    }
    session.ctx.stdout.write(out);
    return 0;
  },
});
