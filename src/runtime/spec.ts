import { readdir, lstat } from 'node:fs/promises';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidParameterError } from '../common/errors.js';
import { DEFAULT_CAPABILITIES, hostLimits, normalizeCapability, type HostLimits } from './capabilities.js';
import { defaultSeccompProfile } from './seccomp.js';
import type {
  OciDevice,
  OciDeviceCgroup,
  OciIdMapping,
  OciMount,
  OciNamespace,
  OciResources,
  OciRlimit,
  OciSeccomp,
  OciSpec,
} from './oci-spec.js';

export type { OciSpec } from './oci-spec.js';

/** How a container gets a namespace: a fresh one, the host's, or one that exists at a path. */
export type NamespaceMode = 'private' | 'host' | { path: string };

export interface ResourcesInput {
  /** Bytes; 0/undefined: unlimited. */
  memory?: number;
  /** Docker's --memory-swap: memory plus swap in bytes; -1 unlimited swap. */
  memorySwap?: number;
  memoryReservation?: number;
  memorySwappiness?: number;
  oomKillDisable?: boolean;
  /** Relative CPU weight (Docker --cpu-shares). */
  cpuShares?: number;
  /** CFS quota and period in microseconds (Docker --cpu-quota/--cpu-period; --cpus=N is quota N*period). */
  cpuQuota?: number;
  cpuPeriod?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  /** Maximum number of processes; <= 0 or undefined: unlimited. */
  pidsLimit?: number;
  blkioWeight?: number;
}

export interface DeviceInput {
  /** Path inside the container. */
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
  /** Cgroup permissions, e.g. 'rwm' (default). */
  permissions?: string;
}

export interface SpecInput {
  /** The command and its arguments (entrypoint + cmd, already combined). */
  args: string[];
  env?: string[];
  /** Working directory inside the container; default '/'. */
  cwd?: string;
  /** Resolved user (see user.ts); default root. */
  user?: { uid: number; gid: number; additionalGids?: number[]; umask?: number };
  hostname?: string;
  domainname?: string;
  terminal?: boolean;
  /** Initial size of the terminal (with `terminal`). */
  consoleSize?: { height: number; width: number };
  /** Absolute path of the (already mounted) root filesystem. */
  rootfs: string;
  readonlyRootfs?: boolean;
  /** Namespace choices; every one defaults to 'private', except cgroup which defaults to 'host' (Docker on cgroup v1). */
  namespaces?: {
    network?: NamespaceMode;
    pid?: NamespaceMode;
    ipc?: NamespaceMode;
    uts?: 'private' | 'host';
    cgroup?: 'private' | 'host';
  };
  /** Extra mounts (bind mounts of /etc/hosts etc., volumes, tmpfs), in OCI form. A destination equal to a standard mount's replaces it. */
  mounts?: OciMount[];
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  noNewPrivileges?: boolean;
  /** AppArmor profile to run the process under (only where AppArmor is enabled: the caller checks). */
  apparmorProfile?: string;
  /**
   * 'default' (berth's profile), 'unconfined', a full profile, or a function of the container's
   * capabilities (a Docker-format profile, see seccomp-profile.ts). Privileged containers are
   * unconfined unless a full profile is given; a function is not applied to them (as dockerd).
   */
  seccomp?: 'default' | 'unconfined' | OciSeccomp | ((caps: readonly string[]) => OciSeccomp);
  /** --ulimit values, e.g. { type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 } (or type 'nofile'). Clamped to the daemon's own hard limits for nofile. */
  rlimits?: OciRlimit[];
  /** linux.cgroupsPath; see cgroupsPathFor(). */
  cgroupsPath: string;
  resources?: ResourcesInput;
  /** --device entries; for privileged containers pass readHostDevices() to get Docker's behaviour. */
  devices?: DeviceInput[];
  /** `--device-cgroup-rule` values (`c 1:3 rwm`, `a *:* m`), added to the device cgroup's allow list. */
  deviceCgroupRules?: string[];
  /** /dev/shm size in bytes; default 64 MiB. */
  shmSize?: number;
  sysctls?: Record<string, string>;
  oomScoreAdj?: number;
  annotations?: Record<string, string>;
  /** Paths of the CPUs' thermal_throttle directories to mask; defaults to thermalThrottlePaths(). */
  thermalThrottlePaths?: string[];
  /** What the daemon holds; defaults to hostLimits() (read from /proc/self). Tests pass their own. */
  host?: HostLimits;
  /** A user namespace with these mappings (`--userns-remap`, issue 21; see userns.ts); absent: the host's. */
  userns?: { uidMappings: OciIdMapping[]; gidMappings: OciIdMapping[] };
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The cgroupfs path convention: `/berth/<id>` under each controller's hierarchy. */
export function cgroupsPathFor(id: string, parent = '/berth'): string {
  return `${parent}/${id}`;
}

export const MASKED_PATHS: readonly string[] = [
  '/proc/asound',
  '/proc/acpi',
  // GHSA-6fw5-f8r9-fgfm: interrupt counts leak host activity (a side channel), as Docker masks.
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/**
 * Docker also masks each CPU's `thermal_throttle` directory (GHSA-6fw5-f8r9-fgfm: the
 * throttle counters are a side channel, and on some kernels writable). Only paths that exist
 * can be masked (a masked path that is missing fails the runtime), so they are listed from
 * the host's sysfs; `sysRoot` is for tests.
 */
export function thermalThrottlePaths(sysRoot = '/sys'): string[] {
  const dir = join(sysRoot, 'devices/system/cpu');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^cpu\d+$/.test(n) && existsSync(join(dir, n, 'thermal_throttle')))
    .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)))
    .map((n) => `/sys/devices/system/cpu/${n}/thermal_throttle`);
}

