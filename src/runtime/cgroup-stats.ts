import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cpus } from 'node:os';

/**
 * Resource usage of one container, read from its cgroups (v1 or v2) and its network
 * namespace. The paths come from /proc/<pid>/cgroup of the container's init process, so this
 * works whatever cgroup parent and layout the runtime used.
 */
export interface CgroupStats {
  /** Nanoseconds of CPU used by the container in all. */
  cpuTotal: number;
  cpuUser: number;
  cpuKernel: number;
  perCpu: number[];
  throttling: { periods: number; throttledPeriods: number; throttledTime: number };
  memoryUsage: number;
  memoryMaxUsage: number;
  /** Bytes; 0 when unlimited. */
  memoryLimit: number;
  /** memory.stat as key → value (v1 and v2 keys as the kernel names them). */
  memoryStat: Record<string, number>;
  pidsCurrent: number;
  /** 0 when unlimited. */
  pidsLimit: number;
  blkio: { major: number; minor: number; op: string; value: number }[];
  networks: Record<string, { rxBytes: number; rxPackets: number; rxErrors: number; rxDropped: number; txBytes: number; txPackets: number; txErrors: number; txDropped: number }>;
}

const CGROUP_ROOT = '/sys/fs/cgroup';
const UNLIMITED = 2 ** 62;

async function readNum(path: string): Promise<number> {
  const t = (await readFile(path, 'utf8').catch(() => '')).trim();
  if (t === '' || t === 'max') return 0;
  const n = Number(t.split(/\s+/)[0]);
  return Number.isFinite(n) ? n : 0;
}

async function readKeyValues(path: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await readFile(path, 'utf8').catch(() => '')).split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** Where to read from; tests point these at a fabricated tree. */
export interface CgroupStatsOptions {
  cgroupRoot?: string;
  procRoot?: string;
}

/** controller → cgroup path relative to its hierarchy root, from /proc/<pid>/cgroup. */
async function cgroupPaths(pid: number, procRoot = '/proc'): Promise<{ v1: Map<string, string>; v2?: string }> {
  const v1 = new Map<string, string>();
  let v2: string | undefined;
  for (const line of (await readFile(`${procRoot}/${pid}/cgroup`, 'utf8')).split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') v2 = m[3]!;
    else for (const c of m[2]!.split(',')) v1.set(c, m[3]!);
  }
  return { v1, v2 };
}

export async function readCgroupStats(pid: number, options: CgroupStatsOptions = {}): Promise<CgroupStats> {
  const root = options.cgroupRoot ?? CGROUP_ROOT;
  if (!options.procRoot && (await sharesOwnCgroup(pid))) return processStats(pid);
  const { v1, v2 } = await cgroupPaths(pid, options.procRoot);
  const unified = v1.size === 0 || (v1.size === 1 && v1.has('name=systemd'));
  const s: CgroupStats = {
    cpuTotal: 0, cpuUser: 0, cpuKernel: 0, perCpu: [],
    throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0 },
    memoryUsage: 0, memoryMaxUsage: 0, memoryLimit: 0, memoryStat: {},
    pidsCurrent: 0, pidsLimit: 0, blkio: [], networks: await readNetDev(pid, options.procRoot),
  };
  if (unified && v2 !== undefined) {
    const dir = join(root, v2);
    const cpu = await readKeyValues(join(dir, 'cpu.stat'));
    s.cpuTotal = (cpu['usage_usec'] ?? 0) * 1000;
    s.cpuUser = (cpu['user_usec'] ?? 0) * 1000;
    s.cpuKernel = (cpu['system_usec'] ?? 0) * 1000;
    s.throttling = { periods: cpu['nr_periods'] ?? 0, throttledPeriods: cpu['nr_throttled'] ?? 0, throttledTime: (cpu['throttled_usec'] ?? 0) * 1000 };
    s.memoryUsage = await readNum(join(dir, 'memory.current'));
    s.memoryMaxUsage = await readNum(join(dir, 'memory.peak'));
    s.memoryLimit = await readNum(join(dir, 'memory.max'));
    s.memoryStat = await readKeyValues(join(dir, 'memory.stat'));
    s.pidsCurrent = await readNum(join(dir, 'pids.current'));
    s.pidsLimit = await readNum(join(dir, 'pids.max'));
    for (const line of (await readFile(join(dir, 'io.stat'), 'utf8').catch(() => '')).split('\n')) {
      const m = /^(\d+):(\d+)\s+(.*)$/.exec(line);
      if (!m) continue;
      const kv = Object.fromEntries(m[3]!.split(/\s+/).map((p) => p.split('=')));
      for (const [key, op] of [['rbytes', 'read'], ['wbytes', 'write']] as const) {
        if (kv[key] !== undefined) s.blkio.push({ major: Number(m[1]), minor: Number(m[2]), op, value: Number(kv[key]) });
      }
    }
  } else {
    const at = (controller: string, file: string) => join(root, controller, v1.get(controller) ?? '/', file);
    s.cpuTotal = await readNum(at('cpuacct', 'cpuacct.usage'));
    s.perCpu = (await readFile(at('cpuacct', 'cpuacct.usage_percpu'), 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean).map(Number);
    const ticks = await readKeyValues(at('cpuacct', 'cpuacct.stat'));
    // cpuacct.stat is in USER_HZ ticks (100 per second on Linux).
    s.cpuUser = (ticks['user'] ?? 0) * 10_000_000;
    s.cpuKernel = (ticks['system'] ?? 0) * 10_000_000;
    const thr = await readKeyValues(at('cpu', 'cpu.stat'));
    s.throttling = { periods: thr['nr_periods'] ?? 0, throttledPeriods: thr['nr_throttled'] ?? 0, throttledTime: thr['throttled_time'] ?? 0 };
    s.memoryUsage = await readNum(at('memory', 'memory.usage_in_bytes'));
    s.memoryMaxUsage = await readNum(at('memory', 'memory.max_usage_in_bytes'));
    const limit = await readNum(at('memory', 'memory.limit_in_bytes'));
    s.memoryLimit = limit >= UNLIMITED ? 0 : limit;
    s.memoryStat = await readKeyValues(at('memory', 'memory.stat'));
    s.pidsCurrent = await readNum(at('pids', 'pids.current'));
    s.pidsLimit = await readNum(at('pids', 'pids.max'));
    for (const line of (await readFile(at('blkio', 'blkio.throttle.io_service_bytes'), 'utf8').catch(() => '')).split('\n')) {
      const m = /^(\d+):(\d+)\s+(\w+)\s+(\d+)$/.exec(line.trim());
      if (m) s.blkio.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!.toLowerCase(), value: Number(m[4]) });
    }
  }
  return s;
}

