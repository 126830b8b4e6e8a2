/**
 * `berth tls init [DIR]`: makes what a daemon on `tcp://` with mutual TLS needs, laid out as
 * Docker's "Protect the Docker daemon socket" guide names the files:
 *
 *   ca.pem, ca-key.pem            a new certificate authority (keep ca-key.pem secret)
 *   server-cert.pem, server-key.pem   berthd's certificate (DNS names and IPs from the flags)
 *   cert.pem, key.pem             a client certificate (extendedKeyUsage clientAuth)
 *
 * so `berthd --tlsverify --tlscacert DIR/ca.pem --tlscert DIR/server-cert.pem --tlskey
 * DIR/server-key.pem -H tcp://0.0.0.0:2376` serves, and `DOCKER_CERT_PATH=DIR
 * DOCKER_TLS_VERIFY=1` (or `berth context create --docker host=…,ca=…,cert=…,key=…`) connects.
 * `berth tls client-cert DIR OUT` signs another client certificate with DIR's CA.
 *
 * Certificates are made by the `openssl` CLI: node:crypto parses X.509 but cannot issue it,
 * and openssl is on every machine that has TLS at all. Keys are ECDSA P-256 (fast to make;
 * Go's TLS stack, hence the docker CLI, accepts them).
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { CommandModule } from '../command.js';
import { collect, parseCommand, parseIntFlag } from '../command.js';
import type { Invocation } from '../invocation.js';
import { StatusError } from '../errors.js';

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    execFile('openssl', args, { cwd }, (err, _stdout, stderr) => {
      if (!err) return resolvePromise();
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') reject(new StatusError(1, 'openssl is not installed (apt-get install openssl)'));
      else reject(new StatusError(1, `openssl ${args[0]} failed: ${stderr.trim() || e.message}`));
    });
  });
}

const EC_KEY = ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out'];

function serial(): string {
  // Positive 127-bit serial: random, as RFC 5280 recommends.
  const b = randomBytes(16);
  b[0]! &= 0x7f;
  return `0x${b.toString('hex')}`;
}

/** Issues `name`-cert.pem/`name`-key.pem in `work`, signed by ca.pem/ca-key.pem there. */
async function issue(work: string, o: { cn: string; ext: string; days: number; certFile: string; keyFile: string }): Promise<void> {
  await openssl([...EC_KEY, o.keyFile], work);
  await openssl(['req', '-new', '-key', o.keyFile, '-subj', `/CN=${o.cn.replace(/[/\\]/g, '')}`, '-out', 'req.csr'], work);
  await writeFile(join(work, 'ext.cnf'), o.ext);
  await openssl(['x509', '-req', '-in', 'req.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-set_serial', serial(), '-days', String(o.days), '-sha256', '-extfile', 'ext.cnf', '-out', o.certFile], work);
  await rm(join(work, 'req.csr'));
  await rm(join(work, 'ext.cnf'));
}

const CLIENT_EXT = 'basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\n';

async function refuseExisting(dir: string, names: string[], force: boolean): Promise<void> {
  if (force) return;
  for (const n of names) {
    if (await stat(join(dir, n)).then(() => true, () => false)) {
      throw new StatusError(1, `${join(dir, n)} already exists: use --force to replace the certificates in ${dir}`);
    }
  }
}

/** Moves the finished files into `dir` (keys 0600), only once every step has worked. */
async function install(work: string, dir: string, names: string[]): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  for (const n of names) {
    await chmod(join(work, n), n.includes('key') ? 0o600 : 0o644);
    await rename(join(work, n), join(dir, n)).catch(async () => {
      // Another filesystem: copy instead.
      await writeFile(join(dir, n), await readFile(join(work, n)), { mode: n.includes('key') ? 0o600 : 0o644 });
    });
  }
}

const ALL_FILES = ['ca.pem', 'ca-key.pem', 'server-cert.pem', 'server-key.pem', 'cert.pem', 'key.pem'];

