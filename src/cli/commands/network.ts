/**
 * `berth network create|ls|inspect|rm|prune|connect|disconnect`: docker's network commands
 * over /networks (docker/cli `cli/command/network/*`): IDs or names on stdout, errors as
 * `Error response from daemon: …`.
 */
import type { CommandModule } from '../command.js';
import { collect, parseIntFlag } from '../command.js';
import { linkEntry, validatedList } from '../resource-flags.js';
import { encodeFilters } from '../../client/client.js';
import { StatusError } from '../errors.js';
import { ipamConfigFromFlags } from '../ipam-flags.js';
import { forEachTarget } from '../targets.js';
import { parseFilters } from '../filters.js';
import { runSubcommand } from './tls.js';
import { ApiError } from '../../client/errors.js';
import { confirmPrune, inspectEach, keyValues, labelsText, writeList } from '../resource-list.js';

type Json = Record<string, any>;

const create: CommandModule = {
  usage: '[OPTIONS] NETWORK',
  description: 'Create a network',
  args: { exact: 1 },
  configure(cmd) {
    cmd
      .option('--attachable', 'Enable manual container attachment')
      .option('--aux-address <map>', 'Auxiliary IPv4 or IPv6 addresses used by Network driver', collect)
      .option('-d, --driver <string>', 'Driver to manage the Network', 'bridge')
      .option('--gateway <strings>', 'IPv4 or IPv6 Gateway for the master subnet', collect)
      .option('--internal', 'Restrict external access to the network')
      .option('--ip-range <strings>', 'Allocate container ip from a sub-range', collect)
      .option('--ipam-driver <string>', 'IP Address Management Driver', 'default')
      .option('--ipam-opt <map>', 'Set IPAM driver specific options', collect)
      .option('--ipv6', 'Enable IPv6 networking')
      .option('--label <list>', 'Set metadata on a network', collect)
      .option('-o, --opt <map>', 'Set driver specific options', collect)
      .option('--subnet <strings>', 'Subnet in CIDR format that represents a network segment', collect)
      .option('--aux-address <map>', 'Auxiliary IPv4 or IPv6 addresses used by Network driver', collect)
      .option('--config-from <string>', 'The network from which to copy the configuration')
      .option('--config-only', 'Create a configuration only network')
      .option('--ingress', 'Create swarm routing-mesh network')
      .option('--ipv4', 'Enable IPv4 networking (default true)')
      .option('--scope <string>', "Control the network's scope");
  },
  async run(ctx, args, opts) {
    const o = opts as { attachable?: boolean; auxAddress?: string[]; driver: string; gateway?: string[]; internal?: boolean; ipRange?: string[]; ipamDriver: string; ipamOpt?: string[]; ipv6?: boolean; label?: string[]; opt?: string[]; subnet?: string[] };
    const subnets = o.subnet ?? [];
    if ((o.gateway?.length ?? 0) > subnets.length) throw new StatusError(125, 'every ip-range or gateway must have a corresponding subnet');
    if ((o.ipRange?.length ?? 0) > subnets.length) throw new StatusError(125, 'every ip-range or gateway must have a corresponding subnet');
    const x = opts as { configFrom?: string; configOnly?: boolean; ingress?: boolean; ipv4?: boolean; scope?: string };
    // --ip-range, --gateway and --aux-address go to the subnet that holds them (docker's consolidateIpam).
    const config = ipamConfigFromFlags(o);
    const client = await ctx.client();
    const r = await client.json<{ Id: string }>('POST', '/networks/create', {
      body: {
        Name: args[0],
        Driver: o.driver,
        Internal: o.internal ?? false,
        Attachable: o.attachable ?? false,
        EnableIPv6: o.ipv6 ?? false,
        IPAM: { Driver: o.ipamDriver, Config: config, Options: keyValues(o.ipamOpt, 'ipam-opt') },
        Options: keyValues(o.opt, 'opt'),
        Labels: keyValues(o.label, 'label'),
        ...(x.scope !== undefined ? { Scope: x.scope } : {}),
        ...(x.ipv4 !== undefined ? { EnableIPv4: x.ipv4 } : {}),
        ...(x.ingress ? { Ingress: true } : {}),
        ...(x.configOnly ? { ConfigOnly: true } : {}),
        ...(x.configFrom ? { ConfigFrom: { Network: x.configFrom } } : {}),
      },
    });
    ctx.stdout.write(`${r.Id}\n`);
    return 0;
  },
};

