/**
 * Docker's `--change` instructions (for `import` and `commit`): Dockerfile lines that edit an
 * image config. Hand-written because the build/ Dockerfile parser sits above image/ in the
 * import order; this covers only the instructions a change may use, with Docker's semantics:
 *
 * - CMD / ENTRYPOINT: JSON form `["a","b"]`, else shell form → `["/bin/sh","-c","…"]`;
 *   an ENTRYPOINT resets a CMD not set by the same change list (builder dispatchers.go);
 * - ENV / LABEL: `k=v k2="v 2"` or the legacy `k value with spaces`; `$VAR`/`${VAR}` (with
 *   `:-` and `:+`) expand from the config's env, quotes and backslashes as in a Dockerfile;
 * - EXPOSE (`80`, `53/udp`, `8000-8002`), USER, WORKDIR (relative joins the previous one),
 *   VOLUME (JSON or words), STOPSIGNAL (name or number, checked), ONBUILD, HEALTHCHECK;
 * - anything else is refused with Docker's `X is not a valid change command`.
 */
import { posix } from 'node:path';
import { constants } from 'node:os';
import { InvalidParameterError } from '../common/errors.js';
import type { HealthConfig, ImageRunConfig } from '../oci/image.js';

/** A `--change` value that could not be applied. */
export class InvalidChangeError extends InvalidParameterError {
  override readonly code = 'BERTH_ERR_INVALID_CHANGE';
}

const VALID = new Set(['cmd', 'entrypoint', 'env', 'expose', 'label', 'user', 'workdir', 'volume', 'stopsignal', 'onbuild', 'healthcheck']);

/** Applies change lines to a copy of `config` and returns it. */
export function applyChanges(config: ImageRunConfig, changes: readonly string[]): ImageRunConfig {
  const c: ImageRunConfig = structuredClone(config);
  let cmdSet = false;
  for (const line of logicalLines(changes.join('\n'))) {
    const m = /^(\S+)\s*([\s\S]*)$/.exec(line)!;
    const instr = m[1]!.toLowerCase();
    const rest = m[2]!.trim();
    if (!VALID.has(instr)) throw new InvalidChangeError(`${instr} is not a valid change command`);
    const env = envMap(c.Env);
    switch (instr) {
      case 'cmd':
        c.Cmd = commandForm(rest);
        cmdSet = true;
        break;
      case 'entrypoint':
        c.Entrypoint = commandForm(rest);
        if (!cmdSet) c.Cmd = null;
        break;
      case 'env': {
        const pairs = keyValues(rest, env, 'ENV');
        const list = [...(c.Env ?? [])];
        for (const [k, v] of pairs) {
          const i = list.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) list[i] = `${k}=${v}`;
          else list.push(`${k}=${v}`);
          env.set(k, v);
        }
        c.Env = list;
        break;
      }
      case 'label': {
        const labels = { ...(c.Labels ?? {}) };
        for (const [k, v] of keyValues(rest, env, 'LABEL')) labels[k] = v;
        c.Labels = labels;
        break;
      }
      case 'expose': {
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const w of words(rest, env)) for (const p of exposedPorts(w)) ports[p] = {};
        c.ExposedPorts = ports;
        break;
      }
      case 'user':
        c.User = oneArg(rest, env, 'USER');
        break;
      case 'workdir': {
        const dir = oneArg(rest, env, 'WORKDIR');
        c.WorkingDir = posix.normalize(dir.startsWith('/') ? dir : posix.join(c.WorkingDir || '/', dir));
        break;
      }
      case 'volume': {
        const vols = { ...(c.Volumes ?? {}) };
        const list = jsonArray(rest) ?? words(rest, env);
        if (list.length === 0) throw new InvalidChangeError('VOLUME requires at least one argument');
        for (const v of list) {
          if (v.trim() === '') throw new InvalidChangeError('VOLUME specified can not be an empty string');
          vols[v] = {};
        }
        c.Volumes = vols;
        break;
      }
      case 'stopsignal': {
        const sig = oneArg(rest, env, 'STOPSIGNAL');
        checkSignal(sig);
        c.StopSignal = sig;
        break;
      }
      case 'onbuild': {
        const trigger = /^(\S+)/.exec(rest)?.[1]?.toUpperCase();
        if (!trigger) throw new InvalidChangeError('ONBUILD requires at least one argument');
        if (trigger === 'ONBUILD') throw new InvalidChangeError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (trigger === 'FROM' || trigger === 'MAINTAINER') throw new InvalidChangeError(`${trigger} isn't allowed as an ONBUILD trigger`);
        c.OnBuild = [...(c.OnBuild ?? []), rest];
        break;
      }
      case 'healthcheck':
        c.Healthcheck = healthcheck(rest);
        break;
    }
  }
  return c;
}

