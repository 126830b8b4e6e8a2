import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { InvalidParameterError, NoSuchContainerError, NotImplementedError } from '../../common/errors.js';
import { assertReadable } from '../../engine/logging/drivers.js';
import type { ContainerService, WaitCondition } from '../../engine/container-service.js';
import type { LogRecord } from '../../runtime/runtime.js';
import { encodeFrame, STDERR, STDOUT } from '../../wire/stdcopy.js';
import { inspectJson, specFromCreateRequest, summaryJson, hostUpdateFromRequest } from '../convert/containers.js';
import { statsJson } from '../convert/stats.js';
import { containerTop } from '../../engine/top.js';
import { compareVersions } from '../version.js';
import { Router, queryBool, queryFilters, queryInt, readJson, sendEmpty, sendJson } from '../router.js';
import { handleContainerAttach } from './attach.js';
import type { ContainerCreateResponse, ContainerWaitResponse } from '../../wire/api-types.js';

export interface ContainerRouteDeps {
  containers: ContainerService;
  /** Layer directories of an image, for GraphDriver in inspect. */
  lowerDirs(imageId: string): Promise<string[]>;
  /** (`?size=1`) SizeRw and SizeRootFs of a container, as in `GET /system/df`. */
  sizes?(rec: { id: string; imageId: string }): Promise<{ SizeRw: number; SizeRootFs: number }>;
}

/** Docker's `since`/`until`: seconds since the epoch, optionally fractional, or RFC 3339. */
export function parseTimestamp(v: string | null, name: string): Date | undefined {
  if (v === null || v === '' || v === '0') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return new Date(Number(v) * 1000);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidParameterError(`invalid value for ${name}: ${JSON.stringify(v)}`);
  return new Date(t);
}

