import type { FlagSet } from '../../flags.js';
import { StatusError } from '../../errors.js';
import { ComposeRunner, Reporter, dependencyOrder } from '../../../compose/runner.js';
import { humanBytes, moveContainer } from '../../move/container-mover.js';
import type { ComposeSession } from './session.js';
import type { ComposeVerb } from './verb.js';
import { clientForContext, progressPrinter } from '../container-move.js';

/**
 * `berth compose move --to CONTEXT [SERVICE...]` (issue 23): every container of the project's
 * services (one-off `run` containers excepted), dependencies first, each by
 * `berth container move` (src/cli/move/container-mover.ts). Networks and volumes keep their
 * compose labels, so `berth compose` on the target manages the project as its own. The first
 * failure stops the command: the containers moved before it stay moved (listed), the one that
 * failed is back on the source as it was.
 */
export const verb: ComposeVerb = {
  usage: '[OPTIONS] [SERVICE...]',
  description: "Move the project's containers to the daemon of another context, dependencies first",
  configure(f: FlagSet) {
    f.option('--to <string>', 'Context of the daemon to move the project to (required)');
    f.option('--keep-source', 'Keep the containers on the source daemon');
    f.option('--with-volumes', "Copy the data of the services' named volumes too");
    f.option('--start', 'Start each container on the target once it is there');
    f.option('--dry-run', 'List what would be sent and how many bytes, change nothing');
    f.option('--checkpoint', 'Live migration with CRIU checkpoint/restore (refused where CRIU cannot work)');
  },
  run: async () => 1,
  async runCompose(session: ComposeSession, args, opts) {
    const o = opts as { to?: string; keepSource?: boolean; withVolumes?: boolean; start?: boolean; dryRun?: boolean; checkpoint?: boolean };
    const ctx = session.ctx;
    if (!o.to) throw new StatusError(1, '"compose move" requires --to CONTEXT');
    const project = session.load(args.length ? args : undefined);
    const source = await ctx.client();
    const runner = new ComposeRunner(source, project, { hooks: session.hooks, reporter: new Reporter(ctx.stderr, false) });
    const containers = (await runner.containers({ all: true, ...(args.length ? { services: args } : {}) })).filter((c) => !c.oneoff);
    if (containers.length === 0) throw new StatusError(1, `no containers of project ${project.name} to move`);
    if (o.checkpoint) {
      await source.json('GET', `/containers/${encodeURIComponent(containers[0]!.id)}/checkpoints`);
      throw new StatusError(1, 'checkpoint is not supported by the source daemon');
    }
    const order = dependencyOrder(project.services, args.length ? args : undefined);
    const target = await clientForContext(ctx, o.to);
    const moved: string[] = [];
    const volumesOnTarget = new Set<string>();
    let total = 0;
    try {
      for (const service of order) {
        for (const c of containers.filter((x) => x.service === service).sort((a, b) => a.number - b.number)) {
          ctx.stdout.write(`${o.dryRun ? 'Would move' : 'Moving'} ${c.name} (service ${service})\n`);
          const r = await moveContainer(source, target, c.id, { keepSource: o.keepSource, withVolumes: o.withVolumes, start: o.start, dryRun: o.dryRun, volumesOnTarget, progress: progressPrinter(ctx) }).catch((err: unknown) => {
            if (moved.length) ctx.stderr.write(`moved before the failure: ${moved.join(', ')}\n`);
            throw err;
          });
          total += r.bytes.total;
          if (!o.dryRun) moved.push(c.name);
          ctx.stdout.write(`${o.dryRun ? `Would send ${humanBytes(r.bytes.total)} (${r.bytes.total} bytes)` : `Moved ${c.name}: sent ${humanBytes(r.bytes.total)} (${r.bytes.total} bytes)`}\n`);
        }
      }
    } finally {
      target.close();
    }
    ctx.stdout.write(`${o.dryRun ? 'Would move' : 'Moved'} project ${project.name} to ${o.to}: ${o.dryRun ? containers.length : moved.length} container(s), ${humanBytes(total)} (${total} bytes)\n`);
    return 0;
  },
};
