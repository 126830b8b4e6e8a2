/**
 * The engine's own shapes for containers. They mirror the meaning of Docker's Config and
 * HostConfig, in berth's naming; api/convert/ is where they meet the wire shapes.
 */

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** A health check; durations in nanoseconds as Docker's API has them. */
export interface HealthCheck {
  /** `["CMD", …]`, `["CMD-SHELL", "…"]`, `["NONE"]`. */
  test?: string[];
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  retries?: number;
}

export interface HealthLogEntry {
  start: string;
  end: string;
  exitCode: number;
  output: string;
}

export interface HealthState {
  status: 'starting' | 'healthy' | 'unhealthy';
  failingStreak: number;
  log: HealthLogEntry[];
}

export interface RestartPolicy {
  name: 'no' | 'always' | 'on-failure' | 'unless-stopped' | '';
  maximumRetryCount: number;
}

export interface LogConfig {
  type: string;
  config: Record<string, string>;
}

/** What a client asks for when creating a container (Docker's Config + HostConfig, the part berth honours). */
export interface ContainerSpec {
  name?: string;
  image: string;
  /** A build's RUN container: removed at the daemon's next start if a crash left it. */
  buildStep?: boolean;
  cmd?: string[] | null;
  entrypoint?: string[] | null;
  env?: string[];
  workingDir?: string;
  user?: string;
  hostname?: string;
  domainname?: string;
  labels?: Record<string, string>;
  tty?: boolean;
  openStdin?: boolean;
  stdinOnce?: boolean;
  attachStdin?: boolean;
  attachStdout?: boolean;
  attachStderr?: boolean;
  stopSignal?: string;
  stopTimeout?: number;
  exposedPorts?: Record<string, object>;
  volumes?: Record<string, object>;
  healthcheck?: HealthCheck;
  /** NetworkingConfig.EndpointsConfig: per network, `--network-alias`, `--ip`, `--mac-address`. */
  networks?: Record<string, { aliases?: string[]; ipv4Address?: string; ipv6Address?: string; linkLocalIPs?: string[]; macAddress?: string; links?: string[]; driverOpts?: Record<string, string> }>;
  host: HostSpec;
  /** Where the monitor writes the log (the kubelet's LogPath for CRI containers); default `<dir>/container.log`. */
  logPath?: string;
  /** Owned by src/cri (issue 18): what a CRI pod or container asked for; the engine only stores it. */
  cri?: Record<string, unknown>;
}

export interface HostSpec {
  autoRemove?: boolean;
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  securityOpt?: string[];
  readonlyRootfs?: boolean;
  init?: boolean;
  networkMode?: string;
  restartPolicy?: RestartPolicy;
  logConfig?: LogConfig;
  extraHosts?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  binds?: string[];
  memory?: number;
  memorySwap?: number;
  cpuShares?: number;
  nanoCpus?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  cpusetCpus?: string;
  pidsLimit?: number;
  ulimits?: { name: string; soft: number; hard: number }[];
  shmSize?: number;
  /** HostConfig.CgroupnsMode: `host` or `private`; empty means the daemon's default (set at create). */
  cgroupnsMode?: string;
  /** HostConfig.ConsoleSize: the tty's rows and columns from the first instant (with `tty`). */
  consoleSize?: { height: number; width: number };
  /** `-p`: "80/tcp" → host bindings (hostPort '' = pick a free one). */
  portBindings?: Record<string, PortBindingRecord[]>;
  /** `-P`: publish every exposed port on a free host port. */
  publishAllPorts?: boolean;
  // Issue 15 (item 9): applied in the OCI spec (spec-factory.ts) and echoed by inspect.
  /** `--group-add`: group names (looked up in the image's /etc/group) or numeric ids. */
  groupAdd?: string[];
  /** `--pid`, `--ipc`, `--uts`: '' (private), 'host', 'container:<ref>' (pid, ipc), 'shareable'/'private'/'none' (ipc). */
  pidMode?: string;
  ipcMode?: string;
  utsMode?: string;
  /** `--device`: host device node → path in the container, cgroup permissions (`rwm`). */
  devices?: { pathOnHost: string; pathInContainer: string; cgroupPermissions: string }[];
  /** `--device-cgroup-rule`: `c 1:3 rwm`, `b *:* m`. */
  deviceCgroupRules?: string[];
  memorySwappiness?: number;
  memoryReservation?: number;
  oomKillDisable?: boolean;
  oomScoreAdj?: number;
  cpusetMems?: string;
  blkioWeight?: number;
  sysctls?: Record<string, string>;
  /** Legacy `--link name:alias` (default bridge): env vars and /etc/hosts entries at start. */
  links?: { name: string; alias: string }[];
  /** `--volume-driver`: only `local` (or none) can create volumes here. */
  volumeDriver?: string;
  /** HostConfig.UsernsMode: '' (the daemon's `--userns-remap`, if any) or 'host' (issue 21). */
  usernsMode?: string;
  /** Windows isolation: '' or 'default' on Linux. */
  isolation?: string;
}

