import { StatusError } from './errors.js';
import { FlagValueError } from './flags.js';

/**
 * Parsers for the `run`/`create`/`update` flags whose values have a syntax of their own
 * (docker's `opts` package: weight and throttle devices, devices, GPU requests, sysctls, maps,
 * links, namespace modes). Each returns the API's shape or throws with docker's wording:
 * FlagValueError inside a flag parser (pflag adds `invalid argument "…" for "--x" flag: `),
 * StatusError(125) when the check happens after parsing, as docker's `parse()` does.
 */

/** docker's units.RAMInBytes: `512m`, `1g`, `1024k`, `100b`, plain bytes (binary units). */
export function ramInBytes(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$/i.exec(v.trim());
  if (!m) throw new FlagValueError(`invalid size: '${v}'`);
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
  return Math.floor(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}

/** A `bytes` flag (MemBytes): RAMInBytes, kept as the number of bytes. */
export function bytesFlag(v: string): number {
  return ramInBytes(v);
}

/** pflag's Int64/Int: decimal (Go's ParseInt with base 0 also takes 0x, 0o, 0b). */
export function int64Flag(v: string): number {
  const t = v.trim();
  if (/^[-+]?(0x[0-9a-f]+|0o?[0-7]+|0b[01]+|\d+)$/i.test(t)) {
    const neg = t.startsWith('-');
    const body = t.replace(/^[-+]/, '');
    const n = /^0[0-7]+$/.test(body) ? parseInt(body.slice(1), 8) : Number(body.replace(/^0o/i, '0o'));
    if (Number.isFinite(n)) return neg ? -n : n;
  }
  throw new FlagValueError(`strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
}

/** pflag's Uint64. */
export function uint64Flag(v: string): number {
  if (!/^\+?\d+$/.test(v.trim())) throw new FlagValueError(`strconv.ParseUint: parsing ${JSON.stringify(v)}: invalid syntax`);
  return Number(v);
}

/** pflag's Uint16 (`--blkio-weight`). */
export function uint16Flag(v: string): number {
  const n = uint64Flag(v);
  if (n > 65535) throw new FlagValueError(`strconv.ParseUint: parsing ${JSON.stringify(v)}: value out of range`);
  return n;
}

/** A list flag whose items are checked as they are given (docker's ListOpts with a validator). */
export function validatedList<T>(check: (v: string) => T): (v: string, previous: T[] | undefined) => T[] {
  return (v, previous) => [...(previous ?? []), check(v)];
}

/** `--blkio-weight-device /dev/sda:200` (ValidateWeightDevice). */
export function weightDevice(v: string): { Path: string; Weight: number } {
  const parts = v.split(':');
  if (parts.length !== 2) throw new FlagValueError(`bad format: ${v}`);
  if (!parts[0]!.startsWith('/dev/')) throw new FlagValueError(`bad format for device path: ${v}`);
  if (!/^\d+$/.test(parts[1]!)) throw new FlagValueError(`invalid weight for device: ${v}`);
  const w = Number(parts[1]);
  if (w > 65535 || (w > 0 && (w < 10 || w > 1000))) throw new FlagValueError(`invalid weight for device: ${v}`);
  return { Path: parts[0]!, Weight: w };
}

/** `--device-read-bps /dev/sda:1mb` (ValidateThrottleBpsDevice). */
export function throttleBpsDevice(v: string): { Path: string; Rate: number } {
  const parts = v.split(':');
  if (parts.length !== 2) throw new FlagValueError(`bad format: ${v}`);
  if (!parts[0]!.startsWith('/dev/')) throw new FlagValueError(`bad format for device path: ${v}`);
  let rate: number;
  try {
    rate = ramInBytes(parts[1]!);
  } catch {
    throw new FlagValueError(`invalid rate for device: ${v}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb`);
  }
  return { Path: parts[0]!, Rate: rate };
}

/** `--device-read-iops /dev/sda:1000` (ValidateThrottleIOpsDevice). */
export function throttleIopsDevice(v: string): { Path: string; Rate: number } {
  const parts = v.split(':');
  if (parts.length !== 2) throw new FlagValueError(`bad format: ${v}`);
  if (!parts[0]!.startsWith('/dev/')) throw new FlagValueError(`bad format for device path: ${v}`);
  if (!/^\d+$/.test(parts[1]!)) throw new FlagValueError(`invalid rate for device: ${v}. The correct format is <device-path>:<number>. Number must be a positive integer`);
  return { Path: parts[0]!, Rate: Number(parts[1]) };
}

/** `--device-cgroup-rule 'c 1:3 rwm'`. */
export function deviceCgroupRule(v: string): string {
  if (!/^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$/.test(v)) throw new FlagValueError(`invalid device cgroup format '${v}'`);
  return v;
}

/** A key=value flag (MapOpts): `k=v`, or `k` alone with an empty value. */
export function mapEntry(v: string, previous: Record<string, string> | undefined): Record<string, string> {
  const eq = v.indexOf('=');
  const out = { ...(previous ?? {}) };
  if (eq < 0) out[v] = '';
  else out[v.slice(0, eq)] = v.slice(eq + 1);
  return out;
}

const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

/** `--sysctl net.ipv4.ip_forward=1` (ValidateSysctl: namespaced sysctls only). */
export function sysctlEntry(v: string, previous: Record<string, string> | undefined): Record<string, string> {
  const eq = v.indexOf('=');
  if (eq < 0) throw new FlagValueError(`sysctl '${v}' is not allowed`);
  const key = v.slice(0, eq);
  if (!IPC_SYSCTLS.has(key) && !key.startsWith('net.') && !key.startsWith('fs.mqueue.')) throw new FlagValueError(`sysctl '${v}' is not allowed`);
  return mapEntry(v, previous);
}

/** `--link name[:alias]` (ValidateLink). */
export function linkEntry(v: string): string {
  const parts = v.split(':');
  if (parts.length > 2 || parts.some((p) => p === '')) throw new FlagValueError(`bad format for links: ${v}`);
  return v;
}

/** A CDI device name, `vendor.com/class=name`: docker sends it as a device request (API 1.45+). */
function isCdiName(v: string): boolean {
  return /^[a-z0-9][a-z0-9.-]*\/[a-zA-Z0-9][\w.-]*=[a-zA-Z0-9][\w.:-]*$/.test(v);
}

function validDeviceMode(m: string): boolean {
  return m.length > 0 && m.length <= 3 && /^[rwm]+$/.test(m) && new Set(m).size === m.length;
}

export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

export interface DeviceRequest {
  Driver: string;
  Count: number;
  DeviceIDs: string[] | null;
  Capabilities: string[][] | null;
  Options: Record<string, string>;
}

/** `--device /dev/sda[:/dev/xvda][:rwm]`, or a CDI name; docker's validateDevice + parseDevice. */
export function parseDevice(v: string): { mapping?: DeviceMapping; request?: DeviceRequest } {
  if (isCdiName(v)) return { request: { Driver: 'cdi', Count: 0, DeviceIDs: [v], Capabilities: null, Options: {} } };
  const parts = v.split(':');
  let src = '';
  let dst = '';
  let perms = 'rwm';
  switch (parts.length) {
    case 3:
      if (!validDeviceMode(parts[2]!)) throw new StatusError(125, `invalid device mode: ${parts[2]}`);
      perms = parts[2]!;
      dst = parts[1]!;
      src = parts[0]!;
      break;
    case 2:
      if (validDeviceMode(parts[1]!)) perms = parts[1]!;
      else dst = parts[1]!;
      src = parts[0]!;
      break;
    case 1:
      src = parts[0]!;
      break;
    default:
      throw new StatusError(125, `invalid device specification: ${v}`);
  }
  if (dst === '') dst = src;
  if (!dst.startsWith('/')) throw new StatusError(125, `bad format for path: ${dst}`);
  return { mapping: { PathOnHost: src, PathInContainer: dst, CgroupPermissions: perms } };
}

/** `--gpus all`, `--gpus 2`, `--gpus '"device=0,1",capabilities=compute'` (opts.GpuOpts). */
export function gpuRequest(v: string, previous: DeviceRequest[] | undefined): DeviceRequest[] {
  const req: DeviceRequest = { Driver: '', Count: 0, DeviceIDs: null, Capabilities: null, Options: {} };
  // CSV fields; a quoted field may hold commas (`"device=0,1"`).
  const fields: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of v) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      fields.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (quoted) throw new FlagValueError(`parse error on line 1, column ${v.length}: extraneous or missing " in quoted-field`);
  fields.push(cur);
  let seen = false;
  const caps: string[] = [];
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = eq < 0 ? field : field.slice(0, eq);
    const val = eq < 0 ? '' : field.slice(eq + 1);
    if (eq < 0) {
      if (seen) throw new FlagValueError(`gpu request key '${field}' must be of the form key=value`);
      seen = true;
      if (field === 'all') req.Count = -1;
      else if (/^\d+$/.test(field)) req.Count = Number(field);
      else throw new FlagValueError(`invalid count (${field}): value must be either "all" or an integer`);
      continue;
    }
    switch (key) {
      case 'driver':
        req.Driver = val;
        break;
      case 'count':
        if (val === 'all') req.Count = -1;
        else if (/^\d+$/.test(val)) req.Count = Number(val);
        else throw new FlagValueError(`invalid count (${val}): value must be either "all" or an integer`);
        break;
      case 'device':
        req.DeviceIDs = val.split(',');
        break;
      case 'capabilities':
        caps.push(...val.split(',').filter(Boolean));
        break;
      case 'options':
        for (const kv of val.split(',')) Object.assign(req.Options, mapEntry(kv, undefined));
        break;
      default:
        throw new FlagValueError(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (req.Count !== 0 && req.DeviceIDs) throw new FlagValueError('cannot set both Count and DeviceIDs on device request');
  if (!caps.includes('gpu')) caps.push('gpu');
  req.Capabilities = [caps];
  return [...(previous ?? []), req];
}

/** docker's ReadKVStrings for label files: `key=value` lines, `#` comments, blank lines skipped. */
export function parseLabelFile(text: string, file: string): string[] {
  const out: string[] = [];
  text.split(/\r?\n/).forEach((raw, n) => {
    const line = raw.replace(/^\s+/, '');
    if (!line || line.startsWith('#')) return;
    if (line.includes('\0')) throw new StatusError(125, `invalid label in ${file}:${n + 1}: contains a NUL byte`);
    out.push(line.trimEnd());
  });
  return out;
}

/** `--pid`, `--uts`, `--userns`, `--cgroupns`, `--ipc` as docker's `parse()` checks them. */
export function checkNamespaceModes(f: { pid?: string; uts?: string; userns?: string; cgroupns?: string; ipc?: string }): void {
  const pid = f.pid ?? '';
  if (!(pid === '' || pid === 'host' || /^container:.+/.test(pid))) throw new StatusError(125, '--pid: invalid PID mode');
  if (!['', 'host'].includes(f.uts ?? '')) throw new StatusError(125, '--uts: invalid UTS mode');
  if (!['', 'host'].includes(f.userns ?? '')) throw new StatusError(125, '--userns: invalid USER mode');
  if (!['', 'host', 'private'].includes(f.cgroupns ?? '')) throw new StatusError(125, '--cgroupns: invalid CGROUP mode');
  const ipc = f.ipc ?? '';
  if (!(['', 'none', 'private', 'shareable', 'host'].includes(ipc) || /^container:.+/.test(ipc))) throw new StatusError(125, '--ipc: invalid IPC mode');
}

/** `--storage-opt size=10G` (parseStorageOpts). */
export function parseStorageOpts(list: string[] | undefined): Record<string, string> | undefined {
  if (!list?.length) return undefined;
  const out: Record<string, string> = {};
  for (const o of list) {
    const eq = o.indexOf('=');
    if (eq < 0) throw new StatusError(125, 'invalid storage option');
    out[o.slice(0, eq)] = o.slice(eq + 1);
  }
  return out;
}

/** Declares `--disable-content-trust` as docker does (the default shown is true). */
export const DISABLE_CONTENT_TRUST = ['--disable-content-trust', 'Skip image verification (default true)'] as const;
