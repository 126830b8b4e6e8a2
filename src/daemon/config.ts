import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Command, Option } from 'commander';
import { validateLogConfig } from '../engine/logging/drivers.js';
import { InvalidParameterError } from '../common/errors.js';
import { parseUiAddress, type UiAddress } from '../ui/ui-address.js';
import { rootlessDefaults, rootlessMode } from './rootless/rootless-paths.js';

/** One address berthd listens on, parsed from `-H` / daemon.json `hosts`. */
export type ListenAddress =
  | { kind: 'unix'; url: string; path: string }
  | { kind: 'tcp'; url: string; host: string; port: number };

/**
 * TLS for tcp:// listeners. berthd only serves TCP with mutual TLS (`--tlsverify`): the API is
 * root on the host, so a listener that anyone on the network can reach must know its clients.
 */
export interface DaemonTlsConfig {
  /** `--tlsverify`: demand a client certificate signed by `caFile`. */
  verify: boolean;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** Where `berth tls init` puts the daemon's files by default, and where berthd looks for them. */
export const DEFAULT_TLS_DIR = '/etc/berth/tls';

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
  /** `log-driver` / `--log-driver`: containers' default log driver (json-file). */
  logDriver: string;
  /** `log-opts` / `--log-opt`: the default driver's options (validated for it at start). */
  logOpts: Record<string, string> & { 'max-size'?: string; 'max-file'?: string };
  /** `hosts` parsed; same order. */
  listen: ListenAddress[];
  /** Present when `--tls` or `--tlsverify` is set. */
  tls?: DaemonTlsConfig;
  /** `--insecure-tcp`: allow plain-HTTP tcp:// listeners on loopback addresses (warned about). */
  insecureTcp: boolean;
  /** Registries reached over plain HTTP (Docker's `insecure-registries`); loopback ones always are. */
  insecureRegistries: string[];
  /** Networking (issue 6): the default bridge's Linux bridge name (`--bridge`, "bridge"). */
  bridge: string;
  /** `--bip`: the default bridge's gateway address and prefix, e.g. 172.18.0.1/16. */
  bip?: string;
  /** `default-address-pools` / `--default-address-pool`: where networks' subnets come from. */
  addressPools?: { base: string; size: number }[];
  /** berth's own nftables table (`ip <name>`), "nft-table". */
  nftTable: string;
  /** `ipv6` + `fixed-cidr-v6`: the default bridge's IPv6 subnet (absent: IPv4 only). */
  fixedCidrV6?: string;
  /** `seccomp-profile`: a Docker-format profile file replacing the built-in default, "unconfined", or "builtin". */
  seccompProfile?: string;
  /** containers-policy.json enforced on pull and load (`--signature-policy`, "signature-policy"); absent file: accept anything. */
  signaturePolicy: string;
  /** containers registries.d directory: lookaside stores of GPG signatures (`--registries-d`, "registries-d"). */
  registriesD: string;
  /** `no-new-privileges` / `--no-new-privileges`: containers get no_new_privs unless they opt out. */
  noNewPrivileges: boolean;
  /** `experimental` / `--experimental`: advertised as dockerd does (Docker-Experimental), so the docker CLI offers `checkpoint`, which berth answers (issue 23). */
  experimental?: boolean;
  /** `api-allowed-hosts` / `--api-allowed-host`: names TCP listeners accept in the Host header, besides IPs, localhost and the machine's name. */
  apiAllowedHosts: string[];
  /** `--ui` / "ui": where the desktop dashboard listens (issue 19); off when absent. */
  ui?: UiAddress;
  /** Build entitlements granted (`--allow-insecure-entitlement security.insecure`, as buildkitd). */
  allowInsecureEntitlements: string[];
  /** Registry domain → mirror URLs (daemon.json `registry-mirrors`: a list means docker.io's, an object names each registry). */
  registryMirrors: Record<string, string[]>;
  /** The Kubernetes CRI server (issue 18), present with `--cri` or daemon.json `"cri": {"enable": true}`. */
  cri?: CriConfig;
  /** `--userns-remap` / "userns-remap" (issue 21): `default`, USER[:GROUP] or UID[:GID]; resolved at start (runtime/userns.ts). */
  usernsRemap?: string;
  /** Rootless mode (issue 21): berthd was started by a non-root user and runs inside rootlesskit (docs/rootless.md). */
  rootless: boolean;
}

