import type { CommandModule } from '../command.js';
import { attachContainer, checkDetachKeys, monitorTtySize } from '../attach.js';
import { StatusError } from '../errors.js';

/**
 * `berth attach`: GET /containers/{id}/json (running? tty? stdin open?), then
 * POST /containers/{id}/attach?stream=1&stdin=&stdout=1&stderr=1&detachKeys= (hijacked).
 * When the stream ends: POST /containers/{id}/wait and exit with the container's code. The
 * detach keys leave it running (docker prints "read escape sequence" and exits 1).
 */
export const command: CommandModule = {
  usage: '[OPTIONS] CONTAINER',
  description: 'Attach local standard input, output, and error streams to a running container',
  aliases: ['berth container attach'],
  args: { exact: 1 },
  configure(cmd) {
    cmd.option('--detach-keys <string>', 'Override the key sequence for detaching a container');
    cmd.option('--no-stdin', 'Do not attach STDIN');
    cmd.option('--sig-proxy', 'Proxy all received signals to the process', true);
  },
  async run(ctx, args, opts) {
    const o = opts as { detachKeys?: string; stdin?: boolean; sigProxy?: boolean };
    checkDetachKeys(o.detachKeys);
    const client = await ctx.client();
    const info = await client.containerInspect(args[0]!);
    const state = info.State as { Running?: boolean; Paused?: boolean; Restarting?: boolean } | undefined;
    if (!state?.Running) throw new StatusError(1, 'You cannot attach to a stopped container, start it first');
    if (state.Paused) throw new StatusError(1, 'You cannot attach to a paused container, unpause it first');
    if (state.Restarting) throw new StatusError(1, 'You cannot attach to a restarting container, wait until it is running');
    const tty = info.Config?.Tty ?? false;
    const attached = await attachContainer(ctx, client, info.Id, {
      stdin: o.stdin !== false && (info.Config?.OpenStdin ?? false),
      stdout: true,
      stderr: true,
      tty,
      detachKeys: o.detachKeys,
    });
    const unsubscribe = o.sigProxy !== false && !tty ? ctx.onSignal((signal) => void client.containerKill(info.Id, signal).catch(() => {})) : () => {};
    const stopResize = tty ? monitorTtySize(ctx, (h, w) => client.containerResize(info.Id, h, w)) : () => {};
    try {
      const how = await attached.done;
      if (how === 'detached') throw new StatusError(1, 'read escape sequence');
      const result = await client.containerWait(info.Id, 'not-running');
      return result.StatusCode;
    } finally {
      unsubscribe();
      stopResize();
    }
  },
};
