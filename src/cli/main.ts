import type { CommandModule } from './command.js';
import type { Invocation } from './invocation.js';
import { writeSync } from 'node:fs';
import { StatusError } from './errors.js';
import { CLI_VERSION } from './version-info.js';

/**
 * The berth CLI entry: reads global flags, finds the verb and loads only that verb's module
 * (`import()`), so `berth ps` parses and runs without loading the code of 20 other commands.
 * Node's own start-up is most of a CLI invocation here; everything else is kept off that path.
 */

type Loader = () => Promise<CommandModule>;
interface Entry {
  summary: string;
  load: Loader;
}

// Summaries are docker's; the modules themselves are loaded on demand.
const COMMANDS: Record<string, Entry> = {
  build: { summary: 'Build an image from a Dockerfile', load: async () => (await import('./commands/build.js')).command },
  create: { summary: 'Create a new container', load: async () => (await import('./commands/create.js')).command },
  images: { summary: 'List images', load: async () => (await import('./commands/images.js')).command },
  import: { summary: 'Import the contents from a tarball to create a filesystem image', load: async () => (await import('./commands/import.js')).command },
  info: { summary: 'Display system-wide information', load: async () => (await import('./commands/info.js')).command },
  attach: { summary: 'Attach local standard input, output, and error streams to a running container', load: async () => (await import('./commands/attach.js')).command },
  exec: { summary: 'Execute a command in a running container', load: async () => (await import('./commands/exec.js')).command },
  inspect: { summary: 'Return low-level information on Docker objects', load: async () => (await import('./commands/inspect.js')).command },
  kill: { summary: 'Kill one or more running containers', load: async () => (await import('./commands/kill.js')).command },
  logs: { summary: 'Fetch the logs of a container', load: async () => (await import('./commands/logs.js')).command },
  ps: { summary: 'List containers', load: async () => (await import('./commands/ps.js')).command },
  restart: { summary: 'Restart one or more containers', load: async () => (await import('./commands/restart.js')).command },
  rm: { summary: 'Remove one or more containers', load: async () => (await import('./commands/rm.js')).command },
  rmi: { summary: 'Remove one or more images', load: async () => (await import('./commands/rmi.js')).command },
  run: { summary: 'Create and run a new container from an image', load: async () => (await import('./commands/run.js')).command },
  start: { summary: 'Start one or more stopped containers', load: async () => (await import('./commands/start.js')).command },
  stop: { summary: 'Stop one or more running containers', load: async () => (await import('./commands/stop.js')).command },
  tag: { summary: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE', load: async () => (await import('./commands/tag.js')).command },
  context: { summary: 'Manage contexts', load: async () => (await import('./commands/context.js')).command },
  network: { summary: 'Manage networks', load: async () => (await import('./commands/network.js')).command },
  tls: { summary: 'Manage TLS certificates for remote daemons', load: async () => (await import('./commands/tls.js')).command },
  rootless: { summary: 'Prepare this host for a rootless berthd', load: async () => (await import('./commands/rootless.js')).command },
  version: { summary: 'Show the berth version information', load: async () => (await import('./commands/version.js')).command },
  wait: { summary: 'Block until one or more containers stop, then print their exit codes', load: async () => (await import('./commands/wait.js')).command },
  pause: { summary: 'Pause all processes within one or more containers', load: async () => (await import('./commands/pause.js')).command },
  unpause: { summary: 'Unpause all processes within one or more containers', load: async () => (await import('./commands/unpause.js')).command },
  rename: { summary: 'Rename a container', load: async () => (await import('./commands/rename.js')).command },
  update: { summary: 'Update configuration of one or more containers', load: async () => (await import('./commands/update.js')).command },
  top: { summary: 'Display the running processes of a container', load: async () => (await import('./commands/top.js')).command },
  port: { summary: 'List port mappings or a specific mapping for the container', load: async () => (await import('./commands/port.js')).command },
  stats: { summary: 'Display a live stream of container(s) resource usage statistics', load: async () => (await import('./commands/stats.js')).command },
  events: { summary: 'Get real time events from the server', load: async () => (await import('./commands/events.js')).command },
  'container-move': { summary: 'Move a container to the daemon of another context', load: async () => (await import('./commands/container-move.js')).command },
  'container-prune': { summary: 'Remove all stopped containers', load: async () => (await import('./commands/container-prune.js')).command },
  pull: { summary: 'Download an image from a registry', load: async () => (await import('./commands/pull.js')).command },
  push: { summary: 'Upload an image to a registry', load: async () => (await import('./commands/push.js')).command },
  login: { summary: 'Authenticate to a registry', load: async () => (await import('./commands/login.js')).command },
  logout: { summary: 'Log out from a registry', load: async () => (await import('./commands/logout.js')).command },
  registry: { summary: "Run berth's own registry server", load: async () => (await import('./commands/registry.js')).command },
  trust: { summary: 'Manage trust on images (signatures, signature policy)', load: async () => (await import('./commands/trust.js')).command },
  save: { summary: 'Save one or more images to a tar archive (streamed to STDOUT by default)', load: async () => (await import('./commands/save.js')).command },
  load: { summary: 'Load an image from a tar archive or STDIN', load: async () => (await import('./commands/load.js')).command },
  'image-prune': { summary: 'Remove unused images', load: async () => (await import('./commands/image-prune.js')).command },
  'builder-prune': { summary: 'Remove build cache', load: async () => (await import('./commands/builder-prune.js')).command },
  'system-df': { summary: 'Show berth disk usage', load: async () => (await import('./commands/system-df.js')).command },
  volume: { summary: 'Manage volumes', load: async () => (await import('./commands/volume.js')).command },
  cp: { summary: 'Copy files/folders between a container and the local filesystem', load: async () => (await import('./commands/cp.js')).command },
  diff: { summary: "Inspect changes to files or directories on a container's filesystem", load: async () => (await import('./commands/diff.js')).command },
  export: { summary: "Export a container's filesystem as a tar archive", load: async () => (await import('./commands/export.js')).command },
  commit: { summary: "Create a new image from a container's changes", load: async () => (await import('./commands/commit.js')).command },
  desktop: { summary: 'Print (and open) the URL of the desktop dashboard', load: async () => (await import('./commands/desktop.js')).command },
  compose: { summary: 'Docker Compose: define and run multi-container applications', load: async () => (await import('./commands/compose.js')).command },
  history: { summary: 'Show the history of an image', load: async () => (await import('./commands/history.js')).command },
  search: { summary: 'Search Docker Hub for images', load: async () => (await import('./commands/search.js')).command },
  'system-prune': { summary: 'Remove unused data', load: async () => (await import('./commands/system-prune.js')).command },
};

/**
 * Commands docker has that berth deliberately lacks: each answers with why (exit 1), for every
 * subcommand and for `--help`, instead of "not a berth command".
 */
const SWARM = 'swarm mode is not supported: this node is not a swarm manager and cannot become one';
const UNSUPPORTED: Record<string, { summary: string; reason: string }> = {
  checkpoint: { summary: 'Manage checkpoints', reason: 'checkpoints are not supported: they need CRIU, which berth does not use (and which does not work on this kernel)' },
  plugin: { summary: 'Manage plugins', reason: "plugins are not supported: berth's drivers (local volumes, bridge networks, log files) are built in" },
  manifest: { summary: 'Manage Docker image manifests and manifest lists', reason: 'not implemented in berth yet (inspect an image with `berth image inspect`, pull one platform with `--platform`)' },
  config: { summary: 'Manage Swarm configs', reason: SWARM },
  node: { summary: 'Manage Swarm nodes', reason: SWARM },
  secret: { summary: 'Manage Swarm secrets', reason: SWARM },
  service: { summary: 'Manage Swarm services', reason: SWARM },
  stack: { summary: 'Manage Swarm stacks', reason: `${SWARM} (use \`berth compose\` for multi-container applications)` },
  swarm: { summary: 'Manage Swarm', reason: SWARM },
};

/** docker's "Common Commands", in docker's order; the rest of the help is sorted. */
const COMMON = ['run', 'exec', 'ps', 'build', 'pull', 'push', 'images', 'login', 'logout', 'search', 'version', 'info'];
/** Verbs with subcommands of their own (listed with the management commands). */
const OWN_SUBCOMMANDS = new Set(['compose', 'context', 'network', 'volume', 'registry', 'tls', 'rootless']);

/**
 * `berth container ls` → `ps`, `berth image rm` → `rmi`, …: docker's management commands.
 * A verb is `sub: target` (the summary is the target's) or `sub: [target, summary]` where
 * docker words it differently under the management command.
 */
const MANAGEMENT: Record<string, { summary: string; verbs: Record<string, string | [string, string]> }> = {
  container: {
    summary: 'Manage containers',
    verbs: {
      attach: 'attach',
      commit: 'commit',
      cp: 'cp',
      create: 'create',
      diff: 'diff',
      exec: 'exec',
      export: 'export',
      inspect: ['inspect', 'Display detailed information on one or more containers'],
      kill: 'kill',
      logs: 'logs',
      move: 'container-move',
      ls: ['ps', 'List containers'],
      list: ['ps', ''],
      ps: ['ps', ''],
      pause: 'pause',
      port: 'port',
      prune: 'container-prune',
      rename: 'rename',
      restart: 'restart',
      rm: 'rm',
      remove: ['rm', ''],
      run: 'run',
      start: 'start',
      stats: 'stats',
      stop: 'stop',
      top: 'top',
      unpause: 'unpause',
      update: 'update',
      wait: 'wait',
    },
  },
  image: {
    summary: 'Manage images',
    verbs: {
      build: 'build',
      history: 'history',
      import: 'import',
      inspect: ['inspect', 'Display detailed information on one or more images'],
      load: 'load',
      ls: 'images',
      list: ['images', ''],
      prune: 'image-prune',
      pull: 'pull',
      push: 'push',
      rm: 'rmi',
      remove: ['rmi', ''],
      save: 'save',
      tag: 'tag',
    },
  },
  system: {
    summary: 'Manage berth',
    verbs: { df: 'system-df', events: 'events', info: 'info', prune: 'system-prune' },
  },
  builder: { summary: 'Manage builds', verbs: { build: 'build', prune: 'builder-prune' } },
};

const VALUE_FLAGS = new Set(['-H', '--host', '-l', '--log-level', '--config', '-c', '--context', '--tlscacert', '--tlscert', '--tlskey']);

export interface GlobalOptions {
  host?: string;
  /** `-c/--context`. */
  context?: string;
  /** `--config`: docker's config directory. */
  config?: string;
  /** `--tls`, `--tlsverify`, `--tlscacert`, `--tlscert`, `--tlskey` as given (undefined = not given). */
  tls: { tls?: boolean; tlsverify?: boolean; tlscacert?: string; tlscert?: string; tlskey?: string };
  debug: boolean;
  version: boolean;
  help: boolean;
}

/** Splits `argv` into global options, the verb and the verb's arguments. */
export function splitGlobal(argv: string[]): { globals: GlobalOptions; verb?: string; rest: string[]; error?: string } {
  const globals: GlobalOptions = { debug: false, version: false, help: false, tls: {} };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-') || a === '-') break;
    if (a === '--') {
      i++;
      break;
    }
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    let value: string | undefined;
    if (VALUE_FLAGS.has(name)) {
      if (eq > 0 && a.startsWith('--')) value = a.slice(eq + 1);
      else if (i + 1 < argv.length) value = argv[++i];
      else return { globals, rest: [], error: `flag needs an argument: ${name.startsWith('--') ? name : `'${name.slice(1)}' in ${name}`}` };
      if (name === '-H' || name === '--host') globals.host = value;
      else if (name === '-c' || name === '--context') globals.context = value;
      else if (name === '--config') globals.config = value;
      else if (name === '-l' || name === '--log-level') {
        // docker's client log level: berth's CLI logs nothing below debug, which -l debug turns on as -D does.
        if (!/^(panic|fatal|error|warn|warning|info|debug|trace)$/i.test(value!)) return { globals, rest: [], error: `Unable to parse logging level: ${value}` };
        if (/^(debug|trace)$/i.test(value!)) globals.debug = true;
      }
      else if (name === '--tlscacert' || name === '--tlscert' || name === '--tlskey') globals.tls[name.slice(2) as 'tlscacert'] = trimQuotes(value!);
      continue;
    }
    if (/^-H./.test(a)) {
      globals.host = a.slice(2);
      continue;
    }
    switch (name) {
      case '-D':
      case '--debug':
        globals.debug = true;
        break;
      case '-v':
      case '--version':
        globals.version = true;
        break;
      case '-h':
      case '--help':
        globals.help = true;
        break;
      case '--tls':
      case '--tlsverify': {
        // Booleans take --flag=false only in the = form, as pflag.
        const v = eq > 0 ? a.slice(eq + 1) : 'true';
        if (!/^(true|false|1|0|t|f|TRUE|FALSE|True|False)$/.test(v)) return { globals, rest: [], error: `invalid argument "${v}" for "${name}" flag: strconv.ParseBool: parsing "${v}": invalid syntax` };
        globals.tls[name.slice(2) as 'tls'] = /^(true|1|t)$/i.test(v);
        break;
      }
      default:
        return { globals, rest: [], error: name.startsWith('--') ? `unknown flag: ${name}` : `unknown shorthand flag: '${name.slice(1, 2)}' in ${name}` };
    }
  }
  return { globals, verb: argv[i], rest: argv.slice(i + 1) };
}

