/**
 * A subset of Go's text/template, for Docker's `--format` flags.
 *
 * Hand-written because no maintained npm package implements Go template syntax (the ones that
 * exist are Handlebars/Mustache dialects or abandoned partial ports); Docker users' format
 * strings are Go templates, so berth must read them as Go does.
 *
 * One file (over 800 lines) on purpose: the lexer, parser and evaluator share the node types
 * and Go's exact semantics of truth, printing and errors, and are only ever used together.
 *
 * Supported: text and `{{pipeline}}` actions with `{{-`/`-}}` trimming and comments; `.`,
 * field chains (`.State.Status`, `$x.Y`, `(…).Z`), methods with arguments on formatter
 * row views (`.Label "k"`); variables (`$`, `$x := …`, `$x = …`); string, raw string, number,
 * bool and nil literals; pipelines with `|`; `if`/`else if`/`else`, `range` (with `$i, $v :=`)
 * and `with`, each with `else`, closed by `end`. Functions: Go's `and or not len index print
 * printf println eq ne lt le gt ge` and Docker's `json join split lower upper title pad
 * truncate`. Not supported: `define`/`template`/`block`, `break`/`continue`.
 *
 * Data model: JSON-like values are Go maps (a missing key is `<no value>`); objects carrying
 * `GO_TYPE` are Go structs (an unknown field is an error naming that type), as Docker's
 * formatter contexts are.
 *
 * Over 800 lines (issue 20): lexer, parser and evaluator of one small language kept together,
 * as Go's text/template/parse is; they share the node types and error wording, and nothing
 * else in berth uses any of them alone.
 */

/** Marks an object as a Go struct for field lookup errors and printing. */
export const GO_TYPE = Symbol.for('berth.goType');

/** A parse or execution error, worded like Go's (`template: :1: unclosed action`). */
export class TemplateError extends Error {
  readonly code: string;
  constructor(message: string, readonly phase: 'parse' | 'exec') {
    super(message);
    this.name = 'TemplateError';
    this.code = phase === 'parse' ? 'BERTH_ERR_TEMPLATE_PARSE' : 'BERTH_ERR_TEMPLATE_EXEC';
  }
}

export type TemplateFunc = (...args: unknown[]) => unknown;

// ---------------------------------------------------------------------------------------
// Lexing

type Tok =
  | { t: 'field'; names: string[]; pos: number }
  | { t: 'var'; name: string; names: string[]; pos: number }
  | { t: 'dot'; pos: number }
  | { t: 'ident'; v: string; pos: number }
  | { t: 'string'; v: string; pos: number }
  | { t: 'number'; v: number; pos: number }
  | { t: 'chain'; names: string[]; pos: number }
  | { t: 'op'; v: '(' | ')' | '|' | ':=' | '=' | ','; pos: number };

type Piece = { kind: 'text'; text: string } | { kind: 'action'; toks: Tok[]; pos: number; src: string };

function lineOf(src: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos && i < src.length; i++) if (src[i] === '\n') line++;
  return line;
}