export const READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

const DEFAULT_DEVICES: readonly OciDevice[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

/** Device cgroup rules: deny everything, then allow the default nodes, ptys, /dev/net/tun, and mknod of anything. */
const DEFAULT_DEVICE_RULES: readonly OciDeviceCgroup[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
];

function standardMounts(shmSize: number, privileged: boolean): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/sys',
      type: 'sysfs',
      source: 'sysfs',
      options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'],
    },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', privileged ? 'rw' : 'ro'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`],
    },
  ];
}

function depth(p: string): number {
  return p.split('/').filter(Boolean).length;
}

/** The effective capability set, Docker's rules: drop ALL starts empty, add ALL starts full; never more than the daemon holds. */
export function resolveCapabilities(input: Pick<SpecInput, 'capAdd' | 'capDrop' | 'privileged'>, host: HostLimits): string[] {
  const hostCaps = new Set(host.capabilities);
  if (input.privileged) return [...host.capabilities];
  const add = (input.capAdd ?? []).map(normalizeCapability);
  const drop = (input.capDrop ?? []).map(normalizeCapability);
  let caps: Set<string>;
  if (add.includes('ALL')) {
    caps = new Set(hostCaps);
    if (!drop.includes('ALL')) for (const c of drop) caps.delete(c);
    else caps = new Set();
    return [...caps].filter((c) => hostCaps.has(c));
  }
  caps = drop.includes('ALL') ? new Set() : new Set(DEFAULT_CAPABILITIES);
  for (const c of drop) caps.delete(c);
  for (const c of add) caps.add(c);
  return [...caps].filter((c) => hostCaps.has(c));
}

function namespaces(input: SpecInput): OciNamespace[] {
  const ns = input.namespaces ?? {};
  const out: OciNamespace[] = [{ type: 'mount' }];
  const add = (type: OciNamespace['type'], mode: NamespaceMode | undefined, dflt: 'private' | 'host' = 'private') => {
    const m = mode ?? dflt;
    if (m === 'host') return;
    out.push(m === 'private' ? { type } : { type, path: m.path });
  };
  add('pid', ns.pid);
  add('ipc', ns.ipc);
  add('uts', ns.uts);
  add('network', ns.network);
  add('cgroup', ns.cgroup, 'host');
  return out;
}

const RLIMIT_NAMES = new Set([
  'RLIMIT_AS', 'RLIMIT_CORE', 'RLIMIT_CPU', 'RLIMIT_DATA', 'RLIMIT_FSIZE', 'RLIMIT_LOCKS', 'RLIMIT_MEMLOCK',
  'RLIMIT_MSGQUEUE', 'RLIMIT_NICE', 'RLIMIT_NOFILE', 'RLIMIT_NPROC', 'RLIMIT_RSS', 'RLIMIT_RTPRIO',
  'RLIMIT_RTTIME', 'RLIMIT_SIGPENDING', 'RLIMIT_STACK',
]);

function rlimits(input: SpecInput, host: HostLimits): OciRlimit[] {
  const byType = new Map<string, OciRlimit>();
  const nofile = Math.min(1048576, host.nofileHard);
  byType.set('RLIMIT_NOFILE', { type: 'RLIMIT_NOFILE', soft: nofile, hard: nofile });
  for (const r of input.rlimits ?? []) {
    const type = r.type.toUpperCase().startsWith('RLIMIT_') ? r.type.toUpperCase() : `RLIMIT_${r.type.toUpperCase()}`;
    if (!RLIMIT_NAMES.has(type)) throw new InvalidParameterError(`invalid ulimit type: ${r.type}`);
    if (r.soft > r.hard) throw new InvalidParameterError(`ulimit soft limit must be less than hard limit: ${r.soft} > ${r.hard}`);
    let { soft, hard } = r;
    if (type === 'RLIMIT_NOFILE' && !host.capabilities.includes('CAP_SYS_RESOURCE')) {
      hard = Math.min(hard, host.nofileHard);
      soft = Math.min(soft, hard);
    }
    byType.set(type, { type, soft, hard });
  }
  return [...byType.values()];
}

