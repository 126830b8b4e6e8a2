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
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, chown, lchown, lstat, mkdir, mkdtemp, open, readFile, readlink, rm, stat, symlink, utimes, lutimes, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, posix } from 'node:path';
import { Readable } from 'node:stream';
import type { CommandRunner } from '../common/command-runner.js';
import { InvalidParameterError, isNotFound } from '../common/errors.js';
import { shortId } from '../common/ids.js';
import type { Logger } from '../common/logger.js';
import type { ContainerService } from '../engine/container-service.js';
import type { ImageService } from '../image/image-service.js';
import { diffLayer, isEmptyDir } from '../image/diff-layer.js';
import type { HealthConfig, ImageRunConfig } from '../oci/image.js';
import { BuildCache, cacheKey } from './cache.js';
import { cleanPath, type BuildContext, type ContextEntry } from './context.js';
import {
  parseDockerfile, parseTrigger, parseDuration, processWord, processWords, type Dockerfile, type Instruction, type Stage, type CommandForm,
} from './dockerfile/index.js';
import { faultPoint } from '../common/fault-point.js';

/** A build that failed at a step; the message names the Dockerfile and line. */
export class BuildError extends InvalidParameterError {
  override readonly code = 'BERTH_ERR_BUILD';
  /** A failing RUN's exit code (Docker's errorDetail.code). */
  exitCode?: number;
}

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
  /** Text output (Docker's `stream` messages). */
  out(text: string): void;
  signal?: AbortSignal;
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
}

interface StageState {
  stage: Stage;
  /** Current image; undefined for `FROM scratch` before any step. */
  imageId?: string;
  config: ImageRunConfig;
  /** ARGs declared in this stage, with their values. */
  args: Map<string, string | undefined>;
  author?: string;
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];
/** Docker's built-in build args: allowed without an ARG, never reported as unused. */
const BUILTIN_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

export class Builder {
  readonly #o: BuilderOptions;
  readonly #cache: BuildCache;

  constructor(options: BuilderOptions) {
    this.#o = options;
    this.#cache = new BuildCache(join(options.root, 'cache.json'));
  }

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
    return new BuildRun(this.#o, this.#cache, df, options, this.#destMemo);
  }

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
  readonly #total: number;
  #cacheBroken = false;

