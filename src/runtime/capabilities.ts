import { readFileSync } from 'node:fs';
import { InvalidParameterError } from '../common/errors.js';

/** Linux capabilities by number (include/uapi/linux/capability.h), as OCI spells them. */
export const CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', // 0
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL', // 5
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE', // 10
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', // 15
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', // 20
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME', // 25
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL', // 30
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM', // 35
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE', // 40
];

/** Docker's default capability set for unprivileged containers. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Normalizes a Docker `--cap-add` value: `net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN` → `CAP_NET_ADMIN`; `all` → `ALL`. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL' || upper === 'CAP_ALL') return 'ALL';
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!CAPABILITIES.includes(full)) throw new InvalidParameterError(`invalid capability: ${name}`);
  return full;
}

/** Capability names whose bits are set in a hex mask such as CapBnd from /proc/<pid>/status. */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex.trim()}`);
  const out: string[] = [];
  CAPABILITIES.forEach((name, bit) => {
    if ((mask >> BigInt(bit)) & 1n) out.push(name);
  });
  return out;
}

/** What the daemon itself may hand to a container; a container asking for more fails with EPERM. */
export interface HostLimits {
  /** The daemon's bounding capability set (CapBnd). */
  capabilities: readonly string[];
  /** The daemon's own RLIMIT_NOFILE hard limit. */
  nofileHard: number;
}

let cachedLimits: HostLimits | undefined;

/** Reads (once) the daemon's capability bounding set and open-files hard limit from /proc/self. */
export function hostLimits(): HostLimits {
  if (cachedLimits) return cachedLimits;
  const status = readFileSync('/proc/self/status', 'utf8');
  const bnd = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  const capabilities = bnd ? capabilitiesFromMask(bnd) : [...CAPABILITIES];
  let nofileHard = 1048576;
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
    if (m && m[2] !== 'unlimited') nofileHard = Number(m[2]);
  } catch {
    // keep the default
  }
  cachedLimits = { capabilities, nofileHard };
  return cachedLimits;
}
