import { readFileSync } from 'node:fs';
import { logDriverNames } from '../../engine/logging/drivers.js';
import os from 'node:os';
import type { EngineEvent, EventBus } from '../../engine/events.js';
import { InvalidParameterError } from '../../common/errors.js';
import { labelsMatch } from '../../common/labels.js';
import { API_VERSION, MIN_API_VERSION } from '../version.js';
import type { SystemInfo as WireSystemInfo, SystemVersion } from '../../wire/api-types.js';
import { Router, queryFilters, sendJson } from '../router.js';
import { parseTimestamp } from './containers.js';

/** What /info reports that the API layer cannot know by itself. */
export interface SystemInfo {
  version: string;
  commit: string;
  name: string;
  dataRoot: string;
  runtime: string;
  cgroupVersion: '1' | '2';
  cgroupDriver: string;
  counts(): Promise<{ containers: number; running: number; paused: number; stopped: number; images: number }>;
  securityOptions: string[];
  /** The daemon's default log driver (daemon.json log-driver). */
  loggingDriver?: string;
  /** `--experimental` (issue 23). */
  experimental?: boolean;
  /** False when containers cannot get resource limits (rootless without a delegated cgroup v2 subtree). */
  resourceLimits?: boolean;
  /** Docker's `Warnings` of /info. */
  warnings?: string[];
}

const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };

