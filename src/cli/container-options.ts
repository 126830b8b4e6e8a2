import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { FlagSet } from './flags.js';
import type { ContainerCreateBody, HostConfig, RestartPolicy } from '../wire/api-types.js';
import { collect, parseIntFlag } from './command.js';
import { StatusError } from './errors.js';
import { parseMountFlag } from './mount-flag.js';
import { envFromFiles, linesFromFiles } from './env-file.js';

export { envFromFiles, parseEnvFile } from './env-file.js';
import {
  bytesFlag,
  checkNamespaceModes,
  deviceCgroupRule,
  DISABLE_CONTENT_TRUST,
  gpuRequest,
  int64Flag,
  linkEntry,
  mapEntry,
  parseDevice,
  parseLabelFile,
  parseStorageOpts,
  sysctlEntry,
  throttleBpsDevice,
  throttleIopsDevice,
  uint16Flag,
  uint64Flag,
  validatedList,
  weightDevice,
  type DeviceMapping,
  type DeviceRequest,
} from './resource-flags.js';

/** Flags shared by `run` and `create`, named and described as docker's. */
export function addContainerFlags(cmd: FlagSet): void {
  cmd
    .option('--add-host <list>', 'Add a custom host-to-IP mapping (host:ip)', collect)
    .option('-a, --attach <list>', 'Attach to STDIN, STDOUT or STDERR', collect)
    .option('--cap-add <list>', 'Add Linux capabilities', collect)
    .option('--cap-drop <list>', 'Drop Linux capabilities', collect)
    .option('--cidfile <string>', 'Write the container ID to the file')
    .option('--dns <list>', 'Set custom DNS servers', collect)
    .option('--dns-option <list>', 'Set DNS options', collect)
    .option('--dns-search <list>', 'Set custom DNS search domains', collect)
    .option('--ip <string>', 'IPv4 address (e.g., 172.30.100.104)')
    .option('--mac-address <string>', 'Container MAC address (e.g., 92:d0:c6:0a:29:33)')
    .option('--network-alias <list>', 'Add network-scoped alias for the container', collect)
    .option('--entrypoint <string>', 'Overwrite the default ENTRYPOINT of the image')
    .option('-e, --env <list>', 'Set environment variables', collect)
    .option('--env-file <list>', 'Read in a file of environment variables', collect)
    .option('--expose <list>', 'Expose a port or a range of ports', collect)
    .option('-h, --hostname <string>', 'Container host name')
    .option('--init', 'Run an init inside the container that forwards signals and reaps processes')
    .option('-i, --interactive', 'Keep STDIN open even if not attached')
    .option('-l, --label <list>', 'Set meta data on a container', collect)
    .option('--log-driver <string>', 'Logging driver for the container')
    .option('--log-opt <list>', 'Log driver options', collect)
    .option('--name <string>', 'Assign a name to the container')
    .option('--network <network>', 'Connect a container to a network')
    .option('--privileged', 'Give extended privileges to this container')
    .option('-p, --publish <list>', "Publish a container's port(s) to the host", collect)
    .option('-P, --publish-all', 'Publish all exposed ports to random ports')
    .option('--pull <string>', 'Pull image before running ("always", "missing", "never")', 'missing')
    .option('--disable-content-trust', 'Skip image verification (default true)')
    .option('-q, --quiet', 'Suppress the pull output')
    .option('--read-only', "Mount the container's root filesystem as read only")
    .option('--restart <string>', 'Restart policy to apply when a container exits', 'no')
    .option('--rm', 'Automatically remove the container and its associated anonymous volumes when it exits')
    .option('--security-opt <list>', 'Security Options', collect)
    .option('--stop-signal <string>', 'Signal to stop the container')
    .option('--stop-timeout <int>', 'Timeout (in seconds) to stop a container', parseIntFlag)
    .option('--tmpfs <list>', 'Mount a tmpfs directory', collect)
    .option('--mount <mount>', 'Attach a filesystem mount to the container', collect)
    .option('--volumes-from <list>', 'Mount volumes from the specified container(s)', collect)
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('-u, --user <string>', 'Username or UID (format: <name|uid>[:<group|gid>])')
    .option('-v, --volume <list>', 'Bind mount a volume', collect)
    .option('-w, --workdir <string>', 'Working directory inside the container')
    .option('-m, --memory <bytes>', 'Memory limit')
    .option('--memory-swap <bytes>', "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    .option('--cpus <decimal>', 'Number of CPUs')
    .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)', parseIntFlag)
    .option('--cpuset-cpus <string>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--pids-limit <int>', 'Tune container pids limit (set -1 for unlimited)', parseIntFlag)
    .option('--ulimit <list>', 'Ulimit options', collect)
    .option('--health-cmd <string>', 'Command to run to check health')
    .option('--health-interval <duration>', 'Time between running the check (ms|s|m|h) (default 0s)')
    .option('--health-retries <int>', 'Consecutive failures needed to report unhealthy', parseIntFlag)
    .option('--health-start-period <duration>', 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)')
    .option('--health-timeout <duration>', 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)')
    .option('--no-healthcheck', 'Disable any container-specified HEALTHCHECK')
    .option('--health-start-interval <duration>', 'Time between running the check during the start period (ms|s|m|h) (default 0s)')
    // Namespaces, runtime, isolation.
    .option('--annotation <map>', 'Add an annotation to the container (passed through to the OCI runtime)', mapEntry)
    .option('--cgroup-parent <string>', 'Optional parent cgroup for the container')
    .option('--cgroupns <string>', "Cgroup namespace to use (host|private): 'host' the host's, 'private' its own, '' as the daemon's default-cgroupns-mode (default)")
    .option('--ipc <string>', 'IPC mode to use')
    .option('--isolation <string>', 'Container isolation technology')
    .option('--pid <string>', 'PID namespace to use')
    .option('--runtime <string>', 'Runtime to use for this container')
    .option('--userns <string>', 'User namespace to use')
    .option('--uts <string>', 'UTS namespace to use')
    .option('--platform <string>', 'Set platform if server is multi-platform capable')
    .option(`${DISABLE_CONTENT_TRUST[0]}`, DISABLE_CONTENT_TRUST[1])
    .option('--use-api-socket', 'Bind mount Docker API socket and required auth')
    // Identity and metadata.
    .option('--domainname <string>', 'Container NIS domain name')
    .option('--group-add <list>', 'Add additional groups to join', collect)
    .option('--label-file <list>', 'Read in a line delimited file of labels', collect)
    .option('--storage-opt <list>', 'Storage driver options for the container', collect)
    .option('--sysctl <map>', 'Sysctl options', sysctlEntry)
    .option('--volume-driver <string>', 'Optional volume driver for the container')
    .option('--shm-size <bytes>', 'Size of /dev/shm', bytesFlag)
    // Networking.
    .option('--ip6 <string>', 'IPv6 address (e.g., 2001:db8::33)')
    .option('--link <list>', 'Add link to another container', validatedList(linkEntry))
    .option('--link-local-ip <list>', 'Container IPv4/IPv6 link-local addresses', collect)
    // Devices.
    .option('--device <list>', 'Add a host device to the container', collect)
    .option('--device-cgroup-rule <list>', 'Add a rule to the cgroup allowed devices list', validatedList(deviceCgroupRule))
    .option('--gpus <gpu-request>', "GPU devices to add to the container ('all' to pass all GPUs)", gpuRequest)
    // Resources.
    .option('--blkio-weight <uint16>', 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)', uint16Flag)
    .option('--blkio-weight-device <list>', 'Block IO weight (relative device weight)', validatedList(weightDevice))
    .option('--cpu-count <int>', 'CPU count (Windows only)', int64Flag)
    .option('--cpu-percent <int>', 'CPU percent (Windows only)', int64Flag)
    .option('--cpu-period <int>', 'Limit CPU CFS (Completely Fair Scheduler) period', int64Flag)
    .option('--cpu-quota <int>', 'Limit CPU CFS (Completely Fair Scheduler) quota', int64Flag)
    .option('--cpu-rt-period <int>', 'Limit CPU real-time period in microseconds', int64Flag)
    .option('--cpu-rt-runtime <int>', 'Limit CPU real-time runtime in microseconds', int64Flag)
    .option('--cpuset-mems <string>', 'MEMs in which to allow execution (0-3, 0,1)')
    .option('--device-read-bps <list>', 'Limit read rate (bytes per second) from a device', validatedList(throttleBpsDevice))
    .option('--device-read-iops <list>', 'Limit read rate (IO per second) from a device', validatedList(throttleIopsDevice))
    .option('--device-write-bps <list>', 'Limit write rate (bytes per second) to a device', validatedList(throttleBpsDevice))
    .option('--device-write-iops <list>', 'Limit write rate (IO per second) to a device', validatedList(throttleIopsDevice))
    .option('--io-maxbandwidth <bytes>', 'Maximum IO bandwidth limit for the system drive (Windows only)', bytesFlag)
    .option('--io-maxiops <uint>', 'Maximum IOps limit for the system drive (Windows only)', uint64Flag)
    .option('--kernel-memory <bytes>', 'Kernel memory limit', bytesFlag)
    .option('--memory-reservation <bytes>', 'Memory soft limit', bytesFlag)
    .option('--memory-swappiness <int>', 'Tune container memory swappiness (0 to 100)', int64Flag, -1)
    .option('--oom-kill-disable', 'Disable OOM Killer')
    .option('--oom-score-adj <int>', "Tune host's OOM preferences (-1000 to 1000)", int64Flag)
    // docker's hidden spellings.
    .alias('--net', '--network')
    .alias('--net-alias', '--network-alias')
    .alias('--dns-opt', '--dns-option');
}

