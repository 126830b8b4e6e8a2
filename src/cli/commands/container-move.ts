import type { ApiClient } from '../../client/client.js';
import type { CommandModule } from '../command.js';
import type { Invocation } from '../invocation.js';
import { StatusError } from '../errors.js';
import { humanBytes, moveContainer, type MoveProgress, type MoveResult } from '../move/container-mover.js';

/** An API client for a stored context (`--to CONTEXT`), as `--context` would make it. */
export async function clientForContext(ctx: Invocation, name: string): Promise<ApiClient> {
  const [{ ApiClient }, { parseHost }, { resolveEndpoint }] = await Promise.all([import('../../client/client.js'), import('../../client/transport.js'), import('../../client/context-store.js')]);
  const endpoint = await resolveEndpoint({ context: name, config: ctx.configDir, tls: {}, env: ctx.env });
  return new ApiClient(parseHost(endpoint.host, { tls: endpoint.tls }), { apiVersion: ctx.env.BERTH_API_VERSION || ctx.env.DOCKER_API_VERSION || undefined });
}

/** Progress lines: redrawn in place on a terminal, one final line per item otherwise. */
export function progressPrinter(ctx: Invocation): MoveProgress {
  const tty = !!ctx.stdout.isTTY;
  let live = false;
  const clear = () => {
    if (live) ctx.stdout.write('\r\x1b[2K');
    live = false;
  };
  return {
    update(id, text) {
      if (!tty) return;
      clear();
      ctx.stdout.write(`${id}: ${text}`);
      live = true;
    },
    done(id, text) {
      clear();
      ctx.stdout.write(`${id}: ${text}\n`);
    },
    note(text) {
      clear();
      ctx.stdout.write(`${text}\n`);
    },
  };
}

/** The dry run's table: what would be sent, and the total. */
export function printPlan(ctx: Invocation, r: MoveResult): void {
  const rows = r.items.map((i) => [i.what, i.id, humanBytes(i.size), i.detail]);
  const w = [10, 12, 8].map((min, c) => Math.max(min, ...rows.map((row) => row[c]!.length)));
  ctx.stdout.write(`${'WHAT'.padEnd(w[0]! + 3)}${'ID'.padEnd(w[1]! + 3)}${'SIZE'.padEnd(w[2]! + 3)}DETAIL\n`);
  for (const row of rows) ctx.stdout.write(`${row[0]!.padEnd(w[0]! + 3)}${row[1]!.padEnd(w[1]! + 3)}${row[2]!.padEnd(w[2]! + 3)}${row[3]}\n`);
  ctx.stdout.write(`Image layers the target already has: ${r.skippedLayers}\n`);
  for (const warning of r.warnings) ctx.stdout.write(`Warning: ${warning}\n`);
  ctx.stdout.write(`Would send ${humanBytes(r.bytes.total)} (${r.bytes.total} bytes): image ${r.bytes.image}, writable layer ${r.bytes.rw}, volumes ${r.bytes.volumes}\n`);
}

/**
 * `berth container move NAME --to CONTEXT`: a cold move to the daemon of another context
 * (src/cli/move/container-mover.ts); docs/cli.md.
 */
export const command: CommandModule = {
  usage: '[OPTIONS] CONTAINER',
  description: 'Move a container to the daemon of another context (stopped, sent, re-created there, then removed here)',
  aliases: ['berth container move'],
  args: { exact: 1 },
  configure(cmd) {
    cmd.option('--to <string>', 'Context of the daemon to move the container to (required)');
    cmd.option('--keep-source', 'Keep the container on the source daemon (a copy; restarted when it was running)');
    cmd.option('--with-volumes', "Copy the data of the container's named volumes too (anonymous volumes are always copied)");
    cmd.option('--start', 'Start the container on the target once it is there');
    cmd.option('--dry-run', 'List what would be sent and how many bytes, change nothing');
    cmd.option('--checkpoint', 'Live migration with CRIU checkpoint/restore (refused where CRIU cannot work)');
  },
  async run(ctx, args, opts) {
    const o = opts as { to?: string; keepSource?: boolean; withVolumes?: boolean; start?: boolean; dryRun?: boolean; checkpoint?: boolean };
    if (!o.to) throw new StatusError(125, `"${ctx.prog} container move" requires --to CONTEXT`);
    const source = await ctx.client();
    if (o.checkpoint) {
      // The source daemon says why it cannot checkpoint (its checkpoint route answers the reason).
      await source.json('GET', `/containers/${encodeURIComponent(args[0]!)}/checkpoints`);
      throw new StatusError(125, 'Error response from daemon: checkpoint is not supported by the source daemon');
    }
    const target = await clientForContext(ctx, o.to);
    try {
      if (target.transport.url === source.transport.url) throw new StatusError(125, `--to ${o.to}: that is the daemon the container is on`);
      // Ctrl-C (and other signals) up to the commit: the move is given up and the source restored.
      const ac = new AbortController();
      const off = ctx.onSignal(() => ac.abort());
      let r;
      try {
        r = await moveContainer(source, target, args[0]!, { keepSource: o.keepSource, withVolumes: o.withVolumes, start: o.start, dryRun: o.dryRun, progress: progressPrinter(ctx), signal: ac.signal });
      } catch (err) {
        if (ac.signal.aborted) throw new StatusError(130, `move of ${args[0]} interrupted: it is back on the source as it was, nothing is left on ${o.to}`);
        throw err;
      } finally {
        off();
      }
      if (o.dryRun) printPlan(ctx, r);
      else ctx.stdout.write(`Moved ${r.name} to ${o.to} (${r.targetId}): sent ${humanBytes(r.bytes.total)} (${r.bytes.total} bytes: image ${r.bytes.image}, writable layer ${r.bytes.rw}, volumes ${r.bytes.volumes})\n`);
      return 0;
    } finally {
      target.close();
    }
  },
};
