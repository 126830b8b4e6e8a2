/**
 * The parts daemon.ts swaps in for a rootless daemon (issue 21), in one place so the wiring
 * stays a few lines: cgroup facts, the limits check, the spec adjustment, rootlesskit's port
 * driver and the host-loopback dialer for registries.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../common/logger.js';
import { InvalidParameterError } from '../../common/errors.js';
import type { CgroupInfo } from '../../runtime/cgroup-setup.js';
import type { OciSpec } from '../../runtime/spec.js';
import { RootlesskitPorts, type HostPortExposer } from '../../network/ports/rootlesskit-ports.js';
import { adaptSpecForRootless, refuseUndelegatedLimits, rootlessContext, type RootlessContext } from './rootless-runtime.js';
import { dialThroughHost } from './host-loopback-dialer.js';
import type { ContainerService } from '../../engine/container-service.js';

export interface RootlessWiring {
  context: RootlessContext;
  cgroupInfo(): CgroupInfo;
  hostPorts: HostPortExposer;
  checkHost(host: object): void;
  wrapSpec<A extends unknown[]>(make: (...args: A) => Promise<OciSpec>): (...args: A) => Promise<OciSpec>;
  dial?: (host: string, port: number, callback: (err: Error | null, socket?: Socket) => void) => void;
  /** The snapshotter's fuse-overlayfs use: fallback when installed; always with BERTH_ROOTLESS_STORAGE=fuse-overlayfs. */
  fuseOverlayfs(path: string | undefined): { path: string; mode: 'fallback' | 'always' } | undefined;
  /** At shutdown: stops every running container, in parallel, each with its own stop timeout. */
  stopContainers(containers: ContainerService): Promise<void>;
  /** Fields of /info. */
  info(): { resourceLimits: boolean; warnings: string[] };
}

export function rootlessWiring(env: NodeJS.ProcessEnv, log: Logger): RootlessWiring {
  const ctx = rootlessContext(env);
  log.info({ uid: ctx.uid, gid: ctx.gid, cgroupVersion: ctx.cgroupVersion, cgroupDelegated: ctx.cgroupDelegated, stateDir: ctx.stateDir }, 'rootless mode');
  const dialer = ctx.dialer;
  return {
    context: ctx,
    cgroupInfo: () => ({ version: ctx.cgroupVersion, hybrid: false, driver: 'cgroupfs', mounted: [], leftover: [] }),
    hostPorts: new RootlesskitPorts({ apiSocket: ctx.apiSocket, log }),
    checkHost: (host) => refuseUndelegatedLimits(host as Record<string, unknown>, ctx),
    wrapSpec: (make) => async (...args) => adaptSpecForRootless(await make(...args), ctx),
    ...(dialer ? { dial: (host: string, port: number, cb: (err: Error | null, socket?: Socket) => void) => dialThroughHost(dialer, host, port, cb) } : {}),
    fuseOverlayfs: (path) => {
      const always = env['BERTH_ROOTLESS_STORAGE'] === 'fuse-overlayfs';
      if (always && !path) throw new InvalidParameterError('BERTH_ROOTLESS_STORAGE=fuse-overlayfs but fuse-overlayfs is not installed (apt-get install fuse-overlayfs)');
      if (env['BERTH_ROOTLESS_STORAGE'] && !always && env['BERTH_ROOTLESS_STORAGE'] !== 'overlay') throw new InvalidParameterError(`invalid BERTH_ROOTLESS_STORAGE ${JSON.stringify(env['BERTH_ROOTLESS_STORAGE'])}: overlay or fuse-overlayfs`);
      return path ? { path, mode: always ? 'always' : 'fallback' } : undefined;
    },
    stopContainers: async (containers) => {
      const running = containers.list({ all: true }).filter((c) => ['running', 'paused', 'restarting'].includes(c.state.status));
      if (running.length) log.info({ count: running.length }, 'stopping containers: a rootless daemon\'s namespaces end with it');
      await Promise.all(running.map((c) => containers.stop(c.id).catch((err) => log.warn({ err, container: c.id }, 'stopping a container at shutdown failed'))));
    },
    info: () => ({
      resourceLimits: ctx.cgroupDelegated,
      warnings: ctx.cgroupDelegated
        ? []
        : [`WARNING: Running in rootless-mode without cgroups: resource limits (--memory, --cpus, --pids-limit, ...) are refused. ${ctx.cgroupVersion === 1 ? 'This host has cgroup v1; limits need cgroup v2 with a delegated subtree.' : 'Delegate the user\'s cgroup v2 subtree (systemd: Delegate=yes).'}`],
    }),
  };
}
