import { InvalidParameterError, NotImplementedError } from '../../common/errors.js';
import { parseTagTemplate } from './tag-template.js';

/**
 * The log drivers berth knows: which options each accepts, whether `logs` can read a container's
 * output, and how big the local file is kept. This table is the one place that decides whether
 * a `LogConfig` is valid (at create, and for daemon.json's `log-driver`/`log-opts` at start).
 *
 * Where lines come from: conmon is the only writer of a container's output; it writes the
 * local log file (`container.log`) for every driver, because the non-interactive attach stream
 * also reads it. For `json-file` and `local` that file is the log. For `syslog`, `journald` and
 * `fluentd` a shipper in berthd (shipper.ts) tails the file and forwards each record, and the file
 * is Docker's "dual logging" cache, read by `logs` unless `cache-disabled=true`. For `none` the
 * file is only a small attach buffer (1 MiB, one file) and `logs` refuses, as Docker does.
 */

export interface LogDriverInfo {
  readonly name: string;
  /** Driver-specific options (the common `mode`/`max-buffer-size` are checked for every driver). */
  readonly options: ReadonlySet<string>;
  /** Forwards records to somewhere else through the shipper. */
  readonly remote: boolean;
}

/** Options every driver but `none` accepts, as dockerd (logger.ValidateLogOpts). */
const COMMON = ['mode', 'max-buffer-size'];
/** Docker's dual-logging cache options, for drivers that cannot be read back. */
const CACHE = ['cache-disabled', 'cache-max-size', 'cache-max-file', 'cache-compress'];
const ATTRS = ['labels', 'labels-regex', 'env', 'env-regex', 'tag'];

const DRIVERS: readonly LogDriverInfo[] = [
  { name: 'none', options: new Set(), remote: false },
  { name: 'json-file', options: new Set(['max-size', 'max-file', 'compress', ...ATTRS]), remote: false },
  { name: 'local', options: new Set(['max-size', 'max-file', 'compress']), remote: false },
  { name: 'k8s-file', options: new Set(['max-size', 'max-file', 'compress', ...ATTRS]), remote: false },
  {
    name: 'syslog',
    options: new Set(['syslog-address', 'syslog-facility', 'syslog-format', 'syslog-tls-ca-cert', 'syslog-tls-cert', 'syslog-tls-key', 'syslog-tls-skip-verify', ...ATTRS]),
    remote: true,
  },
  { name: 'journald', options: new Set([...ATTRS]), remote: true },
  {
    name: 'fluentd',
    options: new Set([
      'fluentd-address', 'fluentd-async', 'fluentd-async-connect', 'fluentd-buffer-limit', 'fluentd-retry-wait', 'fluentd-max-retries',
      'fluentd-sub-second-precision', 'fluentd-request-ack', 'fluentd-write-timeout', ...ATTRS,
    ]),
    remote: true,
  },
];

/** Drivers Docker ships that berth does not (a clear refusal rather than "not registered"). */
const NOT_IN_BERTH = new Set(['gelf', 'awslogs', 'splunk', 'etwlogs', 'gcplogs', 'logentries']);

export function logDriverNames(): string[] {
  return DRIVERS.map((d) => d.name);
}

export function logDriver(name: string): LogDriverInfo {
  const d = DRIVERS.find((x) => x.name === name);
  if (d) return d;
  if (NOT_IN_BERTH.has(name)) throw new InvalidParameterError(`logging driver "${name}" is not supported by berth (supported: ${DRIVERS.filter((x) => x.name !== 'k8s-file').map((x) => x.name).join(', ')})`);
  throw new InvalidParameterError(`logger: no log driver named '${name}' is registered`);
}

