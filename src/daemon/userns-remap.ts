/**
 * berthd's side of `--userns-remap` (issue 21): resolves the setting to mappings (making the
 * `berthremap` user and its subordinate ranges for `default`), opens the data root to the
 * remapped root (group ownership, as dockerd's remapped root dir), and hands the snapshotter
 * idmapped layer mounts for each mapping a container has (one user namespace per mapping,
 * made on first use and kept until the daemon stops).
 */
import { chown, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { SystemError } from '../common/errors.js';
import { join } from 'node:path';
import type { CommandRunner } from '../common/command-runner.js';
import type { Logger } from '../common/logger.js';
import { IdmapUserns, type IdMapping } from '../common/idmapped-mount.js';
import { assertTraversable, remappedRoot, resolveRemap, type UsernsRemap } from '../runtime/userns.js';
import type { IdmapLayers } from '../image/snapshotter.js';

export interface UsernsSupport {
  /** The daemon's remapping; absent without `--userns-remap`. */
  remap?: UsernsRemap;
  /** Idmapped layers for a container's mappings (any container that has them, remap on or off). */
  layers(userns: { uidMappings: IdMapping[]; gidMappings: IdMapping[] }): IdmapLayers;
  close(): void;
}

export async function setUpUserns(setting: string | undefined, o: { dataRoot: string; runner: CommandRunner; log: Logger }): Promise<UsernsSupport> {
  let remap: UsernsRemap | undefined;
  if (setting) {
    remap = await resolveRemap(setting, { runner: o.runner, onChange: (what) => o.log.warn({ userns: setting }, what) });
    const root = remappedRoot(remap);
    await assertTraversable(o.dataRoot, root);
    // The data root and containers/ are 0710: their group lets the remapped root through.
    for (const dir of [o.dataRoot, join(o.dataRoot, 'containers')]) {
      const st = await stat(dir);
      if (st.gid !== root.gid) await chown(dir, st.uid, root.gid);
    }
  }
  const namespaces = new Map<string, Promise<IdmapUserns>>();
  if (remap) {
    // Probe now: a data root on a filesystem without idmapped mounts would fail every start.
    await probeIdmap(join(o.dataRoot, 'tmp'), remap, o.runner, (u) => {
      const ns = IdmapUserns.create(u.uidMappings, u.gidMappings);
      namespaces.set(JSON.stringify({ uidMappings: u.uidMappings, gidMappings: u.gidMappings }), ns);
      return ns;
    });
    o.log.info({ user: remap.user, group: remap.group, uidMappings: remap.uidMappings, gidMappings: remap.gidMappings }, 'user namespace remapping on');
  }
  return {
    ...(remap ? { remap } : {}),
    layers(userns) {
      const key = JSON.stringify(userns);
      const root = { uid: hostOf(userns.uidMappings), gid: hostOf(userns.gidMappings) };
      return {
        root,
        bind: async (source, target) => {
          let ns = namespaces.get(key);
          if (!ns) {
            ns = IdmapUserns.create(userns.uidMappings, userns.gidMappings);
            namespaces.set(key, ns);
            ns.catch(() => namespaces.delete(key));
          }
          (await ns).bind(source, target);
        },
      };
    },
    close() {
      for (const ns of namespaces.values()) void ns.then((n) => n.close(), () => {});
      namespaces.clear();
    },
  };
}

/** Makes an idmapped mount of an empty dir under `tmp` and checks that its owner shows shifted. */
async function probeIdmap(tmp: string, remap: UsernsRemap, runner: CommandRunner, userns: (u: UsernsRemap) => Promise<IdmapUserns>): Promise<void> {
  const dir = await mkdtemp(join(tmp, 'idmap-probe-'));
  const src = join(dir, 'src');
  const dst = join(dir, 'dst');
  try {
    await mkdir(src);
    await mkdir(dst);
    (await userns(remap)).bind(src, dst);
    const seen = await stat(dst);
    await runner.run(['umount', '-l', dst], { check: false });
    const root = remappedRoot(remap);
    if (seen.uid !== root.uid) throw new SystemError(`idmapped mounts do not shift ids on this host (saw uid ${seen.uid}, expected ${root.uid})`);
  } catch (err) {
    throw new SystemError(`cannot use --userns-remap: idmapped mounts of the image layers under ${tmp} do not work here: ${(err as Error).message}`, { cause: err });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function hostOf(m: IdMapping[]): number {
  const zero = m.find((x) => x.containerID === 0);
  return zero ? zero.hostID : 0;
}
