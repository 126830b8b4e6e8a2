/**
 * The Dockerfile parser: text → stages of instructions, after moby's
 * `frontend/dockerfile/parser` (line level: directives, comments, continuations, heredocs) and
 * `instructions/parse.go` (per instruction: flags, JSON vs shell form, name=value pairs).
 *
 * Pure and synchronous. Variable substitution is not done here: values depend on ARG/ENV at
 * build time, so instructions keep their raw words and the builder runs them through
 * `processWord` (lexer.ts). Every error is a DockerfileParseError naming the file and line.
 */
import { InvalidParameterError } from '../../common/errors.js';
import { splitRawWords } from './lexer.js';
import { parseChmod } from '../chmod.js';

/** A Dockerfile that cannot be parsed; the message names the file and line. */
export class DockerfileParseError extends InvalidParameterError {
  override readonly code = 'BERTH_ERR_DOCKERFILE_PARSE';
  constructor(
    readonly file: string,
    readonly line: number,
    detail: string,
  ) {
    // Docker says `dockerfile parse error line N: detail`; berth adds the file's name.
    super(`dockerfile parse error line ${line} of ${file}: ${detail}`);
  }
}

export interface Heredoc {
  name: string;
  content: string;
  /** False when the delimiter was quoted (`<<"EOF"`): no substitution. */
  expand: boolean;
}

interface Base {
  /** The instruction as written (continuations joined), Docker's `Step N/M : …` text. */
  original: string;
  /** 1-based line where the instruction starts. */
  line: number;
}

/** Command in exec form (JSON array) or shell form (string). */
export type CommandForm = { exec: string[] } | { shell: string };

/** One `--name=value` flag as written (repeatable flags such as `--mount` appear once each). */
export interface Flag {
  name: string;
  value: string;
}

export interface KeyValue {
  key: string;
  value: string;
}

export type Instruction = Base &
  (
    | { kind: 'from'; image: string; stageName?: string; platform?: string }
    | { kind: 'run'; command: CommandForm; heredocs: Heredoc[]; flags: Record<string, string>; flagList: Flag[] }
    | { kind: 'cmd' | 'entrypoint'; command: CommandForm }
    | { kind: 'shell'; exec: string[] }
    | { kind: 'env' | 'label'; pairs: KeyValue[] }
    | { kind: 'arg'; args: { name: string; value?: string }[] }
    | { kind: 'expose' | 'volume'; words: string[]; json: boolean }
    | { kind: 'copy' | 'add'; sources: string[]; dest: string; json: boolean; from?: string; chown?: string; chmod?: string; heredocs: Heredoc[]; flags: Record<string, string>; flagList: Flag[] }
    | { kind: 'workdir' | 'user' | 'stopsignal' | 'maintainer'; value: string }
    | { kind: 'healthcheck'; test: string[] | null; interval?: string; timeout?: string; startPeriod?: string; startInterval?: string; retries?: string }
    | { kind: 'onbuild'; trigger: string }
  );

export type InstructionKind = Instruction['kind'];

export interface Stage {
  /** The FROM instruction. */
  from: Extract<Instruction, { kind: 'from' }>;
  /** Lowercased `AS name`, if any. */
  name?: string;
  index: number;
  instructions: Instruction[];
}

export interface Dockerfile {
  file: string;
  escape: string;
  syntax?: string;
  /** ARGs before the first FROM (usable in FROM lines). */
  metaArgs: Extract<Instruction, { kind: 'arg' }>[];
  stages: Stage[];
}

const KEYWORDS = new Set([
  'from', 'run', 'cmd', 'entrypoint', 'shell', 'env', 'label', 'arg', 'expose', 'volume', 'copy', 'add',
  'workdir', 'user', 'stopsignal', 'maintainer', 'healthcheck', 'onbuild',
]);