function lex(src: string, name: string): Piece[] {
  const pieces: Piece[] = [];
  const fail = (pos: number, msg: string): never => {
    throw new TemplateError(`template: ${name}:${lineOf(src, pos)}: ${msg}`, 'parse');
  };
  let i = 0;
  let trimNext = false;
  while (i <= src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open < 0) {
      if (text) pieces.push({ kind: 'text', text });
      break;
    }
    let p = open + 2;
    if (src[p] === '-' && /\s/.test(src[p + 1] ?? '')) {
      text = text.replace(/\s+$/, '');
      p += 2;
    }
    if (text) pieces.push({ kind: 'text', text });
    // Comment: {{/* ... */}}
    const afterSpace = src.slice(p).match(/^\s*/)![0].length;
    if (src.startsWith('/*', p + afterSpace)) {
      const endC = src.indexOf('*/', p + afterSpace + 2);
      if (endC < 0) fail(open, 'unclosed comment');
      let q = endC + 2;
      const trail = src.slice(q).match(/^\s*/)![0];
      if (src.startsWith('-}}', q + trail.length) && trail.length > 0) {
        trimNext = true;
        q += trail.length + 3;
      } else if (src.startsWith('}}', q)) {
        q += 2;
      } else fail(open, 'comment ends before closing delimiter');
      i = q;
      continue;
    }
    const toks: Tok[] = [];
    let closed = false;
    while (p < src.length) {
      const c = src[p]!;
      if (src.startsWith('}}', p)) {
        p += 2;
        closed = true;
        break;
      }
      if (c === ' ' && src.startsWith(' -}}', p)) {
        trimNext = true;
        p += 4;
        closed = true;
        break;
      }
      if (/\s/.test(c)) {
        if (c === '\n' || c === '\r') {
          // Go allows newlines inside actions since 1.16; keep going.
        }
        p++;
        continue;
      }
      const start = p;
      if (c === '"') {
        let q = p + 1;
        while (q < src.length && src[q] !== '"') {
          if (src[q] === '\\') q++;
          if (src[q] === '\n') fail(start, 'unterminated quoted string');
          q++;
        }
        if (q >= src.length) fail(start, 'unterminated quoted string');
        toks.push({ t: 'string', v: unquote(src.slice(p, q + 1), () => fail(start, `bad string syntax`)), pos: start });
        p = q + 1;
        continue;
      }
      if (c === '`') {
        const q = src.indexOf('`', p + 1);
        if (q < 0) fail(start, 'unterminated raw quoted string');
        toks.push({ t: 'string', v: src.slice(p + 1, q), pos: start });
        p = q + 1;
        continue;
      }
      if (c === "'") {
        const m = /^'(\\.|[^'\\])'/.exec(src.slice(p));
        if (!m) fail(start, 'unterminated character constant');
        const ch = m![1]!.length === 2 ? unquote(`"${m![1]}"`, () => fail(start, 'bad character constant')) : m![1]!;
        toks.push({ t: 'number', v: ch.codePointAt(0)!, pos: start });
        p += m![0].length;
        continue;
      }
      if (c === '(' || c === ')' || c === '|' || c === ',') {
        toks.push({ t: 'op', v: c, pos: start });
        p++;
        if (c === ')') {
          const m = /^(\.[A-Za-z_]\w*)+/.exec(src.slice(p));
          if (m) {
            toks.push({ t: 'chain', names: m[0].slice(1).split('.'), pos: p });
            p += m[0].length;
          }
        }
        continue;
      }
      if (src.startsWith(':=', p)) {
        toks.push({ t: 'op', v: ':=', pos: start });
        p += 2;
        continue;
      }
      if (c === '=') {
        toks.push({ t: 'op', v: '=', pos: start });
        p++;
        continue;
      }
      if (c === '$') {
        const m = /^\$\w*((\.[A-Za-z_]\w*)*)/.exec(src.slice(p))!;
        const [head] = /^\$\w*/.exec(m[0])!;
        toks.push({ t: 'var', name: head, names: m[1] ? m[1].slice(1).split('.') : [], pos: start });
        p += m[0].length;
        continue;
      }
      if (c === '.') {
        const m = /^(\.[A-Za-z_]\w*)+/.exec(src.slice(p));
        if (m) {
          toks.push({ t: 'field', names: m[0].slice(1).split('.'), pos: start });
          p += m[0].length;
        } else if (/\d/.test(src[p + 1] ?? '')) {
          const n = /^\.\d+([eE][-+]?\d+)?/.exec(src.slice(p))!;
          toks.push({ t: 'number', v: Number(n[0]), pos: start });
          p += n[0].length;
        } else {
          toks.push({ t: 'dot', pos: start });
          p++;
        }
        continue;
      }
      const num = /^[-+]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(\d[\d_]*)?\.?\d*([eE][-+]?\d+)?)/.exec(src.slice(p));
      if (num && num[0] && /\d/.test(num[0])) {
        const text = num[0].replace(/_/g, '');
        let v: number;
        if (/^[-+]?0[oO]/.test(text)) v = Number(text.replace(/0[oO]/, '0o'));
        else v = Number(text);
        if (Number.isNaN(v)) fail(start, `bad number syntax: "${num[0]}"`);
        toks.push({ t: 'number', v, pos: start });
        p += num[0].length;
        continue;
      }
      const id = /^[A-Za-z_]\w*/.exec(src.slice(p));
      if (id) {
        toks.push({ t: 'ident', v: id[0], pos: start });
        p += id[0].length;
        continue;
      }
      fail(start, `unexpected "${c}" in command`);
    }
    if (!closed) fail(open, 'unclosed action');
    pieces.push({ kind: 'action', toks, pos: open, src: src.slice(open, p) });
    i = p;
  }
  return pieces;
}

