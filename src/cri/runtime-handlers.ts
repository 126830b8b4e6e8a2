/**
 * `runtime.v1.RuntimeService`: pod sandboxes and their containers over berth's engine.
 *
 * A pod is (docs/kubernetes.md): a pinned network namespace (a bind-mounted nsfs file under
 * `<exec-root>/cri/netns`, set up by the CNI plugins), a pause container from the sandbox image
 * that holds the pod's IPC, UTS and PID namespaces (and joins the pinned netns), and pod files
 * (hostname, hosts, resolv.conf) that every container of the pod mounts. The pod's ID is the
 * pause container's ID. Pod containers are engine containers whose spec joins those
 * namespaces (cri-spec.ts), so `berth ps` shows them all, named as the kubelet's dockershim
 * did (`k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { CommandRunner } from '../common/command-runner.js';
import { ConflictError, InvalidParameterError, isNotFound, isNotModified, NotFoundError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { generateId } from '../common/ids.js';
import type { ContainerService } from '../engine/container-service.js';
import type { ContainerRecord } from '../engine/types.js';
import { reopenLog } from '../runtime/conmon-attach.js';
import type { CniNetwork, CniPortMapping } from './cni.js';
import { seccompOf, type ContainerCri, type PodNamespaces, type SandboxCri } from './cri-spec.js';
import { DeadlineError, type Message } from './grpc.js';
import { PodStore, type PodRecord } from './pod-store.js';
import { qualify } from './image-handlers.js';
import type { StreamingServer } from './streaming-server.js';

export interface RuntimeHandlerDeps {
  containers: ContainerService;
  cni: CniNetwork;
  runner: CommandRunner;
  log: Logger;
  /** `<data-root>/cri`. */
  root: string;
  /** `<exec-root>/cri`. */
  execRoot: string;
  sandboxImage: string;
  version: string;
  /** Makes sure an image is present (pulls it through the mirrors when not). */
  ensureImage(ref: string): Promise<void>;
  imageIdOf(ref: string): string;
  streaming: StreamingServer;
}

const ZERO = '0001-01-01T00:00:00Z';
const nanos = (iso: string): string => (iso && iso !== ZERO ? String(BigInt(Date.parse(iso)) * 1_000_000n) : '0');
const nowNanos = (): string => String(BigInt(Date.now()) * 1_000_000n);

function requireMeta(m: Message | null | undefined, what: string): { name: string; namespace: string; uid: string; attempt: number } {
  if (!m || !m['name']) throw new InvalidParameterError(`${what}: metadata.name is required`);
  return { name: m['name'], namespace: m['namespace'] ?? '', uid: m['uid'] ?? '', attempt: Number(m['attempt'] ?? 0) };
}

/** A name berth accepts: what the kubelet sends, with anything else made safe. */
function safe(s: string): string {
  return s.replace(/[^a-zA-Z0-9_.-]/g, '-');
}

function matchLabels(labels: Record<string, string>, selector: Record<string, string> | undefined): boolean {
  for (const [k, v] of Object.entries(selector ?? {})) if (labels[k] !== v) return false;
  return true;
}

export class CriRuntime {
  readonly #d: RuntimeHandlerDeps;
  readonly pods: PodStore;

  constructor(deps: RuntimeHandlerDeps) {
    this.#d = deps;
    this.pods = new PodStore(join(deps.root, 'pods'));
  }

  /** After a daemon (re)start: pods whose pause container died while berthd was down lose their network (CNI DEL). */
  async restore(): Promise<void> {
    for (const p of this.pods.list()) {
      if (p.stopped) continue;
      if (!this.#pauseRunning(p)) {
        this.#d.log.info({ pod: p.id }, 'pod sandbox found stopped: releasing its network');
        await this.#tearDownNetwork(p).catch((err) => this.#d.log.warn({ err, pod: p.id }, 'releasing the pod network failed'));
      }
    }
  }

