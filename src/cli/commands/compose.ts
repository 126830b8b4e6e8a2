import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { collect, parseCommand, type CommandModule } from '../command.js';
import type { CliContext } from '../context.js';
import { StatusError } from '../errors.js';
import type { FlagSet } from '../flags.js';
import type { Project, Service } from '../../compose/model.js';
import type { Hooks } from '../../compose/runner.js';

/**
 * `berth compose`: Docker Compose v2's command line over berth's compose library
 * (src/compose), talking to the daemon only through the API client. Global options come
 * before the subcommand (`-f`, `-p`, `--project-directory`, `--env-file`, `--profile`); each
 * subcommand (compose-verbs.ts) declares its own flags. Builds, pulls and pushes reuse
 * `berth build`, `pull` and `push`.
 */

export interface ComposeGlobals {
  file?: string[];
  projectName?: string;
  projectDirectory?: string;
  envFile?: string[];
  profile?: string[];
  ansi?: string;
  progress?: string;
}

export interface ComposeSession {
  ctx: CliContext;
  globals: ComposeGlobals;
  /** Loads the project (services named on the command line are enabled whatever their profiles). */
  load(services?: string[]): Project;
  hooks: Hooks;
  /** Whether to colour output (TTY and not --ansi never). */
  color: boolean;
}

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
    const verbs = (await import('./compose-verbs.js')).VERBS;
    const sub = args[0];
    if (!sub) {
      let out = `\nUsage:  ${ctx.prog} compose [OPTIONS] COMMAND\n\nDefine and run multi-container applications with Docker Compose\n\nCommands:\n`;
      for (const [k, v] of Object.entries(verbs)) out += `  ${k.padEnd(12)}${v.description}\n`;
      ctx.stdout.write(`${out}\nRun '${ctx.prog} compose COMMAND --help' for more information on a command.\n`);
      return 0;
    }
    const mod = verbs[sub];
    if (!mod) throw new StatusError(1, `unknown docker command: "compose ${sub}"`);
    const { args: subArgs, opts: subOpts } = parseCommand(ctx, `compose ${sub}`, mod, args.slice(1));
    const session = makeSession(ctx, globals);
    try {
      return await mod.runCompose(session, subArgs, subOpts, args.slice(1));
    } catch (err) {
      const e = err as Error;
      if (e?.name === 'ComposeLoadError' || e?.name === 'ComposeError' || e?.name === 'InterpolationError' || e?.name === 'ComposeValidationError') {
        throw new StatusError(e.name === 'ComposeLoadError' && /^(invalid project name|no configuration file)/.test(e.message) ? 14 : 1, e.message);
      }
      throw err;
    }
  },
};

function makeSession(ctx: CliContext, globals: ComposeGlobals): ComposeSession {
  const color = globals.ansi === 'always' || (globals.ansi !== 'never' && !!ctx.stdout.isTTY && !ctx.env.NO_COLOR);
  const session: ComposeSession = {
    ctx,
    globals,
    color,
    load(services?: string[]) {
      // Loaded lazily so `compose version` and `--help` need no YAML.
      return loadSync(ctx, globals, services);
    },
    hooks: {
      async build(project: Project, service: Service, options) {
        const b = service.build!;
        const { command: build } = await import('./build.js');
        const buildArgs: string[] = [];
        for (const [k, v] of Object.entries(b.args ?? {})) {
          if (v === null || v === undefined) {
            const env = project.environment[k];
            if (env !== undefined) buildArgs.push(`${k}=${env}`);
          } else buildArgs.push(`${k}=${v}`);
        }
        const ref = service.image ?? `${project.name}-${service.name}`;
        const out = options.quiet ? { ...ctx, stdout: devNull() } : ctx;
        const code = await build.run(out as CliContext, [b.context], {
          file: b.dockerfile ? resolve(b.context, b.dockerfile) : undefined,
          buildArg: buildArgs,
          tag: [ref],
          target: b.target,
          label: Object.entries(b.labels ?? {}).map(([k, v]) => `${k}=${v}`),
          cache: !options.noCache,
          pull: options.pull,
          rm: true,
          quiet: false,
        });
        if (code !== 0) throw new StatusError(code, `failed to solve: service "${service.name}" failed to build`);
      },
      async pull(ref, options) {
        const { pullImage } = await import('../pull.js');
        const { contentTrustEnabled } = await import('../content-trust.js');
        await pullImage(await ctx.client(), ref, options.quiet ? undefined : ctx.stderr, { contentTrust: contentTrustEnabled(ctx, {}) });
      },
      async push(ref) {
        const { command: push } = await import('./push.js');
        const code = await push.run(ctx, [ref], {});
        if (code !== 0) throw new StatusError(code, `failed to push ${ref}`);
      },
    },
  };
  return session;
}

let loader: typeof import('../../compose/loader.js') | undefined;

/** The compose library is imported once by `compose-verbs.ts`; this keeps `load` synchronous. */
export function setLoader(mod: typeof import('../../compose/loader.js')): void {
  loader = mod;
}

function loadSync(ctx: CliContext, globals: ComposeGlobals, services?: string[]): Project {
  if (!loader) throw new Error('compose loader not initialised');
  const projectName = globals.projectName ?? (ctx.env.COMPOSE_PROJECT_NAME || undefined);
  // `-p NAME down/ps/stop…` with no compose file acts on the project's containers by label, as Docker Compose.
  if (projectName && !globals.file?.length && !ctx.env.COMPOSE_FILE && !loader.findComposeFile(globals.projectDirectory ? resolve(globals.projectDirectory) : process.cwd())) {
    return loader.emptyProject(projectName, process.cwd(), ctx.env);
  }
  return loader.loadProject({
    files: globals.file,
    projectName: globals.projectName,
    projectDirectory: globals.projectDirectory,
    envFiles: globals.envFile,
    profiles: globals.profile,
    env: ctx.env,
    cwd: process.cwd(),
    services,
    warn: (m) => ctx.stderr.write(`WARN[0000] ${m}\n`),
  });
}

function devNull(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}
