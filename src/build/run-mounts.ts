/**
 * `RUN --mount=…` (BuildKit's Dockerfile frontend): the flag's parser, and the cache mounts'
 * store.
 *
 * A cache mount is a directory under `<build-root>/cache-mounts/`, one per id, kept between
 * builds and never part of an image; `builder prune` removes them. Sharing modes: `shared`
 * (every user at once), `locked` (one RUN at a time, the others wait), `private` (a RUN that
 * finds the directory busy gets a fresh one of its own, kept as another instance).
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';

export type RunMount =
  | { type: 'bind'; target: string; source: string; from?: string; readonly: boolean }
  | { type: 'cache'; target: string; id: string; sharing: 'shared' | 'private' | 'locked'; from?: string; source: string; readonly: boolean; mode: number; uid: number; gid: number }
  | { type: 'tmpfs'; target: string; size?: number }
  | { type: 'secret'; id: string; target?: string; env?: string; required: boolean; mode: number; uid: number; gid: number }
  | { type: 'ssh'; id: string; target: string; required: boolean; mode: number; uid: number; gid: number };

const KEYS: Record<RunMount['type'], readonly string[]> = {
  bind: ['type', 'target', 'source', 'from', 'readonly', 'rw'],
  cache: ['type', 'target', 'id', 'sharing', 'from', 'source', 'readonly', 'rw', 'mode', 'uid', 'gid'],
  tmpfs: ['type', 'target', 'size'],
  secret: ['type', 'id', 'target', 'env', 'required', 'mode', 'uid', 'gid'],
  ssh: ['type', 'id', 'target', 'required', 'mode', 'uid', 'gid'],
};
const ALIASES: Record<string, string> = { dst: 'target', destination: 'target', src: 'source', ro: 'readonly', readwrite: 'rw' };
const BOOLS = new Set(['readonly', 'rw', 'required']);

/** Parses one `--mount` value (after variable substitution); throws an Error with BuildKit's wording. */
export function parseRunMount(spec: string, sshIndex = 0): RunMount {
  const fields = new Map<string, string>();
  for (const part of splitCsv(spec)) {
    const eq = part.indexOf('=');
    let key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    key = ALIASES[key] ?? key;
    const value = eq < 0 ? undefined : part.slice(eq + 1);
    if (value === undefined && !BOOLS.has(key)) throw new Error(`invalid field '${part}' must be a key=value pair`);
    if (fields.has(key)) throw new Error(`mount option ${key} given more than once`);
    fields.set(key, value ?? 'true');
  }
  const type = (fields.get('type') ?? 'bind') as RunMount['type'];
  if (!(type in KEYS)) throw new Error(`unsupported mount type "${type}"`);
  for (const k of fields.keys()) {
    if (!KEYS[type].includes(k)) throw new Error(`mount option "${k}" is not supported for type=${type}`);
  }
  const bool = (k: string, dflt: boolean): boolean => {
    const v = fields.get(k);
    if (v === undefined) return dflt;
    if (/^(1|true)$/i.test(v)) return true;
    if (/^(0|false)$/i.test(v)) return false;
    throw new Error(`invalid value for ${k}: ${v}`);
  };
  const int = (k: string, dflt: number, base = 10): number => {
    const v = fields.get(k);
    if (v === undefined) return dflt;
    const re = base === 8 ? /^0?[0-7]{1,4}$/ : /^\d+$/;
    if (!re.test(v)) throw new Error(`invalid value for ${k}: ${v}`);
    return parseInt(v, base);
  };
  const target = fields.get('target');
  const needTarget = (): string => {
    if (!target) throw new Error(`mount type=${type} requires a target`);
    return posix.resolve('/', target);
  };
  const readonly = (dflt: boolean): boolean => {
    if (fields.has('rw') && fields.has('readonly')) throw new Error('readonly and rw cannot both be given');
    return fields.has('rw') ? !bool('rw', true) : bool('readonly', dflt);
  };
  switch (type) {
    case 'bind':
      return { type, target: needTarget(), source: fields.get('source') ?? '/', ...(fields.has('from') ? { from: fields.get('from')! } : {}), readonly: readonly(true) };
    case 'cache': {
      const t = needTarget();
      const sharing = fields.get('sharing') ?? 'shared';
      if (sharing !== 'shared' && sharing !== 'private' && sharing !== 'locked') throw new Error(`unsupported sharing value "${sharing}"`);
      return {
        type, target: t, id: fields.get('id') || t, sharing, ...(fields.has('from') ? { from: fields.get('from')! } : {}), source: fields.get('source') ?? '/',
        readonly: readonly(false), mode: int('mode', 0o755, 8), uid: int('uid', 0), gid: int('gid', 0),
      };
    }
    case 'tmpfs': {
      const size = fields.get('size');
      let bytes: number | undefined;
      if (size !== undefined) {
        bytes = parseSize(size);
        if (bytes === undefined) throw new Error(`invalid value for size: ${size}`);
      }
      return { type, target: needTarget(), ...(bytes !== undefined ? { size: bytes } : {}) };
    }
    case 'secret': {
      const env = fields.get('env');
      const id = fields.get('id') || (target ? posix.basename(target) : '');
      if (!id) throw new Error('mount type=secret requires an id or a target');
      return {
        type, id, ...(target || !env ? { target: posix.resolve('/run/secrets', target ?? id) } : {}), ...(env ? { env } : {}),
        required: bool('required', false), mode: int('mode', 0o400, 8), uid: int('uid', 0), gid: int('gid', 0),
      };
    }
    case 'ssh':
      return {
        type, id: fields.get('id') || 'default', target: target ? posix.resolve('/', target) : `/run/buildkit/ssh_agent.${sshIndex}`,
        required: bool('required', false), mode: int('mode', 0o600, 8), uid: int('uid', 0), gid: int('gid', 0),
      };
  }
}