function unquote(quoted: string, onError: () => never): string {
  // Go escapes that JSON lacks: \a \v \' \xNN \NNN (octal) \UNNNNNNNN.
  const body = quoted
    .slice(1, -1)
    .replace(/\\(a|v|'|x[0-9a-fA-F]{2}|[0-7]{3}|U[0-9a-fA-F]{8})/g, (_m, e: string) => {
      let code: number;
      if (e === 'a') code = 7;
      else if (e === 'v') code = 11;
      else if (e === "'") code = 39;
      else if (e[0] === 'x') code = parseInt(e.slice(1), 16);
      else if (e[0] === 'U') code = parseInt(e.slice(1), 16);
      else code = parseInt(e, 8);
      const ch = String.fromCodePoint(code);
      return ch === '"' || ch === '\\' ? `\\${ch}` : JSON.stringify(ch).slice(1, -1);
    });
  try {
    return JSON.parse(`"${body}"`) as string;
  } catch {
    return onError();
  }
}

// ---------------------------------------------------------------------------------------
// Parsing

type Arg =
  | { k: 'field'; names: string[]; pos: number }
  | { k: 'var'; name: string; names: string[]; pos: number }
  | { k: 'dot'; pos: number }
  | { k: 'func'; name: string; pos: number }
  | { k: 'lit'; v: unknown; pos: number }
  | { k: 'pipe'; pipe: Pipeline; names: string[]; pos: number };

interface Command {
  args: Arg[];
}
interface Pipeline {
  decl: string[];
  assign: boolean;
  cmds: Command[];
  pos: number;
}
type Node =
  | { k: 'text'; text: string }
  | { k: 'action'; pipe: Pipeline }
  | { k: 'if' | 'with' | 'range'; pipe: Pipeline; list: Node[]; elseList: Node[] | undefined };

const BUILTIN_NAMES = new Set(['and', 'or', 'not', 'len', 'index', 'print', 'printf', 'println', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'slice', 'call', 'html', 'js', 'urlquery']);

class Parser {
  #pieces: Piece[];
  #i = 0;
  #src: string;
  #name: string;
  #funcs: Set<string>;
  constructor(pieces: Piece[], src: string, name: string, funcs: Set<string>) {
    this.#pieces = pieces;
    this.#src = src;
    this.#name = name;
    this.#funcs = funcs;
  }

  fail(pos: number, msg: string): never {
    throw new TemplateError(`template: ${this.#name}:${lineOf(this.#src, pos)}: ${msg}`, 'parse');
  }

  parse(): Node[] {
    const { list, end } = this.#list(new Set());
    if (end) this.fail(end.pos, `unexpected ${end.word === 'else' ? '{{else}}' : '{{end}}'}`);
    return list;
  }

