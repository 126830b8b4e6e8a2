import { constants } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { InvalidParameterError, NotFoundError } from '../common/errors.js';

/** A resolved `--user` value. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups (only when the group was not given explicitly, as Docker/runc do). */
  additionalGids: number[];
  /** Home directory from passwd ('/' when unknown), for the HOME variable. */
  home: string;
  /** The passwd name, when one matched. */
  name?: string;
}

export class NoSuchUserError extends NotFoundError {
  override readonly code = 'BERTH_ERR_NO_SUCH_USER';
}

const MAX_ID = 2 ** 31 - 1;
const MAX_FILE = 16 * 1024 * 1024;
const MAX_LINKS = 40;

/**
 * Resolves `path` inside `root` the way the container would see it, never leaving `root`:
 * symlinks (absolute or relative, with `..`) are followed as if `root` were `/`. The result is
 * a host path under `root`. (Like Go's securejoin.) Call only while no process of the
 * container runs, or accept that a concurrently changing tree can still race the final open;
 * readFileInRoot also opens with O_NOFOLLOW.
 */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  let pending = path.split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (pending.length) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, part);
    let st;
    try {
      st = await lstat(host);
    } catch {
      // Missing: nothing to follow; later components fail lstat too, `..` still pops.
      done.push(part);
      continue;
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw new InvalidParameterError(`too many levels of symbolic links resolving ${path}`);
      const target = await readlink(host);
      if (target.startsWith('/')) done.length = 0;
      pending = [...target.split('/').filter(Boolean), ...pending];
    } else {
      done.push(part);
    }
  }
  // `..` was handled per component, so `done` never climbs above root.
  return join(root, posix.join('/', ...done));
}

/** Reads a regular file at `path` inside `root` (see resolveInRoot); undefined when absent or not a regular file. */
export async function readFileInRoot(root: string, path: string): Promise<string | undefined> {
  const host = await resolveInRoot(root, path);
  let fh;
  try {
    fh = await open(host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return undefined;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > MAX_FILE) return undefined;
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function parseId(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (!l || l.startsWith('#')) continue;
    const f = l.split(':');
    const uid = parseId(f[2] ?? '');
    const gid = parseId(f[3] ?? '');
    if (!f[0] || uid === undefined) continue;
    out.push({ name: f[0], uid, gid: gid ?? 0, home: f[5] || '/' });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (!l || l.startsWith('#')) continue;
    const f = l.split(':');
    const gid = parseId(f[2] ?? '');
    if (!f[0] || gid === undefined) continue;
    out.push({ name: f[0], gid, members: (f[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean) });
  }
  return out;
}

/**
 * Resolves a Docker `--user` value (`name`, `uid`, `uid:gid`, `name:group`, `uid:group`, or
 * empty for root) against the texts of the container's /etc/passwd and /etc/group, with
 * runc's rules: a numeric user need not exist; a name must; supplementary groups come from
 * /etc/group membership only when no group was given.
 */
export function resolveUserSpec(spec: string, passwdText: string | undefined, groupText: string | undefined): ResolvedUser {
  const colon = spec.indexOf(':');
  const userArg = colon >= 0 ? spec.slice(0, colon) : spec;
  const groupArg = colon >= 0 ? spec.slice(colon + 1) : '';
  const passwd = parsePasswd(passwdText ?? '');
  const groups = parseGroup(groupText ?? '');
  const uidArg = parseId(userArg);
  const gidArg = parseId(groupArg);

  let uid = 0;
  let gid = 0;
  let home = '/';
  let name: string | undefined;
  const match =
    userArg === ''
      ? passwd.find((u) => u.uid === 0)
      : uidArg !== undefined
        ? passwd.find((u) => u.uid === uidArg)
        : passwd.find((u) => u.name === userArg);
  if (match) {
    ({ uid, gid, home, name } = match);
  } else if (userArg !== '') {
    if (uidArg === undefined) {
      if (/^\d+$/.test(userArg)) throw new InvalidParameterError(`uid ${userArg} out of range`);
      throw new NoSuchUserError(`unable to find user ${userArg}: no matching entries in passwd file`);
    }
    uid = uidArg;
  }

  const additionalGids: number[] = [];
  if (groupArg !== '') {
    const g = gidArg !== undefined ? groups.find((x) => x.gid === gidArg) : groups.find((x) => x.name === groupArg);
    if (g) gid = g.gid;
    else if (gidArg !== undefined) gid = gidArg;
    else if (/^\d+$/.test(groupArg)) throw new InvalidParameterError(`gid ${groupArg} out of range`);
    else throw new NoSuchUserError(`unable to find group ${groupArg}: no matching entries in group file`);
  } else if (name !== undefined) {
    for (const g of groups) if (g.members.includes(name) && !additionalGids.includes(g.gid)) additionalGids.push(g.gid);
  }
  return { uid, gid, additionalGids, home, ...(name !== undefined ? { name } : {}) };
}

/** Resolves `--user` against the rootfs at `rootfs` (untrusted: read with resolveInRoot). */
export async function resolveUser(rootfs: string, spec: string): Promise<ResolvedUser> {
  const [passwd, group] = await Promise.all([
    readFileInRoot(rootfs, '/etc/passwd'),
    readFileInRoot(rootfs, '/etc/group'),
  ]);
  return resolveUserSpec(spec.trim(), passwd, group);
}
