import { readFileSync } from 'node:fs';
import { InvalidParameterError } from '../common/errors.js';

/**
 * AppArmor support for `--security-opt apparmor=PROFILE`. berth applies a profile only where
 * the kernel has AppArmor enabled and the profile is loaded (berth ships no profile of its own,
 * so without the option a container runs unconfined, as Docker does on hosts without
 * AppArmor). Where AppArmor is off, a profile other than `unconfined` is refused, never
 * silently dropped: the user asked for a confinement the host cannot give.
 */
export interface AppArmorHost {
  /** /sys/module/apparmor/parameters/enabled reads "Y". */
  enabled: boolean;
  /** Names of the loaded profiles (from securityfs), when it could be read. */
  profiles?: Set<string>;
}

/** Reads the host's AppArmor state (`root` is for tests). */
export function readAppArmorHost(root = '/sys'): AppArmorHost {
  let enabled = false;
  try {
    enabled = readFileSync(`${root}/module/apparmor/parameters/enabled`, 'utf8').trim() === 'Y';
  } catch {
    enabled = false;
  }
  if (!enabled) return { enabled };
  try {
    const text = readFileSync(`${root}/kernel/security/apparmor/profiles`, 'utf8');
    // Lines look like "docker-default (enforce)".
    const profiles = new Set(text.split('\n').map((l) => l.replace(/\s+\((enforce|complain|kill|unconfined)\)\s*$/, '').trim()).filter(Boolean));
    return { enabled, profiles };
  } catch {
    return { enabled };
  }
}

/**
 * The AppArmor profile for a container's process from its `apparmor=` option: undefined for
 * none or `unconfined`, the name otherwise; refuses what this host cannot apply.
 */
export function resolveAppArmorProfile(value: string | undefined, host: AppArmorHost): string | undefined {
  if (value === undefined || value === 'unconfined') return undefined;
  if (!value) throw new InvalidParameterError('invalid --security-opt apparmor: a profile name is required');
  if (!host.enabled) {
    throw new InvalidParameterError(`--security-opt apparmor=${value}: AppArmor is not enabled on this host (use apparmor=unconfined or drop the option)`);
  }
  if (host.profiles && !host.profiles.has(value)) {
    throw new InvalidParameterError(`--security-opt apparmor=${value}: AppArmor profile "${value}" is not loaded (load it with apparmor_parser first)`);
  }
  return value;
}
