import { createHash } from 'node:crypto';
import type { ContainerCreateBody, HostConfig } from '../wire/api-types.js';
import type { Project, Service } from './model.js';
import { parseBytes, parseDurationNs } from './units.js';

/**
 * The compose model → Docker Engine API: container names and labels as Docker Compose writes
 * them (so other compose tools recognise berth's projects and the other way round), and the
 * `POST /containers/create` body for one replica of a service.
 */

/** The compose version berth's labels claim: the Docker Compose v2 behaviour it follows. */
export const COMPOSE_VERSION = '2.29.7';

export const LABEL = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  number: 'com.docker.compose.container-number',
  oneoff: 'com.docker.compose.oneoff',
  configHash: 'com.docker.compose.config-hash',
  workingDir: 'com.docker.compose.project.working_dir',
  configFiles: 'com.docker.compose.project.config_files',
  environmentFile: 'com.docker.compose.project.environment_file',
  version: 'com.docker.compose.version',
  dependsOn: 'com.docker.compose.depends_on',
  image: 'com.docker.compose.image',
  network: 'com.docker.compose.network',
  volume: 'com.docker.compose.volume',
  replace: 'com.docker.compose.replace',
  slug: 'com.docker.compose.slug',
} as const;

/** Service keys berth compose turns into API fields (or uses itself); others are reported as ignored. */
export const HANDLED_SERVICE_KEYS = new Set([
  'name', 'image', 'build', 'command', 'entrypoint', 'environment', 'env_file', 'ports', 'expose', 'volumes', 'networks', 'network_mode',
  'depends_on', 'healthcheck', 'restart', 'scale', 'deploy', 'working_dir', 'user', 'hostname', 'domainname', 'labels', 'init', 'read_only',
  'privileged', 'cap_add', 'cap_drop', 'tmpfs', 'ulimits', 'mem_limit', 'cpus', 'stop_signal', 'stop_grace_period', 'tty', 'stdin_open',
  'extra_hosts', 'dns', 'dns_search', 'dns_opt', 'profiles', 'container_name', 'pull_policy', 'security_opt', 'pid', 'ipc', 'userns_mode',
  'cgroup_parent', 'runtime', 'shm_size', 'memswap_limit', 'mem_reservation', 'cpu_shares', 'cpuset', 'pids_limit', 'oom_score_adj',
  'group_add', 'volumes_from', 'links', 'sysctls', 'devices', 'logging', 'mac_address', 'extends', 'develop', 'annotations',
]);

/** `<project>-<service>-<n>` (or the service's container_name). */
export function containerName(project: Project, service: Service, n: number): string {
  return service.container_name ?? `${project.name}-${service.name}-${n}`;
}

/** The image a service runs: its `image`, else `<project>-<service>` (what `build` tags). */
export function serviceImage(project: Project, service: Service): string {
  return service.image ?? `${project.name}-${service.name}`;
}

/** Docker Compose's config hash: a digest of the service's configuration (not its scale). */
export function configHash(service: Service): string {
  const { scale: _s, deploy, build: _b, pull_policy: _p, name: _n, profiles: _pr, ...rest } = service;
  void _s;
  void _b;
  void _p;
  void _n;
  void _pr;
  const d = deploy ? { ...deploy, replicas: undefined } : undefined;
  return createHash('sha256').update(stableJson({ ...rest, deploy: d })).digest('hex');
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as object)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export interface CreateOptions {
  number: number;
  oneoff?: boolean;
  /** The image ID (for com.docker.compose.image). */
  imageId?: string;
  /** Whether the daemon has user networks (else the container gets the default network). */
  networks: boolean;
  /** `run`: override command, entrypoint, env, tty, … */
  run?: {
    command?: string[];
    entrypoint?: string[];
    env?: string[];
    tty?: boolean;
    stdinOpen?: boolean;
    user?: string;
    workdir?: string;
    servicePorts?: boolean;
    name?: string;
    labels?: Record<string, string>;
  };
}

