import type { CommandModule } from '../command.js';
import { parseReference } from '../reference.js';

/** `berth tag`: POST /images/{source}/tag?repo=&tag=. */
export const command: CommandModule = {
  usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  description: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  aliases: ['berth image tag'],
  args: { exact: 2 },
  configure() {},
  async run(ctx, args) {
    const [source, target] = args as [string, string];
    const ref = parseReference(target);
    if (ref.digest) throw new Error(`refusing to create a tag with a digest reference`);
    const client = await ctx.client();
    await client.imageTag(source, ref.name, ref.tag ?? 'latest');
    return 0;
  },
};