/** docker strips one pair of quotes around TLS paths (`--tlscert="x"` from scripts). */
function trimQuotes(v: string): string {
  if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0]) return v.slice(1, -1);
  return v;
}

function rootHelp(prog: string): string {
  const pad = (s: string): string => s.padEnd(12);
  const list = (names: string[], summary: (n: string) => string): string => names.map((n) => `  ${pad(n)}${summary(n)}\n`).join('');
  const internal = (n: string): boolean => n.includes('-');
  const summaryOf = (n: string): string => MANAGEMENT[n]?.summary ?? COMMANDS[n]?.summary ?? '';
  const management = [...Object.keys(MANAGEMENT), ...[...OWN_SUBCOMMANDS].filter((n) => Object.hasOwn(COMMANDS, n))].sort();
  const rest = Object.keys(COMMANDS)
    .filter((n) => !internal(n) && !COMMON.includes(n) && !OWN_SUBCOMMANDS.has(n))
    .sort();
  let out = `\nUsage:  ${prog} [OPTIONS] COMMAND\n\nA Docker-compatible container engine\n\n`;
  out += `Common Commands:\n${list(COMMON.filter((n) => Object.hasOwn(COMMANDS, n)), summaryOf)}\n`;
  out += `Management Commands:\n${list(management, summaryOf)}\n`;
  out += `Commands:\n${list(rest, summaryOf)}`;
  out +=
    '\nGlobal Options:\n' +
    '  -D, --debug              Enable debug mode\n' +
    '      --config string      Location of client config files (contexts)\n' +
    '  -c, --context string     Name of the context to use to connect to the daemon (overrides DOCKER_HOST env var and default context set with "berth context use")\n' +
    '  -H, --host list          Daemon socket to connect to\n' +
    '  -l, --log-level string   Set the logging level ("debug", "info", "warn", "error", "fatal") (default "info")\n' +
    '      --tls                Use TLS; implied by --tlsverify\n' +
    '      --tlscacert string   Trust certs signed only by this CA\n' +
    '      --tlscert string     Path to TLS certificate file\n' +
    '      --tlskey string      Path to TLS key file\n' +
    '      --tlsverify          Use TLS and verify the remote\n' +
    '  -v, --version            Print version information and quit\n' +
    `\nRun '${prog} COMMAND --help' for more information on a command.\n`;
  return out;
}

