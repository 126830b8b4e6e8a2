/**
 * What a container asks to mount, parsed from Docker's three spellings: `HostConfig.Binds`
 * (`-v src:dst:mode`), `HostConfig.Mounts` (`--mount type=…`) and `HostConfig.Tmpfs`
 * (`--tmpfs /p:opts`). Pure: validation that needs the host (a bind source that must exist)
 * happens where the mounts are resolved. Errors use dockerd's wording.
 */
import { posix } from 'node:path';
import { InvalidParameterError } from '../common/errors.js';

export type MountType = 'bind' | 'volume' | 'tmpfs';

/** One requested mount. */
export interface MountRequest {
  type: MountType;
  /** Host path (bind), volume name ('' = anonymous), '' for tmpfs. */
  source: string;
  target: string;
  readOnly: boolean;
  /** `-v` binds create a missing source directory; `--mount` binds refuse it. */
  createSource?: boolean;
  /** The mode string as given with `-v` (shown in inspect's Mounts[].Mode). */
  mode?: string;
  propagation?: string;
  noCopy?: boolean;
  /** `-v /src:/dst:idmap` (issue 21, Podman's spelling): the source's owner is root in the container's view of the mount. */
  idmap?: boolean;
  /** VolumeOptions.Subpath (API 1.45): a directory inside the volume to mount instead of its root. */
  subpath?: string;
  volumeLabels?: Record<string, string>;
  volumeDriver?: string;
  volumeOptions?: Record<string, string>;
  /** tmpfs mount options (`size=64m`, `mode=1777`, `exec`, …). */
  tmpfsOptions?: string[];
}

const PROPAGATIONS = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);

function invalidMount(type: string, why: string): InvalidParameterError {
  return new InvalidParameterError(`invalid mount config for type "${type}": ${why}`);
}

function checkTarget(type: string, target: string): string {
  if (!target) throw invalidMount(type, 'field Target must not be empty');
  if (!target.startsWith('/')) throw invalidMount(type, `invalid mount path: '${target}' mount path must be absolute`);
  const clean = posix.normalize(target);
  if (clean === '/') throw invalidMount(type, 'invalid specification: destination can\'t be \'/\'');
  return clean.replace(/\/$/, '');
}

