/**
 * What the `berth compose` verbs share: the ComposeVerb shape, the project runner over the API
 * client, and following the services' logs (`up` without -d).
 */
import type { CommandModule } from '../../command.js';
import { StatusError } from '../../errors.js';
import type { FlagSet } from '../../flags.js';
import type { Project } from '../../../compose/model.js';
import { ComposeRunner, Reporter, type ProjectContainer } from '../../../compose/runner.js';
import { parseTimestamp } from '../../timestamp.js';
import type { ComposeSession } from './session.js';
import { LogPrinter } from '../compose-log-printer.js';

/** One `berth compose` subcommand: flags as a CommandModule, run with the session. */
export interface ComposeVerb extends CommandModule {
  runCompose(session: ComposeSession, args: string[], opts: Record<string, unknown>, argv: string[]): Promise<number>;
}

export function defineVerb(v: Omit<ComposeVerb, 'run'>): ComposeVerb {
  return { ...v, run: async () => 1 };
}

export function runner(session: ComposeSession, project: Project): Promise<ComposeRunner> {
  return session.ctx.client().then(
    (client) => new ComposeRunner(client, project, { hooks: session.hooks, reporter: new Reporter(session.ctx.stderr, !!(session.ctx.stderr as { isTTY?: boolean }).isTTY && session.globals.progress !== 'plain') }),
  );
}

export function parseScale(list: string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of list ?? []) {
    const m = /^([^=]+)=(\d+)$/.exec(s);
    if (!m) throw new StatusError(1, `invalid --scale value ${JSON.stringify(s)}: expected SERVICE=NUM`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** The log prefix: `web-1` for `<project>-web-1` (as Docker Compose v2), else the container name. */
export function logName(project: Project, c: ProjectContainer): string {
  const prefix = `${project.name}-`;
  return c.name.startsWith(prefix) && /-\d+$/.test(c.name) ? c.name.slice(prefix.length) : c.name;
}

export const has = (argv: string[], flag: string): boolean => argv.some((a) => a === flag || a === `${flag}=true`);

export async function attachLogs(session: ComposeSession, r: ComposeRunner, containers: ProjectContainer[], options: { since?: Record<string, string>; abortOnExit?: boolean; exitCodeFrom?: string; timeout?: number; services: string[] }): Promise<number> {
  const { ctx } = session;
  const printer = new LogPrinter(ctx.stdout, { color: session.color });
  const label = (c: ProjectContainer): string => logName(r.project, c);
  printer.register(containers.map(label));
  let stopping = 0;
  let stopped: Promise<void> = Promise.resolve();
  let aborted: { name: string; code: number } | undefined;
  const client = r.client;
  const unsubscribe = ctx.onSignal((sig) => {
    if (sig !== 'SIGINT' && sig !== 'SIGTERM') return;
    stopping++;
    if (stopping === 1) {
      ctx.stderr.write('Gracefully stopping... (press Ctrl+C again to force)\n');
      stopped = r.stop(options.services, options.timeout).catch((err: Error) => void ctx.stderr.write(`${err.message}\n`));
    } else {
      stopped = r.kill(options.services, 'SIGKILL').catch(() => {});
    }
  });
  try {
    const codes = new Map<string, number>();
    await Promise.all(
      containers.map(async (c) => {
        const info = await client.containerInspect(c.id);
        const tty = !!info.Config?.Tty;
        try {
          await printer.follow(client, c.id, label(c), { follow: true, since: options.since?.[c.id] }, tty);
        } catch (err) {
          if (stopping) return;
          throw err;
        }
        const st = (await client.containerInspect(c.id).catch(() => undefined))?.State;
        const code = st?.ExitCode ?? 0;
        codes.set(c.name, code);
        printer.status(label(c), `${label(c)} exited with code ${code}`);
        if (options.abortOnExit && !aborted && !stopping) {
          aborted = { name: c.name, code };
          stopping = 1;
          ctx.stderr.write('Aborting on container exit...\n');
          await r.stop(options.services, options.timeout);
        }
      }),
    );
    await stopped;
    if (options.exitCodeFrom) {
      const c = containers.find((x) => x.service === options.exitCodeFrom);
      return c ? codes.get(c.name) ?? 0 : 0;
    }
    if (aborted) return aborted.code;
    return stopping ? 130 : 0;
  } finally {
    unsubscribe();
  }
}

export function relTime(v: string | undefined, now: number, flag = 'since'): string | undefined {
  return v ? parseTimestamp(v, now, flag) : undefined;
}

export function simple(description: string, usage: string, configure: (f: FlagSet) => void, act: (r: ComposeRunner, args: string[], o: Record<string, unknown>) => Promise<void>): ComposeVerb {
  return defineVerb({
    usage,
    description,
    configure,
    async runCompose(session, args, opts) {
      const r = await runner(session, session.load(args));
      await act(r, args, opts);
      return 0;
    },
  });
}
