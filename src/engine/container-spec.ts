/**
 * A container's specification before it becomes a record: what a create request may ask for
 * (validateHost, Docker's refusals), how it merges with the image's config (Entrypoint/Cmd,
 * Env, Labels, ...) into a new record, and the helpers the rest of the engine shares (env
 * merging, size strings, the OCI resources of the limits `update` changes). Pure: no I/O.
 */
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { InvalidParameterError, NotFoundError } from '../common/errors.js';
import { mergeHealthCheck } from './health.js';
import { parseSecurityOpts } from './spec-factory.js';
import { validateLogConfig } from './logging/drivers.js';
import type { ImageRunConfig } from './collaborators.js';
import type { ContainerRecord, ContainerSpec, HostSpec } from './types.js';

/** Docker's /dev/shm size when the client sends none or 0 (the docker CLI always sends 0). */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Go's zero time, as Docker shows a container that never started or finished. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface NewRecordOptions {
  id: string;
  name: string;
  /** `<containers-root>/<id>`. */
  dir: string;
  /** The cgroup namespace of a container that asks for none. */
  defaultCgroupnsMode?: 'host' | 'private';
}

/**
 * The record of a new container: the request merged with its image's config, in state
 * `created`, with its paths under `dir`. Throws InvalidParameterError when nothing is to run.
 */
export function newContainerRecord(spec: ContainerSpec, image: { id: string; config: ImageRunConfig }, o: NewRecordOptions): ContainerRecord {
  const { id, name, dir } = o;
  const ic = image.config;
  // Docker's merge with the image config (daemon/commit.go merge): an Entrypoint that is
  // missing or null takes the image's; [] and [""] (the docker CLI's `--entrypoint ""`) mean
  // "no entrypoint". Cmd empty or null takes the image's only when no entrypoint was given as
  // a non-empty list (an explicit entrypoint discards the image's CMD).
  const userEntrypoint = spec.entrypoint && spec.entrypoint.length === 1 && spec.entrypoint[0] === '' ? [] : spec.entrypoint;
  let entrypoint: string[] | null;
  let cmd: string[] | null = spec.cmd && spec.cmd.length > 0 ? spec.cmd : null;
  if (userEntrypoint === undefined || userEntrypoint === null) {
    entrypoint = ic.Entrypoint ?? null;
    if (!cmd) cmd = ic.Cmd ?? null;
  } else {
    entrypoint = userEntrypoint;
    if (!cmd && userEntrypoint.length === 0 && spec.entrypoint?.length === 0) cmd = ic.Cmd ?? null;
  }
  const argv = [...(entrypoint ?? []), ...(cmd ?? [])];
  if (argv.length === 0) throw new InvalidParameterError('No command specified');

  const env = mergeEnv(ic.Env ?? [], spec.env ?? []);
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH_ENV);

  // Docker: a container sharing the host's network or UTS namespace takes the host's name.
  const hostNamespace = spec.host.networkMode === 'host' || spec.host.utsMode === 'host';
  const hostname = spec.hostname || (hostNamespace ? osHostname() : id.slice(0, 12));
  return {
    id,
    name,
    created: new Date().toISOString(),
    image: spec.image,
    imageId: image.id,
    layers: [],
    path: argv[0]!,
    args: argv.slice(1),
    config: {
      image: spec.image,
      cmd,
      entrypoint,
      env,
      workingDir: spec.workingDir || ic.WorkingDir || '',
      // '' (what the docker CLI sends when --user is not given) is "the image's user".
      user: spec.user || ic.User || '',
      hostname,
      domainname: spec.domainname ?? '',
      labels: { ...(ic.Labels ?? {}), ...(spec.labels ?? {}) },
      tty: spec.tty ?? false,
      openStdin: spec.openStdin ?? false,
      stdinOnce: spec.stdinOnce ?? false,
      attachStdin: spec.attachStdin ?? false,
      attachStdout: spec.attachStdout ?? false,
      attachStderr: spec.attachStderr ?? false,
      stopSignal: spec.stopSignal || ic.StopSignal || 'SIGTERM',
      stopTimeout: spec.stopTimeout,
      exposedPorts: { ...(ic.ExposedPorts ?? {}), ...(spec.exposedPorts ?? {}) },
      volumes: { ...(ic.Volumes ?? {}), ...(spec.volumes ?? {}) },
      healthcheck: mergeHealthCheck(
        ic.Healthcheck ? { test: ic.Healthcheck.Test, interval: ic.Healthcheck.Interval, timeout: ic.Healthcheck.Timeout, startPeriod: ic.Healthcheck.StartPeriod, retries: ic.Healthcheck.Retries } : undefined,
        spec.healthcheck,
      ),
    },
    host: {
      ...spec.host,
      restartPolicy: spec.host.restartPolicy ?? { name: 'no', maximumRetryCount: 0 },
      logConfig: spec.host.logConfig ?? { type: 'json-file', config: {} },
      // An empty or zero value from a client means "the default" (issue 24 item 2): the docker CLI always sends ShmSize 0.
      shmSize: spec.host.shmSize || DEFAULT_SHM_SIZE,
      cgroupnsMode: spec.host.cgroupnsMode || o.defaultCgroupnsMode || 'host',
    },
    state: { status: 'created', pid: 0, monitorPid: 0, exitCode: 0, error: '', oomKilled: false, startedAt: ZERO_TIME, finishedAt: ZERO_TIME },
    ...(spec.buildStep ? { buildStep: true } : {}),
    restartCount: 0,
    dir,
    logPath: spec.logPath || join(dir, 'container.log'),
    hostnamePath: join(dir, 'hostname'),
    hostsPath: join(dir, 'hosts'),
    resolvConfPath: join(dir, 'resolv.conf'),
    rootfs: join(dir, 'rootfs'),
    driver: 'overlay2',
    ...(spec.cri ? { cri: spec.cri } : {}),
  };
}

