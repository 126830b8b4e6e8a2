/**
 * The Dockerfile builder, after Docker's legacy builder (`builder/dockerfile`): each step
 * produces an image whose parent is the previous step's image, so the cache (cache.ts) can
 * reuse any prefix of a build.
 *
 * - FROM resolves an image, an earlier stage, or `scratch`, then runs the base image's ONBUILD
 *   triggers;
 * - RUN creates a container from the current image through the engine's ContainerService
 *   (same runtime, same default network as `run`), streams its output, and turns the
 *   container's overlay upper dir into a layer (diffLayer: whiteouts for deletions);
 * - COPY/ADD fill a private staging dir with the sources (context, another stage or image,
 *   a local archive, a URL) and turn it into a layer;
 * - the other instructions change only the config (a history entry with `empty_layer`).
 *
 * Output is Docker's legacy text (`Step N/M : …`, ` ---> Using cache`, ` ---> <id>`), sent
 * through `out` line by line as it happens. Errors are BuildErrors naming the Dockerfile and
 * line. Intermediate containers are always removed when a step fails; staging dirs and
 * mounts are removed whatever happens. The builder does not tag (the caller does, after
 * reporting the ID) and does not own the context (the caller disposes of it).
 *
 * Over 800 lines (issue 20): one BuildRun holds a build's state (stages, cache probes, the
 * step counter, output order, staging dirs) that every instruction executor reads and changes;
 * the executors (RUN with its mounts, COPY/ADD with context, stage, image, URL and git
 * sources) are its methods. What needs none of that state is beside it: image-files.ts (paths
 * across image layers, staging, owners), add-sources.ts (ADD of archives, URLs, git),
 * ordered-output.ts, run-mounts.ts, cache.ts, context.ts. The next split would be the COPY/ADD
 * executor itself, into a module taking that state explicitly.
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, lchown, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, utimes, rmdir } from 'node:fs/promises';
import { AsyncLocalStorage } from 'node:async_hooks';
import { formatPlatform, hostPlatform, parsePlatform } from '../oci/platform.js';
import { basename, join, posix } from 'node:path';
import type { CommandRunner } from '../common/command-runner.js';
import { ForbiddenError, InvalidParameterError, isCategory, isNotFound } from '../common/errors.js';
import { shortId } from '../common/ids.js';
import type { Logger } from '../common/logger.js';
import type { ContainerService } from '../engine/container-service.js';
import type { ImageService } from '../image/image-service.js';
import { diffLayer, isEmptyDir } from '../archive/diff-layer.js';
import type { HealthConfig, ImageRunConfig } from '../oci/image.js';
import type { HostSpec, MountRequest } from '../engine/types.js';
import { CacheMounts, parseRunMount, type RunMount } from './run-mounts.js';
import { BuildCache, cacheKey } from './cache.js';
import { cleanPath, excludeMatcher, type BuildContext, type ContextEntry } from './build-context.js';
import { parseChmod, type ChmodFn } from './chmod.js';
import {
  parseDockerfile, parseTrigger, parseDuration, processWord, processWords, type Dockerfile, type Instruction, type Stage, type CommandForm,
} from './dockerfile/index.js';
import { faultPoint } from '../common/fault-point.js';
import { OrderedOutput } from './ordered-output.js';
import {
  archiveKind, ensureParents, envValue, findInLayers, isGitUrl, isRemote, layersReadLink, listAll, materialise, mkdirp, pivotPath, removeMountStubs, resolveInImage, resolveOwner, rootReadLink, setEnv, sha256, writeNew,
} from './image-files.js';
export { lookupInLayers } from './image-files.js';
import { lookupInLayers } from './image-files.js';

export { BuildError } from './build-error.js';
import { BuildError } from './build-error.js';
import { downloadSource, extractArchive, gitSource, type SourceContext } from './add-sources.js';

export interface BuildOptions {
  context: BuildContext;
  /** Path of the Dockerfile inside the context (default `Dockerfile`). */
  dockerfile?: string;
  /** The Dockerfile's text when it does not come from the context. */
  dockerfileText?: string;
  buildArgs?: Record<string, string | null>;
  target?: string;
  noCache?: boolean;
  labels?: Record<string, string>;
  /** Keep intermediate containers of successful steps when false (default true). */
  rm?: boolean;
  /**
   * Remove the container of a step that failed or was cancelled too (`--force-rm`). Without it
   * that container stays for inspection, as Docker keeps it: docker-py's suite counts containers
   * while an earlier test's unread build is still running, and one that went away failed it.
   */
  forceRm?: boolean;
  /** Text output (Docker's `stream` messages). */
  out(text: string): void;
  signal?: AbortSignal;
  /** `--secret id=…`: contents by id, for `RUN --mount=type=secret` (never in a layer, key or history). */
  secrets?: Record<string, Buffer>;
  /** `--ssh id=…`: agent socket paths on this host by id, for `RUN --mount=type=ssh`. */
  ssh?: Record<string, string>;
  /** `--network` for every RUN (`default`, `none`, `host`). */
  networkMode?: string;
  /** `--add-host name:ip` for every RUN. */
  extraHosts?: string[];
  /** `--shm-size` (bytes) for every RUN. */
  shmSize?: number;
  /** `--ulimit` for every RUN. */
  ulimits?: { name: string; soft: number; hard: number }[];
  /** `--platform`: must be the host's. */
  platform?: string;
  /** `--no-cache-filter`: stages (names or indexes) rebuilt without the cache. */
  noCacheFilter?: string[];
  /** `--build-context name=docker-image://ref`: what a stage or `--from` name stands for. */
  buildContexts?: Record<string, string>;
  /**
   * `--cache-from`: when given, only these images (and their parent chains) may satisfy a
   * cached step, as Docker's classic builder does (references that do not resolve are ignored),
   * and their layers may be reused by a step whose history matches (images built by berth,
   * e.g. pushed and pulled back).
   */
  cacheFrom?: string[];
  /** `--pull`: pull every base image before using it. */
  pull?: boolean;
  /** Pulls an image from its registry (the daemon's registry access, the client's credentials); absent when the daemon has none. */
  pullImage?: (ref: string, signal: AbortSignal) => Promise<void>;
  /** `--allow`: entitlements the build asks for (`security.insecure`, `network.host`). */
  allow?: string[];
}

export interface BuilderOptions {
  containers: ContainerService;
  images: ImageService;
  runner: CommandRunner;
  /** Where the cache file and staging dirs live (`<data-root>/build`). */
  root: string;
  log: Logger;
  /** Timeout for ADD <url> downloads (default 30 s). */
  fetchTimeoutMs?: number;
  /** Largest ADD <url> download, in bytes (default 4 GiB). */
  fetchMaxBytes?: number;
  /** Cache mounts kept after each build, in bytes (BuildKit's GC keep-storage; default 2 GiB, 0 = no GC). */
  gcKeepStorage?: number;
  /** The daemon grants the `security.insecure` entitlement (`RUN --security=insecure`). */
  allowInsecureEntitlement?: boolean;
}

interface StageState {
  stage: Stage;
  /** Current image; undefined for `FROM scratch` before any step. */
  imageId?: string;
  config: ImageRunConfig;
  /** ARGs declared in this stage, with their values. */
  args: Map<string, string | undefined>;
  author?: string;
  /** Steps of this stage so far (for `Step N/M`). */
  step: number;
  /** A cache miss happened in this stage (or --no-cache): the later steps are rebuilt. */
  cacheBroken: boolean;
  /** --no-cache, or --no-cache-filter names this stage. */
  noCache: boolean;
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];
const DEFAULT_GC_KEEP_STORAGE = 2 * 1024 ** 3;

/** Docker's `BuildCache` record (system df, GET /system/df). */
export interface BuildCacheRecord {
  ID: string;
  Parents: string[] | null;
  Type: string;
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string;
  UsageCount: number;
}

/** Bytes of the files under `dir` (hardlinks once). */
async function duBytes(dir: string): Promise<number> {
  const { readdir } = await import('node:fs/promises');
  const seen = new Set<string>();
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      const st = await lstat(p).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) await walk(p);
      else {
        const k = `${st.dev}:${st.ino}`;
        if (seen.has(k)) continue;
        seen.add(k);
        total += st.size;
      }
    }
  };
  await walk(dir);
  return total;
}
/** Docker's built-in build args: allowed without an ARG, never reported as unused. */
const BUILTIN_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

export class Builder {
  readonly #o: BuilderOptions;
  readonly #cache: BuildCache;

  constructor(options: BuilderOptions) {
    this.#o = options;
    this.#cache = new BuildCache(join(options.root, 'cache.json'));
    this.cacheMounts = new CacheMounts(join(options.root, 'cache-mounts'));
  }

  /** `RUN --mount=type=cache` directories, kept between builds. */
  readonly cacheMounts: CacheMounts;

