/** `berth compose build`. */
import { collect } from '../../command.js';
import { simple, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = simple('Build or rebuild services', '[OPTIONS] [SERVICE...]', (f) => {
  f.option('--no-cache', 'Do not use cache when building the image');
  f.option('--pull', 'Always attempt to pull a newer version of the image');
  f.option('-q, --quiet', "Don't print anything to STDOUT");
  f.option('--build-arg <stringArray>', 'Set build-time variables for services', collect);
}, (r, args, o) => r.build(args, { noCache: o.cache === false, pull: o.pull as boolean, quiet: o.quiet as boolean }));