/** Interfaces of the container's network namespace, loopback excluded (as Docker's stats). */
async function readNetDev(pid: number, procRoot = '/proc'): Promise<CgroupStats['networks']> {
  const out: CgroupStats['networks'] = {};
  const text = await readFile(`${procRoot}/${pid}/net/dev`, 'utf8').catch(() => '');
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    out[m[1]!] = { rxBytes: f[0]!, rxPackets: f[1]!, rxErrors: f[2]!, rxDropped: f[3]!, txBytes: f[8]!, txPackets: f[9]!, txErrors: f[10]!, txDropped: f[11]! };
  }
  return out;
}

/** The host's total CPU time in nanoseconds (Docker's system_cpu_usage), from /proc/stat. */
export async function systemCpuUsage(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return 0;
  const ticks = line.trim().split(/\s+/).slice(1, 8).map(Number).reduce((a, b) => a + b, 0);
  return ticks * 10_000_000;
}

export function onlineCpus(): number {
  return cpus().length;
}

/**
 * A container in berthd's own cgroup has no cgroup of its own (rootless without delegation,
 * issue 21): its cgroup's figures and process list are the daemon's (or the whole host's), so
 * they must not be read as the container's.
 */
async function sharesOwnCgroup(pid: number): Promise<boolean> {
  const [theirs, ours] = await Promise.all([readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => ''), readFile('/proc/self/cgroup', 'utf8').catch(() => '')]);
  return theirs !== '' && theirs === ours;
}

/** `pid` and every process below it (by parent pid), from /proc. */
async function descendants(pid: number): Promise<Array<{ pid: number; stat: string[] }>> {
  const all: Array<{ pid: number; ppid: number; stat: string[] }> = [];
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const text = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const close = text.lastIndexOf(')');
    if (close < 0) continue;
    // Fields after "pid (comm)": state ppid … utime(14) stime(15) … rss(24), numbered from 1.
    const stat = text.slice(close + 2).trim().split(' ');
    all.push({ pid: Number(name), ppid: Number(stat[1]), stat });
  }
  const out = all.filter((p) => p.pid === pid);
  for (let i = 0; i < out.length; i++) for (const p of all) if (p.ppid === out[i]!.pid) out.push(p);
  return out;
}

/** Stats of a container without a cgroup: CPU time and resident memory summed over its processes. */
async function processStats(pid: number): Promise<CgroupStats> {
  const procs = await descendants(pid);
  // stat[11] utime and stat[12] stime (USER_HZ ticks, 100 per second), stat[21] rss (pages).
  const user = procs.reduce((a, p) => a + Number(p.stat[11] ?? 0), 0) * 10_000_000;
  const kernel = procs.reduce((a, p) => a + Number(p.stat[12] ?? 0), 0) * 10_000_000;
  const rss = procs.reduce((a, p) => a + Number(p.stat[21] ?? 0), 0) * 4096;
  return {
    cpuTotal: user + kernel, cpuUser: user, cpuKernel: kernel, perCpu: [],
    throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0 },
    memoryUsage: rss, memoryMaxUsage: 0, memoryLimit: 0, memoryStat: {},
    pidsCurrent: procs.length, pidsLimit: 0, blkio: [], networks: await readNetDev(pid),
  };
}

/** PIDs (host namespace) of every process in the container, from its pids/unified cgroup. */
export async function containerPids(pid: number): Promise<number[]> {
  if (await sharesOwnCgroup(pid)) return (await descendants(pid)).map((p) => p.pid);
  const { v1, v2 } = await cgroupPaths(pid);
  const candidates = v1.has('pids') ? [join(CGROUP_ROOT, 'pids', v1.get('pids')!)] : v2 !== undefined ? [join(CGROUP_ROOT, v2), join(CGROUP_ROOT, 'unified', v2)] : [];
  for (const dir of candidates) {
    const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => undefined);
    if (text !== undefined) return text.split('\n').filter(Boolean).map(Number);
  }
  return [pid];
}
