import { contentTrustEnabled, contentTrustQuery, requireTrustDaemon } from '../content-trust.js';
import { createReadStream, readFileSync, statSync, type Stats } from 'node:fs';
import { lstat, readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { mkdir, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Ignore } from '@balena/dockerignore';
import { collect, type CommandModule } from '../command.js';
import { StatusError } from '../errors.js';
import { readJsonMessages } from '../../client/json-messages.js';
import { ApiError, isApiStatus } from '../../client/errors.js';
import { BuildkitTty } from '../build-progress-tty.js';
import { packSmallContext, type ContextState, type RefsTarCache } from '../build-context-pack.js';
import { API_VERSION, unixRequest, unixSocketPath } from '../unix-request.js';
import type { ApiClient } from '../../client/client.js';

/** The daemon's answer, from ApiClient (an IncomingMessage) or unix-request.ts. */
interface BuildAnswer {
  headers: Record<string, string | string[] | undefined>;
  body: AsyncIterable<unknown>;
  destroy(): void;
}

/** A query string as ApiClient writes it (repeated keys for lists, undefined left out). */
function queryString(query: Record<string, string | string[] | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) params.append(k, item);
    else params.append(k, v);
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

/**
 * `berth build`: packs the context directory (minus `.dockerignore` matches; the Dockerfile and
 * `.dockerignore` are always sent, as docker does) into a tar, sends it with POST /build and
 * prints the daemon's output as it streams. A Dockerfile outside the context (`-f ../x`) or
 * from stdin (`-f -`) is added to the tar under a private name. `-` as the context reads a tar
 * from stdin.
 */
export const command: CommandModule = {
  usage: '[OPTIONS] PATH | -',
  description: 'Build an image from a Dockerfile',
  aliases: ['berth image build', 'berth builder build'],
  args: { exact: 1 },
  configure(cmd) {
    cmd.option('--build-arg <list>', 'Set build-time variables', collect);
    cmd.option('-f, --file <string>', "Name of the Dockerfile (Default is 'PATH/Dockerfile')");
    cmd.option('--force-rm', 'Always remove intermediate containers');
    cmd.option('--iidfile <string>', 'Write the image ID to the file');
    cmd.option('--label <list>', 'Set metadata for an image', collect);
    cmd.option('--no-cache', 'Do not use cache when building the image');
    cmd.option('--pull', 'Always attempt to pull a newer version of the image');
    cmd.option('--disable-content-trust', 'Skip image verification (default true)');
    cmd.option('-q, --quiet', 'Suppress the build output and print image ID on success');
    cmd.option('--rm', 'Remove intermediate containers after a successful build', true);
    cmd.option('-t, --tag <list>', "Name and optionally a tag in the 'name:tag' format", collect);
    cmd.option('--target <string>', 'Set the target build stage to build.');
    cmd.option('--secret <stringArray>', 'Secret to expose to the build (format: "id=mysecret[,src=/local/secret]" or "id=X,env=VAR")', collect);
    cmd.option('--ssh <stringArray>', 'SSH agent socket to expose to the build (format: "default|<id>[=<socket>]"); the daemon must run on this host', collect);
    cmd.option('--network <string>', 'Set the networking mode for the RUN instructions during build (default, none, host)');
    cmd.option('--add-host <list>', 'Add a custom host-to-IP mapping (format: "host:ip")', collect);
    cmd.option('--shm-size <bytes>', 'Shared memory size for RUN instructions');
    cmd.option('--ulimit <ulimit>', 'Ulimit options for RUN instructions', collect);
    cmd.option('--platform <string>', 'Set the target platform for the build (only the host platform is supported)');
    // The classic builder's resource flags: sent as Docker's API parameters; berthd applies none of
    // them to RUN steps and refuses each by name when it is set (src/api/routes/build.ts REFUSED).
    cmd.option('--cgroup-parent <string>', 'Set the parent cgroup for the "RUN" instructions during build');
    cmd.option('--compress', 'Compress the build context using gzip');
    cmd.option('--cpu-period <int>', 'Limit the CPU CFS (Completely Fair Scheduler) period');
    cmd.option('--cpu-quota <int>', 'Limit the CPU CFS (Completely Fair Scheduler) quota');
    cmd.option('-c, --cpu-shares <int>', 'CPU shares (relative weight)');
    cmd.option('--cpuset-cpus <string>', 'CPUs in which to allow execution (0-3, 0,1)');
    cmd.option('--cpuset-mems <string>', 'MEMs in which to allow execution (0-3, 0,1)');
    cmd.option('--isolation <string>', 'Container isolation technology');
    cmd.option('-m, --memory <bytes>', 'Memory limit');
    cmd.option('--memory-swap <bytes>', 'Swap limit equal to memory plus swap: -1 to enable unlimited swap');
    cmd.option('--security-opt <strings>', 'Security options', collect);
    cmd.option('--squash', 'Squash newly built layers into a single new layer');
    cmd.option('--no-cache-filter <stringArray>', 'Do not cache specified stages', collect);
    cmd.option('--build-context <stringArray>', 'Additional build contexts (e.g., name=docker-image://IMAGE)', collect);
    cmd.option('--allow <stringArray>', 'Allow extra privileged entitlement (network.host, security.insecure)', collect);
    cmd.option('-o, --output <stringArray>', 'Output destination (format: "type=local,dest=path" or "type=tar,dest=file")', collect);
    cmd.option('--metadata-file <string>', 'Write build result metadata to a file');
    cmd.option('--progress <string>', 'Set type of progress output (auto, plain, tty, quiet): plain prints steps in BuildKit\'s #N shape, tty its live view', 'auto');
    cmd.option('--cache-from <stringArray>', 'Images to consider as cache sources (layers of images built by berth)', collect);
  },
  async run(ctx, args, opts) {
    const o = opts as {
      buildArg?: string[]; file?: string; forceRm?: boolean; iidfile?: string; label?: string[]; cache?: boolean;
      quiet?: boolean; rm?: boolean; tag?: string[]; target?: string;
      secret?: string[]; ssh?: string[]; network?: string; addHost?: string[]; shmSize?: string; ulimit?: string[]; platform?: string;
      noCacheFilter?: string[]; buildContext?: string[]; allow?: string[]; output?: string[]; metadataFile?: string; progress?: string; cacheFrom?: string[];
    };
    const extraHeaders = await buildkitHeaders(o, ctx.env);
    const output = o.output?.length ? parseOutput(o.output) : undefined;
    if (o.progress && !['auto', 'plain', 'tty', 'quiet', 'rawjson'].includes(o.progress)) throw new StatusError(1, `invalid progress mode: ${o.progress}`);
    if (o.progress === 'rawjson') throw new StatusError(1, '--progress=rawjson is not supported by berth (auto, plain, tty, quiet)');
    if (o.progress === 'quiet') o.quiet = true;
    // As buildx: the live view needs a terminal to redraw on.
    if (o.progress === 'tty' && !o.quiet && !(ctx.stdout as { isTTY?: boolean }).isTTY) throw new StatusError(1, '--progress=tty needs a terminal: stdout is not one (use --progress=plain)');
    const buildContexts: Record<string, string> = {};
    /** `--build-context NAME=DIR`: local directories, sent as images made for this build (below). */
    const localContexts = new Map<string, string>();
    for (const bc of o.buildContext ?? []) {
      const eq = bc.indexOf('=');
      if (eq <= 0) throw new StatusError(1, `invalid --build-context: ${bc}: expected name=value`);
      const v = bc.slice(eq + 1);
      if (v.startsWith('docker-image://')) buildContexts[bc.slice(0, eq)] = v;
      else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) throw new StatusError(1, `--build-context ${bc}: berth takes docker-image://IMAGE and local directories as build contexts, not ${v.slice(0, v.indexOf('://') + 3)}`);
      else {
        if (!statOrUndefined(resolve(v))?.isDirectory()) throw new StatusError(1, `--build-context ${bc}: ${v} is not a directory`);
        localContexts.set(bc.slice(0, eq), resolve(v));
      }
    }
    const r = opts as { cgroupParent?: string; compress?: boolean; cpuPeriod?: string; cpuQuota?: string; cpuShares?: string; cpusetCpus?: string; cpusetMems?: string; isolation?: string; memory?: string; memorySwap?: string; securityOpt?: string[]; squash?: boolean };
    // berth sends the context to the daemon as it is (a local socket, or the reference-only upload).
    if (r.compress) throw new StatusError(1, '--compress is not supported by berth: the build context is sent uncompressed');
    if (r.securityOpt?.length) throw new StatusError(1, '--security-opt is not supported for builds (Docker applies it on Windows daemons only)');
    let resourceQuery: Record<string, string | undefined> = {};
    if (r.memory || r.memorySwap || r.cpuPeriod || r.cpuQuota || r.cpuShares || r.cpusetCpus || r.cpusetMems || r.cgroupParent || r.isolation || r.squash) {
      const { parseBytes } = await import('../container-options.js');
      const int = (v: string | undefined, flag: string): string | undefined => {
        if (v === undefined) return undefined;
        if (!/^-?\d+$/.test(v)) throw new StatusError(1, `invalid argument "${v}" for "${flag}" flag: strconv.ParseInt: parsing "${v}": invalid syntax`);
        return v;
      };
      resourceQuery = {
        memory: r.memory ? String(parseBytes(r.memory)) : undefined,
        memswap: r.memorySwap ? (r.memorySwap === '-1' ? '-1' : String(parseBytes(r.memorySwap))) : undefined,
        cpuperiod: int(r.cpuPeriod, '--cpu-period'),
        cpuquota: int(r.cpuQuota, '--cpu-quota'),
        cpushares: int(r.cpuShares, '--cpu-shares'),
        cpusetcpus: r.cpusetCpus,
        cpusetmems: r.cpusetMems,
        cgroupparent: r.cgroupParent,
        isolation: r.isolation,
        squash: r.squash ? '1' : undefined,
      };
    }
    let ulimits: string | undefined;
    let shmSize: string | undefined;
    if (o.ulimit?.length || o.shmSize) {
      const { parseUlimit, parseBytes } = await import('../container-options.js');
      if (o.ulimit?.length) ulimits = JSON.stringify(o.ulimit.map(parseUlimit));
      if (o.shmSize) shmSize = String(parseBytes(o.shmSize));
    }
    const source = args[0]!;
    if (/^(https?|git):\/\//.test(source) || source.startsWith('git@')) {
      throw new StatusError(1, `unable to prepare context: remote build contexts are not supported by berth: ${source}`);
    }
    const buildArgs: Record<string, string | null> = {};
    for (const a of o.buildArg ?? []) {
      const eq = a.indexOf('=');
      // `--build-arg NAME` takes the value from the environment, as docker does.
      if (eq < 0) buildArgs[a] = process.env[a] ?? null;
      else buildArgs[a.slice(0, eq)] = a.slice(eq + 1);
    }
    const labels: Record<string, string> = {};
    for (const l of o.label ?? []) {
      const eq = l.indexOf('=');
      labels[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? '' : l.slice(eq + 1);
    }

    // A local daemon (unix socket) gets an in-memory context without node:http (unix-request.ts);
    // otherwise the API client is loaded while the context is scanned.
    const socketPath = unixSocketPath(ctx.host);
    let clientReady: Promise<ApiClient> | undefined;
    const getClient = (): Promise<ApiClient> => {
      if (!clientReady) {
        clientReady = ctx.client();
        clientReady.catch(() => undefined);
      }
      return clientReady;
    };
    if (!socketPath) void getClient();
    if (contentTrustEnabled(ctx, o as { disableContentTrust?: boolean })) {
      try {
        await requireTrustDaemon(await getClient());
      } catch (e) {
        throw new StatusError(1, (e as Error).message);
      }
    }
    let body: Readable | Buffer;
    let makeBody: ((useRefs: boolean) => Promise<Readable | Buffer>) | undefined;
    let previous: ContextState | undefined;
    let statePath: string | undefined;
    let nextState: ContextState | undefined;
    let refsTar: RefsTarCache | undefined;
    let dockerfileName: string | undefined;
    if (source === '-') {
      if (o.file === '-') throw new StatusError(125, 'invalid argument: can\'t use stdin for both build context and dockerfile');
      // As docker: stdin is either a context archive or a Dockerfile alone (`build - < Dockerfile`).
      body = await archiveOrDockerfile(ctx.stdin);
      dockerfileName = Buffer.isBuffer(body) ? undefined : o.file;
    } else {
      const dir = resolve(source);
      // Synchronous: the CLI waits for each anyway, and this skips thread-pool round trips.
      const st = statOrUndefined(dir);
      if (!st?.isDirectory()) throw new StatusError(1, `unable to prepare context: path "${source}" not found`);
      let extra: { name: string; content: Buffer } | undefined;
      let ignorePath = join(dir, '.dockerignore');
      if (o.file === '-') {
        const chunks: Buffer[] = [];
        for await (const c of ctx.stdin) chunks.push(c as Buffer);
        dockerfileName = `.dockerfile.${randomBytes(10).toString('hex')}`;
        extra = { name: dockerfileName, content: Buffer.concat(chunks) };
      } else {
        const df = resolve(o.file ?? join(dir, 'Dockerfile'));
        const dfStat = statOrUndefined(df);
        if (!dfStat?.isFile()) throw new StatusError(1, `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${df}: no such file or directory`);
        const rel = relative(dir, df);
        if (rel.startsWith('..') || rel.startsWith(sep)) {
          dockerfileName = `.dockerfile.${randomBytes(10).toString('hex')}`;
          extra = { name: dockerfileName, content: await readFile(df) };
        } else dockerfileName = rel.split(sep).join('/');
        const specific = `${df}.dockerignore`;
        if (statOrUndefined(specific)) ignorePath = specific;
      }
      const ignoreText = readTextOrEmpty(ignorePath);
      const keep = new Set(['.dockerignore', dockerfileName ?? 'Dockerfile', ...(ignorePath.startsWith(dir + sep) ? [relative(dir, ignorePath).split(sep).join('/')] : [])]);
      statePath = contextStatePath(ctx.env?.['BERTH_HOST'] ?? process.env['BERTH_HOST'] ?? process.env['DOCKER_HOST'] ?? '', dir);
      // Read only when the tar of references from last time does not fit (something changed).
      const statFile = statePath;
      const loadPrevious = (): ContextState => (previous ??= statFile ? readState(statFile) : {});
      nextState = {};
      const state = nextState;
      makeBody = (useRefs) => {
        // The tar of references of the last upload (context-pack.ts), for a context that has not changed since.
        refsTar = statePath ? { path: statePath.replace(/\.json$/, '.tar'), key: `${ignoreText}\u0000${[...keep].sort().join('\u0000')}`, reuse: useRefs } : undefined;
        return packContext(dir, ignoreText, keep, extra, { previous: useRefs ? loadPrevious : {}, next: state, cache: refsTar });
      };
        body = await makeBody(true);
      }

    // A local directory as a named context: BuildKit streams it through its session, which the
    // Engine API's /build has no room for. berth packs it as the main context is packed (its own
    // .dockerignore, owners 0:0), imports it as an image of its own (POST /images/create
    // fromSrc=-) and names that image, so `FROM NAME` and `COPY --from=NAME` see the directory;
    // the image is removed when the build ends, whatever the outcome.
    const madeImages: string[] = [];
    // Not forced: an image the build tagged (a Dockerfile of only `FROM NAME`) or one that is the
    // parent of the result (`FROM NAME` and more steps) stays, as any base image does.
    const dropMadeImages = async (): Promise<void> => {
      for (const id of madeImages.splice(0)) {
        const client = await getClient();
        const tagged = await client.json<{ RepoTags?: string[] }>('GET', `/images/${id}/json`).then((img) => (img.RepoTags ?? []).length > 0, () => true);
        if (!tagged) await client.request('DELETE', `/images/${id}`).then((r) => r.resume(), () => undefined);
      }
    };
    try {
      for (const [name, dir] of localContexts) {
        const packed = await packContext(dir, readTextOrEmpty(join(dir, '.dockerignore')), new Set(), undefined, { previous: {}, next: {} });
        const res = await (await getClient()).request('POST', '/images/create', { query: { fromSrc: '-', message: `berth build --build-context ${name}` }, body: packed, headers: { 'Content-Type': 'application/x-tar' } });
        let id = '';
        for await (const msg of readJsonMessages(res as unknown as Readable)) {
          if (msg.error || msg.errorDetail?.message) throw new StatusError(1, `--build-context ${name}=${dir}: ${msg.errorDetail?.message ?? msg.error}`);
          if (typeof msg.status === 'string' && /^sha256:[0-9a-f]{64}$/.test(msg.status.trim())) id = msg.status.trim();
        }
        if (!id) throw new StatusError(1, `--build-context ${name}=${dir}: the daemon did not answer with an image`);
        madeImages.push(id);
        buildContexts[name] = `docker-image://${id}`;
      }
    } catch (e) {
      await dropMadeImages();
      throw e;
    }

    try {
    const query: Record<string, string | string[] | undefined> = {
      t: o.tag ?? [],
      dockerfile: dockerfileName,
      buildargs: Object.keys(buildArgs).length ? JSON.stringify(buildArgs) : undefined,
      labels: Object.keys(labels).length ? JSON.stringify(labels) : undefined,
      target: o.target,
      nocache: o.cache === false ? '1' : undefined,
      q: o.quiet ? '1' : undefined,
      rm: o.rm === false ? '0' : '1',
      forcerm: o.forceRm ? '1' : undefined,
      ...contentTrustQuery(contentTrustEnabled(ctx, o as { disableContentTrust?: boolean })),
      networkmode: o.network,
      extrahosts: o.addHost?.length ? o.addHost.join(',') : undefined,
      shmsize: shmSize,
      ...resourceQuery,
      ulimits,
      platform: o.platform,
      nocachefilter: o.noCacheFilter?.length ? o.noCacheFilter.join(',') : undefined,
      buildcontexts: Object.keys(buildContexts).length ? JSON.stringify(buildContexts) : undefined,
      allow: o.allow?.length ? o.allow : undefined,
      cachefrom: o.cacheFrom?.length ? JSON.stringify(o.cacheFrom) : undefined,
      pull: (opts as { pull?: boolean }).pull ? '1' : undefined,
    };
    const send = async (b: Readable | Buffer, extra: Record<string, string> = {}): Promise<BuildAnswer> => {
      const headers = { 'Content-Type': 'application/x-tar', ...extraHeaders, ...extra };
      if (socketPath && Buffer.isBuffer(b)) {
        const version = ctx.env['BERTH_API_VERSION'] || ctx.env['DOCKER_API_VERSION'] || API_VERSION;
        return unixRequest(socketPath, ctx.host, 'POST', `/v${version}/build${queryString(query)}`, headers, b);
      }
      const client = await getClient();
      const r = await client.request('POST', '/build', { query, body: b, headers });
      return { headers: r.headers, body: r, destroy: () => r.destroy() };
    };
    // berthd keeps what it receives under this key, so an unchanged context can be the key alone.
    const keyHeader = (): Record<string, string> => (refsTar?.sig ? { 'Berth-Context-Key': refsTar.sig } : {});
    let res: BuildAnswer;
    try {
      if (refsTar?.hit && refsTar.sig) {
        // Nothing changed since the last upload: name it instead of sending it. Any error (the
        // daemon forgot it, or is another engine) and the tar of references goes as usual.
        try {
          res = await send(Buffer.alloc(0), { 'Berth-Context-Ref': refsTar.sig });
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          res = await send(body, keyHeader());
        }
      } else res = await send(body, keyHeader());
    } catch (err) {
      // The daemon no longer holds content this upload referred to (restarted, evicted): send it whole.
      if (!makeBody || !isApiStatus(err, 409)) throw err;
      const whole = await makeBody(false);
      res = await send(whole, keyHeader());
    }
    // Only berthd reads references to earlier uploads, and says so with this header. Another
    // engine took them for empty files: the state is dropped (the next build sends everything)
    // and this build is refused rather than reported as a success.
    const refsRead = res.headers['berth-context-refs'] === '1';
    if (statePath && !refsRead && (refsTar?.hit || Object.keys(previous ?? {}).length)) {
      res.destroy();
      await rm(statePath, { force: true });
      if (refsTar) await rm(refsTar.path, { force: true });
      throw new StatusError(1, 'the daemon does not understand berth\'s incremental build context (files unchanged since the last upload were sent as references); the upload state is cleared: run the build again');
    }
    // Nothing changed (the fully cached rebuild): the state on disk is already right.
    if (statePath && nextState && refsRead && !refsTar?.hit && !sameState(previous ?? {}, nextState)) await writeState(statePath, nextState);
    if (refsTar?.save && refsRead) await writeAtomic(refsTar.path, refsTar.save);
    // What one read from the daemon brought is printed with one write (a fully cached build's
    // ~20 lines arrive together): flushed when the messages of that chunk are done.
    let pending = '';
    let flushScheduled = false;
    const shaper = o.progress === 'plain' ? new BuildkitShape() : undefined;
    const live = o.progress === 'tty' && !o.quiet ? new BuildkitTty((text) => ctx.stdout.write(text), () => (ctx.stdout as { columns?: number }).columns ?? 80) : undefined;
    let finished = false;
    const flush = (): void => {
      flushScheduled = false;
      if (pending) {
        if (ctx.writeOut) ctx.writeOut(pending);
        else ctx.stdout.write(pending);
      }
      pending = '';
    };
    let imageId = '';
    try {
      for await (const msg of readJsonMessages(res.body as Readable)) {
        if (msg.error || msg.errorDetail?.message) {
          // As docker's CLI: the exit status is the failing command's code, else 1.
          throw new StatusError(msg.errorDetail?.code || 1, msg.errorDetail?.message ?? msg.error ?? 'unknown error');
        }
        if (msg.aux && typeof msg.aux === 'object' && typeof (msg.aux as { ID?: unknown }).ID === 'string') imageId = (msg.aux as { ID: string }).ID;
        if (msg.stream && live) live.push(msg.stream);
        else if (msg.stream) {
          pending += shaper && !o.quiet ? shaper.push(msg.stream) : msg.stream;
          if (!flushScheduled) {
            flushScheduled = true;
            setImmediate(flush);
          }
          if (o.quiet) imageId ||= msg.stream.trim();
        }
      }
      finished = true;
    } finally {
      if (shaper) pending += shaper.end();
      live?.end(finished);
      flush();
    }
    if (o.iidfile && imageId) await writeFile(o.iidfile, imageId);
    if (o.metadataFile && imageId) {
      await writeFile(o.metadataFile, `${JSON.stringify({ 'containerimage.config.digest': imageId, 'containerimage.digest': imageId, ...(o.tag?.length ? { 'image.name': o.tag.join(',') } : {}) }, null, 2)}\n`);
    }
    if (output && imageId) await exportOutput(await getClient(), imageId, output, !o.tag?.length);
    return 0;
    } finally {
      await dropMadeImages();
    }
  },
};

/**
 * `--progress=plain|tty`: the daemon's step output in BuildKit's shape: one `#N` block per
 * step with its instruction, output lines prefixed with the elapsed time, and `CACHED` or
 * `DONE <seconds>s` at its end.
 */
export class BuildkitShape {
  #buf = '';
  #step = 0;
  #start = 0;
  #open = false;

  push(text: string): string {
    this.#buf += text;
    let out = '';
    let nl: number;
    while ((nl = this.#buf.indexOf('\n')) >= 0) {
      out += this.#line(this.#buf.slice(0, nl));
      this.#buf = this.#buf.slice(nl + 1);
    }
    return out;
  }

  end(): string {
    let out = this.#buf ? this.#line(this.#buf) : '';
    this.#buf = '';
    if (this.#open) out += `#${this.#step} DONE ${this.#elapsed()}s\n`;
    this.#open = false;
    return out;
  }

  #elapsed(): string {
    return ((Date.now() - this.#start) / 1000).toFixed(1);
  }

  #line(l: string): string {
    const m = /^Step (\d+)\/(\d+) : (.*)$/.exec(l);
    if (m) {
      const close = this.#open ? `#${this.#step} DONE ${this.#elapsed()}s\n\n` : '';
      this.#step = Number(m[1]);
      this.#start = Date.now();
      this.#open = true;
      return `${close}#${this.#step} [${m[1]}/${m[2]}] ${m[3]}\n`;
    }
    if (l === ' ---> Using cache') {
      this.#open = false;
      return `#${this.#step} CACHED\n\n`;
    }
    if (/^ ---> ([0-9a-f]{12})$/.test(l)) return this.#open ? `#${this.#step} writing image sha256:${l.slice(6)}\n` : '';
    if (/^ ---> Running in |^Removing intermediate container /.test(l)) return '';
    if (!this.#open || l === '') return l ? `${l}\n` : '';
    return `#${this.#step} ${this.#elapsed()} ${l}\n`;
  }
}

/** `--secret` and `--ssh` as berthd's headers (base64 JSON): contents read here, sockets by path. */
async function buildkitHeaders(o: { secret?: string[]; ssh?: string[] }, env: Record<string, string | undefined>): Promise<Record<string, string>> {
  const headers: Record<string, string> = {};
  if (o.secret?.length) {
    const secrets: Record<string, string> = {};
    for (const spec of o.secret) {
      const f: Record<string, string> = {};
      for (const part of spec.split(',')) {
        const eq = part.indexOf('=');
        if (eq <= 0) throw new StatusError(1, `invalid secret ${spec}: expected id=ID[,src=PATH|env=VAR]`);
        f[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1);
      }
      const id = f['id'];
      if (!id) throw new StatusError(1, `invalid secret ${spec}: an id is required`);
      for (const k of Object.keys(f)) if (!['id', 'src', 'source', 'env', 'type'].includes(k)) throw new StatusError(1, `invalid secret ${spec}: unexpected key ${k}`);
      const src = f['src'] ?? f['source'];
      const type = f['type'] ?? (f['env'] !== undefined && src === undefined ? 'env' : 'file');
      let value: Buffer;
      if (type === 'env') {
        const name = f['env'] ?? src ?? id;
        const v = env[name] ?? process.env[name];
        if (v === undefined) throw new StatusError(1, `secret ${id}: environment variable ${name} is not set`);
        value = Buffer.from(v);
      } else {
        const path = src ?? id;
        try {
          value = await readFile(path);
        } catch (e) {
          throw new StatusError(1, `secret ${id}: cannot read ${path}: ${(e as Error).message}`);
        }
      }
      secrets[id] = value.toString('base64');
    }
    headers['Berth-Build-Secrets'] = Buffer.from(JSON.stringify(secrets)).toString('base64');
  }
  if (o.ssh?.length) {
    const socks: Record<string, string> = {};
    for (const spec of o.ssh) {
      const eq = spec.indexOf('=');
      const id = eq < 0 ? spec : spec.slice(0, eq);
      const path = eq < 0 ? env['SSH_AUTH_SOCK'] ?? process.env['SSH_AUTH_SOCK'] : spec.slice(eq + 1);
      if (!path) throw new StatusError(1, `--ssh ${spec}: SSH_AUTH_SOCK is not set; give the agent socket as ${id}=PATH`);
      const st = statOrUndefined(path);
      if (!st?.isSocket()) throw new StatusError(1, `--ssh ${spec}: ${path} is not a socket (only an agent socket on the daemon's host can be forwarded)`);
      socks[id] = resolve(path);
    }
    headers['Berth-Build-Ssh'] = Buffer.from(JSON.stringify(socks)).toString('base64');
  }
  return headers;
}

type OutputSpec = { type: 'local' | 'tar'; dest: string };

function parseOutput(specs: string[]): OutputSpec {
  if (specs.length > 1) throw new StatusError(1, 'only one --output is supported');
  const spec = specs[0]!;
  const f: Record<string, string> = {};
  if (!spec.includes('=')) f['type'] = 'local', f['dest'] = spec;
  else {
    for (const part of spec.split(',')) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new StatusError(1, `invalid --output ${spec}`);
      f[part.slice(0, eq)] = part.slice(eq + 1);
    }
  }
  const type = f['type'] ?? 'local';
  if (type !== 'local' && type !== 'tar') throw new StatusError(1, `--output type=${type} is not supported by berth (local, tar)`);
  for (const k of Object.keys(f)) if (k !== 'type' && k !== 'dest') throw new StatusError(1, `--output: unexpected key ${k}`);
  if (!f['dest']) throw new StatusError(1, `--output type=${type} needs dest=`);
  return { type, dest: f['dest'] };
}

/**
 * `--output`: the built filesystem as files (`local`) or a tar (`tar`, `dest=-` for stdout),
 * through a created-not-started container's export. An untagged image is removed afterwards
 * (as BuildKit, an export leaves no image).
 */
async function exportOutput(client: ApiClient, imageId: string, out: OutputSpec, removeImage: boolean): Promise<void> {
  const created = await client.containerCreate({ Image: imageId, Cmd: ['/berth-export'], Entrypoint: [] } as never);
  try {
    const res = await client.request('GET', `/containers/${created.Id}/export`);
    if (out.type === 'tar') {
      const { createWriteStream } = await import('node:fs');
      const { pipeline } = await import('node:stream/promises');
      await pipeline(res as unknown as Readable, out.dest === '-' ? process.stdout : createWriteStream(out.dest));
    } else {
      await mkdir(out.dest, { recursive: true });
      const { spawn } = await import('node:child_process');
      const tar = spawn('tar', ['-x', '-f', '-', '-C', out.dest, ...(process.getuid?.() === 0 ? ['--same-owner', '-p'] : ['--no-same-owner'])], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      tar.stderr.on('data', (c: Buffer) => (err += c.toString()));
      (res as unknown as Readable).pipe(tar.stdin);
      const code = await new Promise<number>((r) => tar.on('close', (c) => r(c ?? 1)));
      if (code !== 0) throw new StatusError(1, `--output type=local: extracting into ${out.dest} failed: ${err.trim()}`);
    }
  } finally {
    await client.containerRemove(created.Id, { force: true }).catch(() => undefined);
    if (removeImage) await client.send('DELETE', `/images/${imageId}`).catch(() => undefined);
  }
}


function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

function readTextOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Per daemon and context dir, under the user's cache dir; undefined when disabled. */
function contextStatePath(host: string, dir: string): string | undefined {
  if (process.env['BERTH_BUILD_CONTEXT_CACHE'] === '0') return undefined;
  const base = process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(base, 'berth', 'build-context', `${createHash('sha256').update(`${host}\u0000${dir}`).digest('hex').slice(0, 32)}.json`);
}

function readState(path: string): ContextState {
  try {
    // Synchronous: the CLI waits for it anyway, and this skips a thread-pool round trip.
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as ContextState) : {};
  } catch {
    return {};
  }
}

function sameState(a: ContextState, b: ContextState): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    const x = a[k];
    const y = b[k];
    if (!x || !y || x[0] !== y[0] || x[1] !== y[1] || x[2] !== y[2] || x[3] !== y[3]) return false;
  }
  return true;
}

async function writeState(path: string, state: ContextState): Promise<void> {
  await writeAtomic(path, JSON.stringify(state));
}

/** Writes a cache file whole or not at all; failing only costs a bigger upload next time. */
async function writeAtomic(path: string, data: string | Buffer): Promise<void> {
  try {
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(`${path}.tmp`, data);
    const { rename } = await import('node:fs/promises');
    await rename(`${path}.tmp`, path);
  } catch {
    // a cache: failing to write it only costs a full upload next time
  }
}

/**
 * What `build -` reads: a tar (plain or compressed) goes to the daemon as it comes; anything
 * else is a Dockerfile, sent as a context holding only `Dockerfile` (docker's
 * DetectArchiveReader + WriteTempDockerfile).
 */
async function archiveOrDockerfile(stdin: NodeJS.ReadableStream): Promise<Readable | Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const it = (stdin as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  // A tar header is 512 bytes; "ustar" sits at offset 257.
  while (size < 512) {
    const n = await it.next();
    if (n.done) break;
    const c = Buffer.isBuffer(n.value) ? n.value : Buffer.from(n.value);
    chunks.push(c);
    size += c.length;
  }
  const head = Buffer.concat(chunks, size);
  const isArchive =
    (head[0] === 0x1f && head[1] === 0x8b) || // gzip
    head.subarray(0, 3).toString('latin1') === 'BZh' ||
    (head[0] === 0xfd && head.subarray(1, 6).toString('latin1') === '7zXZ') ||
    head.subarray(257, 262).toString('latin1') === 'ustar' ||
    (size === 0);
  const { Readable: ReadableClass } = await import('node:stream');
  if (isArchive) {
    return ReadableClass.from((async function* () {
      if (size) yield head;
      for (;;) {
        const n = await it.next();
        if (n.done) return;
        yield Buffer.isBuffer(n.value) ? n.value : Buffer.from(n.value);
      }
    })());
  }
  for (;;) {
    const n = await it.next();
    if (n.done) break;
    chunks.push(Buffer.isBuffer(n.value) ? n.value : Buffer.from(n.value));
  }
  const dockerfile = Buffer.concat(chunks);
  const { default: tar } = await import('tar-stream');
  const pack = tar.pack();
  pack.entry({ name: 'Dockerfile', mode: 0o600, mtime: new Date() }, dockerfile);
  pack.finalize();
  return bufferUpTo(pack as unknown as Readable, Number.MAX_SAFE_INTEGER);
}

/** A context tar up to this size is sent as one buffer (Content-Length, no chunking). */
const BUFFER_LIMIT = 64 << 20;

/**
 * A tar of `dir`, leaving out what the ignore rules exclude (but never the files in `keep`).
 *
 * Speed (issue 5, fully cached rebuilds): each directory's entries are lstat'ed in parallel;
 * entries that carry no content (directories, symlinks, references to unchanged files) are
 * queued without waiting for the stream; and a tar that ends below BUFFER_LIMIT is handed to
 * the caller as one Buffer, so it goes out with a Content-Length in a write or two instead
 * of hundreds of small chunked writes. A bigger context is streamed.
 */
async function packContext(dir: string, ignoreText: string, keep: Set<string>, extra: { name: string; content: Buffer } | undefined, refs: { previous: ContextState | (() => ContextState); next: ContextState; cache?: RefsTarCache }): Promise<Buffer | Readable> {
  const rules = ignoreText.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  let ig: Ignore | undefined;
  if (rules.length) {
    const ignoreModule = (await import('@balena/dockerignore')).default;
    // CommonJS default export under NodeNext (see build/build-context.ts).
    const ignoreFactory = ((ignoreModule as unknown as { default?: unknown }).default ?? ignoreModule) as () => Ignore;
    ig = ignoreFactory().add(rules);
  }
  const small = packSmallContext(dir, ig, keep, extra, refs, BUFFER_LIMIT);
  if (small) return small;
  const previous = typeof refs.previous === 'function' ? refs.previous() : refs.previous;
  const { default: tar } = await import('tar-stream');
  const pack = tar.pack();
  const add = (h: Parameters<typeof pack.entry>[0], data?: Buffer): Promise<void> =>
    new Promise((res, rej) => pack.entry(h, data ?? Buffer.alloc(0), (e) => (e ? rej(e) : res())));
  // No content to hold back: queue it (tar-stream keeps entries in order) and go on.
  const queue = (h: Parameters<typeof pack.entry>[0]): void => {
    pack.entry(h, Buffer.alloc(0), (e) => {
      if (e) pack.destroy(e);
    });
  };
  void (async () => {
    // `dir` is absolute and clean (resolve), and readdir names have no `/`: plain concatenation
    // gives the same paths as join() without normalising each one.
    const root = dir.endsWith('/') ? dir : `${dir}/`;
    const walk = async (rel: string): Promise<void> => {
      const names = (await readdir(rel ? root + rel : dir)).sort();
      const stats = await Promise.all(names.map((name) => lstat(root + (rel ? `${rel}/${name}` : name))));
      for (let i = 0; i < names.length; i++) {
        const p = rel ? `${rel}/${names[i]}` : names[i]!;
        const full = root + p;
        const st = stats[i]!;
        const ignored = ig?.ignores(p) && !keep.has(p);
        // An excluded directory is still walked: a `!pattern` may bring back something below it.
        if (st.isDirectory()) {
          if (!ignored) queue({ name: `${p}/`, type: 'directory', mode: st.mode & 0o7777, mtime: st.mtime });
          await walk(p);
          continue;
        }
        if (ignored) continue;
        const base = { name: p, mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0 };
        if (st.isSymbolicLink()) queue({ ...base, type: 'symlink', linkname: await readlink(full) });
        else if (st.isFile()) {
          if (st.size <= 4 << 20) {
            // Unchanged since the last upload (same size, mtime and inode): send a reference.
            const prev = previous[p];
            if (prev && prev[0] === st.size && prev[1] === st.mtimeMs && prev[2] === st.ino) {
              queue({ ...base, type: 'file', pax: { 'BERTH.digest': prev[3] } });
              refs.next[p] = prev;
            } else {
              const data = await readFile(full);
              await add({ ...base, type: 'file' }, data);
              refs.next[p] = [st.size, st.mtimeMs, st.ino, createHash('sha256').update(data).digest('hex')];
            }
          }
          else {
            await new Promise<void>((res, rej) => {
              const entry = pack.entry({ ...base, type: 'file', size: st.size }, (e) => (e ? rej(e) : res()));
              createReadStream(full).on('error', rej).pipe(entry as unknown as NodeJS.WritableStream);
            });
          }
        }
      }
    };
    await walk('');
    if (extra) await add({ name: extra.name, type: 'file', mode: 0o600, mtime: new Date() }, extra.content);
    pack.finalize();
  })().catch((e: unknown) => pack.destroy(e as Error));
  return bufferUpTo(pack as unknown as Readable, BUFFER_LIMIT);
}

/**
 * Reads `stream` into memory: the whole of it as a Buffer when it ends within `limit` bytes,
 * else a stream that replays what was read and goes on with the rest.
 */
async function bufferUpTo(stream: Readable, limit: number): Promise<Buffer | Readable> {
  const chunks: Buffer[] = [];
  let size = 0;
  const it = stream[Symbol.asyncIterator]();
  for (;;) {
    const n = await it.next();
    if (n.done) return Buffer.concat(chunks, size);
    chunks.push(n.value as Buffer);
    size += (n.value as Buffer).length;
    if (size > limit) break;
  }
  const { Readable: ReadableClass } = await import('node:stream');
  return ReadableClass.from((async function* () {
    yield* chunks;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield n.value as Buffer;
    }
  })());
}
