/**
 * Variable interpolation in compose files, as the compose specification (12-interpolation.md)
 * describes it: `$VAR`, `${VAR}`, `${VAR:-default}` / `${VAR-default}` (default when unset or
 * empty / when unset), `${VAR:?err}` / `${VAR?err}` (error), `${VAR:+alt}` / `${VAR+alt}`
 * (replacement when set), nested expressions in defaults, and `$$` for a literal `$`.
 * Pure: the environment comes in, warnings go out through a callback.
 */
import { ComposeFailure } from './errors.js';
import { OverrideMarker, ResetMarker } from './yaml-tags.js';

export class InterpolationError extends ComposeFailure {
  readonly code = 'BERTH_ERR_COMPOSE_INTERPOLATION';
  constructor(message: string) {
    super(message);
    this.name = 'InterpolationError';
  }
}

export interface InterpolateOptions {
  env: Record<string, string | undefined>;
  /** Called once per unset variable used without a default. */
  warn?: (name: string) => void;
  /** Where the string sits (`services.web.image`), for error messages. */
  path?: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Interpolates one string. Throws InterpolationError for a bad expression or a required variable. */
export function interpolateString(input: string, options: InterpolateOptions): string {
  let out = '';
  let i = 0;
  const bad = (): never => {
    throw new InterpolationError(`invalid interpolation format for ${options.path ?? 'value'}: ${JSON.stringify(input)}. You may need to escape any $ with another $`);
  };
  while (i < input.length) {
    const c = input[i]!;
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      // Find the matching brace, allowing nested ${...} in defaults.
      let depth = 1;
      let j = i + 2;
      for (; j < input.length && depth > 0; j++) {
        if (input[j] === '$' && input[j + 1] === '$') {
          j++;
          continue;
        }
        if (input[j] === '$' && input[j + 1] === '{') {
          depth++;
          j++;
        } else if (input[j] === '}') depth--;
      }
      if (depth !== 0) bad();
      const expr = input.slice(i + 2, j - 1);
      out += evaluate(expr, options, bad);
      i = j;
      continue;
    }
    const m = NAME.exec(input.slice(i + 1));
    if (!m) bad();
    out += lookup(m![0], options);
    i += 1 + m![0].length;
  }
  return out;
}

function lookup(name: string, options: InterpolateOptions): string {
  const v = options.env[name];
  if (v === undefined) {
    options.warn?.(name);
    return '';
  }
  return v;
}

function evaluate(expr: string, options: InterpolateOptions, bad: () => never): string {
  const m = NAME.exec(expr);
  if (!m) bad();
  const name = m![0];
  const rest = expr.slice(name.length);
  if (rest === '') return lookup(name, options);
  const op = /^(:?[-?+])/.exec(rest);
  if (!op) bad();
  const word = rest.slice(op![0].length);
  const value = options.env[name];
  const colon = op![0].startsWith(':');
  const set = colon ? value !== undefined && value !== '' : value !== undefined;
  const sub = (): string => interpolateString(word, options);
  switch (op![0].slice(-1)) {
    case '-':
      return set ? value! : sub();
    case '+':
      return set ? sub() : '';
    default: // '?'
      if (set) return value!;
      throw new InterpolationError(`required variable ${name} is missing a value${word ? `: ${sub()}` : ''}`);
  }
}

/**
 * Interpolates every string value in a parsed YAML tree (keys stay as they are), returning a
 * new tree. `path` tracks where a value sits for error messages.
 */
export function interpolateTree(node: unknown, options: InterpolateOptions, path = ''): unknown {
  if (typeof node === 'string') return interpolateString(node, { ...options, path: path || 'value' });
  if (Array.isArray(node)) return node.map((v, i) => interpolateTree(v, options, `${path}[${i}]`));
  if (node instanceof ResetMarker) return node;
  if (node instanceof OverrideMarker) return new OverrideMarker(interpolateTree(node.value, options, path));
  if (node && typeof node === 'object' && !(node instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) out[k] = interpolateTree(v, options, path ? `${path}.${k}` : k);
    return out;
  }
  return node;
}
