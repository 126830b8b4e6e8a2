import { InvalidParameterError } from '../common/errors.js';
import { buildSpec, cgroupsPathFor, readHostDevices, type OciSpec } from '../runtime/spec.js';
import type { OciSeccomp } from '../runtime/oci-spec.js';
import { parseGroup, readFileInRoot, resolveUser } from '../runtime/user.js';
import { parseSeccompProfile, resolveSeccompProfile, type DockerSeccompProfile } from '../runtime/seccomp-profile.js';
import { stat } from 'node:fs/promises';
import type { SpecContext } from './collaborators.js';
import type { DeviceInput, NamespaceMode } from '../runtime/spec.js';
import { resolveAppArmorProfile, type AppArmorHost } from '../runtime/apparmor.js';
import type { ContainerRecord } from './types.js';
import { bindIdmapOption } from '../runtime/userns.js';
import { remappedRootOf } from './userns-policy.js';

/** Where the init binary (`--init`) is mounted inside containers, as Docker does. */
const INIT_PATH = '/sbin/docker-init';

export interface SpecFactoryOptions {
  /** Host path of the init binary for `--init` (catatonit). */
  initBinary?: string;
  /** Parent of every container's cgroup (cgroupfs path), so several daemons do not collide. */
  cgroupParent: string;
  /** daemon.json `seccomp-profile`: replaces berth's built-in profile for containers that ask for the default. */
  seccompProfile?: DockerSeccompProfile | 'unconfined';
  /** daemon.json `no-new-privileges` / `--no-new-privileges`: every container gets it unless it says `no-new-privileges=false`. */
  noNewPrivileges?: boolean;
  /** The host's AppArmor state; absent: AppArmor is treated as disabled. */
  appArmor?: AppArmorHost;
  /** The OCI runtime (crun, runc): `-v …:idmap` needs crun's `idmap` mount option. */
  runtime?: string;
}

/** Builds the OCI spec for a container whose rootfs is already mounted at `record.rootfs`. */
export function createSpecFactory(options: SpecFactoryOptions): (record: ContainerRecord, context?: SpecContext) => Promise<OciSpec> {
  return async (rec, context = {}) => {
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
        // runc 1.1 would pass `idmap=…` to mount(2) as data, which a bind mount ignores: refused, not dropped.
        if (m.idmap && options.runtime === 'runc') throw new InvalidParameterError(`the idmap bind option (${m.destination}) needs the crun runtime: runc 1.1 cannot make idmapped mounts`);
        mounts.push({ destination, type: 'bind', source: m.source, options: ['rbind', m.rw ? 'rw' : 'ro', m.propagation || 'rprivate', ...(m.idmap ? [await idmapOptionFor(m.source, rec)] : [])] });
      }
    }
    const env = [...(context.linkEnv ?? []).filter((e) => !rec.config.env.some((x) => x.split('=')[0] === e.split('=')[0])), ...rec.config.env];
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
      user: { uid: user.uid, gid: user.gid, additionalGids: await withGroupAdd(rec.rootfs, user.additionalGids, h.groupAdd) },
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
      seccomp: seccompFor(sec.seccomp, options.seccompProfile),
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
        memorySwappiness: h.memorySwappiness,
        memoryReservation: h.memoryReservation,
        oomKillDisable: h.oomKillDisable,
        cpusetMems: h.cpusetMems,
        blkioWeight: h.blkioWeight,
      },
      devices: h.privileged ? await readHostDevices() : await userDevices(h.devices ?? []),
      deviceCgroupRules: h.privileged ? undefined : h.deviceCgroupRules,
      shmSize: h.shmSize,
      sysctls: h.sysctls,
      oomScoreAdj: h.oomScoreAdj,
      ...(rec.userns ? { userns: rec.userns } : {}),
      namespaces: {
        network: networkNamespace(rec),
        pid: sharedNamespace(h.pidMode, context.pidPeer, 'pid'),
        ipc: sharedNamespace(h.ipcMode, context.ipcPeer, 'ipc'),
        uts: h.utsMode === 'host' ? 'host' : 'private',
        cgroup: h.cgroupnsMode === 'private' ? 'private' : 'host',
      },
    });
  };
}

/** `-v SRC:DST:idmap` (issue 21): the source's owner on the host is the container's root in that mount. */
async function idmapOptionFor(source: string, rec: ContainerRecord): Promise<string> {
  const st = await stat(source).catch(() => undefined);
  if (!st) throw new InvalidParameterError(`invalid mount config for type "bind": bind source path does not exist: ${source}`);
  return bindIdmapOption({ uid: st.uid, gid: st.gid }, rec.userns ? remappedRootOf(rec.userns) : { uid: 0, gid: 0 });
}

