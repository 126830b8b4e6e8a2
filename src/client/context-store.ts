/**
 * Docker's context store, read and written in Docker's own layout so `docker context` and
 * `berth context` see the same contexts (docker/cli `cli/context/store`):
 *
 *   <config>/contexts/meta/<sha256(name)>/meta.json   {"Name","Metadata":{"Description"},
 *                                                     "Endpoints":{"docker":{"Host","SkipTLSVerify"}}}
 *   <config>/contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem   (dirs 0700, files 0600)
 *   <config>/config.json                              "currentContext": "<name>" (absent = default)
 *
 * where <config> is `--config`, else `DOCKER_CONFIG`, else `~/.docker`. The context named
 * `default` is never stored: it is whatever `-H`/`BERTH_HOST`/`DOCKER_HOST` and the global TLS
 * flags say. `resolveEndpoint` picks the context and turns it into a host plus TLS settings
 * with docker's precedence (docker/cli `cli/command/cli.go` resolveContextName).
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { defaultHost } from './transport.js';
import { clientTlsFromFlags, type ClientTls, type TlsFlags } from './tls.js';

/** The reserved name of the context made from -H / DOCKER_HOST and the TLS flags. */
export const DEFAULT_CONTEXT = 'default';
export const DEFAULT_CONTEXT_DESCRIPTION = 'Current DOCKER_HOST based configuration';
const NAME_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$';
const TLS_FILES = ['ca.pem', 'cert.pem', 'key.pem'] as const;
/** As docker: a context archive larger than this is refused on import. */
const MAX_IMPORT_BYTES = 10 << 20;

/** A context problem (bad name, not found, exists, malformed archive); the message is docker's. */
export class ContextError extends Error {
  readonly code: string;
  constructor(message: string, code = 'BERTH_ERR_CONTEXT', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ContextError';
    this.code = code;
  }
}

export interface DockerEndpointMeta {
  Host: string;
  SkipTLSVerify: boolean;
  [key: string]: unknown;
}

/** meta.json, as docker writes it. Unknown fields (other endpoints) are kept. */
export interface ContextMetadata {
  Name: string;
  Metadata: { Description?: string; [key: string]: unknown };
  Endpoints: { docker?: DockerEndpointMeta; [key: string]: unknown };
}