  /** Parses nodes until `{{end}}` or `{{else…}}`; returns which one stopped it. */
  #list(stops: Set<string>): { list: Node[]; end?: { word: 'end' | 'else'; piece: Piece & { kind: 'action' }; pos: number } } {
    const list: Node[] = [];
    while (this.#i < this.#pieces.length) {
      const piece = this.#pieces[this.#i++]!;
      if (piece.kind === 'text') {
        list.push({ k: 'text', text: piece.text });
        continue;
      }
      const first = piece.toks[0];
      if (!first) this.fail(piece.pos, 'missing value for command');
      if (first.t === 'ident') {
        switch (first.v) {
          case 'end':
          case 'else':
            if (!stops.has(first.v)) this.fail(piece.pos, `unexpected {{${first.v}}}`);
            return { list, end: { word: first.v, piece, pos: piece.pos } };
          case 'if':
          case 'with':
          case 'range':
            list.push(this.#control(first.v, piece.toks.slice(1), piece.pos));
            continue;
          case 'define':
          case 'template':
          case 'block':
          case 'break':
          case 'continue':
            this.fail(piece.pos, `{{${first.v}}} is not supported`);
        }
      }
      list.push({ k: 'action', pipe: this.#pipeline(piece.toks, piece.pos, 'command') });
    }
    return { list };
  }

  #control(kind: 'if' | 'with' | 'range', toks: Tok[], pos: number): Node {
    const pipe = this.#pipeline(toks, pos, kind);
    const body = this.#list(new Set(['end', 'else']));
    if (!body.end) this.fail(pos, `unexpected EOF`);
    let elseList: Node[] | undefined;
    if (body.end.word === 'else') {
      const rest = body.end.piece.toks.slice(1);
      if (rest.length > 0) {
        // {{else if …}} / {{else with …}}: a nested control that consumes the same {{end}}.
        const head = rest[0]!;
        if (head.t !== 'ident' || (head.v !== 'if' && head.v !== 'with')) this.fail(body.end.pos, 'unexpected token in else');
        elseList = [this.#control(head.v as 'if' | 'with', rest.slice(1), body.end.pos)];
      } else {
        const tail = this.#list(new Set(['end']));
        if (!tail.end) this.fail(pos, 'unexpected EOF');
        if (tail.end.piece.toks.length > 1) this.fail(tail.end.pos, 'unexpected token in end');
        elseList = tail.list;
      }
    } else if (body.end.piece.toks.length > 1) {
      this.fail(body.end.pos, 'unexpected token in end');
    }
    return { k: kind, pipe, list: body.list, elseList };
  }

  #pipeline(toks: Tok[], pos: number, context: string): Pipeline {
    let decl: string[] = [];
    let assign = false;
    // Declarations: `$x :=`, `$x =`, `$i, $v :=` (range).
    const declEnd = toks.findIndex((t) => t.t === 'op' && (t.v === ':=' || t.v === '='));
    if (declEnd > 0 && toks.slice(0, declEnd).every((t) => t.t === 'var' || (t.t === 'op' && t.v === ','))) {
      decl = toks.slice(0, declEnd).filter((t): t is Tok & { t: 'var' } => t.t === 'var').map((t) => t.name);
      assign = (toks[declEnd] as { v: string }).v === '=';
      if (decl.length > (context === 'range' ? 2 : 1)) this.fail(pos, 'too many declarations in command');
      toks = toks.slice(declEnd + 1);
    }
    if (toks.length === 0) this.fail(pos, `missing value for ${context}`);
    const cmds: Command[] = [];
    let j = 0;
    const parseOperand = (): Arg | undefined => {
      const t = toks[j];
      if (!t) return undefined;
      switch (t.t) {
        case 'field':
          j++;
          return { k: 'field', names: t.names, pos: t.pos };
        case 'var':
          j++;
          return { k: 'var', name: t.name, names: t.names, pos: t.pos };
        case 'dot':
          j++;
          return { k: 'dot', pos: t.pos };
        case 'string':
        case 'number':
          j++;
          return { k: 'lit', v: t.v, pos: t.pos };
        case 'ident': {
          j++;
          if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true', pos: t.pos };
          if (t.v === 'nil') return { k: 'lit', v: null, pos: t.pos };
          if (!this.#funcs.has(t.v) && !BUILTIN_NAMES.has(t.v)) this.fail(t.pos, `function "${t.v}" not defined`);
          return { k: 'func', name: t.v, pos: t.pos };
        }
        case 'op':
          if (t.v === '(') {
            j++;
            let depth = 1;
            const startJ = j;
            while (j < toks.length) {
              const u = toks[j]!;
              if (u.t === 'op' && u.v === '(') depth++;
              if (u.t === 'op' && u.v === ')' && --depth === 0) break;
              j++;
            }
            if (j >= toks.length) this.fail(t.pos, 'unclosed left paren');
            const inner = this.#pipeline(toks.slice(startJ, j), t.pos, 'parenthesized pipeline');
            j++;
            let names: string[] = [];
            const next = toks[j];
            if (next && next.t === 'chain') {
              names = next.names;
              j++;
            }
            return { k: 'pipe', pipe: inner, names, pos: t.pos };
          }
          return undefined;
        default:
          this.fail(t.pos, 'unexpected token');
      }
    };
    while (j < toks.length) {
      const args: Arg[] = [];
      while (j < toks.length) {
        const t = toks[j]!;
        if (t.t === 'op' && t.v === '|') break;
        if (t.t === 'op' && t.v !== '(') this.fail(t.pos, `unexpected "${t.v}" in operand`);
        const a = parseOperand();
        if (!a) break;
        args.push(a);
      }
      if (args.length === 0) this.fail(pos, 'missing value for command');
      const head = args[0]!;
      if (args.length > 1 && (head.k === 'lit' || head.k === 'dot' || (head.k === 'var' && head.names.length === 0) || (head.k === 'pipe' && head.names.length === 0))) {
        this.fail(pos, `can't give argument to non-function ${describeArg(head)}`);
      }
      cmds.push({ args });
      if (j < toks.length) {
        j++; // '|'
        if (j >= toks.length) this.fail(pos, 'missing command after |');
      }
    }
    for (const cmd of cmds.slice(1)) {
      const h = cmd.args[0]!;
      if (h.k === 'lit' || h.k === 'dot') this.fail(pos, `non executable command in pipeline stage ${cmds.indexOf(cmd) + 1}`);
    }
    return { decl, assign, cmds, pos };
  }
}

function describeArg(a: Arg): string {
  switch (a.k) {
    case 'lit':
      return typeof a.v === 'string' ? JSON.stringify(a.v) : String(a.v);
    case 'dot':
      return '.';
    case 'var':
      return a.name;
    default:
      return a.k;
  }
}

// ---------------------------------------------------------------------------------------
// Values, printing and functions

function typeName(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'object' && GO_TYPE in v) return String((v as Record<symbol, unknown>)[GO_TYPE]);
  if (Array.isArray(v)) return '[]interface {}';
  if (typeof v === 'object') return 'map[string]interface {}';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  return typeof v;
}

function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  // Go's %v for float64 is %g with the shortest representation: 1e+21, 1.5e-07.
  const s = String(n);
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

/** Formats a value as Go's fmt `%v` would for JSON-decoded data. */
export function goString(v: unknown, top = true): string {
  if (v === undefined) return top ? '<no value>' : '<nil>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'function') return '<func>';
  if (Array.isArray(v)) return `[${v.map((x) => goString(x, false)).join(' ')}]`;
  if (typeof v === 'object') {
    if (GO_TYPE in v) {
      const json = (v as { toJSON?: () => unknown }).toJSON?.();
      if (json && typeof json === 'object') return `{${Object.values(json).map((x) => goString(x, false)).join(' ')}}`;
      return `{}`;
    }
    const keys = Object.keys(v).sort();
    return `map[${keys.map((k) => `${k}:${goString((v as Record<string, unknown>)[k], false)}`).join(' ')}]`;
  }
  return String(v);
}

function truth(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object' && !(GO_TYPE in v)) return Object.keys(v).length > 0;
  return true;
}

/** Go's fmt.Sprint: a space between operands when neither side is a string. */
function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += goString(a);
  });
  return out;
}

