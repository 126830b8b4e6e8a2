/**
 * POST /build (Engine API `ImageBuild`): the build context arrives as a tar body; the answer
 * is Docker's JSON message stream: `{"stream":"Step 1/4 : FROM busybox\n"}` lines as the build
 * runs, `{"aux":{"ID":"sha256:…"}}` with the result, and `{"errorDetail":{…},"error":…}` when a
 * step fails. Problems found before the first step (bad query, unreadable context, Dockerfile
 * syntax) are a plain error status, as dockerd does.
 *
 * Query: t (repeated), dockerfile, buildargs (JSON), target, nocache, labels (JSON), q, rm,
 * forcerm, networkmode, extrahosts, shmsize, ulimits (JSON), platform, cachefrom, pull, and berth's own `nocachefilter`, `buildcontexts` (JSON), `allow`.
 * Secrets and SSH agent sockets come in the `Berth-Build-Secrets` / `Berth-Build-Ssh` headers
 * (base64 JSON): Docker's clients send them only through a BuildKit session, which the legacy
 * builder API has not. Every other option a client sets to a non-default value is refused by
 * name, never ignored. Remote contexts are not supported.
 */
import { InvalidParameterError, NotImplementedError } from '../../common/errors.js';
import type { Builder } from '../../build/builder.js';
import { BuildError, type BuildOptions } from '../../build/builder.js';
import { receiveContext, cleanPath, ContextBlobCache } from '../../build/build-context.js';
import { parseReference, withDefaultTag, familiarString } from '../../oci/reference.js';
import type { ImageService } from '../../image/image-service.js';
import { queryBool, sendJson, type Router } from '../router.js';
import { contentTrustQuery } from './images.js';
import type { AuthConfig } from '../../wire/registry-auth.js';
import { parseUntil } from '../../common/until-filter.js';
import type { BuildHistory } from '../../build/build-history.js';

export interface BuildRouteDeps {
  builder: Builder;
  images: ImageService;
  /** Where contexts are unpacked (`<data-root>/build/contexts`). */
  tmp: string;
  /** Pulls a base image (`build --pull`) with the credentials the client sent for its registry, through the signature policy (#22). */
  pull?: (ref: string, options: { auth: AuthConfig | undefined; requireSignature: boolean; signal: AbortSignal }) => Promise<void>;
  /** Records each build for GET /berth/builds (src/build/build-history.ts). */
  history?: BuildHistory;
}

/** `X-Registry-Config` (base64 JSON: registry → credentials, as the docker CLI sends with a build): the entry for `ref`'s registry. */
export function registryConfigAuth(header: string | undefined, ref: string): AuthConfig | undefined {
  if (!header) return undefined;
  let all: unknown;
  try {
    all = JSON.parse(Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
  } catch {
    throw new InvalidParameterError('invalid X-Registry-Config header: not base64-encoded JSON');
  }
  if (!all || typeof all !== 'object') return undefined;
  const domain = withDefaultTag(parseReference(ref)).domain;
  const hub = domain === 'docker.io';
  for (const [k, v] of Object.entries(all as Record<string, AuthConfig>)) {
    const host = k.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (host === domain || (hub && (host === 'index.docker.io' || host === 'registry-1.docker.io' || host === 'docker.io'))) return v;
  }
  return undefined;
}

function jsonQuery<T>(q: URLSearchParams, name: string): T | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(v);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('expected an object');
    return parsed as T;
  } catch (e) {
    throw new InvalidParameterError(`invalid ${name} value: ${(e as Error).message}`);
  }
}

