/**
 * `berth registry serve --addr HOST:PORT --root DIR [--htpasswd FILE]`: berth's own OCI
 * registry. A separate entry point because the server is daemon-side code (registry/server)
 * and the CLI must not import it: `berth registry …` (cli/commands/registry.ts) execs this file
 * with the same arguments.
 */
import { startRegistryServer } from '../registry/server/server.js';

const USAGE = `
Usage:  berth registry serve [OPTIONS]

Run an OCI distribution (Docker registry v2) server with filesystem storage

Options:
      --addr string       Address to listen on (default "127.0.0.1:5000")
      --htpasswd string   htpasswd file (bcrypt, "htpasswd -B"): require basic auth
      --root string       Storage directory (default "/var/lib/berth-registry")
`;

async function main(argv: string[]): Promise<number> {
  if (argv[0] !== 'serve') {
    process.stderr.write(argv[0] && argv[0] !== '--help' ? `berth registry: unknown command "${argv[0]}"\n${USAGE}` : USAGE);
    return argv[0] && argv[0] !== '--help' ? 1 : 0;
  }
  const opts: Record<string, string> = { addr: '127.0.0.1:5000', root: '/var/lib/berth-registry' };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE);
      return 0;
    }
    const m = /^--(addr|root|htpasswd)(?:=(.*))?$/.exec(a);
    if (!m) {
      process.stderr.write(`unknown flag: ${a}\nSee 'berth registry serve --help'.\n`);
      return 125;
    }
    const v = m[2] ?? argv[++i];
    if (v === undefined) {
      process.stderr.write(`flag needs an argument: --${m[1]}\n`);
      return 125;
    }
    opts[m[1]!] = v;
  }
  const am = /^(.*):(\d+)$/.exec(opts.addr!);
  if (!am) {
    process.stderr.write(`invalid --addr ${JSON.stringify(opts.addr)}: expected HOST:PORT\n`);
    return 125;
  }
  const host = am[1]!.replace(/^\[(.*)\]$/, '$1') || '0.0.0.0';
  const server = await startRegistryServer({
    host,
    port: Number(am[2]),
    root: opts.root!,
    ...(opts.htpasswd ? { htpasswd: opts.htpasswd } : {}),
    log: (m) => process.stderr.write(`${m}\n`),
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : Number(am[2]);
  process.stderr.write(`berth registry listening on ${host}:${port}, storage ${opts.root}${opts.htpasswd ? ', basic auth' : ''}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`berth registry: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
