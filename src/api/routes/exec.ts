/**
 * Exec and TTY routes: POST /containers/{id}/exec, POST /exec/{id}/start (hijacked unless
 * Detach), POST /exec/{id}/resize, GET /exec/{id}/json, POST /containers/{id}/resize.
 */
import { ConflictError, InvalidParameterError } from '../../common/errors.js';
import type { ContainerService } from '../../engine/container-service.js';
import type { ExecConfig, ExecRecord, ExecService } from '../../engine/exec-service.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys, wireAttach } from '../../engine/attach.js';
import { encodeFrame, STDOUT } from '../../wire/stdcopy.js';
import { type Router, readJson, sendEmpty, sendJson, type RouteContext } from '../router.js';
import { MULTIPLEXED_STREAM, RAW_STREAM, outputWriter, readBodyMaybeUpgraded } from './attach.js';

export interface ExecRouteDeps {
  containers: ContainerService;
  execs: ExecService;
}

/** Docker's `h`/`w` query parameters: unsigned integers. */
function querySize(ctx: RouteContext): { height: number; width: number } {
  const parse = (name: string) => {
    const v = ctx.query.get(name) ?? '';
    if (!/^\d+$/.test(v) || Number(v) > 65535) throw new InvalidParameterError(`strconv.Atoi: parsing "${v}": invalid syntax`);
    return Number(v);
  };
  return { height: parse('h'), width: parse('w') };
}

function consoleSize(v: unknown): { height: number; width: number } | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((n) => Number.isInteger(n) && n >= 0)) throw new InvalidParameterError('ConsoleSize must be [height, width]');
  const [height, width] = v as [number, number];
  return height && width ? { height, width } : undefined;
}

function strings(v: unknown, name: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new InvalidParameterError(`${name} must be an array of strings`);
  return v as string[];
}

/**
 * Go's JSON decoding matches field names case-insensitively, and clients rely on it: docker-py
 * sends exec's `detachKeys` in lower camel case. The body's keys are folded onto Docker's names.
 */
function foldKeys(body: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    const name = names.find((n) => n.toLowerCase() === k.toLowerCase()) ?? k;
    if (!(name in out) || k === name) out[name] = v;
  }
  return out;
}

const EXEC_CONFIG_FIELDS = ['Cmd', 'Env', 'WorkingDir', 'User', 'Privileged', 'Tty', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'DetachKeys', 'ConsoleSize'] as const;

/** The exec create body (Docker's ExecConfig) → the engine's ExecConfig. */
export function execConfigFromRequest(body: Record<string, unknown>): ExecConfig {
  const b = foldKeys(body, EXEC_CONFIG_FIELDS);
  return {
    cmd: strings(b.Cmd, 'Cmd') ?? [],
    env: strings(b.Env, 'Env'),
    workingDir: typeof b.WorkingDir === 'string' ? b.WorkingDir : undefined,
    user: typeof b.User === 'string' ? b.User : undefined,
    privileged: b.Privileged === true,
    tty: b.Tty === true,
    attachStdin: b.AttachStdin === true,
    attachStdout: b.AttachStdout === true,
    attachStderr: b.AttachStderr === true,
    detachKeys: typeof b.DetachKeys === 'string' && b.DetachKeys !== '' ? b.DetachKeys : undefined,
    consoleSize: consoleSize(b.ConsoleSize),
  };
}

/** GET /exec/{id}/json, Docker's shape. */
export function execInspectJson(r: ExecRecord): Record<string, unknown> {
  const [entrypoint, ...args] = r.config.cmd;
  return {
    ID: r.id,
    Running: r.running,
    ExitCode: r.exitCode,
    ProcessConfig: { tty: r.config.tty ?? false, entrypoint: entrypoint ?? '', arguments: args, privileged: r.config.privileged ?? false, user: r.config.user ?? '' },
    OpenStdin: r.config.attachStdin ?? false,
    OpenStderr: r.config.attachStderr ?? false,
    OpenStdout: r.config.attachStdout ?? false,
    CanRemove: false,
    ContainerID: r.containerId,
    DetachKeys: r.config.detachKeys ?? '',
    Pid: r.pid,
  };
}

