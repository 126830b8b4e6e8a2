import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseEnvFile } from './env-file.js';
import { ComposeFailure, EXIT_NO_PROJECT } from './errors.js';
import { interpolateTree } from './interpolate.js';
import { mergeTrees } from './merge.js';
import { validateComposeFile } from './validate.js';
import { COMPOSE_TAGS, OverrideMarker, ResetMarker, stripMarkers } from './yaml-tags.js';
import { shellSplit } from './units.js';
import { HANDLED_SERVICE_KEYS } from './convert.js';
import type { NetworkConfig, Project, Service, VolumeConfig } from './model.js';

/**
 * Loads a compose project the way Docker Compose v2 does: finds the files (or takes `-f`),
 * reads `.env` / `--env-file`, parses YAML (anchors, merge keys, `!reset`/`!override`),
 * interpolates variables, validates each file against the compose specification's schema,
 * resolves `extends`, merges the files in order, normalises every service (short syntaxes to
 * long ones, relative paths to absolute), applies profiles and names the project.
 */

export class ComposeLoadError extends ComposeFailure {
  readonly code = 'BERTH_ERR_COMPOSE_LOAD';
  constructor(message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options);
    this.name = 'ComposeLoadError';
  }
}

export const COMPOSE_FILE_NAMES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];
const OVERRIDE_NAMES = ['compose.override.yaml', 'compose.override.yml', 'docker-compose.override.yml', 'docker-compose.override.yaml'];

export interface LoadOptions {
  /** `-f` files, in order (`-` is not supported). */
  files?: string[];
  projectName?: string;
  projectDirectory?: string;
  envFiles?: string[];
  profiles?: string[];
  /** The process environment. */
  env: Record<string, string | undefined>;
  cwd: string;
  /** Services named on the command line: enabled whatever their profiles. */
  services?: string[];
  warn?: (message: string) => void;
}

type Tree = Record<string, unknown>;

function isMap(v: unknown): v is Tree {
  return !!v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof ResetMarker) && !(v instanceof OverrideMarker);
}

/** Finds the compose file in `dir` or its parents (compose's lookup); undefined when none. */
export function findComposeFile(dir: string): { file: string; override?: string } | undefined {
  let d = resolve(dir);
  for (;;) {
    for (const name of COMPOSE_FILE_NAMES) {
      const f = join(d, name);
      if (existsSync(f)) {
        const override = OVERRIDE_NAMES.map((n) => join(d, n)).find((o) => existsSync(o));
        return { file: f, override };
      }
    }
    const up = dirname(d);
    if (up === d) return undefined;
    d = up;
  }
}

/** Docker Compose's normalisation of a directory name into a project name. */
export function normalizeProjectName(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[^a-z0-9]+/, '');
}

const VALID_NAME = /^[a-z0-9][a-z0-9_-]*$/;

function invalidName(name: string): ComposeLoadError {
  return new ComposeLoadError(
    `invalid project name ${JSON.stringify(name)}: must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number`,
    { exitCode: EXIT_NO_PROJECT },
  );
}