/** Docker's size strings (`10m`, `1g`, `500k`, `1024`). */
export function parseLogSize(v: string | undefined, option = 'size'): number | undefined {
  if (v === undefined || v === '') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(v.trim());
  if (!m) throw new InvalidParameterError(`invalid value for ${option}: '${v}'`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}

function bool(config: Record<string, string>, key: string): boolean | undefined {
  const v = config[key];
  if (v === undefined || v === '') return undefined;
  if (/^(1|t|true)$/i.test(v)) return true;
  if (/^(0|f|false)$/i.test(v)) return false;
  throw new InvalidParameterError(`invalid value for ${key}: '${v}' (expected true or false)`);
}

function positiveInt(config: Record<string, string>, key: string): number | undefined {
  const v = config[key];
  if (v === undefined || v === '') return undefined;
  if (!/^[1-9]\d*$/.test(v)) throw new InvalidParameterError(`invalid value for ${key}: ${v}`);
  return Number(v);
}

const FACILITIES = ['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', '', '', '', '', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'];

/** syslog-facility as its number (default daemon). */
export function syslogFacility(v: string | undefined): number {
  if (v === undefined || v === '') return 3;
  if (/^\d+$/.test(v) && Number(v) < 24) return Number(v);
  const i = FACILITIES.indexOf(v);
  if (i < 0 || v === '') throw new InvalidParameterError(`invalid syslog facility '${v}'`);
  return i;
}

/** A parsed `syslog-address` / `fluentd-address`. */
export type LogAddress = { kind: 'tcp' | 'udp' | 'tls'; host: string; port: number } | { kind: 'unix' | 'unixgram'; path: string };

export function parseSyslogAddress(v: string | undefined): LogAddress {
  if (v === undefined || v === '') return { kind: 'unix', path: '/dev/log' };
  const m = /^(udp|tcp|tcp\+tls|unix|unixgram):\/\/(.*)$/.exec(v);
  if (!m) throw new InvalidParameterError(`unsupported scheme in syslog-address '${v}' (expected udp://, tcp://, tcp+tls://, unix:// or unixgram://)`);
  const scheme = m[1]!;
  if (scheme === 'unix' || scheme === 'unixgram') {
    if (!m[2]!.startsWith('/')) throw new InvalidParameterError(`syslog-address '${v}': expected an absolute socket path`);
    return { kind: scheme, path: m[2]! };
  }
  const hp = hostPort(m[2]!, 514, 'syslog-address');
  return { kind: scheme === 'tcp+tls' ? 'tls' : (scheme as 'tcp' | 'udp'), ...hp };
}

export function parseFluentdAddress(v: string | undefined): LogAddress {
  if (v === undefined || v === '') return { kind: 'tcp', host: '127.0.0.1', port: 24224 };
  if (v.startsWith('unix://')) {
    const path = v.slice('unix://'.length);
    if (!path.startsWith('/')) throw new InvalidParameterError(`fluentd-address '${v}': expected an absolute socket path`);
    return { kind: 'unix', path };
  }
  const rest = v.startsWith('tcp://') ? v.slice(6) : v;
  if (/^[a-z+]+:\/\//.test(rest)) throw new InvalidParameterError(`invalid fluentd-address ${v}: unsupported protocol`);
  return { kind: 'tcp', ...hostPort(rest, 24224, 'fluentd-address') };
}

function hostPort(s: string, defaultPort: number, option: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:/[\]]+)(?::(\d+))?\/?$/.exec(s);
  if (!m) throw new InvalidParameterError(`invalid ${option} '${s}': expected HOST[:PORT]`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port < 1 || port > 65535) throw new InvalidParameterError(`invalid ${option} '${s}': port out of range`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/**
 * Validates a driver and its options as dockerd does at create (and at daemon start for the
 * defaults). Unknown options are refused with Docker's wording.
 */
export function validateLogConfig(type: string, config: Record<string, string>): void {
  const d = logDriver(type);
  if (d.name === 'none') {
    const extra = Object.keys(config);
    if (extra.length) throw new InvalidParameterError(`unknown log opt '${extra[0]}' for none log driver`);
    return;
  }
  const mode = config['mode'];
  if (mode !== undefined && mode !== '' && mode !== 'blocking' && mode !== 'non-blocking') throw new InvalidParameterError(`logger: logging mode not supported: ${mode}`);
  if (config['max-buffer-size'] !== undefined) {
    if (mode !== 'non-blocking') throw new InvalidParameterError("logger: max-buffer-size option is only supported with 'mode=non-blocking'");
    parseLogSize(config['max-buffer-size'], 'max-buffer-size');
  }
  for (const k of Object.keys(config)) {
    if (COMMON.includes(k) || d.options.has(k) || (d.remote && CACHE.includes(k))) continue;
    throw new InvalidParameterError(d.name === 'local' ? `unknown log opt '${k}' for log driver local` : `unknown log opt '${k}' for ${d.name} log driver`);
  }
  parseLogSize(config['max-size'], 'max-size');
  positiveInt(config, 'max-file');
  // Rotated files are kept uncompressed (log-rotation.ts): asking for compression is refused, not ignored.
  for (const k of ['compress', 'cache-compress']) {
    if (bool(config, k)) throw new InvalidParameterError(`${k}=true is not supported by berth: rotated log files are kept uncompressed`);
  }
  if (d.remote) {
    bool(config, 'cache-disabled');
    parseLogSize(config['cache-max-size'], 'cache-max-size');
    positiveInt(config, 'cache-max-file');
  }
  for (const k of ['labels-regex', 'env-regex']) {
    if (config[k] === undefined) continue;
    try {
      new RegExp(config[k]!);
    } catch (err) {
      throw new InvalidParameterError(`invalid value for ${k}: ${(err as Error).message}`);
    }
  }
  if (config['tag'] !== undefined) parseTagTemplate(config['tag']);
  if (d.name === 'syslog') {
    const addr = parseSyslogAddress(config['syslog-address']);
    syslogFacility(config['syslog-facility']);
    const f = config['syslog-format'];
    if (f !== undefined && !['', 'rfc3164', 'rfc5424', 'rfc5424micro'].includes(f)) throw new InvalidParameterError(`Invalid syslog format: ${f}`);
    bool(config, 'syslog-tls-skip-verify');
    if (addr.kind !== 'tls' && ['syslog-tls-ca-cert', 'syslog-tls-cert', 'syslog-tls-key', 'syslog-tls-skip-verify'].some((k) => config[k] !== undefined)) {
      throw new InvalidParameterError('syslog-tls-* options need a tcp+tls:// syslog-address');
    }
  }
  if (d.name === 'fluentd') {
    parseFluentdAddress(config['fluentd-address']);
    for (const k of ['fluentd-async', 'fluentd-async-connect', 'fluentd-sub-second-precision', 'fluentd-request-ack']) bool(config, k);
    positiveInt(config, 'fluentd-buffer-limit');
    positiveInt(config, 'fluentd-max-retries');
    for (const k of ['fluentd-retry-wait', 'fluentd-write-timeout']) if (config[k] !== undefined) parseDuration(config[k]!, k);
  }
}

/** Go-style durations as the fluentd options take them (`1s`, `500ms`, `2m`); milliseconds. */
export function parseDuration(v: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v);
  if (!m) throw new InvalidParameterError(`invalid value for ${option}: '${v}' (expected a duration such as 1s or 500ms)`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

/**
 * Docker's merge of a container's LogConfig with the daemon's default (mergeAndVerifyLogConfig):
 * an empty type takes the daemon's driver, and the daemon's options fill in what the container
 * did not set when both name the same driver.
 */
export function mergeLogConfig(
  lc: { type: string; config: Record<string, string> } | undefined,
  daemon: { type: string; config: Record<string, string> },
): { type: string; config: Record<string, string> } {
  const type = lc?.type || daemon.type;
  const config = { ...(lc?.config ?? {}) };
  if (type === daemon.type) for (const [k, v] of Object.entries(daemon.config)) if (!(k in config)) config[k] = v;
  return { type, config };
}

/** Whether `logs` can read this container's output (Docker's ErrReadLogsNotSupported otherwise). */
export function assertReadable(lc: { type: string; config: Record<string, string> } | undefined): void {
  const type = lc?.type || 'json-file';
  const d = DRIVERS.find((x) => x.name === type);
  const cacheDisabled = d?.remote && /^(1|t|true)$/i.test(lc?.config['cache-disabled'] ?? '');
  if (type === 'none' || cacheDisabled) throw new NotImplementedError('configured logging driver does not support reading');
}

/** How the local file is kept: json-file's, local's and the dual-logging cache's defaults differ. */
export function localFilePolicy(
  lc: { type: string; config: Record<string, string> } | undefined,
  defaults: { maxSize: number; maxFile: number },
): { maxSize: number; maxFile: number } {
  const type = lc?.type || 'json-file';
  const c = lc?.config ?? {};
  if (type === 'none') return { maxSize: 1024 * 1024, maxFile: 1 };
  const d = DRIVERS.find((x) => x.name === type);
  if (d?.remote) {
    if (/^(1|t|true)$/i.test(c['cache-disabled'] ?? '')) return { maxSize: 1024 * 1024, maxFile: 1 };
    return { maxSize: parseLogSize(c['cache-max-size']) ?? 20 * 1024 * 1024, maxFile: c['cache-max-file'] !== undefined ? Number(c['cache-max-file']) : 5 };
  }
  if (type === 'local') return { maxSize: parseLogSize(c['max-size']) ?? 20 * 1024 * 1024, maxFile: c['max-file'] !== undefined ? Number(c['max-file']) : 5 };
  return { maxSize: parseLogSize(c['max-size']) ?? defaults.maxSize, maxFile: c['max-file'] !== undefined ? Number(c['max-file']) : defaults.maxFile };
}