export function registerExecRoutes(router: Router, deps: ExecRouteDeps): void {
  const { containers, execs } = deps;

  router.post('/containers/:id/resize', async (ctx) => {
    const size = querySize(ctx);
    await containers.resize(ctx.params.id!, size);
    sendEmpty(ctx.res, 200);
  });

  router.post('/containers/:id/exec', async (ctx) => {
    const body = await readJson(ctx.req);
    const id = execs.create(ctx.params.id!, execConfigFromRequest(body));
    sendJson(ctx.res, 201, { Id: id });
  });

  router.get('/exec/:id/json', (ctx) => {
    sendJson(ctx.res, 200, execInspectJson(execs.get(ctx.params.id!)));
  });

  router.post('/exec/:id/resize', async (ctx) => {
    const size = querySize(ctx);
    await execs.resize(ctx.params.id!, size);
    sendEmpty(ctx.res, 200);
  });

  router.post('/exec/:id/start', async (ctx) => {
    const body = await readBodyMaybeUpgraded(ctx.req);
    const rec = execs.get(ctx.params.id!);
    const detach = body.Detach === true;
    const size = consoleSize(body.ConsoleSize);
    if (detach) {
      await execs.start(rec.id, { attach: false, tty: rec.config.tty ?? false, consoleSize: size });
      sendEmpty(ctx.res, 200);
      return;
    }
    const detachKeys = parseDetachKeys(rec.config.detachKeys || DEFAULT_DETACH_KEYS);
    // As dockerd: the terminal is the exec's (Tty at create); the start body's Tty only says
    // how the output is framed (raw, or stdout/stderr frames) — docker-py sends Tty=false for
    // a tty exec and reads frames.
    const ptty = rec.config.tty ?? false;
    const raw = typeof body.Tty === 'boolean' ? body.Tty : ptty;
    // Refusals (already started or running, container stopped) are still HTTP errors.
    if (rec.running) throw new ConflictError(`Error: Exec command ${rec.id} is already running`);
    if (rec.started) throw new ConflictError(`Error: Exec command ${rec.id} has already run`);
    const c = containers.get(rec.containerId);
    if (c.state.status !== 'running') throw new ConflictError(`Container ${c.id} is not running`);
    // The response head goes out before the process starts (dockerd's order), so a client that
    // reads the head and then the raw socket (docker-py) never finds output in its header buffer.
    const socket = ctx.hijack(raw ? RAW_STREAM : MULTIPLEXED_STREAM);
    socket.pause();
    let started;
    try {
      started = await execs.start(rec.id, { attach: true, tty: ptty, consoleSize: size });
    } catch (err) {
      // As dockerd: a process the runtime could not start (126/127 in the exec's inspect), or
      // any other failure once the stream is open, is reported on the stream.
      const msg = Buffer.from(`${(err as Error).message}\r\n`);
      socket.end(raw ? msg : encodeFrame(STDOUT, msg));
      return;
    }
    if (!started.stdio) {
      socket.end();
      return;
    }
    const how = await wireAttach({
      conn: started.stdio,
      input: socket,
      stdin: rec.config.attachStdin ?? false,
      tty: ptty,
      closeStdinOnEof: true,
      detachKeys,
      stdout: rec.config.attachStdout ?? false,
      stderr: rec.config.attachStderr ?? false,
      output: outputWriter(socket, raw),
    });
    // The monitor closes the stream just before it reports the exit code: wait for it, so a
    // client that inspects the exec as soon as the stream ends sees the code.
    if (how === 'exited') await Promise.race([started.exited, new Promise((r) => setTimeout(r, 5000).unref())]);
    socket.end();
  });
}
