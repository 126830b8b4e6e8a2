/**
 * Command-line flags with docker's (spf13/pflag) rules: `--name value`, `--name=value`,
 * `-n value`, `-nvalue`, combined short booleans (`-it`), `--bool=false`, `--` ending flags,
 * flags interspersed with arguments except where a command stops at its first argument
 * (`run IMAGE CMD --flag` passes `--flag` to the container), and pflag's error wording.
 *
 * Written here instead of using commander: commander costs 12–17 ms of start-up on this
 * machine (measured; a third of the CLI's own time for `berth version`), and its rules differ
 * from docker's (`--rm=false`, error messages), which needed rewriting after the fact anyway.
 * The `option()` signature follows commander's so command modules read the same.
 */

/** A flag value the flag's parser rejected; `message` is the reason (Go's wording). */
export class FlagValueError extends Error {
  readonly code = 'BERTH_ERR_FLAG_VALUE';
  constructor(message: string) {
    super(message);
    this.name = 'FlagValueError';
  }
}

/** A usage error, worded as pflag's (`unknown flag: --foo`). */
export class FlagError extends Error {
  readonly code = 'BERTH_ERR_FLAG';
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

export type FlagParser = (value: string, previous: any) => unknown;

export interface FlagSpec {
  /** `-e`, or undefined. */
  short?: string;
  /** `--env` (for a negated flag, `--no-trunc`). */
  long: string;
  /** Placeholder naming docker's type (`list`, `string`, `int`), undefined for booleans. */
  type?: string;
  description: string;
  /** Key in the parsed options: camelCase of the long name (`--no-trunc` → `trunc`). */
  key: string;
  negate: boolean;
  defaultValue: unknown;
  parser?: FlagParser;
  /** The flag as pflag names it in errors: `-t, --timeout`. */
  flags: string;
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** One command's flags. */
export class FlagSet {
  readonly options: FlagSpec[] = [];
  #byLong = new Map<string, FlagSpec>();
  #byShort = new Map<string, FlagSpec>();

  /**
   * Declares a flag: `'-e, --env <list>'` takes a value, `'--rm'` is boolean, `'--no-trunc'`
   * sets `trunc` (default true) to false. The third argument is a parser or a default.
   */
  option(flags: string, description: string, parserOrDefault?: FlagParser | unknown, defaultValue?: unknown): this {
    const m = /^(?:-(\w), )?--([\w-]+)(?: <([\w-]+)>)?$/.exec(flags);
    if (!m) throw new Error(`bad flag definition: ${flags}`);
    const [, short, long, type] = m as unknown as [string, string | undefined, string, string | undefined];
    const negate = long.startsWith('no-') && !type;
    const parser = typeof parserOrDefault === 'function' ? (parserOrDefault as FlagParser) : undefined;
    let dflt = parser ? defaultValue : parserOrDefault;
    if (negate) dflt = true;
    const spec: FlagSpec = {
      short: short ? `-${short}` : undefined,
      long: `--${long}`,
      type,
      description,
      key: camel(negate ? long.slice(3) : long),
      negate,
      defaultValue: dflt,
      parser,
      flags: short ? `-${short}, --${long}` : `--${long}`,
    };
    this.options.push(spec);
    this.#byLong.set(long, spec);
    if (short) this.#byShort.set(short, spec);
    return this;
  }

  /**
   * Declares `--name` as a hidden spelling of `--target` (docker's `--net` for `--network`,
   * `--dns-opt` for `--dns-option`): same value, not listed in the help.
   */
  alias(name: string, target: string): this {
    const spec = this.#byLong.get(target.replace(/^--/, ''));
    if (!spec) throw new Error(`alias of an undeclared flag: ${target}`);
    this.#byLong.set(name.replace(/^--/, ''), spec);
    return this;
  }

  /**
   * Parses `argv`; returns the positional arguments and the option values. `stopAtFirstArg`
   * makes everything from the first positional on an argument (cobra's interspersed=false).
   * Throws FlagError; `--help` yields `{ help: true }`.
   */
  parse(argv: string[], options: { stopAtFirstArg?: boolean } = {}): { args: string[]; opts: Record<string, unknown>; help: boolean } {
    const opts: Record<string, unknown> = {};
    for (const o of this.options) if (o.defaultValue !== undefined) opts[o.key] = o.defaultValue;
    const args: string[] = [];
    let help = false;
    const set = (o: FlagSpec, value: string | undefined, shown: string): void => {
      if (!o.type) {
        let on = true;
        if (value !== undefined) {
          if (/^(1|t|T|true|TRUE|True)$/.test(value)) on = true;
          else if (/^(0|f|F|false|FALSE|False)$/.test(value)) on = false;
          else throw new FlagError(`invalid argument "${value}" for "${o.flags}" flag: strconv.ParseBool: parsing "${value}": invalid syntax`);
        }
        opts[o.key] = o.negate ? !on : on;
        return;
      }
      if (value === undefined) throw new FlagError(`flag needs an argument: ${shown}`);
      if (!o.parser) {
        opts[o.key] = value;
        return;
      }
      try {
        // The default is not the "previous" value of a list: `-e A` replaces nothing.
        const previous = opts[o.key] === o.defaultValue ? undefined : opts[o.key];
        opts[o.key] = o.parser(value, previous);
      } catch (err) {
        throw new FlagError(`invalid argument "${value}" for "${o.flags}" flag: ${(err as Error).message}`);
      }
    };
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === '--') {
        args.push(...argv.slice(i + 1));
        break;
      }
      if (a.startsWith('--')) {
        const eq = a.indexOf('=');
        const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
        if (name === 'help') {
          help = true;
          continue;
        }
        const o = this.#byLong.get(name);
        if (!o) throw new FlagError(`unknown flag: --${name}`);
        let value: string | undefined = eq >= 0 ? a.slice(eq + 1) : undefined;
        if (value === undefined && o.type && i + 1 < argv.length) value = argv[++i];
        set(o, value, `--${name}`);
        continue;
      }
      if (a.startsWith('-') && a.length > 1) {
        for (let j = 1; j < a.length; j++) {
          const c = a[j]!;
          const o = this.#byShort.get(c);
          if (!o) {
            if (c === 'h' && !this.#byShort.has('h')) {
              help = true;
              continue;
            }
            throw new FlagError(`unknown shorthand flag: '${c}' in ${a}`);
          }
          if (!o.type) {
            // `-t=false` as pflag allows.
            if (a[j + 1] === '=') {
              set(o, a.slice(j + 2), `'${c}' in ${a}`);
              break;
            }
            set(o, undefined, `'${c}' in ${a}`);
            continue;
          }
          let value: string | undefined = a.slice(j + 1).replace(/^=/, '');
          if (value === '') value = i + 1 < argv.length ? argv[++i] : undefined;
          set(o, value, `'${c}' in -${c}`);
          break;
        }
        continue;
      }
      args.push(a);
      if (options.stopAtFirstArg) {
        args.push(...argv.slice(i + 1));
        break;
      }
    }
    return { args, opts, help };
  }
}

/** Collects a repeatable flag (`-e A -e B`) into an array. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Parses an integer flag with Go's strconv wording on failure. */
export function parseIntFlag(value: string): number {
  if (!/^[-+]?\d+$/.test(value.trim())) throw new FlagValueError(`strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`);
  return Number(value);
}
