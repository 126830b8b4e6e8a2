/** `berth compose version`. */
import type { FlagSet } from '../../flags.js';
import { COMPOSE_VERSION } from '../../../compose/convert.js';
import { defineVerb, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = defineVerb({
  usage: '[OPTIONS]',
  description: 'Show the Docker Compose version information',
  configure(f: FlagSet) {
    f.option('--short', "Shows only Compose's version number");
    f.option('-f, --format <string>', 'Format the output. Values: [pretty | json]', 'pretty');
  },
  async runCompose(session, _args, opts) {
    const o = opts as { short?: boolean; format?: string };
    const out = session.ctx.stdout;
    if (o.short) out.write(`${COMPOSE_VERSION}\n`);
    else if (o.format === 'json') out.write(`${JSON.stringify({ version: `v${COMPOSE_VERSION}` })}\n`);
    else out.write(`berth compose version v${COMPOSE_VERSION} (Docker Compose compatible)\n`);
    return 0;
  },
});
