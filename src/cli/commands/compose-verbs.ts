import { stringify as yamlStringify } from 'yaml';
import { moveVerb } from './compose-move.js';
import { collect, parseIntFlag, type CommandModule } from '../command.js';
import { StatusError } from '../errors.js';
import type { FlagSet } from '../flags.js';
import { encodeFilters } from '../../client/client.js';
import type { ContainerSummary } from '../../client/types.js';
import * as loader from '../../compose/loader.js';
import { COMPOSE_VERSION, LABEL, serviceImage } from '../../compose/convert.js';
import type { Project } from '../../compose/model.js';
import { ComposeError, ComposeRunner, Reporter, dependencyOrder, type ProjectContainer } from '../../compose/runner.js';
import { shellSplit } from '../../compose/units.js';
import { parseTimestamp } from '../timestamp.js';
import { setLoader, type ComposeSession } from './compose.js';
import { LogPrinter } from './compose-log-printer.js';
import { ContainerContext, displayablePorts } from '../format/contexts.js';
import { renderList } from '../format/formatter.js';
import { alignColumns } from '../format/tabwriter.js';

setLoader(loader);

/** One `berth compose` subcommand: flags as a CommandModule, run with the session. */
export interface ComposeVerb extends CommandModule {
  runCompose(session: ComposeSession, args: string[], opts: Record<string, unknown>, argv: string[]): Promise<number>;
}

function verb(v: Omit<ComposeVerb, 'run'>): ComposeVerb {
  return { ...v, run: async () => 1 };
}

function runner(session: ComposeSession, project: Project): Promise<ComposeRunner> {
  return session.ctx.client().then(
    (client) => new ComposeRunner(client, project, { hooks: session.hooks, reporter: new Reporter(session.ctx.stderr, !!(session.ctx.stderr as { isTTY?: boolean }).isTTY && session.globals.progress !== 'plain') }),
  );
}

