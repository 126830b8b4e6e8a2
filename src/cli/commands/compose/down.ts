/** `berth compose down`. */
import { parseIntFlag } from '../../command.js';
import { StatusError } from '../../errors.js';
import type { FlagSet } from '../../flags.js';
import { defineVerb, runner, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = defineVerb({
  usage: '[OPTIONS] [SERVICES]',
  description: 'Stop and remove containers, networks',
  configure(f: FlagSet) {
    f.option('-v, --volumes', 'Remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers');
    f.option('--rmi <string>', 'Remove images used by services. "local" remove only images that don\'t have a custom tag ("local"|"all")');
    f.option('--remove-orphans', 'Remove containers for services not defined in the Compose file');
    f.option('-t, --timeout <int>', 'Specify a shutdown timeout in seconds', parseIntFlag);
  },
  async runCompose(session, _args, opts) {
    const o = opts as { volumes?: boolean; rmi?: string; removeOrphans?: boolean; timeout?: number };
    if (o.rmi !== undefined && o.rmi !== 'local' && o.rmi !== 'all') throw new StatusError(1, `invalid value for --rmi: ${o.rmi}`);
    const r = await runner(session, session.load());
    await r.down({ volumes: o.volumes, rmi: o.rmi as 'local' | 'all' | undefined, removeOrphans: o.removeOrphans, timeout: o.timeout });
    return 0;
  },
});
