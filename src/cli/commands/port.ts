import type { CommandModule } from '../command.js';
import { StatusError } from '../errors.js';

type PortMap = Record<string, Array<{ HostIp?: string; HostPort?: string }> | null>;

/** `net.JoinHostPort`: IPv6 addresses in brackets. */
function joinHostPort(ip: string, port: string): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** `sortorder.NaturalLess`, which docker uses for this listing: digit runs compare as numbers. */
export function naturalCompare(a: string, b: string): number {
  const ca = a.match(/\d+|\D+/g) ?? [];
  const cb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const x = ca[i]!;
    const y = cb[i]!;
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return ca.length - cb.length;
}

/** `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`: the published ports from inspect, as docker prints them. */
export const command: CommandModule = {
  usage: 'CONTAINER [PRIVATE_PORT[/PROTO]]',
  description: 'List port mappings or a specific mapping for the container',
  aliases: ['berth container port'],
  args: { min: 1, max: 2 },
  configure() {},
  async run(ctx, args) {
    const client = await ctx.client();
    const [name, want] = args as [string, string?];
    const c = await client.containerInspect(name);
    const ports = ((c['NetworkSettings'] as { Ports?: PortMap } | undefined)?.Ports ?? {}) as PortMap;
    const out: string[] = [];
    if (want !== undefined) {
      const slash = want.indexOf('/');
      const port = slash < 0 ? want : want.slice(0, slash);
      const proto = (slash < 0 ? '' : want.slice(slash + 1)) || 'tcp';
      if (!/^\d+$/.test(port) || Number(port) > 65535) throw new StatusError(1, `Error: invalid port (${port}): strconv.ParseUint: parsing "${port}": ${/^\d+$/.test(port) ? 'value out of range' : 'invalid syntax'}`);
      const frontends = ports[`${port}/${proto}`];
      if (!frontends?.length) throw new StatusError(1, `Error: No public port '${want}' published for ${name}`);
      for (const f of frontends) out.push(joinHostPort(f.HostIp ?? '', f.HostPort ?? ''));
    } else {
      for (const [from, frontends] of Object.entries(ports)) for (const f of frontends ?? []) out.push(`${from} -> ${joinHostPort(f.HostIp ?? '', f.HostPort ?? '')}`);
    }
    if (out.length) ctx.stdout.write(out.sort(naturalCompare).join('\n') + '\n');
    return 0;
  },
};
