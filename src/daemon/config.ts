import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { InvalidParameterError } from '../common/errors.js';

/** berthd's settings, from flags over `/etc/berth/daemon.json` over defaults. */
export interface DaemonConfig {
  dataRoot: string;
  execRoot: string;
  hosts: string[];
  runtime: 'crun' | 'runc';
  pidfile: string;
  debug: boolean;
  group: string;
  /** Parent cgroup of every container (cgroupfs path), Docker's --cgroup-parent. */
  cgroupParent: string;
  logOpts: { 'max-size'?: string; 'max-file'?: string };
}

const DEFAULTS = {
  dataRoot: '/var/lib/berth',
  execRoot: '/run/berth',
  configFile: '/etc/berth/daemon.json',
};

const FILE_KEYS = new Set(['data-root', 'exec-root', 'hosts', 'runtime', 'default-runtime', 'pidfile', 'debug', 'group', 'log-opts', 'log-driver', 'cgroup-parent']);

/** Parses argv (without node and script) and the config file into a DaemonConfig. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const cmd = new Command('berthd')
    .description('berth daemon: serves the Docker Engine API')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .option('--data-root <dir>', `root directory of persistent state (default "${DEFAULTS.dataRoot}")`)
    .option('--exec-root <dir>', `root directory for execution state files (default "${DEFAULTS.execRoot}")`)
    .option('-H, --host <address...>', 'daemon socket(s) to listen on (unix:///path)')
    .addOption(new Option('--runtime <name>', 'OCI runtime for containers').choices(['crun', 'runc']))
    .option('-p, --pidfile <path>', 'path to use for the daemon PID file')
    .option('--config-file <path>', 'daemon configuration file', env['BERTH_CONFIG_FILE'] ?? DEFAULTS.configFile)
    .option('-G, --group <name>', 'group for the unix socket', 'berth')
    .option('--cgroup-parent <path>', 'parent cgroup for all containers (default "/berth")')
    .option('-D, --debug', 'enable debug logging')
    .option('--log-opt <k=v...>', 'default log driver options for containers (max-size, max-file)');
  cmd.parse(argv, { from: 'user' });
  const o = cmd.opts<{
    dataRoot?: string; execRoot?: string; host?: string[]; runtime?: 'crun' | 'runc'; pidfile?: string;
    configFile: string; group: string; debug?: boolean; logOpt?: string[]; cgroupParent?: string;
  }>();
  const file = readConfigFile(o.configFile, cmd.getOptionValueSource('configFile') === 'cli');
  const execRoot = o.execRoot ?? (file['exec-root'] as string | undefined) ?? DEFAULTS.execRoot;
  const logOpts: DaemonConfig['logOpts'] = { ...((file['log-opts'] as DaemonConfig['logOpts']) ?? {}) };
  for (const kv of o.logOpt ?? []) {
    const i = kv.indexOf('=');
    if (i < 0) throw new InvalidParameterError(`invalid --log-opt: ${kv}`);
    (logOpts as Record<string, string>)[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const runtime = o.runtime ?? (file['runtime'] as string | undefined) ?? (file['default-runtime'] as string | undefined) ?? 'crun';
  if (runtime !== 'crun' && runtime !== 'runc') throw new InvalidParameterError(`unknown runtime "${runtime}": choose crun or runc`);
  const hosts = o.host ?? (file['hosts'] as string[] | undefined) ?? [`unix://${execRoot}/berth.sock`];
  for (const h of hosts) {
    if (!h.startsWith('unix://')) throw new InvalidParameterError(`unsupported host address "${h}": only unix:// sockets are supported so far`);
  }
  return {
    dataRoot: o.dataRoot ?? (file['data-root'] as string | undefined) ?? DEFAULTS.dataRoot,
    execRoot,
    hosts,
    runtime,
    pidfile: o.pidfile ?? (file['pidfile'] as string | undefined) ?? `${execRoot}/berthd.pid`,
    debug: o.debug ?? (file['debug'] as boolean | undefined) ?? false,
    group: o.group ?? (file['group'] as string | undefined) ?? 'berth',
    cgroupParent: normalizeCgroupParent(o.cgroupParent ?? (file['cgroup-parent'] as string | undefined) ?? '/berth'),
    logOpts,
  };
}

function readConfigFile(path: string, explicit: boolean): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (!explicit && (e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new InvalidParameterError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new InvalidParameterError(`invalid config file ${path}: ${(e as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new InvalidParameterError(`invalid config file ${path}: expected a JSON object`);
  for (const k of Object.keys(value)) {
    if (!FILE_KEYS.has(k)) throw new InvalidParameterError(`invalid config file ${path}: unknown key "${k}"`);
  }
  return value as Record<string, unknown>;
}

function normalizeCgroupParent(p: string): string {
  if (!/^\/?[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(p)) throw new InvalidParameterError(`invalid cgroup parent "${p}"`);
  return p.startsWith('/') ? p : `/${p}`;
}
