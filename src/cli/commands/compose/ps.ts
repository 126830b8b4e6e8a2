/** `berth compose ps`. */
import { collect } from '../../command.js';
import type { FlagSet } from '../../flags.js';
import { LABEL } from '../../../compose/convert.js';
import type { Project } from '../../../compose/model.js';
import type { ProjectContainer } from '../../../compose/runner.js';
import { ContainerRow, displayablePorts } from '../../format/row-views.js';
import { renderList } from '../../format/formatter.js';
import { defineVerb, runner, type ComposeVerb } from './verb.js';

function psRow(c: ProjectContainer, now: number): Record<string, unknown> {
  const cc = new ContainerRow(c.summary, { trunc: true, now });
  const s = c.summary;
  return {
    ID: s.Id,
    Name: c.name,
    Names: c.name,
    Image: s.Image ?? '',
    Command: cc.Command,
    Project: s.Labels?.[LABEL.project] ?? '',
    Service: c.service,
    CreatedAt: cc.CreatedAt,
    RunningFor: cc.RunningFor,
    State: s.State ?? '',
    Status: s.Status ?? '',
    Health: /\((healthy|unhealthy|health: starting)\)/.exec(s.Status ?? '')?.[1]?.replace('health: ', '') ?? '',
    ExitCode: Number(/Exited \((\d+)\)/.exec(s.Status ?? '')?.[1] ?? 0),
    Ports: displayablePorts(s.Ports ?? []),
    Publishers: (s.Ports ?? []).map((p) => ({ URL: p.IP ?? '', TargetPort: p.PrivatePort, PublishedPort: p.PublicPort ?? 0, Protocol: p.Type })),
    Labels: Object.entries(s.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
    Networks: Object.keys(s.NetworkSettings?.Networks ?? {}).join(','),
    LocalVolumes: '0',
    Mounts: '',
    Size: '0B',
  };
}

export const verb: ComposeVerb = defineVerb({
  usage: '[OPTIONS] [SERVICE...]',
  description: 'List containers',
  configure(f: FlagSet) {
    f.option('-a, --all', 'Show all stopped containers (including those created by the run command)');
    f.option('-q, --quiet', 'Only display IDs');
    f.option('--services', 'Display services');
    f.option('--format <string>', 'Format output using a custom template: "table", "json", TEMPLATE', 'table');
    f.option('--status <stringArray>', 'Filter services by status. Values: [paused | restarting | removing | running | dead | created | exited]', collect);
    f.option('--filter <string>', 'Filter services by a property (supported filters: status).');
    f.option('--orphans', 'Include orphaned services (not declared by project)', true);
  },
  async runCompose(session, args, opts) {
    const o = opts as { all?: boolean; quiet?: boolean; services?: boolean; format?: string; status?: string[]; filter?: string };
    const project = session.load(args);
    const r = await runner(session, project);
    if (args.length) r.selectServices(args);
    let list = await r.containers({ services: args, oneoff: o.all });
    const statuses = [...(o.status ?? []), ...(o.filter?.startsWith('status=') ? [o.filter.slice(7)] : [])];
    if (statuses.length) list = list.filter((c) => statuses.includes(c.state));
    else if (!o.all) list = list.filter((c) => c.state === 'running' || c.state === 'paused' || c.state === 'restarting');
    const out = session.ctx.stdout;
    if (o.services) {
      const names = [...new Set(list.map((c) => c.service))];
      out.write(names.map((n) => `${n}\n`).join(''));
      return 0;
    }
    if (o.quiet) {
      out.write(list.map((c) => `${c.id}\n`).join(''));
      return 0;
    }
    const now = session.ctx.now();
    out.write(
      renderList(
        {
          format: o.format === 'table' ? '' : o.format ?? '',
          defaultTable: 'table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}',
          headers: { Name: 'NAME', Names: 'NAMES', ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', Service: 'SERVICE', RunningFor: 'CREATED', CreatedAt: 'CREATED AT', Status: 'STATUS', State: 'STATE', Ports: 'PORTS', Project: 'PROJECT', Health: 'HEALTH', ExitCode: 'EXIT CODE' },
        },
        list.map((c) => psRow(c, now)),
      ),
    );
    return 0;
  },
});
