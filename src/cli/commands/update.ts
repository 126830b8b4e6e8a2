import type { CommandModule } from '../command.js';
import { forEachTarget } from '../targets.js';
import { parseBytes, parseCpus, parseRestartPolicy } from '../container-options.js';
import { bytesFlag, int64Flag, uint16Flag } from '../resource-flags.js';

/** `berth update`: POST /containers/{id}/update with the changed limits. */
export const command: CommandModule = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Update configuration of one or more containers',
  aliases: ['berth container update'],
  args: { min: 1 },
  configure(cmd) {
    cmd.option('-m, --memory <bytes>', 'Memory limit');
    cmd.option('--memory-swap <bytes>', "Swap limit equal to memory plus swap: -1 to enable unlimited swap");
    cmd.option('--cpus <decimal>', 'Number of CPUs');
    cmd.option('-c, --cpu-shares <int>', 'CPU shares (relative weight)');
    cmd.option('--cpuset-cpus <string>', 'CPUs in which to allow execution (0-3, 0,1)');
    cmd.option('--pids-limit <int>', 'Tune container pids limit (set -1 for unlimited)');
    cmd.option('--restart <string>', 'Restart policy to apply when a container exits');
    cmd.option('--blkio-weight <uint16>', 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)', uint16Flag);
    cmd.option('--cpu-period <int>', 'Limit CPU CFS (Completely Fair Scheduler) period', int64Flag);
    cmd.option('--cpu-quota <int>', 'Limit CPU CFS (Completely Fair Scheduler) quota', int64Flag);
    cmd.option('--cpu-rt-period <int>', 'Limit the CPU real-time period in microseconds', int64Flag);
    cmd.option('--cpu-rt-runtime <int>', 'Limit the CPU real-time runtime in microseconds', int64Flag);
    cmd.option('--cpuset-mems <string>', 'MEMs in which to allow execution (0-3, 0,1)');
    cmd.option('--memory-reservation <bytes>', 'Memory soft limit', bytesFlag);
  },
  async run(ctx, args, opts) {
    const o = opts as { memory?: string; memorySwap?: string; cpus?: string; cpuShares?: string; cpusetCpus?: string; pidsLimit?: string; restart?: string };
    const body: Record<string, unknown> = {};
    if (o.memory !== undefined) body['Memory'] = parseBytes(o.memory);
    if (o.memorySwap !== undefined) body['MemorySwap'] = o.memorySwap === '-1' ? -1 : parseBytes(o.memorySwap);
    if (o.cpus !== undefined) body['NanoCpus'] = parseCpus(o.cpus);
    if (o.cpuShares !== undefined) body['CpuShares'] = Number(o.cpuShares);
    if (o.cpusetCpus !== undefined) body['CpusetCpus'] = o.cpusetCpus;
    if (o.pidsLimit !== undefined) body['PidsLimit'] = Number(o.pidsLimit);
    if (o.restart !== undefined) body['RestartPolicy'] = parseRestartPolicy(o.restart);
    const n = opts as { blkioWeight?: number; cpuPeriod?: number; cpuQuota?: number; cpuRtPeriod?: number; cpuRtRuntime?: number; cpusetMems?: string; memoryReservation?: number };
    if (n.blkioWeight !== undefined) body['BlkioWeight'] = n.blkioWeight;
    if (n.cpuPeriod !== undefined) body['CpuPeriod'] = n.cpuPeriod;
    if (n.cpuQuota !== undefined) body['CpuQuota'] = n.cpuQuota;
    if (n.cpuRtPeriod !== undefined) body['CpuRealtimePeriod'] = n.cpuRtPeriod;
    if (n.cpuRtRuntime !== undefined) body['CpuRealtimeRuntime'] = n.cpuRtRuntime;
    if (n.cpusetMems !== undefined) body['CpusetMems'] = n.cpusetMems;
    if (n.memoryReservation !== undefined) body['MemoryReservation'] = n.memoryReservation;
    if (Object.keys(body).length === 0) {
      ctx.stderr.write('you must provide one or more flags when using this command\n');
      return 1;
    }
    const client = await ctx.client();
    return forEachTarget(ctx, args, async (id) => {
      await client.containerUpdate(id, body);
    });
  },
};
