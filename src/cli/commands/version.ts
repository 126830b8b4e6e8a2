import type { CommandModule } from '../command.js';
import type { SystemVersion } from '../../wire/api-types.js';
import { API_VERSION } from '../../client/client.js';
import { CLI_VERSION } from '../version-info.js';

function arch(): string {
  return ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm' } as Record<string, string>)[process.arch] ?? process.arch;
}

function line(indent: string, label: string, value: unknown, width: number): string {
  return `${indent}${`${label}:`.padEnd(width)}${value ?? ''}\n`;
}

/** The server section, laid out as docker's version template (Engine first, then components). */
function serverText(v: SystemVersion): string {
  let out = `\nServer:${v.Platform?.Name ? ` ${v.Platform.Name}` : ''}\n`;
  const components = v.Components?.length
    ? v.Components
    : [
        {
          Name: 'Engine',
          Version: v.Version ?? '',
          Details: {
            ApiVersion: v.ApiVersion ?? '',
            MinAPIVersion: v.MinAPIVersion ?? '',
            GitCommit: v.GitCommit ?? '',
            GoVersion: v.GoVersion ?? '',
            Os: v.Os ?? '',
            Arch: v.Arch ?? '',
            BuildTime: v.BuildTime ?? '',
            Experimental: String(v.Experimental ?? false),
            KernelVersion: v.KernelVersion ?? '',
          },
        },
      ];
  for (const c of components) {
    const d = c.Details ?? {};
    out += ` ${c.Name}:\n`;
    if (c.Name === 'Engine') {
      out += line('  ', 'Version', c.Version, 18);
      out += line('  ', 'API version', `${d.ApiVersion ?? ''} (minimum version ${d.MinAPIVersion ?? ''})`, 18);
      if (d.NodeVersion) out += line('  ', 'Node.js version', d.NodeVersion, 18);
      else out += line('  ', 'Go version', d.GoVersion, 18);
      out += line('  ', 'Git commit', d.GitCommit, 18);
      out += line('  ', 'Built', d.BuildTime, 18);
      out += line('  ', 'OS/Arch', `${d.Os ?? ''}/${d.Arch ?? ''}`, 18);
      out += line('  ', 'Experimental', d.Experimental, 18);
      if (d.KernelVersion) out += line('  ', 'Kernel Version', d.KernelVersion, 18);
    } else {
      out += line('  ', 'Version', c.Version, 18);
      for (const k of Object.keys(d).sort()) out += line('  ', k, d[k], 18);
    }
  }
  return out;
}

/**
 * `berth version`: prints the client section without the daemon, then GET /version for the
 * server section (exit 1 with the connection error when the daemon is not there, as docker).
 */
export const command: CommandModule = {
  usage: '[OPTIONS]',
  description: 'Show the berth version information',
  args: { max: 0 },
  configure(cmd) {
    cmd.option('-f, --format <string>', "Format output using a custom template: 'json' or 'TEMPLATE'");
  },
  async run(ctx, _args, opts) {
    const { format } = opts as { format?: string };
    const clientInfo = {
      Platform: { Name: 'berth' },
      Version: CLI_VERSION,
      ApiVersion: API_VERSION,
      DefaultAPIVersion: API_VERSION,
      GitCommit: 'unknown',
      NodeVersion: process.version,
      Os: process.platform,
      Arch: arch(),
      BuildTime: 'unknown',
      Context: 'default',
    };
    const template = format && format !== 'json' ? (await import('../format/template.js')).parseTemplate(format, { name: 'version' }) : undefined;
    const client = await ctx.client();
    if (!format) {
      ctx.stdout.write(
        'Client:\n' +
          line(' ', 'Version', clientInfo.Version, 19) +
          line(' ', 'API version', clientInfo.ApiVersion, 19) +
          line(' ', 'Node.js version', clientInfo.NodeVersion, 19) +
          line(' ', 'Git commit', clientInfo.GitCommit, 19) +
          line(' ', 'Built', clientInfo.BuildTime, 19) +
          line(' ', 'OS/Arch', `${clientInfo.Os}/${clientInfo.Arch}`, 19) +
          line(' ', 'Context', clientInfo.Context, 19),
      );
    }
    let server: SystemVersion | undefined;
    let failure: unknown;
    try {
      server = await client.version();
    } catch (err) {
      failure = err;
    }
    if (format) {
      const data = { Client: clientInfo, Server: server ?? null };
      ctx.stdout.write(`${template ? template.execute(data) : JSON.stringify(data)}\n`);
    } else if (server) {
      ctx.stdout.write(serverText(server));
    }
    if (failure) throw failure;
    return 0;
  },
};