/** `--pid`/`--ipc`: the host's namespace, another container's (by its pid), or a new one. */
function sharedNamespace(mode: string | undefined, peerPid: number | undefined, kind: 'pid' | 'ipc'): NamespaceMode {
  if (mode === 'host') return 'host';
  if (mode?.startsWith('container:')) {
    if (!peerPid) throw new InvalidParameterError(`cannot join ${kind} namespace of a non running container: ${mode.slice('container:'.length)}`);
    return { path: `/proc/${peerPid}/ns/${kind}` };
  }
  return 'private';
}

/** `--group-add`: numeric ids as given, names looked up in the container's /etc/group. */
async function withGroupAdd(rootfs: string, gids: number[], add: string[] | undefined): Promise<number[]> {
  if (!add?.length) return gids;
  const out = [...gids];
  let groups: ReturnType<typeof parseGroup> | undefined;
  for (const g of add) {
    let gid: number;
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      groups ??= parseGroup((await readFileInRoot(rootfs, '/etc/group')) ?? '');
      const found = groups.find((x) => x.name === g);
      if (!found) throw new InvalidParameterError(`Unable to find group ${g}: no matching entries in group file`);
      gid = found.gid;
    }
    if (!out.includes(gid)) out.push(gid);
  }
  return out;
}

/** `--device /dev/x[:/dev/y[:rwm]]`: the host node's type and numbers, made at the container's path. */
async function userDevices(devices: NonNullable<ContainerRecord['host']['devices']>): Promise<DeviceInput[]> {
  const out: DeviceInput[] = [];
  for (const d of devices) {
    const st = await stat(d.pathOnHost).catch(() => undefined);
    if (!st) throw new InvalidParameterError(`error gathering device information while adding custom device "${d.pathOnHost}": no such file or directory`);
    if (!st.isCharacterDevice() && !st.isBlockDevice()) throw new InvalidParameterError(`error gathering device information while adding custom device "${d.pathOnHost}": not a device node`);
    const rdev = BigInt(st.rdev);
    out.push({
      path: d.pathInContainer,
      type: st.isCharacterDevice() ? 'c' : 'b',
      major: Number((rdev >> 8n) & 0xfffn),
      minor: Number((rdev & 0xffn) | ((rdev >> 12n) & 0xfff00n)),
      fileMode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      permissions: d.cgroupPermissions,
    });
  }
  return out;
}

/** Docker's `--security-opt` values that berth honours. */
export function parseSecurityOpts(opts: string[]): { noNewPrivileges?: boolean; seccomp: 'default' | 'unconfined' | DockerSeccompProfile; apparmor?: string } {
  let noNewPrivileges: boolean | undefined;
  let apparmor: string | undefined;
  let seccomp: 'default' | 'unconfined' | DockerSeccompProfile = 'default';
  for (const opt of opts) {
    const m = /^([a-z-]+)(?:[=:](.*))?$/s.exec(opt);
    const key = m?.[1];
    const value = m?.[2];
    if (key === 'no-new-privileges') {
      noNewPrivileges = value === undefined || value === 'true';
    } else if (key === 'seccomp') {
      if (value === 'unconfined') seccomp = 'unconfined';
      else if (value === 'default' || value === 'builtin') seccomp = 'default';
      // The docker CLI reads `seccomp=FILE` and sends the file's (compacted) JSON in its place.
      else if (value !== undefined && value.trimStart().startsWith('{')) seccomp = parseSeccompProfile(value);
      else throw new InvalidParameterError(`opening seccomp profile (${value ?? ''}) failed: the API expects the profile's JSON content (the docker and berth CLIs read the file and send it)`);
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

/** What buildSpec gets: the container's own choice, else the daemon's profile, else berth's built-in one. */
function seccompFor(
  choice: 'default' | 'unconfined' | DockerSeccompProfile,
  daemonProfile: DockerSeccompProfile | 'unconfined' | undefined,
): 'default' | 'unconfined' | ((caps: readonly string[]) => OciSeccomp) {
  const profile = choice === 'default' ? (daemonProfile ?? 'default') : choice;
  if (typeof profile === 'string') return profile;
  return (caps) => resolveSeccompProfile(profile, caps);
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
