/**
 * A container's mounts, from request to runtime (issue 7):
 *
 * - `resolveMounts` (create): `--volumes-from` first, then `-v`/`--mount`/`--tmpfs` (one per
 *   destination: `Duplicate mount point`), then the image's VOLUMEs not covered by those, as
 *   anonymous volumes. Named volumes are created when missing; a new (or empty) volume is marked
 *   for copy-up unless `nocopy`.
 * - `prepareMounts` (start, rootfs mounted): option-backed volumes are mounted, each destination
 *   is resolved inside the rootfs (symlinks re-rooted, see volume/scope.ts) and image content is
 *   copied into volumes marked for copy-up.
 */
import { execFile } from 'node:child_process';
import { lstat, mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { InvalidParameterError } from '../common/errors.js';
import { parseApiMount, parseBind, parseTmpfs, parseVolumesFrom, type MountRequest } from '../volume/mount-spec.js';
import { hostPath, resolveInScope, type ContainerView } from '../volume/scope.js';
import { ANONYMOUS_LABEL } from '../volume/volume-service.js';
import type { EngineVolumes } from './collaborators.js';
import type { ContainerRecord, ContainerSpec, MountRecord } from './types.js';
import { resolveInRoot } from '../runtime/user.js';

export type { ContainerView };
export { parseApiMount, parseBind };

interface ResolveDeps {
  volumes?: EngineVolumes;
  /** Looks up another container (for `--volumes-from`). */
  container(ref: string): ContainerRecord;
}

/** Names of the anonymous volumes a container created. */
export function anonymousVolumes(rec: ContainerRecord): string[] {
  return (rec.mounts ?? []).filter((m) => m.anonymous && m.name).map((m) => m.name!);
}

export async function resolveMounts(rec: ContainerRecord, spec: ContainerSpec, deps: ResolveDeps): Promise<MountRecord[]> {
  const out: MountRecord[] = [];
  // Built up on `rec.mounts` as we go, so a failure half-way can give back the anonymous volumes made so far.
  rec.mounts = out;
  const h = spec.host;
  const byDest = new Map<string, MountRecord>();
  for (const vf of h.volumesFrom ?? []) {
    const { container, mode } = parseVolumesFrom(vf);
    const src = deps.container(container);
    for (const m of src.mounts ?? []) {
      if (m.type === 'tmpfs') continue;
      const copy: MountRecord = { ...m, anonymous: false, copyUp: false, resolvedDestination: undefined };
      if (mode) {
        copy.rw = mode === 'rw';
        copy.mode = mode;
      }
      byDest.set(m.destination, copy);
    }
  }
  // The docker CLI sends `-v` specs in Config.Volumes too (`{"name:/dst": {}}`); dockerd parses those keys as binds.
  const volumeSpecs = Object.keys(spec.volumes ?? {}).filter((k) => k.includes(':'));
  const requests: MountRequest[] = [
    ...[...(h.binds ?? []), ...volumeSpecs].map(parseBind),
    ...(h.mounts ?? []),
    ...Object.entries(h.tmpfs ?? {}).map(([t, o]) => parseTmpfs(t, o)),
  ];
  const seen = new Set<string>();
  for (const r of requests) {
    if (seen.has(r.target)) throw new InvalidParameterError(`Duplicate mount point: ${r.target}`);
    seen.add(r.target);
  }
  for (const r of requests) byDest.set(r.target, await makeMount(r, deps));
  for (const [d, m] of byDest) {
    out.push(m);
    seen.add(d);
  }
  // The image's VOLUMEs (and Config.Volumes) not covered above: anonymous volumes, as Docker.
  for (const v of Object.keys(rec.config.volumes ?? {})) {
    if (v.includes(':')) continue;
    const target = v.replace(/\/+$/, '') || '/';
    if (seen.has(target) || !target.startsWith('/') || target === '/') continue;
    seen.add(target);
    out.push(await makeMount({ type: 'volume', source: '', target, readOnly: false }, deps));
  }
  return out;
}

async function makeMount(r: MountRequest, deps: ResolveDeps): Promise<MountRecord> {
  if (r.type === 'tmpfs') {
    return { type: 'tmpfs', source: '', destination: r.target, rw: !r.readOnly, mode: '', propagation: '', tmpfsOptions: r.tmpfsOptions ?? [] };
  }
  if (r.type === 'bind') {
    const exists = await lstat(r.source).then(() => true, () => false);
    if (!exists) {
      if (!r.createSource) throw new InvalidParameterError(`invalid mount config for type "bind": bind source path does not exist: ${r.source}`);
      await mkdir(r.source, { recursive: true });
    }
    return { type: 'bind', source: r.source, destination: r.target, rw: !r.readOnly, mode: r.mode ?? '', propagation: r.propagation ?? 'rprivate', ...(r.idmap ? { idmap: true } : {}) };
  }
  if (!deps.volumes) throw new InvalidParameterError('volumes are not available in this daemon');
  const anonymous = r.source === '';
  const labels = { ...(r.volumeLabels ?? {}), ...(anonymous ? { [ANONYMOUS_LABEL]: '' } : {}) };
  const v = await deps.volumes.create({ name: r.source || undefined, labels, driver: r.volumeDriver, options: r.volumeOptions });
  return {
    type: 'volume',
    name: v.name,
    source: v.mountpoint,
    destination: r.target,
    rw: !r.readOnly,
    mode: r.mode || 'z',
    propagation: '',
    driver: v.driver,
    anonymous,
    copyUp: !r.noCopy && !r.subpath,
    ...(r.subpath ? { subpath: r.subpath } : {}),
  };
}

/** Start-time work on mounts (rootfs mounted at rec.rootfs); returns whether the record changed. */
export async function prepareMounts(rec: ContainerRecord, deps: { volumes?: EngineVolumes }): Promise<boolean> {
  let changed = false;
  const view: ContainerView = { root: rec.rootfs, mounts: [] };
  for (const m of rec.mounts ?? []) {
    if (m.type === 'volume' && m.name) {
      if (!deps.volumes) throw new InvalidParameterError('volumes are not available in this daemon');
      m.source = await deps.volumes.mount(m.name);
      if (m.subpath) {
        // Resolved inside the volume (its symlinks cannot lead out of it); it must exist.
        const sub = await resolveInRoot(m.source, m.subpath);
        if (!(await lstat(sub).then((s) => s.isDirectory() || s.isFile(), () => false))) {
          throw new InvalidParameterError(`cannot access path ${m.subpath} in volume ${m.name}: no such file or directory`);
        }
        m.source = sub;
      }
    }
    const resolved = await resolveInScope(view, m.destination);
    if (m.resolvedDestination !== resolved) {
      m.resolvedDestination = resolved;
      changed = true;
    }
    if (m.type === 'volume' && m.copyUp && m.name) {
      m.copyUp = false;
      changed = true;
      if (await deps.volumes!.isEmpty(m.name)) await copyUp(hostPath(view, resolved), m.source);
    }
  }
  return changed;
}

/**
 * Copies the image's directory at a volume's destination into the (empty) volume with `cp -a`
 * (owners, modes, times, links as links, hardlinks kept), as Docker's copy-up does. `from` was
 * resolved inside the rootfs, and `cp -a` never follows links below it.
 */
async function copyUp(from: string, to: string): Promise<void> {
  const st = await lstat(from).catch(() => undefined);
  if (!st?.isDirectory()) return;
  await promisify(execFile)('cp', ['-a', '--no-dereference', '--', `${from}/.`, `${to}/`]);
}

/** The view of a container's files for cp/changes/export (see volume/scope.ts). */
export function filesystemView(rec: ContainerRecord, running: boolean): ContainerView {
  if (running) return { root: `/proc/${rec.state.pid}/root`, mounts: [] };
  return {
    root: rec.rootfs,
    mounts: (rec.mounts ?? []).filter((m) => m.type !== 'tmpfs').map((m) => ({ destination: m.resolvedDestination ?? m.destination, source: m.source, readOnly: !m.rw })),
  };
}