export function registerContainerRoutes(router: Router, deps: ContainerRouteDeps): void {
  const { containers } = deps;

  router.post('/containers/create', async (ctx) => {
    const name = ctx.query.get('name') ?? undefined;
    const body = await readJson(ctx.req);
    const spec = specFromCreateRequest(body, name || undefined);
    const { id, warnings } = await containers.create(spec);
    const created: ContainerCreateResponse = { Id: id, Warnings: warnings };
    sendJson(ctx.res, 201, created);
  });

  router.get('/containers/json', async (ctx) => {
    const list = containers.list({
      all: queryBool(ctx.query, 'all'),
      limit: queryInt(ctx.query, 'limit'),
      filters: queryFilters(ctx.query),
    });
    const sizes = deps.sizes;
    if (!queryBool(ctx.query, 'size') || !sizes) return sendJson(ctx.res, 200, list.map(summaryJson));
    sendJson(ctx.res, 200, await Promise.all(list.map(async (r) => ({ ...(summaryJson(r) as object), ...(await sizes(r)) }))));
  });

  router.get('/containers/:id/json', async (ctx) => {
    const rec = containers.get(ctx.params.id!);
    sendJson(ctx.res, 200, inspectJson(rec, await deps.lowerDirs(rec.imageId).catch(() => [])));
  });

  router.post('/containers/:id/start', async (ctx) => {
    await containers.start(ctx.params.id!);
    sendEmpty(ctx.res, 204);
  });

  router.post('/containers/:id/stop', async (ctx) => {
    await containers.stop(ctx.params.id!, { timeout: queryInt(ctx.query, 't'), signal: ctx.query.get('signal') ?? undefined });
    sendEmpty(ctx.res, 204);
  });

  router.post('/containers/:id/restart', async (ctx) => {
    await containers.restart(ctx.params.id!, { timeout: queryInt(ctx.query, 't'), signal: ctx.query.get('signal') ?? undefined });
    sendEmpty(ctx.res, 204);
  });

  router.post('/containers/:id/kill', async (ctx) => {
    await containers.kill(ctx.params.id!, ctx.query.get('signal') || 'SIGKILL');
    sendEmpty(ctx.res, 204);
  });

  // Legacy links are named `/<parent>/<alias>`: removing one (link=1) keeps both containers.
  router.delete('/containers/:id/:link', async (ctx) => {
    if (!queryBool(ctx.query, 'link')) throw new NoSuchContainerError(`${ctx.params.id}/${ctx.params.link}`);
    containers.removeLink(ctx.params.id!, ctx.params.link!);
    sendEmpty(ctx.res, 204);
  });

  router.delete('/containers/:id', async (ctx) => {
    if (queryBool(ctx.query, 'link')) throw new InvalidParameterError(`Conflict, cannot remove the default link name of the container`);
    await containers.remove(ctx.params.id!, { force: queryBool(ctx.query, 'force'), volumes: queryBool(ctx.query, 'v') });
    sendEmpty(ctx.res, 204);
  });

  router.post('/containers/:id/wait', async (ctx) => {
    const condition = (ctx.query.get('condition') || 'not-running') as WaitCondition;
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) {
      throw new InvalidParameterError(`invalid condition: "${condition}"`);
    }
    const abort = new AbortController();
    ctx.res.on('close', () => abort.abort());
    // Resolve the container (404) before committing to a 200.
    containers.get(ctx.params.id!);
    const result = containers.wait(ctx.params.id!, condition, abort.signal);
    // Like dockerd: headers go out at once, the body when the condition is met.
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    ctx.res.flushHeaders();
    try {
      const r = await result;
      const waited: ContainerWaitResponse = { StatusCode: r.exitCode, Error: r.error ? { Message: r.error } : null };
      ctx.res.end(JSON.stringify(waited));
    } catch {
      ctx.res.destroy();
    }
  });

  router.get('/containers/:id/logs', async (ctx) => {
    const q = ctx.query;
    const stdout = queryBool(q, 'stdout');
    const stderr = queryBool(q, 'stderr');
    if (!stdout && !stderr) throw new InvalidParameterError('Bad parameters: you must choose at least one stream');
    const rec = containers.get(ctx.params.id!);
    assertReadable(rec.host.logConfig);
    const tailRaw = q.get('tail');
    const tail = tailRaw === null || tailRaw === '' || tailRaw === 'all' ? undefined : Number(tailRaw);
    if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new InvalidParameterError(`invalid value for tail: ${JSON.stringify(tailRaw)}`);
    if (!queryBool(q, 'follow')) await settleFreshRun(containers, rec.id);
    const abort = new AbortController();
    ctx.res.on('close', () => abort.abort());
    const records = containers.logs(rec.id, {
      follow: queryBool(q, 'follow'),
      tail,
      since: parseTimestamp(q.get('since'), 'since'),
      until: parseTimestamp(q.get('until'), 'until'),
      signal: abort.signal,
    });
    const tty = rec.config.tty ?? false;
    const contentType = tty || compareVersions(ctx.apiVersion, '1.42') < 0 ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream';
    ctx.res.writeHead(200, { 'Content-Type': contentType });
    ctx.res.flushHeaders();
    await pumpLogs(records, ctx.res, { stdout, stderr, timestamps: queryBool(q, 'timestamps'), tty }).catch(() => {});
    ctx.res.end();
  });

  router.post('/containers/:id/attach', (ctx) => handleContainerAttach(ctx, containers));

  router.post('/containers/:id/pause', async (ctx) => {
    await containers.pause(ctx.params.id!);
    sendEmpty(ctx.res, 204);
  });

  router.post('/containers/:id/unpause', async (ctx) => {
    await containers.unpause(ctx.params.id!);
    sendEmpty(ctx.res, 204);
  });

  router.post('/containers/:id/rename', (ctx) => {
    containers.rename(ctx.params.id!, ctx.query.get('name') ?? '');
    sendEmpty(ctx.res, 204);
  });

  router.post('/containers/:id/update', async (ctx) => {
    const body = await readJson(ctx.req);
    const warnings = await containers.update(ctx.params.id!, hostUpdateFromRequest(body));
    sendJson(ctx.res, 200, { Warnings: warnings });
  });

  router.get('/containers/:id/top', async (ctx) => {
    sendJson(ctx.res, 200, await containerTop(containers, ctx.params.id!, ctx.query.get('ps_args')));
  });

  router.get('/containers/:id/stats', async (ctx) => {
    const rec = containers.get(ctx.params.id!);
    const stream = queryBool(ctx.query, 'stream', true);
    const oneShot = queryBool(ctx.query, 'one-shot');
    let prev = oneShot ? undefined : await containers.stats(rec.id);
    if (!stream) {
      if (!oneShot) await new Promise((r) => setTimeout(r, 1000));
      const cur = await containers.stats(rec.id);
      sendJson(ctx.res, 200, statsJson(containers.get(rec.id), cur, prev));
      return;
    }
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    let open = true;
    ctx.res.on('close', () => (open = false));
    // One sample a second, as dockerd, until the client goes away.
    while (open) {
      await new Promise((r) => setTimeout(r, prev ? 1000 : 0));
      if (!open) break;
      let cur;
      try {
        cur = await containers.stats(rec.id);
      } catch {
        break; // the container was removed
      }
      ctx.res.write(JSON.stringify(statsJson(containers.get(rec.id), cur, prev)) + '\n');
      prev = cur;
    }
    ctx.res.end();
  });

  router.post('/containers/prune', async (ctx) => {
    // SpaceReclaimed: the writable layers of the containers removed (measured before removal).
    const sizes = deps.sizes;
    const before = new Map<string, number>();
    if (sizes) {
      for (const c of containers.list({ all: true })) {
        if (c.state.status === 'exited' || c.state.status === 'created' || c.state.status === 'dead') before.set(c.id, (await sizes(c).catch(() => ({ SizeRw: 0 }))).SizeRw);
      }
    }
    const r = await containers.prune(queryFilters(ctx.query));
    const reclaimed = r.reclaimed + r.deleted.reduce((n, id) => n + (before.get(id) ?? 0), 0);
    sendJson(ctx.res, 200, { ContainersDeleted: r.deleted, SpaceReclaimed: reclaimed });
  });
}

