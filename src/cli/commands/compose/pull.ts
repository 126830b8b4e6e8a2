/** `berth compose pull`. */
import { simple, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = simple('Pull service images', '[OPTIONS] [SERVICE...]', (f) => {
  f.option('--ignore-pull-failures', 'Pull what it can and ignores images with pull failures');
  f.option('--ignore-buildable', 'Ignore images that can be built');
  f.option('-q, --quiet', 'Pull without printing progress information');
}, (r, args, o) => r.pull(args, { ignoreFailures: o.ignorePullFailures as boolean, quiet: o.quiet as boolean, ignoreBuildable: o.ignoreBuildable as boolean }));
