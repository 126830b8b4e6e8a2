/** `berth compose port`. */
import { parseIntFlag } from '../../command.js';
import { StatusError } from '../../errors.js';
import type { FlagSet } from '../../flags.js';
import { defineVerb, runner, has, type ComposeVerb } from './verb.js';

export const verb: ComposeVerb = defineVerb({
  usage: '[OPTIONS] SERVICE PRIVATE_PORT',
  description: 'Print the public port for a port binding',
  args: { exact: 2 },
  configure(f: FlagSet) {
    f.option('--index <int>', 'Index of the container if service has multiple replicas', parseIntFlag, 1);
    f.option('--protocol <string>', 'tcp or udp', 'tcp');
  },
  async runCompose(session, args, opts) {
    const o = opts as { index?: number; protocol?: string };
    const [service, port] = args as [string, string];
    const r = await runner(session, session.load([service]));
    const c = await r.containerFor(service, o.index ?? 1);
    const info = await r.client.containerInspect(c.id);
    const ports = ((info.NetworkSettings as { Ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null> } | undefined)?.Ports ?? {})[`${port}/${o.protocol ?? 'tcp'}`];
    if (!ports?.length) throw new StatusError(1, `no port ${port}/${o.protocol ?? 'tcp'} for container ${c.name}: ${port}/${o.protocol ?? 'tcp'} is not published`);
    const p = ports[0]!;
    session.ctx.stdout.write(`${p.HostIp || '0.0.0.0'}:${p.HostPort}\n`);
    return 0;
  },
});