/** How long after a start a `logs` read waits for the run's first output (see settleFreshRun). */
const FRESH_RUN_MS = 250;

/**
 * `logs` (not followed) read within moments of a start: SDKs start a quick command and read its
 * log at once (docker-py's tests do), which dockerd's slower start happens to make work. Such a
 * read waits, at most until FRESH_RUN_MS after the start, for the first output or the exit.
 */
async function settleFreshRun(containers: ContainerService, id: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const rec = containers.get(id);
    const age = Date.now() - Date.parse(rec.state.startedAt);
    if (rec.state.status !== 'running' || !(age >= 0 && age < FRESH_RUN_MS)) return;
    const size = await stat(rec.logPath).then((s) => s.size, () => 0);
    if (size > 0) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Writes log records as multiplexed frames (or raw bytes for a TTY), honouring back-pressure. */
async function pumpLogs(
  records: AsyncIterable<LogRecord>,
  out: ServerResponse | Duplex,
  options: { stdout: boolean; stderr: boolean; timestamps: boolean; tty: boolean },
): Promise<void> {
  for await (const r of records) {
    if (r.stream === 'stdout' ? !options.stdout : !options.stderr) continue;
    let data = r.data;
    if (options.timestamps) data = Buffer.concat([Buffer.from(`${r.timeText} `), data]);
    const chunk = options.tty ? data : encodeFrame(r.stream === 'stdout' ? STDOUT : STDERR, data);
    if (!out.write(chunk)) {
      await new Promise<void>((resolve) => {
        out.once('drain', resolve);
        out.once('close', resolve);
      });
    }
    if (out.destroyed) return;
  }
}
