/** `berth compose kill`. */
import { simple, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = simple('Force stop service containers', '[OPTIONS] [SERVICE...]', (f) => {
  f.option('-s, --signal <string>', 'SIGNAL to send to the container', 'SIGKILL');
  f.option('--remove-orphans', 'Remove containers for services not defined in the Compose file');
}, (r, args, o) => r.kill(args, o.signal as string));
