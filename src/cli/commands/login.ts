import type { CommandModule } from '../command.js';
import { storeCredentials } from '../../client/credentials.js';
import { StatusError } from '../errors.js';

/** The registry domain of a `login`/`logout` argument (`https://host/v1/` → `host`; none → docker.io). */
export function serverDomain(arg: string | undefined): string {
  if (!arg) return 'docker.io';
  const d = arg.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  return d === 'index.docker.io' || d === 'registry-1.docker.io' ? 'docker.io' : d;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let s = '';
  for await (const c of stream) s += c.toString();
  return s;
}

/** `berth login`: POST /auth to check the credentials, then store them in the docker config file. */
export const command: CommandModule = {
  usage: '[OPTIONS] [SERVER]',
  description: 'Log in to a registry.\nIf no server is specified, the default is defined by the daemon.',
  args: { max: 1 },
  configure(cmd) {
    cmd.option('-p, --password <string>', 'Password');
    cmd.option('--password-stdin', 'Take the password from stdin');
    cmd.option('-u, --username <string>', 'Username');
  },
  async run(ctx, args, opts) {
    const o = opts as { username?: string; password?: string; passwordStdin?: boolean };
    const domain = serverDomain(args[0]);
    let password = o.password;
    if (o.passwordStdin) {
      if (password) throw new StatusError(1, '--password and --password-stdin are mutually exclusive');
      if (!o.username) throw new StatusError(1, 'Must provide --username with --password-stdin');
      password = (await readAll(ctx.stdin)).replace(/\r?\n$/, '');
    } else if (password) {
      ctx.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    }
    if (!o.username || password === undefined) {
      throw new StatusError(1, 'Error: Cannot perform an interactive login from a non TTY device (berth login asks for -u and -p or --password-stdin)');
    }
    const client = await ctx.client();
    const serveraddress = domain === 'docker.io' ? 'https://index.docker.io/v1/' : domain;
    const r = await client.json<{ Status?: string; IdentityToken?: string }>('POST', '/auth', {
      body: { username: o.username, password, serveraddress },
    });
    const where = await storeCredentials(domain, r?.IdentityToken ? { identitytoken: r.IdentityToken } : { username: o.username, password }, ctx.env);
    if (where.endsWith('.json')) {
      ctx.stderr.write(`WARNING! Your password will be stored unencrypted in ${where}.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n`);
    }
    ctx.stdout.write(`${r?.Status ?? 'Login Succeeded'}\n`);
    return 0;
  },
};