function resources(input: SpecInput, privileged: boolean): OciResources {
  const r = input.resources ?? {};
  const devices: OciDeviceCgroup[] = privileged ? [{ allow: true, access: 'rwm' }] : [...DEFAULT_DEVICE_RULES];
  if (!privileged) {
    for (const d of input.devices ?? []) {
      devices.push({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.permissions ?? 'rwm' });
    }
    for (const rule of input.deviceCgroupRules ?? []) {
      const m = /^([acb]) (\d+|\*):(\d+|\*) ([rwm]{1,3})$/.exec(rule);
      if (!m) throw new InvalidParameterError(`invalid device cgroup format '${rule}'`);
      devices.push({
        allow: true,
        type: m[1] as 'a' | 'c' | 'b',
        ...(m[2] === '*' ? {} : { major: Number(m[2]) }),
        ...(m[3] === '*' ? {} : { minor: Number(m[3]) }),
        access: m[4]!,
      });
    }
  }
  const out: OciResources = { devices };
  if (r.memory || r.memorySwap || r.memoryReservation || r.memorySwappiness !== undefined || r.oomKillDisable) {
    out.memory = {};
    if (r.memory) out.memory.limit = r.memory;
    if (r.memoryReservation) out.memory.reservation = r.memoryReservation;
    if (r.memorySwap) out.memory.swap = r.memorySwap;
    else if (r.memory) out.memory.swap = r.memory * 2; // Docker: swap defaults to twice the memory limit
    if (r.memorySwappiness !== undefined && r.memorySwappiness >= 0) out.memory.swappiness = r.memorySwappiness;
    if (r.oomKillDisable) out.memory.disableOOMKiller = true;
  }
  if (r.cpuShares || r.cpuQuota || r.cpuPeriod || r.cpusetCpus || r.cpusetMems) {
    out.cpu = {};
    if (r.cpuShares) out.cpu.shares = r.cpuShares;
    if (r.cpuQuota) out.cpu.quota = r.cpuQuota;
    if (r.cpuPeriod) out.cpu.period = r.cpuPeriod;
    if (r.cpusetCpus) out.cpu.cpus = r.cpusetCpus;
    if (r.cpusetMems) out.cpu.mems = r.cpusetMems;
  }
  if (r.pidsLimit && r.pidsLimit > 0) out.pids = { limit: r.pidsLimit };
  if (r.blkioWeight) out.blockIO = { weight: r.blkioWeight };
  return out;
}

function environment(input: SpecInput): string[] {
  const env = [...(input.env ?? [])];
  const has = (k: string) => env.some((e) => e === k || e.startsWith(`${k}=`));
  const extra: string[] = [];
  if (!has('PATH')) extra.push(`PATH=${DEFAULT_PATH}`);
  if (input.hostname && !has('HOSTNAME')) extra.push(`HOSTNAME=${input.hostname}`);
  if (input.terminal && !has('TERM')) extra.push('TERM=xterm');
  return [...extra, ...env];
}

/**
 * Builds the OCI runtime spec (config.json) for one container, the way Docker's daemon does:
 * fresh namespaces, the standard /proc, /dev, /sys mounts, Docker's masked and read-only
 * paths, its default capabilities and device rules, a default seccomp profile. Pure apart
 * from reading the daemon's own limits once (pass `host` to avoid even that).
 */
