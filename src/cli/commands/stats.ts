import type { CommandModule } from '../command.js';
import { bytesSize, humanSize } from '../../common/units.js';
import { renderList } from '../format/formatter.js';

interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[] };
  system_cpu_usage?: number;
  online_cpus?: number;
}
interface StatsJson {
  id: string;
  name: string;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
  blkio_stats: { io_service_bytes_recursive: { op: string; value: number }[] | null };
  pids_stats: { current?: number };
}

/** One row as docker's stats formatter computes it (cli/command/container/stats_helpers.go). */
export function statsRow(s: StatsJson, trunc = true): Record<string, string> {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const sysDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
  const cpus = s.cpu_stats.online_cpus || s.cpu_stats.cpu_usage.percpu_usage?.length || 1;
  const cpu = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0;
  const st = s.memory_stats.stats ?? {};
  // docker subtracts the page cache that can be reclaimed: total_inactive_file (v1) or inactive_file (v2).
  const cache = st['total_inactive_file'] ?? st['inactive_file'] ?? 0;
  const usage = Math.max((s.memory_stats.usage ?? 0) - (cache < (s.memory_stats.usage ?? 0) ? cache : 0), 0);
  const limit = s.memory_stats.limit ?? 0;
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    rx += n.rx_bytes;
    tx += n.tx_bytes;
  }
  let read = 0;
  let write = 0;
  for (const b of s.blkio_stats.io_service_bytes_recursive ?? []) {
    if (b.op.toLowerCase() === 'read') read += b.value;
    if (b.op.toLowerCase() === 'write') write += b.value;
  }
  const running = s.memory_stats.usage !== undefined;
  return {
    Container: s.id.slice(0, 12),
    ID: trunc ? s.id.slice(0, 12) : s.id,
    Name: s.name.replace(/^\//, ''),
    CPUPerc: running ? `${cpu.toFixed(2)}%` : '--',
    MemUsage: running ? `${bytesSize(usage)} / ${bytesSize(limit)}` : '-- / --',
    MemPerc: running ? `${(limit ? (usage / limit) * 100 : 0).toFixed(2)}%` : '--',
    NetIO: running ? `${humanSize(rx, 3)} / ${humanSize(tx, 3)}` : '--',
    BlockIO: running ? `${humanSize(read, 3)} / ${humanSize(write, 3)}` : '--',
    PIDs: running ? String(s.pids_stats.current ?? 0) : '--',
  };
}

const DEFAULT_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';
const HEADERS = { ID: 'CONTAINER ID', Container: 'CONTAINER', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS' };

/** `berth stats`: GET /containers/{id}/stats, live (redrawn each second) or once with --no-stream. */
export const command: CommandModule = {
  usage: '[OPTIONS] [CONTAINER...]',
  description: 'Display a live stream of container(s) resource usage statistics',
  aliases: ['berth container stats'],
  args: {},
  configure(cmd) {
    cmd.option('-a, --all', 'Show all containers (default shows just running)');
    cmd.option('--format <string>', 'Format output using a custom template');
    cmd.option('--no-stream', 'Disable streaming stats and only pull the first result');
    cmd.option('--no-trunc', 'Do not truncate output');
  },
  async run(ctx, args, opts) {
    const o = opts as { all?: boolean; format?: string; stream?: boolean; noStream?: boolean; trunc?: boolean };
    const trunc = o.trunc !== false;
    const noStream = o.noStream === true || o.stream === false;
    const client = await ctx.client();
    const ids = args.length ? args : (await client.containerList({ all: o.all })).map((c) => c.Id);
    const spec = { format: o.format ?? '', defaultTable: DEFAULT_FORMAT, headers: HEADERS };
    const rows = new Map<string, Record<string, string>>();
    const render = () => renderList(spec, ids.filter((id) => rows.has(id)).map((id) => rows.get(id)!));
    if (noStream) {
      let failed = false;
      await Promise.all(
        ids.map(async (id) => {
          try {
            const res = await client.containerStats(id, false);
            let text = '';
            for await (const c of res) text += (c as Buffer).toString();
            rows.set(id, statsRow(JSON.parse(text) as StatsJson, trunc));
          } catch (err) {
            failed = true;
            ctx.stderr.write(`Error response from daemon: ${(err as Error).message}\n`);
          }
        }),
      );
      ctx.stdout.write(render());
      return failed ? 1 : 0;
    }
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    const tty = (ctx.stdout as NodeJS.WriteStream).isTTY === true;
    const timer = setInterval(() => ctx.stdout.write((tty ? '\x1b[2J\x1b[H' : '') + render()), 1000);
    try {
      await Promise.all(
        ids.map(async (id) => {
          const res = await client.containerStats(id, true, abort.signal);
          let buf = '';
          for await (const c of res) {
            buf += (c as Buffer).toString();
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (line.trim()) rows.set(id, statsRow(JSON.parse(line) as StatsJson, trunc));
            }
          }
        }),
      ).catch((err) => {
        if (!abort.signal.aborted) throw err;
      });
    } finally {
      clearInterval(timer);
    }
    return 0;
  },
};
