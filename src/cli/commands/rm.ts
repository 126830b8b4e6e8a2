import type { CommandModule } from '../command.js';
import { forEachTarget } from '../targets.js';

/** `berth rm`: DELETE /containers/{id}?force=&v= for each container. */
export const command: CommandModule = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Remove one or more containers',
  aliases: ['berth container rm', 'berth container remove'],
  args: { min: 1 },
  configure(cmd) {
    cmd.option('-f, --force', 'Force the removal of a running container (uses SIGKILL)');
    cmd.option('-l, --link', 'Remove the specified link');
    cmd.option('-v, --volumes', 'Remove anonymous volumes associated with the container');
  },
  async run(ctx, args, opts) {
    const client = await ctx.client();
    const o = opts as { force?: boolean; volumes?: boolean; link?: boolean };
    // -l: DELETE /containers/{name}?link=1 removes the legacy link NAME (`/web/db`), not a container.
    if (o.link) return forEachTarget(ctx, args, (name) => client.send('DELETE', `/containers/${encodeURIComponent(name)}`, { query: { link: true, force: o.force, v: o.volumes } }));
    return forEachTarget(ctx, args, (id) => client.containerRemove(id, { force: o.force, volumes: o.volumes }));
  },
};