function parseScale(list: string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of list ?? []) {
    const m = /^([^=]+)=(\d+)$/.exec(s);
    if (!m) throw new StatusError(1, `invalid --scale value ${JSON.stringify(s)}: expected SERVICE=NUM`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** The log prefix: `web-1` for `<project>-web-1` (as Docker Compose v2), else the container name. */
function logName(project: Project, c: ProjectContainer): string {
  const prefix = `${project.name}-`;
  return c.name.startsWith(prefix) && /-\d+$/.test(c.name) ? c.name.slice(prefix.length) : c.name;
}

const has = (argv: string[], flag: string): boolean => argv.some((a) => a === flag || a === `${flag}=true`);

async function attachLogs(session: ComposeSession, r: ComposeRunner, containers: ProjectContainer[], options: { since?: Record<string, string>; abortOnExit?: boolean; exitCodeFrom?: string; timeout?: number; services: string[] }): Promise<number> {
  const { ctx } = session;
  const printer = new LogPrinter(ctx.stdout, { color: session.color });
  const label = (c: ProjectContainer): string => logName(r.project, c);
  printer.register(containers.map(label));
  let stopping = 0;
  let stopped: Promise<void> = Promise.resolve();
  let aborted: { name: string; code: number } | undefined;
  const client = r.client;
  const unsubscribe = ctx.onSignal((sig) => {
    if (sig !== 'SIGINT' && sig !== 'SIGTERM') return;
    stopping++;
    if (stopping === 1) {
      ctx.stderr.write('Gracefully stopping... (press Ctrl+C again to force)\n');
      stopped = r.stop(options.services, options.timeout).catch((err: Error) => void ctx.stderr.write(`${err.message}\n`));
    } else {
      stopped = r.kill(options.services, 'SIGKILL').catch(() => {});
    }
  });
  try {
    const codes = new Map<string, number>();
    await Promise.all(
      containers.map(async (c) => {
        const info = await client.containerInspect(c.id);
        const tty = !!info.Config?.Tty;
        try {
          await printer.follow(client, c.id, label(c), { follow: true, since: options.since?.[c.id] }, tty);
        } catch (err) {
          if (stopping) return;
          throw err;
        }
        const st = (await client.containerInspect(c.id).catch(() => undefined))?.State;
        const code = st?.ExitCode ?? 0;
        codes.set(c.name, code);
        printer.status(label(c), `${label(c)} exited with code ${code}`);
        if (options.abortOnExit && !aborted && !stopping) {
          aborted = { name: c.name, code };
          stopping = 1;
          ctx.stderr.write('Aborting on container exit...\n');
          await r.stop(options.services, options.timeout);
        }
      }),
    );
    await stopped;
    if (options.exitCodeFrom) {
      const c = containers.find((x) => x.service === options.exitCodeFrom);
      return c ? codes.get(c.name) ?? 0 : 0;
    }
    if (aborted) return aborted.code;
    return stopping ? 130 : 0;
  } finally {
    unsubscribe();
  }
}

const upVerb = verb({
  usage: '[OPTIONS] [SERVICE...]',
  description: 'Create and start containers',
  configure(f: FlagSet) {
    f.option('-d, --detach', 'Detached mode: Run containers in the background');
    f.option('--build', 'Build images before starting containers');
    f.option('--no-build', "Don't build an image, even if it's policy");
    f.option('--force-recreate', "Recreate containers even if their configuration and image haven't changed");
    f.option('--no-recreate', "If containers already exist, don't recreate them. Incompatible with --force-recreate.");
    f.option('--no-deps', "Don't start linked services");
    f.option('--no-start', "Don't start the services after creating them");
    f.option('--scale <stringArray>', 'Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present.', collect);
    f.option('--wait', 'Wait for services to be running|healthy. Implies detached mode.');
    f.option('--wait-timeout <int>', 'Maximum duration to wait for the project to be running|healthy', parseIntFlag);
    f.option('--remove-orphans', 'Remove containers for services not defined in the Compose file');
    f.option('--abort-on-container-exit', 'Stops all containers if any container was stopped. Incompatible with -d');
    f.option('--exit-code-from <string>', 'Return the exit code of the selected service container. Implies --abort-on-container-exit');
    f.option('-t, --timeout <int>', 'Use this timeout in seconds for container shutdown when attached or when containers are already running', parseIntFlag);
    f.option('--quiet-pull', 'Pull without printing progress information');
    f.option('--pull <string>', 'Pull image before running ("always"|"missing"|"never")', 'missing');
    f.option('--no-color', 'Produce monochrome output');
    f.option('--no-log-prefix', "Don't print prefix in logs");
  },
  async runCompose(session, args, opts, argv) {
    const o = opts as { detach?: boolean; forceRecreate?: boolean; deps?: boolean; start?: boolean; scale?: string[]; wait?: boolean; waitTimeout?: number; removeOrphans?: boolean; abortOnContainerExit?: boolean; exitCodeFrom?: string; timeout?: number; quietPull?: boolean };
    const build = has(argv, '--build');
    const noBuild = has(argv, '--no-build');
    const noRecreate = has(argv, '--no-recreate');
    if (build && noBuild) throw new StatusError(1, '--build and --no-build are incompatible');
    if (o.forceRecreate && noRecreate) throw new StatusError(1, '--force-recreate and --no-recreate are incompatible');
    const abort = o.abortOnContainerExit || !!o.exitCodeFrom;
    if (o.detach && abort) throw new StatusError(1, '--abort-on-container-exit and --detach are incompatible');
    const project = session.load(args);
    const r = await runner(session, project);
    const scale = parseScale(o.scale);
    for (const s of Object.keys(scale)) r.selectServices([s]);
    const before = Date.now();
    const started = await r.up({
      services: args,
      build,
      noBuild,
      forceRecreate: o.forceRecreate,
      noRecreate,
      noDeps: o.deps === false,
      noStart: o.start === false,
      scale,
      removeOrphans: o.removeOrphans,
      wait: o.wait,
      waitTimeout: o.waitTimeout,
      timeout: o.timeout,
      quietPull: o.quietPull,
    });
    if (o.detach || o.wait || o.start === false) return 0;
    // Attached: follow the selected services' containers (all of them with no names).
    const services = r.selectServices(args);
    const containers = (await r.containers({ services })).filter((c) => c.state !== 'exited' || started.some((s) => s.id === c.id));
    // Output from this `up` on (a restarted container's earlier runs are not repeated).
    const since: Record<string, string> = {};
    for (const c of containers) since[c.id] = (before / 1000 - 0.5).toFixed(3);
    return attachLogs(session, r, containers, { since, abortOnExit: abort, exitCodeFrom: o.exitCodeFrom, timeout: o.timeout, services });
  },
});

const createVerb = verb({
  usage: '[OPTIONS] [SERVICE...]',
  description: 'Creates containers for a service',
  configure(f: FlagSet) {
    f.option('--build', 'Build images before starting containers');
    f.option('--no-build', "Don't build an image, even if it's policy");
    f.option('--force-recreate', "Recreate containers even if their configuration and image haven't changed");
    f.option('--no-recreate', "If containers already exist, don't recreate them. Incompatible with --force-recreate.");
    f.option('--scale <stringArray>', 'Scale SERVICE to NUM instances', collect);
    f.option('--remove-orphans', 'Remove containers for services not defined in the Compose file');
  },
  async runCompose(session, args, opts, argv) {
    const o = opts as { forceRecreate?: boolean; scale?: string[]; removeOrphans?: boolean };
    const r = await runner(session, session.load(args));
    await r.up({ services: args, build: has(argv, '--build'), noBuild: has(argv, '--no-build'), forceRecreate: o.forceRecreate, noRecreate: has(argv, '--no-recreate'), scale: parseScale(o.scale), removeOrphans: o.removeOrphans, noStart: true });
    return 0;
  },
});

const downVerb = verb({
  usage: '[OPTIONS] [SERVICES]',
  description: 'Stop and remove containers, networks',
  configure(f: FlagSet) {
    f.option('-v, --volumes', 'Remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers');
    f.option('--rmi <string>', 'Remove images used by services. "local" remove only images that don\'t have a custom tag ("local"|"all")');
    f.option('--remove-orphans', 'Remove containers for services not defined in the Compose file');
    f.option('-t, --timeout <int>', 'Specify a shutdown timeout in seconds', parseIntFlag);
  },
  async runCompose(session, _args, opts) {
    const o = opts as { volumes?: boolean; rmi?: string; removeOrphans?: boolean; timeout?: number };
    if (o.rmi !== undefined && o.rmi !== 'local' && o.rmi !== 'all') throw new StatusError(1, `invalid value for --rmi: ${o.rmi}`);
    const r = await runner(session, session.load());
    await r.down({ volumes: o.volumes, rmi: o.rmi as 'local' | 'all' | undefined, removeOrphans: o.removeOrphans, timeout: o.timeout });
    return 0;
  },
});

function psRow(c: ProjectContainer, now: number): Record<string, unknown> {
  const cc = new ContainerContext(c.summary, { trunc: true, now });
  const s = c.summary;
  return {
    ID: s.Id,
    Name: c.name,
    Names: c.name,
    Image: s.Image ?? '',
    Command: cc.Command,
    Project: s.Labels?.[LABEL.project] ?? '',
    Service: c.service,
    CreatedAt: cc.CreatedAt,
    RunningFor: cc.RunningFor,
    State: s.State ?? '',
    Status: s.Status ?? '',
    Health: /\((healthy|unhealthy|health: starting)\)/.exec(s.Status ?? '')?.[1]?.replace('health: ', '') ?? '',
    ExitCode: Number(/Exited \((\d+)\)/.exec(s.Status ?? '')?.[1] ?? 0),
    Ports: displayablePorts(s.Ports ?? []),
    Publishers: (s.Ports ?? []).map((p) => ({ URL: p.IP ?? '', TargetPort: p.PrivatePort, PublishedPort: p.PublicPort ?? 0, Protocol: p.Type })),
    Labels: Object.entries(s.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
    Networks: Object.keys(s.NetworkSettings?.Networks ?? {}).join(','),
    LocalVolumes: '0',
    Mounts: '',
    Size: '0B',
  };
}

const psVerb = verb({
  usage: '[OPTIONS] [SERVICE...]',
  description: 'List containers',
  configure(f: FlagSet) {
    f.option('-a, --all', 'Show all stopped containers (including those created by the run command)');
    f.option('-q, --quiet', 'Only display IDs');
    f.option('--services', 'Display services');
    f.option('--format <string>', 'Format output using a custom template: "table", "json", TEMPLATE', 'table');
    f.option('--status <stringArray>', 'Filter services by status. Values: [paused | restarting | removing | running | dead | created | exited]', collect);
    f.option('--filter <string>', 'Filter services by a property (supported filters: status).');
    f.option('--orphans', 'Include orphaned services (not declared by project)', true);
  },
  async runCompose(session, args, opts) {
    const o = opts as { all?: boolean; quiet?: boolean; services?: boolean; format?: string; status?: string[]; filter?: string };
    const project = session.load(args);
    const r = await runner(session, project);
    if (args.length) r.selectServices(args);
    let list = await r.containers({ services: args, oneoff: o.all });
    const statuses = [...(o.status ?? []), ...(o.filter?.startsWith('status=') ? [o.filter.slice(7)] : [])];
    if (statuses.length) list = list.filter((c) => statuses.includes(c.state));
    else if (!o.all) list = list.filter((c) => c.state === 'running' || c.state === 'paused' || c.state === 'restarting');
    const out = session.ctx.stdout;
    if (o.services) {
      const names = [...new Set(list.map((c) => c.service))];
      out.write(names.map((n) => `${n}\n`).join(''));
      return 0;
    }
    if (o.quiet) {
      out.write(list.map((c) => `${c.id}\n`).join(''));
      return 0;
    }
    const now = session.ctx.now();
    out.write(
      renderList(
        {
          format: o.format === 'table' ? '' : o.format ?? '',
          defaultTable: 'table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}',
          headers: { Name: 'NAME', Names: 'NAMES', ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', Service: 'SERVICE', RunningFor: 'CREATED', CreatedAt: 'CREATED AT', Status: 'STATUS', State: 'STATE', Ports: 'PORTS', Project: 'PROJECT', Health: 'HEALTH', ExitCode: 'EXIT CODE' },
        },
        list.map((c) => psRow(c, now)),
      ),
    );
    return 0;
  },
});

const logsVerb = verb({
  usage: '[OPTIONS] [SERVICE...]',
  description: 'View output from containers',
  configure(f: FlagSet) {
    f.option('-f, --follow', 'Follow log output');
    f.option('-n, --tail <string>', 'Number of lines to show from the end of the logs for each container', 'all');
    f.option('-t, --timestamps', 'Show timestamps');
    f.option('--since <string>', 'Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)');
    f.option('--until <string>', 'Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)');
    f.option('--no-color', 'Produce monochrome output');
    f.option('--no-log-prefix', "Don't print prefix in logs");
    f.option('--index <int>', 'index of the container if service has multiple replicas', parseIntFlag);
  },
  async runCompose(session, args, opts) {
    const o = opts as { follow?: boolean; tail?: string; timestamps?: boolean; since?: string; until?: string; color?: boolean; logPrefix?: boolean; index?: number };
    const project = session.load(args);
    const r = await runner(session, project);
    if (args.length) r.selectServices(args);
    let list = await r.containers({ services: args });
    if (o.index !== undefined) list = list.filter((c) => c.number === o.index);
    const printer = new LogPrinter(session.ctx.stdout, { color: session.color && o.color !== false, prefix: o.logPrefix !== false });
    printer.register(list.map((c) => logName(project, c)));
    const client = r.client;
    await Promise.all(
      list.map(async (c) => {
        const info = await client.containerInspect(c.id);
        await printer.follow(client, c.id, logName(project, c), { follow: o.follow, tail: o.tail, timestamps: o.timestamps, since: relTime(o.since, session.ctx.now()), until: relTime(o.until, session.ctx.now(), 'until') }, !!info.Config?.Tty);
      }),
    );
    return 0;
  },
});

function relTime(v: string | undefined, now: number, flag = 'since'): string | undefined {
  return v ? parseTimestamp(v, now, flag) : undefined;
}

function simple(description: string, usage: string, configure: (f: FlagSet) => void, act: (r: ComposeRunner, args: string[], o: Record<string, unknown>) => Promise<void>): ComposeVerb {
  return verb({
    usage,
    description,
    configure,
    async runCompose(session, args, opts) {
      const r = await runner(session, session.load(args));
      await act(r, args, opts);
      return 0;
    },
  });
}

const startVerb = simple('Start services', '[SERVICE...]', () => {}, (r, args) => r.start(args));
const stopVerb = simple('Stop services', '[OPTIONS] [SERVICE...]', (f) => f.option('-t, --timeout <int>', 'Specify a shutdown timeout in seconds', parseIntFlag), (r, args, o) => r.stop(args, o.timeout as number | undefined));
const restartVerb = simple('Restart service containers', '[OPTIONS] [SERVICE...]', (f) => {
  f.option('-t, --timeout <int>', 'Specify a shutdown timeout in seconds', parseIntFlag);
  f.option('--no-deps', "Don't restart dependent services");
}, (r, args, o) => r.restart(args, o.timeout as number | undefined));
const killVerb = simple('Force stop service containers', '[OPTIONS] [SERVICE...]', (f) => {
  f.option('-s, --signal <string>', 'SIGNAL to send to the container', 'SIGKILL');
  f.option('--remove-orphans', 'Remove containers for services not defined in the Compose file');
}, (r, args, o) => r.kill(args, o.signal as string));
const pauseVerb = simple('Pause services', '[SERVICE...]', () => {}, (r, args) => r.pause(args, false));
const unpauseVerb = simple('Unpause services', '[SERVICE...]', () => {}, (r, args) => r.pause(args, true));
const buildVerb = simple('Build or rebuild services', '[OPTIONS] [SERVICE...]', (f) => {
  f.option('--no-cache', 'Do not use cache when building the image');
  f.option('--pull', 'Always attempt to pull a newer version of the image');
  f.option('-q, --quiet', "Don't print anything to STDOUT");
  f.option('--build-arg <stringArray>', 'Set build-time variables for services', collect);
}, (r, args, o) => r.build(args, { noCache: o.cache === false, pull: o.pull as boolean, quiet: o.quiet as boolean }));
const pullVerb = simple('Pull service images', '[OPTIONS] [SERVICE...]', (f) => {
  f.option('--ignore-pull-failures', 'Pull what it can and ignores images with pull failures');
  f.option('--ignore-buildable', 'Ignore images that can be built');
  f.option('-q, --quiet', 'Pull without printing progress information');
}, (r, args, o) => r.pull(args, { ignoreFailures: o.ignorePullFailures as boolean, quiet: o.quiet as boolean, ignoreBuildable: o.ignoreBuildable as boolean }));
const pushVerb = simple('Push service images', '[OPTIONS] [SERVICE...]', (f) => {
  f.option('--ignore-push-failures', 'Push what it can and ignores images with push failures');
  f.option('-q, --quiet', 'Push without printing progress information');
}, (r, args, o) => r.push(args, { ignoreFailures: o.ignorePushFailures as boolean }));

const rmVerb = verb({
  usage: '[OPTIONS] [SERVICE...]',
  description: 'Removes stopped service containers',
  configure(f: FlagSet) {
    f.option('-f, --force', "Don't ask to confirm removal");
    f.option('-s, --stop', 'Stop the containers, if required, before removing');
    f.option('-v, --volumes', 'Remove any anonymous volumes attached to containers');
  },
  async runCompose(session, args, opts) {
    const o = opts as { force?: boolean; stop?: boolean; volumes?: boolean };
    const r = await runner(session, session.load(args));
    const list = (await r.containers({ services: args })).filter((c) => o.stop || c.state !== 'running');
    if (list.length === 0) {
      session.ctx.stderr.write('No stopped containers\n');
      return 0;
    }
    if (!o.force) {
      if (!(session.ctx.stdin as { isTTY?: boolean }).isTTY) throw new StatusError(1, `Going to remove ${list.map((c) => c.name).join(', ')}\nconfirmation required: use -f to remove without asking`);
      session.ctx.stdout.write(`Going to remove ${list.map((c) => c.name).join(', ')}\n? Are you sure? [yN] `);
      const answer = await new Promise<string>((res) => session.ctx.stdin.once('data', (d: Buffer) => res(d.toString())));
      if (!/^y/i.test(answer.trim())) return 0;
    }
    await r.rm(args, { stop: o.stop, volumes: o.volumes });
    return 0;
  },
});

const execVerb = verb({
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
    const { command: exec } = await import('./exec.js');
    return exec.run(session.ctx, [c.id, ...cmd], { detach: o.detach, env: o.env, interactive: !o.detach && (o.TTY !== false || !session.ctx.stdin.isTTY), tty, privileged: o.privileged, user: o.user, workdir: o.workdir });
  },
});

const runVerb = verb({
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
    const { command: start } = await import('./start.js');
    try {
      return await start.run(session.ctx, [created.id], { attach: true, interactive: stdinOpen });
    } finally {
      if (o.rm) await client.containerRemove(created.id, { force: true }).catch(() => {});
    }
  },
});

const configVerb = verb({
  usage: '[OPTIONS] [SERVICE...]',
  description: 'Parse, resolve and render compose file in canonical format',
  configure(f: FlagSet) {
    f.option('--format <string>', 'Format the output. Values: [yaml | json]', 'yaml');
    f.option('-q, --quiet', 'Only validate the configuration, don\'t print anything');
    f.option('--services', 'Print the service names, one per line.');
    f.option('--volumes', 'Print the volume names, one per line.');
    f.option('--networks', 'Print the network names, one per line.');
    f.option('--profiles', 'Print the profile names, one per line.');
    f.option('--images', 'Print the image names, one per line.');
    f.option('-o, --output <string>', 'Save to file (default to stdout)');
    f.option('--no-interpolate', "Don't interpolate environment variables");
  },
  async runCompose(session, args, opts) {
    const o = opts as { format?: string; quiet?: boolean; services?: boolean; volumes?: boolean; networks?: boolean; profiles?: boolean; images?: boolean; output?: string };
    const project = session.load(args);
    const out = session.ctx.stdout;
    if (o.quiet) return 0;
    const names = args.length ? args : dependencyOrder(project.services);
    if (o.services) {
      out.write(names.map((n) => `${n}\n`).join(''));
      return 0;
    }
    if (o.volumes) {
      out.write(Object.keys(project.volumes).map((n) => `${n}\n`).join(''));
      return 0;
    }
    if (o.networks) {
      out.write(Object.keys(project.networks).map((n) => `${n}\n`).join(''));
      return 0;
    }
    if (o.profiles) {
      const all = new Set<string>();
      for (const s of [...Object.values(project.services), ...Object.values(project.disabledServices)]) for (const p of s.profiles ?? []) all.add(p);
      out.write([...all].sort().map((n) => `${n}\n`).join(''));
      return 0;
    }
    if (o.images) {
      out.write(names.map((n) => `${serviceImage(project, project.services[n]!)}\n`).join(''));
      return 0;
    }
    const services: Record<string, unknown> = {};
    for (const n of Object.keys(project.services).sort()) {
      if (args.length && !args.includes(n)) continue;
      const { name: _n, ...rest } = project.services[n]!;
      void _n;
      services[n] = rest;
    }
    const model: Record<string, unknown> = { name: project.name, services };
    if (Object.keys(project.networks).length) model.networks = project.networks;
    if (Object.keys(project.volumes).length) model.volumes = project.volumes;
    let text: string;
    if (o.format === 'json') text = `${JSON.stringify(model, null, 2)}\n`;
    else if (o.format === 'yaml' || !o.format) text = yamlStringify(model, { aliasDuplicateObjects: false });
    else throw new StatusError(1, `unsupported format ${JSON.stringify(o.format)}`);
    if (o.output) {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(o.output, text);
    } else out.write(text);
    return 0;
  },
});

const topVerb = verb({
  usage: '[SERVICES...]',
  description: 'Display the running processes',
  configure() {},
  async runCompose(session, args) {
    const r = await runner(session, session.load(args));
    const list = (await r.containers({ services: args })).filter((c) => c.state === 'running');
    let out = '';
    for (const c of list) {
      const top = await r.client.containerTop(c.id);
      out += `${c.name}\n`;
      out += alignColumns([top.Titles.join('\t'), ...top.Processes.map((p) => p.join('\t'))].join('\n') + '\n', { padding: 3 });
      out += '\n';
    }
    session.ctx.stdout.write(out);
    return 0;
  },
});

const portVerb = verb({
  usage: '[OPTIONS] SERVICE PRIVATE_PORT',
  description: 'Print the public port for a port binding',
  args: { exact: 2 },
  configure(f: FlagSet) {
    f.option('--index <int>', 'Index of the container if service has multiple replicas', parseIntFlag, 1);
    f.option('--protocol <string>', 'tcp or udp', 'tcp');
  },
  async runCompose(session, args, opts) {
    const o = opts as { index?: number; protocol?: string };
    const [service, port] = args as [string, string];
    const r = await runner(session, session.load([service]));
    const c = await r.containerFor(service, o.index ?? 1);
    const info = await r.client.containerInspect(c.id);
    const ports = ((info.NetworkSettings as { Ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null> } | undefined)?.Ports ?? {})[`${port}/${o.protocol ?? 'tcp'}`];
    if (!ports?.length) throw new StatusError(1, `no port ${port}/${o.protocol ?? 'tcp'} for container ${c.name}: ${port}/${o.protocol ?? 'tcp'} is not published`);
    const p = ports[0]!;
    session.ctx.stdout.write(`${p.HostIp || '0.0.0.0'}:${p.HostPort}\n`);
    return 0;
  },
});

const imagesVerb = verb({
  usage: '[OPTIONS] [SERVICE...]',
  description: 'List images used by the created containers',
  configure(f: FlagSet) {
    f.option('-q, --quiet', 'Only display IDs');
    f.option('--format <string>', 'Format the output. Values: [table | json]', 'table');
  },
  async runCompose(session, args, opts) {
    const o = opts as { quiet?: boolean; format?: string };
    const r = await runner(session, session.load(args));
    const list = await r.containers({ services: args });
    const rows: Array<Record<string, unknown>> = [];
    for (const c of list) {
      const img = await r.client.imageInspect(c.summary.ImageID ?? c.summary.Image ?? '').catch(() => undefined);
      const ref = c.summary.Image ?? '';
      const i = ref.lastIndexOf(':');
      const [repo, tag] = i > ref.lastIndexOf('/') && i >= 0 ? [ref.slice(0, i), ref.slice(i + 1)] : [ref, 'latest'];
      rows.push({ ContainerName: c.name, Repository: repo, Tag: tag, ID: String(img?.Id ?? c.summary.ImageID ?? ''), Size: Number(img?.Size ?? 0) });
    }
    const out = session.ctx.stdout;
    if (o.quiet) {
      out.write([...new Set(rows.map((r) => String(r.ID)))].map((id) => `${id}\n`).join(''));
      return 0;
    }
    if (o.format === 'json') {
      out.write(`${JSON.stringify(rows)}\n`);
      return 0;
    }
    const { humanSize } = await import('../../common/units.js').catch(() => ({ humanSize: (n: number) => `${n}B` }));
    const lines = ['CONTAINER\tREPOSITORY\tTAG\tIMAGE ID\tSIZE', ...rows.map((r) => `${r.ContainerName}\t${r.Repository}\t${r.Tag}\t${String(r.ID).replace(/^sha256:/, '').slice(0, 12)}\t${(humanSize as (n: number) => string)(Number(r.Size))}`)];
    out.write(alignColumns(`${lines.join('\n')}\n`, { padding: 3 }));
    return 0;
  },
});

const lsVerb = verb({
  usage: '[OPTIONS]',
  description: 'List running compose projects',
  configure(f: FlagSet) {
    f.option('-a, --all', 'Show all stopped Compose projects');
    f.option('-q, --quiet', 'Only display IDs');
    f.option('--format <string>', 'Format the output. Values: [table | json]', 'table');
    f.option('--filter <string>', 'Filter output based on conditions provided');
  },
  async runCompose(session, _args, opts) {
    const o = opts as { all?: boolean; quiet?: boolean; format?: string; filter?: string };
    const client = await session.ctx.client();
    const list: ContainerSummary[] = await client.containerList({ all: true, filters: encodeFilters([['label', LABEL.project]]) });
    const projects = new Map<string, { states: Map<string, number>; files: string }>();
    for (const c of list) {
      const name = c.Labels?.[LABEL.project];
      if (!name) continue;
      const p = projects.get(name) ?? { states: new Map(), files: c.Labels?.[LABEL.configFiles] ?? '' };
      p.states.set(c.State ?? 'unknown', (p.states.get(c.State ?? 'unknown') ?? 0) + 1);
      projects.set(name, p);
    }
    let rows = [...projects.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, p]) => ({
      Name: name,
      Status: [...p.states.entries()].sort().map(([s, n]) => `${s}(${n})`).join(', '),
      ConfigFiles: p.files,
      running: p.states.get('running') ?? 0,
    }));
    if (!o.all) rows = rows.filter((r) => r.running > 0);
    if (o.filter?.startsWith('name=')) rows = rows.filter((r) => r.Name.includes(o.filter!.slice(5)));
    const out = session.ctx.stdout;
    if (o.quiet) out.write(rows.map((r) => `${r.Name}\n`).join(''));
    else if (o.format === 'json') out.write(`${JSON.stringify(rows.map(({ running: _r, ...x }) => x))}\n`);
    else out.write(alignColumns(`${['NAME\tSTATUS\tCONFIG FILES', ...rows.map((r) => `${r.Name}\t${r.Status}\t${r.ConfigFiles}`)].join('\n')}\n`, { padding: 3 }));
    return 0;
  },
});

