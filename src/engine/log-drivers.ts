/**
 * The logging drivers berth knows, in one table: create validates `--log-driver` and
 * `--log-opt` against it, `info` lists it, `logs` asks it whether a driver can be read back.
 * Every driver keeps conmon's log file (attach replays and follows it); `none` only makes the
 * log unreadable through `logs`, as Docker's `none` driver does.
 */
import { InvalidParameterError } from '../common/errors.js';

export interface LogDriverInfo {
  /** Options the driver accepts (`--log-opt key=value`). */
  options: readonly string[];
  /** Whether `docker logs` can read the log back. */
  readable: boolean;
}

const FILE_OPTS = ['max-size', 'max-file', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag', 'mode', 'max-buffer-size'] as const;

export const LOG_DRIVERS: Readonly<Record<string, LogDriverInfo>> = {
  'json-file': { options: FILE_OPTS, readable: true },
  local: { options: FILE_OPTS, readable: true },
  'k8s-file': { options: FILE_OPTS, readable: true },
  none: { options: [], readable: false },
};

/** The driver when none is given. */
export const DEFAULT_LOG_DRIVER = 'json-file';

/** Names listed by `docker info` (Plugins.Log). */
export function logDriverNames(): string[] {
  return Object.keys(LOG_DRIVERS).filter((n) => n !== 'k8s-file');
}

/** Throws Docker's errors for an unknown driver or an option the driver does not take. */
export function validateLogConfig(type: string, config: Record<string, string>): void {
  const name = type || DEFAULT_LOG_DRIVER;
  const driver = LOG_DRIVERS[name];
  if (!driver) throw new InvalidParameterError(`logger: no log driver named '${name}' is registered`);
  for (const k of Object.keys(config)) {
    if (!driver.options.includes(k)) throw new InvalidParameterError(`unknown log opt '${k}' for ${name} log driver`);
  }
}

/** Whether `logs` can read a container's log back (Docker: "configured logging driver does not support reading"). */
export function logDriverReadable(type: string | undefined): boolean {
  return LOG_DRIVERS[type || DEFAULT_LOG_DRIVER]?.readable ?? false;
}
