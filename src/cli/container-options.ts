import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { FlagSet } from './flags.js';
import type { ContainerCreateBody, HostConfig, RestartPolicy } from '../client/types.js';
import { collect, parseIntFlag } from './command.js';
import { StatusError } from './errors.js';
import { parseMountFlag } from './mount-flag.js';

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
    .option('--no-healthcheck', 'Disable any container-specified HEALTHCHECK');
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
}

function healthcheckFromFlags(f: ContainerFlags): ContainerCreateBody['Healthcheck'] {
  const disabled = f.noHealthcheck === true || f.healthcheck === false;
  const any = f.healthCmd !== undefined || f.healthInterval !== undefined || f.healthRetries !== undefined || f.healthStartPeriod !== undefined || f.healthTimeout !== undefined;
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

/** docker's env-file format: `KEY=value` lines, `#` comments, bare `KEY` taken from the environment. */
export function parseEnvFile(text: string, env: NodeJS.ProcessEnv, file = ''): string[] {
  const out: string[] = [];
  text.split(/\r?\n/).forEach((raw, n) => {
    const line = raw.replace(/^\s+/, '');
    if (!line || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq >= 0 ? line.slice(0, eq) : line.trimEnd();
    if (!key || /\s/.test(key)) throw new StatusError(125, `poorly formatted environment: variable '${key}' contains whitespaces (${file}:${n + 1})`);
    if (eq >= 0) out.push(line);
    else if (env[key] !== undefined) out.push(`${key}=${env[key]}`);
  });
  return out;
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
export function buildCreateBody(flags: ContainerFlags, image: string, cmd: string[], env: NodeJS.ProcessEnv): ContainerCreateBody {
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

  const envList: string[] = [];
  for (const file of flags.envFile ?? []) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new StatusError(125, `open ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
    }
    envList.push(...parseEnvFile(text, env, file));
  }
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
    SecurityOpt: flags.securityOpt ?? null,
    Tmpfs: Object.keys(tmpfs).length ? tmpfs : undefined,
    LogConfig: { Type: flags.logDriver ?? '', Config: keyValues(flags.logOpt, 'log-opt') ?? {} },
  };
  if (flags.init) host.Init = true;
  // Mounts (issue 7): --mount and --volumes-from (fields client/types.ts does not list yet).
  if (flags.mount?.length) Object.assign(host, { Mounts: flags.mount.map(parseMountFlag) });
  if (flags.volumesFrom?.length) Object.assign(host, { VolumesFrom: flags.volumesFrom });
  if (host.AutoRemove && host.RestartPolicy?.Name !== 'no') {
    throw new StatusError(125, 'Conflicting options: --restart and --rm');
  }

  const body: ContainerCreateBody = {
    Hostname: flags.hostname ?? '',
    Domainname: '',
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
    Labels: keyValues(flags.label, 'label') ?? {},
    StopSignal: flags.stopSignal,
    Healthcheck: healthcheckFromFlags(flags),
    StopTimeout: flags.stopTimeout,
    HostConfig: host,
    NetworkingConfig: { EndpointsConfig: endpointsFromFlags(flags) },
  };
  return body;
}

/** `--ip`, `--mac-address`, `--network-alias` go to the endpoint of the `--network` given (issue 6). */
function endpointsFromFlags(flags: { network?: string; ip?: string; macAddress?: string; networkAlias?: string[] }): Record<string, unknown> {
  if (!flags.ip && !flags.macAddress && !flags.networkAlias?.length) return {};
  const net = flags.network ?? 'default';
  if (/^(host|none|container:)/.test(net)) throw new StatusError(125, `conflicting options: network settings (--ip, --mac-address, --network-alias) and --network ${net}`);
  return {
    [net]: {
      ...(flags.ip ? { IPAMConfig: { IPv4Address: flags.ip } } : {}),
      ...(flags.macAddress ? { MacAddress: flags.macAddress } : {}),
      ...(flags.networkAlias?.length ? { Aliases: flags.networkAlias } : {}),
    },
  };
}
