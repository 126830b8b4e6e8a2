import { statfs, readFile, mkdir, symlink, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandRunner } from '../common/command-runner.js';
import { SystemError } from '../common/errors.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;

export interface CgroupInfo {
  /** 2 when /sys/fs/cgroup is a unified cgroup2 mount, else 1 (including hybrid). */
  version: 1 | 2;
  /** v1 hierarchies plus a cgroup2 mount at <root>/unified. */
  hybrid: boolean;
  /** Docker's `CgroupDriver` (berth drives cgroupfs directly). */
  driver: 'cgroupfs';
  /** Controllers that berth mounted as v1 hierarchies during this call. */
  mounted: string[];
  /** Controllers still attached to the cgroup2 mount in hybrid mode (crun refuses to run when non-empty). */
  leftover: string[];
}

export interface CgroupSetupOptions {
  /** Default /sys/fs/cgroup. */
  root?: string;
  /** Default /proc/cgroups. */
  procCgroups?: string;
}

/** Controllers that the kernel lists as enabled but that no v1 hierarchy holds (hierarchy 0). */
async function unboundControllers(procCgroups: string): Promise<string[]> {
  const text = await readFile(procCgroups, 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const [name, hierarchy, , enabled] = line.split(/\s+/);
    if (name && hierarchy === '0' && enabled === '1') out.push(name);
  }
  return out;
}

async function readControllers(file: string): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

async function isCgroup2(path: string): Promise<boolean> {
  try {
    return (await statfs(path)).type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/**
 * Makes the host's cgroup layout usable by crun, and says what it is. Unified cgroup v2 and
 * plain v1 need nothing. A hybrid layout (v1 hierarchies plus cgroup2 at `unified/`) where
 * the cgroup2 mount still holds controllers makes crun 1.8 refuse every container ("cgroups
 * in hybrid mode not supported, drop all controllers from cgroupv2"); this mounts each such
 * controller as a v1 hierarchy (net_cls and net_prio together, as systemd does), which moves
 * it off cgroup2. Idempotent: a controller already bound to a hierarchy is left alone.
 */
export async function ensureCgroupLayout(runner: CommandRunner, options: CgroupSetupOptions = {}): Promise<CgroupInfo> {
  const root = options.root ?? '/sys/fs/cgroup';
  const procCgroups = options.procCgroups ?? '/proc/cgroups';
  if (await isCgroup2(root)) {
    return { version: 2, hybrid: false, driver: 'cgroupfs', mounted: [], leftover: [] };
  }
  const unified = join(root, 'unified');
  const hybrid = await isCgroup2(unified);
  if (!hybrid) return { version: 1, hybrid: false, driver: 'cgroupfs', mounted: [], leftover: [] };

  const unbound = await unboundControllers(procCgroups);
  const groups: string[][] = [];
  const pending = new Set(unbound);
  for (const pair of [['cpu', 'cpuacct'], ['net_cls', 'net_prio']]) {
    if (pair.every((c) => pending.has(c))) {
      groups.push(pair);
      pair.forEach((c) => pending.delete(c));
    }
  }
  for (const c of pending) groups.push([c]);

  const mounted: string[] = [];
  for (const group of groups) {
    const name = group.join(',');
    const dir = join(root, name);
    try {
      await mkdir(dir, { recursive: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EROFS') throw e;
      // systemd mounts the cgroup tmpfs read-only; open it for the mkdir only.
      await runner.run(['mount', '-o', 'remount,rw', root]);
      try {
        await mkdir(dir, { recursive: true });
      } finally {
        await runner.run(['mount', '-o', 'remount,ro', root], { check: false });
      }
    }
    const r = await runner.run(['mount', '-t', 'cgroup', '-o', name, 'cgroup', dir], { check: false });
    if (r.code !== 0) continue; // reported below through `leftover` if it mattered
    mounted.push(...group);
    if (group.length > 1) {
      for (const c of group) {
        const link = join(root, c);
        try {
          await lstat(link);
        } catch {
          await symlink(name, link).catch(() => {});
        }
      }
    }
  }
  const leftover = await readControllers(join(unified, 'cgroup.controllers'));
  return { version: 1, hybrid: true, driver: 'cgroupfs', mounted, leftover };
}

/** Throws a clear error when crun cannot work on this layout. */
export function assertUsableForCrun(info: CgroupInfo): void {
  if (info.hybrid && info.leftover.length) {
    throw new SystemError(
      `cgroup v2 at /sys/fs/cgroup/unified still holds controllers (${info.leftover.join(', ')}); crun refuses hybrid mode. Mount them as v1 hierarchies or use --runtime runc`,
    );
  }
}