/** A small fmt.Sprintf: verbs v s d q t f g x with flags `-`, `0`, `+` and width/precision. */
function sprintf(format: string, args: unknown[]): string {
  let n = 0;
  return format.replace(/%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g, (_m, flags: string, width: string | undefined, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    if (n >= args.length) return `%!${verb}(MISSING)`;
    const a = args[n++];
    let s: string;
    switch (verb) {
      case 'v':
      case 's':
        s = goString(a);
        if (prec !== undefined && verb === 's') s = [...s].slice(0, Number(prec)).join('');
        break;
      case 'q':
        s = JSON.stringify(goString(a));
        break;
      case 'd':
        s = typeof a === 'number' ? String(Math.trunc(a)) : `%!d(${typeName(a)}=${goString(a)})`;
        if (flags.includes('+') && typeof a === 'number' && a >= 0) s = `+${s}`;
        break;
      case 'f':
        s = typeof a === 'number' ? a.toFixed(prec === undefined ? 6 : Number(prec)) : `%!f(${typeName(a)}=${goString(a)})`;
        break;
      case 'g':
        s = typeof a === 'number' ? formatNumber(prec === undefined ? a : Number(a.toPrecision(Number(prec)))) : `%!g(${typeName(a)}=${goString(a)})`;
        break;
      case 'x':
        s = typeof a === 'number' ? Math.trunc(a).toString(16) : Buffer.from(goString(a)).toString('hex');
        break;
      case 't':
        s = typeof a === 'boolean' ? String(a) : `%!t(${typeName(a)}=${goString(a)})`;
        break;
      default:
        return `%!${verb}(${typeName(a)}=${goString(a)})`;
    }
    const w = width ? Number(width) : 0;
    const len = [...s].length;
    if (len < w) {
      if (flags.includes('-')) s = s + ' '.repeat(w - len);
      else if (flags.includes('0') && 'dfgx'.includes(verb)) s = s.startsWith('-') ? `-${'0'.repeat(w - len)}${s.slice(1)}` : '0'.repeat(w - len) + s;
      else s = ' '.repeat(w - len) + s;
    }
    return s;
  }) + (n < args.length ? `%!(EXTRA ${args.slice(n).map((a) => `${typeName(a)}=${goString(a)}`).join(', ')})` : '');
}

function toJsonValue(v: unknown): unknown {
  return v === undefined ? null : v;
}

function basicCompare(a: unknown, b: unknown, name: string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new Error(`error calling ${name}: incompatible types for comparison`);
}

function eqBasic(a: unknown, b: unknown): boolean {
  if ((typeof a === 'object' && a !== null) || (typeof b === 'object' && b !== null)) {
    throw new Error('error calling eq: non-comparable types');
  }
  if (a !== undefined && b !== undefined && a !== null && b !== null && typeof a !== typeof b) {
    throw new Error('error calling eq: incompatible types for comparison');
  }
  return (a ?? null) === (b ?? null);
}

/** Docker's `title`: upper-cases the first letter of each word, leaves the rest alone. */
function title(s: string): string {
  return s.replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, sep: string, ch: string) => sep + ch.toUpperCase());
}

