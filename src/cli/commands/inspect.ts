import { platformQuery } from '../platform-flag.js';
import type { CommandModule } from '../command.js';
import { ApiError } from '../../client/errors.js';
import { parseTemplate } from '../format/template.js';

/**
 * `berth inspect`: GET /containers/{id}/json?size= and/or GET /images/{name}/json (without
 * --type, a container first, then an image), printed as a JSON array (4-space indent, as
 * docker) or through `--format`.
 */
export const command: CommandModule = {
  usage: '[OPTIONS] NAME|ID [NAME|ID...]',
  description: 'Return low-level information on Docker objects',
  args: { min: 1 },
  configure(cmd) {
    cmd.option('-f, --format <string>', "Format output using a custom template: 'json' or 'TEMPLATE'");
    cmd.option('-s, --size', 'Display total file sizes if the type is container');
    cmd.option('--type <string>', 'Only inspect objects of the given type');
    cmd.option('--platform <string>', 'Inspect a specific platform of the multi-platform image (image objects only)');
  },
  async run(ctx, args, opts) {
    const o = opts as { format?: string; size?: boolean; type?: string; platform?: string };
    const platform = o.platform ? await platformQuery(ctx, o.platform, '1.49') : undefined;
    if (o.type && o.type !== 'container' && o.type !== 'image') {
      throw new Error(`"${o.type}" is not a valid value for --type`);
    }
    const format = o.format && o.format !== 'json' ? o.format : undefined;
    const template = format ? parseTemplate(format.replace(/\\t/g, '\t').replace(/\\n/g, '\n')) : undefined;
    const client = await ctx.client();
    const found: unknown[] = [];
    let failed = false;
    for (const name of args) {
      let obj: unknown;
      try {
        if (o.type !== 'image') {
          try {
            obj = await client.containerInspect(name, { size: o.size });
          } catch (err) {
            if (!(err instanceof ApiError && err.statusCode === 404) || o.type === 'container') throw err;
          }
        }
        obj ??= platform ? await client.json('GET', `/images/${encodeURIComponent(name)}/json`, { query: { platform } }) : await client.imageInspect(name);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        failed = true;
        const what = o.type ? `${o.type}` : 'object';
        ctx.stderr.write(err.statusCode === 404 ? `Error: No such ${what}: ${name}\n` : `Error response from daemon: ${err.message}\n`);
        continue;
      }
      if (template) ctx.stdout.write(`${template.execute(obj)}\n`);
      else found.push(obj);
    }
    if (!template) {
      ctx.stdout.write(`${found.length ? JSON.stringify(found, null, 4) : '[]'}\n`);
    }
    return failed ? 1 : 0;
  },
};