/** A Go duration (`1m30s`, `500ms`, `2h`) in nanoseconds, as docker's flags take them. */
export function parseDuration(v: string, flag: string): number {
  if (v === '0') return 0;
  const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(v)) throw new StatusError(125, `invalid argument "${v}" for "${flag}" flag: time: invalid duration "${v}"`);
  let ns = 0;
  for (const [, n, , u] of v.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ns += Number(n) * units[u!]!;
  return Math.round(ns);
}

/** The parsed flags `addContainerFlags` declares. */
export interface ContainerFlags {
  /** DOCKER_CONTENT_TRUST off for this command (content-trust.ts). */
  disableContentTrust?: boolean;
  addHost?: string[];
  attach?: string[];
  capAdd?: string[];
  capDrop?: string[];
  cidfile?: string;
  dns?: string[];
  dnsOption?: string[];
  dnsSearch?: string[];
  ip?: string;
  macAddress?: string;
  networkAlias?: string[];
  entrypoint?: string;
  env?: string[];
  envFile?: string[];
  expose?: string[];
  hostname?: string;
  init?: boolean;
  interactive?: boolean;
  label?: string[];
  logDriver?: string;
  logOpt?: string[];
  name?: string;
  network?: string;
  privileged?: boolean;
  publish?: string[];
  publishAll?: boolean;
  pull: string;
  quiet?: boolean;
  readOnly?: boolean;
  restart: string;
  rm?: boolean;
  securityOpt?: string[];
  stopSignal?: string;
  stopTimeout?: number;
  tmpfs?: string[];
  mount?: string[];
  volumesFrom?: string[];
  tty?: boolean;
  user?: string;
  volume?: string[];
  workdir?: string;
  detach?: boolean;
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpuShares?: number;
  cpusetCpus?: string;
  pidsLimit?: number;
  ulimit?: string[];
  healthCmd?: string;
  healthInterval?: string;
  healthRetries?: number;
  healthStartPeriod?: string;
  healthTimeout?: string;
  healthcheck?: boolean;
  noHealthcheck?: boolean;
  healthStartInterval?: string;
  annotation?: Record<string, string>;
  cgroupParent?: string;
  cgroupns?: string;
  ipc?: string;
  isolation?: string;
  pid?: string;
  runtime?: string;
  userns?: string;
  uts?: string;
  platform?: string;
  useApiSocket?: boolean;
  domainname?: string;
  groupAdd?: string[];
  labelFile?: string[];
  storageOpt?: string[];
  sysctl?: Record<string, string>;
  volumeDriver?: string;
  shmSize?: number;
  ip6?: string;
  link?: string[];
  linkLocalIp?: string[];
  device?: string[];
  deviceCgroupRule?: string[];
  gpus?: DeviceRequest[];
  blkioWeight?: number;
  blkioWeightDevice?: Array<{ Path: string; Weight: number }>;
  cpuCount?: number;
  cpuPercent?: number;
  cpuPeriod?: number;
  cpuQuota?: number;
  cpuRtPeriod?: number;
  cpuRtRuntime?: number;
  cpusetMems?: string;
  deviceReadBps?: Array<{ Path: string; Rate: number }>;
  deviceReadIops?: Array<{ Path: string; Rate: number }>;
  deviceWriteBps?: Array<{ Path: string; Rate: number }>;
  deviceWriteIops?: Array<{ Path: string; Rate: number }>;
  ioMaxbandwidth?: number;
  ioMaxiops?: number;
  kernelMemory?: number;
  memoryReservation?: number;
  memorySwappiness?: number;
  oomKillDisable?: boolean;
  oomScoreAdj?: number;
}