export function loadProject(options: LoadOptions): Project {
  const warn = options.warn ?? (() => {});
  if (options.projectName !== undefined && !VALID_NAME.test(options.projectName)) throw invalidName(options.projectName);
  const osEnv = options.env;
  // Files: -f, else COMPOSE_FILE, else lookup from the project directory or cwd upwards.
  let files = (options.files ?? []).map((f) => resolve(options.cwd, f));
  const startDir = options.projectDirectory ? resolve(options.cwd, options.projectDirectory) : options.cwd;
  // .env in the project directory (or the working directory before files are known).
  const preEnv = readDotEnv(options, startDir, osEnv);
  const envLookup = { ...preEnv, ...osEnv };
  if (files.length === 0 && envLookup.COMPOSE_FILE) {
    const sep = envLookup.COMPOSE_PATH_SEPARATOR || ':';
    files = envLookup.COMPOSE_FILE.split(sep).filter(Boolean).map((f) => resolve(startDir, f));
  }
  if (files.length === 0) {
    const found = findComposeFile(startDir);
    if (!found) throw new ComposeLoadError('no configuration file provided: not found', { exitCode: EXIT_NO_PROJECT });
    files = [found.file, ...(found.override ? [found.override] : [])];
  }
  for (const f of files) {
    if (!existsSync(f)) throw new ComposeLoadError(`open ${f}: no such file or directory`);
  }
  const workingDir = options.projectDirectory ? resolve(options.cwd, options.projectDirectory) : dirname(files[0]!);
  const fileEnv = workingDir === startDir ? preEnv : readDotEnv(options, workingDir, osEnv);
  const env: Record<string, string | undefined> = { ...fileEnv, ...osEnv };

  const warned = new Set<string>();
  const interp = {
    env,
    warn: (name: string) => {
      if (warned.has(name)) return;
      warned.add(name);
      warn(`The "${name}" variable is not set. Defaulting to a blank string.`);
    },
  };

  let merged: Tree = {};
  for (const file of files) {
    const tree = readComposeFile(file, interp);
    const withExtends = resolveExtends(tree, file, interp, new Set());
    merged = mergeTrees(merged, canonical(withExtends, dirname(file)), []) as Tree;
  }
  merged = stripMarkers(merged) as Tree;

  // What berth compose cannot honour is refused (it would change what runs) or reported.
  for (const key of ['include', 'secrets', 'configs']) {
    if (merged[key] !== undefined) throw new ComposeLoadError(`${key}: not supported by berth compose`);
  }
  for (const [sname, svc] of Object.entries((merged.services ?? {}) as Record<string, Tree>)) {
    for (const key of ['secrets', 'configs']) if (svc?.[key] !== undefined) throw new ComposeLoadError(`services.${sname}.${key}: not supported by berth compose`);
    for (const key of Object.keys(svc ?? {})) {
      if (!key.startsWith('x-') && !HANDLED_SERVICE_KEYS.has(key)) warn(`services.${sname}: \`${key}\` is not supported by berth compose and is ignored`);
    }
  }

  // Project name: -p, COMPOSE_PROJECT_NAME, top-level name, directory name.
  let name: string;
  const explicit = options.projectName ?? env.COMPOSE_PROJECT_NAME ?? (typeof merged.name === 'string' && merged.name ? merged.name : undefined);
  if (explicit !== undefined) {
    if (!VALID_NAME.test(explicit)) throw invalidName(explicit);
    name = explicit;
  } else {
    name = normalizeProjectName(basename(workingDir));
    if (!name) throw new ComposeLoadError(`project name must not be empty: directory ${JSON.stringify(basename(workingDir))} gives none`);
  }

  const profiles = options.profiles?.length ? options.profiles : (env.COMPOSE_PROFILES ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const all: Record<string, Service> = {};
  const rawServices = (merged.services ?? {}) as Record<string, Tree>;
  for (const [sname, raw] of Object.entries(rawServices)) {
    all[sname] = normalizeService(sname, raw ?? {}, { workingDir, env, name });
  }
  // Profiles: a service with none is always on; one with profiles needs one enabled, or to be
  // named on the command line (then its dependencies come too).
  const active = new Set<string>();
  for (const [sname, s] of Object.entries(all)) {
    if (!s.profiles?.length || s.profiles.some((p) => profiles.includes(p) || p === '*') || profiles.includes('*')) active.add(sname);
  }
  const queue = [...(options.services ?? [])].filter((s) => all[s]);
  for (const s of queue) active.add(s);
  while (queue.length) {
    const s = queue.pop()!;
    for (const dep of Object.keys(all[s]!.depends_on ?? {})) {
      if (!active.has(dep) && all[dep]) {
        active.add(dep);
        queue.push(dep);
      }
    }
  }
  const services: Record<string, Service> = {};
  const disabled: Record<string, Service> = {};
  for (const [sname, s] of Object.entries(all)) (active.has(sname) ? services : disabled)[sname] = s;
  for (const s of Object.values(services)) {
    for (const [dep, d] of Object.entries(s.depends_on ?? {})) {
      if (!services[dep] && d.required !== false) {
        if (disabled[dep]) {
          throw new ComposeLoadError(`service "${dep}" was pulled in as dependency of "${s.name}" but is not enabled by the active profiles. You may fix this by adding a common profile to "${dep}" and "${s.name}"`);
        }
        throw new ComposeLoadError(`service "${s.name}" depends on undefined service "${dep}": invalid compose project`);
      }
    }
  }

  const networks: Record<string, NetworkConfig> = {};
  for (const [k, v] of Object.entries((merged.networks ?? {}) as Record<string, Tree | null>)) networks[k] = normalizeNetwork(k, v ?? {}, name);
  const usesDefault = Object.values(services).some((s) => s.networks && 'default' in s.networks);
  if (usesDefault && !networks.default) networks.default = { name: `${name}_default`, external: false };
  for (const s of Object.values(services)) {
    for (const n of Object.keys(s.networks ?? {})) {
      if (!networks[n]) throw new ComposeLoadError(`service "${s.name}" refers to undefined network ${n}: invalid compose project`);
    }
  }
  const volumes: Record<string, VolumeConfig> = {};
  for (const [k, v] of Object.entries((merged.volumes ?? {}) as Record<string, Tree | null>)) volumes[k] = normalizeVolume(k, v ?? {}, name);
  for (const s of Object.values(services)) {
    for (const m of s.volumes ?? []) {
      if (m.type === 'volume' && m.source && !volumes[m.source]) throw new ComposeLoadError(`service "${s.name}" refers to undefined volume ${m.source}: invalid compose project`);
    }
  }
  return { name, workingDir, configFiles: files, services, disabledServices: disabled, networks, volumes, environment: env, profiles };
}

/** A project known only by name (no compose file): its resources are found by label. */
export function emptyProject(name: string, cwd: string, env: Record<string, string | undefined>): Project {
  if (!VALID_NAME.test(name)) throw invalidName(name);
  return { name, workingDir: cwd, configFiles: [], services: {}, disabledServices: {}, networks: {}, volumes: {}, environment: env, profiles: [], fromLabels: true };
}

function readDotEnv(options: LoadOptions, dir: string, osEnv: Record<string, string | undefined>): Record<string, string> {
  const list = options.envFiles?.length ? options.envFiles.map((f) => resolve(options.cwd, f)) : [join(dir, '.env')];
  const out: Record<string, string> = {};
  for (const f of list) {
    let text: string;
    try {
      if (!statSync(f).isFile()) continue;
      text = readFileSync(f, 'utf8');
    } catch (err) {
      if (options.envFiles?.length) throw new ComposeLoadError(`couldn't find env file: ${f}`, { cause: err });
      continue;
    }
    try {
      Object.assign(out, parseEnvFile(text, { lookup: { ...osEnv, ...out }, file: f }));
    } catch (err) {
      throw new ComposeLoadError((err as Error).message, { cause: err });
    }
  }
  return out;
}

function readComposeFile(file: string, interp: { env: Record<string, string | undefined>; warn: (n: string) => void }): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ComposeLoadError(`open ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { merge: true, customTags: COMPOSE_TAGS, maxAliasCount: 10000, uniqueKeys: true });
  } catch (err) {
    throw new ComposeLoadError(`yaml: ${file}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isMap(doc)) throw new ComposeLoadError(`${file}: top-level object must be a mapping`);
  let tree: Tree;
  try {
    tree = interpolateTree(doc, interp) as Tree;
  } catch (err) {
    throw new ComposeLoadError(`${(err as Error).message}`, { cause: err });
  }
  try {
    validateComposeFile(stripMarkers(tree), file);
  } catch (err) {
    throw new ComposeLoadError((err as Error).message, { cause: err });
  }
  return tree;
}

