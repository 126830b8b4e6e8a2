/**
 * Where Docker's container wire shapes (ContainerCreateRequest, ContainerInspectResponse,
 * ContainerSummary) meet the engine's. Unknown fields are ignored as dockerd ignores them;
 * fields of the wrong type are a 400 that names the field.
 */
import { InvalidParameterError } from '../../common/errors.js';
import { humanDuration } from '../../common/units.js';
import type { ContainerRecord, ContainerSpec, HealthCheck, HealthState, HostSpec } from '../../engine/types.js';
import { parseApiMount, parseBind } from '../../engine/mounts.js';
import { comparePortKeys, normalizePortBindings } from '../../network/ports/port-spec.js';

type Json = Record<string, unknown>;
import type { ContainerInspect, ContainerSummary, MountPoint, Port } from '../../wire/api-types.js';

function field<T>(obj: Json, key: string, kind: 'string' | 'number' | 'boolean' | 'object' | 'array', path: string): T | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  const ok = kind === 'array' ? Array.isArray(v) : kind === 'object' ? typeof v === 'object' && !Array.isArray(v) : typeof v === kind;
  if (!ok) throw new InvalidParameterError(`invalid JSON: field ${path}${key} must be ${kind === 'array' ? 'an array' : `a ${kind}`}`);
  return v as T;
}

/** HostConfig.ConsoleSize `[height, width]` (API 1.42+): the tty's size before the process starts; [0, 0] means unset. */
function consoleSizeOf(v: unknown[] | undefined): { height: number; width: number } | undefined {
  if (v === undefined) return undefined;
  if (v.length !== 2 || !v.every((n) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 65535)) {
    throw new InvalidParameterError('invalid JSON: field HostConfig.ConsoleSize must be [height, width]');
  }
  const [height, width] = v as number[];
  return height && width ? { height: height!, width: width! } : undefined;
}

function stringArray(obj: Json, key: string, path: string): string[] | undefined {
  const v = field<unknown[]>(obj, key, 'array', path);
  if (v === undefined) return undefined;
  if (!v.every((x) => typeof x === 'string')) throw new InvalidParameterError(`invalid JSON: field ${path}${key} must be an array of strings`);
  return v as string[];
}

/** Cmd and Entrypoint may be a string or an array (strslice). */
function strSlice(obj: Json, key: string): string[] | null | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new InvalidParameterError(`invalid JSON: field ${key} must be a string or an array of strings`);
}

function stringMap(obj: Json, key: string, path: string): Record<string, string> | undefined {
  const v = field<Json>(obj, key, 'object', path);
  if (v === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') throw new InvalidParameterError(`invalid JSON: field ${path}${key}.${k} must be a string`);
    out[k] = x;
  }
  return out;
}

/** POST /containers/{id}/update body → the HostConfig fields to change. */
export function hostUpdateFromRequest(body: Json): Partial<HostSpec> {
  const rp = field<Json>(body, 'RestartPolicy', 'object', '');
  const out: Partial<HostSpec> = {
    memory: field<number>(body, 'Memory', 'number', ''),
    memorySwap: field<number>(body, 'MemorySwap', 'number', ''),
    cpuShares: field<number>(body, 'CpuShares', 'number', ''),
    nanoCpus: field<number>(body, 'NanoCpus', 'number', ''),
    cpuQuota: field<number>(body, 'CpuQuota', 'number', ''),
    cpuPeriod: field<number>(body, 'CpuPeriod', 'number', ''),
    cpusetCpus: field<string>(body, 'CpusetCpus', 'string', ''),
    pidsLimit: field<number>(body, 'PidsLimit', 'number', ''),
  };
  if (rp && (rp['Name'] !== undefined && rp['Name'] !== '')) {
    out.restartPolicy = {
      name: field<string>(rp, 'Name', 'string', 'RestartPolicy.') as NonNullable<HostSpec['restartPolicy']>['name'],
      maximumRetryCount: field<number>(rp, 'MaximumRetryCount', 'number', 'RestartPolicy.') ?? 0,
    };
  }
  // Docker treats 0 as "leave unchanged" for these fields.
  for (const k of Object.keys(out) as (keyof HostSpec)[]) if (out[k] === undefined || out[k] === 0 || out[k] === '') delete out[k];
  return out;
}

