/** `berth compose rm`. */
import { StatusError } from '../../errors.js';
import type { FlagSet } from '../../flags.js';
import { defineVerb, runner, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = defineVerb({
  usage: '[OPTIONS] [SERVICE...]',
  description: 'Removes stopped service containers',
  configure(f: FlagSet) {
    f.option('-f, --force', "Don't ask to confirm removal");
    f.option('-s, --stop', 'Stop the containers, if required, before removing');
    f.option('-v, --volumes', 'Remove any anonymous volumes attached to containers');
  },
  async runCompose(session, args, opts) {
    const o = opts as { force?: boolean; stop?: boolean; volumes?: boolean };
    const r = await runner(session, session.load(args));
    const list = (await r.containers({ services: args })).filter((c) => o.stop || c.state !== 'running');
    if (list.length === 0) {
      session.ctx.stderr.write('No stopped containers\n');
      return 0;
    }
    if (!o.force) {
      if (!(session.ctx.stdin as { isTTY?: boolean }).isTTY) throw new StatusError(1, `Going to remove ${list.map((c) => c.name).join(', ')}\nconfirmation required: use -f to remove without asking`);
      session.ctx.stdout.write(`Going to remove ${list.map((c) => c.name).join(', ')}\n? Are you sure? [yN] `);
      const answer = await new Promise<string>((res) => session.ctx.stdin.once('data', (d: Buffer) => res(d.toString())));
      if (!/^y/i.test(answer.trim())) return 0;
    }
    await r.rm(args, { stop: o.stop, volumes: o.volumes });
    return 0;
  },
});
