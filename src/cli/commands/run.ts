import type { CommandModule } from '../command.js';
import { attachContainer, checkDetachKeys, monitorTtySize, type AttachedStreams } from '../attach.js';
import { addContainerFlags, buildCreateBody, type ContainerFlags } from '../container-options.js';
import { createContainer, runError, startErrorStatus } from '../create-container.js';
import { StatusError } from '../errors.js';

/**
 * `berth run`, the docker CLI's flow:
 *   POST /containers/create?name=            (404 → POST /images/create?fromImage=&tag=, retry)
 *   -d:  POST /containers/{id}/start, print the ID
 *   else POST /containers/{id}/attach?stream=1&stdout=1&stderr=1[&stdin=1]  (101, hijacked)
 *        POST /containers/{id}/wait?condition=next-exit (or removed with --rm), sent before
 *        start so a fast exit cannot be missed
 *        POST /containers/{id}/start
 *        exit with the wait's StatusCode once the output stream has ended.
 */
export const command: CommandModule = {
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create and run a new container from an image',
  aliases: ['berth container run'],
  args: { min: 1 },
  positionalStop: true,
  configure(cmd) {
    cmd.option('-d, --detach', 'Run container in background and print container ID');
    cmd.option('--sig-proxy', 'Proxy received signals to the process', true);
    cmd.option('--detach-keys <string>', 'Override the key sequence for detaching a container');
    addContainerFlags(cmd);
  },
  async run(ctx, args, opts) {
    const flags = opts as unknown as ContainerFlags & { sigProxy: boolean; detachKeys?: string };
    checkDetachKeys(flags.detachKeys);
    const [image, ...cmdArgs] = args as [string, ...string[]];
    const body = buildCreateBody(flags, image, cmdArgs, ctx.env);
    // As docker: the terminal's size goes with the create, so the container's tty has it before
    // its process starts (a resize after start races a process that reads it at once).
    const out = ctx.stdout as NodeJS.WriteStream;
    if (body.Tty && !flags.detach && out.isTTY && out.rows > 0 && out.columns > 0) body.HostConfig = { ...body.HostConfig, ConsoleSize: [out.rows, out.columns] };
    const client = await ctx.client();
    const id = await createContainer(ctx, client, 'run', body, flags);

    if (flags.detach) {
      try {
        await client.containerStart(id);
      } catch (err) {
        throw runError(ctx, 'run', err, false, startErrorStatus((err as Error).message));
      }
      ctx.stdout.write(`${id}\n`);
      return 0;
    }

    let attached: AttachedStreams | undefined;
    if (body.AttachStdout || body.AttachStderr || body.AttachStdin) {
      try {
        attached = await attachContainer(ctx, client, id, {
          stdin: body.AttachStdin ?? false,
          stdout: body.AttachStdout ?? false,
          stderr: body.AttachStderr ?? false,
          tty: body.Tty ?? false,
          detachKeys: flags.detachKeys,
        });
      } catch (err) {
        throw runError(ctx, 'run', err, false);
      }
    }

    let sent!: () => void;
    const waitSent = new Promise<void>((r) => (sent = r));
    const waited = client.containerWait(id, flags.rm ? 'removed' : 'next-exit', { onSent: sent });
    // If the wait fails before it is sent (daemon gone), don't hang waiting for the send.
    await Promise.race([waitSent, waited.then(() => {}, () => {})]);

    try {
      await client.containerStart(id);
    } catch (err) {
      attached?.close();
      waited.catch(() => {});
      throw runError(ctx, 'run', err, false, startErrorStatus((err as Error).message));
    }

    const unsubscribe =
      flags.sigProxy && !body.Tty
        ? ctx.onSignal((signal) => {
            client.containerKill(id, signal).catch(() => {});
          })
        : () => {};
    // The TTY gets our window size now and on every SIGWINCH.
    const stopResize = body.Tty && attached ? monitorTtySize(ctx, (h, w) => client.containerResize(id, h, w)) : () => {};
    try {
      if (attached) {
        try {
          // Detached (Ctrl-P Ctrl-Q): the container keeps running and we are done.
          if ((await attached.done) === 'detached') {
            waited.catch(() => {});
            return 0;
          }
        } catch (err) {
          ctx.stderr.write(`Error: ${(err as Error).message}\n`);
        }
      }
      let result;
      try {
        result = await waited;
      } catch (err) {
        throw new StatusError(125, `${ctx.prog}: error waiting for container: ${(err as Error).message}`);
      }
      if (result.Error?.Message) throw new StatusError(125, `${ctx.prog}: error waiting for container: ${result.Error.Message}`);
      return result.StatusCode;
    } finally {
      unsubscribe();
      stopResize();
    }
  },
};