export function buildSpec(input: SpecInput): OciSpec {
  if (input.args.length === 0) throw new InvalidParameterError('no command specified');
  const host = input.host ?? hostLimits();
  const privileged = input.privileged ?? false;
  const caps = resolveCapabilities(input, host);
  const ns = input.namespaces ?? {};
  const utsPrivate = (ns.uts ?? 'private') === 'private';

  const extra = [...(input.mounts ?? [])].sort((a, b) => depth(a.destination) - depth(b.destination));
  const extraDest = new Set(extra.map((m) => m.destination));
  const mounts = [
    // 0 (what the docker CLI sends, and what containers created before issue 24 kept) means the default, never "no limit".
    ...standardMounts(input.shmSize || 64 * 1024 * 1024, privileged).filter((m) => !extraDest.has(m.destination)),
    ...extra,
  ];
  // With the host's IPC namespace, the container cannot mount its own mqueue; share the host's /dev/mqueue instead.
  // (A host without /dev/mqueue mounted keeps the container's own mqueue mount: in the host's
  // IPC namespace it shows the host's queues all the same.)
  if (ns.ipc === 'host' && (input.host ? true : existsSync('/dev/mqueue/'))) {
    const i = mounts.findIndex((m) => m.destination === '/dev/mqueue' && m.type === 'mqueue');
    if (i >= 0) mounts[i] = { destination: '/dev/mqueue', type: 'bind', source: '/dev/mqueue', options: ['rbind', 'nosuid', 'noexec', 'nodev'] };
  }

  let seccomp: OciSeccomp | undefined;
  const sc = input.seccomp ?? 'default';
  if (typeof sc === 'object') seccomp = sc;
  else if (typeof sc === 'function') seccomp = privileged ? undefined : sc(caps);
  else if (sc === 'default' && !privileged) seccomp = defaultSeccompProfile(caps);

  const devices: OciDevice[] = [...DEFAULT_DEVICES];
  for (const d of input.devices ?? []) {
    const dev: OciDevice = { path: d.path, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode ?? 0o660, uid: d.uid ?? 0, gid: d.gid ?? 0 };
    const i = devices.findIndex((x) => x.path === d.path);
    if (i >= 0) devices[i] = dev;
    else devices.push(dev);
  }

  const spec: OciSpec = {
    ociVersion: '1.0.2',
    process: {
      terminal: input.terminal ?? false,
      ...(input.terminal && input.consoleSize ? { consoleSize: input.consoleSize } : {}),
      user: {
        uid: input.user?.uid ?? 0,
        gid: input.user?.gid ?? 0,
        ...(input.user?.additionalGids?.length ? { additionalGids: input.user.additionalGids } : {}),
        ...(input.user?.umask !== undefined ? { umask: input.user.umask } : {}),
      },
      args: input.args,
      env: environment(input),
      cwd: input.cwd || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: rlimits(input, host),
      noNewPrivileges: input.noNewPrivileges ?? false,
      ...(input.apparmorProfile ? { apparmorProfile: input.apparmorProfile } : {}),
      oomScoreAdj: input.oomScoreAdj ?? 0,
    },
    root: { path: input.rootfs, readonly: input.readonlyRootfs ?? false },
    mounts,
    linux: {
      namespaces: namespaces(input),
      cgroupsPath: input.cgroupsPath,
      resources: resources(input, privileged),
      devices,
      maskedPaths: privileged ? [] : [...MASKED_PATHS, ...(input.thermalThrottlePaths ?? thermalThrottlePaths())],
      readonlyPaths: privileged ? [] : [...READONLY_PATHS],
    },
  };
  if (utsPrivate && input.hostname) spec.hostname = input.hostname;
  if (utsPrivate && input.domainname) spec.domainname = input.domainname;
  if (seccomp) spec.linux!.seccomp = seccomp;
  if (input.sysctls && Object.keys(input.sysctls).length) spec.linux!.sysctl = { ...input.sysctls };
  if (input.annotations) spec.annotations = { ...input.annotations };
  if (input.userns) {
    // sysfs can be mounted only by the user namespace that owns the network namespace: one berth
    // made beforehand (or the host's) is the host's, so /sys is bound from the host instead
    // (what crun falls back to by itself; runc fails with EPERM otherwise).
    if ((ns.network ?? 'private') !== 'private') {
      const i = spec.mounts!.findIndex((m) => m.destination === '/sys' && m.type === 'sysfs');
      if (i >= 0) spec.mounts![i] = { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };
    }
    spec.linux!.namespaces!.push({ type: 'user' });
    spec.linux!.uidMappings = input.userns.uidMappings.map((m) => ({ ...m }));
    spec.linux!.gidMappings = input.userns.gidMappings.map((m) => ({ ...m }));
  }
  return spec;
}

/**
 * The host's device nodes under /dev (what Docker gives a privileged container), to pass as
 * SpecInput.devices. Skips pseudo-terminals and the console, which the runtime provides.
 */
export async function readHostDevices(root = '/dev'): Promise<DeviceInput[]> {
  const out: DeviceInput[] = [];
  const walk = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(dir, name);
      if (['/dev/pts', '/dev/shm', '/dev/mqueue', '/dev/console', '/dev/ptmx', '/dev/tty'].includes(p)) continue;
      let st;
      try {
        st = await lstat(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) await walk(p);
      else if (st.isCharacterDevice() || st.isBlockDevice()) {
        const rdev = st.rdev;
        const major = Number((BigInt(rdev) >> 8n) & 0xfffn);
        const minor = Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & 0xfff00n));
        out.push({
          path: p,
          type: st.isCharacterDevice() ? 'c' : 'b',
          major,
          minor,
          fileMode: st.mode & 0o7777,
          uid: st.uid,
          gid: st.gid,
        });
      }
    }
  };
  await walk(root);
  return out;
}