export interface MainOptions {
  stdin?: Invocation['stdin'];
  stdout?: Invocation['stdout'];
  stderr?: Invocation['stderr'];
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  /** Where signals come from (default: the process). */
  signals?: NodeJS.EventEmitter;
}

/**
 * Loads command modules ahead of use: the start-up snapshot (bin/berth-snapshot.ts) runs this
 * at build time for the verbs whose modules need no socket or native binding.
 */
export async function preloadCommands(verbs: readonly string[]): Promise<void> {
  await import('./command.js');
  for (const v of verbs) if (Object.hasOwn(COMMANDS, v)) await COMMANDS[v]!.load();
}

/** Runs the CLI with `argv` (without node and script); resolves with the exit code. */
export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  // bin/berth keeps NODE_EXTRA_CA_CERTS from node's own start-up (it costs ~80 ms and the CLI
  // never trusts the system store: TLS to a daemon trusts only the given CA); processes the
  // CLI starts get it back.
  const savedCa = process.env['BERTH_NODE_EXTRA_CA_CERTS'];
  if (!options.env && savedCa !== undefined) {
    process.env['NODE_EXTRA_CA_CERTS'] = savedCa;
    delete process.env['BERTH_NODE_EXTRA_CA_CERTS'];
  }
  const prog = 'berth';
  // process.stdout is made on first use (over a pipe: a net.Socket, ~1-2 ms, and ~2-3 ms for
  // the first of the two): a build prints through writeOut, which writes to fd 1 directly.
  const out = (): Invocation['stdout'] => options.stdout ?? process.stdout;
  let streamOnly = !!options.stdout;
  // process.stderr likewise (most runs never write to it).
  const stderr = (): Invocation['stderr'] => options.stderr ?? process.stderr;
  const env = options.env ?? process.env;
  const printErr = (msg: string): void => {
    if (msg) stderr().write(msg.endsWith('\n') ? msg : `${msg}\n`);
  };

  const split = splitGlobal(argv);
  if (split.error) {
    printErr(`${split.error}\nSee '${prog} --help'.`);
    return 125;
  }
  const { globals } = split;
  let verb = split.verb;
  let rest = split.rest;
  if (globals.version && !verb) {
    out().write(`berth version ${CLI_VERSION}, build unknown\n`);
    return 0;
  }
  if (globals.help && verb) rest = ['--help'];
  if (!verb) {
    out().write(rootHelp(prog));
    return 0;
  }
  if (verb === 'help') {
    if (rest.length === 0) {
      out().write(rootHelp(prog));
      return 0;
    }
    verb = rest[0]!;
    rest = ['--help'];
  }
  let shown = verb;
  if (Object.hasOwn(UNSUPPORTED, verb)) {
    printErr(`${prog} ${[verb, ...rest.filter((a) => !a.startsWith('-')).slice(0, 1)].join(' ')}: ${UNSUPPORTED[verb]!.reason}`);
    return 1;
  }
  const mgmt = Object.hasOwn(MANAGEMENT, verb) ? MANAGEMENT[verb] : undefined;
  if (mgmt) {
    const sub = rest[0];
    const found = sub && Object.hasOwn(mgmt.verbs, sub) ? mgmt.verbs[sub] : undefined;
    const target = Array.isArray(found) ? found[0] : found;
    if (!target) {
      if (!sub || sub === '--help' || sub === '-h') {
        let text = `\nUsage:  ${prog} ${verb} COMMAND\n\n${mgmt.summary}\n\nCommands:\n`;
        for (const [k, v] of Object.entries(mgmt.verbs)) {
          const summary = Array.isArray(v) ? v[1] : COMMANDS[v]!.summary;
          if (summary) text += `  ${k.padEnd(12)}${summary}\n`;
        }
        out().write(`${text}\nRun '${prog} ${verb} COMMAND --help' for more information on a command.\n`);
        return 0;
      }
      printErr(`${prog}: '${verb} ${sub}' is not a ${prog} command.\nSee '${prog} ${verb} --help'`);
      return 125;
    }
    shown = `${verb} ${sub}`;
    verb = target;
    rest = rest.slice(1);
  }
  const entry = Object.hasOwn(COMMANDS, verb) ? COMMANDS[verb] : undefined;
  if (!entry) {
    printErr(`${prog}: '${verb}' is not a ${prog} command.\nSee '${prog} --help'`);
    return 125;
  }

  // Fast path: an explicit host and nothing about TLS or contexts needs no context store.
  const plain =
    !globals.context && (globals.host || env.BERTH_HOST || env.DOCKER_HOST) && Object.keys(globals.tls).length === 0 && !env.DOCKER_TLS_VERIFY && !env.DOCKER_TLS;
  let endpoint: { context: string; host: string; tls?: import('../client/tls.js').ClientTls } | undefined;
  let endpointError: unknown;
  if (plain) {
    const { resolveHost } = await import('../client/transport.js');
    endpoint = { context: 'default', host: resolveHost(globals.host, env) };
  } else {
    try {
      const { resolveEndpoint } = await import('../client/context-store.js');
      endpoint = await resolveEndpoint({ host: globals.host, context: globals.context, config: globals.config, tls: globals.tls, env });
    } catch (err) {
      // Reported when a command needs the daemon; `berth context …` still works to repair it.
      endpointError = err;
    }
  }
  const host = endpoint?.host ?? '';
  let client: import('../client/client.js').ApiClient | undefined;
  const signals = options.signals ?? process;
  const ctx: Invocation = {
    prog,
    // process.stdin is made on first use (a stream over fd 0, 1-2 ms): most commands never read it.
    get stdin() {
      return options.stdin ?? process.stdin;
    },
    get stdout() {
      streamOnly = true; // from now on every write goes through the stream, in order
      return out();
    },
    writeOut(text: string) {
      if (streamOnly) {
        out().write(text);
        return;
      }
      const buf = Buffer.from(text);
      let off = 0;
      try {
        while (off < buf.length) off += writeSync(1, buf, off);
      } catch (err) {
        // A non-blocking stdout that is full: the stream queues the rest (and all that follows).
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        streamOnly = true;
        out().write(buf.subarray(off));
      }
    },
    get stderr() {
      return stderr();
    },
    env,
    host,
    debug: globals.debug,
    contextName: endpoint?.context ?? globals.context,
    configDir: globals.config,
    now: options.now ?? Date.now,
    async client() {
      if (!client) {
        const [{ ApiClient }, { parseHost }] = await Promise.all([import('../client/client.js'), import('../client/transport.js')]);
        if (endpointError) throw endpointError;
        client = new ApiClient(parseHost(host, { tls: endpoint?.tls }), { apiVersion: env.BERTH_API_VERSION || env.DOCKER_API_VERSION || undefined });
      }
      return client;
    },
    onSignal(handler) {
      // docker proxies every catchable signal. SIGUSR1 would start Node's inspector, but not
      // while a listener is installed, so it is forwarded too. SIGWINCH is a resize, not a signal.
      const names: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM'];
      for (const s of names) signals.on(s, handler);
      return () => {
        for (const s of names) signals.off(s, handler);
      };
    },
  };

  try {
    const mod = await entry.load();
    const { parseCommand } = await import('./command.js');
    const { args, opts } = parseCommand(ctx, shown, mod, rest, verb);
    return await mod.run(ctx, args, opts);
  } catch (err) {
    return reportError(err, printErr);
  } finally {
    client?.close();
  }
}

/** Prints an error as the docker CLI would and returns the exit code. */
export function reportError(err: unknown, printErr: (msg: string) => void): number {
  if (err instanceof StatusError) {
    printErr(err.message);
    return err.status;
  }
  const e = err as { name?: string; phase?: string; message?: string };
  if (e?.name === 'ApiError') {
    printErr(`Error response from daemon: ${e.message}`);
    return 1;
  }
  if (e?.name === 'TemplateError' && e.phase === 'parse') {
    printErr(`template parsing error: ${e.message}`);
    return 64;
  }
  if (e?.name === 'DaemonUnreachableError' || e?.name === 'InvalidHostError' || e?.name === 'TemplateError' || e?.name === 'ContextError' || e?.name === 'TlsConfigError') {
    printErr(e.message ?? '');
    return 1;
  }
  printErr(e instanceof Error ? e.message : String(err));
  return 1;
}