/** Settings of the CRI server (daemon.json `"cri": {...}`; the socket also by `--cri-socket`). */
export interface CriConfig {
  /** Path of the CRI UNIX socket (`unix:///run/berth/cri.sock`). */
  socket: string;
  /** The image each pod's sandbox (pause) container runs. */
  sandboxImage: string;
  /** Directory of CNI network configs (the first `.conflist`/`.conf` by name is used). */
  cniConfDir: string;
  /** Directories searched for CNI plugins. */
  cniBinDirs: string[];
  /** Address and port of the streaming server (exec, attach, port-forward); port 0 picks a free one. */
  streamAddress: string;
  streamPort: number;
  /** Clamp a container's oom_score_adj to berthd's own (containerd's restrict_oom_score_adj). */
  restrictOomScoreAdj: boolean;
}

const CRI_KEYS = new Set(['enable', 'socket', 'sandbox-image', 'cni-conf-dir', 'cni-bin-dir', 'stream-address', 'stream-port', 'restrict-oom-score-adj']);

const ROOT_DEFAULTS = {
  dataRoot: '/var/lib/berth',
  execRoot: '/run/berth',
  configFile: '/etc/berth/daemon.json',
  signaturePolicy: '/etc/berth/policy.json',
  registriesD: '/etc/containers/registries.d',
};

const FILE_KEYS = new Set(['data-root', 'exec-root', 'hosts', 'runtime', 'default-runtime', 'pidfile', 'debug', 'group', 'log-opts', 'log-driver', 'cgroup-parent', 'tls', 'tlsverify', 'tlscacert', 'tlscert', 'tlskey', 'insecure-tcp', 'insecure-registries', 'bridge', 'bip', 'default-address-pools', 'nft-table', 'seccomp-profile', 'ipv6', 'fixed-cidr-v6', 'signature-policy', 'registries-d', 'no-new-privileges', 'api-allowed-hosts', 'ui', 'allow-insecure-entitlement', 'registry-mirrors', 'cri', 'userns-remap', 'experimental']);

