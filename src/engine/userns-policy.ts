/**
 * Which containers run in the daemon's remapped user namespace (issue 21), Docker's rules:
 * with `--userns-remap`, every container does unless it asks for `--userns=host`
 * (HostConfig.UsernsMode "host"); a privileged container, or one sharing the host's network or
 * PID namespace, must ask for it (dockerd's refusals, same words). Without `--userns-remap`,
 * "host" is what every container gets anyway. Any other mode is refused.
 *
 * Exceptions berth makes: build steps (RUN) and CRI pods keep the host's ids, because their
 * filesystem changes become image layers / are shared with the kubelet's view as is.
 */
import { chown } from 'node:fs/promises';
import { InvalidParameterError } from '../common/errors.js';
import type { ContainerRecord, HostSpec, IdMappingRecord } from './types.js';

export type UsernsMappings = { uidMappings: IdMappingRecord[]; gidMappings: IdMappingRecord[] };

/** Validates HostConfig.UsernsMode; returns the container's mappings (undefined: the host's ids). */
export function usernsFor(host: HostSpec, remap: UsernsMappings | undefined, options: { exempt?: boolean } = {}): UsernsMappings | undefined {
  const mode = host.usernsMode ?? '';
  if (mode !== '' && mode !== 'host') {
    throw new InvalidParameterError(`invalid --userns: ${JSON.stringify(mode)}: the only mode is "host" (leave the daemon's --userns-remap namespace)`);
  }
  if (!remap || mode === 'host' || options.exempt) return undefined;
  if (host.privileged) {
    throw new InvalidParameterError('privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode (--userns=host)');
  }
  if (host.networkMode === 'host') throw new InvalidParameterError("cannot share the host's network namespace when user namespaces are enabled (--userns=host)");
  if (host.pidMode === 'host') throw new InvalidParameterError('cannot share the host PID namespace when user namespaces are enabled (--userns=host)');
  return { uidMappings: remap.uidMappings.map((m) => ({ ...m })), gidMappings: remap.gidMappings.map((m) => ({ ...m })) };
}

/** Host id of container id `id` under `mappings`, or undefined when it is not mapped. */
export function hostIdOf(mappings: readonly IdMappingRecord[], id: number): number | undefined {
  for (const m of mappings) if (id >= m.containerID && id < m.containerID + m.size) return m.hostID + (id - m.containerID);
  return undefined;
}

/** Container id of host id `id` under `mappings` (the inverse of hostIdOf), or undefined. */
export function containerIdOf(mappings: readonly IdMappingRecord[], id: number): number | undefined {
  for (const m of mappings) if (id >= m.hostID && id < m.hostID + m.size) return m.containerID + (id - m.hostID);
  return undefined;
}

/**
 * Host ids → the container's ids, for layer tars made from a remapped container's files
 * (commit, export): ids outside the mapping (a file `cp` put there as host root) become
 * 65534 (nobody), which is what the container itself sees for them.
 */
export function layerIdsOf(userns: UsernsMappings | undefined): ((uid: number, gid: number) => { uid: number; gid: number }) | undefined {
  if (!userns) return undefined;
  return (uid, gid) => ({ uid: containerIdOf(userns.uidMappings, uid) ?? 65534, gid: containerIdOf(userns.gidMappings, gid) ?? 65534 });
}

/** The container's ids → host ids (files `cp` puts into a remapped container); an id outside the mapping is refused. */
export function hostIdsOf(userns: UsernsMappings | undefined): ((uid: number, gid: number) => { uid: number; gid: number }) | undefined {
  if (!userns) return undefined;
  return (uid, gid) => {
    const hu = hostIdOf(userns.uidMappings, uid);
    const hg = hostIdOf(userns.gidMappings, gid);
    if (hu === undefined || hg === undefined) throw new InvalidParameterError(`cannot copy a file owned by ${uid}:${gid}: outside the container's user namespace mapping`);
    return { uid: hu, gid: hg };
  };
}

/** The host uid and gid of the container's root. */
export function remappedRootOf(userns: UsernsMappings): { uid: number; gid: number } {
  return { uid: hostIdOf(userns.uidMappings, 0) ?? 0, gid: hostIdOf(userns.gidMappings, 0) ?? 0 };
}

/**
 * A remapped container's runtime resolves its rootfs and bind sources as the remapped root:
 * its directory (0710) gets the remapped root's group, so that user can pass through it (what
 * dockerd does to its remapped data root, `<root>/UID.GID`, 0710 root:GID).
 */
export async function opendirForRemappedRoot(rec: Pick<ContainerRecord, 'dir' | 'userns'>): Promise<void> {
  if (!rec.userns) return;
  await chown(rec.dir, 0, remappedRootOf(rec.userns).gid);
}