function asString(v: unknown, fn: string): string {
  if (typeof v !== 'string') throw new Error(`wrong type for value; expected string; got ${typeName(v)} (in ${fn})`);
  return v;
}

const BUILTINS: Record<string, TemplateFunc> = {
  len(v) {
    if (typeof v === 'string') return Buffer.byteLength(v);
    if (Array.isArray(v)) return v.length;
    if (v && typeof v === 'object') return Object.keys(v).length;
    throw new Error(`error calling len: len of type ${typeName(v)}`);
  },
  index(item, ...keys) {
    let v: unknown = item;
    for (const k of keys) {
      if (Array.isArray(v) || typeof v === 'string') {
        if (typeof k !== 'number') throw new Error(`error calling index: cannot index slice/array with type ${typeName(k)}`);
        const len = typeof v === 'string' ? Buffer.byteLength(v) : v.length;
        if (k < 0 || k >= len) throw new Error(`error calling index: index out of range: ${k}`);
        v = typeof v === 'string' ? Buffer.from(v)[k] : v[k];
      } else if (v && typeof v === 'object' && !(GO_TYPE in v)) {
        const map = v as Record<string, unknown>;
        const key = String(k);
        if (key in map) v = map[key];
        else {
          // Docker executes inspect templates on typed structs first, where label and option
          // maps are map[string]string: a missing key is "", not <no value>.
          const vals = Object.values(map);
          v = vals.every((x) => typeof x === 'string') ? '' : null;
        }
      } else if (v === null || v === undefined) {
        throw new Error('error calling index: index of untyped nil');
      } else {
        throw new Error(`error calling index: can't index item of type ${typeName(v)}`);
      }
    }
    return v;
  },
  print: (...args) => sprint(args),
  printf: (format, ...args) => sprintf(asString(format, 'printf'), args),
  println: (...args) => `${args.map((a) => goString(a)).join(' ')}\n`,
  not: (v) => !truth(v),
  eq(a, ...bs) {
    if (bs.length === 0) throw new Error('error calling eq: missing argument for comparison');
    return bs.some((b) => eqBasic(a, b));
  },
  ne: (a, b) => !eqBasic(a, b),
  lt: (a, b) => basicCompare(a, b, 'lt') < 0,
  le: (a, b) => basicCompare(a, b, 'le') <= 0,
  gt: (a, b) => basicCompare(a, b, 'gt') > 0,
  ge: (a, b) => basicCompare(a, b, 'ge') >= 0,
  urlquery: (...args) => encodeURIComponent(sprint(args)),
  html: (...args) => sprint(args).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;'),
  js: (...args) => JSON.stringify(sprint(args)).slice(1, -1),
  slice(item, ...idx) {
    if (typeof item !== 'string' && !Array.isArray(item)) throw new Error(`error calling slice: can't slice item of type ${typeName(item)}`);
    const [a = 0, b = item.length] = idx as number[];
    return item.slice(a, b);
  },
  call() {
    throw new Error('error calling call: not supported');
  },
};

/** Docker's template functions (docker/cli `templates/templates.go`). */
export const DOCKER_FUNCS: Record<string, TemplateFunc> = {
  json(v) {
    if (v && typeof v === 'object' && GO_TYPE in v && typeof (v as { toJSON?: unknown }).toJSON !== 'function') return '{}';
    return JSON.stringify(toJsonValue(v)) ?? 'null';
  },
  split: (s, sep) => asString(s, 'split').split(asString(sep, 'split')),
  join(list, sep) {
    if (list === null || list === undefined) return '';
    if (!Array.isArray(list)) throw new Error(`wrong type for value; expected []string; got ${typeName(list)}`);
    return list.map((x) => goString(x)).join(asString(sep, 'join'));
  },
  title: (s) => title(asString(s, 'title')),
  lower: (s) => asString(s, 'lower').toLowerCase(),
  upper: (s) => asString(s, 'upper').toUpperCase(),
  pad: (s, before, after) => ' '.repeat(Number(before)) + asString(s, 'pad') + ' '.repeat(Number(after)),
  truncate(s, n) {
    const chars = [...asString(s, 'truncate')];
    return chars.length > Number(n) ? chars.slice(0, Number(n)).join('') : chars.join('');
  },
};

// ---------------------------------------------------------------------------------------
// Execution