/** Parses argv (without node and script) and the config file into a DaemonConfig. */
/**
 * `uid` is the caller's (berthd passes its own): a non-root uid, or rootlesskit's environment,
 * selects the rootless defaults. It defaults to 0 so library callers get the system daemon's.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env, uid = 0): DaemonConfig {
  // A non-root user's daemon keeps its state in the user's own directories (docs/rootless.md).
  const rootless = rootlessMode(uid, env);
  const DEFAULTS = rootless ? { ...ROOT_DEFAULTS, ...rootlessDefaults(env) } : ROOT_DEFAULTS;
  const cmd = new Command('berthd')
    .description('berth daemon: serves the Docker Engine API')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .option('--data-root <dir>', `root directory of persistent state (default "${DEFAULTS.dataRoot}")`)
    .option('--exec-root <dir>', `root directory for execution state files (default "${DEFAULTS.execRoot}")`)
    .option('-H, --host <address...>', 'daemon socket(s) to listen on (unix:///path, tcp://ADDR:PORT)')
    .option('--tls', 'use TLS; implied by --tlsverify')
    .option('--tlsverify', 'use TLS and verify the remote (client certificates signed by --tlscacert)')
    .option('--tlscacert <path>', `trust certs signed only by this CA (default "${DEFAULT_TLS_DIR}/ca.pem")`)
    .option('--tlscert <path>', `path to TLS certificate file (default "${DEFAULT_TLS_DIR}/server-cert.pem")`)
    .option('--tlskey <path>', `path to TLS key file (default "${DEFAULT_TLS_DIR}/server-key.pem")`)
    .option('--insecure-tcp', 'allow plain-HTTP tcp:// hosts on loopback addresses only (no TLS, no authentication)')
    .addOption(new Option('--runtime <name>', 'OCI runtime for containers').choices(['crun', 'runc']))
    .option('-p, --pidfile <path>', 'path to use for the daemon PID file')
    .option('--config-file <path>', 'daemon configuration file', env['BERTH_CONFIG_FILE'] ?? DEFAULTS.configFile)
    .option('-G, --group <name>', 'group for the unix socket', rootless ? '' : 'berth') // a host group is not mapped in a rootless daemon's user namespace
    .option('--cgroup-parent <path>', 'parent cgroup for all containers (default "/berth")')
    .option('-D, --debug', 'enable debug logging')
    .option('--log-driver <name>', 'default log driver for containers (json-file, local, none, syslog, journald, fluentd)')
    .option('--log-opt <k=v...>', 'default log driver options for containers (max-size, max-file, ...)')
    .option('--insecure-registry <registry...>', 'registries (host[:port]) to reach over plain HTTP')
    .option('-b, --bridge <name>', 'Linux bridge of the default "bridge" network (default "berth0")')
    .option('--bip <cidr>', 'gateway address and prefix of the default bridge network (e.g. 172.18.0.1/16)')
    .option('--default-address-pool <base=CIDR,size=N...>', 'default address pools for networks')
    .option('--nft-table <name>', 'name of berth\'s nftables table (default "berth")')
    .option('--signature-policy <file>', `containers-policy.json enforced on pull and load (default "${DEFAULTS.signaturePolicy}"; absent: accept anything)`)
    .option('--registries-d <dir>', `registries.d directory of signature lookaside stores (default "${DEFAULTS.registriesD}")`)
    .option('--no-new-privileges', 'set no-new-privileges by default for new containers')
    .option('--experimental', 'advertise experimental features (the docker CLI then offers `checkpoint`, answered with why CRIU cannot work)')
    .option('--api-allowed-host <name...>', 'host names TCP listeners accept in the Host header (besides IP addresses, localhost and this machine\'s name)')
    .option('--ui <host:port>', 'serve the desktop dashboard on this address (loopback unless TLS is configured)')
    .option('--allow-insecure-entitlement <name...>', 'build entitlements builds may ask for (security.insecure: RUN --security=insecure)')
    .option('--cri', 'also serve the Kubernetes CRI (runtime.v1) on --cri-socket')
    .option('--cri-socket <address>', `CRI socket (default "unix://<exec-root>/cri.sock"); implies --cri`)
    .option('--registry-mirror <registry=url...>', 'serve a registry through a mirror (docker.io when only a URL is given)')
    .option('--userns-remap <default|user[:group]|uid[:gid]>', 'user/group setting for user namespaces (containers\' root is a subordinate id of this user)');
  cmd.parse(argv, { from: 'user' });
  const o = cmd.opts<{
    dataRoot?: string; execRoot?: string; host?: string[]; runtime?: 'crun' | 'runc'; pidfile?: string;
    configFile: string; group: string; debug?: boolean; logOpt?: string[]; logDriver?: string; cgroupParent?: string;
    tls?: boolean; tlsverify?: boolean; tlscacert?: string; tlscert?: string; tlskey?: string; insecureTcp?: boolean;
  }>();
  const file = readConfigFile(o.configFile, cmd.getOptionValueSource('configFile') === 'cli');
  const execRoot = o.execRoot ?? (file['exec-root'] as string | undefined) ?? DEFAULTS.execRoot;
  const fileLogOpts = file['log-opts'] ?? {};
  if (typeof fileLogOpts !== 'object' || fileLogOpts === null || Array.isArray(fileLogOpts) || Object.values(fileLogOpts).some((v) => typeof v !== 'string')) {
    throw new InvalidParameterError('invalid "log-opts": expected an object of strings');
  }
  const logOpts: DaemonConfig['logOpts'] = { ...(fileLogOpts as Record<string, string>) };
  for (const kv of o.logOpt ?? []) {
    const i = kv.indexOf('=');
    if (i < 0) throw new InvalidParameterError(`invalid --log-opt: ${kv}`);
    logOpts[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const logDriver = o.logDriver ?? (file['log-driver'] as string | undefined) ?? 'json-file';
  if (typeof logDriver !== 'string' || logDriver === '') throw new InvalidParameterError('invalid "log-driver": expected a driver name');
  try {
    validateLogConfig(logDriver, logOpts);
  } catch (err) {
    throw new InvalidParameterError(`invalid default log configuration: ${(err as Error).message}`, { cause: err });
  }
  const runtime = o.runtime ?? (file['runtime'] as string | undefined) ?? (file['default-runtime'] as string | undefined) ?? 'crun';
  if (runtime !== 'crun' && runtime !== 'runc') throw new InvalidParameterError(`unknown runtime "${runtime}": choose crun or runc`);
  const hosts = o.host ?? (file['hosts'] as string[] | undefined) ?? [`unix://${execRoot}/berth.sock`];
  if (!Array.isArray(hosts) || hosts.some((h) => typeof h !== 'string')) throw new InvalidParameterError('invalid "hosts": expected a list of addresses');
  const tls = tlsConfig(o, file);
  const insecureTcp = o.insecureTcp ?? (file['insecure-tcp'] as boolean | undefined) ?? false;
  const listen = hosts.map((h) => parseListenAddress(h, { tls: !!tls }));
  for (const a of listen) {
    if (a.kind !== 'tcp' || tls?.verify) continue;
    if (!insecureTcp || !isLoopback(a.host)) {
      throw new InvalidParameterError(
        `refusing to listen on ${a.url} without mutual TLS: use --tlsverify with --tlscacert, --tlscert and --tlskey ` +
          '(berth tls init makes them), or --insecure-tcp for a loopback address only',
      );
    }
    if (tls) throw new InvalidParameterError(`--tls without --tlsverify is not supported on ${a.url}: clients must present certificates (--tlsverify)`);
  }
  const nnp = (cmd.opts() as { newPrivileges?: boolean }).newPrivileges === false ? true : file['no-new-privileges'];
  if (nnp !== undefined && typeof nnp !== 'boolean') throw new InvalidParameterError('invalid "no-new-privileges": expected true or false');
  const allowedFile = file['api-allowed-hosts'] ?? [];
  if (!Array.isArray(allowedFile) || allowedFile.some((h) => typeof h !== 'string' || !/^[A-Za-z0-9.-]+$/.test(h))) {
    throw new InvalidParameterError('invalid "api-allowed-hosts": expected a list of host names');
  }
  const apiAllowedHosts = [...(allowedFile as string[]), ...((cmd.opts() as { apiAllowedHost?: string[] }).apiAllowedHost ?? [])];
  const net = networkConfig(cmd.opts() as { bridge?: string; bip?: string; defaultAddressPool?: string[]; nftTable?: string }, file);
  const uiText = (cmd.opts() as { ui?: string }).ui ?? file['ui'];
  if (uiText !== undefined && typeof uiText !== 'string') throw new InvalidParameterError('invalid "ui": expected an address such as "127.0.0.1:7681"');
  const ui = uiText ? parseUiAddress(uiText, { tls: !!tls?.verify }) : undefined;
  const remap = (cmd.opts() as { usernsRemap?: string }).usernsRemap ?? file['userns-remap'];
  if (remap !== undefined && (typeof remap !== 'string' || remap.trim() === '')) throw new InvalidParameterError('invalid "userns-remap": expected "default", USER[:GROUP] or UID[:GID]');
  // runc 1.1 joins a container's user namespace before its network namespace, which berth made
  // as host root: `exec` then fails with "failed to setns into net namespace: Operation not permitted".
  if (remap && runtime === 'runc') throw new InvalidParameterError('--userns-remap needs the crun runtime: runc 1.1 cannot exec into a remapped container (setns into its network namespace: operation not permitted)');
  return {
    ...(remap ? { usernsRemap: remap } : {}),
    ...net,
    rootless,
    ui,
    registryMirrors: registryMirrors(file['registry-mirrors'], (cmd.opts() as { registryMirror?: string[] }).registryMirror ?? []),
    ...criConfig(cmd.opts() as { cri?: boolean; criSocket?: string }, file['cri'], execRoot),
    dataRoot: o.dataRoot ?? (file['data-root'] as string | undefined) ?? DEFAULTS.dataRoot,
    execRoot,
    hosts,
    runtime,
    pidfile: o.pidfile ?? (file['pidfile'] as string | undefined) ?? `${execRoot}/berthd.pid`,
    debug: o.debug ?? (file['debug'] as boolean | undefined) ?? false,
    group: o.group ?? (file['group'] as string | undefined) ?? 'berth',
    cgroupParent: normalizeCgroupParent(o.cgroupParent ?? (file['cgroup-parent'] as string | undefined) ?? '/berth'),
    logDriver,
    logOpts,
    seccompProfile: seccompProfileSetting(file['seccomp-profile']),
    listen,
    tls,
    insecureTcp,
    signaturePolicy: pathSetting((cmd.opts() as { signaturePolicy?: string }).signaturePolicy, file, 'signature-policy', DEFAULTS.signaturePolicy),
    registriesD: pathSetting((cmd.opts() as { registriesD?: string }).registriesD, file, 'registries-d', DEFAULTS.registriesD),
    noNewPrivileges: nnp ?? false,
    experimental: experimentalSetting((cmd.opts() as { experimental?: boolean }).experimental, file['experimental']),
    apiAllowedHosts,
    allowInsecureEntitlements: allowedEntitlements([
      ...((file['allow-insecure-entitlement'] as string[] | undefined) ?? []),
      ...((cmd.opts() as { allowInsecureEntitlement?: string[] }).allowInsecureEntitlement ?? []),
    ]),
    insecureRegistries: [
      ...((file['insecure-registries'] as string[] | undefined) ?? []),
      ...((cmd.opts() as { insecureRegistry?: string[] }).insecureRegistry ?? []),
      ...(env['BERTH_INSECURE_REGISTRIES'] ?? '').split(',').filter(Boolean),
    ],
  };
}

function seccompProfileSetting(v: unknown): string | undefined {
  if (v === undefined || v === '' || v === 'builtin') return undefined;
  if (typeof v !== 'string') throw new InvalidParameterError('invalid "seccomp-profile": expected a file path, "builtin" or "unconfined"');
  return v;
}

/** A path from a flag, else daemon.json, else the default; a non-string or empty value is an error. */
function pathSetting(flag: string | undefined, file: Record<string, unknown>, key: string, dflt: string): string {
  const v = flag ?? file[key] ?? dflt;
  if (typeof v !== 'string' || !v) throw new InvalidParameterError(`invalid "${key}": expected a file path`);
  return v;

}

