import { release } from 'node:os';
import { InvalidParameterError } from '../common/errors.js';
import type { OciSeccomp, OciSeccompArg, OciSeccompSyscall, SeccompAction } from './oci-spec.js';

/**
 * Seccomp profiles in Docker's JSON format (the format of moby's profiles/seccomp/default.json,
 * also used by containers-common's seccomp.json), as given by `--security-opt seccomp=<json>`
 * (the docker CLI reads the file and sends its content) or daemon.json's `seccomp-profile`.
 *
 * A profile is validated once when it is parsed (clear errors, nothing half-applied), then
 * resolved per container: `includes`/`excludes` are evaluated against the container's bounding
 * capabilities, the host architecture and the running kernel, `archMap` is reduced to the
 * native architecture and its sub-architectures, and `name` is folded into `names` — the
 * same resolution dockerd performs before handing the OCI form to the runtime.
 */

export interface DockerSeccompFilter {
  arches?: string[];
  caps?: string[];
  minKernel?: string;
}

export interface DockerSeccompSyscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: OciSeccompArg[];
  includes: DockerSeccompFilter;
  excludes: DockerSeccompFilter;
}

export interface DockerSeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures: string[] }[];
  flags?: string[];
  syscalls: DockerSeccompSyscall[];
}

const ACTIONS: ReadonlySet<string> = new Set([
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG',
]);
const OPS: ReadonlySet<string> = new Set([
  'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ',
]);
const FLAGS: ReadonlySet<string> = new Set(['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV']);
const ARCH_RE = /^SCMP_ARCH_[A-Z0-9_]+$/;

