/** `berth compose run`. */
import { collect } from '../../command.js';
import type { FlagSet } from '../../flags.js';
import { shellSplit } from '../../../compose/units.js';
import { defineVerb, runner, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = defineVerb({
  usage: '[OPTIONS] SERVICE [COMMAND] [ARGS...]',
  description: 'Run a one-off command on a service',
  positionalStop: true,
  args: { min: 1 },
  configure(f: FlagSet) {
    f.option('-d, --detach', 'Run container in background and print container ID');
    f.option('--rm', 'Automatically remove the container when it exits');
    f.option('-e, --env <stringArray>', 'Set environment variables', collect);
    f.option('-l, --label <stringArray>', 'Add or override a label', collect);
    f.option('--entrypoint <string>', 'Override the entrypoint of the image');
    f.option('--name <string>', 'Assign a name to the container');
    f.option('--no-deps', "Don't start linked services");
    f.option('-T, --no-TTY', 'Disable pseudo-TTY allocation (default: auto-detected)');
    f.option('-i, --interactive', 'Keep STDIN open even if not attached', true);
    f.option('-u, --user <string>', 'Run as specified username or uid');
    f.option('-w, --workdir <string>', 'Working directory inside the container');
    f.option('-P, --service-ports', "Run command with all service's ports enabled and mapped to the host");
    f.option('--build', 'Build image before starting container');
    f.option('--quiet-pull', 'Pull without printing progress information');
  },
  async runCompose(session, args, opts) {
    const o = opts as { detach?: boolean; rm?: boolean; env?: string[]; label?: string[]; entrypoint?: string; name?: string; deps?: boolean; TTY?: boolean; interactive?: boolean; user?: string; workdir?: string; servicePorts?: boolean; build?: boolean; quietPull?: boolean };
    const [service, ...cmd] = args as [string, ...string[]];
    const project = session.load([service]);
    const r = await runner(session, project);
    r.selectServices([service]);
    const svc = project.services[service]!;
    const tty = o.TTY !== false && !!session.ctx.stdin.isTTY && !!session.ctx.stdout.isTTY;
    const stdinOpen = !o.detach && o.interactive !== false;
    const labels = Object.fromEntries((o.label ?? []).map((l) => {
      const i = l.indexOf('=');
      return i < 0 ? [l, ''] : [l.slice(0, i), l.slice(i + 1)];
    }));
    const created = await r.createOneoff(svc, {
      command: cmd.length ? cmd : undefined,
      entrypoint: o.entrypoint !== undefined ? shellSplit(o.entrypoint) : undefined,
      env: o.env?.map((e) => (e.includes('=') ? e : `${e}=${session.ctx.env[e] ?? ''}`)),
      tty,
      stdinOpen,
      user: o.user,
      workdir: o.workdir,
      servicePorts: o.servicePorts,
      name: o.name,
      labels,
    }, { noDeps: o.deps === false, build: o.build, quietPull: o.quietPull });
    const client = r.client;
    if (o.detach) {
      await client.containerStart(created.id);
      session.ctx.stdout.write(`${created.name}\n`);
      return 0;
    }
    const { command: start } = await import('../start.js');
    try {
      return await start.run(session.ctx, [created.id], { attach: true, interactive: stdinOpen });
    } finally {
      if (o.rm) await client.containerRemove(created.id, { force: true }).catch(() => {});
    }
  },
});