/** Resolves `extends` in every service of `tree` (a file at `file`). */
function resolveExtends(tree: Tree, file: string, interp: { env: Record<string, string | undefined>; warn: (n: string) => void }, seen: Set<string>): Tree {
  const services = tree.services;
  if (!isMap(services)) return tree;
  const out: Tree = {};
  const cache = new Map<string, Tree>();
  const resolveOne = (sname: string, svcs: Tree, f: string, chain: Set<string>): Tree => {
    const svc = svcs[sname];
    if (!isMap(svc)) return (svc ?? {}) as Tree;
    const ext = svc.extends;
    if (ext === undefined) return svc;
    const spec = typeof ext === 'string' ? { service: ext } : (ext as { service: string; file?: string });
    const key = `${f}#${sname}`;
    if (chain.has(key)) throw new ComposeLoadError(`circular reference with extends in service "${sname}"`);
    const nextChain = new Set(chain).add(key);
    let baseFile = f;
    let baseServices = svcs;
    if (spec.file) {
      baseFile = resolve(dirname(f), spec.file);
      let t = cache.get(baseFile);
      if (!t) {
        t = readComposeFile(baseFile, interp);
        cache.set(baseFile, t);
      }
      baseServices = (t.services ?? {}) as Tree;
    }
    if (!isMap(baseServices[spec.service]) && baseServices[spec.service] === undefined) {
      throw new ComposeLoadError(`cannot extend service "${sname}" in ${f}: service "${spec.service}" not found in ${baseFile}`);
    }
    let base = resolveOne(spec.service, baseServices, baseFile, nextChain);
    base = canonicalService(base, dirname(baseFile));
    const { extends: _drop, ...rest } = svc;
    void _drop;
    return mergeTrees(base, canonicalService(rest, dirname(f)), ['services', sname]) as Tree;
  };
  for (const sname of Object.keys(services)) out[sname] = resolveOne(sname, services, file, seen);
  return { ...tree, services: out };
}

