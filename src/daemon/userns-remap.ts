/**
 * berthd's side of `--userns-remap` (issue 21): resolves the setting to mappings (making the
 * `berthremap` user and its subordinate ranges for `default`), opens the data root to the
 * remapped root (group ownership, as dockerd's remapped root dir), and hands the snapshotter
 * idmapped layer mounts for each mapping a container has (one user namespace per mapping,
 * made on first use and kept until the daemon stops).
 */
import { chown, stat } from 'node:fs/promises';
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
    o.log.info({ user: remap.user, group: remap.group, uidMappings: remap.uidMappings, gidMappings: remap.gidMappings }, 'user namespace remapping on');
  }
  const namespaces = new Map<string, Promise<IdmapUserns>>();
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

function hostOf(m: IdMapping[]): number {
  const zero = m.find((x) => x.containerID === 0);
  return zero ? zero.hostID : 0;
}
