/**
 * POST /build (Engine API `ImageBuild`): the build context arrives as a tar body; the answer
 * is Docker's JSON message stream: `{"stream":"Step 1/4 : FROM busybox\n"}` lines as the build
 * runs, `{"aux":{"ID":"sha256:…"}}` with the result, and `{"errorDetail":{…},"error":…}` when a
 * step fails. Problems found before the first step (bad query, unreadable context, Dockerfile
 * syntax) are a plain error status, as dockerd does.
 *
 * Query: t (repeated), dockerfile, buildargs (JSON), target, nocache, labels (JSON), q, rm,
 * forcerm, networkmode, extrahosts, cachefrom; remote contexts are not supported.
 */
import { InvalidParameterError, NotImplementedError } from '../../common/errors.js';
import type { Builder } from '../../build/builder.js';
import { BuildError } from '../../build/builder.js';
import { receiveContext, cleanPath, ContextBlobCache } from '../../build/context.js';
import { parseReference, withDefaultTag, familiarString } from '../../oci/reference.js';
import type { ImageService } from '../../image/image-service.js';
import { queryBool, type Router } from '../router.js';
import { contentTrustQuery } from './images.js';

export interface BuildRouteDeps {
  builder: Builder;
  images: ImageService;
  /** Where contexts are unpacked (`<data-root>/build/contexts`). */
  tmp: string;
  /** Pulls a missing `FROM` image through the signature policy; without it, FROM needs a local image. */
  pull?: (image: string, options: { requireSignature: boolean; signal?: AbortSignal }) => Promise<void>;
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
    // RUN steps' network and hosts, and the images cached steps may come from (Docker's
    // networkmode, extrahosts — repeated or comma-separated — and cachefrom, a JSON array).
    const networkMode = q.get('networkmode') || undefined;
    const extraHosts = q.getAll('extrahosts').flatMap((v) => v.split(',')).map((h) => h.trim()).filter(Boolean);
    for (const h of extraHosts) if (!/^[^:=\s]+[:=]\S+$/.test(h)) throw new InvalidParameterError(`invalid extra host: "${h}" (expected host:ip)`);
    const cacheFromRaw = q.get('cachefrom');
    let cacheFrom: string[] | undefined;
    if (cacheFromRaw) {
      try {
        cacheFrom = JSON.parse(cacheFromRaw) as string[];
      } catch (e) {
        throw new InvalidParameterError(`invalid cachefrom value: ${(e as Error).message}`);
      }
      if (!Array.isArray(cacheFrom) || !cacheFrom.every((x) => typeof x === 'string')) throw new InvalidParameterError('invalid cachefrom value: expected a JSON array of strings');
    }
    const dockerfile = q.get('dockerfile') || 'Dockerfile';
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
        ...(networkMode && networkMode !== 'default' ? { networkMode } : {}),
        ...(extraHosts.length ? { extraHosts: extraHosts.map((h) => h.replace('=', ':')) } : {}),
        ...(cacheFrom?.length ? { cacheFrom } : {}),
        rm: queryBool(q, 'rm', true) || queryBool(q, 'forcerm'),
        signal: controller.signal,
        out: (text) => {
          if (!quiet) send({ stream: text });
        },
        ...(deps.pull ? { pull: (image: string) => deps.pull!(image, { requireSignature: contentTrustQuery(q), signal: controller.signal }) } : {}),
      });
      // Tells berth's CLI that `BERTH.digest` references were read (context.ts): another
      // engine would have taken them for empty files.
      ctx.res.writeHead(200, { 'Content-Type': 'application/json', 'Berth-Context-Refs': '1' });
      try {
        const id = await prepared.run();
        for (const r of refs) deps.images.tag(id, familiarString(r));
        if (quiet) send({ stream: `${id}\n` });
        else {
          send({ aux: { ID: id } });
          send({ stream: `Successfully built ${id.replace(/^sha256:/, '').slice(0, 12)}\n` });
          for (const r of refs) send({ stream: `Successfully tagged ${familiarString(r)}\n` });
        }
      } catch (err) {
        if (controller.signal.aborted) return;
        const message = (err as Error).message;
        const detail: { message: string; code?: number } = { message };
        if (err instanceof BuildError && err.exitCode !== undefined) detail.code = err.exitCode;
        if (!(err instanceof InvalidParameterError)) ctx.log.error({ err }, 'build failed');
        send({ errorDetail: detail, error: message });
      }
      ctx.res.end();
    } finally {
      await context.dispose();
    }
  });
}