export interface ContainerState {
  status: ContainerStatus;
  pid: number;
  monitorPid: number;
  exitCode: number;
  error: string;
  oomKilled: boolean;
  startedAt: string;
  finishedAt: string;
  health?: HealthState;
}

/** A container as the engine keeps it (persisted as JSON in the store). */
export interface ContainerRecord {
  id: string;
  name: string;
  created: string;
  /** The image reference as the user gave it, and the resolved image ID. */
  image: string;
  imageId: string;
  /** Layer references taken for this container (given back on remove). */
  layers: string[];
  /** The effective command: entrypoint + cmd, split as Docker's Path/Args. */
  path: string;
  args: string[];
  /** The effective configuration after merging the image's defaults. */
  config: Omit<ContainerSpec, 'host' | 'name'> & { env: string[]; cmd: string[] | null; entrypoint: string[] | null; labels: Record<string, string> };
  host: HostSpec;
  state: ContainerState;
  restartCount: number;
  /** Set when the user stopped it (unless-stopped policy and restart decisions). */
  manuallyStopped?: boolean;
  /** A build's RUN container (ContainerSpec.buildStep). */
  buildStep?: boolean;
  dir: string;
  logPath: string;
  hostnamePath: string;
  hostsPath: string;
  resolvConfPath: string;
  rootfs: string;
  driver: string;
  /** Networking state (absent on records made before networking existed: treated as `none`). */
  network?: ContainerNetworkRecord;
  /** Owned by src/cri (issue 18): set on pod sandboxes and pod containers; the spec factory reads it. */
  cri?: Record<string, unknown>;
  /** The user namespace mappings of a remapped container (issue 21), fixed at create; absent: the host's ids. */
  userns?: { uidMappings: IdMappingRecord[]; gidMappings: IdMappingRecord[] };
}

/** One OCI uid/gid mapping line (container id, host id, size). */
export interface IdMappingRecord {
  containerID: number;
  hostID: number;
  size: number;
}

// ---- networking (issue 6) ----

import type { NetEndpoint } from '../network/types.js';
/** A container's membership of one network: the network module's shape (engine may import network, not the reverse). */
export type EndpointRecord = NetEndpoint;

/** One published port as NetworkSettings.Ports shows it: "80/tcp" → [{hostIp, hostPort}]. */
export interface PortBindingRecord {
  hostIp: string;
  hostPort: string;
}

/** What the network layer keeps on a container record. */
export interface ContainerNetworkRecord {
  /** Path of the network namespace (bind-mounted nsfs file), or '' for host / none-without-file. */
  sandboxKey: string;
  /** Networks joined, keyed by network name. */
  endpoints: Record<string, EndpointRecord>;
  /** Effective published ports while running ("80/tcp" → bindings; null when exposed only). */
  ports: Record<string, PortBindingRecord[] | null>;
}

// ---- volumes and mounts (issue 7) ----

import type { MountRequest, MountType } from '../volume/mount-spec.js';
export type { MountRequest, MountType };

// Declaration merging: the mount fields of HostSpec and ContainerRecord, kept in one place.
export interface HostSpec {
  /** `HostConfig.Mounts` (`--mount`), parsed. */
  mounts?: MountRequest[];
  /** `HostConfig.Tmpfs` (`--tmpfs`): target → options. */
  tmpfs?: Record<string, string>;
  /** `HostConfig.VolumesFrom`: `container[:ro|rw]`. */
  volumesFrom?: string[];
}

/** A mount as resolved at create, as inspect's `Mounts` shows it. */
export interface MountRecord {
  type: MountType;
  /** Volume name (volumes only). */
  name?: string;
  /** Host path: the bind source or the volume's mountpoint; '' for tmpfs. */
  source: string;
  destination: string;
  rw: boolean;
  mode: string;
  propagation: string;
  driver?: string;
  /** Created for this container (`-v /p`, image VOLUME): removed with `rm -v` and `--rm`. */
  anonymous?: boolean;
  /** Copy the image's content at the destination into the volume at the first start (a new empty volume). */
  copyUp?: boolean;
  tmpfsOptions?: string[];
  /** A directory inside the volume mounted instead of its root (VolumeOptions.Subpath). */
  subpath?: string;
  /** `-v SRC:DST:idmap` (issue 21): the bind source's owner is container root in this mount. */
  idmap?: boolean;
  /** The destination resolved inside the rootfs (symlinks re-rooted), written at start. */
  resolvedDestination?: string;
}

export interface ContainerRecord {
  mounts?: MountRecord[];
}
