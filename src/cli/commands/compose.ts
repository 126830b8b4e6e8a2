import { collect, parseCommand, type CommandModule } from '../command.js';
import { StatusError } from '../errors.js';
import type { FlagSet } from '../flags.js';
import { ComposeFailure } from '../../compose/errors.js';
import { makeSession, type ComposeGlobals } from './compose/session.js';
import type { ComposeVerb } from './compose/verb.js';

/**
 * `berth compose`: Docker Compose v2's command line over berth's compose library
 * (src/compose), talking to the daemon only through the API client. Global options come
 * before the subcommand (`-f`, `-p`, `--project-directory`, `--env-file`, `--profile`); each
 * subcommand (compose/<verb>.ts, imported only when it runs) declares its own flags. Builds, pulls and pushes reuse
 * `berth build`, `pull` and `push`.
 */

/** The verbs, each in its own module under compose/, imported only when it runs. */
export const VERBS: Record<string, { description: string; load: () => Promise<ComposeVerb> }> = {
  build: { description: 'Build or rebuild services', load: async () => (await import('./compose/build.js')).verb },
  config: { description: 'Parse, resolve and render compose file in canonical format', load: async () => (await import('./compose/config.js')).verb },
  create: { description: 'Creates containers for a service', load: async () => (await import('./compose/create.js')).verb },
  down: { description: 'Stop and remove containers, networks', load: async () => (await import('./compose/down.js')).verb },
  exec: { description: 'Execute a command in a running container', load: async () => (await import('./compose/exec.js')).verb },
  images: { description: 'List images used by the created containers', load: async () => (await import('./compose/images.js')).verb },
  kill: { description: 'Force stop service containers', load: async () => (await import('./compose/kill.js')).verb },
  logs: { description: 'View output from containers', load: async () => (await import('./compose/logs.js')).verb },
  ls: { description: 'List running compose projects', load: async () => (await import('./compose/ls.js')).verb },
  move: { description: "Move the project's containers to the daemon of another context, dependencies first", load: async () => (await import('./compose/move.js')).verb },
  pause: { description: 'Pause services', load: async () => (await import('./compose/pause.js')).verb },
  port: { description: 'Print the public port for a port binding', load: async () => (await import('./compose/port.js')).verb },
  ps: { description: 'List containers', load: async () => (await import('./compose/ps.js')).verb },
  pull: { description: 'Pull service images', load: async () => (await import('./compose/pull.js')).verb },
  push: { description: 'Push service images', load: async () => (await import('./compose/push.js')).verb },
  restart: { description: 'Restart service containers', load: async () => (await import('./compose/restart.js')).verb },
  rm: { description: 'Removes stopped service containers', load: async () => (await import('./compose/rm.js')).verb },
  run: { description: 'Run a one-off command on a service', load: async () => (await import('./compose/run.js')).verb },
  start: { description: 'Start services', load: async () => (await import('./compose/start.js')).verb },
  stop: { description: 'Stop services', load: async () => (await import('./compose/stop.js')).verb },
  top: { description: 'Display the running processes', load: async () => (await import('./compose/top.js')).verb },
  unpause: { description: 'Unpause services', load: async () => (await import('./compose/unpause.js')).verb },
  up: { description: 'Create and start containers', load: async () => (await import('./compose/up.js')).verb },
  version: { description: 'Show the Docker Compose version information', load: async () => (await import('./compose/version.js')).verb },
};

export const command: CommandModule = {
  usage: '[OPTIONS] COMMAND',
  description: 'Define and run multi-container applications with Docker Compose',
  positionalStop: true,
  configure(flags: FlagSet) {
    flags.option('-f, --file <stringArray>', 'Compose configuration files', collect);
    flags.option('-p, --project-name <string>', 'Project name');
    flags.option('--project-directory <string>', 'Specify an alternate working directory (default: the path of the, first specified, Compose file)');
    flags.option('--env-file <stringArray>', 'Specify an alternate environment file', collect);
    flags.option('--profile <stringArray>', 'Specify a profile to enable', collect);
    flags.option('--ansi <string>', 'Control when to print ANSI control characters ("never"|"always"|"auto")', 'auto');
    flags.option('--progress <string>', 'Set type of progress output (auto, tty, plain, quiet)', 'auto');
    flags.option('--parallel <int>', 'Control max parallelism, -1 for unlimited', '-1');
    flags.option('--compatibility', 'Run compose in backward compatibility mode');
  },
  async run(ctx, args, opts) {
    const globals = opts as ComposeGlobals;
    const sub = args[0];
    if (!sub) {
      let out = `\nUsage:  ${ctx.prog} compose [OPTIONS] COMMAND\n\nDefine and run multi-container applications with Docker Compose\n\nCommands:\n`;
      for (const [k, v] of Object.entries(VERBS)) out += `  ${k.padEnd(12)}${v.description}\n`;
      ctx.stdout.write(`${out}\nRun '${ctx.prog} compose COMMAND --help' for more information on a command.\n`);
      return 0;
    }
    const entry = Object.hasOwn(VERBS, sub) ? VERBS[sub] : undefined;
    if (!entry) throw new StatusError(1, `unknown docker command: "compose ${sub}"`);
    const [mod, loader] = await Promise.all([entry.load(), import('../../compose/loader.js')]);
    const { args: subArgs, opts: subOpts } = parseCommand(ctx, `compose ${sub}`, mod, args.slice(1));
    const session = makeSession(ctx, globals, loader);
    try {
      return await mod.runCompose(session, subArgs, subOpts, args.slice(1));
    } catch (err) {
      if (err instanceof ComposeFailure) throw new StatusError(err.exitCode, err.message);
      throw err;
    }
  },
};
