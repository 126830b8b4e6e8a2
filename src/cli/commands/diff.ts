import type { CommandModule } from '../command.js';

/** `berth diff`: GET /containers/{id}/changes, printed as docker does (`A /path`, `C`, `D`). */
export const command: CommandModule = {
  usage: 'CONTAINER',
  description: "Inspect changes to files or directories on a container's filesystem",
  aliases: ['berth container diff'],
  args: { exact: 1 },
  configure() {},
  async run(ctx, args) {
    const client = await ctx.client();
    const changes = await client.json<{ Path: string; Kind: number }[] | null>('GET', `/containers/${encodeURIComponent(args[0]!)}/changes`);
    for (const c of changes ?? []) ctx.stdout.write(`${['C', 'A', 'D'][c.Kind] ?? '?'} ${c.Path}\n`);
    return 0;
  },
};