/** TLS material of the docker endpoint: PEM bytes. */
export interface EndpointTlsData {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** `--config`, else `DOCKER_CONFIG`, else `~/.docker`: docker's config directory. */
export function dockerConfigDir(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag || env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker');
}

/** Docker's rule for stored context names (`default` is reserved). */
export function validateContextName(name: string): void {
  if (!name) throw new ContextError('context name cannot be empty', 'BERTH_ERR_CONTEXT_NAME');
  if (name === DEFAULT_CONTEXT) throw new ContextError('"default" is a reserved context name', 'BERTH_ERR_CONTEXT_NAME');
  if (!new RegExp(NAME_PATTERN).test(name)) {
    throw new ContextError(`context name "${name}" is invalid, names are validated against regexp "${NAME_PATTERN}"`, 'BERTH_ERR_CONTEXT_NAME');
  }
}

function contextDir(name: string): string {
  return createHash('sha256').update(name).digest('hex');
}

async function writeFileAtomic(path: string, data: string | Buffer, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

/** The store under one config directory. */
export class ContextStore {
  readonly configDir: string;
  readonly #metaRoot: string;
  readonly #tlsRoot: string;

  constructor(configDir: string) {
    this.configDir = configDir;
    this.#metaRoot = join(configDir, 'contexts', 'meta');
    this.#tlsRoot = join(configDir, 'contexts', 'tls');
  }

  /** Where a context's files live (whether or not it exists). */
  storageInfo(name: string): { MetadataPath: string; TLSPath: string } {
    return { MetadataPath: join(this.#metaRoot, contextDir(name)), TLSPath: join(this.#tlsRoot, contextDir(name)) };
  }

  /** Every stored context, by name. Unreadable entries are skipped, as docker's list does not stop on them. */
  async list(): Promise<ContextMetadata[]> {
    const dirs = await readdir(this.#metaRoot).catch(() => [] as string[]);
    const out: ContextMetadata[] = [];
    for (const d of dirs) {
      const meta = await readFile(join(this.#metaRoot, d, 'meta.json'), 'utf8').then((t) => parseMeta(t), () => undefined);
      if (meta) out.push(meta);
    }
    return out.sort((a, b) => a.Name.localeCompare(b.Name));
  }

  async exists(name: string): Promise<boolean> {
    return readFile(join(this.storageInfo(name).MetadataPath, 'meta.json')).then(() => true, () => false);
  }

  /** The context's metadata; ContextError `context "x" does not exist` when absent. */
  async get(name: string): Promise<ContextMetadata> {
    let text: string;
    try {
      text = await readFile(join(this.storageInfo(name).MetadataPath, 'meta.json'), 'utf8');
    } catch {
      throw new ContextError(`context "${name}" does not exist`, 'BERTH_ERR_CONTEXT_NOT_FOUND');
    }
    const meta = parseMeta(text);
    if (!meta) throw new ContextError(`context "${name}": invalid metadata in ${this.storageInfo(name).MetadataPath}`);
    return meta;
  }

  /** TLS file names per endpoint (`{"docker": ["ca.pem", …]}`), as `docker context inspect` shows. */
  async tlsFiles(name: string): Promise<Record<string, string[]>> {
    const root = this.storageInfo(name).TLSPath;
    const out: Record<string, string[]> = {};
    for (const ep of await readdir(root).catch(() => [] as string[])) {
      const files = await readdir(join(root, ep)).catch(() => [] as string[]);
      if (files.length) out[ep] = files.sort();
    }
    return out;
  }

  /** The docker endpoint's TLS material. */
  async tlsData(name: string): Promise<EndpointTlsData> {
    const dir = join(this.storageInfo(name).TLSPath, 'docker');
    const read = (f: string): Promise<Buffer | undefined> => readFile(join(dir, f)).catch(() => undefined);
    const [ca, cert, key] = await Promise.all(TLS_FILES.map(read));
    return { ca, cert, key };
  }

  /** Writes meta.json and replaces the docker endpoint's TLS files (absent files are removed). */
  async write(meta: ContextMetadata, tls?: EndpointTlsData): Promise<void> {
    validateContextName(meta.Name);
    const info = this.storageInfo(meta.Name);
    await mkdir(info.MetadataPath, { recursive: true, mode: 0o755 });
    await writeFileAtomic(join(info.MetadataPath, 'meta.json'), JSON.stringify(meta), 0o644);
    if (tls === undefined) return;
    await rm(info.TLSPath, { recursive: true, force: true });
    const entries = Object.entries({ 'ca.pem': tls.ca, 'cert.pem': tls.cert, 'key.pem': tls.key }).filter(([, v]) => v !== undefined);
    if (!entries.length) return;
    await mkdir(this.#tlsRoot, { recursive: true, mode: 0o700 });
    await mkdir(join(info.TLSPath, 'docker'), { recursive: true, mode: 0o700 });
    for (const [f, data] of entries) await writeFileAtomic(join(info.TLSPath, 'docker', f), data!, 0o600);
  }

  /** Removes a stored context (metadata and TLS files). */
  async remove(name: string): Promise<void> {
    const info = this.storageInfo(name);
    await rm(info.MetadataPath, { recursive: true, force: true });
    await rm(info.TLSPath, { recursive: true, force: true });
  }

  /** `currentContext` from config.json; '' when unset. */
  async currentContext(): Promise<string> {
    const cfg = await this.#readConfig();
    return typeof cfg.currentContext === 'string' ? cfg.currentContext : '';
  }

  /** Sets (or, for '' / default, removes) `currentContext`, keeping every other key of config.json. */
  async setCurrentContext(name: string): Promise<void> {
    const cfg = await this.#readConfig();
    if (!name || name === DEFAULT_CONTEXT) delete cfg.currentContext;
    else cfg.currentContext = name;
    await mkdir(this.configDir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(join(this.configDir, 'config.json'), JSON.stringify(cfg, null, '\t'), 0o600);
  }

  async #readConfig(): Promise<Record<string, unknown>> {
    const path = join(this.configDir, 'config.json');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      return {};
    }
    if (!text.trim()) return {};
    try {
      const v = JSON.parse(text) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      /* reported below */
    }
    throw new ContextError(`loading config file: ${path}: invalid JSON`);
  }

  /**
   * `docker context export`: a tar of meta.json and tls/<endpoint>/<file> (the archive
   * layout docker/cli's store.Export writes and store.Import reads).
   */
  async export(name: string): Promise<Buffer> {
    const meta = await this.get(name);
    const files = await this.tlsFiles(name);
    const { pack } = await import('tar-stream');
    const p = pack();
    const done = collectStream(p);
    const add = (header: Parameters<typeof p.entry>[0], body?: Buffer): Promise<void> =>
      new Promise((res, rej) => p.entry(header, body ?? Buffer.alloc(0), (err) => (err ? rej(err) : res())));
    const mtime = new Date(0);
    await add({ name: 'meta.json', mode: 0o644, mtime }, Buffer.from(JSON.stringify(meta)));
    await add({ name: 'tls', type: 'directory', mode: 0o700, mtime });
    for (const [ep, list] of Object.entries(files)) {
      await add({ name: `tls/${ep}`, type: 'directory', mode: 0o700, mtime });
      for (const f of list) await add({ name: `tls/${ep}/${f}`, mode: 0o600, mtime }, await readFile(join(this.storageInfo(name).TLSPath, ep, f)));
    }
    p.finalize();
    return done;
  }

  /**
   * `docker context import NAME FILE`: reads such a tar (docker's own exports end without the
   * tar end-of-archive blocks, so a clean end after the last entry is accepted), renames the
   * context to NAME and stores it. Nothing is written unless the whole archive is valid.
   */
  async import(name: string, archive: Buffer): Promise<void> {
    validateContextName(name);
    if (await this.exists(name)) throw new ContextError(`context "${name}" already exists`, 'BERTH_ERR_CONTEXT_EXISTS');
    if (archive.length > MAX_IMPORT_BYTES) throw new ContextError('context archive is too large');
    if (archive.subarray(0, 4).equals(Buffer.from('PK\x03\x04'))) throw new ContextError('zip context archives are not supported; use a tar archive');
    const { extract } = await import('tar-stream');
    const x = extract();
    let meta: ContextMetadata | undefined;
    const tls: EndpointTlsData = {};
    const others: string[] = [];
    // docker's export closes its pipe before the tar writer flushes: the last file's padding and
    // the end-of-archive blocks are missing. Complete them (extra zero blocks are harmless).
    const padded = Buffer.concat([archive, Buffer.alloc(((512 - (archive.length % 512)) % 512) + 1024)]);
    const source = Readable.from([padded]);
    source.pipe(x);
    try {
      for await (const entry of x) {
        const h = entry.header;
        const body = await collectStream(entry);
        if (h.type !== 'file') continue;
        if (h.name !== 'meta.json' && !h.name.startsWith('tls/')) throw new ContextError(`${h.name}: unexpected context file`);
        if (h.name.includes('..') || h.name.includes('\\') || h.name.includes('//')) throw new ContextError(`${h.name}: unexpected path format`);
        if (h.name === 'meta.json') {
          meta = parseMeta(body.toString('utf8'), { allowNoName: true });
          if (!meta) throw new ContextError('invalid context: meta.json is not valid context metadata');
          continue;
        }
        const parts = h.name.slice(4).split('/');
        if (parts.length !== 2) throw new ContextError('archive format is invalid');
        const [ep, file] = parts as [string, string];
        if (ep === 'docker' && (TLS_FILES as readonly string[]).includes(file)) tls[file.slice(0, -4) as keyof EndpointTlsData] = body;
        else others.push(h.name);
      }
    } catch (e) {
      if (e instanceof ContextError) throw e;
      throw new ContextError(`invalid context archive: ${(e as Error).message}`, 'BERTH_ERR_CONTEXT', { cause: e });
    }
    if (!meta) throw new ContextError('invalid context: no metadata found');
    if (others.length) throw new ContextError(`unsupported TLS files in the archive: ${others.join(', ')}`);
    await this.write({ ...meta, Name: name }, tls);
  }
}

function parseMeta(text: string, o: { allowNoName?: boolean } = {}): ContextMetadata | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const m = v as Partial<ContextMetadata>;
  if (typeof m.Name !== 'string' && !o.allowNoName) return undefined;
  const endpoints = (m.Endpoints && typeof m.Endpoints === 'object' ? m.Endpoints : {}) as ContextMetadata['Endpoints'];
  const docker = endpoints.docker;
  if (docker !== undefined && (typeof docker !== 'object' || docker === null || typeof docker.Host !== 'string')) return undefined;
  return {
    ...m,
    Name: m.Name ?? '',
    Metadata: (m.Metadata && typeof m.Metadata === 'object' ? m.Metadata : {}) as ContextMetadata['Metadata'],
    Endpoints: docker ? { ...endpoints, docker: { ...docker, SkipTLSVerify: !!docker.SkipTLSVerify } } : endpoints,
  };
}

async function collectStream(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** What the global flags and environment say about the daemon to use. */
export interface EndpointOptions {
  /** `-H/--host`. */
  host?: string;
  /** `-c/--context`. */
  context?: string;
  /** `--config` (docker's config directory). */
  config?: string;
  tls: TlsFlags;
  env: NodeJS.ProcessEnv;
}

/** The daemon to talk to: its address, TLS settings and the context they came from. */
export interface ResolvedEndpoint {
  context: string;
  host: string;
  tls?: ClientTls;
}

/**
 * Picks the context as docker does: `--context`; else `default` when `-H` or `DOCKER_HOST`
 * (or `BERTH_HOST`) is set; else `BERTH_CONTEXT`/`DOCKER_CONTEXT`; else config.json's
 * `currentContext`; else `default`. The default context is -H / env host plus the TLS flags;
 * a stored context brings its own host and TLS files (the TLS flags do not apply to it).
 */
export async function resolveEndpoint(o: EndpointOptions): Promise<ResolvedEndpoint> {
  const { env } = o;
  if (o.context && o.host) throw new ContextError('conflicting options: cannot specify both --host and --context');
  const configDir = dockerConfigDir(o.config, env);
  const store = new ContextStore(configDir);
  let name = o.context;
  let fromConfig = false;
  if (!name) {
    if (o.host || env.BERTH_HOST || env.DOCKER_HOST) name = DEFAULT_CONTEXT;
    else name = env.BERTH_CONTEXT || env.DOCKER_CONTEXT || undefined;
  }
  if (!name) {
    name = (await store.currentContext()) || DEFAULT_CONTEXT;
    fromConfig = name !== DEFAULT_CONTEXT;
  }
  if (name === DEFAULT_CONTEXT) return defaultEndpoint(o, configDir);
  let meta: ContextMetadata;
  try {
    meta = await store.get(name);
  } catch (e) {
    if (fromConfig) {
      throw new ContextError(`Current context "${name}" is not found on the file system, please check your config file at ${join(configDir, 'config.json')}`, 'BERTH_ERR_CONTEXT_NOT_FOUND', { cause: e });
    }
    throw e;
  }
  const ep = meta.Endpoints.docker;
  if (!ep || !ep.Host) throw new ContextError(`context "${name}": cannot find docker endpoint in context`);
  const data = await store.tlsData(name);
  const hasTls = data.ca || data.cert || data.key || ep.SkipTLSVerify;
  return { context: name, host: ep.Host, tls: hasTls ? { verify: !ep.SkipTLSVerify, ...data } : undefined };
}

/** The `default` context: -H / BERTH_HOST / DOCKER_HOST / the default socket, with the TLS flags. */
export function defaultEndpoint(o: Pick<EndpointOptions, 'host' | 'tls' | 'env' | 'config'>, configDir = dockerConfigDir(o.config, o.env)): ResolvedEndpoint {
  const host = o.host || o.env.BERTH_HOST || o.env.DOCKER_HOST || defaultHost(o.env);
  return { context: DEFAULT_CONTEXT, host, tls: clientTlsFromFlags(o.tls, o.env, configDir) };
}

/** Reads a PEM file for `context create --docker ca=…` with docker's wording on failure. */
export function readTlsFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ContextError(`unable to read ${path}: ${(e as Error).message}`, 'BERTH_ERR_CONTEXT', { cause: e });
  }
}
