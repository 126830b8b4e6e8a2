/** `berth compose up`. */
import { collect, parseIntFlag } from '../../command.js';
import { StatusError } from '../../errors.js';
import type { FlagSet } from '../../flags.js';
import { defineVerb, runner, parseScale, has, attachLogs, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = defineVerb({
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
