/** `berth compose start`. */
import { simple, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = simple('Start services', '[SERVICE...]', () => {}, (r, args) => r.start(args));