/** One logical line: an instruction with its continuations joined and heredoc bodies read. */
interface RawNode {
  keyword: string;
  original: string;
  rest: string;
  line: number;
  heredocs: Heredoc[];
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$/;

/** Parses a Dockerfile. `file` is the name used in errors (e.g. `Dockerfile`). */
export function parseDockerfile(text: string, options: { file?: string } = {}): Dockerfile {
  const file = options.file ?? 'Dockerfile';
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const fail = (line: number, detail: string): never => {
    throw new DockerfileParseError(file, line, detail);
  };

  // Parser directives: only at the very top, before any comment, blank line or instruction.
  let escape = '\\';
  let syntax: string | undefined;
  const seen = new Set<string>();
  let i = 0;
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]!);
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (key !== 'escape' && key !== 'syntax' && key !== 'check') break; // unknown directives are comments
    if (seen.has(key)) fail(i + 1, `only one ${key} parser directive can be used`);
    seen.add(key);
    if (key === 'escape') {
      if (m[2] !== '\\' && m[2] !== '`') fail(i + 1, `invalid escape token '${m[2]}' does not match ` + '` or \\');
      escape = m[2]!;
    } else if (key === 'syntax') syntax = m[2];
  }

  const nodes: RawNode[] = [];
  const isComment = (l: string): boolean => /^\s*#/.test(l);
  const continues = (l: string): boolean => {
    return l.replace(/\s+$/, '').endsWith(escape);
  };
  while (i < lines.length) {
    const first = lines[i]!;
    if (first.trim() === '' || isComment(first)) {
      i++;
      continue;
    }
    const start = i + 1;
    let joined = first.replace(/^\s+/, '');
    i++;
    while (continues(joined)) {
      joined = joined.replace(/\s+$/, '').slice(0, -1);
      // Comment lines inside a continuation are dropped; empty ones too (Docker warns).
      while (i < lines.length && (isComment(lines[i]!) || lines[i]!.trim() === '')) i++;
      if (i >= lines.length) break;
      joined += lines[i]!;
      i++;
    }
    const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(joined);
    if (!m) continue;
    const keywordRaw = m[1]!;
    const keyword = keywordRaw.toLowerCase();
    if (!KEYWORDS.has(keyword)) fail(start, `unknown instruction: ${keywordRaw.toUpperCase()}`);
    const rest = (m[2] ?? '').trim();
    const heredocs: Heredoc[] = [];
    if (keyword === 'run' || keyword === 'copy' || keyword === 'add') {
      for (const hm of rest.matchAll(/(?<!<)<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2(?!<)/g)) {
        const strip = hm[1] === '-';
        const name = hm[3]!;
        const body: string[] = [];
        let closed = false;
        while (i < lines.length) {
          let l = lines[i++]!;
          if (strip) l = l.replace(/^\t+/, '');
          if (l === name) {
            closed = true;
            break;
          }
          body.push(l);
        }
        if (!closed) fail(start, `unterminated heredoc: ${name}`);
        heredocs.push({ name, content: body.length ? body.join('\n') + '\n' : '', expand: hm[2] === '' });
      }
    }
    nodes.push({ keyword, original: joined.trim(), rest, line: start, heredocs });
  }

  const df: Dockerfile = { file, escape, metaArgs: [], stages: [] };
  if (syntax !== undefined) df.syntax = syntax;
  for (const node of nodes) {
    const ins = parseInstruction(node, escape, (d) => fail(node.line, d));
    if (ins.kind === 'from') {
      const st: Stage = { from: ins, index: df.stages.length, instructions: [] };
      if (ins.stageName) {
        if (df.stages.some((s) => s.name === ins.stageName)) fail(node.line, `duplicate stage name "${ins.stageName}"`);
        st.name = ins.stageName;
      }
      df.stages.push(st);
    } else if (df.stages.length === 0) {
      if (ins.kind !== 'arg') fail(node.line, `${node.keyword.toUpperCase()} before FROM: no build stage in current context`);
      else df.metaArgs.push(ins);
    } else df.stages[df.stages.length - 1]!.instructions.push(ins);
  }
  if (df.stages.length === 0) fail(Math.max(1, nodes.at(-1)?.line ?? 1), 'file with no instructions');
  return df;
}

/** Parses one line of an ONBUILD trigger (an instruction without FROM/ONBUILD/MAINTAINER). */
export function parseTrigger(text: string, line: number, file: string, escape = '\\'): Instruction {
  const directive = escape === '\\' ? '' : `# escape=${escape}\n`;
  let ins: Instruction | undefined;
  try {
    ins = parseDockerfile(`${directive}FROM scratch\n${text}`, { file }).stages[0]!.instructions[0];
  } catch (e) {
    if (e instanceof DockerfileParseError) throw new DockerfileParseError(file, line, `invalid ONBUILD trigger: ${e.message.replace(/^.*?: /, '')}`);
    throw e;
  }
  if (!ins) throw new DockerfileParseError(file, line, `invalid ONBUILD trigger: ${text}`);
  return { ...ins, line };
}

/** Flags that may be given several times (`RUN --mount=… --mount=…`, `COPY --exclude=…`). */
const REPEATABLE = new Set(['mount', 'exclude']);