const init: CommandModule = {
  usage: '[OPTIONS] [DIR]',
  description: 'Create a CA, a server certificate for berthd and a client certificate (default DIR "/etc/berth/tls")',
  args: { max: 1 },
  configure(cmd) {
    cmd
      .option('--hostname <list>', 'DNS name for the server certificate (default: this host\'s name and localhost)', collect, [])
      .option('--ip <list>', 'IP address for the server certificate (default 127.0.0.1 and ::1)', collect, [])
      .option('--days <int>', 'Validity of the certificates in days', parseIntFlag, 365)
      .option('--client-name <string>', 'Common name of the client certificate', 'client')
      .option('-f, --force', 'Replace existing files');
  },
  async run(ctx, args, opts) {
    const o = opts as { hostname: string[]; ip: string[]; days: number; clientName: string; force?: boolean };
    const dir = resolve(args[0] ?? '/etc/berth/tls');
    if (!(o.days > 0)) throw new StatusError(1, `invalid --days ${o.days}: must be a positive number`);
    for (const ip of o.ip) if (!isIP(ip)) throw new StatusError(1, `invalid --ip "${ip}": not an IP address`);
    for (const h of o.hostname) if (!/^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(h)) throw new StatusError(1, `invalid --hostname "${h}"`);
    const names = o.hostname.length ? o.hostname : [...new Set([hostname(), 'localhost'])];
    const ips = [...new Set(['127.0.0.1', '::1', ...o.ip])];
    await refuseExisting(dir, ALL_FILES, !!o.force);
    const work = await mkdtemp(join(tmpdir(), 'berth-tls-'));
    try {
      await openssl([...EC_KEY, 'ca-key.pem'], work);
      await openssl(
        ['req', '-x509', '-new', '-key', 'ca-key.pem', '-sha256', '-days', String(o.days), '-subj', '/CN=berth CA', '-set_serial', serial(),
          '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.pem'],
        work,
      );
      const san = [...names.map((n) => `DNS:${n}`), ...ips.map((i) => `IP:${i}`)].join(',');
      await issue(work, {
        cn: names[0]!, days: o.days, certFile: 'server-cert.pem', keyFile: 'server-key.pem',
        ext: `basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\nsubjectAltName = ${san}\n`,
      });
      await issue(work, { cn: o.clientName, days: o.days, certFile: 'cert.pem', keyFile: 'key.pem', ext: CLIENT_EXT });
      await install(work, dir, ALL_FILES);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    ctx.stdout.write(
      `Created a CA, a server and a client certificate in ${dir} (valid ${o.days} days)\n` +
        `  server names: ${[...names, ...ips].join(', ')}\n\n` +
        `Start the daemon:\n  berthd --tlsverify --tlscacert=${dir}/ca.pem --tlscert=${dir}/server-cert.pem --tlskey=${dir}/server-key.pem -H=tcp://0.0.0.0:2376\n\n` +
        `Connect (copy ca.pem, cert.pem and key.pem to the client):\n  berth context create remote --docker "host=tcp://HOST:2376,ca=${dir}/ca.pem,cert=${dir}/cert.pem,key=${dir}/key.pem"\n` +
        `  or: DOCKER_CERT_PATH=${dir} DOCKER_TLS_VERIFY=1 berth -H tcp://HOST:2376 version\n` +
        `Keep ${dir}/ca-key.pem secret: whoever holds it can make client certificates.\n`,
    );
    return 0;
  },
};

const clientCert: CommandModule = {
  usage: '[OPTIONS] CA_DIR OUT_DIR',
  description: 'Sign another client certificate (cert.pem, key.pem, and a copy of ca.pem) with the CA in CA_DIR',
  args: { exact: 2 },
  configure(cmd) {
    cmd
      .option('--name <string>', 'Common name of the client certificate', 'client')
      .option('--days <int>', 'Validity in days', parseIntFlag, 365)
      .option('-f, --force', 'Replace existing files');
  },
  async run(ctx, args, opts) {
    const o = opts as { name: string; days: number; force?: boolean };
    const [caDir, outDir] = [resolve(args[0]!), resolve(args[1]!)];
    if (!(o.days > 0)) throw new StatusError(1, `invalid --days ${o.days}: must be a positive number`);
    await refuseExisting(outDir, ['cert.pem', 'key.pem', 'ca.pem'], !!o.force);
    const work = await mkdtemp(join(tmpdir(), 'berth-tls-'));
    try {
      for (const f of ['ca.pem', 'ca-key.pem']) {
        const data = await readFile(join(caDir, f)).catch((e: Error) => {
          throw new StatusError(1, `could not read ${join(caDir, f)}: ${e.message}`);
        });
        await writeFile(join(work, f), data, { mode: 0o600 });
      }
      await issue(work, { cn: o.name, days: o.days, certFile: 'cert.pem', keyFile: 'key.pem', ext: CLIENT_EXT });
      await install(work, outDir, ['cert.pem', 'key.pem', 'ca.pem']);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    ctx.stdout.write(`Created client certificate "${o.name}" in ${outDir} (cert.pem, key.pem, ca.pem)\n`);
    return 0;
  },
};

const SUBCOMMANDS: Record<string, CommandModule> = { init, 'client-cert': clientCert };

/** `berth tls COMMAND`: certificates for a daemon on tcp:// with mutual TLS. */
export const command: CommandModule = {
  usage: 'COMMAND',
  description:
    'Manage TLS certificates for remote daemons\n\nCommands:\n' +
    '  init         Create a CA, a server certificate for berthd and a client certificate\n' +
    '  client-cert  Sign another client certificate with an existing CA',
  positionalStop: true,
  configure() {},
  async run(ctx, args) {
    return runSubcommand(ctx, 'tls', SUBCOMMANDS, args);
  },
};

/** Dispatches `PROG GROUP SUB ARGS…` to SUB's module (shared with `berth context`). */
export async function runSubcommand(ctx: Invocation, group: string, subs: Record<string, CommandModule>, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const mod = sub === undefined ? undefined : Object.hasOwn(subs, sub) ? subs[sub] : Object.values(subs).find((m) => m.aliases?.includes(`${ctx.prog} ${group} ${sub}`));
  if (!mod) {
    const list = Object.entries(subs).map(([k, m]) => `  ${k.padEnd(12)}${m.description.split('\n')[0]}\n`).join('');
    if (sub === undefined) {
      ctx.stdout.write(`\nUsage:  ${ctx.prog} ${group} COMMAND\n\nCommands:\n${list}\nRun '${ctx.prog} ${group} COMMAND --help' for more information on a command.\n`);
      return 0;
    }
    throw new StatusError(1, `${ctx.prog}: '${group} ${sub}' is not a ${ctx.prog} command.\nSee '${ctx.prog} ${group} --help'`);
  }
  const name = Object.keys(subs).find((k) => subs[k] === mod)!;
  const { args: a, opts } = parseCommand(ctx, `${group} ${name}`, mod, rest);
  return mod.run(ctx, a, opts);
}