/** Lists that may be maps become maps; relative paths become absolute (against `dir`). */
function canonical(tree: Tree, dir: string): Tree {
  const out: Tree = { ...tree };
  if (isMap(tree.services)) {
    const s: Tree = {};
    for (const [k, v] of Object.entries(tree.services)) s[k] = isMap(v) ? canonicalService(v, dir) : v;
    out.services = s;
  }
  return out;
}

function listToMap(v: unknown, sep = '='): unknown {
  if (!Array.isArray(v)) return v;
  const out: Tree = {};
  for (const item of v) {
    const s = String(item);
    const i = s.indexOf(sep);
    if (i < 0) out[s] = null;
    else out[s.slice(0, i)] = s.slice(i + 1);
  }
  return out;
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p;
}

function absPath(p: string, dir: string): string {
  const e = expandHome(p);
  return isAbsolute(e) ? e : resolve(dir, e);
}

function canonicalService(svc: Tree, dir: string): Tree {
  const s: Tree = { ...svc };
  if (Array.isArray(s.environment)) s.environment = listToMap(s.environment);
  if (Array.isArray(s.labels)) s.labels = listToMap(s.labels);
  if (Array.isArray(s.annotations)) s.annotations = listToMap(s.annotations);
  if (Array.isArray(s.networks)) s.networks = Object.fromEntries((s.networks as string[]).map((n) => [n, null]));
  if (Array.isArray(s.depends_on)) {
    s.depends_on = Object.fromEntries((s.depends_on as string[]).map((n) => [n, { condition: 'service_started', required: true }]));
  }
  if (typeof s.build === 'string') s.build = { context: s.build };
  if (isMap(s.build)) {
    const b: Tree = { ...s.build };
    if (Array.isArray(b.args)) b.args = listToMap(b.args);
    if (typeof b.context === 'string' && !/^[a-z]+:\/\//.test(b.context) && !b.context.startsWith('git@')) b.context = absPath(b.context, dir);
    else if (b.context === undefined) b.context = dir;
    s.build = b;
  }
  if (typeof s.env_file === 'string') s.env_file = [s.env_file];
  if (Array.isArray(s.env_file)) {
    s.env_file = s.env_file.map((e) => (typeof e === 'string' ? { path: absPath(e, dir), required: true } : { required: true, ...(e as Tree), path: absPath(String((e as Tree).path), dir) }));
  }
  if (Array.isArray(s.volumes)) {
    s.volumes = s.volumes.map((v) => (typeof v === 'string' ? parseVolumeShort(v, dir) : isMap(v) && v.type === 'bind' && typeof v.source === 'string' ? { ...v, source: absPath(v.source, dir) } : v));
  }
  if (Array.isArray(s.ports)) s.ports = s.ports.flatMap((p) => (isMap(p) ? [longPort(p)] : parsePortShort(String(p))));
  if (isMap(s.extra_hosts)) s.extra_hosts = Object.entries(s.extra_hosts).map(([h, ip]) => `${h}:${ip}`);
  for (const k of ['dns', 'dns_search', 'tmpfs']) if (typeof s[k] === 'string') s[k] = [s[k]];
  return s;
}

/** `[host:]src:dst[:mode]` or `dst` → the long syntax. */
function parseVolumeShort(spec: string, dir: string): Tree {
  const parts = spec.split(':');
  if (parts.length === 1) return { type: 'volume', target: parts[0] };
  const [src, target, mode] = parts as [string, string, string?];
  const isPath = src.startsWith('/') || src.startsWith('.') || src.startsWith('~');
  const m: Tree = isPath ? { type: 'bind', source: absPath(src, dir), target, bind: { create_host_path: true } } : { type: 'volume', source: src, target, volume: {} };
  if (mode) {
    const opts = mode.split(',');
    if (opts.includes('ro')) m.read_only = true;
    const prop = opts.find((o) => /^r?[sp]?(shared|slave|private)$/.test(o));
    if (prop && m.type === 'bind') m.bind = { ...(m.bind as Tree), propagation: prop };
  }
  return m;
}

function longPort(p: Tree): Tree {
  const target = Number(p.target);
  if (!Number.isInteger(target) || target < 1 || target > 65535) throw new ComposeLoadError(`invalid port target ${JSON.stringify(p.target)}: must be a number between 1 and 65535`);
  return { mode: 'ingress', protocol: 'tcp', ...p, target, ...(p.published !== undefined ? { published: String(p.published) } : {}) };
}

/** `[ip:][published:]target[/proto]` with ranges → long syntax entries. */
export function parsePortShort(spec: string): Tree[] {
  let s = spec;
  let protocol = 'tcp';
  const slash = s.lastIndexOf('/');
  if (slash >= 0) {
    protocol = s.slice(slash + 1);
    s = s.slice(0, slash);
  }
  let hostIp: string | undefined;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(s);
  if (v6) {
    hostIp = v6[1];
    s = v6[2]!;
  }
  const parts = s.split(':');
  let published: string | undefined;
  let target: string;
  if (parts.length === 1) target = parts[0]!;
  else if (parts.length === 2) [published, target] = parts as [string, string];
  else {
    hostIp = parts.slice(0, -2).join(':');
    published = parts[parts.length - 2];
    target = parts[parts.length - 1]!;
  }
  const range = (r: string): [number, number] => {
    const [a, b] = r.split('-');
    const lo = Number(a);
    const hi = b === undefined ? lo : Number(b);
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi > 65535 || hi < lo) throw new ComposeLoadError(`invalid port ${JSON.stringify(spec)}`);
    return [lo, hi];
  };
  const [t0, t1] = range(target);
  const pub = published ? range(published) : undefined;
  const out: Tree[] = [];
  for (let i = 0; i <= t1 - t0; i++) {
    const e: Tree = { mode: 'ingress', target: t0 + i, protocol };
    if (hostIp) e.host_ip = hostIp;
    if (pub) e.published = String(pub[0] === pub[1] && t1 > t0 ? pub[0] : pub[0] + i);
    if (pub && pub[1] > pub[0] && t1 === t0) e.published = `${pub[0]}-${pub[1]}`;
    out.push(e);
  }
  return out;
}

