import { envFromFiles } from '../env-file.js';
import type { CommandModule } from '../command.js';
import { collect } from '../command.js';
import { checkDetachKeys, monitorTtySize, pumpStreams } from '../attach.js';
import { StatusError } from '../errors.js';

/**
 * `berth exec`, the docker CLI's flow: POST /containers/{id}/exec (Cmd, Env, WorkingDir, User,
 * Privileged, Tty, Attach*), then
 *   -d:  POST /exec/{id}/start {"Detach": true}
 *   else POST /exec/{id}/start (hijacked, with our terminal size as ConsoleSize), resize on
 *        SIGWINCH (POST /exec/{id}/resize), and when the stream ends GET /exec/{id}/json:
 *        exit with its ExitCode.
 */
export const command: CommandModule = {
  usage: '[OPTIONS] CONTAINER COMMAND [ARG...]',
  description: 'Execute a command in a running container',
  aliases: ['berth container exec'],
  args: { min: 2 },
  positionalStop: true,
  configure(cmd) {
    cmd.option('-d, --detach', 'Detached mode: run command in the background');
    cmd.option('--detach-keys <string>', 'Override the key sequence for detaching a container');
    cmd.option('-e, --env <list>', 'Set environment variables', collect);
    cmd.option('--env-file <list>', 'Read in a file of environment variables', collect);
    cmd.option('-i, --interactive', 'Keep STDIN open even if not attached');
    cmd.option('--privileged', 'Give extended privileges to the command');
    cmd.option('-t, --tty', 'Allocate a pseudo-TTY');
    cmd.option('-u, --user <string>', 'Username or UID (format: "<name|uid>[:<group|gid>]")');
    cmd.option('-w, --workdir <string>', 'Working directory inside the container');
  },
  async run(ctx, args, opts) {
    const o = opts as { envFile?: string[]; detach?: boolean; detachKeys?: string; env?: string[]; interactive?: boolean; privileged?: boolean; tty?: boolean; user?: string; workdir?: string };
    checkDetachKeys(o.detachKeys);
    const [container, ...cmd] = args as [string, ...string[]];
    const client = await ctx.client();
    const tty = o.tty ?? false;
    const stdin = (o.interactive ?? false) && !o.detach;
    // docker: `-e NAME` without a value takes NAME from our environment (or drops it).
    const env = [...envFromFiles(o.envFile, ctx.env), ...(o.env ?? [])].flatMap((e) => (e.includes('=') ? [e] : ctx.env[e] !== undefined ? [`${e}=${ctx.env[e]}`] : []));
    const out = ctx.stdout as NodeJS.WriteStream;
    const size: [number, number] | undefined = tty && out.isTTY && out.rows > 0 ? [out.rows, out.columns] : undefined;
    const id = await client.execCreate(container, {
      User: o.user ?? '',
      Privileged: o.privileged ?? false,
      Tty: tty,
      AttachStdin: stdin,
      AttachStdout: !o.detach,
      AttachStderr: !o.detach,
      Detach: o.detach ?? false,
      DetachKeys: o.detachKeys ?? '',
      Env: env,
      WorkingDir: o.workdir ?? '',
      Cmd: cmd,
      ...(size ? { ConsoleSize: size } : {}),
    });
    if (o.detach) {
      await client.execStartDetached(id, { Tty: tty });
      return 0;
    }
    const { socket, contentType } = await client.execStartAttached(id, { Tty: tty, ...(size ? { ConsoleSize: size } : {}) });
    const attached = pumpStreams(ctx, socket, contentType, { stdin, stdout: true, stderr: true, tty, detachKeys: o.detachKeys });
    const stopResize = tty ? monitorTtySize(ctx, (h, w) => client.execResize(id, h, w)) : () => {};
    try {
      const how = await attached.done;
      if (how === 'detached') throw new StatusError(1, 'read escape sequence');
    } finally {
      stopResize();
    }
    const info = await client.execInspect(id);
    return info.ExitCode ?? 0;
  },
};
