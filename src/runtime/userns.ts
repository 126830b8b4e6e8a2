/**
 * User namespace remapping of the rootful daemon (`berthd --userns-remap`, issue 21), Docker's
 * model: every container (unless it asks for `--userns=host`) runs in a user namespace where
 * uid/gid 0 is the first id of a subordinate range taken from /etc/subuid and /etc/subgid.
 *
 *   --userns-remap=default          the system user `berthremap` (Docker's is `dockremap`),
 *                                   made with useradd when missing, given a 65536-id range in
 *                                   /etc/subuid and /etc/subgid when it has none (as dockerd)
 *   --userns-remap=USER[:GROUP]     an existing user (and group; default: the user's name)
 *   --userns-remap=UID[:GID]        the same by number (must exist in /etc/passwd, /etc/group)
 *
 * The ranges of the user (subuid) and group (subgid), sorted by start, are laid end to end
 * from container id 0: the OCI `linux.uidMappings`/`gidMappings`. What this module does not
 * do: mounts (common/idmapped-mount.ts makes the idmapped layer mounts, engine/ decides which
 * containers are remapped).
 *
 * Hand-written: the subuid/subgid format is three colon-separated fields per line (shadow-utils
 * subuid(5)); no npm package reads it, and useradd/usermod (Debian's passwd) do the writing.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CommandRunner } from '../common/command-runner.js';
import { InvalidParameterError, SystemError } from '../common/errors.js';
import type { OciIdMapping } from './oci-spec.js';

/** The user `--userns-remap=default` uses (Docker: dockremap). */
export const DEFAULT_REMAP_USER = 'berthremap';
/** Size of the range given to the default user when it has none (Docker's). */
export const DEFAULT_RANGE_SIZE = 65536;
/** Lowest id of a range berth adds (shadow-utils' SUB_UID_MIN default). */
export const DEFAULT_RANGE_MIN = 100000;

/** One line of /etc/subuid or /etc/subgid. */
export interface SubIdRange {
  name: string;
  start: number;
  count: number;
}

/** A daemon's remapping, resolved: who, and the mappings every remapped container gets. */
export interface UsernsRemap {
  /** The user and group names (what `--userns-remap` named, resolved). */
  user: string;
  group: string;
  uidMappings: OciIdMapping[];
  gidMappings: OciIdMapping[];
}

/** The host ids of container root (uid 0, gid 0) under `m`. */
export function remappedRoot(m: Pick<UsernsRemap, 'uidMappings' | 'gidMappings'>): { uid: number; gid: number } {
  return { uid: toHostId(m.uidMappings, 0), gid: toHostId(m.gidMappings, 0) };
}

/** The host id of container id `id`; throws when the mapping does not cover it. */
export function toHostId(mappings: readonly OciIdMapping[], id: number): number {
  for (const m of mappings) if (id >= m.containerID && id < m.containerID + m.size) return m.hostID + (id - m.containerID);
  throw new InvalidParameterError(`id ${id} is not mapped in the container's user namespace`);
}

/** Parses `--userns-remap`'s value: `default`, `USER[:GROUP]` or `UID[:GID]`. */
export function parseRemapSetting(value: string): { user: string; group?: string; isDefault: boolean } {
  const v = value.trim();
  if (v === '') throw new InvalidParameterError('invalid --userns-remap: empty value (use "default", USER[:GROUP] or UID[:GID])');
  if (v === 'default') return { user: DEFAULT_REMAP_USER, isDefault: true };
  const parts = v.split(':');
  if (parts.length > 2 || parts.some((p) => !/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(p))) {
    throw new InvalidParameterError(`invalid --userns-remap: ${JSON.stringify(value)} (use "default", USER[:GROUP] or UID[:GID])`);
  }
  return { user: parts[0]!, ...(parts[1] !== undefined ? { group: parts[1] } : {}), isDefault: false };
}

/** Lines of /etc/subuid or /etc/subgid (`name:start:count`); comments, blanks and malformed lines are skipped. */
export function parseSubIdFile(text: string): SubIdRange[] {
  const out: SubIdRange[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length !== 3 || !/^\d+$/.test(f[1]!) || !/^\d+$/.test(f[2]!)) continue;
    const count = Number(f[2]);
    if (count > 0) out.push({ name: f[0]!, start: Number(f[1]), count });
  }
  return out;
}

/** The ranges of the account `name` (or its number `id`, as shadow-utils also allows), laid end to end from container id 0. */
export function mappingsFor(ranges: readonly SubIdRange[], name: string, id: number): OciIdMapping[] {
  const own = ranges.filter((r) => r.name === name || r.name === String(id)).sort((a, b) => a.start - b.start);
  const out: OciIdMapping[] = [];
  let next = 0;
  for (const r of own) {
    out.push({ containerID: next, hostID: r.start, size: r.count });
    next += r.count;
  }
  return out;
}

/** The start of a free range of `size` ids: past every range already given in either file, at least DEFAULT_RANGE_MIN. */
export function freeRangeStart(ranges: readonly SubIdRange[], size = DEFAULT_RANGE_SIZE): number {
  let start = DEFAULT_RANGE_MIN;
  for (const r of ranges) start = Math.max(start, r.start + r.count);
  if (start + size > 0xffffffff) throw new SystemError('no free subordinate id range left for the remapping user');
  return start;
}