/** POST /containers/create body + `name` query → the engine's ContainerSpec. */
export function specFromCreateRequest(body: Json, name: string | undefined): ContainerSpec {
  const image = field<string>(body, 'Image', 'string', '');
  if (!image) throw new InvalidParameterError('config cannot be empty in order to create a container');
  const hc = field<Json>(body, 'HostConfig', 'object', '') ?? {};
  const rp = field<Json>(hc, 'RestartPolicy', 'object', 'HostConfig.');
  const lc = field<Json>(hc, 'LogConfig', 'object', 'HostConfig.');
  const ulimits = field<Json[]>(hc, 'Ulimits', 'array', 'HostConfig.');
  const host: HostSpec = {
    autoRemove: field<boolean>(hc, 'AutoRemove', 'boolean', 'HostConfig.'),
    privileged: field<boolean>(hc, 'Privileged', 'boolean', 'HostConfig.'),
    capAdd: stringArray(hc, 'CapAdd', 'HostConfig.'),
    capDrop: stringArray(hc, 'CapDrop', 'HostConfig.'),
    securityOpt: stringArray(hc, 'SecurityOpt', 'HostConfig.'),
    readonlyRootfs: field<boolean>(hc, 'ReadonlyRootfs', 'boolean', 'HostConfig.'),
    init: field<boolean>(hc, 'Init', 'boolean', 'HostConfig.'),
    networkMode: field<string>(hc, 'NetworkMode', 'string', 'HostConfig.'),
    restartPolicy: rp
      ? {
          name: (field<string>(rp, 'Name', 'string', 'HostConfig.RestartPolicy.') ?? '') as NonNullable<HostSpec['restartPolicy']>['name'],
          maximumRetryCount: field<number>(rp, 'MaximumRetryCount', 'number', 'HostConfig.RestartPolicy.') ?? 0,
        }
      : undefined,
    logConfig: lc
      ? { type: field<string>(lc, 'Type', 'string', 'HostConfig.LogConfig.') ?? '', config: stringMap(lc, 'Config', 'HostConfig.LogConfig.') ?? {} }
      : undefined,
    extraHosts: stringArray(hc, 'ExtraHosts', 'HostConfig.'),
    dns: stringArray(hc, 'Dns', 'HostConfig.'),
    dnsSearch: stringArray(hc, 'DnsSearch', 'HostConfig.'),
    dnsOptions: stringArray(hc, 'DnsOptions', 'HostConfig.'),
    binds: stringArray(hc, 'Binds', 'HostConfig.'),
    // Published ports (issue 6): checked here, so bad input fails at create.
    portBindings: normalizePortBindings(hc['PortBindings']),
    publishAllPorts: field<boolean>(hc, 'PublishAllPorts', 'boolean', 'HostConfig.'),
    memory: field<number>(hc, 'Memory', 'number', 'HostConfig.'),
    memorySwap: field<number>(hc, 'MemorySwap', 'number', 'HostConfig.'),
    cpuShares: field<number>(hc, 'CpuShares', 'number', 'HostConfig.'),
    nanoCpus: field<number>(hc, 'NanoCpus', 'number', 'HostConfig.'),
    cpuQuota: field<number>(hc, 'CpuQuota', 'number', 'HostConfig.'),
    cpuPeriod: field<number>(hc, 'CpuPeriod', 'number', 'HostConfig.'),
    cpusetCpus: field<string>(hc, 'CpusetCpus', 'string', 'HostConfig.'),
    pidsLimit: field<number>(hc, 'PidsLimit', 'number', 'HostConfig.'),
    shmSize: field<number>(hc, 'ShmSize', 'number', 'HostConfig.'),
    cgroupnsMode: field<string>(hc, 'CgroupnsMode', 'string', 'HostConfig.'),
    consoleSize: consoleSizeOf(field<unknown[]>(hc, 'ConsoleSize', 'array', 'HostConfig.')),
    ulimits: ulimits?.map((u) => ({
      name: String(u['Name'] ?? ''),
      soft: Number(u['Soft'] ?? 0),
      hard: Number(u['Hard'] ?? 0),
    })),
  };
  Object.assign(host, namespaceAndDeviceFields(hc));
  rejectUnsupportedHostFields(hc);
  // Mounts (issue 7): Binds are parsed by the engine; Mounts, Tmpfs and VolumesFrom here.
  for (const b of host.binds ?? []) parseBind(b);
  for (const v of Object.keys(field<Json>(body, 'Volumes', 'object', '') ?? {})) if (v.includes(':')) parseBind(v);
  const mounts = field<Json[]>(hc, 'Mounts', 'array', 'HostConfig.');
  if (mounts?.length) host.mounts = mounts.map((m) => parseApiMount(m));
  host.tmpfs = stringMap(hc, 'Tmpfs', 'HostConfig.');
  host.volumesFrom = stringArray(hc, 'VolumesFrom', 'HostConfig.');
  return {
    name,
    image,
    cmd: strSlice(body, 'Cmd'),
    entrypoint: strSlice(body, 'Entrypoint'),
    env: stringArray(body, 'Env', ''),
    workingDir: field<string>(body, 'WorkingDir', 'string', ''),
    user: field<string>(body, 'User', 'string', ''),
    hostname: field<string>(body, 'Hostname', 'string', ''),
    domainname: field<string>(body, 'Domainname', 'string', ''),
    labels: stringMap(body, 'Labels', ''),
    tty: field<boolean>(body, 'Tty', 'boolean', ''),
    openStdin: field<boolean>(body, 'OpenStdin', 'boolean', ''),
    stdinOnce: field<boolean>(body, 'StdinOnce', 'boolean', ''),
    attachStdin: field<boolean>(body, 'AttachStdin', 'boolean', ''),
    attachStdout: field<boolean>(body, 'AttachStdout', 'boolean', ''),
    attachStderr: field<boolean>(body, 'AttachStderr', 'boolean', ''),
    stopSignal: field<string>(body, 'StopSignal', 'string', ''),
    stopTimeout: field<number>(body, 'StopTimeout', 'number', ''),
    exposedPorts: field<Record<string, object>>(body, 'ExposedPorts', 'object', ''),
    volumes: field<Record<string, object>>(body, 'Volumes', 'object', ''),
    healthcheck: healthcheckFromRequest(field<Json>(body, 'Healthcheck', 'object', '')),
    networks: withLegacyMac(endpointsFromRequest(body), field<string>(body, 'MacAddress', 'string', ''), host.networkMode),
    host,
  };
}

