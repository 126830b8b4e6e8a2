/**
 * What the resource commands (`berth network …`, `berth volume …`, `berth image prune`)
 * share: `KEY=VALUE` flag lists, the prune confirmation prompt, `inspect` over several names
 * and the `ls` table/`--format` rendering (docker/cli `cli/command/{network,volume}/*`).
 */
import type { CommandModule } from './command.js';
import { StatusError } from './errors.js';

type Ctx = Parameters<CommandModule['run']>[0];
type Json = Record<string, any>;

/** `--label k=v`, `--opt k` (empty value); a leading `=` is refused as docker does. */
export function keyValues(list: string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const i = kv.indexOf('=');
    if (i === 0) throw new StatusError(125, `invalid argument "${kv}" for "--${flag}" flag: invalid key`);
    if (i < 0) out[kv] = '';
    else out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** Writes `QUESTION [y/N] ` and reads one line from stdin (end of input is "no"). */
export async function confirm(ctx: Ctx, question: string): Promise<boolean> {
  ctx.stdout.write(`${question} [y/N] `);
  const line = await new Promise<string>((resolve) => {
    let buf = '';
    const onData = (c: Buffer): void => {
      buf += c.toString();
      if (buf.includes('\n')) done();
    };
    const done = (): void => {
      ctx.stdin.off('data', onData);
      ctx.stdin.off('end', done);
      ctx.stdin.pause();
      resolve(buf);
    };
    ctx.stdin.on('data', onData);
    ctx.stdin.on('end', done);
  });
  return /^\s*y(es)?\s*$/i.test(line.split('\n')[0] ?? '');
}

/** docker's prune prompt: the warning, then "Are you sure you want to continue? [y/N] ". */
export function confirmPrune(ctx: Ctx, warning: string): Promise<boolean> {
  return confirm(ctx, `${warning}\nAre you sure you want to continue?`);
}

/**
 * `inspect NAME…`: GET `pathOf(name)` for each; a failure is printed and the rest still go.
 * Output is a JSON array (4-space indent, as docker) or one line per object for `--format`.
 * Returns the exit code (1 if any name failed).
 */
export async function inspectEach(ctx: Ctx, names: string[], pathOf: (name: string) => string, format: string | undefined): Promise<number> {
  const client = await ctx.client();
  const out: Json[] = [];
  let failed = false;
  for (const name of names) {
    try {
      out.push(await client.json<Json>('GET', pathOf(name)));
    } catch (err) {
      failed = true;
      ctx.stderr.write(`Error response from daemon: ${(err as Error).message}\n`);
    }
  }
  if (format && format !== 'json') {
    const { parseTemplate } = await import('./format/template.js');
    const t = parseTemplate(format.replace(/\\t/g, '\t').replace(/\\n/g, '\n'));
    for (const v of out) ctx.stdout.write(`${t.execute(v)}\n`);
    return failed ? 1 : 0;
  }
  ctx.stdout.write(`${JSON.stringify(out, null, 4)}\n`);
  return failed ? 1 : 0;
}

/** Labels as `ls` shows them: `k=v,k2=v2`. */
export function labelsText(labels: Record<string, string> | null | undefined): string {
  return Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** `ls` output: the default table, `table …`, `json` (one object a line) or a template. */
export async function writeList(ctx: Ctx, format: string | undefined, table: { defaultTable: string; headers: Record<string, string> }, rows: Json[]): Promise<void> {
  const { renderList } = await import('./format/formatter.js');
  ctx.stdout.write(renderList({ format: format === 'json' ? '{{json .}}' : format ?? '', defaultTable: table.defaultTable, headers: table.headers }, rows));
}
