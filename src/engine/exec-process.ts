/**
 * The process of an exec (`docker exec`, health checks): the container's own process settings
 * from its OCI spec, with the exec's command, env, working dir, user, terminal and privileges
 * on top. ExecService keeps the sessions; ContainerService.execProcess checks the container's
 * state and hands this process to the runtime.
 */
import { hostLimits } from '../runtime/capabilities.js';
import type { OciProcess } from '../runtime/oci-spec.js';
import { resolveUser } from '../runtime/user.js';
import { mergeEnv } from './container-spec.js';

/** What exec asks of the engine (ExecService's request to run one session). */
export interface ExecProcessRequest {
  execId: string;
  cmd: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  privileged?: boolean;
  tty: boolean;
  stdin: boolean;
  attach: boolean;
  consoleSize?: { height: number; width: number };
}

/**
 * The OCI process to run for `o` in a container whose spec's process is `base` and whose root
 * filesystem (for `--user NAME` lookups in its /etc/passwd) is at `rootfs`.
 */
export async function execProcessSpec(base: OciProcess | undefined, rootfs: string, o: ExecProcessRequest): Promise<OciProcess> {
  base ??= { cwd: '/', user: { uid: 0, gid: 0 } } as OciProcess;
  const process: OciProcess = { ...base, args: o.cmd, terminal: o.tty, env: mergeEnv(base.env ?? [], o.env ?? []) };
  delete process.consoleSize;
  if (o.tty && o.consoleSize) process.consoleSize = o.consoleSize;
  if (o.workingDir) process.cwd = o.workingDir;
  if (o.user) {
    const u = await resolveUser(rootfs, o.user);
    process.user = { uid: u.uid, gid: u.gid, ...(u.additionalGids?.length ? { additionalGids: u.additionalGids } : {}) };
    process.env = mergeEnv(process.env ?? [], [`HOME=${u.home || '/'}`]);
  }
  if (o.privileged) {
    const all = [...hostLimits().capabilities];
    process.capabilities = { bounding: all, effective: all, permitted: all, inheritable: [], ambient: [] };
  }
  if (o.tty && !(process.env ?? []).some((e) => e.startsWith('TERM='))) process.env = [...(process.env ?? []), 'TERM=xterm'];
  return process;
}