// Joins `\`-continued lines, drops blank lines and comments.
function logicalLines(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (cur === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      cur += line.slice(0, -1) + ' ';
      continue;
    }
    cur += line;
    if (cur.trim()) out.push(cur.trim());
    cur = '';
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function jsonArray(rest: string): string[] | undefined {
  if (!rest.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(rest);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // not JSON: shell form
  }
  return undefined;
}

function commandForm(rest: string): string[] {
  return jsonArray(rest) ?? ['/bin/sh', '-c', rest];
}

function envMap(env: readonly string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}

function oneArg(rest: string, env: Map<string, string>, name: string): string {
  const w = words(rest, env);
  if (w.length !== 1) throw new InvalidChangeError(`${name} requires exactly one argument`);
  return w[0]!;
}

function keyValues(rest: string, env: Map<string, string>, name: string): [string, string][] {
  if (!rest) throw new InvalidChangeError(`${name} requires at least one argument`);
  const first = /^\S+/.exec(rest)![0];
  if (!first.includes('=')) {
    // Legacy `ENV key value with spaces`: one pair, the value is the rest of the line.
    const value = rest.slice(first.length).trim();
    if (!value) throw new InvalidChangeError(`${name} must have two arguments`);
    return [[first, words(value, env, false).join('')]];
  }
  return words(rest, env).map((w) => {
    const i = w.indexOf('=');
    if (i === 0) throw new InvalidChangeError(`${name} names can not be blank`);
    if (i < 0) throw new InvalidChangeError(`Syntax error - can't find = in ${JSON.stringify(w)}. Must be of the form: name=value`);
    return [w.slice(0, i), w.slice(i + 1)];
  });
}

/**
 * Splits a Dockerfile argument into words: whitespace separates (unless `split` is false),
 * single quotes are literal, double quotes allow `$` expansion and `\"`, backslash escapes.
 */
export function words(s: string, env: Map<string, string>, split = true): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  const expand = (): string => {
    // at s[i] === '$'
    if (s[i + 1] === '{') {
      const end = s.indexOf('}', i + 2);
      if (end < 0) throw new InvalidChangeError(`missing '}' in ${JSON.stringify(s)}`);
      const body = s.slice(i + 2, end);
      i = end + 1;
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([\s\S]*))?$/.exec(body);
      if (!m) throw new InvalidChangeError(`bad substitution: \${${body}}`);
      const v = env.get(m[1]!) ?? '';
      if (m[2] === '-') return v !== '' ? v : m[3]!;
      if (m[2] === '+') return v !== '' ? m[3]! : '';
      return v;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i + 1));
    if (!m) {
      i++;
      return '$';
    }
    i += 1 + m[0].length;
    return env.get(m[0]) ?? '';
  };
  while (i < s.length) {
    const ch = s[i]!;
    if (split && /\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (ch === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new InvalidChangeError(`unexpected end of statement while looking for matching single-quote in ${JSON.stringify(s)}`);
      cur += s.slice(i + 1, end);
      i = end + 1;
    } else if (ch === '"') {
      i++;
      for (;;) {
        if (i >= s.length) throw new InvalidChangeError(`unexpected end of statement while looking for matching double-quote in ${JSON.stringify(s)}`);
        const c = s[i]!;
        if (c === '"') {
          i++;
          break;
        }
        if (c === '\\' && i + 1 < s.length && '"\\$'.includes(s[i + 1]!)) {
          cur += s[i + 1];
          i += 2;
        } else if (c === '$') cur += expand();
        else {
          cur += c;
          i++;
        }
      }
    } else if (ch === '\\' && i + 1 < s.length) {
      cur += s[i + 1];
      i += 2;
    } else if (ch === '$') cur += expand();
    else {
      cur += ch;
      i++;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

function exposedPorts(spec: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(spec);
  if (!m) throw new InvalidChangeError(`invalid containerPort: ${spec}`);
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start < 1 || end > 65535 || end < start) throw new InvalidChangeError(`invalid containerPort: ${spec}`);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

/** Docker's `signal.ParseSignal`: a positive number or a signal name with or without `SIG`. */
export function checkSignal(sig: string): void {
  if (/^\d+$/.test(sig)) {
    if (Number(sig) === 0 || Number(sig) > 64) throw new InvalidChangeError(`Invalid signal: ${sig}`);
    return;
  }
  const name = `SIG${sig.toUpperCase().replace(/^SIG/, '')}`;
  if (!(name in constants.signals) && !/^SIGRTM(IN|AX)([+-]\d+)?$/.test(name)) throw new InvalidChangeError(`Invalid signal: ${sig}`);
}

// Go duration strings (`30s`, `1m30s`, `500ms`) → nanoseconds.
function durationNs(s: string, flag: string): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * units[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos !== s.length || s === '') throw new InvalidChangeError(`invalid argument "${s}" for "--${flag}" flag: time: invalid duration "${s}"`);
  return Math.round(total);
}

function healthcheck(rest: string): HealthConfig {
  let r = rest;
  const hc: HealthConfig = {};
  for (;;) {
    const m = /^--([a-z-]+)=(\S+)\s*/.exec(r);
    if (!m) break;
    const [, flag, value] = m as unknown as [string, string, string];
    if (flag === 'interval') hc.Interval = durationNs(value, flag);
    else if (flag === 'timeout') hc.Timeout = durationNs(value, flag);
    else if (flag === 'start-period') hc.StartPeriod = durationNs(value, flag);
    else if (flag === 'start-interval') hc.StartInterval = durationNs(value, flag);
    else if (flag === 'retries') {
      if (!/^\d+$/.test(value)) throw new InvalidChangeError(`invalid argument "${value}" for "--retries" flag`);
      hc.Retries = Number(value);
    } else throw new InvalidChangeError(`unknown flag: --${flag}`);
    r = r.slice(m[0].length);
  }
  const kw = /^(\S+)\s*/.exec(r);
  const word = kw?.[1]?.toUpperCase();
  if (word === 'NONE') {
    if (r.slice(kw![0].length).trim() || Object.keys(hc).length) throw new InvalidChangeError("HEALTHCHECK NONE takes no arguments");
    return { Test: ['NONE'] };
  }
  if (word !== 'CMD') throw new InvalidChangeError(`Unknown type ${JSON.stringify(kw?.[1] ?? '')} in HEALTHCHECK (try CMD)`);
  const cmd = r.slice(kw![0].length).trim();
  const arr = jsonArray(cmd);
  hc.Test = arr ? ['CMD', ...arr] : ['CMD-SHELL', cmd];
  return hc;
}
