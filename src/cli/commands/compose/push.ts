/** `berth compose push`. */
import { simple, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = simple('Push service images', '[OPTIONS] [SERVICE...]', (f) => {
  f.option('--ignore-push-failures', 'Push what it can and ignores images with push failures');
  f.option('-q, --quiet', 'Push without printing progress information');
}, (r, args, o) => r.push(args, { ignoreFailures: o.ignorePushFailures as boolean }));
