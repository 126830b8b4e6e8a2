import { Command, InvalidArgumentError, type Option } from 'commander';
import type { CliContext } from './context.js';
import { StatusError } from './errors.js';

/**
 * One CLI verb, loaded lazily by `main.ts` only when it is the command being run. The module
 * declares its flags on a commander `Command` (value placeholders name docker's flag types:
 * `<list>`, `<string>`, `<int>`) and runs with the parsed arguments, returning the exit code.
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
  configure(cmd: Command): void;
  run(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number>;
}

/** Collects a repeatable flag (`-e A -e B`) into an array. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Parses an integer flag with Go's strconv wording on failure. */
export function parseIntFlag(value: string): number {
  if (!/^[-+]?\d+$/.test(value.trim())) throw new InvalidArgumentError(`strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`);
  return Number(value);
}

/** Docker-style `--help` text for a command (cobra's usage template, without wrapping). */
export function helpText(prog: string, name: string, mod: CommandModule, cmd: Command): string {
  let out = `\nUsage:  ${prog} ${name}${mod.usage ? ` ${mod.usage}` : ''}\n\n${mod.description}\n`;
  if (mod.aliases?.length) out += `\nAliases:\n  ${[...mod.aliases, `${prog} ${name}`].join(', ')}\n`;
  const opts = (cmd.options as Option[]).filter((o) => !o.hidden);
  if (opts.length) {
    const left = opts.map((o) => {
      const type = /<(\w+)>/.exec(o.flags)?.[1];
      return `${o.short ? `  ${o.short}, ` : '      '}${o.long ?? ''}${type ? ` ${type}` : ''}`;
    });
    const width = Math.max(...left.map((l) => l.length)) + 3;
    out += '\nOptions:\n';
    opts.forEach((o, i) => {
      const dflt = o.defaultValue !== undefined && o.defaultValue !== false && !o.negate ? ` (default ${o.defaultValueDescription ?? JSON.stringify(o.defaultValue)})` : '';
      out += `${left[i]!.padEnd(width)}${o.description}${dflt}\n`;
    });
  }
  return out;
}

/** Rewrites `--flag=true`/`--flag=false` for boolean flags, which commander does not accept. */
function normaliseBooleans(cmd: Command, argv: string[], positionalStop: boolean): string[] {
  const out: string[] = [];
  const options = cmd.options as Option[];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^--([^=]+)=(true|false|1|0)$/i.exec(a);
    const opt = m && options.find((o) => o.long === `--${m[1]}`);
    if (m && opt && opt.isBoolean()) {
      if (/^(true|1)$/i.test(m[2]!)) out.push(`--${m[1]}`);
      continue;
    }
    out.push(a);
    if (positionalStop && !a.startsWith('-')) {
      out.push(...argv.slice(i + 1));
      break;
    }
    // Skip the value of an option that takes one, so it is never mistaken for a positional.
    const takes = options.find((o) => (o.long === a || o.short === a) && !o.isBoolean());
    if (takes && i + 1 < argv.length) out.push(argv[++i]!);
  }
  return out;
}

function flagError(prog: string, name: string, message: string): StatusError {
  return new StatusError(125, `${message}\nSee '${prog} ${name} --help'.`);
}

/**
 * Parses `argv` (after the verb) for `mod`; returns the positional arguments and options, or
 * throws StatusError with docker's wording (`unknown flag: --foo`, exit 125). `--help` prints
 * help to stdout and throws StatusError(0).
 */
export function parseCommand(ctx: CliContext, name: string, mod: CommandModule, argv: string[]): { args: string[]; opts: Record<string, unknown> } {
  const prog = ctx.prog;
  const cmd = new Command(name);
  cmd
    .helpOption('--help', 'Print usage')
    .argument('[args...]')
    .allowExcessArguments(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: () => {},
      outputError: () => {},
    });
  mod.configure(cmd);
  if (mod.positionalStop) cmd.passThroughOptions();
  cmd.helpInformation = () => helpText(prog, name, mod, cmd);
  let args: string[] = [];
  cmd.action((positional: string[]) => {
    args = positional;
  });
  try {
    cmd.parse(normaliseBooleans(cmd, argv, mod.positionalStop ?? false), { from: 'user' });
  } catch (err) {
    const e = err as { code?: string; message: string };
    switch (e.code) {
      case 'commander.helpDisplayed':
      case 'commander.help':
        throw new StatusError(0);
      case 'commander.unknownOption': {
        const flag = /'([^']+)'/.exec(e.message)?.[1] ?? '';
        if (flag.startsWith('--')) throw flagError(prog, name, `unknown flag: ${flag.split('=')[0]}`);
        throw flagError(prog, name, `unknown shorthand flag: '${flag.slice(1, 2)}' in ${flag}`);
      }
      case 'commander.optionMissingArgument': {
        const opt = (cmd.options as Option[]).find((o) => e.message.includes(`'${o.flags}'`));
        if (opt?.short && argv.includes(opt.short)) throw flagError(prog, name, `flag needs an argument: '${opt.short.slice(1)}' in ${opt.short}`);
        throw flagError(prog, name, `flag needs an argument: ${opt?.long ?? ''}`);
      }
      case 'commander.invalidArgument': {
        const m = /option '(.+?) <\w+>' argument '(.*)' is invalid\. (.*)$/s.exec(e.message);
        if (m) throw flagError(prog, name, `invalid argument "${m[2]}" for "${m[1]}" flag: ${m[3]}`);
        throw flagError(prog, name, e.message.replace(/^error: /, ''));
      }
      default:
        throw flagError(prog, name, e.message.replace(/^error: /, ''));
    }
  }
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
  return { args, opts: cmd.opts() };
}
