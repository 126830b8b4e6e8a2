import { InvalidParameterError } from '../common/errors.js';
import { buildSpec, cgroupsPathFor, readHostDevices, type OciSpec } from '../runtime/spec.js';
import { resolveUser } from '../runtime/user.js';
import { resolveAppArmorProfile, type AppArmorHost } from '../runtime/apparmor.js';
import type { ContainerRecord } from './types.js';

/** Where the init binary (`--init`) is mounted inside containers, as Docker does. */
const INIT_PATH = '/sbin/docker-init';

export interface SpecFactoryOptions {
  /** Host path of the init binary for `--init` (catatonit). */
  initBinary?: string;
  /** Parent of every container's cgroup (cgroupfs path), so several daemons do not collide. */
  cgroupParent: string;
  /** daemon.json `no-new-privileges` / `--no-new-privileges`: every container gets it unless it says `no-new-privileges=false`. */
  noNewPrivileges?: boolean;
  /** The host's AppArmor state; absent: AppArmor is treated as disabled. */
  appArmor?: AppArmorHost;
}

/** Builds the OCI spec for a container whose rootfs is already mounted at `record.rootfs`. */
export function createSpecFactory(options: SpecFactoryOptions): (record: ContainerRecord) => Promise<OciSpec> {
  return async (rec) => {
    const h = rec.host;
    const user = await resolveUser(rec.rootfs, rec.config.user || '');
    let args = [rec.path, ...rec.args];
    const mounts = [
      { destination: '/etc/hostname', type: 'bind', source: rec.hostnamePath, options: ['rbind', 'rprivate', h.readonlyRootfs ? 'ro' : 'rw'] },
      { destination: '/etc/hosts', type: 'bind', source: rec.hostsPath, options: ['rbind', 'rprivate', h.readonlyRootfs ? 'ro' : 'rw'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: rec.resolvConfPath, options: ['rbind', 'rprivate', h.readonlyRootfs ? 'ro' : 'rw'] },
    ];
    if (h.init) {
      if (!options.initBinary) throw new InvalidParameterError('--init requested but no init binary (catatonit) is installed');
      mounts.push({ destination: INIT_PATH, type: 'bind', source: options.initBinary, options: ['bind', 'ro', 'rprivate'] });
      args = [INIT_PATH, '--', ...args];
    }
    // Volumes, binds and tmpfs (issue 7), at destinations resolved inside the rootfs at start.
    for (const m of rec.mounts ?? []) {
      const destination = m.resolvedDestination ?? m.destination;
      if (m.type === 'tmpfs') {
        const opts = m.tmpfsOptions ?? [];
        const has = (re: RegExp) => opts.some((o) => re.test(o));
        mounts.push({ destination, type: 'tmpfs', source: 'tmpfs', options: [...(has(/^(no)?exec$/) ? [] : ['noexec']), 'nosuid', 'nodev', m.rw ? 'rw' : 'ro', ...opts] });
      } else {
        mounts.push({ destination, type: 'bind', source: m.source, options: ['rbind', m.rw ? 'rw' : 'ro', m.propagation || 'rprivate'] });
      }
    }
    const env = [...rec.config.env];
    if (!env.some((e) => e.startsWith('HOSTNAME='))) env.push(`HOSTNAME=${rec.config.hostname}`);
    if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home || '/'}`);
    if (rec.config.tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
    const sec = parseSecurityOpts(h.securityOpt ?? []);
    const apparmorProfile = h.privileged && sec.apparmor === undefined ? undefined : resolveAppArmorProfile(sec.apparmor, options.appArmor ?? { enabled: false });
    const quota = h.nanoCpus ? Math.round((h.nanoCpus / 1e9) * 100_000) : h.cpuQuota;
    const period = h.nanoCpus ? 100_000 : h.cpuPeriod;
    return buildSpec({
      args,
      env,
      cwd: rec.config.workingDir || '/',
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      hostname: rec.config.hostname,
      domainname: rec.config.domainname,
      terminal: rec.config.tty ?? false,
      consoleSize: h.consoleSize,
      rootfs: rec.rootfs,
      readonlyRootfs: h.readonlyRootfs,
      mounts,
      capAdd: h.capAdd,
      capDrop: h.capDrop,
      privileged: h.privileged,
      noNewPrivileges: sec.noNewPrivileges ?? options.noNewPrivileges ?? false,
      apparmorProfile,
      seccomp: sec.seccomp,
      rlimits: (h.ulimits ?? []).map((u) => ({ type: u.name, soft: u.soft, hard: u.hard })),
      cgroupsPath: cgroupsPathFor(rec.id, options.cgroupParent),
      resources: {
        memory: h.memory,
        memorySwap: h.memorySwap,
        cpuShares: h.cpuShares,
        cpuQuota: quota,
        cpuPeriod: period,
        cpusetCpus: h.cpusetCpus,
        pidsLimit: h.pidsLimit,
      },
      devices: h.privileged ? await readHostDevices() : undefined,
      shmSize: h.shmSize,
      namespaces: { network: networkNamespace(rec), cgroup: h.cgroupnsMode === 'private' ? 'private' : 'host' },
    });
  };
}

/** Docker's `--security-opt` values that berth honours. */
export function parseSecurityOpts(opts: string[]): { noNewPrivileges?: boolean; seccomp: 'default' | 'unconfined'; apparmor?: string } {
  let noNewPrivileges: boolean | undefined;
  let apparmor: string | undefined;
  let seccomp: 'default' | 'unconfined' = 'default';
  for (const opt of opts) {
    const m = /^([a-z-]+)(?:[=:](.*))?$/.exec(opt);
    const key = m?.[1];
    const value = m?.[2];
    if (key === 'no-new-privileges') {
      noNewPrivileges = value === undefined || value === 'true';
    } else if (key === 'seccomp') {
      if (value === 'unconfined') seccomp = 'unconfined';
      else if (value === 'default' || value === 'builtin') seccomp = 'default';
      else throw new InvalidParameterError('custom seccomp profiles are not supported yet: use seccomp=unconfined or the default');
    } else if (key === 'apparmor') {
      apparmor = value ?? '';
    } else if (key === 'label') {
      // No SELinux on berth hosts; accepted and ignored as dockerd does when SELinux is disabled.
    } else {
      throw new InvalidParameterError(`Invalid --security-opt: "${opt}"`);
    }
  }
  return { noNewPrivileges, seccomp, apparmor };
}

/**
 * The container's network namespace: the host's (`--network host`), one berth made before the
 * runtime (bridge networks, `container:` peers), or a fresh one crun makes (`none`, and
 * records from before networking existed).
 */
export function networkNamespace(rec: ContainerRecord): 'private' | 'host' | { path: string } {
  if (rec.host.networkMode === 'host') return 'host';
  const path = rec.network?.sandboxKey;
  return path ? { path } : 'private';
}
