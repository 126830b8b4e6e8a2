import type { Invocation } from './invocation.js';
import { StatusError } from './errors.js';
import { FlagError, FlagSet } from './flags.js';

export { collect, parseIntFlag } from './flags.js';

/**
 * One CLI verb, loaded lazily by `main.ts` only when it is the command being run. The module
 * declares its flags on a FlagSet (value placeholders name docker's flag types: `<list>`,
 * `<string>`, `<int>`) and runs with the parsed arguments, returning the exit code.
 */
export interface CommandModule {
  /** Usage after the verb: `[OPTIONS] IMAGE [COMMAND] [ARG...]`. */
  usage: string;
  description: string;
  aliases?: string[];
  /** Argument count rule, checked with docker's wording. */
  args?: { min?: number; max?: number; exact?: number };
  /** Options after the first argument belong to the container command (`run`, `create`). */
  positionalStop?: boolean;
  configure(flags: FlagSet): void;
  run(ctx: Invocation, args: string[], opts: Record<string, unknown>): Promise<number>;
}

/** Docker-style `--help` text for a command (cobra's usage template, without wrapping). */
export function helpText(prog: string, name: string, mod: CommandModule, flags: FlagSet, verb = name): string {
  let out = `\nUsage:  ${prog} ${name}${mod.usage ? ` ${mod.usage}` : ''}\n\n${mod.description}\n`;
  // The management forms, then the top-level verb (not for internal names such as container-prune).
  const aliases = [...new Set([...(mod.aliases ?? []), ...(verb.includes('-') ? [] : [`${prog} ${verb}`])])];
  if (mod.aliases?.length && aliases.length > 1) out += `\nAliases:\n  ${aliases.join(', ')}\n`;
  // pflag lists flags sorted by name; `--help` is listed where `-h` means something else.
  const opts = [...flags.options];
  if (opts.some((o) => o.short === '-h')) opts.push({ long: '--help', description: 'Print usage', key: 'help', negate: false, defaultValue: undefined, flags: '--help' });
  opts.sort((a, b) => (a.long < b.long ? -1 : a.long > b.long ? 1 : 0));
  if (opts.length) {
    const left = opts.map((o) => `${o.short ? `  ${o.short}, ` : '      '}${o.long}${o.type ? ` ${o.type}` : ''}`);
    const width = Math.max(...left.map((l) => l.length)) + 3;
    out += '\nOptions:\n';
    opts.forEach((o, i) => {
      const d = o.defaultValue;
      const dflt = d !== undefined && d !== false && !o.negate ? ` (default ${typeof d === 'string' ? JSON.stringify(d) : String(d)})` : '';
      out += `${left[i]!.padEnd(width)}${o.description}${dflt}\n`;
    });
  }
  return out;
}

/**
 * Parses `argv` (after the verb) for `mod`; returns the positional arguments and options, or
 * throws StatusError with docker's wording (`unknown flag: --foo`, exit 125). `--help` prints
 * help to stdout and throws StatusError(0).
 */
export function parseCommand(ctx: Invocation, name: string, mod: CommandModule, argv: string[], verb = name): { args: string[]; opts: Record<string, unknown> } {
  const prog = ctx.prog;
  const flags = new FlagSet();
  mod.configure(flags);
  let parsed;
  try {
    parsed = flags.parse(argv, { stopAtFirstArg: mod.positionalStop });
  } catch (err) {
    if (err instanceof FlagError) throw new StatusError(125, `${err.message}\nSee '${prog} ${name} --help'.`);
    throw err;
  }
  if (parsed.help) {
    ctx.stdout.write(helpText(prog, name, mod, flags, verb));
    throw new StatusError(0);
  }
  const { args, opts } = parsed;
  const rule = mod.args;
  if (rule) {
    const n = args.length;
    let problem: string | undefined;
    if (rule.exact !== undefined && n !== rule.exact) problem = `requires exactly ${rule.exact} argument${rule.exact === 1 ? '' : 's'}`;
    else if (rule.min !== undefined && n < rule.min) problem = `requires at least ${rule.min} argument${rule.min === 1 ? '' : 's'}`;
    else if (rule.max !== undefined && n > rule.max) problem = rule.max === 0 ? 'accepts no arguments' : `accepts at most ${rule.max} argument${rule.max === 1 ? '' : 's'}`;
    if (problem) {
      throw new StatusError(
        1,
        `"${prog} ${name}" ${problem}.\nSee '${prog} ${name} --help'.\n\nUsage:  ${prog} ${name}${mod.usage ? ` ${mod.usage}` : ''}\n\n${mod.description}`,
      );
    }
  }
  return { args, opts };
}
