/**
 * OCI specs for CRI records: a pod's sandbox (pause) container and the containers of a pod.
 * The engine calls the spec factory for every start; records carrying `cri` (set by
 * pod-service.ts / container-service.ts here) come to `buildCriSpec`, the others keep the
 * Docker factory. What the kubelet asked for is on the record (`rec.cri`); where the pod's
 * namespaces are is asked of the pod lookup at start time, since the pause container's PID
 * changes when it restarts.
 */
import type { SpecContext } from '../engine/collaborators.js';
import { readFile } from 'node:fs/promises';
import { InvalidParameterError, NotFoundError } from '../common/errors.js';
import { buildSpec, cgroupsPathFor, readHostDevices, type DeviceInput, type OciSpec } from '../runtime/spec.js';
import { resolveUserSpec, readFileInRoot } from '../runtime/user.js';
import type { OciMount, OciNamespace, OciSeccomp } from '../runtime/oci-spec.js';
import { readFileSync, statSync } from 'node:fs';
import type { ContainerRecord } from '../engine/types.js';
import type { Message } from './grpc.js';

/** What a sandbox record carries (`rec.cri` of the pause container). */
export interface SandboxCri {
  kind: 'sandbox';
  podId: string;
  /** The PodSandboxConfig as received. */
  config: Message;
  /** Pinned network namespace, '' with host networking. */
  netns: string;
  hostsPath: string;
  resolvConfPath: string;
  hostnamePath: string;
}

/** What a pod container's record carries. */
export interface ContainerCri {
  kind: 'container';
  podId: string;
  /** The ContainerConfig as received. */
  config: Message;
  /** The pod's PodSandboxConfig (namespaces, security, cgroup parent). */
  sandboxConfig: Message;
}

export interface PodNamespaces {
  /** Pinned netns path ('' = host). */
  netns: string;
  /** PID of the pod's pause process (for its ipc/uts/pid namespaces). */
  pausePid: number;
  hostsPath: string;
  resolvConfPath: string;
  hostnamePath: string;
}

export interface CriSpecOptions {
  /** berthd's cgroup parent, for pods whose config names none. */
  cgroupParent: string;
  restrictOomScoreAdj: boolean;
  /** The pod's namespaces right now (throws when the pod is gone or its sandbox is not running). */
  pod(podId: string): PodNamespaces;
  /** Host PID of a running container (NamespaceMode TARGET). */
  pidOf(containerId: string): number;
}

/** CRI NamespaceMode values. */
const NS = { POD: 'POD', CONTAINER: 'CONTAINER', NODE: 'NODE', TARGET: 'TARGET' } as const;

const DEFAULT_SANDBOX_OOM = -998;

/** The CRI spec factory; falls back to `base` for records that are not CRI's. */
export function createCriSpecFactory(options: CriSpecOptions, base: (rec: ContainerRecord, context?: SpecContext) => Promise<OciSpec>): (rec: ContainerRecord, context?: SpecContext) => Promise<OciSpec> {
  // The engine's context (link variables, pid/ipc peers) goes through to the Docker-side factory.
  return async (rec, context) => {
    const cri = rec.cri as unknown as SandboxCri | ContainerCri | undefined;
    if (!cri) return base(rec, context);
    return cri.kind === 'sandbox' ? sandboxSpec(rec, cri, options) : containerSpec(rec, cri, options);
  };
}

function cgroupParentOf(sandboxConfig: Message, options: CriSpecOptions): string {
  const p: string = sandboxConfig['linux']?.['cgroupParent'] || '';
  if (!p) return options.cgroupParent;
  if (!/^\/?[A-Za-z0-9_.:@-]+(\/[A-Za-z0-9_.:@-]+)*\/?$/.test(p)) throw new InvalidParameterError(`invalid cgroup parent "${p}"`);
  return (p.startsWith('/') ? p : `/${p}`).replace(/\/$/, '');
}

function oomScoreAdj(want: number, options: CriSpecOptions): number {
  if (!options.restrictOomScoreAdj) return want;
  // containerd's restrict_oom_score_adj: never below berthd's own (lowering it needs
  // CAP_SYS_RESOURCE, which root on some hosts lacks).
  let own = 0;
  try {
    own = Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim()) || 0;
  } catch {
    own = 0;
  }
  return Math.max(want, own);
}

