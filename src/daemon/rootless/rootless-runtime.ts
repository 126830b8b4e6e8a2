/**
 * What changes inside a rootless berthd (issue 21), for daemon.ts: the rootlesskit context, the
 * cgroup rules, and the spec adjustments. The daemon runs as uid 0 of rootlesskit's user
 * namespace; containers share that namespace (as with Docker's and Podman's rootless modes), so
 * uid 0 in a container is the invoking user on the host and uids 1..65536 are the user's
 * /etc/subuid range.
 */
import { accessSync, constants, readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidParameterError } from '../../common/errors.js';
import type { OciSpec } from '../../runtime/spec.js';
import { DIALER_ENV } from './rootlesskit-launcher.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;

/** What the inner daemon knows about its rootlesskit. */
export interface RootlessContext {
  /** rootlesskit's state dir; its REST API is `api.sock` there. */
  stateDir: string;
  apiSocket: string;
  /** The host-loopback dialer of the outer berthd (absent when berthd was started under rootlesskit by hand). */
  dialer?: string;
  /** The host uid and gid that own the namespace. */
  uid: number;
  gid: number;
  /** The cgroup layout and whether this user may make cgroups in it (a delegated cgroup v2 subtree). */
  cgroupVersion: 1 | 2;
  cgroupDelegated: boolean;
}

/** Reads the rootlesskit context from the environment rootlesskit gives its child. */
export function rootlessContext(env: NodeJS.ProcessEnv): RootlessContext {
  const stateDir = env['ROOTLESSKIT_STATE_DIR'];
  if (!stateDir) throw new InvalidParameterError('rootless berthd must run inside rootlesskit (start it as the user: berthd)');
  const { version, delegated } = cgroupDelegation();
  return {
    stateDir,
    apiSocket: join(stateDir, 'api.sock'),
    dialer: env[DIALER_ENV] || undefined,
    uid: Number(env['ROOTLESSKIT_PARENT_EUID'] ?? -1),
    gid: Number(env['ROOTLESSKIT_PARENT_EGID'] ?? -1),
    cgroupVersion: version,
    cgroupDelegated: delegated,
  };
}

/**
 * cgroup v2 with this process's own cgroup writable and controllers enabled below it is a
 * delegated subtree (systemd's `Delegate=yes` for user@.service); cgroup v1, and hybrid as on
 * these machines, never is for a non-root user.
 */
export function cgroupDelegation(root = '/sys/fs/cgroup', procSelf = '/proc/self/cgroup'): { version: 1 | 2; delegated: boolean } {
  let v2 = false;
  try {
    v2 = statfsSync(root).type === CGROUP2_SUPER_MAGIC;
  } catch {
    /* no cgroup fs */
  }
  if (!v2) return { version: 1, delegated: false };
  try {
    const own = readFileSync(procSelf, 'utf8').split('\n').find((l) => l.startsWith('0::'))?.slice(3) ?? '';
    const dir = join(root, own);
    accessSync(dir, constants.W_OK);
    const controllers = readFileSync(join(dir, 'cgroup.controllers'), 'utf8').trim();
    return { version: 2, delegated: /\b(memory|pids|cpu)\b/.test(controllers) };
  } catch {
    return { version: 2, delegated: false };
  }
}

/** Resource limits of a container, by the docker flag that sets them, that need a cgroup of its own. */
const LIMIT_FLAGS: Array<[key: string, flag: string]> = [
  ['memory', '--memory'],
  ['memorySwap', '--memory-swap'],
  ['memoryReservation', '--memory-reservation'],
  ['memorySwappiness', '--memory-swappiness'],
  ['oomKillDisable', '--oom-kill-disable'],
  ['cpuShares', '--cpu-shares'],
  ['nanoCpus', '--cpus'],
  ['cpuQuota', '--cpu-quota'],
  ['cpuPeriod', '--cpu-period'],
  ['cpusetCpus', '--cpuset-cpus'],
  ['cpusetMems', '--cpuset-mems'],
  ['pidsLimit', '--pids-limit'],
  ['blkioWeight', '--blkio-weight'],
];

/**
 * Refuses limits a rootless daemon cannot apply: without a delegated cgroup v2 subtree a
 * non-root user cannot make cgroups, and a limit silently not applied is worse than an error.
 * `deviceCgroupRules` are refused likewise; `--device` itself works (a bind of the node).
 */
export function refuseUndelegatedLimits(host: Record<string, unknown>, ctx: Pick<RootlessContext, 'cgroupDelegated' | 'cgroupVersion'>): void {
  if (ctx.cgroupDelegated) return;
  const set = LIMIT_FLAGS.filter(([k]) => {
    const v = host[k];
    // Docker sends 0 / "" / -1 (swap) / false for "not set".
    return v !== undefined && v !== null && v !== 0 && v !== '' && v !== false && !(k === 'memorySwap' && v === -1) && !(k === 'memorySwappiness' && v === -1) && !(k === 'pidsLimit' && v === -1);
  });
  const rules = host['deviceCgroupRules'];
  const flags = set.map(([, f]) => f);
  if (Array.isArray(rules) && rules.length) flags.push('--device-cgroup-rule');
  if (!flags.length) return;
  const where = ctx.cgroupVersion === 1 ? 'this host has cgroup v1 (or hybrid), where a non-root user gets no cgroups' : 'this user\'s cgroup v2 subtree is not delegated (systemd: Delegate=yes for user@.service)';
  throw new InvalidParameterError(
    `rootless berthd cannot apply ${flags.join(', ')}: resource limits need a delegated cgroup v2 subtree and ${where}; run without ${flags.length > 1 ? 'these limits' : 'this limit'} or use the rootful daemon (docs/rootless.md)`,
  );
}

/**
 * Adjusts a container's spec for a rootless daemon with no cgroup of its own to give: no
 * cgroupsPath and no resources (crun then runs it in the daemon's cgroup, as Docker's rootless
 * mode on cgroup v1 does), and no device-cgroup rules (the device nodes themselves are binds).
 */
export function adaptSpecForRootless(spec: OciSpec, ctx: Pick<RootlessContext, 'cgroupDelegated'>): OciSpec {
  if (ctx.cgroupDelegated) return spec;
  const linux = (spec as { linux?: Record<string, unknown> }).linux;
  if (linux) {
    delete linux['cgroupsPath'];
    delete linux['resources'];
  }
  return spec;
}
