import type { CommandModule } from '../command.js';
import { addContainerFlags, buildCreateBody, type ContainerFlags } from '../container-options.js';
import { createContainer } from '../create-container.js';

/** `berth create`: POST /containers/create?name= (pulling on 404 as run does); prints the ID. */
export const command: CommandModule = {
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create a new container',
  aliases: ['berth container create'],
  args: { min: 1 },
  positionalStop: true,
  configure(cmd) {
    addContainerFlags(cmd);
  },
  async run(ctx, args, opts) {
    // Like docker create: the config says stdout/stderr (and stdin with -i) are attached.
    const flags = { ...(opts as unknown as ContainerFlags), detach: false };
    const [image, ...cmdArgs] = args as [string, ...string[]];
    const body = buildCreateBody(flags, image, cmdArgs, ctx.env);
    const client = await ctx.client();
    const id = await createContainer(ctx, client, 'create', body, flags);
    ctx.stdout.write(`${id}\n`);
    return 0;
  },
};