/** seccomp from a CRI SecurityProfile (or the deprecated profile path). */
export async function seccompOf(sec: Message | null | undefined, privileged = false): Promise<'default' | 'unconfined' | OciSeccomp> {
  const prof = sec?.['seccomp'] as Message | null | undefined;
  let kind = '';
  let ref = '';
  if (prof && prof['profileType']) {
    kind = prof['profileType'] === 'RuntimeDefault' ? 'runtime/default' : prof['profileType'] === 'Unconfined' ? 'unconfined' : 'localhost';
    ref = prof['localhostRef'] || '';
    if (kind === 'localhost') ref = `localhost/${ref}`;
  } else {
    kind = sec?.['seccompProfilePath'] || '';
    ref = kind;
  }
  // A privileged container runs without seccomp whatever profile it names (containerd, CRI-O).
  if (privileged) return 'unconfined';
  // The CRI's default (no profile named) is unconfined, as in containerd and the kubelet's API.
  if (kind === 'unconfined' || kind === '') return 'unconfined';
  if (kind === 'runtime/default' || kind === 'docker/default') return 'default';
  if (ref.startsWith('localhost/')) {
    const path = ref.slice('localhost/'.length);
    if (!path.startsWith('/')) throw new InvalidParameterError(`seccomp profile "${ref}": the path must be absolute`);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      throw new InvalidParameterError(`cannot load seccomp profile "${path}": ${(e as Error).message}`);
    }
    try {
      return JSON.parse(text) as OciSeccomp;
    } catch (e) {
      throw new InvalidParameterError(`cannot load seccomp profile "${path}": ${(e as Error).message}`);
    }
  }
  throw new InvalidParameterError(`unknown seccomp profile "${ref}"`);
}

function nsEntry(type: OciNamespace['type'], path?: string): OciNamespace {
  return path ? { type, path } : { type };
}

