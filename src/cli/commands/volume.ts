/**
 * `berth volume create|ls|inspect|rm|prune`: docker's volume commands over /volumes
 * (docker/cli `cli/command/volume/*`).
 */
import type { CommandModule } from '../command.js';
import { collect } from '../command.js';
import { encodeFilters } from '../../client/client.js';
import { StatusError } from '../errors.js';
import { forEachTarget } from '../targets.js';
import { parseFilters } from '../filters.js';
import { runSubcommand } from './tls.js';
import { confirmPrune, inspectEach, keyValues, labelsText, writeList } from '../resource-list.js';

type Json = Record<string, any>;

/** `-o type=tmpfs -o o=size=1m,uid=1000`: the value after the first `=` is kept whole. */
function driverOpts(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new StatusError(125, `invalid argument "${kv}" for "-o, --opt" flag: invalid key value pair format`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

const create: CommandModule = {
  usage: '[OPTIONS] [VOLUME]',
  description: 'Create a volume',
  args: { max: 1 },
  configure(cmd) {
    cmd
      .option('-d, --driver <string>', 'Specify volume driver name', 'local')
      .option('--label <list>', 'Set metadata for a volume', collect)
      .option('--name <string>', 'Specify volume name')
      .option('-o, --opt <map>', 'Set driver specific options', collect)
      // Cluster (CSI) volumes: swarm mode only.
      .option('--availability <string>', 'Cluster Volume availability ("active", "pause", "drain")', 'active')
      .option('--group <string>', 'Cluster Volume group (cluster volumes)')
      .option('--limit-bytes <bytes>', 'Minimum size of the Cluster Volume in bytes')
      .option('--required-bytes <bytes>', 'Maximum size of the Cluster Volume in bytes')
      .option('--scope <string>', 'Cluster Volume access scope ("single", "multi")', 'single')
      .option('--secret <map>', 'Cluster Volume secrets', collect)
      .option('--sharing <string>', 'Cluster Volume access sharing ("none", "readonly", "onewriter", "all")', 'none')
      .option('--topology-preferred <list>', 'A topology that the Cluster Volume would be preferred in', collect)
      .option('--topology-required <list>', 'A topology that the Cluster Volume must be accessible from', collect)
      .option('--type <string>', 'Cluster Volume access type ("mount", "block")', 'block');
  },
  async run(ctx, args, opts) {
    const o = opts as { driver: string; label?: string[]; name?: string; opt?: string[] };
    const c = opts as Record<string, unknown>;
    const cluster = ['group', 'limitBytes', 'requiredBytes', 'secret', 'topologyPreferred', 'topologyRequired'].filter((k) => c[k] !== undefined);
    if (c['availability'] !== 'active') cluster.push('availability');
    if (c['scope'] !== 'single') cluster.push('scope');
    if (c['sharing'] !== 'none') cluster.push('sharing');
    if (c['type'] !== 'block') cluster.push('type');
    if (cluster.length) throw new StatusError(1, `${cluster.map((k) => `--${k.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)}`).join(', ')}: cluster volumes need swarm mode, which berth does not support`);
    if (o.name && args[0] && o.name !== args[0]) throw new StatusError(1, `conflicting options: either specify --name or provide positional arg, not both`);
    const client = await ctx.client();
    const v = await client.json<Json>('POST', '/volumes/create', {
      body: { Name: args[0] ?? o.name ?? '', Driver: o.driver, DriverOpts: driverOpts(o.opt), Labels: keyValues(o.label, 'label') },
    });
    ctx.stdout.write(`${v['Name']}\n`);
    return 0;
  },
};

const ls: CommandModule = {
  usage: '[OPTIONS]',
  description: 'List volumes',
  aliases: ['berth volume list'],
  args: { max: 0 },
  configure(cmd) {
    cmd
      .option('-f, --filter <filter>', "Provide filter values (e.g. 'dangling=true')", collect)
      .option('--format <string>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or 'TEMPLATE'")
      .option('-q, --quiet', 'Only display volume names')
      .option('--cluster', 'Display only cluster volumes, and use cluster volume list formatting');
  },
  async run(ctx, _args, opts) {
    const o = opts as { filter?: string[]; format?: string; quiet?: boolean };
    if ((opts as { cluster?: boolean }).cluster) throw new StatusError(1, '--cluster: cluster volumes need swarm mode, which berth does not support');
    const client = await ctx.client();
    const r = await client.json<{ Volumes: Json[] | null }>('GET', '/volumes', { query: { filters: encodeFilters(parseFilters(o.filter)) } });
    const list = r.Volumes ?? [];
    if (o.quiet) {
      for (const v of list) ctx.stdout.write(`${v['Name']}\n`);
      return 0;
    }
    const rows = list.map((v) => ({
      Name: v['Name'],
      Driver: v['Driver'],
      Scope: v['Scope'],
      Mountpoint: v['Mountpoint'],
      CreatedAt: v['CreatedAt'],
      Labels: labelsText(v['Labels']),
      Size: 'N/A',
      Links: 'N/A',
    }));
    await writeList(ctx, o.format, {
      defaultTable: 'table {{.Driver}}\t{{.Name}}',
      headers: { Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', CreatedAt: 'CREATED', Labels: 'LABELS', Size: 'SIZE', Links: 'LINKS' },
    }, rows);
    return 0;
  },
};

const inspect: CommandModule = {
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  description: 'Display detailed information on one or more volumes',
  args: { min: 1 },
  configure(cmd) {
    cmd.option('-f, --format <string>', "Format output using a custom template: 'json' or 'TEMPLATE'");
  },
  async run(ctx, args, opts) {
    const o = opts as { format?: string };
    return inspectEach(ctx, args, (name) => `/volumes/${encodeURIComponent(name)}`, o.format);
  },
};

const rm: CommandModule = {
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  description: 'Remove one or more volumes',
  aliases: ['berth volume remove'],
  args: { min: 1 },
  configure(cmd) {
    cmd.option('-f, --force', 'Force the removal of one or more volumes');
  },
  async run(ctx, args, opts) {
    const o = opts as { force?: boolean };
    const client = await ctx.client();
    return forEachTarget(ctx, args, (name) => client.send('DELETE', `/volumes/${encodeURIComponent(name)}`, { query: { force: o.force } }));
  },
};

const prune: CommandModule = {
  usage: '[OPTIONS]',
  description: 'Remove unused local volumes',
  args: { max: 0 },
  configure(cmd) {
    cmd
      .option('-a, --all', 'Remove all unused volumes, not just anonymous ones')
      .option('--filter <filter>', "Provide filter values (e.g. 'label=<label>')", collect)
      .option('-f, --force', 'Do not prompt for confirmation');
  },
  async run(ctx, _args, opts) {
    const o = opts as { all?: boolean; filter?: string[]; force?: boolean };
    const filters = parseFilters(o.filter);
    if (o.all) filters.push(['all', 'true']);
    const warning = o.all ? 'WARNING! This will remove all local volumes not used by at least one container.' : 'WARNING! This will remove anonymous local volumes not used by at least one container.';
    if (!o.force && !(await confirmPrune(ctx, warning))) return 0;
    const client = await ctx.client();
    const r = await client.json<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/volumes/prune', { query: { filters: encodeFilters(filters) } });
    if (r.VolumesDeleted?.length) ctx.stdout.write(`Deleted Volumes:\n${r.VolumesDeleted.join('\n')}\n\n`);
    const { humanSize } = await import('../../common/units.js');
    ctx.stdout.write(`Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0)}\n`);
    return 0;
  },
};

/** `volume update` changes cluster volumes only: swarm mode, which berth has not. */
const update: CommandModule = {
  usage: '[OPTIONS] [VOLUME]',
  description: 'Update a volume (cluster volumes only)',
  args: { exact: 1 },
  configure(cmd) {
    cmd.option('--availability <string>', 'Cluster Volume availability ("active", "pause", "drain")', 'active');
  },
  async run() {
    throw new StatusError(1, 'volume update: cluster volumes need swarm mode, which berth does not support (local volumes cannot be updated)');
  },
};

const SUBCOMMANDS: Record<string, CommandModule> = { create, inspect, ls, prune, rm, update };

/** `berth volume COMMAND`. */
export const command: CommandModule = {
  usage: 'COMMAND',
  description:
    'Manage volumes\n\nCommands:\n' +
    Object.entries(SUBCOMMANDS)
      .map(([k, m]) => `  ${k.padEnd(11)}${m.description}`)
      .join('\n'),
  positionalStop: true,
  configure() {},
  async run(ctx, args) {
    return runSubcommand(ctx, 'volume', SUBCOMMANDS, args);
  },
};
