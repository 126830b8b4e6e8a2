import type { CommandModule } from '../command.js';
import type { SystemInfo } from '../../wire/api-types.js';
import { CLI_VERSION } from '../version-info.js';
import { bytesSize } from '../../common/units.js';

function serverText(i: SystemInfo): string {
  const lines: string[] = [];
  const add = (label: string, value: unknown, indent = ' '): void => {
    lines.push(`${indent}${label}: ${value ?? ''}`);
  };
  add('Containers', i.Containers ?? 0);
  add('Running', i.ContainersRunning ?? 0, '  ');
  add('Paused', i.ContainersPaused ?? 0, '  ');
  add('Stopped', i.ContainersStopped ?? 0, '  ');
  add('Images', i.Images ?? 0);
  add('Server Version', i.ServerVersion);
  add('Storage Driver', i.Driver);
  for (const [k, v] of i.DriverStatus ?? []) add(k, v, '  ');
  add('Logging Driver', i.LoggingDriver);
  add('Cgroup Driver', i.CgroupDriver);
  add('Cgroup Version', i.CgroupVersion);
  if (i.Runtimes) add('Runtimes', Object.keys(i.Runtimes).sort().join(' '));
  add('Default Runtime', i.DefaultRuntime);
  if (i.SecurityOptions?.length) {
    lines.push(' Security Options:');
    for (const s of i.SecurityOptions) lines.push(`  ${s.replace(/^name=/, '')}`);
  }
  add('Kernel Version', i.KernelVersion);
  add('Operating System', i.OperatingSystem);
  add('OSType', i.OSType);
  add('Architecture', i.Architecture);
  add('CPUs', i.NCPU ?? 0);
  add('Total Memory', bytesSize(i.MemTotal ?? 0));
  add('Name', i.Name);
  add('ID', i.ID);
  add('Docker Root Dir', i.DockerRootDir);
  add('Debug Mode', i.Debug ?? false);
  if (i.Labels?.length) {
    lines.push(' Labels:');
    for (const l of i.Labels) lines.push(`  ${l}`);
  }
  add('Experimental', i.ExperimentalBuild ?? false);
  add('Live Restore Enabled', i.LiveRestoreEnabled ?? false);
  return `${lines.join('\n')}\n`;
}

/** `berth info`: GET /info, printed in docker's layout (client section first). */
export const command: CommandModule = {
  usage: '[OPTIONS]',
  description: 'Display system-wide information',
  aliases: ['berth system info'],
  args: { max: 0 },
  configure(cmd) {
    cmd.option('-f, --format <string>', "Format output using a custom template: 'json' or 'TEMPLATE'");
  },
  async run(ctx, _args, opts) {
    const { format } = opts as { format?: string };
    const template = format && format !== 'json' ? (await import('../format/template.js')).parseTemplate(format, { name: 'info' }) : undefined;
    const client = await ctx.client();
    if (format) {
      const info = await client.info();
      ctx.stdout.write(`${template ? template.execute(info) : JSON.stringify(info)}\n`);
      return 0;
    }
    ctx.stdout.write(`Client:\n Version:    ${CLI_VERSION}\n Context:    default\n Debug Mode: ${ctx.debug}\n\nServer:\n`);
    let info: SystemInfo;
    try {
      info = await client.info();
    } catch (err) {
      const e = err as Error;
      ctx.stdout.write(`ERROR: ${e.name === 'ApiError' ? `Error response from daemon: ${e.message}` : e.message}\nerrors pretty printing info\n`);
      return 1;
    }
    ctx.stdout.write(serverText(info));
    for (const w of info.Warnings ?? []) ctx.stderr.write(`${w}\n`);
    return 0;
  },
};