/** `-v` / `HostConfig.Binds`: `name:/dst[:mode]`, `/host:/dst[:mode]`, `/dst`. */
export function parseBind(spec: string): MountRequest {
  const parts = spec.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) throw new InvalidParameterError(`invalid volume specification: '${spec}'`);
  let source = '';
  let target: string;
  let mode = '';
  if (parts.length === 1) target = parts[0]!;
  else {
    source = parts[0]!;
    target = parts[1]!;
    mode = parts[2] ?? '';
  }
  const type: MountType = source.startsWith('/') ? 'bind' : 'volume';
  try {
    target = checkTarget(type, target);
  } catch (e) {
    throw new InvalidParameterError(`invalid volume specification: '${spec}': ${(e as Error).message}`);
  }
  const req: MountRequest = { type, source: type === 'bind' ? posix.normalize(source) : source, target, readOnly: false, mode, createSource: true };
  for (const m of mode ? mode.split(',') : []) {
    if (m === 'ro') req.readOnly = true;
    else if (m === 'rw') req.readOnly = false;
    else if (m === 'z' || m === 'Z' || m === 'consistent' || m === 'cached' || m === 'delegated') continue;
    else if (m === 'nocopy' && type === 'volume') req.noCopy = true;
    else if (m === 'idmap' && type === 'bind') req.idmap = true;
    else if (PROPAGATIONS.has(m) && type === 'bind') req.propagation = m;
    else throw new InvalidParameterError(`invalid mode: ${m}`);
  }
  if (type === 'volume' && source && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(source)) {
    throw new InvalidParameterError(
      `create ${source}: "${source}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
  return req;
}

type Json = Record<string, unknown>;

/** One entry of `HostConfig.Mounts` (what `--mount` becomes on the wire). */
export function parseApiMount(m: Json): MountRequest {
  const type = typeof m['Type'] === 'string' ? (m['Type'] as string) : '';
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') throw invalidMount(type, 'mount type unknown');
  const source = typeof m['Source'] === 'string' ? (m['Source'] as string) : '';
  const target = checkTarget(type, typeof m['Target'] === 'string' ? (m['Target'] as string) : '');
  const readOnly = m['ReadOnly'] === true;
  const req: MountRequest = { type, source, target, readOnly };
  if (type === 'bind') {
    if (!source) throw invalidMount(type, 'field Source must not be empty');
    if (!source.startsWith('/')) throw invalidMount(type, `invalid mount path: '${source}' mount path must be absolute`);
    req.source = posix.normalize(source);
    const bo = (m['BindOptions'] ?? {}) as Json;
    const p = bo['Propagation'];
    if (typeof p === 'string' && p) {
      if (!PROPAGATIONS.has(p)) throw invalidMount(type, `invalid propagation mode: ${p}`);
      req.propagation = p;
    }
    if (bo['CreateMountpoint'] === true) req.createSource = true;
  } else if (type === 'volume') {
    if (source && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(source)) throw invalidMount(type, `invalid volume name: ${JSON.stringify(source)}`);
    const vo = (m['VolumeOptions'] ?? {}) as Json;
    req.noCopy = vo['NoCopy'] === true;
    const sub = vo['Subpath'];
    if (sub !== undefined && sub !== null && sub !== '') {
      if (typeof sub !== 'string' || sub.startsWith('/') || posix.normalize(sub).split('/').includes('..')) throw invalidMount(type, `invalid subpath: ${JSON.stringify(sub)} must be a relative path inside the volume`);
      req.subpath = posix.normalize(sub);
    }
    if (vo['Labels'] && typeof vo['Labels'] === 'object') req.volumeLabels = vo['Labels'] as Record<string, string>;
    const dc = (vo['DriverConfig'] ?? {}) as Json;
    if (typeof dc['Name'] === 'string' && dc['Name']) req.volumeDriver = dc['Name'] as string;
    if (dc['Options'] && typeof dc['Options'] === 'object') req.volumeOptions = dc['Options'] as Record<string, string>;
  } else {
    if (source) throw invalidMount(type, 'field Source must not be specified');
    const to = (m['TmpfsOptions'] ?? {}) as Json;
    const opts: string[] = [];
    if (typeof to['SizeBytes'] === 'number' && to['SizeBytes'] > 0) opts.push(`size=${to['SizeBytes']}`);
    if (typeof to['Mode'] === 'number' && to['Mode'] > 0) opts.push(`mode=${(to['Mode'] as number).toString(8)}`);
    req.tmpfsOptions = opts;
  }
  return req;
}

const TMPFS_FLAGS = /^(size=\d+[kmg%]?|mode=[0-7]{3,4}|uid=\d+|gid=\d+|nr_inodes=\d+[kmg]?|nr_blocks=\d+[kmg]?|exec|noexec|suid|nosuid|dev|nodev|ro|rw|sync|async|dirsync|atime|noatime|diratime|nodiratime|relatime|norelatime|strictatime|tmpcopyup)$/i;

/** `HostConfig.Tmpfs` entry: target → `size=64m,mode=1777,…`. */
export function parseTmpfs(target: string, options: string): MountRequest {
  const t = checkTarget('tmpfs', target);
  const opts = options ? options.split(',').filter(Boolean) : [];
  for (const o of opts) if (!TMPFS_FLAGS.test(o)) throw new InvalidParameterError(`invalid tmpfs option ["${o}"]`);
  return { type: 'tmpfs', source: '', target: t, readOnly: opts.includes('ro'), tmpfsOptions: opts.filter((o) => o !== 'ro' && o !== 'rw') };
}

/** `--volumes-from CONTAINER[:ro|rw]`. */
export function parseVolumesFrom(v: string): { container: string; mode: '' | 'ro' | 'rw' } {
  const i = v.lastIndexOf(':');
  if (i < 0) return { container: v, mode: '' };
  const mode = v.slice(i + 1);
  if (mode !== 'ro' && mode !== 'rw') throw new InvalidParameterError(`invalid mode for volumes-from: ${mode}`);
  return { container: v.slice(0, i), mode };
}