  constructor(o: BuilderOptions, cache: BuildCache, df: Dockerfile, opt: BuildOptions, destMemo: Map<string, DestInImage>) {
    this.#o = o;
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
    this.#cacheBroken = opt.noCache ?? false;
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
    // Meta ARGs (before the first FROM): usable in FROM lines, and as defaults for a stage's ARG.
    for (const a of this.#df.metaArgs) {
      for (const { name, value } of a.args) {
        const given = this.#buildArgs[name];
        this.#metaArgs.set(name, given !== undefined && given !== null ? given : value !== undefined ? this.#word(a, value, (n) => this.#metaArgs.get(n)) : undefined);
        if (given !== undefined) this.#usedArgs.add(name);
      }
    }
    let last: StageState | undefined;
    for (const stage of this.#stages) {
      last = await this.#runStage(stage);
      this.#done.set(stage.index, last);
    }
    const unused = Object.keys(this.#buildArgs).filter((k) => !this.#usedArgs.has(k) && !BUILTIN_ARGS.has(k));
    if (unused.length) this.#opt.out(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
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

  #header(ins: { original: string }): void {
    this.#step++;
    this.#opt.out(`Step ${this.#step}/${this.#total} : ${ins.original}\n`);
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
    this.#header(from);
    const image = this.#word(from, from.image, (n) => this.#metaArgs.get(n));
    const st: StageState = { stage, config: {}, args: new Map() };
    const prior = this.#stages.find((s) => s.name === image.toLowerCase() && s.index < stage.index);
    if (image === 'scratch') {
      st.config = {};
    } else if (prior) {
      const ps = this.#done.get(prior.index)!;
      st.imageId = ps.imageId;
      st.config = structuredClone(ps.config);
    } else {
      let rec;
      try {
        rec = this.#o.images.resolve(image);
      } catch (e) {
        if (isNotFound(e)) {
          this.#fail(from, `pull access denied for ${image.replace(/:.*$/, '')}, repository does not exist or may require 'docker login': no such image here and pulling is not available: No such image: ${image}`);
        }
        this.#fail(from, (e as Error).message);
      }
      st.imageId = rec.id;
      st.config = structuredClone((await this.#o.images.config(rec.id)).config ?? {});
    }
    if (st.imageId) this.#opt.out(` ---> ${shortId(st.imageId.replace(/^sha256:/, ''))}\n`);
    // ONBUILD triggers of the base image run now, and are not inherited.
    const triggers = st.config.OnBuild ?? [];
    if (triggers.length && !prior) {
      this.#opt.out(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
      st.config.OnBuild = null;
      for (const t of triggers) {
        const ins = parseTrigger(t, from.line, this.#df.file, this.#df.escape);
        await this.#dispatch(st, { ...ins, original: t });
      }
    }
    for (const ins of stage.instructions) {
      this.#opt.signal?.throwIfAborted();
      this.#header(ins);
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
    this.#opt.out(` ---> ${shortId(id.replace(/^sha256:/, ''))}\n`);
  }

  /** Looks the step up in the cache; prints `Using cache` and moves the stage on when found. */
  async #probe(st: StageState, key: string): Promise<boolean> {
    if (this.#cacheBroken) return false;
    const hit = await this.#cache.get(key, (id) => this.#o.images.get(id) !== undefined);
    if (!hit) {
      this.#cacheBroken = true; // a miss: every later step is rebuilt (its parent is new)
      return false;
    }
    this.#opt.out(' ---> Using cache\n');
    await this.#adopt(st, hit);
    this.#printId(hit);
    return true;
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
        script = ins.heredocs[0]!.content; // `RUN <<EOF`: the body is the script
      } else if (ins.heredocs.length) {
        // The shell itself reads the heredocs (and expands them unless quoted).
        script = `${script}\n${ins.heredocs.map((h) => `${h.content}${h.name}\n`).join('')}`;
      }
      argv = [...shell, script];
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
    const createdBy = `${argEnv.length ? `|${argEnv.length} ${argEnv.join(' ')} ` : ''}${'exec' in ins.command ? argv.join(' ') : `${shell.join(' ')} ${ins.command.shell}`}`;
    const key = cacheKey({ parent: st.imageId ?? 'scratch', instruction: `RUN ${JSON.stringify(argv)}\u0000${JSON.stringify(st.config)}`, extra: argEnv.join('\u0000') });
    if (await this.#probe(st, key)) return;
    if (!st.imageId) this.#fail(ins, 'no such file or directory: a RUN step needs a base image with a shell (FROM scratch has none)');

    const containers = this.#o.containers;
    const { id: cid } = await containers.create({
      buildStep: true,
      image: st.imageId!,
      cmd: argv,
      entrypoint: [],
      env: [...(st.config.Env ?? []), ...argEnv],
      workingDir: st.config.WorkingDir ?? '',
      user: st.config.User ?? '',
      labels: {},
      host: {},
    });
    const short = shortId(cid);
    this.#opt.out(` ---> Running in ${short}\n`);
    let removed = false;
    const remove = async (): Promise<void> => {
      if (removed) return;
      removed = true;
      await containers.remove(cid, { force: true }).catch((err: unknown) => this.#o.log.warn({ err, container: cid }, 'removing an intermediate container failed'));
    };
    const onAbort = (): void => void containers.kill(cid).catch(() => undefined);
    try {
      const output = containers.attachOutput(cid, this.#opt.signal);
      const pump = (async () => {
        for await (const rec of output) this.#opt.out(rec.data.toString('utf8'));
      })();
      this.#opt.signal?.addEventListener('abort', onAbort, { once: true });
      let code: number;
      try {
        await containers.start(cid);
        code = (await containers.wait(cid, 'not-running')).exitCode;
      } catch (e) {
        await pump.catch(() => undefined);
        return this.#fail(ins, `The command '${argv.join(' ')}' could not be run: ${(e as Error).message}`);
      }
      await pump.catch(() => undefined);
      this.#opt.signal?.throwIfAborted();
      if (code !== 0) {
        const what = 'exec' in ins.command ? JSON.stringify(argv) : `'${argv.join(' ')}'`;
        this.#fail(ins, `The command ${what} returned a non-zero code: ${code}`, code);
      }
      faultPoint('build-step-ran');
      const record = containers.get(cid);
      const upper = join(record.dir, 'upper');
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
        this.#opt.out(`Removing intermediate container ${short}\n`);
      } else removed = true;
      st.imageId = id;
      await this.#cache.set(key, id);
      this.#printId(id);
    } finally {
      this.#opt.signal?.removeEventListener('abort', onAbort);
      await remove();
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
    const sources = ins.heredocs.length ? ins.sources : this.#words(ins, ins.sources, ins.json, look);
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
      const stage = this.#stages.find((s) => s.name === ref.toLowerCase() || String(s.index) === ref);
      if (stage) {
        if (stage.index >= st.stage.index) this.#fail(ins, `invalid from flag value ${ref}: refers to current build stage`);
        fromImage = this.#done.get(stage.index)!.imageId;
        if (!fromImage) this.#fail(ins, `COPY failed: stage ${ref} has no files`);
      } else {
        try {
          fromImage = this.#o.images.resolve(ref).id;
        } catch (e) {
          this.#fail(ins, `invalid from flag value ${ref}: ${(e as Error).message}`);
        }
      }
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
        mount = await this.#mountImage(fromImage);
        for (const s of sources) {
          // Resolved inside the image's root: a symlink in the image never leads to a host path.
          const rel = cleanPath(await resolveInImage(rootReadLink(mount.dir), `/${cleanPath(s)}`, true));
          const full = join(mount.dir, rel);
          const st0 = await lstat(full).catch(() => undefined);
          if (!st0) this.#fail(ins, `${what} failed: stat ${posix.join('/', rel)}: file does not exist`);
          const mnt = mount;
          plans.push({
            digest: sha256(`image\u0000${fromImage}\u0000${rel}`),
            count: 1,
            name: posix.basename(rel === '.' ? '/' : rel),
            isDir: st0!.isDirectory(),
            apply: async (staging, target) => {
              const p = target(posix.basename(rel), st0!.isDirectory());
              await mkdirp(staging, st0!.isDirectory() ? p : posix.dirname(p), lowers);
              const src = st0!.isDirectory() ? `${full}/.` : full;
              await this.#o.runner.run(['cp', '-a', '--no-preserve=ownership', src, join(staging, p)]);
              void mnt;
            },
          });
        }
      } else {
        for (const s of sources) {
          if (ins.kind === 'add' && /^https?:\/\//i.test(s)) {
            plans.push(await this.#download(ins, s, lowers));
            continue;
          }
          let matches: ContextEntry[];
          try {
            matches = this.#opt.context.match(s);
          } catch (e) {
            return this.#fail(ins, (e as Error).message);
          }
          if (matches.length === 0) {
            if (/[*?[]/.test(s)) this.#fail(ins, `${what} failed: no source files were specified`);
            this.#fail(ins, `${what} failed: file not found in build context or excluded by .dockerignore: stat ${s}: file does not exist`);
          }
          for (const m of matches) plans.push(await this.#contextPlan(ins, m, lowers));
        }
      }
      const count = plans.reduce((n, p) => n + p.count, 0);
      if ((plans.length > 1 || sources.length > 1) && !destIsDir) {
        this.#fail(ins, `When using ${what} with more than one source file, the destination must be a directory and end with a /`);
      }
      const intoDir = destIsDir || existingDest?.isDirectory() === true;
      const target = (name: string, isDirSource: boolean): string => {
        const d = dest.replace(/^\/+/, '');
        if (isDirSource) return d || '.';
        return intoDir ? posix.join(d, name) : d;
      };
      const srcDigest = sha256(plans.map((p) => p.digest).join('\n'));
      const description = `${what} ${ins.chown ? `--chown=${chown} ` : ''}${ins.chmod ? `--chmod=${ins.chmod} ` : ''}${srcDigest.slice(0, 12)} in ${dest}${destIsDir && dest !== '/' ? '/' : ''}`;
      const key = cacheKey({ parent: st.imageId ?? 'scratch', instruction: `${description}\u0000${intoDir}\u0000${JSON.stringify(st.config)}`, extra: srcDigest });
      if (await this.#probe(st, key)) return;
      void count;
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
          if (ins.chmod && !(await lstat(full)).isSymbolicLink()) await chmod(full, parseInt(ins.chmod, 8));
        }
        await this.#commitLayer(st, staging, `/bin/sh -c #(nop) ${description} `, key);
      });
    } finally {
      await mount?.release();
    }
  }

  async #contextPlan(ins: Extract<Instruction, { kind: 'copy' | 'add' }>, entry: ContextEntry, lowers: string[]) {
    const ctx = this.#opt.context;
    const name = entry.path === '.' ? '' : posix.basename(entry.path);
    if (entry.type === 'dir') {
      const real = ctx.resolveEntry(entry.path)!;
      const children = ctx.walk(real.path);
      const rel = (p: string): string => (real.path === '.' ? p : p.slice(real.path.length + 1));
      const digest = sha256(children.map((c) => `${rel(c.path)}\u0000${c.type}\u0000${c.mode}\u0000${c.digest ?? ''}\u0000${c.linkname ?? ''}`).join('\n'));
      return {
        digest: `dir:${digest}`,
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
      digest: `file:${name}\u0000${real.mode}\u0000${real.digest}\u0000${archive ?? ''}`,
      count: 1,
      name,
      isDir: archive !== undefined,
      apply: async (staging: string, target: (n: string, d: boolean) => string) => {
        if (archive) {
          const base = target(name, true);
          await mkdirp(staging, base, lowers);
          await this.#extractArchive(await ctx.diskPath(real), archive, join(staging, base), ins);
          return;
        }
        const p = target(name, false);
        await mkdirp(staging, posix.dirname(p), lowers);
        await materialise(ctx, real, join(staging, p));
      },
    };
  }

  /** ADD of a local archive: validated like a layer (no `..`, no writes through symlinks), then extracted. */
  async #extractArchive(path: string, kind: string, dest: string, ins: Instruction): Promise<void> {
    const { scanLayerTar } = await import('../image/layer-tar.js');
    const work = await mkdtemp(join(tmpdir(), 'berth-add-'));
    try {
      let input: Readable = createReadStream(path);
      if (kind === 'bzip2' || kind === 'xz') {
        const { spawn } = await import('node:child_process');
        const p = spawn(kind === 'xz' ? 'xz' : 'bzip2', ['-dc'], { stdio: ['pipe', 'pipe', 'ignore'] });
        createReadStream(path).pipe(p.stdin);
        input = p.stdout;
      }
      const tarPath = join(work, 'a.tar');
      try {
        await scanLayerTar(input, tarPath);
      } catch (e) {
        this.#fail(ins, `ADD failed: ${(e as Error).message}`);
      }
      await this.#o.runner.run(['tar', '-x', '--numeric-owner', '-p', '-f', tarPath, '-C', dest]);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  async #download(ins: Extract<Instruction, { kind: 'copy' | 'add' }>, url: string, lowers: string[]) {
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(this.#o.fetchTimeoutMs ?? 30_000), redirect: 'follow' });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const detail = [cause?.code, cause?.message ?? (e as Error).message].filter(Boolean).join(' ');
      return this.#fail(ins, `ADD failed: cannot download ${url}: ${detail}`);
    }
    if (!res.ok) this.#fail(ins, `ADD failed: cannot download ${url}: ${res.status} ${res.statusText}`);
    const body = Buffer.from(await res.arrayBuffer());
    const modified = res.headers.get('last-modified');
    const mtime = modified ? new Date(modified) : new Date();
    const name = posix.basename(new URL(url).pathname) || 'index.html';
    return {
      digest: `url:${url}\u0000${sha256(body)}`,
      count: 1,
      name,
      isDir: false,
      apply: async (staging: string, target: (n: string, d: boolean) => string) => {
        const p = target(name, false);
        await mkdirp(staging, posix.dirname(p), lowers);
        await writeNew(join(staging, p), body, 0o600);
        await utimes(join(staging, p), mtime, mtime);
      },
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

// ---- helpers ----

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function envValue(env: readonly string[], name: string): string | undefined {
  for (let i = env.length - 1; i >= 0; i--) {
    const e = env[i]!;
    if (e.startsWith(`${name}=`)) return e.slice(name.length + 1);
  }
  return undefined;
}

function setEnv(env: string[], key: string, value: string): void {
  const i = env.findIndex((e) => e.startsWith(`${key}=`));
  if (i >= 0) env[i] = `${key}=${value}`;
  else env.push(`${key}=${value}`);
}

/** Where `path` (absolute, in the image) is found through the layers: its stat and the file. */
async function findInLayers(lowers: readonly string[], path: string): Promise<{ stat: import('node:fs').Stats; file: string } | undefined> {
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
async function resolveInImage(readLink: (p: string) => Promise<string | undefined>, path: string, followLast: boolean): Promise<string> {
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
function layersReadLink(lowers: readonly string[]): (p: string) => Promise<string | undefined> {
  return async (p) => {
    const f = await findInLayers(lowers, p);
    return f?.stat.isSymbolicLink() ? readlink(f.file) : undefined;
  };
}

/** A readLink over a directory used as a root (a mounted image). */
function rootReadLink(root: string): (p: string) => Promise<string | undefined> {
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
async function mkdirp(staging: string, rel: string, lowers: readonly string[]): Promise<void> {
  await ensureParents(staging, lowers, `/${rel}`, true);
}

async function ensureParents(staging: string, lowers: readonly string[], path: string, includeSelf: boolean): Promise<void> {
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

async function writeNew(path: string, content: string | Buffer, mode: number): Promise<void> {
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
async function materialise(ctx: BuildContext, e: ContextEntry, dest: string): Promise<void> {
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

async function listAll(dir: string): Promise<Set<string>> {
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
async function archiveKind(path: string): Promise<string | undefined> {
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
async function resolveOwner(lowers: readonly string[], spec: string, fail: (m: string) => never): Promise<{ uid: number; gid: number }> {
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