const versionVerb = verb({
  usage: '[OPTIONS]',
  description: 'Show the Docker Compose version information',
  configure(f: FlagSet) {
    f.option('--short', "Shows only Compose's version number");
    f.option('-f, --format <string>', 'Format the output. Values: [pretty | json]', 'pretty');
  },
  async runCompose(session, _args, opts) {
    const o = opts as { short?: boolean; format?: string };
    const out = session.ctx.stdout;
    if (o.short) out.write(`${COMPOSE_VERSION}\n`);
    else if (o.format === 'json') out.write(`${JSON.stringify({ version: `v${COMPOSE_VERSION}` })}\n`);
    else out.write(`berth compose version v${COMPOSE_VERSION} (Docker Compose compatible)\n`);
    return 0;
  },
});

export const VERBS: Record<string, ComposeVerb> = {
  build: buildVerb,
  config: configVerb,
  create: createVerb,
  down: downVerb,
  exec: execVerb,
  images: imagesVerb,
  kill: killVerb,
  logs: logsVerb,
  ls: lsVerb,
  move: moveVerb,
  pause: pauseVerb,
  port: portVerb,
  ps: psVerb,
  pull: pullVerb,
  push: pushVerb,
  restart: restartVerb,
  rm: rmVerb,
  run: runVerb,
  start: startVerb,
  stop: stopVerb,
  top: topVerb,
  unpause: unpauseVerb,
  up: upVerb,
  version: versionVerb,
};

export { ComposeError };