function allowedEntitlements(list: unknown[]): string[] {
  for (const e of list) {
    if (e !== 'security.insecure' && e !== 'network.host') throw new InvalidParameterError(`invalid entitlement ${JSON.stringify(e)}: security.insecure or network.host`);
  }
  return list as string[];
}

function tlsConfig(
  o: { tls?: boolean; tlsverify?: boolean; tlscacert?: string; tlscert?: string; tlskey?: string },
  file: Record<string, unknown>,
): DaemonTlsConfig | undefined {
  const verify = o.tlsverify ?? (file['tlsverify'] as boolean | undefined) ?? false;
  const on = verify || (o.tls ?? (file['tls'] as boolean | undefined) ?? false);
  if (!on) return undefined;
  const str = (flag: string | undefined, key: string, dflt: string): string => {
    const v = flag ?? file[key] ?? dflt;
    if (typeof v !== 'string' || !v) throw new InvalidParameterError(`invalid "${key}": expected a file path`);
    return v;
  };
  return {
    verify,
    caFile: str(o.tlscacert, 'tlscacert', `${DEFAULT_TLS_DIR}/ca.pem`),
    certFile: str(o.tlscert, 'tlscert', `${DEFAULT_TLS_DIR}/server-cert.pem`),
    keyFile: str(o.tlskey, 'tlskey', `${DEFAULT_TLS_DIR}/server-key.pem`),
  };
}

