/** The session a `berth compose` verb runs in: the global flags, the project loader and the build/pull/push hooks. */
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import type { Invocation } from '../../invocation.js';
import { StatusError } from '../../errors.js';
import type { Project, Service } from '../../../compose/model.js';
import type { Hooks } from '../../../compose/runner.js';

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
  ctx: Invocation;
  globals: ComposeGlobals;
  /** Loads the project (services named on the command line are enabled whatever their profiles). */
  load(services?: string[]): Project;
  hooks: Hooks;
  /** Whether to colour output (TTY and not --ansi never). */
  color: boolean;
}

/** The compose library's loader, imported by `berth compose` before a verb runs so that `load` stays synchronous. */
export type Loader = typeof import('../../../compose/loader.js');

export function makeSession(ctx: Invocation, globals: ComposeGlobals, loader: Loader): ComposeSession {
  const color = globals.ansi === 'always' || (globals.ansi !== 'never' && !!ctx.stdout.isTTY && !ctx.env.NO_COLOR);
  const session: ComposeSession = {
    ctx,
    globals,
    color,
    load(services?: string[]) {
      // Loaded lazily so `compose version` and `--help` need no YAML.
      return loadSync(loader, ctx, globals, services);
    },
    hooks: {
      async build(project: Project, service: Service, options) {
        const b = service.build!;
        const { command: build } = await import('../build.js');
        const buildArgs: string[] = [];
        for (const [k, v] of Object.entries(b.args ?? {})) {
          if (v === null || v === undefined) {
            const env = project.environment[k];
            if (env !== undefined) buildArgs.push(`${k}=${env}`);
          } else buildArgs.push(`${k}=${v}`);
        }
        const ref = service.image ?? `${project.name}-${service.name}`;
        const out = options.quiet ? { ...ctx, stdout: devNull() } : ctx;
        const code = await build.run(out as Invocation, [b.context], {
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
        const { pullImage } = await import('../../pull.js');
        const { contentTrustEnabled } = await import('../../content-trust.js');
        await pullImage(await ctx.client(), ref, options.quiet ? undefined : ctx.stderr, { contentTrust: contentTrustEnabled(ctx, {}) });
      },
      async push(ref) {
        const { command: push } = await import('../push.js');
        const code = await push.run(ctx, [ref], {});
        if (code !== 0) throw new StatusError(code, `failed to push ${ref}`);
      },
    },
  };
  return session;
}

function loadSync(loader: Loader, ctx: Invocation, globals: ComposeGlobals, services?: string[]): Project {
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