class Scope {
  vars: Array<[string, unknown]>;
  constructor(vars: Array<[string, unknown]>) {
    this.vars = vars;
  }
  get(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]![0] === name) return this.vars[i]![1];
    throw new Error(`undefined variable: ${name}`);
  }
  set(name: string, v: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]![0] === name) {
        this.vars[i]![1] = v;
        return;
      }
    }
    throw new Error(`undefined variable: ${name}`);
  }
  mark(): number {
    return this.vars.length;
  }
  pop(mark: number): void {
    this.vars.length = mark;
  }
}

class ExecError extends Error {
  constructor(
    message: string,
    readonly at: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

/** A parsed template; `execute` may be called many times (once per row). */
export class Template {
  readonly name: string;
  readonly #nodes: Node[];
  readonly #funcs: Record<string, TemplateFunc>;
  readonly #src: string;

  constructor(nodes: Node[], src: string, name: string, funcs: Record<string, TemplateFunc>) {
    this.#nodes = nodes;
    this.#src = src;
    this.name = name;
    this.#funcs = funcs;
  }

  /** Renders the template against `data`; throws TemplateError (phase `exec`) on failure. */
  execute(data: unknown): string {
    const out: string[] = [];
    try {
      this.#walk(this.#nodes, data, new Scope([['$', data]]), out);
    } catch (err) {
      if (err instanceof ExecError) {
        const line = lineOf(this.#src, err.pos);
        const col = err.pos - this.#src.lastIndexOf('\n', err.pos - 1);
        throw new TemplateError(`template: ${this.name}:${line}:${col}: executing "${this.name}" at <${err.at}>: ${err.message}`, 'exec');
      }
      throw err;
    }
    return out.join('');
  }

  #walk(nodes: Node[], dot: unknown, scope: Scope, out: string[]): void {
    for (const node of nodes) {
      switch (node.k) {
        case 'text':
          out.push(node.text);
          break;
        case 'action': {
          const v = this.#pipeline(node.pipe, dot, scope);
          if (node.pipe.decl.length === 0) out.push(goString(v));
          break;
        }
        case 'if':
        case 'with': {
          const mark = scope.mark();
          const v = this.#pipeline(node.pipe, dot, scope);
          if (truth(v)) this.#walk(node.list, node.k === 'with' ? v : dot, scope, out);
          else if (node.elseList) this.#walk(node.elseList, dot, scope, out);
          scope.pop(mark);
          break;
        }
        case 'range': {
          const mark = scope.mark();
          const pipe = { ...node.pipe, decl: [] };
          const v = this.#pipeline(pipe, dot, scope);
          let entries: Array<[unknown, unknown]>;
          if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
          else if (v && typeof v === 'object' && !(GO_TYPE in v)) entries = Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]);
          else if (typeof v === 'number' && Number.isInteger(v)) entries = Array.from({ length: Math.max(0, v) }, (_x, i) => [i, i]);
          else if (v === null || v === undefined) entries = [];
          else throw new ExecError(`range can't iterate over ${goString(v)}`, 'range', node.pipe.pos);
          if (entries.length === 0) {
            if (node.elseList) this.#walk(node.elseList, dot, scope, out);
          } else {
            for (const [key, val] of entries) {
              const inner = scope.mark();
              const [d1, d2] = node.pipe.decl;
              if (d1 && d2) scope.vars.push([d1, key], [d2, val]);
              else if (d1) scope.vars.push([d1, val]);
              this.#walk(node.list, val, scope, out);
              scope.pop(inner);
            }
          }
          scope.pop(mark);
          break;
        }
      }
    }
  }

