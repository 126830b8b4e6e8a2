/** `berth compose pause`. */
import { simple, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = simple('Pause services', '[SERVICE...]', () => {}, (r, args) => r.pause(args, false));