function normalizeService(name: string, raw: Tree, ctx: { workingDir: string; env: Record<string, string | undefined>; name: string }): Service {
  const s = canonicalService(raw, ctx.workingDir) as Tree & Service;
  s.name = name;
  // env_file first, environment over it; `KEY` alone takes the value from the environment.
  const environment: Record<string, string | null> = {};
  for (const ef of (s.env_file ?? []) as Array<{ path: string; required?: boolean }>) {
    let text: string;
    try {
      text = readFileSync(ef.path, 'utf8');
    } catch (err) {
      if (ef.required === false) continue;
      throw new ComposeLoadError(`env file ${ef.path} not found: stat ${ef.path}: no such file or directory`, { cause: err });
    }
    Object.assign(environment, parseEnvFile(text, { lookup: ctx.env, file: ef.path }));
  }
  for (const [k, v] of Object.entries((s.environment ?? {}) as Record<string, unknown>)) {
    if (v === null || v === undefined) {
      const fromEnv = ctx.env[k];
      environment[k] = fromEnv ?? null;
    } else environment[k] = String(v);
  }
  delete (s as Tree).env_file;
  if (Object.keys(environment).length) s.environment = environment;
  else delete (s as Tree).environment;
  if (s.labels) s.labels = Object.fromEntries(Object.entries(s.labels).map(([k, v]) => [k, v === null ? '' : String(v)]));
  if (typeof s.command === 'string') s.command = shellSplit(s.command);
  if (typeof s.entrypoint === 'string') s.entrypoint = shellSplit(s.entrypoint);
  if (s.healthcheck && typeof s.healthcheck.test === 'string') s.healthcheck.test = ['CMD-SHELL', s.healthcheck.test];
  if (s.depends_on) {
    for (const [k, d] of Object.entries(s.depends_on)) s.depends_on[k] = { ...{ condition: 'service_started' as const, required: true }, ...(d ?? {}) };
  }
  if (!s.network_mode && !s.networks) s.networks = { default: null };
  if (s.network_mode && s.networks) throw new ComposeLoadError(`service ${name} declares mutually exclusive \`network_mode\` and \`networks\`: invalid compose project`);
  const replicas = (s.deploy as { replicas?: number } | undefined)?.replicas;
  if (s.scale !== undefined && replicas !== undefined && s.scale !== replicas) {
    throw new ComposeLoadError(`services.${name}: can't set distinct values on 'scale' and 'deploy.replicas'`);
  }
  s.scale = s.scale ?? replicas ?? 1;
  if (!s.image && !s.build) throw new ComposeLoadError(`service "${name}" has neither an image nor a build context specified: invalid compose project`);
  if (s.ulimits) {
    for (const [k, v] of Object.entries(s.ulimits)) if (typeof v === 'number' || typeof v === 'string') s.ulimits[k] = { soft: Number(v), hard: Number(v) };
  }
  if (s.container_name && s.scale > 1) throw new ComposeLoadError(`services.${name}: can't set container_name and ${name} as container name must be unique: invalid compose project`);
  return s;
}

function normalizeNetwork(key: string, raw: Tree, project: string): NetworkConfig {
  const ext = raw.external;
  const external = ext === true || isMap(ext);
  const extName = isMap(ext) && typeof ext.name === 'string' ? ext.name : undefined;
  const name = typeof raw.name === 'string' ? raw.name : extName ?? (external ? key : `${project}_${key}`);
  return { ...raw, name, external } as NetworkConfig;
}

function normalizeVolume(key: string, raw: Tree, project: string): VolumeConfig {
  const ext = raw.external;
  const external = ext === true || isMap(ext);
  const extName = isMap(ext) && typeof ext.name === 'string' ? ext.name : undefined;
  const name = typeof raw.name === 'string' ? raw.name : extName ?? (external ? key : `${project}_${key}`);
  return { ...raw, name, external } as VolumeConfig;
}
