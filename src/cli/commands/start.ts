import type { CommandModule } from '../command.js';
import { attachContainer, checkDetachKeys, monitorTtySize } from '../attach.js';
import { StatusError } from '../errors.js';
import { forEachTarget } from '../targets.js';

/**
 * `berth start`: POST /containers/{id}/start for each container, printing its name.
 * With -a (one container): GET /containers/{id}/json (tty?), POST …/attach (hijacked),
 * POST …/wait?condition=next-exit (or removed for --rm containers), POST …/start; exits with
 * the container's status.
 */
export const command: CommandModule = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Start one or more stopped containers',
  aliases: ['berth container start'],
  args: { min: 1 },
  configure(cmd) {
    cmd.option('-a, --attach', 'Attach STDOUT/STDERR and forward signals');
    cmd.option('-i, --interactive', "Attach container's STDIN");
    cmd.option('--detach-keys <string>', 'Override the key sequence for detaching a container');
    cmd.option('--checkpoint <string>', 'Restore from this checkpoint');
    cmd.option('--checkpoint-dir <string>', 'Use a custom checkpoint storage directory');
  },
  async run(ctx, args, opts) {
    const o = opts as { attach?: boolean; interactive?: boolean; detachKeys?: string; checkpoint?: string; checkpointDir?: string };
    if (o.checkpoint !== undefined || o.checkpointDir !== undefined) {
      throw new StatusError(1, `${o.checkpoint !== undefined ? '--checkpoint' : '--checkpoint-dir'}: checkpoint/restore needs CRIU, which berth does not support (and which does not work on this kernel)`);
    }
    checkDetachKeys(o.detachKeys);
    const client = await ctx.client();
    if (!o.attach && !o.interactive) {
      const code = await forEachTarget(ctx, args, (id) => client.containerStart(id));
      if (code !== 0) throw new StatusError(1, `Error: failed to start containers: ${args.join(', ')}`);
      return 0;
    }
    if (args.length > 1) throw new StatusError(1, 'you cannot start and attach multiple containers at once');
    const id = args[0]!;
    const info = await client.containerInspect(id);
    const tty = info.Config?.Tty ?? false;
    const attached = await attachContainer(ctx, client, info.Id, {
      stdin: (o.interactive ?? false) && (info.Config?.OpenStdin ?? false),
      stdout: true,
      stderr: true,
      tty,
      detachKeys: o.detachKeys,
    });
    let sent!: () => void;
    const waitSent = new Promise<void>((r) => (sent = r));
    const waited = client.containerWait(info.Id, info.HostConfig?.AutoRemove ? 'removed' : 'next-exit', { onSent: sent });
    await Promise.race([waitSent, waited.then(() => {}, () => {})]);
    try {
      await client.containerStart(info.Id);
    } catch (err) {
      attached.close();
      waited.catch(() => {});
      throw err;
    }
    const unsubscribe = tty ? () => {} : ctx.onSignal((signal) => void client.containerKill(info.Id, signal).catch(() => {}));
    const stopResize = tty ? monitorTtySize(ctx, (h, w) => client.containerResize(info.Id, h, w)) : () => {};
    try {
      const how = await attached.done.catch((err: Error) => void ctx.stderr.write(`Error: ${err.message}\n`));
      if (how === 'detached') {
        waited.catch(() => {});
        return 0;
      }
      const result = await waited;
      return result.StatusCode;
    } finally {
      unsubscribe();
      stopResize();
    }
  },
};
