/**
 * Files of a build step: paths looked up and resolved across an image's read-only layers
 * (symlinks followed inside the image), parents made in a staging dir as the image has them,
 * context entries materialised, archives recognised for ADD, `--chown` owners resolved from
 * the image's /etc/passwd and /etc/group, and the small text helpers of the instructions.
 * Functions only, used by builder.ts.
 */
import { createHash } from 'node:crypto';
import { chmod, chown, lstat, lutimes, mkdir, open, readFile, readlink, rm, rmdir, stat, symlink, utimes } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { InvalidParameterError } from '../common/errors.js';
import { isEmptyDir } from '../archive/diff-layer.js';
import { cleanPath, type BuildContext, type ContextEntry } from './build-context.js';

/** An ADD source fetched from the network (URL or git). */
export function isRemote(s: string): boolean {
  return /^https?:\/\//i.test(s) || isGitUrl(s);
}

/** A git repository as ADD takes it (BuildKit's rules, simplified): `git@…`, `git://…`, `….git[#…]`, `ssh://…`. */
export function isGitUrl(s: string): boolean {
  return /^git@[^:]+:/.test(s) || /^(git|ssh|git\+ssh):\/\//i.test(s) || (/^https?:\/\//i.test(s) && /\.git(#.*)?$/.test(s));
}

/**
 * `COPY --parents`: the path a source keeps under the destination: from the context root, or
 * from the pivot `./` in the source (`a/./b/c` → `b/c`).
 */
export function pivotPath(pattern: string, matched: string): string {
  const p = pattern.replace(/^\/+/, '');
  const at = p.lastIndexOf('/./');
  if (at < 0) return matched === '.' ? '' : matched;
  const prefix = cleanPath(p.slice(0, at));
  const m = cleanPath(matched);
  return prefix === '.' ? m : m.startsWith(`${prefix}/`) ? m.slice(prefix.length + 1) : m;
}

/**
 * Removes from a RUN's upper dir the empty files and directories the runtime created as mount
 * points (a `--mount` target the image did not have): they are not the step's output.
 */
export async function removeMountStubs(upper: string, lowers: readonly string[], targets: string[]): Promise<void> {
  for (const t of [...targets].sort((a, b) => b.length - a.length)) {
    const parts = t.split('/').filter(Boolean);
    for (let i = parts.length; i > 0; i--) {
      const rel = `/${parts.slice(0, i).join('/')}`;
      if (await lookupInLayers(lowers, rel)) break;
      const p = join(upper, rel);
      const s = await lstat(p).catch(() => undefined);
      if (!s) continue;
      if (s.isDirectory()) {
        if (!(await isEmptyDir(p))) break;
        await rmdir(p).catch(() => undefined);
      } else if (s.isFile() && s.size === 0) await rm(p, { force: true });
      else break;
    }
  }
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function envValue(env: readonly string[], name: string): string | undefined {
  for (let i = env.length - 1; i >= 0; i--) {
    const e = env[i]!;
    if (e.startsWith(`${name}=`)) return e.slice(name.length + 1);
  }
  return undefined;
}

export function setEnv(env: string[], key: string, value: string): void {
  const i = env.findIndex((e) => e.startsWith(`${key}=`));
  if (i >= 0) env[i] = `${key}=${value}`;
  else env.push(`${key}=${value}`);
}

/** Where `path` (absolute, in the image) is found through the layers: its stat and the file. */
export async function findInLayers(lowers: readonly string[], path: string): Promise<{ stat: import('node:fs').Stats; file: string } | undefined> {
  const rel = path.replace(/^\/+/, '');
  for (const layer of lowers) {
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const p = join(layer, ...parts.slice(0, i));
      const st = await lstat(p).catch(() => undefined);
      if (!st) break;
      if (st.isCharacterDevice() && st.rdev === 0) return undefined;
      if (i === parts.length) return { stat: st, file: p };
      if (!st.isDirectory()) return undefined;
    }
  }
  return undefined;
}

/**
 * Resolves the symlinks in `path` as the container would see them, staying inside the
 * image's root (an absolute link target is taken from the image root, `..` stops at `/`):
 * the directories of a usrmerged image (`/bin -> usr/bin`) are found where they really are,
 * and nothing resolves to a host path. The last component is followed only when asked.
 */
export async function resolveInImage(readLink: (p: string) => Promise<string | undefined>, path: string, followLast: boolean): Promise<string> {
  let parts = path.split('/').filter((x) => x && x !== '.');
  const done: string[] = [];
  for (let hops = 0; parts.length; ) {
    const name = parts.shift()!;
    if (name === '..') {
      done.pop();
      continue;
    }
    const candidate = `/${[...done, name].join('/')}`;
    const target = parts.length || followLast ? await readLink(candidate) : undefined;
    if (target === undefined) {
      done.push(name);
      continue;
    }
    if (++hops > 40) throw new InvalidParameterError(`too many levels of symbolic links: ${path}`);
    if (target.startsWith('/')) done.length = 0;
    parts = [...target.split('/').filter((x) => x && x !== '.'), ...parts];
  }
  return `/${done.join('/')}`;
}

/** A readLink over image layers (undefined when the path is not a symlink). */
export function layersReadLink(lowers: readonly string[]): (p: string) => Promise<string | undefined> {
  return async (p) => {
    const f = await findInLayers(lowers, p);
    return f?.stat.isSymbolicLink() ? readlink(f.file) : undefined;
  };
}

/** A readLink over a directory used as a root (a mounted image). */
export function rootReadLink(root: string): (p: string) => Promise<string | undefined> {
  return async (p) => {
    const full = join(root, p);
    const st = await lstat(full).catch(() => undefined);
    return st?.isSymbolicLink() ? readlink(full) : undefined;
  };
}