/** Image env first, then the container's, later keys replacing earlier ones in place. */
export function mergeEnv(base: string[], extra: string[]): string[] {
  const out: string[] = [];
  const index = new Map<string, number>();
  for (const e of [...base, ...extra]) {
    const key = e.includes('=') ? e.slice(0, e.indexOf('=')) : e;
    const i = index.get(key);
    if (i !== undefined) out[i] = e;
    else {
      index.set(key, out.length);
      out.push(e);
    }
  }
  return out;
}

/** Parses Docker's size strings (`10m`, `1g`, `500k`, `1024`). */
export function parseSize(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(v.trim());
  if (!m) throw new InvalidParameterError(`invalid size: '${v}'`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}

/** Docker's checks of a create (or update) request's host settings; a bad one is a 400, nothing made. */
export function validateHost(spec: ContainerSpec): void {
  const rp = spec.host.restartPolicy;
  if (rp && !['', 'no', 'always', 'on-failure', 'unless-stopped'].includes(rp.name)) {
    throw new InvalidParameterError(`invalid restart policy '${rp.name}'`);
  }
  if (rp && rp.name !== 'on-failure' && rp.maximumRetryCount > 0) {
    throw new InvalidParameterError(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  }
  if (spec.host.autoRemove && rp && rp.name !== '' && rp.name !== 'no') {
    throw new InvalidParameterError('can\'t create \'AutoRemove\' container with restart policy');
  }
  const lc = spec.host.logConfig;
  if (lc) validateLogConfig(lc.type || 'json-file', lc.config ?? {});
  if (spec.host.shmSize !== undefined && spec.host.shmSize !== null && (!Number.isInteger(spec.host.shmSize) || spec.host.shmSize < 0)) {
    throw new InvalidParameterError('SHM size can not be less than 0');
  }
  const cgns = spec.host.cgroupnsMode;
  if (cgns && cgns !== 'host' && cgns !== 'private') throw new InvalidParameterError(`invalid cgroup namespace mode: ${cgns}`);
  for (const opt of spec.host.securityOpt ?? []) {
    if (!/^(no-new-privileges(:true|:false|=true|=false)?|seccomp[=:].+|apparmor[=:].+|label[=:].+)$/s.test(opt)) {
      throw new InvalidParameterError(`Invalid --security-opt: "${opt}"`);
    }
  }
  // A custom seccomp profile is validated now, so a bad one is a 400 at create rather than a failed start.
  parseSecurityOpts(spec.host.securityOpt ?? []);
}

/** The OCI LinuxResources for a container's limits (what `update` changes at run time). */
export function ociResources(h: HostSpec): Record<string, unknown> {
  const quota = h.nanoCpus ? Math.round((h.nanoCpus / 1e9) * 100_000) : h.cpuQuota;
  const period = h.nanoCpus ? 100_000 : h.cpuPeriod;
  const memory: Record<string, number> = {};
  if (h.memory) memory['limit'] = h.memory;
  if (h.memorySwap) memory['swap'] = h.memorySwap;
  const cpu: Record<string, unknown> = {};
  if (h.cpuShares) cpu['shares'] = h.cpuShares;
  if (quota) cpu['quota'] = quota;
  if (period) cpu['period'] = period;
  if (h.cpusetCpus) cpu['cpus'] = h.cpusetCpus;
  const out: Record<string, unknown> = { memory, cpu };
  if (h.pidsLimit !== undefined && h.pidsLimit !== 0) out['pids'] = { limit: h.pidsLimit > 0 ? h.pidsLimit : -1 };
  return out;
}

/** A volume driver other than `local` is a plugin berth does not have: refused when the container asks for volumes. */
export function checkVolumeDriver(spec: ContainerSpec, ic: ImageRunConfig): void {
  const vd = spec.host.volumeDriver;
  if (!vd || vd === 'local') return;
  const wantsVolumes = Object.keys({ ...(ic.Volumes ?? {}), ...(spec.volumes ?? {}) }).length > 0 || (spec.host.binds ?? []).some((b) => !b.startsWith('/'));
  if (wantsVolumes) throw new NotFoundError(`error looking up volume plugin ${vd}: plugin "${vd}" not found`);
}