/** An /etc/passwd or /etc/group entry by name or number (`name:x:id:...`). */
export function findAccount(text: string, key: string): { name: string; id: number } | undefined {
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || !/^\d+$/.test(f[2]!)) continue;
    if (f[0] === key || (/^\d+$/.test(key) && f[2] === key)) return { name: f[0]!, id: Number(f[2]) };
  }
  return undefined;
}

export interface ResolveRemapOptions {
  runner: CommandRunner;
  /** Where passwd, group, subuid and subgid are (tests use a temp dir); default /etc. */
  etc?: string;
  /** Told what was added to the host (the daemon logs it). */
  onChange?: (what: string) => void;
}

/**
 * Resolves `--userns-remap` to mappings. For `default`, makes the user `berthremap` (useradd)
 * and gives it ranges (usermod --add-subuids/--add-subgids) when missing, as dockerd does for
 * dockremap; a named user must exist and own ranges already (Docker's rule: nothing is added
 * for an operator's own user).
 */
export async function resolveRemap(value: string, options: ResolveRemapOptions): Promise<UsernsRemap> {
  const etc = options.etc ?? '/etc';
  const setting = parseRemapSetting(value);
  const read = (f: string) => readFile(`${etc}/${f}`, 'utf8').catch(() => '');
  let user = findAccount(await read('passwd'), setting.user);
  if (!user && setting.isDefault) {
    await options.runner.run(['useradd', '--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', DEFAULT_REMAP_USER]);
    options.onChange?.(`added the system user ${DEFAULT_REMAP_USER}`);
    user = findAccount(await read('passwd'), setting.user);
  }
  if (!user) throw new InvalidParameterError(`cannot use --userns-remap=${value}: no user ${JSON.stringify(setting.user)} in ${etc}/passwd`);
  const groupKey = setting.group ?? user.name;
  const group = findAccount(await read('group'), groupKey);
  if (!group) throw new InvalidParameterError(`cannot use --userns-remap=${value}: no group ${JSON.stringify(groupKey)} in ${etc}/group`);
  let subuid = parseSubIdFile(await read('subuid'));
  let subgid = parseSubIdFile(await read('subgid'));
  let uidMappings = mappingsFor(subuid, user.name, user.id);
  let gidMappings = mappingsFor(subgid, group.name, group.id);
  if (setting.isDefault && (uidMappings.length === 0 || gidMappings.length === 0)) {
    const start = freeRangeStart([...subuid, ...subgid]);
    const range = `${start}-${start + DEFAULT_RANGE_SIZE - 1}`;
    const args = ['usermod'];
    if (uidMappings.length === 0) args.push('--add-subuids', range);
    if (gidMappings.length === 0) args.push('--add-subgids', range);
    await options.runner.run([...args, user.name]);
    options.onChange?.(`gave ${user.name} the subordinate ids ${range} (${etc}/subuid, ${etc}/subgid)`);
    subuid = parseSubIdFile(await read('subuid'));
    subgid = parseSubIdFile(await read('subgid'));
    uidMappings = mappingsFor(subuid, user.name, user.id);
    gidMappings = mappingsFor(subgid, group.name, group.id);
  }
  if (uidMappings.length === 0) throw new InvalidParameterError(`cannot use --userns-remap=${value}: no subuid ranges found for user ${JSON.stringify(user.name)} in ${etc}/subuid`);
  if (gidMappings.length === 0) throw new InvalidParameterError(`cannot use --userns-remap=${value}: no subgid ranges found for group ${JSON.stringify(group.name)} in ${etc}/subgid`);
  return { user: user.name, group: group.name, uidMappings, gidMappings };
}

/**
 * Checks that every directory above `path` lets the remapped root through (search permission),
 * as dockerd does at start: a container's runtime resolves its rootfs and bind sources as that
 * user, so a 0700 parent makes every start fail with "Permission denied" instead.
 */
export async function assertTraversable(path: string, root: { uid: number; gid: number }): Promise<void> {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const st = await stat(dir).catch(() => undefined);
    if (st) {
      const bit = st.uid === root.uid ? 0o100 : st.gid === root.gid ? 0o010 : 0o001;
      if ((st.mode & bit) === 0) {
        throw new InvalidParameterError(
          `cannot use --userns-remap: the directory ${dir} above ${path} does not let the remapped root (uid ${root.uid}) through; allow it 'o+x' (chmod o+x ${dir})`,
        );
      }
    }
    if (dir === '/' || dir === '.') return;
  }
}

/**
 * crun's `idmap` mount option for a bind mount whose files appear owned by container root when
 * they are owned by `owner` on the host, and which container root writes as `owner` (issue 21):
 * the source's owner is "the caller". Other ids are not mapped in that mount (they show as
 * nobody there, and cannot create files in it).
 */
export function bindIdmapOption(owner: { uid: number; gid: number }, root: { uid: number; gid: number }): string {
  return `idmap=uids=${owner.uid}-${root.uid}-1;gids=${owner.gid}-${root.gid}-1`;
}