  #pipeline(pipe: Pipeline, dot: unknown, scope: Scope): unknown {
    let value: unknown;
    let hasFinal = false;
    for (const cmd of pipe.cmds) {
      value = this.#command(cmd, dot, scope, hasFinal ? [value] : []);
      hasFinal = true;
    }
    for (const name of pipe.decl) {
      if (pipe.assign) scope.set(name, value);
      else scope.vars.push([name, value]);
    }
    return value;
  }

  #command(cmd: Command, dot: unknown, scope: Scope, final: unknown[]): unknown {
    const [head, ...rest] = cmd.args;
    const evalArgs = (): unknown[] => [...rest.map((a) => this.#arg(a, dot, scope)), ...final];
    switch (head!.k) {
      case 'func': {
        const name = head!.name;
        try {
          if (name === 'and' || name === 'or') {
            // Go evaluates and/or lazily: stop at the first falsy/truthy operand.
            const args = [...rest, ...final.map((v) => ({ k: 'lit', v, pos: head!.pos }) as Arg)];
            let v: unknown;
            for (const a of args) {
              v = this.#arg(a, dot, scope);
              if (name === 'and' ? !truth(v) : truth(v)) return v;
            }
            return v;
          }
          const fn = this.#funcs[name] ?? BUILTINS[name];
          return fn!(...evalArgs());
        } catch (err) {
          if (err instanceof ExecError) throw err;
          const msg = (err as Error).message;
          throw new ExecError(msg.startsWith('error calling') ? msg : `error calling ${name}: ${msg}`, name, head!.pos);
        }
      }
      case 'field':
        return this.#fieldChain(dot, head!.names, evalArgs(), `.${head!.names.join('.')}`, head!.pos);
      case 'var': {
        const base = this.#lookupVar(scope, head!.name, head!.pos);
        if (head!.names.length === 0) return base;
        return this.#fieldChain(base, head!.names, evalArgs(), `${head!.name}.${head!.names.join('.')}`, head!.pos);
      }
      case 'pipe': {
        const base = this.#pipeline(head!.pipe, dot, scope);
        if (head!.names.length === 0) return base;
        return this.#fieldChain(base, head!.names, evalArgs(), `.${head!.names.join('.')}`, head!.pos);
      }
      case 'dot':
        return dot;
      case 'lit':
        if (final.length) throw new ExecError(`can't give argument to non-function ${describeArg(head!)}`, describeArg(head!), head!.pos);
        return head!.v;
    }
  }

  #lookupVar(scope: Scope, name: string, pos: number): unknown {
    try {
      return scope.get(name);
    } catch (err) {
      throw new ExecError((err as Error).message, name, pos);
    }
  }

  #arg(a: Arg, dot: unknown, scope: Scope): unknown {
    switch (a.k) {
      case 'lit':
        return a.v;
      case 'dot':
        return dot;
      case 'field':
        return this.#fieldChain(dot, a.names, [], `.${a.names.join('.')}`, a.pos);
      case 'var': {
        const base = this.#lookupVar(scope, a.name, a.pos);
        return a.names.length ? this.#fieldChain(base, a.names, [], `${a.name}.${a.names.join('.')}`, a.pos) : base;
      }
      case 'pipe': {
        const base = this.#pipeline(a.pipe, dot, scope);
        return a.names.length ? this.#fieldChain(base, a.names, [], `.${a.names.join('.')}`, a.pos) : base;
      }
      case 'func': {
        if (a.name === 'and' || a.name === 'or' || (this.#funcs[a.name] ?? BUILTINS[a.name])) {
          // A bare function name as an argument is a call with no arguments.
          return this.#command({ args: [a] }, dot, scope, []);
        }
        return undefined;
      }
    }
  }

  /** Resolves `.A.B.C` on `base`; the last name may be a method taking `args`. */
  #fieldChain(base: unknown, names: string[], args: unknown[], at: string, pos: number): unknown {
    let v = base;
    names.forEach((name, i) => {
      const last = i === names.length - 1;
      if (v === null || v === undefined) throw new ExecError(`nil pointer evaluating interface {}.${name}`, at, pos);
      if (typeof v !== 'object' || Array.isArray(v)) throw new ExecError(`can't evaluate field ${name} in type ${typeName(v)}`, at, pos);
      const obj = v as Record<string, unknown>;
      if (GO_TYPE in obj) {
        const member = obj[name];
        if (member === undefined && !(name in obj)) throw new ExecError(`can't evaluate field ${name} in type ${typeName(obj)}`, at, pos);
        if (typeof member === 'function') {
          const callArgs = last ? args : [];
          if (member.length !== callArgs.length) {
            throw new ExecError(`wrong number of args for ${name}: want ${member.length} got ${callArgs.length}`, at, pos);
          }
          try {
            v = (member as TemplateFunc).apply(obj, callArgs);
          } catch (err) {
            throw new ExecError(`error calling ${name}: ${(err as Error).message}`, at, pos);
          }
          return;
        }
        if (last && args.length) throw new ExecError(`${name} has arguments but cannot be invoked as function`, at, pos);
        v = member;
        return;
      }
      if (last && args.length) throw new ExecError(`${name} is not a method but has arguments`, at, pos);
      v = Object.prototype.hasOwnProperty.call(obj, name) ? obj[name] : undefined;
    });
    return v;
  }
}

/** Parses a Go template. Throws TemplateError (phase `parse`) with Go's wording. */
export function parseTemplate(src: string, options: { name?: string; funcs?: Record<string, TemplateFunc> } = {}): Template {
  const name = options.name ?? '';
  const funcs = { ...DOCKER_FUNCS, ...options.funcs };
  const pieces = lex(src, name);
  const nodes = new Parser(pieces, src, name, new Set(Object.keys(funcs))).parse();
  return new Template(nodes, src, name, funcs);
}