/** The create body for replica `number` of `service`. */
export function createBody(project: Project, service: Service, options: CreateOptions): { name: string; body: ContainerCreateBody } {
  const run = options.run;
  const name = run?.name ?? (options.oneoff ? `${project.name}-${service.name}-run-${randomSlug()}` : containerName(project, service, options.number));
  const labels: Record<string, string> = {
    ...(service.labels ?? {}),
    ...(run?.labels ?? {}),
    [LABEL.project]: project.name,
    [LABEL.service]: service.name,
    [LABEL.number]: String(options.number),
    [LABEL.oneoff]: options.oneoff ? 'True' : 'False',
    [LABEL.configHash]: configHash(service),
    [LABEL.workingDir]: project.workingDir,
    [LABEL.configFiles]: project.configFiles.join(','),
    [LABEL.version]: COMPOSE_VERSION,
    [LABEL.dependsOn]: Object.entries(service.depends_on ?? {})
      .map(([k, d]) => `${k}:${d.condition}:${d.restart ? 'true' : 'false'}`)
      .join(','),
  };
  if (options.imageId) labels[LABEL.image] = options.imageId;

  const env = Object.entries(service.environment ?? {})
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k}=${v}`);
  const exposed: Record<string, Record<string, never>> = {};
  for (const e of service.expose ?? []) {
    const s = String(e);
    exposed[s.includes('/') ? s : `${s}/tcp`] = {};
  }
  const portBindings: Record<string, Array<{ HostIp?: string; HostPort?: string }>> = {};
  const publish = !options.oneoff || run?.servicePorts;
  for (const p of service.ports ?? []) {
    const key = `${p.target}/${p.protocol ?? 'tcp'}`;
    exposed[key] = {};
    if (!publish) continue;
    (portBindings[key] ??= []).push({ HostIp: p.host_ip ?? '', HostPort: p.published ?? '' });
  }

  const host: HostConfig & Record<string, unknown> = {};
  const mounts: Array<Record<string, unknown>> = [];
  for (const v of service.volumes ?? []) {
    if (v.type === 'bind') {
      mounts.push({ Type: 'bind', Source: v.source, Target: v.target, ReadOnly: !!v.read_only, ...(v.bind?.propagation ? { BindOptions: { Propagation: v.bind.propagation } } : {}) });
    } else if (v.type === 'volume') {
      const src = v.source ? project.volumes[v.source]?.name ?? v.source : '';
      mounts.push({ Type: 'volume', Source: src, Target: v.target, ReadOnly: !!v.read_only, ...(v.volume?.nocopy ? { VolumeOptions: { NoCopy: true } } : {}) });
    } else if (v.type === 'tmpfs') {
      mounts.push({ Type: 'tmpfs', Target: v.target, ...(v.tmpfs?.size ? { TmpfsOptions: { SizeBytes: parseBytes(v.tmpfs.size, 'tmpfs size') } } : {}) });
    }
  }
  if (mounts.length) host.Mounts = mounts;
  if (Object.keys(portBindings).length) host.PortBindings = portBindings;
  if (service.restart && !options.oneoff) {
    const [policy, max] = service.restart.split(':');
    host.RestartPolicy = { Name: policy as 'no', ...(max ? { MaximumRetryCount: Number(max) } : {}) };
  }
  if (service.cap_add) host.CapAdd = service.cap_add;
  if (service.cap_drop) host.CapDrop = service.cap_drop;
  if (service.dns) host.Dns = service.dns;
  if (service.extra_hosts) host.ExtraHosts = service.extra_hosts;
  if (service.privileged) host.Privileged = true;
  if (service.read_only) host.ReadonlyRootfs = true;
  if (service.init !== undefined) host.Init = service.init;
  if (service.security_opt) host.SecurityOpt = service.security_opt;
  if (service.tmpfs?.length) {
    host.Tmpfs = Object.fromEntries(service.tmpfs.map((t) => {
      const i = t.indexOf(':');
      return i < 0 ? [t, ''] : [t.slice(0, i), t.slice(i + 1)];
    }));
  }
  const limits = service.deploy?.resources?.limits;
  const mem = service.mem_limit ?? limits?.memory;
  if (mem !== undefined) host.Memory = parseBytes(mem, `services.${service.name}.mem_limit`);
  const cpus = service.cpus ?? limits?.cpus;
  if (cpus !== undefined) host.NanoCpus = Math.round(Number(cpus) * 1e9);
  if (service.ulimits) host.Ulimits = Object.entries(service.ulimits).map(([k, v]) => ({ Name: k, Soft: v.soft, Hard: v.hard }));
  if (options.oneoff) host.AutoRemove = false;
  const x = service as Record<string, unknown>;
  if (typeof x.pid === 'string') host.PidMode = x.pid;
  if (typeof x.ipc === 'string') host.IpcMode = x.ipc;
  if (typeof x.userns_mode === 'string') host.UsernsMode = x.userns_mode;
  if (typeof x.cgroup_parent === 'string') host.CgroupParent = x.cgroup_parent;
  if (typeof x.runtime === 'string') host.Runtime = x.runtime;
  if (x.shm_size !== undefined) host.ShmSize = parseBytes(x.shm_size as string | number, `services.${service.name}.shm_size`);
  if (x.memswap_limit !== undefined) host.MemorySwap = Number(x.memswap_limit) === -1 ? -1 : parseBytes(x.memswap_limit as string | number, `services.${service.name}.memswap_limit`);
  if (x.mem_reservation !== undefined) host.MemoryReservation = parseBytes(x.mem_reservation as string | number, `services.${service.name}.mem_reservation`);
  if (x.cpu_shares !== undefined) host.CpuShares = Number(x.cpu_shares);
  if (x.cpuset !== undefined) host.CpusetCpus = String(x.cpuset);
  if (x.pids_limit !== undefined) host.PidsLimit = Number(x.pids_limit);
  if (x.oom_score_adj !== undefined) host.OomScoreAdj = Number(x.oom_score_adj);
  if (Array.isArray(x.group_add)) host.GroupAdd = x.group_add.map(String);
  if (Array.isArray(x.dns_search)) host.DnsSearch = x.dns_search.map(String);
  if (Array.isArray(x.dns_opt)) host.DnsOptions = x.dns_opt.map(String);
  if (Array.isArray(x.volumes_from)) host.VolumesFrom = x.volumes_from.map(String);
  if (Array.isArray(x.links)) host.Links = x.links.map((l) => (String(l).includes(':') ? String(l) : `${l}:${l}`));
  if (x.sysctls) {
    host.Sysctls = Array.isArray(x.sysctls)
      ? Object.fromEntries(x.sysctls.map((v) => String(v).split('=') as [string, string]))
      : Object.fromEntries(Object.entries(x.sysctls as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
  }
  if (Array.isArray(x.devices)) {
    host.Devices = x.devices.map((dv) => {
      const [on, inC, perm] = String(dv).split(':');
      return { PathOnHost: on, PathInContainer: inC ?? on, CgroupPermissions: perm ?? 'rwm' };
    });
  }
  const logging = x.logging as { driver?: string; options?: Record<string, string> } | undefined;
  if (logging) host.LogConfig = { Type: logging.driver ?? 'json-file', Config: logging.options ?? {} };

  let networking: ContainerCreateBody['NetworkingConfig'];
  if (service.network_mode) {
    host.NetworkMode = service.network_mode.startsWith('service:') ? service.network_mode : service.network_mode;
  } else if (options.networks && service.networks) {
    const entries = Object.entries(service.networks);
    // The first network is given at create; the others are connected before start.
    const [first] = entries;
    if (first) {
      const [key, cfg] = first;
      const net = project.networks[key]!;
      host.NetworkMode = net.name;
      networking = { EndpointsConfig: { [net.name]: endpointConfig(service, cfg, name) } };
    }
  }

  const hc = service.healthcheck;
  let healthcheck: ContainerCreateBody['Healthcheck'];
  if (hc) {
    const where = `services.${service.name}.healthcheck`;
    healthcheck = hc.disable ? { Test: ['NONE'] } : {
      ...(hc.test ? { Test: hc.test } : {}),
      ...(hc.interval ? { Interval: parseDurationNs(hc.interval, `${where}.interval`) } : {}),
      ...(hc.timeout ? { Timeout: parseDurationNs(hc.timeout, `${where}.timeout`) } : {}),
      ...(hc.start_period ? { StartPeriod: parseDurationNs(hc.start_period, `${where}.start_period`) } : {}),
      ...(hc.retries !== undefined ? { Retries: hc.retries } : {}),
    };
  }

  const body: ContainerCreateBody & Record<string, unknown> = {
    Image: serviceImage(project, service),
    Labels: labels,
    Env: [...env, ...(run?.env ?? [])],
    ...(run?.command ? { Cmd: run.command } : service.command !== undefined ? { Cmd: service.command } : {}),
    ...(run?.entrypoint ? { Entrypoint: run.entrypoint } : service.entrypoint !== undefined ? { Entrypoint: service.entrypoint } : {}),
    ...(service.hostname ? { Hostname: service.hostname } : {}),
    ...(service.domainname ? { Domainname: service.domainname } : {}),
    ...(typeof (service as Record<string, unknown>).mac_address === 'string' ? { MacAddress: (service as Record<string, unknown>).mac_address as string } : {}),
    ...((run?.user ?? service.user) ? { User: run?.user ?? service.user } : {}),
    ...((run?.workdir ?? service.working_dir) ? { WorkingDir: run?.workdir ?? service.working_dir } : {}),
    ...(Object.keys(exposed).length ? { ExposedPorts: exposed } : {}),
    Tty: run?.tty ?? !!service.tty,
    OpenStdin: run?.stdinOpen ?? !!service.stdin_open,
    AttachStdin: !!run?.stdinOpen,
    AttachStdout: !!run,
    AttachStderr: !!run,
    StdinOnce: !!run?.stdinOpen,
    ...(service.stop_signal ? { StopSignal: service.stop_signal } : {}),
    ...(service.stop_grace_period ? { StopTimeout: Math.round(parseDurationNs(service.stop_grace_period, `services.${service.name}.stop_grace_period`) / 1e9) } : {}),
    ...(healthcheck ? { Healthcheck: healthcheck } : {}),
    HostConfig: host,
    ...(networking ? { NetworkingConfig: networking } : {}),
  };
  return { name, body };
}

/** The endpoint settings of `service` on one network: aliases (the service name first) and a fixed address. */
export function endpointConfig(service: Service, cfg: { aliases?: string[]; ipv4_address?: string; ipv6_address?: string } | null, containerName: string): Record<string, unknown> {
  const aliases = [service.name, ...(cfg?.aliases ?? [])];
  void containerName;
  const ipam = cfg?.ipv4_address || cfg?.ipv6_address ? { IPAMConfig: { ...(cfg.ipv4_address ? { IPv4Address: cfg.ipv4_address } : {}), ...(cfg.ipv6_address ? { IPv6Address: cfg.ipv6_address } : {}) } } : {};
  return { Aliases: [...new Set(aliases)], ...ipam };
}

function randomSlug(): string {
  return createHash('sha256').update(`${process.pid}-${Date.now()}-${Math.random()}`).digest('hex').slice(0, 12);
}