  /** COPY/ADD destinations resolved in images (BuildRun.#destIn). */
  readonly #destMemo = new Map<string, DestInImage>();

  /** Removes what a crash may have left (staging dirs, unpacked contexts). Call once at start-up. */
  async init(): Promise<void> {
    await rm(join(this.#o.root, 'staging'), { recursive: true, force: true });
    await rm(join(this.#o.root, 'contexts'), { recursive: true, force: true });
    await mkdir(this.#o.root, { recursive: true });
  }

  /**
   * Reads and parses the Dockerfile and checks the options; throws (DockerfileParseError,
   * InvalidParameterError) before any step runs, so the API can still answer with a status.
   */
  async prepare(options: BuildOptions): Promise<{ run(): Promise<string> }> {
    const file = options.dockerfile || 'Dockerfile';
    const text = options.dockerfileText ?? (await this.#readDockerfile(options.context, file));
    const df = parseDockerfile(text, { file: basename(file) });
    return new BuildRun(this.#o, this.#cache, df, options, this.#destMemo, this.cacheMounts);
  }

  /**
   * The build cache as Docker's `BuildCache` records (system df, prune): the cache mounts
   * with their sizes. (The step index points at images, whose layers system df counts
   * with the images.)
   */
  async cacheUsage(): Promise<BuildCacheRecord[]> {
    const list = await this.cacheMounts.list(duBytes);
    return list.map((m) => ({
      ID: m.key, Parents: null, Type: 'exec.cachemount', Description: `cached mount ${m.id}`, InUse: m.inUse, Shared: false, Size: m.size,
      CreatedAt: m.created.toISOString(), LastUsedAt: m.lastUsed.toISOString(), UsageCount: 1,
    }));
  }

  /**
   * `builder prune`: removes cache mounts not in use (older than `until`, when given), the
   * least recently used first until at most `keepStorage` bytes remain (0: no limit kept),
   * and forgets steps whose images are gone; with `all`, forgets every step too.
   */
  async prune(o: { all?: boolean; until?: number; keepStorage?: number }): Promise<{ deleted: string[]; reclaimed: number }> {
    const records = (await this.cacheMounts.list(duBytes)).sort((a, b) => a.lastUsed.getTime() - b.lastUsed.getTime());
    let total = records.reduce((n, r) => n + r.size, 0);
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const r of records) {
      if (r.inUse) continue;
      if (o.until !== undefined && r.lastUsed.getTime() >= o.until) continue;
      if (o.keepStorage && total <= o.keepStorage) break;
      if (await this.cacheMounts.remove(r.key)) {
        deleted.push(r.key);
        reclaimed += r.size;
        total -= r.size;
      }
    }
    if (o.all && o.until === undefined && !o.keepStorage) await this.#cache.clear();
    else await this.#cache.dropMissing((id) => this.#o.images.get(id) !== undefined);
    return { deleted, reclaimed };
  }

  /** Garbage collection after a build: cache mounts beyond the default keep-storage, LRU first. */
  async gc(): Promise<void> {
    const keep = this.#o.gcKeepStorage ?? DEFAULT_GC_KEEP_STORAGE;
    // At most once a minute: sizing the cache mounts walks them.
    if (keep <= 0 || Date.now() - this.#lastGc < 60_000) return;
    this.#lastGc = Date.now();
    await this.prune({ keepStorage: keep });
  }

  #lastGc = 0;

  /** `prepare` then run: the ID of the built image. */
  async build(options: BuildOptions): Promise<string> {
    return (await this.prepare(options)).run();
  }

  async #readDockerfile(ctx: BuildContext, file: string): Promise<string> {
    const buf = await ctx.readFile(file);
    if (!buf) {
      throw new InvalidParameterError(`Cannot locate specified Dockerfile: ${file}`);
    }
    return buf.toString('utf8');
  }
}

type DestInImage = { dest: string; existingDest: import('node:fs').Stats | undefined };

/** What one RUN's `--mount` flags became: container mounts, and how to undo them. */
interface PreparedMounts {
  mounts: MountRequest[];
  tmpfs: Record<string, string>;
  env: string[];
  /** Mount targets: stubs the runtime made for them are not part of the layer. */
  targets: string[];
  release(): Promise<void>;
}

/** One build: the steps of a parsed Dockerfile against one context. */
class BuildRun {
  readonly #o: BuilderOptions;
  readonly #destMemo: Map<string, DestInImage>;
  readonly #cache: BuildCache;
  readonly #df: Dockerfile;
  readonly #opt: BuildOptions;
  readonly #stages: Stage[];
  readonly #done = new Map<number, StageState>();
  readonly #usedArgs = new Set<string>();
  readonly #metaArgs = new Map<string, string | undefined>();
  #step = 0;
  #total: number;
  /** First step number of each stage that is built. */
  readonly #stepBase = new Map<number, number>();
  /** Removed when the build ends (downloads, clones). */
  readonly #cleanups: (() => Promise<void>)[] = [];

  readonly #cacheMounts: CacheMounts;

  constructor(o: BuilderOptions, cache: BuildCache, df: Dockerfile, opt: BuildOptions, destMemo: Map<string, DestInImage>, cacheMounts: CacheMounts) {
    this.#o = o;
    this.#cacheMounts = cacheMounts;
    this.#destMemo = destMemo;
    this.#cache = cache;
    this.#df = df;
    this.#opt = opt;
    let stages = df.stages;
    if (opt.target) {
      const t = opt.target.toLowerCase();
      const idx = stages.findIndex((s) => s.name === t);
      if (idx < 0) throw new InvalidParameterError(`failed to reach build target ${opt.target} in Dockerfile`);
      stages = stages.slice(0, idx + 1);
    }
    this.#stages = stages;
    this.#total = stages.reduce((n, s) => n + 1 + s.instructions.length, 0);
    this.#signal = opt.signal ? AbortSignal.any([opt.signal, this.#abort.signal]) : this.#abort.signal;
  }

  /** The caller's signal, or the build's own when a parallel stage failed. */
  readonly #signal: AbortSignal;
  readonly #abort = new AbortController();
  /** Output of the stage running in this async context (stages run in parallel; see OrderedOutput). */
  readonly #sink = new AsyncLocalStorage<(text: string) => void>();

  #emit(text: string): void {
    (this.#sink.getStore() ?? this.#opt.out)(text);
  }

  get #buildArgs(): Record<string, string | null> {
    return this.#opt.buildArgs ?? {};
  }

  #fail(ins: { line: number }, message: string, exitCode?: number): never {
    const e = new BuildError(`${message} (${this.#df.file}:${ins.line})`);
    if (exitCode !== undefined) e.exitCode = exitCode;
    throw e;
  }

  async run(): Promise<string> {
    try {
      return await this.#runAll();
    } finally {
      for (const c of this.#cleanups.splice(0)) await c().catch(() => undefined);
    }
  }

  async #runAll(): Promise<string> {
    // Meta ARGs (before the first FROM): usable in FROM lines, and as defaults for a stage's ARG.
    for (const a of this.#df.metaArgs) {
      for (const { name, value } of a.args) {
        const given = this.#buildArgs[name];
        this.#metaArgs.set(name, given !== undefined && given !== null ? given : value !== undefined ? this.#word(a, value, (n) => this.#metaArgs.get(n)) : undefined);
        if (given !== undefined) this.#usedArgs.add(name);
      }
    }
    // Automatic platform args (BuildKit): global, usable in FROM and by `ARG NAME` in a stage.
    const host = formatPlatform(hostPlatform());
    const hp = hostPlatform();
    for (const pre of ['BUILD', 'TARGET']) {
      const setDefault = (k: string, v: string): void => {
        if (!this.#metaArgs.has(k)) this.#metaArgs.set(k, v);
      };
      setDefault(`${pre}PLATFORM`, host);
      setDefault(`${pre}OS`, hp.os);
      setDefault(`${pre}ARCH`, hp.architecture);
      setDefault(`${pre}VARIANT`, hp.variant ?? '');
    }
    if (this.#opt.platform !== undefined) this.#checkPlatform(undefined, this.#opt.platform);
    this.#checkSyntax();
    if (this.#opt.cacheFrom?.length) {
      this.#cacheFromIds = [];
      for (const ref of this.#opt.cacheFrom) {
        try {
          this.#cacheFromIds.push(this.#o.images.resolve(ref).id);
        } catch {
          this.#emit(`[Warning] --cache-from ${ref}: no such image here, not used (pull it first)\n`);
        }
      }
    }

    // Only the stages the target needs are built (BuildKit); independent ones run in parallel.
    const target = this.#stages.at(-1)!;
    const deps = new Map<number, Set<number>>();
    for (const stage of this.#stages) deps.set(stage.index, this.#stageDeps(stage));
    const needed = new Set<number>();
    const visit = (i: number): void => {
      if (needed.has(i)) return;
      needed.add(i);
      for (const d of deps.get(i) ?? []) visit(d);
    };
    visit(target.index);
    const order = this.#stages.filter((s) => needed.has(s.index));
    let base = 0;
    for (const s of order) {
      this.#stepBase.set(s.index, base);
      base += 1 + s.instructions.length;
    }
    this.#total = base;
    const output = new OrderedOutput(this.#opt.out, order.map((s) => s.index));
    const running = new Map<number, Promise<StageState>>();
    const start = (stage: Stage): Promise<StageState> => {
      let p = running.get(stage.index);
      if (!p) {
        p = (async () => {
          await Promise.all([...(deps.get(stage.index) ?? [])].map((d) => start(this.#stages.find((x) => x.index === d)!)));
          this.#signal.throwIfAborted();
          const st = await this.#sink.run(output.sink(stage.index), () => this.#runStage(stage));
          this.#done.set(stage.index, st);
          output.finish(stage.index);
          return st;
        })();
        p.catch(() => this.#abort.abort(new Error('another stage failed')));
        running.set(stage.index, p);
      }
      return p;
    };
    const all = order.map((s) => start(s));
    const settled = await Promise.allSettled(all);
    output.flushAll();
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !(this.#abort.signal.aborted && r.reason === this.#abort.signal.reason));
    if (failed) throw failed.reason;
    const firstFailed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (firstFailed) throw firstFailed.reason;
    const last = this.#done.get(target.index);
    const unused = Object.keys(this.#buildArgs).filter((k) => !this.#usedArgs.has(k) && !BUILTIN_ARGS.has(k));
    if (unused.length) this.#emit(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    let id = last!.imageId;
    // Labels from --label go on the final image, as one more config-only image.
    const labels = this.#opt.labels ?? {};
    if (!id || Object.keys(labels).length) {
      const config = { ...last!.config, Labels: { ...(last!.config.Labels ?? {}), ...labels } };
      id = await this.#o.images.createImage({
        ...(id ? { parent: id } : {}),
        config,
        history: { created_by: `/bin/sh -c #(nop)  LABEL ${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(' ')}` },
      });
    }
    return id;
  }

  #header(st: { stage: Stage; step: number }, ins: { original: string }): void {
    st.step++;
    this.#emit(`Step ${(this.#stepBase.get(st.stage.index) ?? 0) + st.step}/${this.#total} : ${ins.original}\n`);
  }

  async #pull(from: Instruction, image: string): Promise<void> {
    this.#emit(`Pulling ${image}\n`);
    try {
      await this.#opt.pullImage!(image, this.#signal);
    } catch (e) {
      this.#fail(from, `failed to pull ${image}: ${(e as Error).message}`);
    }
  }

  /** `--platform` of the build or of a FROM: only the host's platform can run here. */
  #checkPlatform(ins: Instruction | undefined, value: string): void {
    let p;
    try {
      p = parsePlatform(value);
    } catch (e) {
      if (ins) this.#fail(ins, (e as Error).message);
      throw e;
    }
    const host = hostPlatform();
    if (p.os === host.os && p.architecture === host.architecture && (!p.variant || !host.variant || p.variant === host.variant)) return;
    const msg = `platform ${value} is not supported: berth builds and runs only for the host's platform ${formatPlatform(host)} (no emulation)`;
    if (ins) this.#fail(ins, msg);
    throw new InvalidParameterError(msg);
  }

  /** `# syntax=`: berth has the Dockerfile frontend built in; another frontend cannot run. */
  #checkSyntax(): void {
    const syn = this.#df.syntax;
    if (!syn) return;
    const name = syn.replace(/@sha256:[a-f0-9]{64}$/, '').replace(/^(docker\.io\/)?(library\/)?/, '');
    if (/^docker\/dockerfile(-upstream)?(:(\d+(\.\d+){0,2}(-labs)?|labs|latest))?$/.test(name)) return;
    throw new BuildError(`# syntax=${syn}: berth cannot run this frontend; it has the docker/dockerfile:1 frontend built in (remove the directive or name docker/dockerfile:1) (${this.#df.file}:1)`);
  }

  /** The earlier stages a stage uses: FROM <stage>, COPY --from=<stage>, RUN --mount=from=<stage>. */
  #stageDeps(stage: Stage): Set<number> {
    const out = new Set<number>();
    const meta = (n: string): string | undefined => this.#metaArgs.get(n);
    const ref = (text: string): void => {
      let r: string;
      try {
        r = processWord(text, meta, this.#df.escape).toLowerCase();
      } catch {
        return;
      }
      const s = this.#stages.find((x) => (x.name === r || String(x.index) === r) && x.index < stage.index);
      if (s) out.add(s.index);
    };
    ref(stage.from.image);
    for (const ins of stage.instructions) {
      if ((ins.kind === 'copy' || ins.kind === 'add') && ins.from !== undefined) ref(ins.from);
      if (ins.kind === 'run') {
        for (const f of ins.flagList) {
          if (f.name !== 'mount') continue;
          const m = /(?:^|,)from=([^,]+)/.exec(f.value);
          if (m) ref(m[1]!);
        }
      }
    }
    return out;
  }

  #lookup(st: StageState): (name: string) => string | undefined {
    return (name) => {
      const env = envValue(st.config.Env ?? [], name);
      if (env !== undefined) return env;
      if (st.args.has(name)) return st.args.get(name);
      return undefined;
    };
  }

  #word(ins: { line: number }, text: string, lookup: (n: string) => string | undefined): string {
    try {
      return processWord(text, lookup, this.#df.escape);
    } catch (e) {
      return this.#fail(ins, (e as Error).message);
    }
  }

  #words(ins: { line: number }, text: string[], json: boolean, lookup: (n: string) => string | undefined): string[] {
    try {
      return json ? text.map((t) => processWord(t, lookup, this.#df.escape)) : text.flatMap((t) => processWords(t, lookup, this.#df.escape));
    } catch (e) {
      return this.#fail(ins, (e as Error).message);
    }
  }

  async #runStage(stage: Stage): Promise<StageState> {
    const from = stage.from;
    const noCache = (this.#opt.noCache ?? false) || (this.#opt.noCacheFilter ?? []).some((f) => f.toLowerCase() === stage.name || f === String(stage.index));
    const st: StageState = { stage, config: {}, args: new Map(), step: 0, cacheBroken: noCache, noCache };
    this.#header(st, from);
    if (from.platform !== undefined) this.#checkPlatform(from, this.#word(from, from.platform, (n) => this.#metaArgs.get(n)));
    let image = this.#word(from, from.image, (n) => this.#metaArgs.get(n));
    // --build-context NAME=docker-image://REF: FROM NAME takes that image (a stage of that name wins, as BuildKit).
    const named = this.#opt.buildContexts?.[image];
    if (named?.startsWith('docker-image://') && !this.#stages.some((s) => s.name === image.toLowerCase() && s.index < stage.index)) image = named.slice('docker-image://'.length);
    const prior = this.#stages.find((s) => s.name === image.toLowerCase() && s.index < stage.index);
    if (image === 'scratch') {
      st.config = {};
    } else if (prior) {
      const ps = this.#done.get(prior.index)!;
      st.imageId = ps.imageId;
      st.config = structuredClone(ps.config);
    } else {
      if (this.#opt.pull && this.#opt.pullImage) await this.#pull(from, image);
      const resolve = () => {
        try {
          return this.#o.images.resolve(image);
        } catch (e) {
          if (!isNotFound(e)) this.#fail(from, (e as Error).message);
          return undefined;
        }
      };
      let rec = resolve();
      if (!rec && this.#opt.pullImage) {
        // As Docker's classic builder: a base image the store lacks is pulled, through the
        // daemon's signature policy (#22); a policy refusal is said as it is.
        this.#emit(`Pulling ${image}\n`);
        try {
          await this.#opt.pullImage(image, this.#signal);
        } catch (pe) {
          if (isCategory(pe, ForbiddenError)) this.#fail(from, (pe as Error).message);
          this.#fail(from, `pull access denied for ${image.replace(/:[^:/]*$/, '')}, repository does not exist or may require 'docker login': ${(pe as Error).message}: No such image: ${image}`);
        }
        rec = resolve();
      }
      if (!rec) {
        this.#fail(from, `pull access denied for ${image.replace(/:[^:/]*$/, '')}, repository does not exist or may require 'docker login': no such image here and this daemon cannot pull: No such image: ${image}`);
      }
      st.imageId = rec!.id;
      st.config = structuredClone((await this.#o.images.config(rec!.id)).config ?? {});
    }
    if (st.imageId) this.#emit(` ---> ${shortId(st.imageId.replace(/^sha256:/, ''))}\n`);
    // ONBUILD triggers of the base image run now, and are not inherited.
    const triggers = st.config.OnBuild ?? [];
    if (triggers.length && !prior) {
      this.#emit(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
      st.config.OnBuild = null;
      for (const t of triggers) {
        const ins = parseTrigger(t, from.line, this.#df.file, this.#df.escape);
        await this.#dispatch(st, { ...ins, original: t });
      }
    }
    for (const ins of stage.instructions) {
      this.#signal.throwIfAborted();
      this.#header(st, ins);
      await this.#dispatch(st, ins);
    }
    return st;
  }

  async #dispatch(st: StageState, ins: Instruction): Promise<void> {
    const look = this.#lookup(st);
    const c = st.config;
    switch (ins.kind) {
      case 'from':
        return this.#fail(ins, 'FROM is not allowed here');
      case 'arg': {
        for (const { name, value } of ins.args) {
          const given = this.#buildArgs[name];
          let v: string | undefined;
          if (given !== undefined && given !== null) v = given;
          else if (value !== undefined) v = this.#word(ins, value, look);
          else v = this.#metaArgs.get(name);
          if (given !== undefined) this.#usedArgs.add(name);
          st.args.set(name, v);
        }
        return this.#commitConfig(st, ins, `ARG ${ins.args.map((a) => (a.value !== undefined ? `${a.name}=${this.#word(ins, a.value, look)}` : a.name)).join(' ')}`);
      }
      case 'env': {
        const env = [...(c.Env ?? [])];
        const shown: string[] = [];
        for (const p of ins.pairs) {
          const key = this.#word(ins, p.key, look);
          // As Docker: values see the environment from before this instruction (`ENV A=1 B=$A`
          // gives B the old A).
          const value = this.#word(ins, p.value, look);
          setEnv(env, key, value);
          shown.push(`${key}=${value}`);
        }
        c.Env = env;
        return this.#commitConfig(st, ins, `ENV ${shown.join(' ')}`);
      }
      case 'label': {
        const labels = { ...(c.Labels ?? {}) };
        const shown: string[] = [];
        for (const p of ins.pairs) {
          const k = this.#word(ins, p.key, look);
          const v = this.#word(ins, p.value, look);
          labels[k] = v;
          shown.push(`${k}=${v}`);
        }
        c.Labels = labels;
        return this.#commitConfig(st, ins, `LABEL ${shown.join(' ')}`);
      }
      case 'expose': {
        const ports = { ...(c.ExposedPorts ?? {}) };
        const words = this.#words(ins, ins.words, false, look);
        for (const w of words) {
          const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(w);
          if (!m) this.#fail(ins, `invalid containerPort: ${w}`);
          const lo = Number(m![1]);
          const hi = m![2] ? Number(m![2]) : lo;
          for (let p = lo; p <= hi; p++) ports[`${p}/${(m![3] ?? 'tcp').toLowerCase()}`] = {};
        }
        c.ExposedPorts = ports;
        return this.#commitConfig(st, ins, `EXPOSE ${words.join(' ')}`);
      }
      case 'volume': {
        const vols = { ...(c.Volumes ?? {}) };
        const words = this.#words(ins, ins.words, ins.json, look);
        for (const w of words) {
          if (!w.trim()) this.#fail(ins, 'VOLUME specified can not be an empty string');
          vols[w] = {};
        }
        c.Volumes = vols;
        return this.#commitConfig(st, ins, `VOLUME [${words.join(' ')}]`);
      }
      case 'workdir': {
        const v = this.#word(ins, ins.value, look);
        const dir = posix.resolve(c.WorkingDir || '/', v);
        c.WorkingDir = dir;
        return this.#workdir(st, ins, dir);
      }
      case 'user':
        c.User = this.#word(ins, ins.value, look);
        return this.#commitConfig(st, ins, `USER ${c.User}`);
      case 'stopsignal': {
        const sig = this.#word(ins, ins.value, look);
        if (!/^(SIG)?[A-Z0-9+-]+$/.test(sig) && !/^\d+$/.test(sig)) this.#fail(ins, `Invalid signal: ${sig}`);
        c.StopSignal = sig;
        return this.#commitConfig(st, ins, `STOPSIGNAL ${sig}`);
      }
      case 'maintainer':
        st.author = ins.value;
        return this.#commitConfig(st, ins, `MAINTAINER ${ins.value}`);
      case 'shell':
        c.Shell = ins.exec;
        return this.#commitConfig(st, ins, `SHELL ${JSON.stringify(ins.exec)}`);
      case 'cmd':
        c.Cmd = this.#argv(st, ins.command);
        if ('shell' in ins.command) c.ArgsEscaped = true;
        return this.#commitConfig(st, ins, `CMD ${JSON.stringify(c.Cmd)}`);
      case 'entrypoint': {
        const ep = 'shell' in ins.command && ins.command.shell === '' ? null : this.#argv(st, ins.command);
        c.Entrypoint = ep;
        // Docker: an ENTRYPOINT resets a CMD inherited from the base image.
        if (!st.stage.instructions.some((i) => i.kind === 'cmd' && i.line < ins.line)) c.Cmd = null;
        return this.#commitConfig(st, ins, `ENTRYPOINT ${JSON.stringify(ep ?? [])}`);
      }
      case 'healthcheck': {
        const h: HealthConfig = { Test: ins.test ?? [] };
        if (ins.interval) h.Interval = parseDuration(ins.interval);
        if (ins.timeout) h.Timeout = parseDuration(ins.timeout);
        if (ins.startPeriod) h.StartPeriod = parseDuration(ins.startPeriod);
        if (ins.startInterval) h.StartInterval = parseDuration(ins.startInterval);
        if (ins.retries) h.Retries = Number(ins.retries);
        c.Healthcheck = h;
        return this.#commitConfig(st, ins, `HEALTHCHECK ${JSON.stringify(h)}`);
      }
      case 'onbuild': {
        const t = ins.trigger.replace(/^(\S+)/, (k) => k.toUpperCase());
        c.OnBuild = [...(c.OnBuild ?? []), t];
        return this.#commitConfig(st, ins, `ONBUILD ${t}`);
      }
      case 'run':
        return this.#run(st, ins);
      case 'copy':
      case 'add':
        return this.#copy(st, ins);
    }
  }

  #argv(st: StageState, form: CommandForm): string[] {
    return 'exec' in form ? form.exec : [...(st.config.Shell ?? DEFAULT_SHELL), form.shell];
  }

  #printId(id: string): void {
    this.#emit(` ---> ${shortId(id.replace(/^sha256:/, ''))}\n`);
  }

  #cacheSourceIds?: Set<string>;
  /** The images `cacheFrom` allows (each with its parents), or undefined when any may be used. */
  #cacheSources(): Set<string> | undefined {
    const refs = this.#opt.cacheFrom;
    if (!refs?.length) return undefined;
    if (this.#cacheSourceIds) return this.#cacheSourceIds;
    const out = new Set<string>();
    for (const ref of refs) {
      let id: string | undefined;
      try {
        id = this.#o.images.resolve(ref).id;
      } catch {
        continue; // Docker ignores a cache source it does not have
      }
      for (let n = 0; id && !out.has(id) && n < 10_000; n++) {
        out.add(id);
        id = this.#o.images.get(id)?.parent;
      }
    }
    this.#cacheSourceIds = out;
    return out;
  }

  /** Looks the step up in the cache; prints `Using cache` and moves the stage on when found. */
  async #probe(st: StageState, key: string): Promise<boolean> {
    if (st.cacheBroken) return false;
    const allowed = this.#cacheSources();
    const hit = await this.#cache.get(key, (id) => this.#o.images.get(id) !== undefined && (!allowed || allowed.has(id)));
    if (!hit) {
      st.cacheBroken = true; // a miss: every later step is rebuilt (its parent is new)
      return false;
    }
    this.#emit(' ---> Using cache\n');
    await this.#adopt(st, hit);
    this.#printId(hit);
    return true;
  }

  /** The --cache-from images that exist here (resolved once per build). */
  #cacheFromIds?: string[];

  /**
   * `--cache-from`: a layer step (RUN, COPY, ADD) whose parent is a prefix of a cache-from
   * image (same layers, same history) and whose history entry there is this very step takes
   * that image's next layer instead of running. Config-only steps need no cache: they are
   * recomputed, and give the same history entries.
   */
  async #fromCacheImages(st: StageState, createdBy: string, key: string): Promise<boolean> {
    if (!this.#cacheFromIds?.length || st.noCache) return false;
    const parent = st.imageId ? await this.#o.images.config(st.imageId) : undefined;
    const ph = parent?.history ?? [];
    const pl = parent?.rootfs.diff_ids ?? [];
    for (const cid of this.#cacheFromIds) {
      const c = await this.#o.images.config(cid);
      const ch = c.history ?? [];
      const cl = c.rootfs.diff_ids;
      if (ch.length <= ph.length || cl.length <= pl.length) continue;
      if (!pl.every((d, i) => cl[i] === d)) continue;
      if (!ph.every((h, i) => ch[i]!.created_by === h.created_by && !!ch[i]!.empty_layer === !!h.empty_layer)) continue;
      const next = ch[ph.length]!;
      if (next.empty_layer || next.created_by !== createdBy) continue;
      const layerDir = this.#o.images.lowerDirs(cid)[cl.length - 1 - pl.length];
      if (!layerDir) continue;
      this.#emit(' ---> Using cache (a layer of a --cache-from image)\n');
      await this.#commitLayer(st, layerDir, createdBy, key);
      return true;
    }
    return false;
  }

  async #adopt(st: StageState, id: string): Promise<void> {
    st.imageId = id;
    st.config = structuredClone((await this.#o.images.config(id)).config ?? {});
  }

  /** A config-only step: a new image with no layer. */
  async #commitConfig(st: StageState, _ins: Instruction, description: string): Promise<void> {
    const key = cacheKey({ parent: st.imageId ?? 'scratch', instruction: `${description}\u0000${JSON.stringify(st.config)}` });
    if (await this.#probe(st, key)) return;
    const id = await this.#o.images.createImage({
      ...(st.imageId ? { parent: st.imageId } : {}),
      config: st.config,
      ...(st.author ? { author: st.author } : {}),
      history: { created_by: `/bin/sh -c #(nop)  ${description}` },
    });
    st.imageId = id;
    await this.#cache.set(key, id);
    this.#printId(id);
  }

  /** WORKDIR: config, plus a layer that creates the directory when the image lacks it. */
  async #workdir(st: StageState, ins: Instruction, dir: string): Promise<void> {
    const lowers = st.imageId ? this.#o.images.lowerDirs(st.imageId) : [];
    const existing = await lookupInLayers(lowers, dir);
    if (existing?.isDirectory()) return this.#commitConfig(st, ins, `WORKDIR ${dir}`);
    const key = cacheKey({ parent: st.imageId ?? 'scratch', instruction: `WORKDIR ${dir}\u0000${JSON.stringify(st.config)}` });
    if (await this.#probe(st, key)) return;
    await this.#withStaging(async (staging) => {
      await ensureParents(staging, lowers, dir, true);
      await this.#commitLayer(st, staging, `/bin/sh -c #(nop) WORKDIR ${dir}`, key);
    });
  }

  async #withStaging<R>(fn: (dir: string) => Promise<R>): Promise<R> {
    const base = join(this.#o.root, 'staging');
    await mkdir(base, { recursive: true });
    const dir = await mkdtemp(join(base, 's-'));
    try {
      return await fn(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async #commitLayer(st: StageState, dir: string, createdBy: string, key: string): Promise<void> {
    const id = await this.#o.images.createImage({
      ...(st.imageId ? { parent: st.imageId } : {}),
      layer: diffLayer(dir, { runner: this.#o.runner }),
      config: st.config,
      ...(st.author ? { author: st.author } : {}),
      history: { created_by: createdBy },
    });
    st.imageId = id;
    await this.#cache.set(key, id);
    this.#printId(id);
  }

  // ---- RUN ----

  async #run(st: StageState, ins: Extract<Instruction, { kind: 'run' }>): Promise<void> {
    let argv: string[];
    const shell = st.config.Shell ?? DEFAULT_SHELL;
    if ('exec' in ins.command) argv = ins.command.exec;
    else {
      let script = ins.command.shell;
      if (ins.heredocs.length === 1 && /^<<-?["']?\w+["']?$/.test(script.trim())) {
        const h = ins.heredocs[0]!;
        // `RUN <<EOF`: the body is the script; a `#!` line picks the interpreter (BuildKit).
        if (h.content.startsWith('#!')) {
          const hash = sha256(h.content).slice(0, 16);
          script = `${h.content.split('\n')[0]!.slice(2).trim()} /dev/fd/3 3<<'BERTH_HEREDOC_${hash}'\n${h.content}BERTH_HEREDOC_${hash}\n`;
        } else script = h.content;
      } else if (ins.heredocs.length) {
        // The shell itself reads the heredocs (and expands them unless quoted).
        script = `${script}\n${ins.heredocs.map((h) => `${h.content}${h.name}\n`).join('')}`;
      }
      argv = [...shell, script];
    }
    const look = this.#lookup(st);
    // RUN flags: --mount (repeatable), --network, --security.
    const mounts: RunMount[] = [];
    let network: string | undefined = this.#opt.networkMode && this.#opt.networkMode !== 'default' ? this.#opt.networkMode : undefined;
    let insecure = false;
    for (const f of ins.flagList) {
      const v = this.#word(ins, f.value, look);
      if (f.name === 'mount') {
        try {
          mounts.push(parseRunMount(v, mounts.filter((m) => m.type === 'ssh').length));
        } catch (e) {
          this.#fail(ins, `RUN --mount=${v}: ${(e as Error).message}`);
        }
      } else if (f.name === 'network') {
        if (v !== 'default' && v !== 'none' && v !== 'host') this.#fail(ins, `RUN --network=${v}: unsupported network mode (default, none or host)`);
        network = v === 'default' ? network : v;
      } else if (f.name === 'security') {
        if (v !== 'sandbox' && v !== 'insecure') this.#fail(ins, `RUN --security=${v}: unsupported security mode (sandbox or insecure)`);
        if (v === 'insecure') {
          if (!this.#o.allowInsecureEntitlement) this.#fail(ins, 'RUN --security=insecure: granting entitlement security.insecure is not allowed by the daemon (start berthd with --allow-insecure-entitlement security.insecure)');
          if (!(this.#opt.allow ?? []).includes('security.insecure')) this.#fail(ins, 'RUN --security=insecure: the build did not ask for entitlement security.insecure (berth build --allow security.insecure)');
          insecure = true;
        }
      } else this.#fail(ins, `RUN --${f.name} is not supported by berth`);
    }
    // Build args in scope reach RUN as environment (ENV wins), and key the cache.
    const argEnv: string[] = [];
    for (const [k, v] of st.args) {
      if (v === undefined || envValue(st.config.Env ?? [], k) !== undefined) continue;
      argEnv.push(`${k}=${v}`);
    }
    for (const [k, v] of Object.entries(this.#buildArgs)) {
      if (BUILTIN_ARGS.has(k) && v !== null && !st.args.has(k)) {
        argEnv.push(`${k}=${v}`);
        this.#usedArgs.add(k);
      }
    }
    // What the mounts bring in keys the cache (a bind's content, a stage's image); a secret's
    // content and a cache mount's content never do.
    const mountKeys: string[] = [];
    for (const m of mounts) mountKeys.push(await this.#mountKey(st, ins, m));
    const createdBy = `${argEnv.length ? `|${argEnv.length} ${argEnv.join(' ')} ` : ''}${'exec' in ins.command ? argv.join(' ') : `${shell.join(' ')} ${ins.command.shell}`}`;
    const key = cacheKey({
      parent: st.imageId ?? 'scratch',
      instruction: `RUN ${JSON.stringify(argv)}\u0000${JSON.stringify(st.config)}`,
      extra: [argEnv.join('\u0000'), ...mountKeys, network ? `network=${network}` : '', insecure ? 'insecure' : ''].join('\u0001'),
    });
    if (await this.#probe(st, key)) return;
    if (await this.#fromCacheImages(st, createdBy, key)) return;
    if (!st.imageId) this.#fail(ins, 'no such file or directory: a RUN step needs a base image with a shell (FROM scratch has none)');

    const prepared = await this.#prepareMounts(st, ins, mounts);
    try {
      await this.#runContainer(st, ins, argv, argEnv, createdBy, key, prepared, network, insecure);
    } finally {
      await prepared.release();
    }
  }

  /** A RUN mount's contribution to the step's cache key. */
  async #mountKey(st: StageState, ins: Instruction, m: RunMount): Promise<string> {
    switch (m.type) {
      case 'bind': {
        const from = m.from !== undefined ? this.#fromRef(st, ins, m.from) : undefined;
        let content: string;
        if (from) content = `image:${from.imageId ?? 'scratch'}`;
        else {
          const src = cleanPath(m.source);
          const root = this.#opt.context.resolveEntry(src);
          const entries = root?.type === 'dir' ? this.#opt.context.walk(root.path) : root ? [root] : [];
          content = `context:${sha256(entries.map((c) => `${c.path}\u0000${c.type}\u0000${c.mode}\u0000${c.digest ?? ''}\u0000${c.linkname ?? ''}`).join('\n'))}`;
        }
        return JSON.stringify({ ...m, content });
      }
      case 'cache': {
        const from = m.from !== undefined ? this.#fromRef(st, ins, m.from) : undefined;
        return JSON.stringify({ ...m, from: from?.imageId });
      }
      case 'secret':
      case 'ssh':
      case 'tmpfs':
        return JSON.stringify(m);
    }
  }

  /** `from=` of a mount or `COPY --from`: an earlier stage or an image. */
  #fromRef(st: StageState, ins: Instruction, ref0: string): { imageId?: string } {
    const ref = this.#word(ins, ref0, (n) => this.#metaArgs.get(n));
    const stage = this.#stages.find((s) => s.name === ref.toLowerCase() || String(s.index) === ref);
    if (stage) {
      if (stage.index >= st.stage.index) this.#fail(ins, `invalid from flag value ${ref}: refers to current build stage`);
      const done = this.#done.get(stage.index);
      if (!done) this.#fail(ins, `invalid from flag value ${ref}: stage not built`);
      return done!.imageId ? { imageId: done!.imageId } : {};
    }
    const ctxImage = this.#opt.buildContexts?.[ref];
    if (ctxImage?.startsWith('docker-image://')) return { imageId: this.#resolveImage(ins, ctxImage.slice('docker-image://'.length)) };
    return { imageId: this.#resolveImage(ins, ref) };
  }

  #resolveImage(ins: Instruction, ref: string): string {
    try {
      return this.#o.images.resolve(ref).id;
    } catch (e) {
      return this.#fail(ins, `invalid from flag value ${ref}: ${(e as Error).message}`);
    }
  }

  /** Makes what the mounts of one RUN need on the host; `release` undoes it. */
  async #prepareMounts(st: StageState, ins: Instruction, mounts: RunMount[]): Promise<PreparedMounts> {
    const out: PreparedMounts = { mounts: [], tmpfs: {}, env: [], targets: [], release: async () => undefined };
    const undo: (() => Promise<void> | void)[] = [];
    out.release = async () => {
      for (const u of undo.reverse()) await Promise.resolve(u()).catch((err: unknown) => this.#o.log.warn({ err }, 'releasing a RUN mount failed'));
    };
    const tmp = async (): Promise<string> => {
      const base = join(this.#o.root, 'staging');
      await mkdir(base, { recursive: true });
      const dir = await mkdtemp(join(base, 'm-'));
      undo.push(() => rm(dir, { recursive: true, force: true }));
      return dir;
    };
    const imageDir = async (imageId: string | undefined): Promise<string> => {
      if (!imageId) return tmp();
      const m = await this.#mountImage(imageId);
      undo.push(() => m.release());
      return m.dir;
    };
    try {
      for (const m of mounts) {
        out.targets.push('target' in m && m.target ? m.target : '');
        switch (m.type) {
          case 'bind': {
            let dir: string;
            if (m.from !== undefined) {
              const root = await imageDir(this.#fromRef(st, ins, m.from).imageId);
              const rel = cleanPath(await resolveInImage(rootReadLink(root), `/${cleanPath(m.source)}`, true));
              dir = join(root, rel);
              if (!(await lstat(dir).catch(() => undefined))) this.#fail(ins, `RUN --mount=type=bind: source ${m.source} not found in ${m.from}`);
              if (!m.readonly) {
                // Writes to a rw bind are discarded: they go to a copy.
                const copy = join(await tmp(), 'c');
                await this.#o.runner.run(['cp', '-a', dir, copy]);
                dir = copy;
              }
            } else {
              dir = join(await tmp(), 'c');
              await this.#materialiseContext(ins, m.source, dir);
            }
            out.mounts.push({ type: 'bind', source: dir, target: m.target, readOnly: m.readonly });
            break;
          }
          case 'cache': {
            const from = m.from !== undefined ? this.#fromRef(st, ins, m.from) : undefined;
            const seed = from
              ? async (data: string): Promise<void> => {
                  const root = await imageDir(from.imageId);
                  // Resolved inside the image's root: a symlink there never leads to a host path.
                  const src = join(root, cleanPath(await resolveInImage(rootReadLink(root), `/${cleanPath(m.source)}`, true)));
                  if (await lstat(src).catch(() => undefined)) await this.#o.runner.run(['cp', '-a', `${src}/.`, data]);
                }
              : undefined;
            const c = await this.#cacheMounts.acquire(m, seed);
            undo.push(() => c.release());
            out.mounts.push({ type: 'bind', source: c.dir, target: m.target, readOnly: m.readonly });
            break;
          }
          case 'tmpfs':
            out.tmpfs[m.target] = m.size !== undefined ? `size=${m.size}` : '';
            break;
          case 'secret': {
            const data = this.#opt.secrets?.[m.id];
            if (!data) {
              if (m.required) this.#fail(ins, `secret ${m.id}: not provided (berth build --secret id=${m.id},src=FILE; the docker CLI's legacy builder cannot send secrets)`);
              break;
            }
            if (m.env) out.env.push(`${m.env}=${data.toString('utf8')}`);
            if (m.target) {
              const file = join(await tmp(), 'secret');
              await writeNew(file, data, m.mode);
              await chown(file, m.uid, m.gid);
              out.mounts.push({ type: 'bind', source: file, target: m.target, readOnly: true });
            }
            break;
          }
          case 'ssh': {
            const sock = this.#opt.ssh?.[m.id];
            if (!sock) {
              if (m.required) this.#fail(ins, `ssh ${m.id}: no SSH agent socket forwarded (berth build --ssh ${m.id})`);
              break;
            }
            out.mounts.push({ type: 'bind', source: sock, target: m.target, readOnly: false });
            if (!out.env.some((e) => e.startsWith('SSH_AUTH_SOCK='))) out.env.push(`SSH_AUTH_SOCK=${m.target}`);
            break;
          }
        }
      }
    } catch (e) {
      await out.release();
      throw e;
    }
    return out;
  }

  /** A context path (file or tree) copied into `dest`, for a bind mount. */
  async #materialiseContext(ins: Instruction, source: string, dest: string): Promise<void> {
    const ctx = this.#opt.context;
    const src = cleanPath(source);
    const root = ctx.resolveEntry(src);
    if (!root) this.#fail(ins, `RUN --mount=type=bind: source ${source} not found in the build context`);
    if (root!.type !== 'dir') {
      await materialise(ctx, root!, dest);
      return;
    }
    await mkdir(dest);
    await chmod(dest, root!.mode);
    const children = ctx.walk(root!.path);
    const rel = (p: string): string => (root!.path === '.' ? p : p.slice(root!.path.length + 1));
    for (const c of children) await materialise(ctx, c, join(dest, rel(c.path)));
  }

  async #runContainer(st: StageState, ins: Extract<Instruction, { kind: 'run' }>, argv: string[], argEnv: string[], createdBy: string, key: string, pm: PreparedMounts, network: string | undefined, insecure: boolean): Promise<void> {
    const containers = this.#o.containers;
    const host: HostSpec = {};
    if (pm.mounts.length) host.mounts = pm.mounts;
    if (Object.keys(pm.tmpfs).length) host.tmpfs = pm.tmpfs;
    if (network) host.networkMode = network;
    if (insecure) host.privileged = true;
    if (this.#opt.extraHosts?.length) host.extraHosts = this.#opt.extraHosts;
    if (this.#opt.shmSize) host.shmSize = this.#opt.shmSize;
    if (this.#opt.ulimits?.length) host.ulimits = this.#opt.ulimits;
    const lowers = this.#o.images.lowerDirs(st.imageId!);
    const { id: cid } = await containers.create({
      buildStep: true,
      image: st.imageId!,
      cmd: argv,
      entrypoint: [],
      env: [...(st.config.Env ?? []), ...argEnv, ...pm.env],
      workingDir: st.config.WorkingDir ?? '',
      user: st.config.User ?? '',
      labels: {},
      host,
    });
    const short = shortId(cid);
    this.#emit(` ---> Running in ${short}\n`);
    let removed = false;
    const remove = async (): Promise<void> => {
      if (removed) return;
      removed = true;
      await containers.remove(cid, { force: true }).catch((err: unknown) => this.#o.log.warn({ err, container: cid }, 'removing an intermediate container failed'));
    };
    const onAbort = (): void => void containers.kill(cid).catch(() => undefined);
    try {
      const output = containers.attachOutput(cid, this.#signal);
      const pump = (async () => {
        // As Docker's classic builder: a step's stderr is shown in red (SGR 91 … 0).
        for await (const rec of output) this.#emit(rec.stream === 'stderr' ? `\x1b[91m${rec.data.toString('utf8')}\x1b[0m` : rec.data.toString('utf8'));
      })();
      this.#signal?.addEventListener('abort', onAbort, { once: true });
      let code: number;
      try {
        await containers.start(cid);
        code = (await containers.wait(cid, 'not-running')).exitCode;
      } catch (e) {
        await pump.catch(() => undefined);
        return this.#fail(ins, `The command '${argv.join(' ')}' could not be run: ${(e as Error).message}`);
      }
      await pump.catch(() => undefined);
      this.#signal?.throwIfAborted();
      if (code !== 0) {
        const what = 'exec' in ins.command ? JSON.stringify(argv) : `'${argv.join(' ')}'`;
        this.#fail(ins, `The command ${what} returned a non-zero code: ${code}`, code);
      }
      faultPoint('build-step-ran');
      const record = containers.get(cid);
      const upper = join(record.dir, 'upper');
      await removeMountStubs(upper, lowers, pm.targets.filter(Boolean));
      // A step that changed no file adds no layer (an empty tar is not a valid layer).
      const id = await this.#o.images.createImage({
        parent: st.imageId!,
        ...((await isEmptyDir(upper)) ? {} : { layer: diffLayer(upper, { runner: this.#o.runner }) }),
        config: st.config,
        ...(st.author ? { author: st.author } : {}),
        history: { created_by: createdBy },
      });
      if (this.#opt.rm ?? true) {
        await remove();
        this.#emit(`Removing intermediate container ${short}\n`);
      } else removed = true;
      st.imageId = id;
      await this.#cache.set(key, id);
      this.#printId(id);
    } finally {
      this.#signal?.removeEventListener('abort', onAbort);
      if (this.#opt.forceRm) await remove();
    }
  }

  // ---- COPY / ADD ----

  /**
   * Where a COPY/ADD destination lands in an image (parents resolved through the image's
   * symlinks) and what the image has there. Images never change, so the answer is kept per
   * (image, path) for later builds: a fully cached rebuild then does no lstat walk through
   * the layers before it can look its COPY step up.
   */
  async #destIn(imageId: string | undefined, lowers: string[], destWanted: string): Promise<{ dest: string; existingDest: import('node:fs').Stats | undefined }> {
    const memoKey = imageId ? `${imageId}\u0000${destWanted}` : undefined;
    const known = memoKey ? this.#destMemo.get(memoKey) : undefined;
    if (known) return known;
    const readLink = layersReadLink(lowers);
    const followed = await resolveInImage(readLink, destWanted, true);
    const dest = (await lookupInLayers(lowers, followed))?.isDirectory()
      ? followed // a symlink to a directory is copied into, as in the container
      : posix.join(await resolveInImage(readLink, posix.dirname(destWanted), true), posix.basename(destWanted));
    const found = { dest, existingDest: await lookupInLayers(lowers, dest) };
    if (memoKey) {
      if (this.#destMemo.size >= 4096) this.#destMemo.clear();
      this.#destMemo.set(memoKey, found);
    }
    return found;
  }

  async #copy(st: StageState, ins: Extract<Instruction, { kind: 'copy' | 'add' }>): Promise<void> {
    const look = this.#lookup(st);
    const what = ins.kind.toUpperCase();
    // Flags after substitution. Every flag the parser accepts is acted on here.
    const fl: { link: boolean; parents: boolean; keepGitDir: boolean; exclude: string[]; checksum?: string; chmod?: ChmodFn; chmodText?: string } = { link: false, parents: false, keepGitDir: false, exclude: [] };
    const boolFlag = (name: string, v: string): boolean => {
      if (/^(true|1)$/i.test(v)) return true;
      if (/^(false|0)$/i.test(v)) return false;
      return this.#fail(ins, `${what} --${name}=${v}: expected true or false`);
    };
    for (const f of ins.flagList) {
      switch (f.name) {
        case 'from':
        case 'chown':
          break; // below
        case 'chmod': {
          const v = this.#word(ins, f.value, look);
          const fn = parseChmod(v);
          if (!fn) this.#fail(ins, `invalid chmod parameter: ${v}`);
          fl.chmod = fn;
          fl.chmodText = v;
          break;
        }
        case 'link':
          fl.link = boolFlag('link', f.value);
          break;
        case 'parents':
          fl.parents = boolFlag('parents', f.value);
          break;
        case 'keep-git-dir':
          fl.keepGitDir = boolFlag('keep-git-dir', f.value);
          break;
        case 'exclude':
          fl.exclude.push(this.#word(ins, f.value, look));
          break;
        case 'checksum': {
          const v = this.#word(ins, f.value, look);
          if (!/^sha256:[a-f0-9]{64}$/.test(v)) this.#fail(ins, `${what} --checksum=${v}: invalid checksum digest format (sha256:<64 hex digits>)`);
          fl.checksum = v;
          break;
        }
        default:
          this.#fail(ins, `${what} --${f.name} is not supported by berth`);
      }
    }
    const excluded = excludeMatcher(fl.exclude);
    const sources = ins.heredocs.length ? ins.sources : this.#words(ins, ins.sources, ins.json, look);
    if (fl.checksum !== undefined && !(sources.length === 1 && isRemote(sources[0]!))) {
      this.#fail(ins, `${what} --checksum can't be specified for non-HTTP(S) sources: ${sources.join(' ')}`);
    }
    const destRaw = this.#word(ins, ins.dest, look);
    const destIsDir = destRaw.endsWith('/') || destRaw.endsWith('/.') || destRaw === '.';
    const lowers = st.imageId ? this.#o.images.lowerDirs(st.imageId) : [];
    // Parents are resolved through the image's symlinks (`/bin` in a usrmerged image).
    const destWanted = posix.resolve(st.config.WorkingDir || '/', destRaw);
    const { dest, existingDest } = await this.#destIn(st.imageId, lowers, destWanted);
    const chown = ins.chown !== undefined ? this.#word(ins, ins.chown, look) : undefined;

    // Collect the sources: [kind, description for the key, copy action].
    type Plan = { digest: string; count: number; apply: (staging: string, target: (name: string, isDirSource: boolean) => string) => Promise<void>; name: string; isDir: boolean };
    const plans: Plan[] = [];
    let fromImage: string | undefined;
    if (ins.kind === 'copy' && ins.from !== undefined) {
      const ref = this.#word(ins, ins.from, (n) => this.#metaArgs.get(n));
      fromImage = this.#fromRef(st, ins, ins.from).imageId;
      if (!fromImage) this.#fail(ins, `COPY failed: stage ${ref} has no files`);
    }

    let mount: { dir: string; release(): Promise<void> } | undefined;
    try {
      if (ins.heredocs.length) {
        for (const h of ins.heredocs) {
          const content = h.expand ? this.#word(ins, h.content.replace(/"/g, '\\"').replace(/'/g, "\\'"), look) : h.content;
          plans.push({
            digest: sha256(`heredoc\u0000${h.name}\u0000${content}`),
            count: 1,
            name: h.name,
            isDir: false,
            apply: async (staging, target) => {
              const p = target(h.name, false);
              await mkdirp(staging, posix.dirname(p), lowers);
              await writeNew(join(staging, p), content, 0o644);
            },
          });
        }
      } else if (fromImage) {
        // Sources are resolved through the image's layers (no mount): a fully cached step
        // never mounts anything. The image is mounted only when the copy runs.
        const srcLowers = this.#o.images.lowerDirs(fromImage);
        const readLink = layersReadLink(srcLowers);
        const getMount = async (): Promise<{ dir: string }> => (mount ??= await this.#mountImage(fromImage!));
        for (const s of sources) {
          // Resolved inside the image's root: a symlink in the image never leads to a host path.
          const rel = cleanPath(await resolveInImage(readLink, `/${cleanPath(s)}`, true));
          const st0 = await lookupInLayers(srcLowers, `/${rel}`);
          if (!st0) this.#fail(ins, `${what} failed: stat ${posix.join('/', rel)}: file does not exist`);
          const name = fl.parents ? pivotPath(s, rel) : posix.basename(rel === '.' ? '/' : rel);
          plans.push({
            digest: sha256(`image\u0000${fromImage}\u0000${rel}\u0000${name}`),
            count: 1,
            name,
            isDir: st0!.isDirectory(),
            apply: async (staging, target) => {
              const full = join((await getMount()).dir, rel);
              const p = target(name, st0!.isDirectory());
              await mkdirp(staging, st0!.isDirectory() ? p : posix.dirname(p), lowers);
              const src = st0!.isDirectory() ? `${full}/.` : full;
              await this.#o.runner.run(['cp', '-a', '--no-preserve=ownership', src, join(staging, p)]);
              // --exclude: patterns are relative to the copied directory.
              if (fl.exclude.length && st0!.isDirectory()) {
                for (const r of [...(await listAll(join(staging, p)))].sort()) {
                  if (excluded(r)) await rm(join(staging, p, r), { recursive: true, force: true });
                }
              }
            },
          });
        }
      } else {
        for (const s of sources) {
          if (ins.kind === 'add' && isGitUrl(s)) {
            plans.push(await gitSource(this.#sourceContext(ins), s, fl.keepGitDir, lowers));
            continue;
          }
          if (ins.kind === 'add' && /^https?:\/\//i.test(s)) {
            plans.push(await downloadSource(this.#sourceContext(ins), s, lowers, fl.checksum));
            continue;
          }
          let matches: ContextEntry[];
          try {
            matches = this.#opt.context.match(s);
          } catch (e) {
            return this.#fail(ins, (e as Error).message);
          }
          if (fl.exclude.length) matches = matches.filter((m) => !excluded(m.path));
          if (matches.length === 0) {
            if (/[*?[]/.test(s)) this.#fail(ins, `${what} failed: no source files were specified`);
            this.#fail(ins, `${what} failed: file not found in build context or excluded by .dockerignore: stat ${s}: file does not exist`);
          }
          for (const m of matches) plans.push(await this.#contextPlan(ins, m, lowers, { excluded, parentsName: fl.parents ? pivotPath(s, m.path) : undefined }));
        }
      }
      const count = plans.reduce((n, p) => n + p.count, 0);
      if ((plans.length > 1 || sources.length > 1) && !destIsDir) {
        this.#fail(ins, `When using ${what} with more than one source file, the destination must be a directory and end with a /`);
      }
      const intoDir = destIsDir || existingDest?.isDirectory() === true;
      if (fl.parents && !destIsDir && existingDest?.isDirectory() !== true) this.#fail(ins, `${what} --parents: the destination must be a directory and end with a /`);
      const target = (name: string, isDirSource: boolean): string => {
        const d = dest.replace(/^\/+/, '');
        if (fl.parents && name) return posix.join(d, name); // dest/<source path from its pivot>
        if (isDirSource) return d || '.';
        return intoDir ? posix.join(d, name) : d;
      };
      const srcDigest = sha256(plans.map((p) => p.digest).join('\n'));
      const flagText = [
        ins.chown ? `--chown=${chown}` : '', fl.chmodText ? `--chmod=${fl.chmodText}` : '', fl.link ? '--link' : '', fl.parents ? '--parents' : '',
        ...fl.exclude.map((e) => `--exclude=${e}`), fl.keepGitDir ? '--keep-git-dir' : '', fl.checksum ? `--checksum=${fl.checksum}` : '',
      ].filter(Boolean).join(' ');
      const description = `${what} ${flagText ? `${flagText} ` : ''}${srcDigest.slice(0, 12)} in ${dest}${destIsDir && dest !== '/' ? '/' : ''}`;
      const key = cacheKey({ parent: st.imageId ?? 'scratch', instruction: `${description}\u0000${intoDir}\u0000${JSON.stringify(st.config)}`, extra: srcDigest });
      if (await this.#probe(st, key)) return;
      if (await this.#fromCacheImages(st, `/bin/sh -c #(nop) ${description} `, key)) return;
      void count;
      // COPY --link: the layer does not depend on what is below it. Its own key leaves the
      // parent out, so a change below reuses the layer (put on the new parent) instead of
      // copying again.
      const linkKey = fl.link ? cacheKey({ parent: 'link', instruction: `${description}\u0000${intoDir}\u0000${JSON.stringify(existingDest?.isDirectory() ?? null)}`, extra: srcDigest }) : undefined;
      if (linkKey && !st.noCache) {
        const hit = await this.#cache.get(linkKey, (id) => this.#o.images.get(id) !== undefined);
        const layerDir = hit ? this.#o.images.lowerDirs(hit)[0] : undefined;
        if (layerDir) {
          this.#emit(' ---> Using cache (COPY --link layer, put on the new base)\n');
          await this.#commitLayer(st, layerDir, `/bin/sh -c #(nop) ${description} `, key);
          await this.#cache.set(linkKey, st.imageId!);
          return;
        }
      }
      const owner = chown !== undefined ? await resolveOwner(lowers, chown, (m) => this.#fail(ins, m)) : { uid: 0, gid: 0 };
      await this.#withStaging(async (staging) => {
        const destRel = dest.replace(/^\/+/, '') || '.';
        if (intoDir) await mkdirp(staging, destRel, lowers);
        for (const p of plans) await p.apply(staging, target);
        // Ownership and --chmod apply to what was copied, not to parents mirrored from the image.
        for (const rel of await listAll(staging)) {
          const under = destRel === '.' || rel.startsWith(`${destRel}/`);
          const self = rel === destRel && existingDest?.isDirectory() !== true;
          if (!under && !self) continue;
          const full = join(staging, rel);
          await lchown(full, owner.uid, owner.gid);
          if (fl.chmod) {
            const cur = await lstat(full);
            if (!cur.isSymbolicLink()) await chmod(full, fl.chmod(cur.mode, cur.isDirectory()));
          }
        }
        await this.#commitLayer(st, staging, `/bin/sh -c #(nop) ${description} `, key);
        if (linkKey) await this.#cache.set(linkKey, st.imageId!);
      });
    } finally {
      await mount?.release();
    }
  }

  async #contextPlan(ins: Extract<Instruction, { kind: 'copy' | 'add' }>, entry: ContextEntry, lowers: string[], o: { excluded: (p: string) => boolean; parentsName?: string | undefined }) {
    const ctx = this.#opt.context;
    const name = o.parentsName ?? (entry.path === '.' ? '' : posix.basename(entry.path));
    if (entry.type === 'dir') {
      const real = ctx.resolveEntry(entry.path)!;
      const rel = (p: string): string => (real.path === '.' ? p : p.slice(real.path.length + 1));
      // --exclude patterns match paths relative to the copied directory (and the context's).
      const children = ctx.walk(real.path).filter((c) => !o.excluded(rel(c.path)) && !o.excluded(c.path));
      const digest = sha256(children.map((c) => `${rel(c.path)}\u0000${c.type}\u0000${c.mode}\u0000${c.digest ?? ''}\u0000${c.linkname ?? ''}`).join('\n'));
      return {
        digest: `dir:${o.parentsName ?? ''}\u0000${digest}`,
        count: children.length,
        name,
        isDir: true,
        apply: async (staging: string, target: (n: string, d: boolean) => string) => {
          const base = target(name, true);
          await mkdirp(staging, base, lowers);
          for (const c of children) await materialise(ctx, c, join(staging, base, rel(c.path)));
          for (const c of children.filter((x) => x.type === 'dir').reverse()) await utimes(join(staging, base, rel(c.path)), c.mtime, c.mtime);
        },
      };
    }
    const file = entry.type === 'symlink' ? ctx.resolveEntry(entry.path) : entry;
    if (!file) this.#fail(ins, `${ins.kind.toUpperCase()} failed: file not found in build context or excluded by .dockerignore: stat ${entry.path}: file does not exist`);
    const real = { ...file!, path: file!.path };
    const archive = ins.kind === 'add' && real.type === 'file' ? await archiveKind(await ctx.diskPath(real)) : undefined;
    return {
      digest: `file:${name}\u0000${o.parentsName ?? ''}\u0000${real.mode}\u0000${real.digest}\u0000${archive ?? ''}`,
      count: 1,
      name,
      isDir: archive !== undefined,
      apply: async (staging: string, target: (n: string, d: boolean) => string) => {
        if (archive) {
          const base = target(name, true);
          await mkdirp(staging, base, lowers);
          await extractArchive(this.#sourceContext(ins), await ctx.diskPath(real), archive, join(staging, base));
          return;
        }
        const p = target(name, false);
        await mkdirp(staging, posix.dirname(p), lowers);
        await materialise(ctx, real, join(staging, p));
      },
    };
  }

  /** What the ADD sources (add-sources.ts) need of this build, failures naming `ins`. */
  #sourceContext(ins: Instruction): SourceContext {
    return {
      runner: this.#o.runner,
      root: this.#o.root,
      fetchMaxBytes: this.#o.fetchMaxBytes,
      fetchTimeoutMs: this.#o.fetchTimeoutMs,
      signal: this.#signal,
      cleanup: (fn) => void this.#cleanups.push(fn),
      fail: (message) => this.#fail(ins, message),
    };
  }

  /** A read-only view of an image's files (for COPY --from). */
  async #mountImage(imageId: string): Promise<{ dir: string; release(): Promise<void> }> {
    const lowers = this.#o.images.lowerDirs(imageId);
    if (lowers.length === 1) return { dir: lowers[0]!, release: async () => undefined };
    const dir = join(this.#o.root, 'mnt', randomBytes(8).toString('hex'));
    await mkdir(dir, { recursive: true });
    if (lowers.length === 0) return { dir, release: () => rm(dir, { recursive: true, force: true }) };
    await this.#o.runner.run(['mount', '-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lowers.join(':')}`, dir]);
    return {
      dir,
      release: async () => {
        await this.#o.runner.run(['umount', dir], { check: false });
        await rmdir(dir).catch(() => undefined);
      },
    };
  }
}
