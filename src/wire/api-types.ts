/**
 * Docker Engine API request and response types, PascalCase as on the wire: the one definition
 * both sides use (the client sends and reads them, the daemon's converters in api/convert/
 * emit them). Only the fields berth reads or writes are listed, and everything is optional
 * where a daemon may leave it out. Pure types: no code on either side.
 */
/** `{"message": ...}`: the body of every API error response. */
export interface ErrorResponse {
  message: string;
}

/** Body of `POST /containers/create` (ContainerConfig plus HostConfig and NetworkingConfig). */
export interface ContainerCreateBody {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, Record<string, never>>;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[];
  Cmd?: string[] | null;
  Image: string;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  Labels?: Record<string, string>;
  StopSignal?: string;
  StopTimeout?: number;
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number };
  HostConfig?: HostConfig;
  NetworkingConfig?: { EndpointsConfig?: Record<string, unknown> };
}

export interface RestartPolicy {
  Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure';
  MaximumRetryCount?: number;
}

export interface PortBinding {
  HostIp?: string;
  HostPort?: string;
}

export interface HostConfig {
  /** `[height, width]` of the tty at start (API 1.42+). */
  ConsoleSize?: [number, number];
  Binds?: string[];
  NetworkMode?: string;
  PortBindings?: Record<string, PortBinding[]>;
  PublishAllPorts?: boolean;
  RestartPolicy?: RestartPolicy;
  AutoRemove?: boolean;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  Dns?: string[];
  DnsOptions?: string[];
  DnsSearch?: string[];
  ExtraHosts?: string[] | null;
  Privileged?: boolean;
  ReadonlyRootfs?: boolean;
  SecurityOpt?: string[] | null;
  Tmpfs?: Record<string, string>;
  LogConfig?: { Type: string; Config?: Record<string, string> };
  Init?: boolean | null;
  Memory?: number;
  MemorySwap?: number;
  NanoCpus?: number;
  CpuShares?: number;
  CpusetCpus?: string;
  PidsLimit?: number;
  Ulimits?: { Name: string; Soft: number; Hard: number }[];
  // The rest of docker's HostConfig, as the docker CLI sends it (`berth run` flags, issue 15).
  Annotations?: Record<string, string>;
  BlkioWeight?: number;
  BlkioWeightDevice?: Array<{ Path: string; Weight: number }>;
  BlkioDeviceReadBps?: Array<{ Path: string; Rate: number }>;
  BlkioDeviceWriteBps?: Array<{ Path: string; Rate: number }>;
  BlkioDeviceReadIOps?: Array<{ Path: string; Rate: number }>;
  BlkioDeviceWriteIOps?: Array<{ Path: string; Rate: number }>;
  CgroupParent?: string;
  CgroupnsMode?: string;
  CpuCount?: number;
  CpuPercent?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpuRealtimePeriod?: number;
  CpuRealtimeRuntime?: number;
  CpusetMems?: string;
  DeviceCgroupRules?: string[];
  DeviceRequests?: Array<{ Driver: string; Count: number; DeviceIDs: string[] | null; Capabilities: string[][] | null; Options: Record<string, string> }>;
  Devices?: Array<{ PathOnHost: string; PathInContainer: string; CgroupPermissions: string }>;
  GroupAdd?: string[];
  IOMaximumBandwidth?: number;
  IOMaximumIOps?: number;
  IpcMode?: string;
  Isolation?: string;
  KernelMemory?: number;
  Links?: string[];
  MemoryReservation?: number;
  MemorySwappiness?: number;
  Mounts?: unknown[];
  OomKillDisable?: boolean;
  OomScoreAdj?: number;
  PidMode?: string;
  Runtime?: string;
  ShmSize?: number;
  StorageOpt?: Record<string, string>;
  Sysctls?: Record<string, string>;
  UTSMode?: string;
  UsernsMode?: string;
  VolumeDriver?: string;
  VolumesFrom?: string[];
}

/** Response of `POST /containers/create`. */
export interface ContainerCreateResponse {
  Id: string;
  Warnings?: string[] | null;
}

/** Response of `POST /containers/{id}/wait`. */
export interface ContainerWaitResponse {
  StatusCode: number;
  Error?: { Message?: string } | null;
}