/** Stat of `path` (absolute, in the image) through the layers, topmost first, honouring whiteouts. */
export async function lookupInLayers(lowers: readonly string[], path: string): Promise<import('node:fs').Stats | undefined> {
  const rel = path.replace(/^\/+/, '');
  if (!rel) return lowers.length ? stat(lowers[0]!) : undefined;
  const parts = rel.split('/');
  for (const layer of lowers) {
    // A whiteout of the path or of a parent hides everything below this layer.
    for (let i = 1; i <= parts.length; i++) {
      const p = join(layer, ...parts.slice(0, i));
      const s = await lstat(p).catch(() => undefined);
      if (!s) break;
      if (s.isCharacterDevice() && s.rdev === 0) return undefined;
      if (i === parts.length) return s;
      if (!s.isDirectory()) return undefined;
    }
  }
  return undefined;
}

/** Creates `rel` (and its parents) in the staging dir, mirroring mode/owner/mtime of dirs the image has. */
export async function mkdirp(staging: string, rel: string, lowers: readonly string[]): Promise<void> {
  await ensureParents(staging, lowers, `/${rel}`, true);
}

export async function ensureParents(staging: string, lowers: readonly string[], path: string, includeSelf: boolean): Promise<void> {
  const parts = path.split('/').filter((p) => p && p !== '.');
  const upto = includeSelf ? parts.length : parts.length - 1;
  for (let i = 1; i <= upto; i++) {
    const rel = parts.slice(0, i).join('/');
    const full = join(staging, rel);
    const have = await lstat(full).catch(() => undefined);
    if (have) continue;
    await mkdir(full);
    const img = await lookupInLayers(lowers, `/${rel}`);
    if (img?.isDirectory()) {
      await chmod(full, img.mode & 0o7777);
      await chown(full, img.uid, img.gid);
      await utimes(full, img.atime, img.mtime);
    } else await chmod(full, 0o755);
  }
}

export async function writeNew(path: string, content: string | Buffer, mode: number): Promise<void> {
  await rm(path, { recursive: true, force: true });
  const fh = await open(path, 'wx', mode);
  try {
    await fh.writeFile(content);
  } finally {
    await fh.close();
  }
  await chmod(path, mode);
}

/** Writes one context entry into the staging dir. */
export async function materialise(ctx: BuildContext, e: ContextEntry, dest: string): Promise<void> {
  // A file re-included (`!dir/file`) under an ignored directory comes without its parents.
  if (e.type !== 'dir') await mkdir(posix.dirname(dest), { recursive: true });
  if (e.type === 'dir') {
    await mkdir(dest, { recursive: true });
    await chmod(dest, e.mode);
  } else if (e.type === 'symlink') {
    await rm(dest, { recursive: true, force: true });
    await symlink(e.linkname!, dest);
    await lutimes(dest, e.mtime, e.mtime).catch(() => undefined);
  } else {
    await rm(dest, { recursive: true, force: true });
    await ctx.copyTo(e, dest);
    await chmod(dest, e.mode);
    await utimes(dest, e.mtime, e.mtime);
  }
}

export async function listAll(dir: string): Promise<Set<string>> {
  const out = new Set<string>();
  const { readdir } = await import('node:fs/promises');
  const walk = async (rel: string): Promise<void> => {
    for (const d of await readdir(rel ? join(dir, rel) : dir, { withFileTypes: true })) {
      const p = rel ? `${rel}/${d.name}` : d.name;
      out.add(p);
      if (d.isDirectory()) await walk(p);
    }
  };
  await walk('');
  return out;
}

/** The compression/archive kind of a local ADD source, or undefined when it is not an archive. */
export async function archiveKind(path: string): Promise<string | undefined> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    const b = buf.subarray(0, bytesRead);
    if (b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
    if (b.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
    if (b[0] === 0xfd && b.subarray(1, 6).toString('latin1') === '7zXZ') return 'xz';
    if (bytesRead >= 262 && b.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
    return undefined;
  } finally {
    await fh.close();
  }
}

/** `--chown=user:group` against the image's /etc/passwd and /etc/group (numeric ids need neither). */
export async function resolveOwner(lowers: readonly string[], spec: string, fail: (m: string) => never): Promise<{ uid: number; gid: number }> {
  const [u, g] = spec.split(':') as [string, string | undefined];
  const readEtc = async (name: string): Promise<string> => {
    for (const l of lowers) {
      const s = await lookupInLayers([l], `/etc/${name}`);
      if (s?.isFile()) return readFile(join(l, 'etc', name), 'utf8');
    }
    return '';
  };
  const find = async (file: string, name: string): Promise<{ id: number; gid?: number } | undefined> => {
    for (const line of (await readEtc(file)).split('\n')) {
      const f = line.split(':');
      if (f[0] === name) return { id: Number(f[2]), gid: f[3] !== undefined ? Number(f[3]) : undefined };
    }
    return undefined;
  };
  let uid: number;
  let gid: number | undefined;
  if (/^\d+$/.test(u)) uid = Number(u);
  else {
    const r = await find('passwd', u);
    if (!r) fail(`unable to convert uid/gid chown string to host mapping: can't find uid for user ${u}: no such user: ${u}`);
    uid = r!.id;
    gid = r!.gid;
  }
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const r = await find('group', g);
      if (!r) fail(`unable to convert uid/gid chown string to host mapping: can't find gid for group ${g}: no such group: ${g}`);
      gid = r!.id;
    }
  }
  return { uid, gid: gid ?? uid };
}