async function sandboxSpec(rec: ContainerRecord, cri: SandboxCri, options: CriSpecOptions): Promise<OciSpec> {
  const cfg = cri.config;
  const linux = (cfg['linux'] ?? {}) as Message;
  const sec = (linux['securityContext'] ?? {}) as Message;
  const nsOpts = (sec['namespaceOptions'] ?? {}) as Message;
  const privileged = !!sec['privileged'];
  const user = await userOf(rec, sec, rec.config.user || '');
  const spec = buildSpec({
    args: [rec.path, ...rec.args],
    env: rec.config.env,
    cwd: rec.config.workingDir || '/',
    user,
    hostname: cfg['hostname'] || undefined,
    rootfs: rec.rootfs,
    readonlyRootfs: !!sec['readonlyRootfs'],
    mounts: [
      { destination: '/etc/resolv.conf', type: 'bind', source: cri.resolvConfPath, options: ['rbind', 'ro', 'rprivate'] },
      { destination: '/etc/hosts', type: 'bind', source: cri.hostsPath, options: ['rbind', 'ro', 'rprivate'] },
      { destination: '/etc/hostname', type: 'bind', source: cri.hostnamePath, options: ['rbind', 'ro', 'rprivate'] },
    ],
    privileged,
    noNewPrivileges: true,
    seccomp: await seccompOf(sec, privileged),
    cgroupsPath: cgroupsPathFor(rec.id, cgroupParentOf(cfg, options)),
    sysctls: linux['sysctls'] && Object.keys(linux['sysctls']).length ? linux['sysctls'] : undefined,
    oomScoreAdj: oomScoreAdj(DEFAULT_SANDBOX_OOM, options),
    annotations: { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': cri.podId },
  });
  const namespaces: OciNamespace[] = [{ type: 'mount' }];
  if (nsOpts['pid'] !== NS.NODE) namespaces.push(nsEntry('pid'));
  if (nsOpts['ipc'] !== NS.NODE) namespaces.push(nsEntry('ipc'));
  if (nsOpts['network'] !== NS.NODE) {
    namespaces.push(nsEntry('uts'));
    namespaces.push(nsEntry('network', cri.netns));
  }
  spec.linux!.namespaces = namespaces;
  if (nsOpts['network'] === NS.NODE) {
    delete spec.hostname;
  }
  if (nsOpts['ipc'] === NS.NODE) hostMqueue(spec);
  return spec;
}

/** With the host's IPC namespace, the container shares the host's /dev/mqueue (when the host has one mounted there). */
function hostMqueue(spec: OciSpec): void {
  try {
    if (!statSync('/dev/mqueue').isDirectory()) return;
  } catch {
    return;
  }
  const i = spec.mounts!.findIndex((m) => m.destination === '/dev/mqueue');
  if (i >= 0) spec.mounts![i] = { destination: '/dev/mqueue', type: 'bind', source: '/dev/mqueue', options: ['rbind', 'nosuid', 'noexec', 'nodev'] };
}

/** The process user: run_as_user / run_as_username / run_as_group over the image's USER. */
async function userOf(rec: ContainerRecord, sec: Message, imageUser: string): Promise<{ uid: number; gid: number; additionalGids?: number[] }> {
  const runAsUser = sec['runAsUser'] as Message | null;
  const runAsGroup = sec['runAsGroup'] as Message | null;
  const userName: string = sec['runAsUsername'] || '';
  let spec = imageUser;
  if (runAsUser) spec = String(runAsUser['value']);
  else if (userName) spec = userName;
  const [passwd, group] = await Promise.all([readFileInRoot(rec.rootfs, '/etc/passwd'), readFileInRoot(rec.rootfs, '/etc/group')]);
  // A uid of the image's USER with a group part keeps that group unless run_as_group says otherwise.
  let userPart = spec;
  let groupPart = '';
  const colon = spec.indexOf(':');
  if (colon >= 0) {
    userPart = spec.slice(0, colon);
    groupPart = spec.slice(colon + 1);
  }
  if (runAsGroup) groupPart = String(runAsGroup['value']);
  const u = resolveUserSpec(groupPart ? `${userPart}:${groupPart}` : userPart, passwd, group);
  // Groups the user is a member of in the image's /etc/group count even with an explicit group.
  const gids = new Set<number>(u.additionalGids ?? []);
  if (u.name) for (const g of resolveUserSpec(u.name, passwd, group).additionalGids ?? []) gids.add(g);
  for (const g of (sec['supplementalGroups'] as string[] | undefined) ?? []) gids.add(Number(g));
  gids.delete(u.gid);
  return { uid: u.uid, gid: u.gid, additionalGids: [...gids] };
}

async function containerSpec(rec: ContainerRecord, cri: ContainerCri, options: CriSpecOptions): Promise<OciSpec> {
  const cfg = cri.config;
  const linux = (cfg['linux'] ?? {}) as Message;
  const sec = (linux['securityContext'] ?? {}) as Message;
  const nsOpts = (sec['namespaceOptions'] ?? {}) as Message;
  const sbSec = (cri.sandboxConfig['linux']?.['securityContext'] ?? {}) as Message;
  const privileged = !!sec['privileged'];
  if (privileged && !sbSec['privileged']) throw new InvalidParameterError('no privileged container allowed in sandbox');
  const pod = options.pod(cri.podId);
  const user = await userOf(rec, sec, rec.config.user || '');
  const mounts: OciMount[] = [];
  const ro = !!sec['readonlyRootfs'];
  const mountSet = new Set(((cfg['mounts'] ?? []) as Message[]).map((m) => m['containerPath'] as string));
  if (!mountSet.has('/etc/hosts')) mounts.push({ destination: '/etc/hosts', type: 'bind', source: pod.hostsPath, options: ['rbind', 'rprivate', ro ? 'ro' : 'rw'] });
  if (!mountSet.has('/etc/resolv.conf')) mounts.push({ destination: '/etc/resolv.conf', type: 'bind', source: pod.resolvConfPath, options: ['rbind', 'rprivate', ro ? 'ro' : 'rw'] });
  if (!mountSet.has('/etc/hostname')) mounts.push({ destination: '/etc/hostname', type: 'bind', source: pod.hostnamePath, options: ['rbind', 'rprivate', ro ? 'ro' : 'rw'] });
  let rootfsPropagation: string | undefined;
  for (const m of (cfg['mounts'] ?? []) as Message[]) {
    const src: string = m['hostPath'];
    const dst: string = m['containerPath'];
    if (!dst.startsWith('/')) throw new InvalidParameterError(`mount destination "${dst}" must be an absolute path`);
    let prop = 'rprivate';
    if (m['propagation'] === 'PROPAGATION_HOST_TO_CONTAINER') {
      prop = 'rslave';
      rootfsPropagation ??= 'rslave';
    } else if (m['propagation'] === 'PROPAGATION_BIDIRECTIONAL') {
      prop = 'rshared';
      rootfsPropagation = 'rshared';
    }
    try {
      statSync(src);
    } catch {
      throw new NotFoundError(`failed to mount ${src}: the host path does not exist`);
    }
    mounts.push({ destination: dst, type: 'bind', source: src, options: ['rbind', prop, m['readonly'] ? 'ro' : 'rw'] });
  }
  const devices: DeviceInput[] = privileged ? await readHostDevices() : [];
  for (const d of (cfg['devices'] ?? []) as Message[]) {
    let st;
    try {
      st = statSync(d['hostPath']);
    } catch {
      throw new NotFoundError(`device "${d['hostPath']}" does not exist`);
    }
    if (!st.isCharacterDevice() && !st.isBlockDevice()) throw new InvalidParameterError(`"${d['hostPath']}" is not a device`);
    const rdev = st.rdev;
    devices.push({
      path: d['containerPath'] || d['hostPath'],
      type: st.isCharacterDevice() ? 'c' : 'b',
      major: Number((BigInt(rdev) >> 8n) & 0xfffn),
      minor: Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & 0xfff00n)),
      fileMode: st.mode & 0o777,
      permissions: d['permissions'] || 'rwm',
    });
  }
  const res = (linux['resources'] ?? {}) as Message;
  const caps = (sec['capabilities'] ?? {}) as Message;
  const env = [...rec.config.env];
  const spec = buildSpec({
    args: [rec.path, ...rec.args],
    env,
    cwd: rec.config.workingDir || '/',
    user,
    hostname: pod.netns === '' ? undefined : (cri.sandboxConfig['hostname'] || undefined),
    terminal: !!cfg['tty'],
    rootfs: rec.rootfs,
    readonlyRootfs: ro,
    mounts,
    capAdd: caps['addCapabilities'] ?? [],
    capDrop: caps['dropCapabilities'] ?? [],
    privileged,
    noNewPrivileges: !!sec['noNewPrivs'],
    seccomp: await seccompOf(sec, privileged),
    cgroupsPath: cgroupsPathFor(rec.id, cgroupParentOf(cri.sandboxConfig, options)),
    resources: resourcesOf(res),
    devices,
    oomScoreAdj: oomScoreAdj(Number(res['oomScoreAdj'] ?? 0), options),
    annotations: { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': cri.podId, ...(cfg['annotations'] ?? {}) },
  });
  if (!privileged) {
    const masked = (sec['maskedPaths'] ?? []) as string[];
    const readonly = (sec['readonlyPaths'] ?? []) as string[];
    if (masked.length) spec.linux!.maskedPaths = masked;
    if (readonly.length) spec.linux!.readonlyPaths = readonly;
  }
  const ambient = ((caps['addAmbientCapabilities'] ?? []) as string[]).map((c) => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`));
  if (ambient.length) {
    const c = spec.process!.capabilities!;
    c.ambient = ambient.filter((a) => c.bounding?.includes(a));
    c.inheritable = c.ambient;
  }
  if (rootfsPropagation) spec.linux!.rootfsPropagation = rootfsPropagation;
  // Namespaces: network, ipc and uts are the pod's; pid as the config asks.
  const namespaces: OciNamespace[] = [{ type: 'mount' }];
  const pausePid = pod.pausePid;
  const podNs = (kind: string): string => {
    if (!pausePid) throw new InvalidParameterError(`the sandbox of pod ${cri.podId} is not running`);
    return `/proc/${pausePid}/ns/${kind}`;
  };
  const pidMode = nsOpts['pid'];
  if (pidMode === NS.POD) namespaces.push(nsEntry('pid', podNs('pid')));
  else if (pidMode === NS.TARGET) namespaces.push(nsEntry('pid', `/proc/${options.pidOf(nsOpts['targetId'])}/ns/pid`));
  else if (pidMode !== NS.NODE) namespaces.push(nsEntry('pid'));
  if (nsOpts['ipc'] !== NS.NODE) namespaces.push(nsEntry('ipc', podNs('ipc')));
  else hostMqueue(spec);
  if (nsOpts['network'] !== NS.NODE) {
    namespaces.push(nsEntry('uts', podNs('uts')));
    namespaces.push(nsEntry('network', pod.netns || podNs('net')));
  } else {
    delete spec.hostname;
  }
  spec.linux!.namespaces = namespaces;
  if (spec.hostname === undefined) delete spec.hostname;
  // The pod's sysctls apply to its containers' namespaces (already set in the sandbox's; these are namespaced).
  if (cri.sandboxConfig['linux']?.['sysctls'] && Object.keys(cri.sandboxConfig['linux']['sysctls']).length) {
    spec.linux!.sysctl = { ...cri.sandboxConfig['linux']['sysctls'] };
  }
  return spec;
}

/** CRI LinuxContainerResources → berth's resource input. */
export function resourcesOf(res: Message): import('../runtime/spec.js').ResourcesInput {
  const n = (v: unknown): number | undefined => {
    const x = Number(v ?? 0);
    return x ? x : undefined;
  };
  return {
    cpuShares: n(res['cpuShares']),
    cpuQuota: n(res['cpuQuota']),
    cpuPeriod: n(res['cpuPeriod']),
    memory: n(res['memoryLimitInBytes']),
    memorySwap: n(res['memorySwapLimitInBytes']) ?? n(res['memoryLimitInBytes']),
    cpusetCpus: res['cpusetCpus'] || undefined,
    cpusetMems: res['cpusetMems'] || undefined,
  };
}

