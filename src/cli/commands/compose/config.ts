/** `berth compose config`. */
import { stringify as yamlStringify } from 'yaml';
import { StatusError } from '../../errors.js';
import type { FlagSet } from '../../flags.js';
import { serviceImage } from '../../../compose/convert.js';
import { dependencyOrder } from '../../../compose/runner.js';
import { defineVerb, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = defineVerb({
  usage: '[OPTIONS] [SERVICE...]',
  description: 'Parse, resolve and render compose file in canonical format',
  configure(f: FlagSet) {
    f.option('--format <string>', 'Format the output. Values: [yaml | json]', 'yaml');
    f.option('-q, --quiet', 'Only validate the configuration, don\'t print anything');
    f.option('--services', 'Print the service names, one per line.');
    f.option('--volumes', 'Print the volume names, one per line.');
    f.option('--networks', 'Print the network names, one per line.');
    f.option('--profiles', 'Print the profile names, one per line.');
    f.option('--images', 'Print the image names, one per line.');
    f.option('-o, --output <string>', 'Save to file (default to stdout)');
    f.option('--no-interpolate', "Don't interpolate environment variables");
  },
  async runCompose(session, args, opts) {
    const o = opts as { format?: string; quiet?: boolean; services?: boolean; volumes?: boolean; networks?: boolean; profiles?: boolean; images?: boolean; output?: string };
    const project = session.load(args);
    const out = session.ctx.stdout;
    if (o.quiet) return 0;
    const names = args.length ? args : dependencyOrder(project.services);
    if (o.services) {
      out.write(names.map((n) => `${n}\n`).join(''));
      return 0;
    }
    if (o.volumes) {
      out.write(Object.keys(project.volumes).map((n) => `${n}\n`).join(''));
      return 0;
    }
    if (o.networks) {
      out.write(Object.keys(project.networks).map((n) => `${n}\n`).join(''));
      return 0;
    }
    if (o.profiles) {
      const all = new Set<string>();
      for (const s of [...Object.values(project.services), ...Object.values(project.disabledServices)]) for (const p of s.profiles ?? []) all.add(p);
      out.write([...all].sort().map((n) => `${n}\n`).join(''));
      return 0;
    }
    if (o.images) {
      out.write(names.map((n) => `${serviceImage(project, project.services[n]!)}\n`).join(''));
      return 0;
    }
    const services: Record<string, unknown> = {};
    for (const n of Object.keys(project.services).sort()) {
      if (args.length && !args.includes(n)) continue;
      const { name: _n, ...rest } = project.services[n]!;
      void _n;
      services[n] = rest;
    }
    const model: Record<string, unknown> = { name: project.name, services };
    if (Object.keys(project.networks).length) model.networks = project.networks;
    if (Object.keys(project.volumes).length) model.volumes = project.volumes;
    let text: string;
    if (o.format === 'json') text = `${JSON.stringify(model, null, 2)}\n`;
    else if (o.format === 'yaml' || !o.format) text = yamlStringify(model, { aliasDuplicateObjects: false });
    else throw new StatusError(1, `unsupported format ${JSON.stringify(o.format)}`);
    if (o.output) {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(o.output, text);
    } else out.write(text);
    return 0;
  },
});