/**
 * Config.MacAddress (deprecated since API 1.44, still what docker-py and older CLIs send):
 * the MAC of the endpoint on the container's network mode, as dockerd applies it.
 */
function withLegacyMac(networks: ContainerSpec['networks'], mac: string | undefined, networkMode: string | undefined): ContainerSpec['networks'] {
  if (!mac) return networks;
  const mode = networkMode || 'bridge';
  if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) {
    throw new InvalidParameterError('conflicting options: mac-address and the network mode');
  }
  const net = mode === 'default' ? 'bridge' : mode;
  const out = { ...(networks ?? {}) };
  const ep = out[net] ?? {};
  if (ep.macAddress && ep.macAddress !== mac) throw new InvalidParameterError('conflicting options: mac-address and the endpoint\'s MacAddress');
  out[net] = { ...ep, macAddress: mac };
  return out;
}

const NAMESPACE_MODE = /^(|host|private|shareable|none|container:.+)$/;

/** GroupAdd, Pid/Ipc/UTS modes, Devices, DeviceCgroupRules, memory and kernel tunables, Links (issue 15). */
function namespaceAndDeviceFields(hc: Json): Partial<HostSpec> {
  const p = 'HostConfig.';
  const mode = (key: string, allowed: RegExp) => {
    const v = field<string>(hc, key, 'string', p);
    if (v !== undefined && !allowed.test(v)) throw new InvalidParameterError(`invalid ${key}: "${v}"`);
    return v || undefined;
  };
  const out: Partial<HostSpec> = {
    groupAdd: stringArray(hc, 'GroupAdd', p),
    pidMode: mode('PidMode', /^(|host|container:.+)$/),
    utsMode: mode('UTSMode', /^(|host)$/),
    ipcMode: mode('IpcMode', NAMESPACE_MODE),
    deviceCgroupRules: stringArray(hc, 'DeviceCgroupRules', p),
    sysctls: stringMap(hc, 'Sysctls', p),
    cpusetMems: field<string>(hc, 'CpusetMems', 'string', p) || undefined,
    memoryReservation: field<number>(hc, 'MemoryReservation', 'number', p) || undefined,
    oomKillDisable: field<boolean>(hc, 'OomKillDisable', 'boolean', p) || undefined,
    blkioWeight: field<number>(hc, 'BlkioWeight', 'number', p) || undefined,
    volumeDriver: field<string>(hc, 'VolumeDriver', 'string', p) || undefined,
    // Issue 21: "" (the daemon's --userns-remap, if any) or "host"; other values are refused by the engine.
    usernsMode: field<string>(hc, 'UsernsMode', 'string', p) || undefined,
  };
  const isolation = field<string>(hc, 'Isolation', 'string', p);
  if (isolation && isolation !== 'default') throw new InvalidParameterError(`Invalid isolation: "${isolation}" - linux only supports 'default'`);
  if (isolation) out.isolation = isolation;
  for (const r of out.deviceCgroupRules ?? []) {
    if (!/^[acb] (\d+|\*):(\d+|\*) [rwm]{1,3}$/.test(r)) throw new InvalidParameterError(`invalid device cgroup format '${r}'`);
  }
  const swappiness = field<number>(hc, 'MemorySwappiness', 'number', p);
  if (swappiness !== undefined && swappiness !== -1) {
    if (!Number.isInteger(swappiness) || swappiness < 0 || swappiness > 100) throw new InvalidParameterError(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
    out.memorySwappiness = swappiness;
  }
  const oom = field<number>(hc, 'OomScoreAdj', 'number', p);
  if (oom !== undefined && oom !== 0) {
    if (!Number.isInteger(oom) || oom < -1000 || oom > 1000) throw new InvalidParameterError(`Invalid value ${oom}, range for oom score adj is [-1000, 1000]`);
    out.oomScoreAdj = oom;
  }
  if ((out.blkioWeight ?? 0) && (out.blkioWeight! < 10 || out.blkioWeight! > 1000)) throw new InvalidParameterError('Range of blkio weight is from 10 to 1000');
  const devices = field<Json[]>(hc, 'Devices', 'array', p);
  if (devices?.length) {
    out.devices = devices.map((d, i) => {
      const onHost = field<string>(d, 'PathOnHost', 'string', `${p}Devices[${i}].`) ?? '';
      if (!onHost.startsWith('/')) throw new InvalidParameterError(`invalid device: PathOnHost "${onHost}" must be an absolute path`);
      const perms = field<string>(d, 'CgroupPermissions', 'string', `${p}Devices[${i}].`) || 'rwm';
      if (!/^[rwm]{1,3}$/.test(perms)) throw new InvalidParameterError(`invalid device mode: ${perms}`);
      return { pathOnHost: onHost, pathInContainer: field<string>(d, 'PathInContainer', 'string', `${p}Devices[${i}].`) || onHost, cgroupPermissions: perms };
    });
  }
  const links = stringArray(hc, 'Links', p);
  if (links?.length) {
    out.links = links.map((l) => {
      // "name:alias", "name", or inspect's "/name:/parent/alias" fed back.
      const [rawName, rawAlias] = l.split(':') as [string, string | undefined];
      const name = rawName.replace(/^\//, '');
      const alias = rawAlias ? rawAlias.slice(rawAlias.lastIndexOf('/') + 1) : name;
      if (!name || !alias) throw new InvalidParameterError(`invalid link: "${l}"`);
      return { name, alias };
    });
  }
  for (const k of Object.keys(out) as (keyof HostSpec)[]) if (out[k] === undefined) delete out[k];
  return out;
}

/**
 * HostConfig fields berth cannot honour: a value other than the default is a 400 that names
 * the field, never silently dropped (the berth CLI sends what the docker CLI sends).
 * Fields owned elsewhere (CgroupnsMode, MaskedPaths, ReadonlyPaths, ShmSize) are not listed here.
 */
const UNSUPPORTED_HOST_FIELDS: [key: string, why: string][] = [
  ['CgroupParent', 'a per-container cgroup parent is not supported (the daemon\'s --cgroup-parent applies)'],
  ['Runtime', ''],
  ['Cgroup', 'joining another container\'s cgroup is not supported'],
  ['BlkioWeightDevice', 'per-device blkio weights are not supported'],
  ['BlkioDeviceReadBps', 'per-device blkio limits are not supported'],
  ['BlkioDeviceWriteBps', 'per-device blkio limits are not supported'],
  ['BlkioDeviceReadIOps', 'per-device blkio limits are not supported'],
  ['BlkioDeviceWriteIOps', 'per-device blkio limits are not supported'],
  ['CpuRealtimePeriod', 'realtime CPU scheduling is not supported'],
  ['CpuRealtimeRuntime', 'realtime CPU scheduling is not supported'],
  ['DeviceRequests', 'device requests (GPUs) are not supported'],
  ['KernelMemory', 'kernel memory limits are not supported (deprecated by Docker)'],
  ['KernelMemoryTCP', 'kernel TCP memory limits are not supported'],
  ['CpuCount', 'CpuCount is Windows-only'],
  ['CpuPercent', 'CpuPercent is Windows-only'],
  ['IOMaximumIOps', 'IOMaximumIOps is Windows-only'],
  ['IOMaximumBandwidth', 'IOMaximumBandwidth is Windows-only'],
  ['StorageOpt', 'storage options are not supported by the overlay driver here'],
  ['Annotations', 'container annotations are not supported'],
];

function isDefaultValue(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false;
}

function rejectUnsupportedHostFields(hc: Json): void {
  for (const [key, why] of UNSUPPORTED_HOST_FIELDS) {
    const v = hc[key];
    if (isDefaultValue(v)) continue;
    if (key === 'Runtime') {
      if (v === 'runc' || v === 'crun') continue;
      throw new InvalidParameterError(`Unknown runtime specified ${String(v)}`);
    }
    throw new InvalidParameterError(`HostConfig.${key} is not supported by berth: ${why}`);
  }
}

function healthcheckFromRequest(h: Json | undefined): HealthCheck | undefined {
  if (!h) return undefined;
  const test = stringArray(h, 'Test', 'Healthcheck.');
  if (test && test.length && !['NONE', 'CMD', 'CMD-SHELL'].includes(test[0]!)) {
    throw new InvalidParameterError(`invalid Healthcheck.Test: must start with NONE, CMD or CMD-SHELL`);
  }
  const dur = (k: string) => {
    const v = field<number>(h, k, 'number', 'Healthcheck.');
    if (v !== undefined && v !== 0 && v < 1_000_000) throw new InvalidParameterError(`Healthcheck.${k} must be at least 1ms`);
    return v || undefined;
  };
  const retries = field<number>(h, 'Retries', 'number', 'Healthcheck.');
  if (retries !== undefined && retries < 0) throw new InvalidParameterError('Healthcheck.Retries must not be negative');
  return { test, interval: dur('Interval'), timeout: dur('Timeout'), startPeriod: dur('StartPeriod'), retries: retries || undefined };
}

function healthcheckJson(h: HealthCheck | undefined): Json | undefined {
  if (!h) return undefined;
  return { Test: h.test, Interval: h.interval, Timeout: h.timeout, StartPeriod: h.startPeriod, Retries: h.retries };
}

function healthStateJson(h: HealthState | undefined): Json | undefined {
  if (!h) return undefined;
  return { Status: h.status, FailingStreak: h.failingStreak, Log: h.log.map((l) => ({ Start: l.start, End: l.end, ExitCode: l.exitCode, Output: l.output })) };
}

/** ` (healthy)`, ` (health: starting)`, ` (unhealthy)` as docker ps shows it. */
function healthSuffix(r: ContainerRecord): string {
  const h = r.state.health;
  if (!h || r.state.status !== 'running') return '';
  return h.status === 'starting' ? ' (health: starting)' : ` (${h.status})`;
}

const isRunning = (r: ContainerRecord) => r.state.status === 'running' || r.state.status === 'paused' || r.state.status === 'restarting';

/** Docker's human status column: `Up 5 seconds`, `Exited (0) 2 minutes ago`, `Created`. */
export function statusText(r: ContainerRecord, now = Date.now()): string {
  const s = r.state;
  switch (s.status) {
    case 'running':
    case 'restarting':
      if (s.status === 'restarting') return `Restarting (${s.exitCode}) ${humanDuration(now - Date.parse(s.finishedAt))} ago`;
      return `Up ${humanDuration(now - Date.parse(s.startedAt))}${healthSuffix(r)}`;
    case 'paused':
      return `Up ${humanDuration(now - Date.parse(s.startedAt))} (Paused)`;
    case 'exited':
      if (Date.parse(s.finishedAt) <= 0 || s.finishedAt.startsWith('0001')) return 'Created';
      return `Exited (${s.exitCode}) ${humanDuration(now - Date.parse(s.finishedAt))} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    default:
      return 'Created';
  }
}

function hostConfigJson(r: ContainerRecord): Json {
  const h = r.host;
  return {
    Binds: h.binds ?? null,
    ContainerIDFile: '',
    LogConfig: { Type: h.logConfig?.type || 'json-file', Config: h.logConfig?.config ?? {} },
    NetworkMode: h.networkMode || 'bridge',
    PortBindings: portMapJson(h.portBindings ?? {}),
    RestartPolicy: { Name: h.restartPolicy?.name || 'no', MaximumRetryCount: h.restartPolicy?.maximumRetryCount ?? 0 },
    AutoRemove: h.autoRemove ?? false,
    VolumeDriver: h.volumeDriver ?? '',
    VolumesFrom: h.volumesFrom ?? null,
    Mounts: h.mounts?.map((m) => ({ Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readOnly })),
    Tmpfs: h.tmpfs,
    CapAdd: h.capAdd ?? null,
    CapDrop: h.capDrop ?? null,
    CgroupnsMode: h.cgroupnsMode || 'host',
    Dns: h.dns ?? [],
    DnsOptions: h.dnsOptions ?? [],
    DnsSearch: h.dnsSearch ?? [],
    ExtraHosts: h.extraHosts ?? null,
    GroupAdd: h.groupAdd ?? null,
    IpcMode: h.ipcMode || 'private',
    Cgroup: '',
    Links: h.links?.length ? h.links.map((l) => `/${l.name}:/${r.name}/${l.alias}`) : null,
    OomScoreAdj: h.oomScoreAdj ?? 0,
    PidMode: h.pidMode ?? '',
    Privileged: h.privileged ?? false,
    PublishAllPorts: h.publishAllPorts ?? false,
    ReadonlyRootfs: h.readonlyRootfs ?? false,
    SecurityOpt: h.securityOpt ?? null,
    UTSMode: h.utsMode ?? '',
    UsernsMode: h.usernsMode ?? '',
    ShmSize: h.shmSize || 67108864,
    ConsoleSize: [h.consoleSize?.height ?? 0, h.consoleSize?.width ?? 0],
    Runtime: 'runc',
    Isolation: h.isolation ?? '',
    CpuShares: h.cpuShares ?? 0,
    Memory: h.memory ?? 0,
    NanoCpus: h.nanoCpus ?? 0,
    CgroupParent: '',
    CpuPeriod: h.cpuPeriod ?? 0,
    CpuQuota: h.cpuQuota ?? 0,
    CpusetCpus: h.cpusetCpus ?? '',
    CpusetMems: h.cpusetMems ?? '',
    Devices: (h.devices ?? []).map((d) => ({ PathOnHost: d.pathOnHost, PathInContainer: d.pathInContainer, CgroupPermissions: d.cgroupPermissions })),
    DeviceCgroupRules: h.deviceCgroupRules ?? null,
    MemorySwappiness: h.memorySwappiness ?? null,
    Sysctls: h.sysctls,
    BlkioWeight: h.blkioWeight ?? 0,
    MemoryReservation: h.memoryReservation ?? 0,
    MemorySwap: h.memorySwap ?? 0,
    OomKillDisable: h.oomKillDisable ?? false,
    PidsLimit: h.pidsLimit ?? null,
    Ulimits: (h.ulimits ?? []).map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
    Init: h.init ?? null,
    MaskedPaths: [],
    ReadonlyPaths: [],
  };
}

function configJson(r: ContainerRecord): Json {
  const c = r.config;
  return {
    Hostname: c.hostname ?? '',
    Domainname: c.domainname ?? '',
    User: c.user ?? '',
    AttachStdin: c.attachStdin ?? false,
    AttachStdout: c.attachStdout ?? false,
    AttachStderr: c.attachStderr ?? false,
    ExposedPorts: Object.keys(c.exposedPorts ?? {}).length ? c.exposedPorts : undefined,
    Tty: c.tty ?? false,
    OpenStdin: c.openStdin ?? false,
    StdinOnce: c.stdinOnce ?? false,
    Env: c.env,
    Cmd: c.cmd,
    Image: r.image,
    Volumes: Object.keys(c.volumes ?? {}).length ? c.volumes : null,
    WorkingDir: c.workingDir ?? '',
    Entrypoint: c.entrypoint,
    OnBuild: null,
    Labels: c.labels,
    StopSignal: c.stopSignal,
    StopTimeout: c.stopTimeout,
    Healthcheck: healthcheckJson(c.healthcheck),
  };
}

/** GET /containers/{id}/json */
export function inspectJson(r: ContainerRecord, lowerDirs: string[]): ContainerInspect {
  const s = r.state;
  return {
    Id: r.id,
    Created: r.created,
    Path: r.path,
    Args: r.args,
    State: {
      Status: s.status,
      Running: isRunning(r) && s.status !== 'restarting',
      Paused: s.status === 'paused',
      Restarting: s.status === 'restarting',
      OOMKilled: s.oomKilled,
      Dead: s.status === 'dead',
      Pid: s.pid,
      ExitCode: s.exitCode,
      Error: s.error,
      StartedAt: s.startedAt,
      FinishedAt: s.finishedAt,
      Health: healthStateJson(s.health),
    },
    Image: r.imageId,
    ResolvConfPath: r.resolvConfPath,
    HostnamePath: r.hostnamePath,
    HostsPath: r.hostsPath,
    LogPath: r.logPath,
    Name: `/${r.name}`,
    RestartCount: r.restartCount,
    Driver: r.driver,
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: hostConfigJson(r),
    GraphDriver: {
      Name: r.driver,
      Data: {
        LowerDir: lowerDirs.join(':'),
        MergedDir: r.rootfs,
        UpperDir: `${r.dir}/upper`,
        WorkDir: `${r.dir}/work`,
      },
    },
    Mounts: mountsJson(r),
    Config: configJson(r),
    NetworkSettings: networkSettings(r),
  };
}

/** NetworkingConfig.EndpointsConfig → the engine's per-network endpoint requests (issue 6). */
function endpointsFromRequest(body: Json): ContainerSpec['networks'] {
  const nc = field<Json>(body, 'NetworkingConfig', 'object', '');
  const eps = nc ? field<Json>(nc, 'EndpointsConfig', 'object', 'NetworkingConfig.') : undefined;
  if (!eps) return undefined;
  const out: NonNullable<ContainerSpec['networks']> = {};
  for (const [name, v] of Object.entries(eps)) {
    const ec = (v ?? {}) as Json;
    const path = `NetworkingConfig.EndpointsConfig.${name}.`;
    const ipam = field<Json>(ec, 'IPAMConfig', 'object', path);
    const ip = ipam ? field<string>(ipam, 'IPv4Address', 'string', `${path}IPAMConfig.`) : undefined;
    const ip6 = ipam ? field<string>(ipam, 'IPv6Address', 'string', `${path}IPAMConfig.`) : undefined;
    const linkLocal = ipam ? stringArray(ipam, 'LinkLocalIPs', `${path}IPAMConfig.`) : undefined;
    const aliases = stringArray(ec, 'Aliases', path);
    const mac = field<string>(ec, 'MacAddress', 'string', path);
    const links = stringArray(ec, 'Links', path);
    const driverOpts = stringMap(ec, 'DriverOpts', path);
    out[name] = {
      ...(links?.length ? { links } : {}),
      ...(driverOpts && Object.keys(driverOpts).length ? { driverOpts } : {}),
      ...(aliases?.length ? { aliases } : {}),
      ...(ip ? { ipv4Address: ip } : {}),
      ...(ip6 ? { ipv6Address: ip6 } : {}),
      ...(linkLocal?.length ? { linkLocalIPs: linkLocal } : {}),
      ...(mac ? { macAddress: mac } : {}),
    };
  }
  return out;
}

/** NetworkSettings.Networks: one entry per endpoint, addresses while running. */
function networksJson(r: ContainerRecord): Json {
  const out: Json = {};
  for (const [name, e] of Object.entries(r.network?.endpoints ?? {})) {
    out[name] = {
      IPAMConfig:
        e.requestedIp || e.requestedIp6 || e.linkLocalIPs?.length
          ? { ...(e.requestedIp ? { IPv4Address: e.requestedIp } : {}), ...(e.requestedIp6 ? { IPv6Address: e.requestedIp6 } : {}), ...(e.linkLocalIPs?.length ? { LinkLocalIPs: e.linkLocalIPs } : {}) }
          : null,
      Links: e.links?.length ? e.links : null,
      Aliases: e.aliases.length ? e.aliases : null,
      // A MAC asked for is shown before the container runs, as dockerd does.
      MacAddress: e.macAddress || e.requestedMac || '',
      DriverOpts: e.driverOpts ?? null,
      NetworkID: e.networkId,
      EndpointID: e.endpointId,
      Gateway: e.gateway,
      IPAddress: e.ipAddress,
      IPPrefixLen: e.ipPrefixLen,
      IPv6Gateway: e.ipv6Gateway ?? '',
      GlobalIPv6Address: e.globalIPv6Address ?? '',
      GlobalIPv6PrefixLen: e.globalIPv6PrefixLen ?? 0,
      DNSNames: e.ipAddress && e.networkName !== 'bridge' ? [r.name, r.id.slice(0, 12), ...e.aliases] : null,
    };
  }
  return out;
}

function networkSettings(r: ContainerRecord): Json {
  // The top-level address fields are the default bridge's, as Docker shows them.
  const def = r.network?.endpoints['bridge'];
  return {
    Bridge: '',
    SandboxID: r.network?.sandboxKey ? r.id : '',
    SandboxKey: r.network?.sandboxKey ?? '',
    Ports: portMapJson(r.network?.ports ?? {}),
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: def?.endpointId ?? '',
    Gateway: def?.gateway ?? '',
    GlobalIPv6Address: def?.globalIPv6Address ?? '',
    GlobalIPv6PrefixLen: def?.globalIPv6PrefixLen ?? 0,
    IPAddress: def?.ipAddress ?? '',
    IPPrefixLen: def?.ipPrefixLen ?? 0,
    IPv6Gateway: '',
    MacAddress: def?.macAddress ?? '',
    Networks: networksJson(r),
  };
}

/** An entry of GET /containers/json */
export function summaryJson(r: ContainerRecord): ContainerSummary {
  // dockerd's rendering: arguments containing a space are single-quoted.
  const command = [r.path, ...r.args.map((a) => (a.includes(' ') ? `'${a}'` : a))].join(' ');
  return {
    Id: r.id,
    Names: [`/${r.name}`],
    Image: r.image,
    ImageID: r.imageId,
    Command: command,
    Created: Math.floor(Date.parse(r.created) / 1000),
    Ports: portListJson(r),
    Labels: r.config.labels,
    State: r.state.status,
    Status: statusText(r),
    HostConfig: { NetworkMode: r.host.networkMode || 'bridge' },
    NetworkSettings: { Networks: networksJson(r) },
    Mounts: mountsJson(r),
  };
}

/** inspect's and ps's `Mounts`, as Docker shows volumes, binds and `--mount type=tmpfs`. */
function mountsJson(r: ContainerRecord): MountPoint[] {
  return (r.mounts ?? [])
    .filter((m) => m.type !== 'tmpfs' || !(m.destination in (r.host.tmpfs ?? {})))
    .map((m) =>
      m.type === 'volume'
        ? { Type: 'volume', Name: m.name, Source: m.source, Destination: m.destination, Driver: m.driver ?? 'local', Mode: m.mode, RW: m.rw, Propagation: '' }
        : { Type: m.type, Source: m.source, Destination: m.destination, Mode: m.mode, RW: m.rw, Propagation: m.propagation },
    );
}

/** A port map ("80/tcp" → bindings or null) as the API spells it. */
function portMapJson(m: Record<string, Array<{ hostIp: string; hostPort: string }> | null>): Json {
  const out: Json = {};
  for (const k of Object.keys(m).sort(comparePortKeys)) out[k] = m[k]?.map((b) => ({ HostIp: b.hostIp, HostPort: b.hostPort })) ?? null;
  return out;
}

/** `Ports` of GET /containers/json: one entry per binding, exposed-only ports without IP/PublicPort (as dockerd). */
function portListJson(r: ContainerRecord): Port[] {
  const out: Port[] = [];
  for (const [k, bindings] of Object.entries(r.network?.ports ?? {})) {
    const [port, type = 'tcp'] = k.split('/');
    if (!bindings?.length) out.push({ PrivatePort: Number(port), Type: type });
    for (const b of bindings ?? []) out.push({ IP: b.hostIp, PrivatePort: Number(port), PublicPort: Number(b.hostPort), Type: type });
  }
  return out;
}