/** Splits `a=1,b="x,y"` at unquoted commas (Go's encoding/csv, as BuildKit reads the flag). */
function splitCsv(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') {
      if (quoted && s[i + 1] === '"') {
        cur += '"';
        i++;
      } else quoted = !quoted;
    } else if (c === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (quoted) throw new Error(`unterminated quote in ${JSON.stringify(s)}`);
  out.push(cur);
  return out.filter((p) => p !== '');
}

/** `64m`, `1g`, `1024` → bytes (units as docker's RAMInBytes: k, m, g, with optional b). */
export function parseSize(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(s.trim());
  if (!m) return undefined;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase()]!;
  return Math.floor(Number(m[1]) * mult);
}

export interface CacheMountInfo {
  /** Directory name under cache-mounts/. */
  key: string;
  id: string;
  size: number;
  created: Date;
  lastUsed: Date;
  inUse: boolean;
}

/** The cache mounts kept between builds. */
export class CacheMounts {
  readonly #root: string;
  readonly #users = new Map<string, number>();
  readonly #locks = new Map<string, Promise<void>>();

  constructor(root: string) {
    this.#root = root;
  }

  /**
   * A cache mount's directory for one RUN, created (mode/uid/gid, seeded by `seed` when given)
   * when new. `release` must be called when the RUN ends.
   */
  async acquire(m: Extract<RunMount, { type: 'cache' }>, seed?: (dir: string) => Promise<void>): Promise<{ dir: string; release(): void }> {
    const base = createHash('sha256').update(m.id).digest('hex').slice(0, 32);
    let unlock: (() => void) | undefined;
    if (m.sharing === 'locked') {
      const prev = this.#locks.get(base) ?? Promise.resolve();
      let done!: () => void;
      const mine = new Promise<void>((r) => (done = r));
      const chained = prev.then(() => mine);
      this.#locks.set(base, chained);
      await prev;
      unlock = () => {
        done();
        if (this.#locks.get(base) === chained) this.#locks.delete(base);
      };
    }
    let key = base;
    if (m.sharing === 'private' && (this.#users.get(base) ?? 0) > 0) key = `${base}-${randomBytes(4).toString('hex')}`;
    const dir = join(this.#root, key);
    const data = join(dir, 'data');
    const fresh = !(await stat(data).catch(() => undefined));
    if (fresh) {
      await mkdir(data, { recursive: true });
      if (seed) await seed(data);
      await chmod(data, m.mode);
      await chown(data, m.uid, m.gid);
    }
    const now = new Date().toISOString();
    const meta = fresh ? { id: m.id, created: now, lastUsed: now } : { ...(await this.#meta(key)), lastUsed: now };
    await writeFile(join(dir, 'meta.json'), JSON.stringify(meta));
    this.#users.set(key, (this.#users.get(key) ?? 0) + 1);
    let released = false;
    return {
      dir: data,
      release: () => {
        if (released) return;
        released = true;
        this.#users.set(key, (this.#users.get(key) ?? 1) - 1);
        unlock?.();
      },
    };
  }

  async #meta(key: string): Promise<{ id: string; created: string; lastUsed: string }> {
    try {
      return JSON.parse(await readFile(join(this.#root, key, 'meta.json'), 'utf8')) as { id: string; created: string; lastUsed: string };
    } catch {
      const now = new Date().toISOString();
      return { id: key, created: now, lastUsed: now };
    }
  }

  /** Every cache mount with its size on disk. */
  async list(du: (dir: string) => Promise<number>): Promise<CacheMountInfo[]> {
    const names = await readdir(this.#root).catch(() => [] as string[]);
    const out: CacheMountInfo[] = [];
    for (const key of names) {
      const meta = await this.#meta(key);
      out.push({
        key, id: meta.id, size: await du(join(this.#root, key, 'data')), created: new Date(meta.created), lastUsed: new Date(meta.lastUsed),
        inUse: (this.#users.get(key) ?? 0) > 0,
      });
    }
    return out;
  }

  /** Removes one cache mount (not while a RUN uses it): true when removed. */
  async remove(key: string): Promise<boolean> {
    if ((this.#users.get(key) ?? 0) > 0) return false;
    await rm(join(this.#root, key), { recursive: true, force: true });
    return true;
  }
}