function fail(message: string): never {
  throw new InvalidParameterError(`invalid seccomp profile: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: unknown, where: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) fail(`${where} must be a list of strings`);
  return v as string[];
}

function action(v: unknown, where: string): SeccompAction {
  if (typeof v !== 'string' || v === '') fail(`${where} is missing`);
  if (v === 'SCMP_ACT_NOTIFY') fail(`${where}: SCMP_ACT_NOTIFY needs a seccomp listener, which berth does not provide`);
  if (!ACTIONS.has(v)) fail(`${where}: unknown action "${v}"`);
  return v as SeccompAction;
}

function errno(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 4095) fail(`${where} must be an errno number (0-4095)`);
  return v;
}

function uint64(v: unknown, where: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(`${where} must be a non-negative integer`);
  return v;
}

function filter(v: unknown, where: string): DockerSeccompFilter {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) fail(`${where} must be an object`);
  const out: DockerSeccompFilter = {};
  const arches = stringList(v['arches'], `${where}.arches`);
  const caps = stringList(v['caps'], `${where}.caps`);
  if (arches?.length) out.arches = arches;
  if (caps?.length) out.caps = caps;
  if (v['minKernel'] !== undefined && v['minKernel'] !== null && v['minKernel'] !== '') {
    const mk = v['minKernel'];
    if (typeof mk !== 'string' || parseKernel(mk) === undefined) fail(`${where}.minKernel: invalid kernel version "${String(mk)}" (expected MAJOR.MINOR)`);
    out.minKernel = mk;
  }
  return out;
}

/** Parses and validates a profile's JSON text. Throws InvalidParameterError naming the problem. */
export function parseSeccompProfile(text: string): DockerSeccompProfile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InvalidParameterError(`Decoding seccomp profile failed: ${(err as Error).message}`);
  }
  if (!isObject(raw)) fail('the profile must be a JSON object');
  const defaultAction = action(raw['defaultAction'], 'defaultAction');
  const defaultErrnoRet = errno(raw['defaultErrnoRet'], 'defaultErrnoRet');
  const architectures = stringList(raw['architectures'], 'architectures');
  for (const a of architectures ?? []) if (!ARCH_RE.test(a)) fail(`architectures: unknown architecture "${a}" (expected SCMP_ARCH_…)`);
  let archMap: DockerSeccompProfile['archMap'];
  if (raw['archMap'] !== undefined && raw['archMap'] !== null) {
    if (!Array.isArray(raw['archMap'])) fail('archMap must be a list');
    archMap = raw['archMap'].map((m, i) => {
      if (!isObject(m) || typeof m['architecture'] !== 'string' || !ARCH_RE.test(m['architecture'])) fail(`archMap[${i}].architecture must be an SCMP_ARCH_… name`);
      const subs = stringList(m['subArchitectures'], `archMap[${i}].subArchitectures`) ?? [];
      for (const s of subs) if (!ARCH_RE.test(s)) fail(`archMap[${i}].subArchitectures: unknown architecture "${s}"`);
      return { architecture: m['architecture'] as string, subArchitectures: subs };
    });
  }
  if (architectures?.length && archMap?.length) fail("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'");
  const flags = stringList(raw['flags'], 'flags');
  for (const f of flags ?? []) if (!FLAGS.has(f)) fail(`flags: unknown flag "${f}"`);
  if (raw['listenerPath']) fail('listenerPath: seccomp notification listeners are not supported by berth');

  const list = raw['syscalls'] ?? [];
  if (!Array.isArray(list)) fail('syscalls must be a list');
  const syscalls = list.map((s, i): DockerSeccompSyscall => {
    const where = `syscalls[${i}]`;
    if (!isObject(s)) fail(`${where} must be an object`);
    let names = stringList(s['names'], `${where}.names`) ?? [];
    if (s['name'] !== undefined && s['name'] !== '') {
      if (typeof s['name'] !== 'string') fail(`${where}.name must be a string`);
      if (names.length) fail(`${where}: 'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'`);
      names = [s['name']];
    }
    if (names.length === 0 || names.some((n) => !/^[a-z0-9_]+$/.test(n))) fail(`${where}.names must name at least one syscall (lowercase names such as "mkdir")`);
    const act = action(s['action'], `${where}.action`);
    const errnoRet = errno(s['errnoRet'], `${where}.errnoRet`);
    let args: OciSeccompArg[] | undefined;
    if (s['args'] !== undefined && s['args'] !== null) {
      if (!Array.isArray(s['args'])) fail(`${where}.args must be a list`);
      args = s['args'].map((a, j) => {
        const w = `${where}.args[${j}]`;
        if (!isObject(a)) fail(`${w} must be an object`);
        const index = uint64(a['index'], `${w}.index`);
        if (index > 5) fail(`${w}.index must be 0-5 (a syscall has at most six arguments)`);
        if (typeof a['op'] !== 'string' || !OPS.has(a['op'])) fail(`${w}.op: unknown operator "${String(a['op'])}"`);
        const arg: OciSeccompArg = { index, value: uint64(a['value'], `${w}.value`), op: a['op'] as OciSeccompArg['op'] };
        const two = uint64(a['valueTwo'], `${w}.valueTwo`);
        if (two) arg.valueTwo = two;
        return arg;
      });
      if (args.length === 0) args = undefined;
    }
    const out: DockerSeccompSyscall = { names, action: act, includes: filter(s['includes'], `${where}.includes`), excludes: filter(s['excludes'], `${where}.excludes`) };
    if (errnoRet !== undefined) out.errnoRet = errnoRet;
    if (args) out.args = args;
    return out;
  });
  const profile: DockerSeccompProfile = { defaultAction, syscalls };
  if (defaultErrnoRet !== undefined) profile.defaultErrnoRet = defaultErrnoRet;
  if (architectures?.length) profile.architectures = architectures;
  if (archMap?.length) profile.archMap = archMap;
  if (flags?.length) profile.flags = flags;
  return profile;
}

/** Node's `process.arch` as Go's GOARCH, the names profiles use in includes/excludes.arches. */
export function goArch(nodeArch: string = process.arch): string {
  const map: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', mips: 'mips', mipsel: 'mipsle', loong64: 'loong64' };
  return map[nodeArch] ?? nodeArch;
}

const NATIVE_TO_SECCOMP: Record<string, string> = {
  '386': 'SCMP_ARCH_X86', amd64: 'SCMP_ARCH_X86_64', arm: 'SCMP_ARCH_ARM', arm64: 'SCMP_ARCH_AARCH64', mips: 'SCMP_ARCH_MIPS',
  mipsle: 'SCMP_ARCH_MIPSEL', ppc64le: 'SCMP_ARCH_PPC64LE', s390x: 'SCMP_ARCH_S390X', riscv64: 'SCMP_ARCH_RISCV64', loong64: 'SCMP_ARCH_LOONGARCH64',
};

function parseKernel(v: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function kernelAtLeast(kernel: string, min: string): boolean {
  const k = parseKernel(kernel);
  const m = parseKernel(min);
  if (!k || !m) return false;
  return k[0] > m[0] || (k[0] === m[0] && k[1] >= m[1]);
}

export interface ResolveOptions {
  /** GOARCH-style name of the host architecture (default: this host's). */
  arch?: string;
  /** Kernel release, e.g. "6.1.0-18-amd64" (default: this host's). */
  kernel?: string;
}

/** The OCI form of `profile` for a container whose bounding set is `capabilities`. */
export function resolveSeccompProfile(profile: DockerSeccompProfile, capabilities: readonly string[], options: ResolveOptions = {}): OciSeccomp {
  const arch = options.arch ?? goArch();
  const kernel = options.kernel ?? release();
  const held = new Set(capabilities);
  const out: OciSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  let architectures = profile.architectures ? [...profile.architectures] : [];
  const native = NATIVE_TO_SECCOMP[arch];
  for (const m of profile.archMap ?? []) if (native && m.architecture === native) architectures.push(m.architecture, ...m.subArchitectures);
  architectures = [...new Set(architectures)];
  if (architectures.length) out.architectures = architectures;
  if (profile.flags) out.flags = [...profile.flags];
  const syscalls: OciSeccompSyscall[] = [];
  for (const call of profile.syscalls) {
    const ex = call.excludes;
    if (ex.arches?.includes(arch)) continue;
    if (ex.caps?.some((c) => held.has(c))) continue;
    if (ex.minKernel && kernelAtLeast(kernel, ex.minKernel)) continue;
    const inc = call.includes;
    if (inc.arches && !inc.arches.includes(arch)) continue;
    if (inc.caps && !inc.caps.every((c) => held.has(c))) continue;
    if (inc.minKernel && !kernelAtLeast(kernel, inc.minKernel)) continue;
    const s: OciSeccompSyscall = { names: [...call.names], action: call.action };
    if (call.errnoRet !== undefined) s.errnoRet = call.errnoRet;
    if (call.args) s.args = call.args.map((a) => ({ ...a }));
    syscalls.push(s);
  }
  out.syscalls = syscalls;
  return out;
}