export function registerSystemRoutes(router: Router, deps: { info: SystemInfo; events: EventBus }): void {
  const { info } = deps;
  const ping = (ctx: Parameters<Parameters<Router['get']>[1]>[0]) => {
    // A fixed length, as dockerd answers (0 for HEAD): no chunked framing on the hottest route.
    const head = ctx.req.method === 'HEAD';
    ctx.res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': head ? 0 : 2, 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache', 'Builder-Version': '1', 'Swarm': 'inactive' });
    ctx.res.end(head ? undefined : 'OK');
  };
  router.get('/_ping', ping);
  router.head('/_ping', ping);

  router.get('/version', (ctx) => {
    const arch = GO_ARCH[process.arch] ?? process.arch;
    const details = { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Arch: arch, Os: 'linux', GitCommit: info.commit, KernelVersion: os.release(), BuildTime: '', Experimental: String(!!info.experimental), GoVersion: `node${process.versions.node}` };
    const body: SystemVersion = {
      Platform: { Name: 'berth' },
      Components: [
        { Name: 'Engine', Version: info.version, Details: details },
        { Name: info.runtime, Version: '', Details: {} },
      ],
      Version: info.version,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: info.commit,
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: arch,
      KernelVersion: os.release(),
      BuildTime: '',
    };
    sendJson(ctx.res, 200, body);
  });

  router.get('/info', async (ctx) => {
    const c = await info.counts();
    const body: WireSystemInfo = {
      ID: info.name,
      Containers: c.containers,
      ContainersRunning: c.running,
      ContainersPaused: c.paused,
      ContainersStopped: c.stopped,
      Images: c.images,
      Driver: 'overlay2',
      DriverStatus: [['Backing Filesystem', 'extfs'], ['Supports d_type', 'true']],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'none'], Authorization: null, Log: logDriverNames().filter((n) => n !== 'k8s-file') },
      MemoryLimit: info.resourceLimits ?? true,
      SwapLimit: info.resourceLimits ?? true,
      CpuCfsPeriod: info.resourceLimits ?? true,
      CpuCfsQuota: info.resourceLimits ?? true,
      CPUShares: info.resourceLimits ?? true,
      CPUSet: info.resourceLimits ?? true,
      PidsLimit: info.resourceLimits ?? true,
      IPv4Forwarding: true,
      Debug: false,
      NFd: 0,
      OomKillDisable: false,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: info.loggingDriver ?? 'json-file',
      CgroupDriver: info.cgroupDriver,
      CgroupVersion: info.cgroupVersion,
      NEventsListener: 0,
      KernelVersion: os.release(),
      OperatingSystem: osName(),
      OSVersion: '',
      OSType: 'linux',
      Architecture: os.machine(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: ['127.0.0.0/8'], Mirrors: [] },
      NCPU: os.cpus().length,
      MemTotal: os.totalmem(),
      DockerRootDir: info.dataRoot,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: os.hostname(),
      Labels: [],
      ExperimentalBuild: !!info.experimental,
      ServerVersion: info.version,
      Runtimes: { [info.runtime]: { path: info.runtime } },
      DefaultRuntime: info.runtime,
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: 'catatonit',
      ContainerdCommit: { ID: '' },
      RuncCommit: { ID: '' },
      InitCommit: { ID: '' },
      SecurityOptions: info.securityOptions,
      Warnings: info.warnings ?? [],
    };
    sendJson(ctx.res, 200, body);
  });

  router.get('/events', async (ctx) => {
    const since = parseTimestamp(ctx.query.get('since'), 'since');
    const until = parseTimestamp(ctx.query.get('until'), 'until');
    const filters = queryFilters(ctx.query);
    for (const k of filters.keys()) {
      if (!['type', 'event', 'container', 'image', 'label', 'network', 'volume', 'daemon', 'scope'].includes(k)) {
        throw new InvalidParameterError(`invalid filter '${k}'`);
      }
    }
    const match = (e: EngineEvent) => eventMatches(e, filters);
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    ctx.res.flushHeaders();
    const write = (e: EngineEvent) => {
      if (until && e.timeNano > BigInt(until.getTime()) * 1_000_000n) return;
      // timeNano exceeds 2^53: written as its exact digits, not through a JS number.
      if (match(e)) ctx.res.write(JSON.stringify(eventJson(e)).replace('"timeNano":"', '"timeNano":').replace(/("timeNano":\d+)"/, '$1') + '\n');
    };
    if (since) for (const e of deps.events.history(BigInt(since.getTime()) * 1_000_000n)) write(e);
    const now = Date.now();
    if (until && until.getTime() <= now) {
      ctx.res.end();
      return;
    }
    const unsubscribe = deps.events.subscribe(write);
    await new Promise<void>((resolve) => {
      const timer = until ? setTimeout(resolve, until.getTime() - now) : undefined;
      ctx.res.on('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    unsubscribe();
    ctx.res.end();
  });
}

function eventMatches(e: EngineEvent, filters: Map<string, string[]>): boolean {
  for (const [k, values] of filters) {
    if (!values.length) continue;
    switch (k) {
      case 'type':
        if (!values.includes(e.type)) return false;
        break;
      case 'event':
        // As dockerd: `health_status`, `exec_create`, `exec_start` without a colon match by prefix.
        if (!values.some((v) => v === e.action || (!v.includes(':') && e.action.startsWith(`${v}:`)))) return false;
        break;
      case 'container':
        if (e.type !== 'container' || !values.some((v) => e.id.startsWith(v) || e.attributes['name'] === v)) return false;
        break;
      case 'image':
        if (!values.some((v) => e.attributes['image'] === v || (e.type === 'image' && e.id.includes(v)))) return false;
        break;
      case 'label':
        if (!labelsMatch(e.attributes, values)) return false;
        break;
      case 'scope':
        if (!values.includes('local')) return false;
        break;
      default:
        if (e.type !== k || !values.some((v) => e.id.startsWith(v) || e.attributes['name'] === v)) return false;
    }
  }
  return true;
}

function eventJson(e: EngineEvent): Record<string, unknown> {
  const time = Number(e.timeNano / 1_000_000_000n);
  const base: Record<string, unknown> = {
    Type: e.type,
    Action: e.action,
    Actor: { ID: e.id, Attributes: e.attributes },
    scope: 'local',
    time,
    timeNano: String(e.timeNano),
  };
  if (e.type === 'container') {
    base['status'] = e.action;
    base['id'] = e.id;
    base['from'] = e.attributes['image'];
  }
  return base;
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m ? m[1]! : 'Linux';
  } catch {
    return 'Linux';
  }
}
