/** `berth compose stop`. */
import { parseIntFlag } from '../../command.js';
import { simple, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = simple('Stop services', '[OPTIONS] [SERVICE...]', (f) => f.option('-t, --timeout <int>', 'Specify a shutdown timeout in seconds', parseIntFlag), (r, args, o) => r.stop(args, o.timeout as number | undefined));