const ls: CommandModule = {
  usage: '[OPTIONS]',
  description: 'List networks',
  aliases: ['berth network list'],
  args: { max: 0 },
  configure(cmd) {
    cmd
      .option('-f, --filter <filter>', 'Provide filter values (e.g. "driver=bridge")', collect)
      .option('--format <string>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or 'TEMPLATE'")
      .option('--no-trunc', 'Do not truncate the output')
      .option('-q, --quiet', 'Only display network IDs');
  },
  async run(ctx, _args, opts) {
    const o = opts as { filter?: string[]; format?: string; trunc?: boolean; noTrunc?: boolean; quiet?: boolean };
    const noTrunc = o.noTrunc === true || o.trunc === false;
    const client = await ctx.client();
    const list = await client.json<Json[]>('GET', '/networks', { query: { filters: encodeFilters(parseFilters(o.filter)) } });
    const id = (n: Json) => (noTrunc ? n['Id'] : String(n['Id']).slice(0, 12));
    if (o.quiet) {
      for (const n of list) ctx.stdout.write(`${id(n)}\n`);
      return 0;
    }
    const rows = list.map((n) => ({
      ID: id(n),
      Name: n['Name'],
      Driver: n['Driver'],
      Scope: n['Scope'],
      IPv6: String(n['EnableIPv6'] ?? false),
      Internal: String(n['Internal'] ?? false),
      CreatedAt: n['Created'],
      Labels: labelsText(n['Labels']),
    }));
    await writeList(ctx, o.format, {
      defaultTable: 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}',
      headers: { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL', CreatedAt: 'CREATED AT', Labels: 'LABELS' },
    }, rows);
    return 0;
  },
};

const inspect: CommandModule = {
  usage: '[OPTIONS] NETWORK [NETWORK...]',
  description: 'Display detailed information on one or more networks',
  args: { min: 1 },
  configure(cmd) {
    cmd.option('-f, --format <string>', "Format output using a custom template: 'json' or 'TEMPLATE'").option('-v, --verbose', 'Verbose output for diagnostics');
  },
  async run(ctx, args, opts) {
    const o = opts as { format?: string; verbose?: boolean };
    return inspectEach(ctx, args, (name) => `/networks/${encodeURIComponent(name)}${o.verbose ? '?verbose=true' : ''}`, o.format);
  },
};

const rm: CommandModule = {
  usage: '[OPTIONS] NETWORK [NETWORK...]',
  description: 'Remove one or more networks',
  aliases: ['berth network remove'],
  args: { min: 1 },
  configure(cmd) {
    cmd.option('-f, --force', 'Do not error if the network does not exist');
  },
  async run(ctx, args, opts) {
    const o = opts as { force?: boolean };
    const client = await ctx.client();
    return forEachTarget(ctx, args, async (name) => {
      try {
        await client.send('DELETE', `/networks/${encodeURIComponent(name)}`);
      } catch (err) {
        if (o.force && err instanceof ApiError && err.statusCode === 404) return;
        throw err;
      }
    });
  },
};

const prune: CommandModule = {
  usage: '[OPTIONS]',
  description: 'Remove all unused networks',
  args: { max: 0 },
  configure(cmd) {
    cmd.option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect).option('-f, --force', 'Do not prompt for confirmation');
  },
  async run(ctx, _args, opts) {
    const o = opts as { filter?: string[]; force?: boolean };
    if (!o.force && !(await confirmPrune(ctx, 'WARNING! This will remove all custom networks not used by at least one container.'))) return 0;
    const client = await ctx.client();
    const r = await client.json<{ NetworksDeleted: string[] | null }>('POST', '/networks/prune', { query: { filters: encodeFilters(parseFilters(o.filter)) } });
    if (r.NetworksDeleted?.length) ctx.stdout.write(`Deleted Networks:\n${r.NetworksDeleted.join('\n')}\n`);
    return 0;
  },
};

const connect: CommandModule = {
  usage: '[OPTIONS] NETWORK CONTAINER',
  description: 'Connect a container to a network',
  args: { exact: 2 },
  configure(cmd) {
    cmd
      .option('--alias <strings>', 'Add network-scoped alias for the container', collect)
      .option('--ip <string>', 'IPv4 address (e.g., "172.30.100.104")')
      .option('--ip6 <string>', 'IPv6 address (e.g., "2001:db8::33")')
      .option('--driver-opt <strings>', 'driver options for the network', collect)
      .option('--gw-priority <int>', 'Highest gw-priority provides the default gateway. Accepts positive and negative values.', parseIntFlag)
      .option('--link <list>', 'Add link to another container', validatedList(linkEntry))
      .option('--link-local-ip <strings>', 'Add a link-local address for the container', collect);
  },
  async run(ctx, args, opts) {
    const o = opts as { alias?: string[]; ip?: string; ip6?: string; driverOpt?: string[]; gwPriority?: number; link?: string[]; linkLocalIp?: string[] };
    const client = await ctx.client();
    const ipam = { ...(o.ip ? { IPv4Address: o.ip } : {}), ...(o.ip6 ? { IPv6Address: o.ip6 } : {}), ...(o.linkLocalIp?.length ? { LinkLocalIPs: o.linkLocalIp } : {}) };
    await client.send('POST', `/networks/${encodeURIComponent(args[0]!)}/connect`, {
      body: {
        Container: args[1],
        EndpointConfig: {
          Aliases: o.alias ?? [],
          ...(Object.keys(ipam).length ? { IPAMConfig: ipam } : {}),
          ...(o.link?.length ? { Links: o.link } : {}),
          ...(o.driverOpt?.length ? { DriverOpts: keyValues(o.driverOpt, 'driver-opt') } : {}),
          ...(o.gwPriority !== undefined ? { GwPriority: o.gwPriority } : {}),
        },
      },
    });
    return 0;
  },
};

const disconnect: CommandModule = {
  usage: '[OPTIONS] NETWORK CONTAINER',
  description: 'Disconnect a container from a network',
  args: { exact: 2 },
  configure(cmd) {
    cmd.option('-f, --force', 'Force the container to disconnect from a network');
  },
  async run(ctx, args, opts) {
    const o = opts as { force?: boolean };
    const client = await ctx.client();
    await client.send('POST', `/networks/${encodeURIComponent(args[0]!)}/disconnect`, { body: { Container: args[1], Force: o.force ?? false } });
    return 0;
  },
};

const SUBCOMMANDS: Record<string, CommandModule> = { connect, create, disconnect, inspect, ls, prune, rm };

/** `berth network COMMAND`. */
export const command: CommandModule = {
  usage: 'COMMAND',
  description:
    'Manage networks\n\nCommands:\n' +
    Object.entries(SUBCOMMANDS)
      .map(([k, m]) => `  ${k.padEnd(11)}${m.description}`)
      .join('\n'),
  positionalStop: true,
  configure() {},
  async run(ctx, args) {
    return runSubcommand(ctx, 'network', SUBCOMMANDS, args);
  },
};
