import type { CommandModule } from '../command.js';
import { eraseCredentials } from '../../client/credentials.js';
import { serverDomain } from './login.js';

/** `berth logout`: removes stored credentials (config file or credential helper). */
export const command: CommandModule = {
  usage: '[SERVER]',
  description: 'Log out from a registry.\nIf no server is specified, the default is defined by the daemon.',
  args: { max: 1 },
  configure() {},
  async run(ctx, args) {
    const domain = serverDomain(args[0]);
    const shown = args[0] ?? 'https://index.docker.io/v1/';
    if (!(await eraseCredentials(domain, ctx.env))) {
      ctx.stdout.write(`Not logged in to ${shown}\n`);
      return 0;
    }
    ctx.stdout.write(`Removing login credentials for ${shown}\n`);
    return 0;
  },
};