  #pause(p: PodRecord): ContainerRecord | undefined {
    try {
      return this.#d.containers.get(p.id);
    } catch {
      return undefined;
    }
  }

  #pauseRunning(p: PodRecord): boolean {
    const c = this.#pause(p);
    return !!c && (c.state.status === 'running' || c.state.status === 'paused');
  }

  /** For the spec factory: the pod's namespaces now. */
  namespaces(podId: string): PodNamespaces {
    const p = this.pods.get(podId);
    if (!p) throw new NotFoundError(`pod sandbox ${podId} not found`);
    const c = this.#pause(p);
    return { netns: p.netns, pausePid: c && c.state.status === 'running' ? c.state.pid : 0, hostsPath: p.hostsPath, resolvConfPath: p.resolvConfPath, hostnamePath: p.hostnamePath };
  }

  /** Finds a pod by ID or unique ID prefix. */
  #pod(ref: string): PodRecord {
    if (!ref) throw new InvalidParameterError('pod sandbox ID is required');
    const exact = this.pods.get(ref);
    if (exact) return exact;
    const m = this.pods.list().filter((p) => p.id.startsWith(ref));
    if (m.length === 1) return m[0]!;
    if (m.length > 1) throw new InvalidParameterError(`pod sandbox ID "${ref}" is ambiguous`);
    throw new NotFoundError(`pod sandbox ${ref} not found`);
  }

  /** A CRI container (not a sandbox) by ID or unique prefix. */
  #container(ref: string): ContainerRecord & { cri: ContainerCri } {
    if (!ref) throw new InvalidParameterError('container ID is required');
    const c = this.#d.containers.get(ref);
    const cri = c.cri as unknown as ContainerCri | undefined;
    if (!cri || cri.kind !== 'container') throw new NotFoundError(`container ${ref} not found`);
    return c as ContainerRecord & { cri: ContainerCri };
  }

  #podContainers(podId: string): ContainerRecord[] {
    return this.#d.containers.list({ all: true }).filter((c) => (c.cri as unknown as ContainerCri | undefined)?.kind === 'container' && (c.cri as unknown as ContainerCri).podId === podId);
  }

  // ---- pod sandboxes ----

  async runPodSandbox(req: Message): Promise<Message> {
    const config = req['config'] as Message | null;
    if (!config) throw new InvalidParameterError('RunPodSandbox: config is required');
    const meta = requireMeta(config['metadata'], 'RunPodSandbox');
    const handler: string = req['runtimeHandler'] ?? '';
    if (handler && handler !== 'berth' && handler !== 'runc' && handler !== 'crun') throw new NotFoundError(`no runtime for "${handler}" is configured`);
    const linux = (config['linux'] ?? {}) as Message;
    await validateSecurity(linux['securityContext'] as Message | null);
    const nsOpts = (linux['securityContext']?.['namespaceOptions'] ?? {}) as Message;
    const hostNetwork = nsOpts['network'] === 'NODE';
    const key = randomBytes(16).toString('hex');
    const dir = join(this.#d.root, 'sandboxes', key);
    await mkdir(dir, { recursive: true, mode: 0o711 });
    const p: PodRecord = {
      id: '',
      key,
      config,
      createdAt: nowNanos(),
      stopped: false,
      runtimeHandler: handler,
      netns: '',
      hostNetwork,
      ips: [],
      dir,
      hostsPath: join(dir, 'hosts'),
      resolvConfPath: join(dir, 'resolv.conf'),
      hostnamePath: join(dir, 'hostname'),
    };
    let pauseId = '';
    // Pod start latency (issue 18, bench/cri-bench.sh): the steps that do not depend on each
    // other run at once. The pinned netns is made while the pause container's rootfs and files
    // are prepared; CNI ADD (bridge, host-local, portmap: a plugin exec each) runs while the
    // pause container is started (overlay mount, conmon + crun create, crun start), since the
    // pause container only joins the netns by path and needs nothing CNI sets up. Measured on
    // 2 shared cores: RunPodSandbox 90-100 ms with these in series, 60-75 ms so (the pause
    // start is the longer branch). The phases' times go into the "pod sandbox running" line.
    let netnsMade: Promise<void> = Promise.resolve();
    const t0 = performance.now();
    const took: Record<string, number> = {};
    const lap = (what: string) => (took[what] = Math.round(performance.now() - t0));
    try {
      const hostname: string = hostNetwork ? osHostname() : config['hostname'] || meta.name;
      const hosts = hostNetwork ? readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1\tlocalhost\n') : '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';
      await Promise.all([
        writeFile(p.hostnamePath, `${hostname}\n`),
        (async () => writeFile(p.hostsPath, await hosts))(),
        (async () => writeFile(p.resolvConfPath, await resolvConf(config['dnsConfig'] as Message | null)))(),
      ]);
      await this.#d.ensureImage(this.#d.sandboxImage);
      if (!hostNetwork) {
        p.netns = join(this.#d.execRoot, 'netns', key);
        netnsMade = this.#makeNetns(p.netns);
        // Settled here too, so a failed create never leaves it unobserved; awaited below.
        netnsMade.catch(() => {});
      }
      const cri: SandboxCri = { kind: 'sandbox', podId: key, config, netns: p.netns, hostsPath: p.hostsPath, resolvConfPath: p.resolvConfPath, hostnamePath: p.hostnamePath };
      const created = await this.#d.containers.create({
        name: safe(`k8s_POD_${meta.name}_${meta.namespace}_${meta.uid}_${meta.attempt}`),
        image: this.#d.sandboxImage,
        labels: { ...(config['labels'] ?? {}), 'io.kubernetes.cri.container-type': 'sandbox' },
        host: { networkMode: 'none' },
        cri: cri as unknown as Record<string, unknown>,
      });
      pauseId = created.id;
      p.id = pauseId;
      lap('created');
      await netnsMade;
      lap('netns');
      this.pods.save(p);
      const network = (async () => {
        if (hostNetwork) return;
        const ports: CniPortMapping[] = ((config['portMappings'] ?? []) as Message[])
          .filter((m) => Number(m['hostPort']) > 0)
          .map((m) => ({ hostPort: Number(m['hostPort']), containerPort: Number(m['containerPort']), protocol: (String(m['protocol'] || 'TCP').toLowerCase() as 'tcp'), ...(m['hostIp'] ? { hostIP: m['hostIp'] as string } : {}) }));
        const res = await this.#d.cni.add({ containerId: pauseId, netns: p.netns, ifName: 'eth0', args: this.#cniArgs(p), portMappings: ports });
        p.cni = { conf: res.conf, ...(res.result ? { result: res.result } : {}) };
        p.ips = res.ips;
        this.pods.save(p);
        lap('cni');
      })();
      // Both settle before anything is cleaned up, so a failure of one never races the other.
      const [networked, started] = await Promise.allSettled([network, this.#d.containers.start(pauseId).then(() => lap('started'))]);
      if (networked.status === 'rejected') throw networked.reason;
      if (started.status === 'rejected') throw started.reason;
    } catch (err) {
      await netnsMade.catch(() => {});
      if (p.id) {
        await this.#tearDownNetwork(p).catch(() => {});
        this.pods.delete(p.id);
      } else if (p.netns) {
        await this.#d.runner.run(['umount', p.netns], { check: false }).catch(() => {});
        await rm(p.netns, { force: true });
      }
      if (pauseId) await this.#d.containers.remove(pauseId, { force: true }).catch(() => {});
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    this.#d.log.info({ pod: p.id, name: meta.name, namespace: meta.namespace, ms: took }, 'pod sandbox running');
    return { podSandboxId: p.id };
  }

  /** A new network namespace pinned at `file` (a bind mount of its nsfs file), loopback up. */
  async #makeNetns(file: string): Promise<void> {
    await mkdir(join(this.#d.execRoot, 'netns'), { recursive: true });
    await writeFile(file, '');
    await this.#d.runner.run(['unshare', `--net=${file}`, 'ip', 'link', 'set', 'lo', 'up']);
  }

  #cniArgs(p: PodRecord): Record<string, string> {
    const m = (p.config['metadata'] ?? {}) as Message;
    return { K8S_POD_NAMESPACE: m['namespace'] ?? '', K8S_POD_NAME: m['name'] ?? '', K8S_POD_INFRA_CONTAINER_ID: p.id, K8S_POD_UID: m['uid'] ?? '' };
  }

  /** CNI DEL (with the config ADD used) and the pinned namespace's removal; idempotent. */
  async #tearDownNetwork(p: PodRecord): Promise<void> {
    if (p.netns) {
      if (p.cni) {
        const ports = ((p.config['portMappings'] ?? []) as Message[]).filter((m) => Number(m['hostPort']) > 0).map((m) => ({ hostPort: Number(m['hostPort']), containerPort: Number(m['containerPort']), protocol: String(m['protocol'] || 'TCP').toLowerCase() as 'tcp' }));
        await this.#d.cni.del({ containerId: p.id, netns: p.netns, ifName: 'eth0', args: this.#cniArgs(p), portMappings: ports }, p.cni);
      }
      await this.#d.runner.run(['umount', p.netns], { check: false });
      await rm(p.netns, { force: true });
    }
    p.netns = '';
    delete p.cni;
    p.stopped = true;
    if (this.pods.get(p.id)) this.pods.save(p);
  }

  async stopPodSandbox(req: Message): Promise<Message> {
    let p: PodRecord;
    try {
      p = this.#pod(req['podSandboxId']);
    } catch (e) {
      // CRI: stopping a pod that is gone is not an error.
      if (isNotFound(e)) return {};
      throw e;
    }
    for (const c of this.#podContainers(p.id)) await this.#stopQuietly(c.id, 0);
    await this.#stopQuietly(p.id, 0);
    await this.#tearDownNetwork(p);
    return {};
  }

  async #stopQuietly(id: string, timeout: number): Promise<void> {
    try {
      await this.#d.containers.stop(id, { timeout });
    } catch (e) {
      if (!isNotModified(e) && !isNotFound(e)) throw e;
    }
  }

  async removePodSandbox(req: Message): Promise<Message> {
    let p: PodRecord;
    try {
      p = this.#pod(req['podSandboxId']);
    } catch (e) {
      if (isNotFound(e)) return {};
      throw e;
    }
    for (const c of this.#podContainers(p.id)) await this.#d.containers.remove(c.id, { force: true }).catch((e: unknown) => { if (!isNotFound(e)) throw e; });
    await this.#stopQuietly(p.id, 0);
    await this.#tearDownNetwork(p);
    await this.#d.containers.remove(p.id, { force: true }).catch((e: unknown) => { if (!isNotFound(e)) throw e; });
    this.pods.delete(p.id);
    await rm(p.dir, { recursive: true, force: true });
    return {};
  }

  #podState(p: PodRecord): string {
    return !p.stopped && this.#pauseRunning(p) ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY';
  }

  #podStatus(p: PodRecord): Message {
    const nsOpts = (p.config['linux']?.['securityContext']?.['namespaceOptions'] ?? {}) as Message;
    return {
      id: p.id,
      metadata: p.config['metadata'],
      state: this.#podState(p),
      createdAt: p.createdAt,
      network: p.hostNetwork ? null : { ip: p.ips[0] ?? '', additionalIps: p.ips.slice(1).map((ip) => ({ ip })) },
      linux: { namespaces: { options: { network: nsOpts['network'] ?? 'POD', pid: nsOpts['pid'] ?? 'POD', ipc: nsOpts['ipc'] ?? 'POD', targetId: '' } } },
      labels: p.config['labels'] ?? {},
      annotations: p.config['annotations'] ?? {},
      runtimeHandler: p.runtimeHandler,
    };
  }

  async podSandboxStatus(req: Message): Promise<Message> {
    const p = this.#pod(req['podSandboxId']);
    const info: Record<string, string> = {};
    if (req['verbose']) {
      const c = this.#pause(p);
      info['info'] = JSON.stringify({ pid: c?.state.pid ?? 0, netNamespacePath: p.netns, image: this.#d.sandboxImage, config: p.config, runtimeHandler: p.runtimeHandler });
    }
    return { status: this.#podStatus(p), info, containersStatuses: [], timestamp: nowNanos() };
  }

  async listPodSandbox(req: Message): Promise<Message> {
    const f = (req['filter'] ?? {}) as Message;
    const items: Message[] = [];
    for (const p of this.pods.list()) {
      if (f['id'] && !p.id.startsWith(f['id'])) continue;
      const state = this.#podState(p);
      if (f['state'] && f['state']['state'] !== state) continue;
      if (!matchLabels(p.config['labels'] ?? {}, f['labelSelector'])) continue;
      items.push({ id: p.id, metadata: p.config['metadata'], state, createdAt: p.createdAt, labels: p.config['labels'] ?? {}, annotations: p.config['annotations'] ?? {}, runtimeHandler: p.runtimeHandler });
    }
    return { items };
  }

  // ---- containers ----

  async createContainer(req: Message): Promise<Message> {
    const p = this.#pod(req['podSandboxId']);
    const config = req['config'] as Message | null;
    if (!config) throw new InvalidParameterError('CreateContainer: config is required');
    const meta = requireMeta(config['metadata'], 'CreateContainer');
    const image: string = config['image']?.['image'] ?? '';
    if (!image) throw new InvalidParameterError('CreateContainer: config.image is required');
    const sandboxConfig = (req['sandboxConfig'] as Message | null) ?? p.config;
    await validateSecurity(config['linux']?.['securityContext'] as Message | null);
    const podMeta = (p.config['metadata'] ?? {}) as Message;
    const logDir: string = sandboxConfig['logDirectory'] || p.config['logDirectory'] || '';
    const logPath = logDir && config['logPath'] ? join(logDir, config['logPath']) : undefined;
    const cri: ContainerCri = { kind: 'container', podId: p.id, config, sandboxConfig };
    const command = (config['command'] ?? []) as string[];
    const args = (config['args'] ?? []) as string[];
    const { id } = await this.#d.containers.create({
      name: safe(`k8s_${meta.name}_${podMeta['name'] ?? ''}_${podMeta['namespace'] ?? ''}_${podMeta['uid'] ?? ''}_${meta.attempt}`),
      image,
      ...(command.length ? { entrypoint: command } : {}),
      ...(args.length ? { cmd: args } : {}),
      env: ((config['envs'] ?? []) as Message[]).map((e) => `${e['key']}=${e['value']}`),
      ...(config['workingDir'] ? { workingDir: config['workingDir'] as string } : {}),
      labels: { ...(config['labels'] ?? {}), 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': p.id },
      tty: !!config['tty'],
      openStdin: !!config['stdin'],
      stdinOnce: !!config['stdinOnce'],
      host: { networkMode: 'none' },
      ...(logPath ? { logPath } : {}),
      cri: cri as unknown as Record<string, unknown>,
    });
    return { containerId: id };
  }

  async startContainer(req: Message): Promise<Message> {
    const c = this.#container(req['containerId']);
    const p = this.#pod(c.cri.podId);
    if (!this.#pauseRunning(p) || p.stopped) throw new ConflictError(`sandbox container ${p.id} is not running`);
    await this.#d.containers.start(c.id);
    return {};
  }

  async stopContainer(req: Message): Promise<Message> {
    const c = this.#container(req['containerId']);
    await this.#stopGracefully(c.id, Number(req['timeout'] ?? 0));
    return {};
  }

  /**
   * The stop signal, the grace period, then SIGKILL. The signal is sent once more after a
   * second: one that arrives while the runtime is still exec'ing the process (a stop right
   * after a start) finds no handler yet and a pid-namespace init drops it (seen in critest).
   */
  async #stopGracefully(id: string, timeout: number): Promise<void> {
    const running = (): boolean => ['running', 'paused'].includes(this.#d.containers.get(id).state.status);
    if (timeout > 0 && running()) {
      const signal = this.#d.containers.get(id).config.stopSignal || 'SIGTERM';
      const deadline = Date.now() + timeout * 1000;
      const exitWithin = async (ms: number): Promise<boolean> => {
        if (ms <= 0) return !running();
        try {
          await this.#d.containers.wait(id, 'not-running', AbortSignal.timeout(ms));
          return true;
        } catch {
          return !running();
        }
      };
      const send = () => this.#d.containers.kill(id, signal).catch(() => {});
      await send();
      if (!(await exitWithin(Math.min(1000, deadline - Date.now())))) {
        await send();
        await exitWithin(deadline - Date.now());
      }
    }
    await this.#stopQuietly(id, 0);
  }

  async removeContainer(req: Message): Promise<Message> {
    let c;
    try {
      c = this.#container(req['containerId']);
    } catch (e) {
      if (isNotFound(e)) return {};
      throw e;
    }
    await this.#d.containers.remove(c.id, { force: true });
    return {};
  }

  #state(c: ContainerRecord): string {
    switch (c.state.status) {
      case 'created':
        return 'CONTAINER_CREATED';
      case 'running':
      case 'paused':
      case 'restarting':
        return 'CONTAINER_RUNNING';
      case 'exited':
      case 'dead':
        return 'CONTAINER_EXITED';
      default:
        return 'CONTAINER_UNKNOWN';
    }
  }

  #brief(c: ContainerRecord & { cri: ContainerCri }): Message {
    return {
      id: c.id,
      podSandboxId: c.cri.podId,
      metadata: c.cri.config['metadata'],
      image: { image: c.cri.config['image']?.['image'] ?? c.image, annotations: {}, userSpecifiedImage: c.cri.config['image']?.['image'] ?? '' },
      imageRef: c.imageId,
      imageId: c.imageId,
      state: this.#state(c),
      createdAt: nanos(c.created),
      labels: c.cri.config['labels'] ?? {},
      annotations: c.cri.config['annotations'] ?? {},
    };
  }

  async listContainers(req: Message): Promise<Message> {
    const f = (req['filter'] ?? {}) as Message;
    const out: Message[] = [];
    for (const c of this.#d.containers.list({ all: true })) {
      const cri = c.cri as unknown as ContainerCri | undefined;
      if (cri?.kind !== 'container') continue;
      if (f['id'] && !c.id.startsWith(f['id'])) continue;
      if (f['podSandboxId'] && !cri.podId.startsWith(f['podSandboxId'])) continue;
      const b = this.#brief(c as ContainerRecord & { cri: ContainerCri });
      if (f['state'] && f['state']['state'] !== b['state']) continue;
      if (!matchLabels(b['labels'], f['labelSelector'])) continue;
      out.push(b);
    }
    return { containers: out };
  }

  async containerStatus(req: Message): Promise<Message> {
    const c = this.#container(req['containerId']);
    const b = this.#brief(c);
    let reason = '';
    let message = '';
    if (b['state'] === 'CONTAINER_EXITED') {
      reason = c.state.oomKilled ? 'OOMKilled' : c.state.exitCode === 0 ? 'Completed' : 'Error';
      message = c.state.error;
    } else if (c.state.error) {
      reason = 'StartError';
      message = c.state.error;
    }
    const cfg = c.cri.config;
    const status = {
      ...b,
      startedAt: nanos(c.state.startedAt),
      finishedAt: b['state'] === 'CONTAINER_EXITED' ? nanos(c.state.finishedAt) : '0',
      exitCode: b['state'] === 'CONTAINER_EXITED' ? c.state.exitCode : 0,
      reason,
      message,
      mounts: cfg['mounts'] ?? [],
      logPath: c.logPath,
      resources: cfg['linux']?.['resources'] ? { linux: cfg['linux']['resources'] } : null,
    };
    const info: Record<string, string> = {};
    if (req['verbose']) info['info'] = JSON.stringify({ sandboxID: c.cri.podId, pid: c.state.pid, config: cfg, runtimeSpec: JSON.parse(await readFile(join(c.dir, 'config.json'), 'utf8').catch(() => '{}')) });
    return { status, info };
  }

  async updateContainerResources(req: Message): Promise<Message> {
    const c = this.#container(req['containerId']);
    const r = (req['linux'] ?? {}) as Message;
    const n = (v: unknown): number | undefined => (Number(v ?? 0) ? Number(v) : undefined);
    await this.#d.containers.update(c.id, {
      cpuShares: n(r['cpuShares']),
      cpuQuota: n(r['cpuQuota']),
      cpuPeriod: n(r['cpuPeriod']),
      cpusetCpus: r['cpusetCpus'] || undefined,
      memory: n(r['memoryLimitInBytes']),
      memorySwap: n(r['memorySwapLimitInBytes']) ?? n(r['memoryLimitInBytes']),
    });
    // Kept on the record so ContainerStatus reports what is in force.
    if (req['linux']) {
      const cfg = c.cri.config;
      cfg['linux'] = { ...(cfg['linux'] ?? {}), resources: { ...(cfg['linux']?.['resources'] ?? {}), ...r } };
    }
    return {};
  }

  async reopenContainerLog(req: Message): Promise<Message> {
    const c = this.#container(req['containerId']);
    if (c.state.status !== 'running') throw new ConflictError(`container ${c.id} is not running`);
    await reopenLog(c.dir);
    return {};
  }

  async execSync(req: Message): Promise<Message> {
    const c = this.#container(req['containerId']);
    const cmd = (req['cmd'] ?? []) as string[];
    if (!cmd.length) throw new InvalidParameterError('ExecSync: cmd is required');
    const timeout = Number(req['timeout'] ?? 0);
    const handle = await this.#d.containers.execProcess(c.id, { execId: generateId(), cmd, tty: false, stdin: false, attach: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    handle.stdio?.onOutput((s, d) => (s === 'stdout' ? out : err).push(d));
    const drained = new Promise<void>((resolve) => (handle.stdio && !handle.stdio.ended ? handle.stdio.onEnd(resolve) : resolve()));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      if (timeout > 0) timer = setTimeout(() => resolve('timeout'), timeout * 1000);
    });
    const code = await Promise.race([handle.exited, timedOut]);
    clearTimeout(timer);
    if (code === 'timeout') {
      // The kubelet's probes rely on this: a timed-out command does not linger.
      try {
        process.kill(handle.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await Promise.race([handle.exited, new Promise((r) => setTimeout(r, 2000).unref())]);
      handle.stdio?.close();
      throw new DeadlineError(`command ${JSON.stringify(cmd.join(' '))} timed out after ${timeout}s`);
    }
    await Promise.race([drained, new Promise((r) => setTimeout(r, 2000).unref())]);
    handle.stdio?.close();
    return { stdout: Buffer.concat(out), stderr: Buffer.concat(err), exitCode: code };
  }

  async exec(req: Message): Promise<Message> {
    const c = this.#container(req['containerId']);
    if (c.state.status !== 'running') throw new ConflictError(`container ${c.id} is not running`);
    if (!((req['cmd'] ?? []) as string[]).length) throw new InvalidParameterError('Exec: cmd is required');
    if (!req['stdout'] && !req['stderr'] && !req['stdin']) throw new InvalidParameterError('one of stdin, stdout, or stderr must be set');
    if (req['tty'] && req['stderr']) throw new InvalidParameterError('tty and stderr cannot both be true');
    return { url: this.#d.streaming.register({ kind: 'exec', containerId: c.id, cmd: req['cmd'], tty: !!req['tty'], stdin: !!req['stdin'], stdout: !!req['stdout'], stderr: !!req['stderr'] }) };
  }

  async attach(req: Message): Promise<Message> {
    const c = this.#container(req['containerId']);
    if (c.state.status !== 'running') throw new ConflictError(`container ${c.id} is not running`);
    if (!req['stdout'] && !req['stderr'] && !req['stdin']) throw new InvalidParameterError('one of stdin, stdout, or stderr must be set');
    return { url: this.#d.streaming.register({ kind: 'attach', containerId: c.id, tty: !!req['tty'], stdin: !!req['stdin'], stdout: !!req['stdout'], stderr: !!req['stderr'] }) };
  }

  async portForward(req: Message): Promise<Message> {
    const p = this.#pod(req['podSandboxId']);
    if (this.#podState(p) !== 'SANDBOX_READY') throw new ConflictError(`pod sandbox ${p.id} is not ready`);
    return { url: this.#d.streaming.register({ kind: 'portforward', podId: p.id, netns: p.netns, ports: ((req['port'] ?? []) as number[]).map(Number) }) };
  }

  // ---- stats ----

  async #stats(c: ContainerRecord & { cri: ContainerCri }): Promise<Message> {
    const s = await this.#d.containers.stats(c.id);
    const ts = String(BigInt(s.at.getTime()) * 1_000_000n);
    const attributes = { id: c.id, metadata: c.cri.config['metadata'], labels: c.cri.config['labels'] ?? {}, annotations: c.cri.config['annotations'] ?? {} };
    const v = (x: number | undefined) => ({ value: String(Math.max(0, Math.round(x ?? 0))) });
    const m = s.sample;
    const inactive = m ? (m.memoryStat['total_inactive_file'] ?? m.memoryStat['inactive_file'] ?? 0) : 0;
    return {
      attributes,
      cpu: { timestamp: ts, usageCoreNanoSeconds: v(m?.cpuTotal), usageNanoCores: null },
      memory: { timestamp: ts, workingSetBytes: v(m ? m.memoryUsage - inactive : 0), availableBytes: null, usageBytes: v(m?.memoryUsage), rssBytes: v(m?.memoryStat['total_rss'] ?? m?.memoryStat['rss'] ?? m?.memoryStat['anon']), pageFaults: v(m?.memoryStat['total_pgfault'] ?? m?.memoryStat['pgfault']), majorPageFaults: v(m?.memoryStat['total_pgmajfault'] ?? m?.memoryStat['pgmajfault']) },
      writableLayer: { timestamp: ts, fsId: { mountpoint: join(c.dir, 'upper') }, usedBytes: v(0), inodesUsed: v(0) },
      swap: null,
      io: null,
    };
  }

  async containerStats(req: Message): Promise<Message> {
    return { stats: await this.#stats(this.#container(req['containerId'])) };
  }

  async listContainerStats(req: Message): Promise<Message> {
    const f = (req['filter'] ?? {}) as Message;
    const out: Message[] = [];
    for (const c of this.#d.containers.list({ all: true })) {
      const cri = c.cri as unknown as ContainerCri | undefined;
      if (cri?.kind !== 'container') continue;
      if (f['id'] && !c.id.startsWith(f['id'])) continue;
      if (f['podSandboxId'] && !cri.podId.startsWith(f['podSandboxId'])) continue;
      if (!matchLabels(cri.config['labels'] ?? {}, f['labelSelector'])) continue;
      if (c.state.status !== 'running') continue;
      out.push(await this.#stats(c as ContainerRecord & { cri: ContainerCri }));
    }
    return { stats: out };
  }

  async #podStats(p: PodRecord): Promise<Message> {
    const containers: Message[] = [];
    for (const c of this.#podContainers(p.id)) if (c.state.status === 'running') containers.push(await this.#stats(c as ContainerRecord & { cri: ContainerCri }));
    const pause = this.#pause(p);
    const s = pause && pause.state.status === 'running' ? await this.#d.containers.stats(p.id) : undefined;
    const ts = nowNanos();
    const sum = (f: (m: Message) => number) => String(containers.reduce((a, c) => a + f(c), 0) + 0);
    return {
      attributes: { id: p.id, metadata: p.config['metadata'], labels: p.config['labels'] ?? {}, annotations: p.config['annotations'] ?? {} },
      linux: {
        cpu: { timestamp: ts, usageCoreNanoSeconds: { value: sum((c) => Number(c['cpu'].usageCoreNanoSeconds.value)) } },
        memory: { timestamp: ts, workingSetBytes: { value: sum((c) => Number(c['memory'].workingSetBytes.value)) }, usageBytes: { value: sum((c) => Number(c['memory'].usageBytes.value)) } },
        network: s?.sample ? { timestamp: ts, defaultInterface: null, interfaces: [] } : null,
        process: { timestamp: ts, processCount: { value: String(s?.sample?.pidsCurrent ?? 0) } },
        containers,
      },
    };
  }

  async podSandboxStats(req: Message): Promise<Message> {
    return { stats: await this.#podStats(this.#pod(req['podSandboxId'])) };
  }

  async listPodSandboxStats(req: Message): Promise<Message> {
    const f = (req['filter'] ?? {}) as Message;
    const out: Message[] = [];
    for (const p of this.pods.list()) {
      if (f['id'] && !p.id.startsWith(f['id'])) continue;
      if (!matchLabels(p.config['labels'] ?? {}, f['labelSelector'])) continue;
      if (this.#podState(p) !== 'SANDBOX_READY') continue;
      out.push(await this.#podStats(p));
    }
    return { stats: out };
  }

  // ---- runtime ----

  async version(): Promise<Message> {
    return { version: '0.1.0', runtimeName: 'berth', runtimeVersion: this.#d.version, runtimeApiVersion: 'v1' };
  }

  async status(req: Message): Promise<Message> {
    const net = await this.#d.cni.status();
    const info: Record<string, string> = {};
    if (req['verbose']) info['config'] = JSON.stringify({ sandboxImage: this.#d.sandboxImage, streaming: this.#d.streaming.address() });
    return {
      status: {
        conditions: [
          { type: 'RuntimeReady', status: true, reason: '', message: '' },
          { type: 'NetworkReady', status: net.ready, reason: net.reason, message: net.message },
        ],
      },
      info,
      runtimeHandlers: [{ name: '', features: { recursiveReadOnlyMounts: false, userNamespaces: false } }],
      features: null,
    };
  }

  async updateRuntimeConfig(req: Message): Promise<Message> {
    // The pod CIDR the kubelet hands out is for CNI configs that template it; berth reads the
    // CNI config as written, so the value is only logged.
    const cidr = req['runtimeConfig']?.['networkConfig']?.['podCidr'];
    if (cidr) this.#d.log.info({ podCidr: cidr }, 'UpdateRuntimeConfig: pod CIDR is taken from the CNI config, not from the kubelet');
    return {};
  }

  /** The method table for grpc.ts. */
  handlers(): Record<string, (req: Message) => Promise<Message>> {
    const names = ['version', 'runPodSandbox', 'stopPodSandbox', 'removePodSandbox', 'podSandboxStatus', 'listPodSandbox', 'createContainer', 'startContainer', 'stopContainer', 'removeContainer', 'listContainers', 'containerStatus', 'updateContainerResources', 'reopenContainerLog', 'execSync', 'exec', 'attach', 'portForward', 'containerStats', 'listContainerStats', 'podSandboxStats', 'listPodSandboxStats', 'status', 'updateRuntimeConfig'] as const;
    const out: Record<string, (req: Message) => Promise<Message>> = {};
    for (const n of names) out[n] = (req) => (this[n] as (r: Message) => Promise<Message>).call(this, req);
    return out;
  }
}

/** What can be refused at create rather than at start: user/group and seccomp settings. */
async function validateSecurity(sec: Message | null): Promise<void> {
  if (!sec) return;
  if (sec['runAsGroup'] && !sec['runAsUser'] && !sec['runAsUsername']) throw new InvalidParameterError('user group "' + sec['runAsGroup']['value'] + '" is specified without user');
  await seccompOf(sec);
}

/** The pod's resolv.conf: DNSConfig when given, the host's otherwise. */
async function resolvConf(dns: Message | null): Promise<string> {
  const servers = (dns?.['servers'] ?? []) as string[];
  const searches = (dns?.['searches'] ?? []) as string[];
  const options = (dns?.['options'] ?? []) as string[];
  if (!servers.length && !searches.length && !options.length) return readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  let out = '';
  if (searches.length) out += `search ${searches.join(' ')}\n`;
  for (const s of servers) out += `nameserver ${s}\n`;
  if (options.length) out += `options ${options.join(' ')}\n`;
  return out;
}

export { qualify };