export interface Port {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

/** One element of `GET /containers/json`. */
export interface ContainerSummary {
  Id: string;
  Names?: string[];
  Image?: string;
  ImageID?: string;
  Command?: string;
  Created?: number;
  Ports?: Port[];
  SizeRw?: number;
  SizeRootFs?: number;
  Labels?: Record<string, string> | null;
  State?: string;
  Status?: string;
  HostConfig?: { NetworkMode?: string };
  NetworkSettings?: { Networks?: Record<string, unknown> } | null;
  Mounts?: MountPoint[];
}

/** A mount as `GET /containers/json` and inspect show it. */
export interface MountPoint {
  Type?: string;
  Name?: string;
  Source?: string;
  Destination?: string;
  Driver?: string;
  Mode?: string;
  RW?: boolean;
  Propagation?: string;
}

/** `GET /containers/{id}/json`; the CLI reads a few fields and prints the rest as it came. */
export interface ContainerInspect {
  Id: string;
  Name?: string;
  Config?: { Tty?: boolean; OpenStdin?: boolean; Image?: string; [k: string]: unknown };
  HostConfig?: { AutoRemove?: boolean; [k: string]: unknown };
  State?: { Status?: string; Running?: boolean; ExitCode?: number; [k: string]: unknown };
  [k: string]: unknown;
}

/** One element of `GET /images/json`. */
export interface ImageSummary {
  Id: string;
  ParentId?: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Created?: number;
  Size?: number;
  SharedSize?: number;
  VirtualSize?: number;
  Labels?: Record<string, string> | null;
  Containers?: number;
}

/** `GET /images/{name}/json`. */
export interface ImageInspect {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Parent?: string;
  Comment?: string;
  Created?: string;
  DockerVersion?: string;
  Author?: string;
  Config?: Record<string, unknown> | null;
  Architecture?: string;
  Variant?: string;
  Os?: string;
  OsVersion?: string;
  Size?: number;
  VirtualSize?: number;
  GraphDriver?: { Name: string; Data: Record<string, string> | null };
  RootFS?: { Type: string; Layers?: string[] };
  Metadata?: { LastTagTime?: string };
  /** Dropped from API 1.45 (still sent to older clients). */
  Container?: string;
  ContainerConfig?: Record<string, unknown> | null;
}

/** One element of `GET /images/{name}/history`. */
export interface ImageHistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

/** One sample of `GET /containers/{id}/stats` (snake_case on the wire, as Docker's). */
export interface ContainerStats {
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  cpu_stats: Record<string, unknown>;
  precpu_stats: Record<string, unknown>;
  memory_stats: Record<string, unknown>;
  [k: string]: unknown;
}

/** One element of `DELETE /images/{name}`. */
export interface ImageDeleteResponseItem {
  Untagged?: string;
  Deleted?: string;
}

/** One line of a JSON progress stream (`POST /images/create`, push, build). */
export interface JsonMessage {
  id?: string;
  status?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  stream?: string;
  error?: string;
  errorDetail?: { code?: number; message?: string };
  aux?: unknown;
}

export interface ComponentVersion {
  Name: string;
  Version: string;
  Details?: Record<string, string> | null;
}

/** `GET /version`. */
export interface SystemVersion {
  Platform?: { Name: string };
  Components?: ComponentVersion[];
  Version?: string;
  ApiVersion?: string;
  MinAPIVersion?: string;
  GitCommit?: string;
  GoVersion?: string;
  Os?: string;
  Arch?: string;
  KernelVersion?: string;
  Experimental?: boolean;
  BuildTime?: string;
}

/** `GET /info` (the fields `berth info` prints). */
export interface SystemInfo {
  ID?: string;
  Containers?: number;
  ContainersRunning?: number;
  ContainersPaused?: number;
  ContainersStopped?: number;
  Images?: number;
  Driver?: string;
  DriverStatus?: Array<[string, string]> | null;
  LoggingDriver?: string;
  CgroupDriver?: string;
  CgroupVersion?: string;
  KernelVersion?: string;
  OperatingSystem?: string;
  OSVersion?: string;
  OSType?: string;
  Architecture?: string;
  NCPU?: number;
  MemTotal?: number;
  DockerRootDir?: string;
  Name?: string;
  ServerVersion?: string;
  Debug?: boolean;
  ExperimentalBuild?: boolean;
  LiveRestoreEnabled?: boolean;
  DefaultRuntime?: string;
  Runtimes?: Record<string, unknown>;
  SecurityOptions?: string[];
  Labels?: string[];
  Warnings?: string[] | null;
  [k: string]: unknown;
}
