/**
 * A container's logging as the engine applies it: how big its local log file may grow and how
 * many rotated files are kept (Docker's `local` driver defaults unless its LogConfig or the
 * daemon says otherwise), and the connection to a remote log driver through the shipper.
 */
import { hostname as osHostname } from 'node:os';
import { InvalidParameterError } from '../../common/errors.js';
import type { ContainerRecord } from '../types.js';
import { localFilePolicy } from './drivers.js';
import type { LogShipper } from './shipper.js';
import type { LogSink, SinkContext } from './sink.js';

/**
 * Logs are bounded by default (a chatty container cannot fill the disk): Docker's `local`
 * log driver defaults, 5 files of 20 MiB.
 */
export const DEFAULT_LOG_MAX_SIZE = 20 * 1024 * 1024;
export const DEFAULT_LOG_MAX_FILE = 5;

/** The local file's rotation for `rec`; `defaults` are the daemon's (absent: Docker's). */
export function containerLogPolicy(rec: ContainerRecord, defaults: { maxSize?: number; maxFile?: number }): { maxSize: number; maxFile: number } {
  // CRI containers: the kubelet rotates their logs and calls ReopenContainerLog.
  if (rec.cri) return { maxSize: 0, maxFile: 1 };
  return localFilePolicy(rec.host.logConfig, {
    maxSize: defaults.maxSize ?? DEFAULT_LOG_MAX_SIZE,
    maxFile: defaults.maxFile ?? DEFAULT_LOG_MAX_FILE,
  });
}

/** Connects a container with a remote log driver to it (undefined for local drivers); a failure is a 400. */
export async function openContainerLogSink(shipper: LogShipper | undefined, rec: ContainerRecord, daemonName: string): Promise<LogSink | undefined> {
  const lc = rec.host.logConfig;
  if (!shipper) {
    if (lc && ['syslog', 'journald', 'fluentd'].includes(lc.type)) throw new InvalidParameterError(`logging driver "${lc.type}" needs the daemon's log shipper`);
    return undefined;
  }
  try {
    return await shipper.open(lc, sinkContext(rec, daemonName));
  } catch (err) {
    throw new InvalidParameterError((err as Error).message, { cause: err });
  }
}

/** What a remote log driver may put into its messages about `rec`. */
export function sinkContext(rec: ContainerRecord, daemonName: string): SinkContext {
  return {
    id: rec.id,
    name: rec.name,
    imageId: rec.imageId,
    imageName: rec.image,
    daemonName,
    labels: rec.config.labels ?? {},
    env: rec.config.env ?? [],
    hostname: osHostname(),
  };
}
