import { actionsFor, containerAction, PortLinks, StateBadge, useContainer, useInspect } from './containers';
import { containerName } from './container-store';
import { LogView } from './log-view';
import { lazy } from './lazy';

const TerminalView = lazy(async () => (await import('./terminal')).TerminalView);
const ContainerStats = lazy(async () => (await import('./charts')).ContainerStats);
import { Empty } from './ui';

const TABS = [['overview', 'Overview'], ['logs', 'Logs'], ['terminal', 'Terminal'], ['stats', 'Stats']] as const;

export function ContainerDetail({ id, tab = 'overview' }: { id: string; tab?: string }) {
  const c = useContainer(id);
  const info = useInspect(id, c ? `${c.State}${c.Status}` : '');
  if (!c) return <Empty>No such container: {id} (it may have been removed). <a href="#/containers">Back to containers</a></Empty>;
  const name = containerName(c);
  const running = c.State === 'running';
  return (
    <section aria-labelledby="h-detail">
      <div class="toolbar">
        <a href="#/containers" aria-label="Back to containers">← Containers</a>
        <h1 id="h-detail">{name}</h1>
        <StateBadge state={c.State} />
        <span class="sub">{info?.State?.Running && info.State.StartedAt ? `Up since ${new Date(info.State.StartedAt).toLocaleString()}` : c.Status}</span>
        <span class="spacer" />
        {actionsFor(c.State).map((a) => (
          <button key={a} class={a === 'remove' || a === 'kill' ? 'small danger' : 'small'} onClick={() => containerAction(c, a)}>{a}</button>
        ))}
      </div>
      <nav class="tabs" aria-label="Container views">
        {TABS.map(([k, label]) => (
          <a key={k} href={`#/containers/${c.Id}/${k}`} aria-current={tab === k ? 'page' : undefined}>{label}</a>
        ))}
      </nav>
      {tab === 'logs' && <LogView id={c.Id} />}
      {tab === 'terminal' && <TerminalView id={c.Id} running={running} />}
      {tab === 'stats' && <ContainerStats id={c.Id} running={running} />}
      {tab === 'overview' && <Overview c={c} info={info} />}
    </section>
  );
}

function Overview({ c, info }: { c: ReturnType<typeof useContainer> & object; info?: Record<string, any> }) {
  if (!info) return <Empty>Loading…</Empty>;
  const cfg = info.Config ?? {};
  const hc = info.HostConfig ?? {};
  const st = info.State ?? {};
  const nets = Object.entries<any>(info.NetworkSettings?.Networks ?? {});
  return (
    <div class="grid2">
      <div class="card">
        <h2>Configuration</h2>
        <dl>
          <dt>ID</dt><dd class="mono">{info.Id}</dd>
          <dt>Image</dt><dd>{cfg.Image} <span class="sub mono">{String(info.Image ?? '').slice(7, 19)}</span></dd>
          <dt>Command</dt><dd class="mono">{[...(info.Path ? [info.Path] : []), ...(info.Args ?? [])].join(' ')}</dd>
          <dt>Working dir</dt><dd class="mono">{cfg.WorkingDir || '/'}</dd>
          <dt>User</dt><dd>{cfg.User || 'root'}</dd>
          <dt>TTY</dt><dd>{cfg.Tty ? 'yes' : 'no'}</dd>
          <dt>Restart policy</dt><dd>{hc.RestartPolicy?.Name || 'no'}{hc.RestartPolicy?.MaximumRetryCount ? ` (max ${hc.RestartPolicy.MaximumRetryCount})` : ''}</dd>
          <dt>Restart count</dt><dd>{info.RestartCount ?? 0}</dd>
          <dt>Created</dt><dd>{info.Created}</dd>
          <dt>Started</dt><dd>{st.StartedAt}</dd>
          {st.Status === 'exited' && <><dt>Exit code</dt><dd>{st.ExitCode}</dd></>}
          <dt>Health</dt><dd>{st.Health ? <><span class={`badge health-${st.Health.Status}`}>{st.Health.Status}</span> failing streak {st.Health.FailingStreak}{st.Health.Log?.length ? <div class="sub mono">{String(st.Health.Log[st.Health.Log.length - 1]?.Output ?? '').slice(0, 200)}</div> : null}</> : 'no health check'}</dd>
        </dl>
        <h2>Environment</h2>
        <ul class="mono plain">{(cfg.Env ?? []).map((e: string) => <li key={e}>{e}</li>)}</ul>
        {cfg.Labels && Object.keys(cfg.Labels).length > 0 && (<><h2>Labels</h2><ul class="mono plain">{Object.entries(cfg.Labels).map(([k, v]) => <li key={k}>{k}={String(v)}</li>)}</ul></>)}
      </div>
      <div class="card">
        <h2>Ports</h2>
        {c.Ports?.length ? <PortLinks ports={c.Ports} /> : <p class="sub">none published</p>}
        <h2>Networks</h2>
        {nets.length ? (
          <table class="list"><thead><tr><th>Network</th><th>IP address</th><th>Gateway</th><th>MAC</th></tr></thead>
            <tbody>{nets.map(([n, v]) => <tr key={n}><td><a href="#/networks">{n}</a></td><td class="mono">{v.IPAddress ? `${v.IPAddress}/${v.IPPrefixLen}` : '—'}</td><td class="mono">{v.Gateway || '—'}</td><td class="mono">{v.MacAddress || '—'}</td></tr>)}</tbody>
          </table>
        ) : <p class="sub">none</p>}
        <h2>Mounts</h2>
        {(info.Mounts ?? []).length ? (
          <table class="list"><thead><tr><th>Type</th><th>Source</th><th>Destination</th><th>Mode</th></tr></thead>
            <tbody>{(info.Mounts as any[]).map((m) => <tr key={m.Destination}><td>{m.Type}</td><td class="mono">{m.Type === 'volume' ? <a href="#/volumes">{m.Name}</a> : m.Source}</td><td class="mono">{m.Destination}</td><td>{m.RW ? 'rw' : 'ro'}</td></tr>)}</tbody>
          </table>
        ) : <p class="sub">none</p>}
      </div>
    </div>
  );
}
