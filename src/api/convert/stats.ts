/** Docker's container stats JSON (ContainerStatsResponse) from engine samples. */
import { totalmem } from 'node:os';
import type { ContainerRecord } from '../../engine/types.js';
import type { CgroupStats } from '../../engine/container-service.js';
import type { ContainerStats } from '../../wire/api-types.js';

export interface StatsSample {
  sample?: CgroupStats;
  systemCpu: number;
  onlineCpus: number;
  at: Date;
}

const ZERO = '0001-01-01T00:00:00Z';

function cpuJson(s: StatsSample | undefined): Record<string, unknown> {
  const c = s?.sample;
  return {
    cpu_usage: { total_usage: c?.cpuTotal ?? 0, percpu_usage: c?.perCpu.length ? c.perCpu : undefined, usage_in_kernelmode: c?.cpuKernel ?? 0, usage_in_usermode: c?.cpuUser ?? 0 },
    system_cpu_usage: s?.sample ? s.systemCpu : 0,
    online_cpus: s?.sample ? s.onlineCpus : 0,
    throttling_data: { periods: c?.throttling.periods ?? 0, throttled_periods: c?.throttling.throttledPeriods ?? 0, throttled_time: c?.throttling.throttledTime ?? 0 },
  };
}

export function statsJson(rec: ContainerRecord, cur: StatsSample, prev: StatsSample | undefined): ContainerStats {
  const c = cur.sample;
  return {
    read: cur.sample ? cur.at.toISOString() : ZERO,
    preread: prev?.sample ? prev.at.toISOString() : ZERO,
    pids_stats: c ? { current: c.pidsCurrent, ...(c.pidsLimit ? { limit: c.pidsLimit } : {}) } : {},
    blkio_stats: {
      io_service_bytes_recursive: c ? c.blkio.map((b) => ({ major: b.major, minor: b.minor, op: b.op, value: b.value })) : null,
      io_serviced_recursive: null,
      io_queue_recursive: null,
      io_service_time_recursive: null,
      io_wait_time_recursive: null,
      io_merged_recursive: null,
      io_time_recursive: null,
      sectors_recursive: null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuJson(cur),
    precpu_stats: cpuJson(prev),
    memory_stats: c
      ? { usage: c.memoryUsage, ...(c.memoryMaxUsage ? { max_usage: c.memoryMaxUsage } : {}), stats: c.memoryStat, limit: c.memoryLimit || totalmem() }
      : {},
    name: `/${rec.name}`,
    id: rec.id,
    networks: c && Object.keys(c.networks).length
      ? Object.fromEntries(Object.entries(c.networks).map(([k, n]) => [k, { rx_bytes: n.rxBytes, rx_packets: n.rxPackets, rx_errors: n.rxErrors, rx_dropped: n.rxDropped, tx_bytes: n.txBytes, tx_packets: n.txPackets, tx_errors: n.txErrors, tx_dropped: n.txDropped }]))
      : undefined,
  };
}

