import type { CommandModule } from '../command.js';

/**
 * `berth desktop` (issue 19): prints the dashboard's URL, token included (GET /berth/desktop),
 * and opens it with xdg-open when a graphical session is there and stdout is a terminal.
 */
export const command: CommandModule = {
  usage: '[OPTIONS]',
  description: 'Print the URL of the berth desktop dashboard and open it in a browser',
  args: { max: 0 },
  configure(cmd) {
    cmd.option('--no-browser', 'Only print the URL; do not open a browser');
  },
  async run(ctx, _args, opts) {
    const client = await ctx.client();
    const { URL: url } = await client.json<{ URL: string }>('GET', '/berth/desktop');
    ctx.stdout.write(`${url}\n`);
    const o = opts as { browser?: boolean };
    const graphical = !!(ctx.env['DISPLAY'] || ctx.env['WAYLAND_DISPLAY']);
    if (o.browser !== false && graphical && ctx.stdout.isTTY) {
      const { spawn } = await import('node:child_process');
      await new Promise<void>((resolve) => {
        const child = spawn('xdg-open', [url], { stdio: 'ignore', detached: true });
        child.on('error', () => resolve()); // no xdg-open: the printed URL is enough
        child.on('spawn', () => {
          child.unref();
          resolve();
        });
      });
    }
    return 0;
  },
};