export function registerBuildRoutes(router: Router, deps: BuildRouteDeps): void {
  // POST /build/prune (Engine API BuildPrune): all, keep-storage (bytes), filters {until}.
  router.on('POST', '/build/prune', async (ctx) => {
    const q = ctx.query;
    const filters = jsonQuery<Record<string, unknown>>(q, 'filters') ?? {};
    let until: number | undefined;
    for (const [k, v] of Object.entries(filters)) {
      const values = Array.isArray(v) ? v.map(String) : v && typeof v === 'object' ? Object.keys(v) : [String(v)];
      if (k === 'until') {
        if (values.length !== 1) throw new InvalidParameterError('only one until filter is allowed');
        until = parseUntil(values[0]!);
      } else throw new InvalidParameterError(`invalid filter '${k}': berth's build cache prune takes until`);
    }
    const ks = q.get('keep-storage') ?? q.get('reserved-space');
    if (ks !== null && ks !== '' && !/^\d+$/.test(ks)) throw new InvalidParameterError(`invalid keep-storage: ${ks}`);
    const r = await deps.builder.prune({ all: queryBool(q, 'all'), ...(until !== undefined ? { until } : {}), ...(ks ? { keepStorage: Number(ks) } : {}) });
    sendJson(ctx.res, 200, { CachesDeleted: r.deleted, SpaceReclaimed: r.reclaimed });
  });

  // Contents of recent contexts: berth's CLI sends references to files it sent before.
  const blobs = new ContextBlobCache();
  router.on('POST', '/build', async (ctx) => {
    const q = ctx.query;
    if (q.get('remote')) throw new NotImplementedError('remote build contexts are not supported by berth: send the context as a tar body');
    const tags = q.getAll('t').filter((t) => t !== '');
    const refs = tags.map((t) => {
      const r = withDefaultTag(parseReference(t));
      if (r.digest !== undefined) throw new InvalidParameterError(`invalid reference format: refusing to tag with a digest: ${t}`);
      return r;
    });
    const buildArgs = jsonQuery<Record<string, string | null>>(q, 'buildargs') ?? {};
    const labels = jsonQuery<Record<string, string>>(q, 'labels') ?? {};
    const quiet = queryBool(q, 'q');
    const dockerfile = q.get('dockerfile') || 'Dockerfile';
    const extra = buildQueryOptions(q, (name) => {
      const v = ctx.req.headers[name];
      return typeof v === 'string' ? v : undefined;
    });
    if (queryBool(q, 'pull') && !deps.pull) throw new NotImplementedError('build --pull: this daemon has no registry access configured');
    const registryConfig = typeof ctx.req.headers['x-registry-config'] === 'string' ? ctx.req.headers['x-registry-config'] : undefined;
    if (deps.pull) {
      const pull = deps.pull;
      extra.pull = queryBool(q, 'pull');
      extra.pullImage = (ref, signal) => pull(ref, { auth: registryConfigAuth(registryConfig, ref), requireSignature: contentTrustQuery(q), signal });
    }
    const controller = new AbortController();
    ctx.res.once('close', () => {
      if (!ctx.res.writableFinished) controller.abort(new Error('the client went away'));
    });

    // Messages written in the same turn of the event loop go out as one write (a fully cached
    // build's whole output is then one chunk instead of ~25).
    let corked = false;
    const send = (msg: object): void => {
      if (!ctx.res.headersSent || ctx.res.writableEnded) return;
      if (!corked) {
        corked = true;
        ctx.res.cork();
        setImmediate(() => {
          corked = false;
          ctx.res.uncork();
        });
      }
      ctx.res.write(`${JSON.stringify(msg)}\r\n`);
    };
    // berth's CLI names what it sends (Berth-Context-Key), or sends only a name it sent before
    // (Berth-Context-Ref, empty body): see receiveContext.
    const header = (name: string): string | undefined => {
      const v = ctx.req.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    const context = await receiveContext(ctx.req, { tmp: deps.tmp, signal: controller.signal, blobs, key: header('berth-context-key'), ref: header('berth-context-ref') });
    const record = deps.history?.start({ tags: refs.map((r) => familiarString(r)), dockerfile });
    try {
      const dfPath = cleanPath(dockerfile);
      const ignore = (await context.readFile(`${dfPath}.dockerignore`)) ?? (await context.readFile('.dockerignore'));
      if (ignore) context.setIgnore(ignore.toString('utf8'));
      const prepared = await deps.builder.prepare({
        context,
        dockerfile: dfPath,
        buildArgs,
        labels,
        ...(q.get('target') ? { target: q.get('target')! } : {}),
        noCache: queryBool(q, 'nocache'),
        ...extra,
        rm: queryBool(q, 'rm', true) || queryBool(q, 'forcerm'),
        forceRm: queryBool(q, 'forcerm'),
        signal: controller.signal,
        out: (text) => {
          record?.output(text);
          if (!quiet) send({ stream: text });
        },
      });
      // Tells berth's CLI that `BERTH.digest` references were read (build/build-context.ts): another
      // engine would have taken them for empty files.
      ctx.res.writeHead(200, { 'Content-Type': 'application/json', 'Berth-Context-Refs': '1' });
      try {
        const id = await prepared.run().finally(() => void deps.builder.gc().catch((err: unknown) => ctx.log.warn({ err }, 'build cache GC failed')));
        for (const r of refs) deps.images.tag(id, familiarString(r));
        await record?.ok(id);
        if (quiet) send({ stream: `${id}\n` });
        else {
          send({ aux: { ID: id } });
          send({ stream: `Successfully built ${id.replace(/^sha256:/, '').slice(0, 12)}\n` });
          for (const r of refs) send({ stream: `Successfully tagged ${familiarString(r)}\n` });
        }
      } catch (err) {
        if (controller.signal.aborted) {
          await record?.failed('canceled: the client went away');
          return;
        }
        const message = (err as Error).message;
        await record?.failed(message);
        const detail: { message: string; code?: number } = { message };
        if (err instanceof BuildError && err.exitCode !== undefined) detail.code = err.exitCode;
        if (!(err instanceof InvalidParameterError)) ctx.log.error({ err }, 'build failed');
        send({ errorDetail: detail, error: message });
      }
      ctx.res.end();
    } catch (err) {
      // Refused before the first step (Dockerfile syntax, options): the client gets a status.
      await record?.failed((err as Error).message);
      throw err;
    } finally {
      await context.dispose();
    }
  });
}


/** Set to a non-default value, these legacy-builder options are refused (berth does not apply them to RUN). */
const REFUSED: Record<string, string> = {
  cpusetcpus: '--cpuset-cpus', cpusetmems: '--cpuset-mems', cpushares: '--cpu-shares', cpuquota: '--cpu-quota', cpuperiod: '--cpu-period',
  memory: '--memory', memswap: '--memory-swap', cgroupparent: '--cgroup-parent', squash: '--squash', isolation: '--isolation', remote: 'a remote context',
};

/** The build options beyond Dockerfile/tags/args, from the query and berth's headers. */
export function buildQueryOptions(q: URLSearchParams, header: (name: string) => string | undefined): Partial<BuildOptions> {
  for (const [k, flag] of Object.entries(REFUSED)) {
    const v = q.get(k);
    // cpuset values are CPU lists: only an empty one is the default ("0" is CPU 0).
    const defaults = k.startsWith('cpuset') ? [''] : ['', '0', 'false', 'none', 'null'];
    if (v !== null && !defaults.includes(v.toLowerCase()) && !(k === 'isolation' && v === 'default')) {
      throw new NotImplementedError(`build option ${flag} (${k}=${v}) is not supported by berth's builder`);
    }
  }
  const out: Partial<BuildOptions> = {};
  const nm = q.get('networkmode');
  // `bridge` is Docker's name for the default network of RUN steps; a user network's name puts
  // RUN steps on it, as the classic builder does (docker-py's test_build_with_network_mode).
  if (nm && nm !== 'default' && nm !== 'bridge') {
    if (/^container:/.test(nm)) throw new InvalidParameterError(`network mode "${nm}" not supported by the builder: use default, none, host or a network's name`);
    out.networkMode = nm;
  }
  // One comma-separated value (docker CLI) or the parameter repeated (docker-py).
  // `host=ip` (docker CLI 25+) is the same entry as `host:ip`.
  const eh = q.getAll('extrahosts').flatMap((v) => v.split(',')).map((h) => h.trim().replace(/^([^:=]+)=/, '$1:')).filter(Boolean);
  if (eh.length) {
    out.extraHosts = eh;
    for (const h of out.extraHosts) if (!/^[^:]+:.+$/.test(h)) throw new InvalidParameterError(`invalid add-host: ${h}: expected host:ip`);
  }
  const shm = q.get('shmsize');
  if (shm && shm !== '0') {
    if (!/^\d+$/.test(shm)) throw new InvalidParameterError(`invalid shmsize: ${shm}`);
    out.shmSize = Number(shm);
  }
  const ul = q.get('ulimits');
  if (ul && ul !== '[]' && ul !== 'null') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(ul);
    } catch (e) {
      throw new InvalidParameterError(`invalid ulimits value: ${(e as Error).message}`);
    }
    if (!Array.isArray(parsed)) throw new InvalidParameterError('invalid ulimits value: expected a list');
    out.ulimits = parsed.map((u: { Name?: unknown; Soft?: unknown; Hard?: unknown }) => {
      if (typeof u?.Name !== 'string' || typeof u.Soft !== 'number' || typeof u.Hard !== 'number') throw new InvalidParameterError('invalid ulimits value: expected {Name, Soft, Hard}');
      return { name: u.Name, soft: u.Soft, hard: u.Hard };
    });
  }
  const platform = q.get('platform');
  if (platform) out.platform = platform;
  const cacheFrom = jsonList(q, 'cachefrom');
  if (cacheFrom.length) out.cacheFrom = cacheFrom;
  const ncf = q.get('nocachefilter');
  if (ncf) out.noCacheFilter = ncf.split(',').filter(Boolean);
  const allow = q.getAll('allow').flatMap((a) => a.split(',')).filter(Boolean);
  for (const a of allow) if (a !== 'security.insecure' && a !== 'network.host') throw new InvalidParameterError(`invalid entitlement: ${a}`);
  if (allow.length) out.allow = allow;
  const bc = jsonQuery<Record<string, string>>(q, 'buildcontexts');
  if (bc) {
    for (const [name, v] of Object.entries(bc)) {
      if (typeof v !== 'string' || !v.startsWith('docker-image://')) throw new NotImplementedError(`--build-context ${name}=${String(v)}: berth takes only docker-image://IMAGE build contexts`);
    }
    out.buildContexts = bc;
  }
  const outputs = q.get('outputs');
  if (outputs && outputs !== '[]' && outputs !== 'null') throw new NotImplementedError('build outputs are not supported through the API by berth: berth build --output exports the built image on the client side');
  const decode = (name: string): Record<string, string> | undefined => {
    const h = header(name);
    if (!h) return undefined;
    try {
      const v: unknown = JSON.parse(Buffer.from(h, 'base64').toString('utf8'));
      if (v === null || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) throw new Error('expected an object of strings');
      return v as Record<string, string>;
    } catch (e) {
      throw new InvalidParameterError(`invalid ${name} header: ${(e as Error).message}`);
    }
  };
  const secrets = decode('berth-build-secrets');
  if (secrets) out.secrets = Object.fromEntries(Object.entries(secrets).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
  const ssh = decode('berth-build-ssh');
  if (ssh) out.ssh = ssh;
  return out;
}

function jsonList(q: URLSearchParams, name: string): string[] {
  const v = q.get(name);
  if (!v) return [];
  try {
    const parsed: unknown = JSON.parse(v);
    if (parsed === null) return [];
    if (!Array.isArray(parsed) || parsed.some((x) => typeof x !== 'string')) throw new Error('expected a list of strings');
    return parsed as string[];
  } catch (e) {
    throw new InvalidParameterError(`invalid ${name} value: ${(e as Error).message}`);
  }
}