function healthcheckFromFlags(f: ContainerFlags): ContainerCreateBody['Healthcheck'] {
  const disabled = f.noHealthcheck === true || f.healthcheck === false;
  const any =
    f.healthCmd !== undefined ||
    f.healthInterval !== undefined ||
    f.healthRetries !== undefined ||
    f.healthStartPeriod !== undefined ||
    f.healthTimeout !== undefined ||
    f.healthStartInterval !== undefined;
  if (disabled) {
    if (any) throw new StatusError(125, '--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!any) return undefined;
  return {
    Test: f.healthCmd !== undefined ? ['CMD-SHELL', f.healthCmd] : undefined,
    Interval: f.healthInterval !== undefined ? parseDuration(f.healthInterval, '--health-interval') : undefined,
    Timeout: f.healthTimeout !== undefined ? parseDuration(f.healthTimeout, '--health-timeout') : undefined,
    StartPeriod: f.healthStartPeriod !== undefined ? parseDuration(f.healthStartPeriod, '--health-start-period') : undefined,
    StartInterval: f.healthStartInterval !== undefined ? parseDuration(f.healthStartInterval, '--health-start-interval') : undefined,
    Retries: f.healthRetries,
  };
}

/** docker's RAMInBytes: `512m`, `1g`, `1024k`, `100b`, plain bytes (binary units). */
export function parseBytes(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgtp]?)b?$/i.exec(v.trim());
  if (!m) throw new StatusError(125, `invalid size: '${v}'`);
  const mult: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
  return Math.floor(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}

/** `--cpus 1.5` → NanoCpus. */
export function parseCpus(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new StatusError(125, `invalid argument "${v}" for "--cpus" flag: failed to parse ${v} as a rational number`);
  return Math.round(n * 1e9);
}

/** `--ulimit nofile=1024:2048` → {Name, Soft, Hard}. */
export function parseUlimit(v: string): { Name: string; Soft: number; Hard: number } {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(v);
  if (!m) throw new StatusError(125, `invalid argument "${v}" for "--ulimit" flag: invalid ulimit argument: ${v}`);
  return { Name: m[1]!, Soft: Number(m[2]), Hard: Number(m[3] ?? m[2]) };
}

/** opts.ValidateEnv: `KEY` alone takes the value from the client's environment when set. */
function expandEnv(entry: string, env: NodeJS.ProcessEnv): string {
  if (entry.includes('=')) return entry;
  const v = env[entry];
  return v === undefined ? entry : `${entry}=${v}`;
}

export function parseRestartPolicy(policy: string): RestartPolicy {
  const [name, count] = policy.split(':');
  switch (name) {
    case '':
    case 'no':
      if (count !== undefined) throw new StatusError(125, `invalid restart policy format: maximum retry count can only be used with 'on-failure'`);
      return { Name: 'no' };
    case 'always':
    case 'unless-stopped':
      if (count !== undefined) throw new StatusError(125, `invalid restart policy format: maximum retry count can only be used with 'on-failure'`);
      return { Name: name };
    case 'on-failure': {
      if (count === undefined) return { Name: 'on-failure' };
      if (!/^\d+$/.test(count)) throw new StatusError(125, `invalid restart policy format: maximum retry count must be an integer`);
      return { Name: 'on-failure', MaximumRetryCount: Number(count) };
    }
    default:
      throw new StatusError(125, `invalid restart policy format: unknown policy '${name}'`);
  }
}

/** `nat.ParsePortRange`: "80" or "8000-8010". */
function portRange(s: string): [number, number] | undefined {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  return a > 65535 || b > 65535 || b < a ? undefined : [a, b];
}

/** `nat.SplitProtoPort`. */
function splitProtoPort(raw: string): [string, string] {
  const parts = raw.split('/');
  if (parts[0] === '') return ['', ''];
  if (parts.length === 1 || parts[1] === '') return ['tcp', parts[0]!];
  return [parts[1]!, parts[0]!];
}

/**
 * `-p [ip:][hostPort:]containerPort[/proto]` with Docker's rules (go-connections `nat.ParsePortSpec`):
 * IPv6 addresses in brackets, ranges of equal length map port by port, a host range for one
 * container port means "the first free port of the range".
 */
export function parsePublish(spec: string): Array<{ port: string; binding: { HostIp: string; HostPort: string } }> {
  const fail = (msg: string): never => {
    throw new StatusError(125, `invalid argument "${spec}" for "-p, --publish" flag: ${msg}`);
  };
  const parts = spec.split(':');
  const n = parts.length;
  let ip = n > 3 ? parts.slice(0, n - 2).join(':') : n === 3 ? parts[0]! : '';
  const hostPort = n >= 2 ? parts[n - 2]! : '';
  const [proto, containerPort] = splitProtoPort(parts[n - 1]!);
  if (ip.startsWith('[')) {
    if (!ip.endsWith(']')) fail(`invalid IP address ${ip}`);
    ip = ip.slice(1, -1);
  }
  if (ip !== '' && isIP(ip) === 0) fail(`invalid IP address: ${ip}`);
  if (containerPort === '') fail(`no port specified: ${spec}<empty>`);
  const c = portRange(containerPort) ?? fail(`invalid containerPort: ${containerPort}`);
  const h = hostPort === '' ? ([0, 0] as [number, number]) : (portRange(hostPort) ?? fail(`invalid hostPort: ${hostPort}`));
  if (hostPort !== '' && c[1] - c[0] !== h[1] - h[0] && c[1] !== c[0]) fail(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
  if (!['tcp', 'udp', 'sctp'].includes(proto.toLowerCase())) fail(`invalid proto: ${proto}`);
  const out: Array<{ port: string; binding: { HostIp: string; HostPort: string } }> = [];
  for (let i = 0; i <= c[1] - c[0]; i++) {
    let hp = hostPort === '' ? '' : String(h[0] + i);
    if (c[0] === c[1] && h[0] !== h[1]) hp = `${hp}-${h[1]}`;
    out.push({ port: `${c[0] + i}/${proto.toLowerCase()}`, binding: { HostIp: ip, HostPort: hp } });
  }
  return out;
}

/** `--expose PORT[-END][/proto]`, ranges expanded. */
function parseExpose(e: string): string[] {
  const [proto, port] = splitProtoPort(e);
  const r = portRange(port);
  if (!r) throw new StatusError(125, `invalid range format for --expose: ${e}, error: invalid port range: ${port}`);
  const out: string[] = [];
  for (let p = r[0]; p <= r[1]; p++) out.push(`${p}/${proto.toLowerCase()}`);
  return out;
}

function keyValues(list: string[] | undefined, what: string): Record<string, string> | undefined {
  if (!list) return undefined;
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq === 0) throw new StatusError(125, `invalid ${what}: ${item}`);
    if (eq < 0) out[item] = '';
    else out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/**
 * Builds the `POST /containers/create` body from the flags, image and command, as docker's
 * `parse()` in cli/command/container/opts.go does for the flags berth supports.
 */
/**
 * `--security-opt seccomp=FILE` as the docker CLI sends it: the file's JSON, compacted, in place
 * of the path (the daemon may not see the client's files); `unconfined` and `builtin` stay names.
 */
export function securityOptsForApi(opts: string[]): string[] {
  return opts.map((o) => {
    const m = /^seccomp[=:](.+)$/s.exec(o);
    if (!m || m[1] === 'unconfined' || m[1] === 'builtin') return o;
    let text: string;
    try {
      text = readFileSync(m[1]!, 'utf8');
    } catch (err) {
      throw new StatusError(125, `opening seccomp profile (${m[1]}) failed: ${(err as Error).message}`);
    }
    try {
      return `seccomp=${JSON.stringify(JSON.parse(text))}`;
    } catch (err) {
      throw new StatusError(125, `compacting json for seccomp profile (${m[1]}) failed: ${(err as Error).message}`);
    }
  });
}

export function buildCreateBody(flags: ContainerFlags, image: string, cmd: string[], env: NodeJS.ProcessEnv): ContainerCreateBody {
  checkNamespaceModes(flags);
  checkUnsupported(flags);
  const swappiness = flags.memorySwappiness ?? -1;
  if (swappiness !== -1 && (swappiness < 0 || swappiness > 100)) throw new StatusError(125, `invalid value: ${swappiness}. Valid memory swappiness range is 0-100`);
  const detach = flags.detach ?? false;
  const attach = new Set((flags.attach ?? []).map((s) => s.toLowerCase()));
  for (const a of attach) {
    if (!['stdin', 'stdout', 'stderr'].includes(a)) throw new StatusError(125, `invalid argument "${a}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`);
  }
  if (detach && attach.size > 0) throw new StatusError(125, 'Conflicting options: -a and -d');
  let attachStdin = attach.has('stdin');
  let attachStdout = attach.has('stdout');
  let attachStderr = attach.has('stderr');
  if (!detach && attach.size === 0) {
    attachStdout = true;
    attachStderr = true;
    attachStdin = flags.interactive ?? false;
  }

  const envList: string[] = envFromFiles(flags.envFile, env);
  for (const e of flags.env ?? []) envList.push(expandEnv(e, env));

  let entrypoint: string[] | undefined;
  if (flags.entrypoint !== undefined) entrypoint = [flags.entrypoint];

  const exposed: Record<string, Record<string, never>> = {};
  const portBindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of flags.publish ?? []) {
    for (const { port, binding } of parsePublish(p)) {
      exposed[port] = {};
      (portBindings[port] ??= []).push(binding);
    }
  }
  for (const e of flags.expose ?? []) for (const k of parseExpose(e)) exposed[k] = {};

  const tmpfs: Record<string, string> = {};
  for (const t of flags.tmpfs ?? []) {
    const [path, opts = ''] = t.split(/:(.*)/s) as [string, string?];
    tmpfs[path] = opts;
  }

  const host: HostConfig = {
    Binds: flags.volume,
    NetworkMode: flags.network ?? 'default',
    PortBindings: Object.keys(portBindings).length ? portBindings : undefined,
    PublishAllPorts: flags.publishAll || undefined,
    RestartPolicy: parseRestartPolicy(flags.restart),
    Memory: flags.memory !== undefined ? parseBytes(flags.memory) : undefined,
    MemorySwap: flags.memorySwap !== undefined ? (flags.memorySwap === '-1' ? -1 : parseBytes(flags.memorySwap)) : undefined,
    NanoCpus: flags.cpus !== undefined ? parseCpus(flags.cpus) : undefined,
    CpuShares: flags.cpuShares,
    CpusetCpus: flags.cpusetCpus,
    PidsLimit: flags.pidsLimit,
    Ulimits: flags.ulimit?.map(parseUlimit),
    AutoRemove: flags.rm ?? false,
    CapAdd: flags.capAdd ?? null,
    CapDrop: flags.capDrop ?? null,
    Dns: flags.dns,
    DnsOptions: flags.dnsOption,
    DnsSearch: flags.dnsSearch,
    ExtraHosts: flags.addHost ?? null,
    Privileged: flags.privileged ?? false,
    ReadonlyRootfs: flags.readOnly ?? false,
    SecurityOpt: flags.securityOpt ? securityOptsForApi(flags.securityOpt) : null,
    Tmpfs: Object.keys(tmpfs).length ? tmpfs : undefined,
    LogConfig: { Type: flags.logDriver ?? '', Config: keyValues(flags.logOpt, 'log-opt') ?? {} },
  };
  if (flags.init) host.Init = true;
  if (flags.mount?.length) host.Mounts = flags.mount.map(parseMountFlag);
  if (flags.volumesFrom?.length) host.VolumesFrom = flags.volumesFrom;
  Object.assign(host, resourceFields(flags));
  if (host.AutoRemove && host.RestartPolicy?.Name !== 'no') {
    throw new StatusError(125, 'Conflicting options: --restart and --rm');
  }

  const body: ContainerCreateBody = {
    Hostname: flags.hostname ?? '',
    Domainname: flags.domainname ?? '',
    User: flags.user ?? '',
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    ExposedPorts: Object.keys(exposed).length ? exposed : undefined,
    Tty: flags.tty ?? false,
    OpenStdin: flags.interactive ?? false,
    StdinOnce: (flags.interactive ?? false) && attachStdin,
    Env: envList,
    Cmd: cmd.length ? cmd : null,
    Image: image,
    WorkingDir: flags.workdir ?? '',
    Entrypoint: entrypoint ?? null,
    Labels: keyValues([...labelsFromFiles(flags.labelFile), ...(flags.label ?? [])], 'label') ?? {},
    StopSignal: flags.stopSignal,
    Healthcheck: healthcheckFromFlags(flags),
    StopTimeout: flags.stopTimeout,
    HostConfig: host,
    NetworkingConfig: { EndpointsConfig: endpointsFromFlags(flags) },
  };
  return body;
}

/**
 * `--ip`, `--ip6`, `--link-local-ip`, `--link`, `--mac-address`, `--network-alias` go to the
 * endpoint of the `--network` given (docker's parseNetworkOpts; issue 6).
 */
function endpointsFromFlags(flags: ContainerFlags): Record<string, unknown> {
  const ipam = {
    ...(flags.ip ? { IPv4Address: flags.ip } : {}),
    ...(flags.ip6 ? { IPv6Address: flags.ip6 } : {}),
    ...(flags.linkLocalIp?.length ? { LinkLocalIPs: flags.linkLocalIp } : {}),
  };
  const endpoint = {
    ...(Object.keys(ipam).length ? { IPAMConfig: ipam } : {}),
    ...(flags.link?.length ? { Links: flags.link } : {}),
    ...(flags.macAddress ? { MacAddress: flags.macAddress } : {}),
    ...(flags.networkAlias?.length ? { Aliases: flags.networkAlias } : {}),
  };
  if (Object.keys(endpoint).length === 0) return {};
  const net = flags.network ?? 'default';
  if (/^(host|none|container:)/.test(net) && (flags.ip || flags.ip6 || flags.macAddress || flags.networkAlias?.length || flags.linkLocalIp?.length)) {
    throw new StatusError(125, `conflicting options: network settings (--ip, --ip6, --link-local-ip, --mac-address, --network-alias) and --network ${net}`);
  }
  return { [net]: endpoint };
}

/**
 * Flags berth refuses as docker would on this daemon: the Windows-only ones (docker's
 * `ostype` check, worded as docker's), and `--kernel-memory`, which no kernel berth runs on
 * supports (cgroup v2 has no kernel memory limit; Docker API 1.42 dropped it).
 */
function checkUnsupported(f: ContainerFlags): void {
  const windows: Array<[string, unknown]> = [
    ['--cpu-count', f.cpuCount],
    ['--cpu-percent', f.cpuPercent],
    ['--io-maxbandwidth', f.ioMaxbandwidth],
    ['--io-maxiops', f.ioMaxiops],
  ];
  const errors = windows.filter(([, v]) => v !== undefined).map(([name]) => `"${name}" is only supported on a daemon running on windows, but the berth daemon is running on linux`);
  if (errors.length) throw new StatusError(1, errors.join('\n'));
  if (f.kernelMemory !== undefined) {
    throw new StatusError(125, '--kernel-memory is not supported: kernel memory limits do not exist on cgroup v2 and were removed from the Docker API in 1.42 (use --memory)');
  }
}

/** `--label-file` contents, in the order given (docker reads them before `-l`). */
function labelsFromFiles(files: string[] | undefined): string[] {
  return linesFromFiles(files, parseLabelFile);
}

/**
 * The HostConfig fields of the namespace, device and resource flags, as the docker CLI sends
 * them. Fields whose flag was not given are left out (the daemon's zero value is the same).
 */
function resourceFields(f: ContainerFlags): Partial<HostConfig> {
  const devices: DeviceMapping[] = [];
  const requests: DeviceRequest[] = [...(f.gpus ?? [])];
  for (const d of f.device ?? []) {
    const { mapping, request } = parseDevice(d);
    if (mapping) devices.push(mapping);
    if (request) requests.push(request);
  }
  // berthd has no device-request drivers (no GPU toolkit, no CDI registry): say so here
  // rather than send DeviceRequests an engine would have to refuse.
  if (f.gpus?.length) {
    throw new StatusError(125, '--gpus is not supported: berth has no GPU device driver (NVIDIA container toolkit); pass device nodes with --device instead');
  }
  const cdi = requests.find((r) => r.Driver === 'cdi');
  if (cdi) throw new StatusError(125, `--device ${cdi.DeviceIDs?.[0]}: CDI devices are not supported by berth; pass device nodes (/dev/…) instead`);
  const out: Partial<HostConfig> = {
    Annotations: f.annotation,
    CgroupParent: f.cgroupParent,
    CgroupnsMode: f.cgroupns,
    IpcMode: f.ipc,
    Isolation: f.isolation,
    PidMode: f.pid,
    Runtime: f.runtime,
    UsernsMode: f.userns,
    UTSMode: f.uts,
    GroupAdd: f.groupAdd,
    StorageOpt: parseStorageOpts(f.storageOpt),
    Sysctls: f.sysctl,
    VolumeDriver: f.volumeDriver,
    ShmSize: f.shmSize,
    Links: f.link,
    Devices: devices.length ? devices : undefined,
    DeviceCgroupRules: f.deviceCgroupRule,
    DeviceRequests: requests.length ? requests : undefined,
    BlkioWeight: f.blkioWeight,
    BlkioWeightDevice: f.blkioWeightDevice,
    BlkioDeviceReadBps: f.deviceReadBps,
    BlkioDeviceReadIOps: f.deviceReadIops,
    BlkioDeviceWriteBps: f.deviceWriteBps,
    BlkioDeviceWriteIOps: f.deviceWriteIops,
    CpuCount: f.cpuCount,
    CpuPercent: f.cpuPercent,
    CpuPeriod: f.cpuPeriod,
    CpuQuota: f.cpuQuota,
    CpuRealtimePeriod: f.cpuRtPeriod,
    CpuRealtimeRuntime: f.cpuRtRuntime,
    CpusetMems: f.cpusetMems,
    IOMaximumBandwidth: f.ioMaxbandwidth,
    IOMaximumIOps: f.ioMaxiops,
    MemoryReservation: f.memoryReservation,
    MemorySwappiness: f.memorySwappiness === undefined || f.memorySwappiness === -1 ? undefined : f.memorySwappiness,
    OomKillDisable: f.oomKillDisable,
    OomScoreAdj: f.oomScoreAdj,
  };
  for (const k of Object.keys(out) as Array<keyof HostConfig>) if (out[k] === undefined) delete out[k];
  return out;
}
