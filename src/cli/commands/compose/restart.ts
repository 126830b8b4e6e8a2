/** `berth compose restart`. */
import { parseIntFlag } from '../../command.js';
import { simple, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = simple('Restart service containers', '[OPTIONS] [SERVICE...]', (f) => {
  f.option('-t, --timeout <int>', 'Specify a shutdown timeout in seconds', parseIntFlag);
  f.option('--no-deps', "Don't restart dependent services");
}, (r, args, o) => r.restart(args, o.timeout as number | undefined));
