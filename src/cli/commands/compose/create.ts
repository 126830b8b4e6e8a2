/** `berth compose create`. */
import { collect } from '../../command.js';
import type { FlagSet } from '../../flags.js';
import { defineVerb, runner, parseScale, has, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = defineVerb({
  usage: '[OPTIONS] [SERVICE...]',
  description: 'Creates containers for a service',
  configure(f: FlagSet) {
    f.option('--build', 'Build images before starting containers');
    f.option('--no-build', "Don't build an image, even if it's policy");
    f.option('--force-recreate', "Recreate containers even if their configuration and image haven't changed");
    f.option('--no-recreate', "If containers already exist, don't recreate them. Incompatible with --force-recreate.");
    f.option('--scale <stringArray>', 'Scale SERVICE to NUM instances', collect);
    f.option('--remove-orphans', 'Remove containers for services not defined in the Compose file');
  },
  async runCompose(session, args, opts, argv) {
    const o = opts as { forceRecreate?: boolean; scale?: string[]; removeOrphans?: boolean };
    const r = await runner(session, session.load(args));
    await r.up({ services: args, build: has(argv, '--build'), noBuild: has(argv, '--no-build'), forceRecreate: o.forceRecreate, noRecreate: has(argv, '--no-recreate'), scale: parseScale(o.scale), removeOrphans: o.removeOrphans, noStart: true });
    return 0;
  },
});
