import type { CommandModule } from '../command.js';
import { copyRaw, demultiplex } from '../../client/stdcopy.js';
import { parseTimestamp } from '../timestamp.js';

/**
 * `berth logs`: GET /containers/{id}/json (to know whether the stream is a tty's raw bytes or
 * multiplexed frames, as docker's CLI does), then
 * GET /containers/{id}/logs?stdout=1&stderr=1&follow=&tail=&timestamps=&since=&until=.
 */
export const command: CommandModule = {
  usage: '[OPTIONS] CONTAINER',
  description: 'Fetch the logs of a container',
  aliases: ['berth container logs'],
  args: { exact: 1 },
  configure(cmd) {
    cmd.option('--details', 'Show extra details provided to logs');
    cmd.option('-f, --follow', 'Follow log output');
    cmd.option('--since <string>', 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)');
    cmd.option('-n, --tail <string>', 'Number of lines to show from the end of the logs', 'all');
    cmd.option('-t, --timestamps', 'Show timestamps');
    cmd.option('--until <string>', 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)');
  },
  async run(ctx, args, opts) {
    const o = opts as { details?: boolean; follow?: boolean; since?: string; tail: string; timestamps?: boolean; until?: string };
    const now = ctx.now();
    const since = o.since ? parseTimestamp(o.since, now, 'since') : undefined;
    const until = o.until ? parseTimestamp(o.until, now, 'until') : undefined;
    const client = await ctx.client();
    const info = await client.containerInspect(args[0]!);
    const res = await client.containerLogs(info.Id, {
      since,
      until,
      timestamps: o.timestamps,
      follow: o.follow,
      tail: o.tail,
      details: o.details,
    });
    if (info.Config?.Tty) await copyRaw(res, ctx.stdout);
    else await demultiplex(res, ctx.stdout, ctx.stderr);
    return 0;
  },
};