/**
 * Parses `unix:///path` or `tcp://ADDR:PORT` (`tcp://[::1]:2376`, `tcp://:2376` for every
 * address). As dockerd, a tcp:// address without a port gets 2376 with TLS and 2375 without.
 */
export function parseListenAddress(url: string, options: { tls: boolean } = { tls: true }): ListenAddress {
  const m = /^([a-z]+):\/\/(.*)$/.exec(url);
  if (!m) throw new InvalidParameterError(`invalid host address "${url}": expected unix:///path or tcp://ADDR:PORT`);
  const [, scheme, rest] = m as unknown as [string, string, string];
  if (scheme === 'unix') {
    if (!rest.startsWith('/')) throw new InvalidParameterError(`invalid host address "${url}": the socket path must be absolute`);
    return { kind: 'unix', url, path: rest };
  }
  if (scheme !== 'tcp') throw new InvalidParameterError(`invalid host address "${url}": unsupported scheme "${scheme}" (unix:// or tcp://)`);
  const hm = /^(\[[0-9a-fA-F:.]+\]|[^:/[\]]*)(?::(\d+))?\/?$/.exec(rest);
  if (!hm) throw new InvalidParameterError(`invalid host address "${url}": expected tcp://ADDR:PORT`);
  let host = hm[1]!;
  if (host.startsWith('[')) host = host.slice(1, -1);
  if (host && host !== 'localhost' && !isIP(host)) throw new InvalidParameterError(`invalid host address "${url}": "${host}" is not an IP address`);
  const port = hm[2] === undefined ? (options.tls ? 2376 : 2375) : Number(hm[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidParameterError(`invalid host address "${url}": invalid port`);
  return { kind: 'tcp', url, host: host || '0.0.0.0', port };
}

/** 127.0.0.0/8, ::1 and localhost: the addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return !!mapped && mapped[1]!.startsWith('127.');
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

/** The networking settings: flags over daemon.json, checked so a typo fails at start-up. */
function networkConfig(
  o: { bridge?: string; bip?: string; defaultAddressPool?: string[]; nftTable?: string },
  file: Record<string, unknown>,
): Pick<DaemonConfig, 'bridge' | 'bip' | 'addressPools' | 'nftTable' | 'fixedCidrV6'> {
  const bridge = o.bridge ?? (file['bridge'] as string | undefined) ?? 'berth0';
  if (typeof bridge !== 'string' || !/^[a-zA-Z0-9_.-]{1,15}$/.test(bridge)) throw new InvalidParameterError(`invalid bridge name "${String(bridge)}": 1 to 15 characters of [a-zA-Z0-9_.-]`);
  const bip = o.bip ?? (file['bip'] as string | undefined);
  if (bip !== undefined && (typeof bip !== 'string' || !/^\d+\.\d+\.\d+\.\d+\/\d{1,2}$/.test(bip))) throw new InvalidParameterError(`invalid bip "${String(bip)}": expected ADDRESS/PREFIX`);
  const nftTable = o.nftTable ?? (file['nft-table'] as string | undefined) ?? 'berth';
  if (typeof nftTable !== 'string' || !/^[a-zA-Z][a-zA-Z0-9_]{0,31}$/.test(nftTable)) throw new InvalidParameterError(`invalid nft-table "${String(nftTable)}": a letter then letters, digits or _`);
  let addressPools: { base: string; size: number }[] | undefined;
  if (o.defaultAddressPool?.length) {
    addressPools = o.defaultAddressPool.map((p) => {
      const kv = Object.fromEntries(p.split(',').map((x) => x.split('=') as [string, string]));
      return { base: kv['base'] ?? '', size: Number(kv['size']) };
    });
  } else if (file['default-address-pools'] !== undefined) {
    addressPools = file['default-address-pools'] as { base: string; size: number }[];
  }
  for (const p of addressPools ?? []) {
    if (!p || typeof p.base !== 'string' || !/^\d+\.\d+\.\d+\.\d+\/\d{1,2}$/.test(p.base) || !Number.isInteger(p.size) || p.size < 1 || p.size > 30) {
      throw new InvalidParameterError(`invalid default address pool ${JSON.stringify(p)}: expected {"base": "CIDR", "size": 1-30}`);
    }
  }
  const ipv6 = file['ipv6'] ?? false;
  if (typeof ipv6 !== 'boolean') throw new InvalidParameterError('invalid "ipv6": expected true or false');
  const v6 = file['fixed-cidr-v6'];
  if (v6 !== undefined && (typeof v6 !== 'string' || !/^[0-9a-fA-F:]+\/\d{1,3}$/.test(v6))) throw new InvalidParameterError(`invalid fixed-cidr-v6 "${String(v6)}": expected an IPv6 CIDR`);
  // Docker needs a subnet for the default bridge's IPv6: there is no pool to take it from.
  if (ipv6 && v6 === undefined) throw new InvalidParameterError('"ipv6": true needs "fixed-cidr-v6" (the default bridge\'s IPv6 subnet)');
  if (!ipv6 && v6 !== undefined) throw new InvalidParameterError('"fixed-cidr-v6" needs "ipv6": true');
  return { bridge, bip, addressPools, nftTable, ...(ipv6 ? { fixedCidrV6: v6 as string } : {}) };
}

/** `registry-mirrors`: Docker's list (mirrors of docker.io) or `{"registry.k8s.io": ["http://127.0.0.1:5001"]}`. */
function registryMirrors(value: unknown, flags: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const add = (registry: string, url: unknown): void => {
    if (typeof url !== 'string' || !/^https?:\/\/[^/\s]+\/?$/.test(url)) throw new InvalidParameterError(`invalid registry mirror ${JSON.stringify(url)}: expected http(s)://host[:port]`);
    if (!/^[a-zA-Z0-9.-]+(:\d+)?$/.test(registry)) throw new InvalidParameterError(`invalid registry "${registry}" in registry-mirrors`);
    (out[registry] ??= []).push(url.replace(/\/$/, ''));
  };
  if (Array.isArray(value)) for (const u of value) add('docker.io', u);
  else if (value && typeof value === 'object') {
    for (const [reg, urls] of Object.entries(value)) {
      if (!Array.isArray(urls)) throw new InvalidParameterError(`invalid registry-mirrors entry for "${reg}": expected a list of URLs`);
      for (const u of urls) add(reg, u);
    }
  } else if (value !== undefined) throw new InvalidParameterError('invalid "registry-mirrors": expected a list of URLs or an object of registry → URLs');
  for (const f of flags) {
    const i = f.indexOf('=');
    if (i < 0) add('docker.io', f);
    else add(f.slice(0, i), f.slice(i + 1));
  }
  return out;
}

/** `--cri`, `--cri-socket` and daemon.json `"cri"`; absent when the CRI is not enabled. */
function criConfig(o: { cri?: boolean; criSocket?: string }, value: unknown, execRoot: string): { cri?: CriConfig } {
  if (value !== undefined && (!value || typeof value !== 'object' || Array.isArray(value))) throw new InvalidParameterError('invalid "cri": expected an object');
  const f = (value ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(f)) if (!CRI_KEYS.has(k)) throw new InvalidParameterError(`invalid "cri": unknown key "${k}"`);
  const enabled = o.cri || !!o.criSocket || f['enable'] === true || (value !== undefined && f['enable'] === undefined);
  if (!enabled) return {};
  const str = (k: string, dflt: string): string => {
    const v = f[k] ?? dflt;
    if (typeof v !== 'string' || !v) throw new InvalidParameterError(`invalid "cri": "${k}" must be a non-empty string`);
    return v;
  };
  const url = o.criSocket ?? str('socket', `unix://${execRoot}/cri.sock`);
  const m = /^unix:\/\/(\/.+)$/.exec(url);
  if (!m) throw new InvalidParameterError(`invalid CRI socket "${url}": expected unix:///path`);
  const bins = f['cni-bin-dir'] ?? ['/opt/cni/bin', '/usr/lib/cni'];
  const binDirs = typeof bins === 'string' ? [bins] : bins;
  if (!Array.isArray(binDirs) || binDirs.some((d) => typeof d !== 'string' || !d.startsWith('/'))) throw new InvalidParameterError('invalid "cri": "cni-bin-dir" must be an absolute path or a list of them');
  const port = f['stream-port'] ?? 0;
  if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) throw new InvalidParameterError('invalid "cri": "stream-port" must be 0-65535');
  const streamAddress = str('stream-address', '127.0.0.1');
  if (!isIP(streamAddress)) throw new InvalidParameterError(`invalid "cri": "stream-address" ${JSON.stringify(streamAddress)} is not an IP address`);
  const restrict = f['restrict-oom-score-adj'] ?? true;
  if (typeof restrict !== 'boolean') throw new InvalidParameterError('invalid "cri": "restrict-oom-score-adj" must be true or false');
  return {
    cri: {
      socket: m[1]!,
      sandboxImage: str('sandbox-image', 'registry.k8s.io/pause:3.9'),
      cniConfDir: str('cni-conf-dir', '/etc/cni/net.d'),
      cniBinDirs: binDirs as string[],
      streamAddress,
      streamPort: port as number,
      restrictOomScoreAdj: restrict,
    },
  };
}

/** `--experimental` or daemon.json `"experimental": true`. */
function experimentalSetting(flag: boolean | undefined, file: unknown): boolean {
  if (file !== undefined && typeof file !== 'boolean') throw new InvalidParameterError('invalid "experimental": expected true or false');
  return flag ?? (file as boolean | undefined) ?? false;
}
