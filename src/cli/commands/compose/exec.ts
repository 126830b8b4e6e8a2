/** `berth compose exec`. */
import { collect, parseIntFlag } from '../../command.js';
import { StatusError } from '../../errors.js';
import type { FlagSet } from '../../flags.js';
import { defineVerb, runner, has, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = defineVerb({
  usage: '[OPTIONS] SERVICE COMMAND [ARGS...]',
  description: 'Execute a command in a running container',
  positionalStop: true,
  args: { min: 2 },
  configure(f: FlagSet) {
    f.option('-d, --detach', 'Detached mode: Run command in the background');
    f.option('-e, --env <stringArray>', 'Set environment variables', collect);
    f.option('--index <int>', 'Index of the container if service has multiple replicas', parseIntFlag, 1);
    f.option('-T, --no-TTY', 'Disable pseudo-TTY allocation. By default `docker compose exec` allocates a TTY.');
    f.option('--privileged', 'Give extended privileges to the process');
    f.option('-u, --user <string>', 'Run the command as this user');
    f.option('-w, --workdir <string>', 'Path to workdir directory for this command');
  },
  async runCompose(session, args, opts) {
    const o = opts as { detach?: boolean; env?: string[]; index?: number; TTY?: boolean; privileged?: boolean; user?: string; workdir?: string };
    const [service, ...cmd] = args as [string, ...string[]];
    const project = session.load([service]);
    const r = await runner(session, project);
    const c = await r.containerFor(service, o.index ?? 1);
    if (c.state !== 'running') throw new StatusError(1, `service "${service}" is not running`);
    const tty = o.TTY !== false && !!session.ctx.stdin.isTTY && !!session.ctx.stdout.isTTY;
    const { command: exec } = await import('../exec.js');
    return exec.run(session.ctx, [c.id, ...cmd], { detach: o.detach, env: o.env, interactive: !o.detach && (o.TTY !== false || !session.ctx.stdin.isTTY), tty, privileged: o.privileged, user: o.user, workdir: o.workdir });
  },
});
