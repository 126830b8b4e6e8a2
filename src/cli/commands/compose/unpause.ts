/** `berth compose unpause`. */
import { simple, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = simple('Unpause services', '[SERVICE...]', () => {}, (r, args) => r.pause(args, true));