/** Leading `--name=value` flags (moby BFlags); unknown flags are an error. */
function takeFlags(rest: string, allowed: readonly string[], fail: (d: string) => never, keyword: string): { flags: Record<string, string>; flagList: Flag[]; rest: string } {
  const flags: Record<string, string> = {};
  const flagList: Flag[] = [];
  let r = rest;
  for (;;) {
    const m = /^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(\S*))?(?:\s+|$)/.exec(r);
    if (!m) break;
    const name = m[1]!;
    if (!allowed.includes(name)) fail(`unknown flag: ${name}`);
    const value = m[2] ?? 'true';
    if (name in flags && !REPEATABLE.has(name)) fail(`${keyword.toUpperCase()} flag --${name} given more than once`);
    flags[name] = value;
    flagList.push({ name, value });
    r = r.slice(m[0].length);
  }
  return { flags, flagList, rest: r.trim() };
}

/** JSON array of strings, or undefined when the text is not one (then it is shell form). */
function parseJsonArray(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    /* shell form */
  }
  return undefined;
}

function commandForm(rest: string): CommandForm {
  const exec = parseJsonArray(rest);
  return exec ? { exec } : { shell: rest };
}

function parseInstruction(node: RawNode, escape: string, fail: (detail: string) => never): Instruction {
  const base = { original: node.original, line: node.line };
  const kw = node.keyword;
  const upper = kw.toUpperCase();
  const needArgs = (rest: string): void => {
    if (!rest) fail(`${upper} requires at least one argument`);
  };
  switch (kw) {
    case 'from': {
      const { flags, rest } = takeFlags(node.rest, ['platform'], fail, kw);
      const words = splitRawWords(rest, escape);
      if (words.length !== 1 && !(words.length === 3 && words[1]!.toLowerCase() === 'as')) {
        fail('FROM requires either one or three arguments');
      }
      const ins: Instruction = { ...base, kind: 'from', image: words[0]! };
      if (words.length === 3) {
        const name = words[2]!.toLowerCase();
        if (!/^[a-z][a-z0-9-_.]*$/.test(name)) fail(`invalid name for build stage: "${words[2]}", name can't start with a number or contain symbols`);
        ins.stageName = name;
      }
      if (flags['platform']) ins.platform = flags['platform'];
      return ins;
    }
    case 'run': {
      const { flags, flagList, rest } = takeFlags(node.rest, ['mount', 'network', 'security'], fail, kw);
      needArgs(rest);
      return { ...base, kind: 'run', command: commandForm(rest), heredocs: node.heredocs, flags, flagList };
    }
    case 'cmd':
    case 'entrypoint':
      return { ...base, kind: kw, command: commandForm(node.rest) };
    case 'shell': {
      const exec = parseJsonArray(node.rest);
      if (!exec || exec.length === 0) fail('SHELL requires the arguments to be in JSON form');
      return { ...base, kind: 'shell', exec: exec! };
    }
    case 'env':
    case 'label': {
      needArgs(node.rest);
      return { ...base, kind: kw, pairs: parseNameVal(node.rest, upper, escape, fail) };
    }
    case 'arg': {
      needArgs(node.rest);
      const args = splitRawWords(node.rest, escape).map((w) => {
        const eq = w.indexOf('=');
        if (eq === 0) fail(`ARG names can not be blank`);
        return eq < 0 ? { name: w } : { name: w.slice(0, eq), value: w.slice(eq + 1) };
      });
      return { ...base, kind: 'arg', args };
    }
    case 'expose':
    case 'volume': {
      needArgs(node.rest);
      const json = kw === 'volume' ? parseJsonArray(node.rest) : undefined;
      const words = json ?? splitRawWords(node.rest, escape);
      if (kw === 'volume' && words.some((w) => w.trim() === '')) fail('VOLUME specified can not be an empty string');
      return { ...base, kind: kw, words, json: json !== undefined };
    }
    case 'copy':
    case 'add': {
      const allowed = kw === 'copy' ? ['from', 'chown', 'chmod', 'link', 'parents', 'exclude'] : ['chown', 'chmod', 'link', 'keep-git-dir', 'checksum', 'exclude'];
      const { flags, flagList, rest } = takeFlags(node.rest, allowed, fail, kw);
      const json = parseJsonArray(rest);
      const words = json ?? splitRawWords(rest, escape);
      if (words.length < 2) fail(`${upper} requires at least two arguments, but only ${words.length} provided`);
      const ins: Instruction = { ...base, kind: kw, sources: words.slice(0, -1), dest: words.at(-1)!, json: json !== undefined, heredocs: node.heredocs, flags, flagList };
      if (flags['from'] !== undefined) ins.from = flags['from'];
      if (flags['chown'] !== undefined) ins.chown = flags['chown'];
      if (flags['chmod'] !== undefined) {
        // Octal or symbolic; a value with a variable is checked after substitution.
        if (!flags['chmod'].includes('$') && !parseChmod(flags['chmod'])) fail(`invalid chmod parameter: ${flags['chmod']}`);
        ins.chmod = flags['chmod'];
      }
      return ins;
    }
    case 'workdir':
    case 'user':
    case 'stopsignal':
    case 'maintainer': {
      if (!node.rest) fail(`${upper} requires exactly one argument`);
      if (kw !== 'maintainer' && kw !== 'workdir' && splitRawWords(node.rest, escape).length !== 1) fail(`${upper} requires exactly one argument`);
      return { ...base, kind: kw, value: node.rest };
    }
    case 'healthcheck': {
      const { flags, rest } = takeFlags(node.rest, ['interval', 'timeout', 'start-period', 'start-interval', 'retries'], fail, kw);
      const m = /^(\S+)\s*([\s\S]*)$/.exec(rest);
      if (!m) fail('HEALTHCHECK requires an argument');
      const type = m![1]!.toUpperCase();
      let test: string[] | null;
      if (type === 'NONE') {
        if (m![2] || Object.keys(flags).length) fail('HEALTHCHECK NONE takes no arguments');
        test = ['NONE'];
      } else if (type === 'CMD') {
        if (!m![2]) fail('Missing command after HEALTHCHECK CMD');
        const form = commandForm(m![2]!);
        test = 'exec' in form ? ['CMD', ...form.exec] : ['CMD-SHELL', form.shell];
      } else {
        fail(`Unknown type "${type}" in HEALTHCHECK (try CMD)`);
        test = null;
      }
      for (const k of ['interval', 'timeout', 'start-period', 'start-interval']) {
        if (flags[k] !== undefined && parseDuration(flags[k]) === undefined) fail(`time: invalid duration "${flags[k]}"`);
      }
      if (flags['retries'] !== undefined && !/^\d+$/.test(flags['retries'])) fail(`invalid retries: ${flags['retries']}`);
      const ins: Instruction = { ...base, kind: 'healthcheck', test };
      if (flags['interval']) ins.interval = flags['interval'];
      if (flags['timeout']) ins.timeout = flags['timeout'];
      if (flags['start-period']) ins.startPeriod = flags['start-period'];
      if (flags['start-interval']) ins.startInterval = flags['start-interval'];
      if (flags['retries']) ins.retries = flags['retries'];
      return ins;
    }
    case 'onbuild': {
      needArgs(node.rest);
      const trig = /^(\S+)/.exec(node.rest)![1]!.toUpperCase();
      if (trig === 'ONBUILD') fail('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (trig === 'FROM' || trig === 'MAINTAINER') fail(`${trig} isn't allowed as an ONBUILD trigger`);
      if (!KEYWORDS.has(trig.toLowerCase())) fail(`unknown instruction: ${trig}`);
      return { ...base, kind: 'onbuild', trigger: node.rest };
    }
  }
  return fail(`unknown instruction: ${upper}`);
}

/** `ENV a=1 b="x y"` or the old `ENV a value with spaces` (moby parseNameVal). */
function parseNameVal(rest: string, upper: string, escape: string, fail: (d: string) => never): KeyValue[] {
  const words = splitRawWords(rest, escape);
  if (!words[0]!.includes('=')) {
    const key = words[0]!;
    const value = rest.slice(rest.indexOf(key) + key.length).trim();
    if (!value && upper === 'ENV') fail(`ENV must have two arguments`);
    if (!value) fail(`${upper} must have two arguments`);
    return [{ key, value }];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) fail(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    if (eq === 0) fail(`${upper} names can not be blank`);
    return { key: w.slice(0, eq), value: w.slice(eq + 1) };
  });
}

/** Go duration (`30s`, `1m30s`, `500ms`) in nanoseconds, or undefined. */
export function parseDuration(s: string): number | undefined {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  const unit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(re)) {
    if (m.index !== consumed) return undefined;
    total += Number(m[1]) * unit[m[2]!]!;
    consumed += m[0].length;
  }
  return consumed === s.length && consumed > 0 ? Math.round(total) : undefined;
}
