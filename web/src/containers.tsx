import { useEffect, useLayoutEffect, useMemo, useState } from 'preact/hooks';
import { api } from './api';
import { containerName, lastEvent, useContainers, type ContainerSummary, type Port } from './container-store';
import { attempt, confirmAction, Empty, go, notify } from './ui';
import { ago } from './util';
import { HELPER_LABEL } from './volumes';

const PROJECT = 'com.docker.compose.project';
/** Rows drawn in the first render (more than a 1280x800 or phone screen shows). */
const FIRST_SCREEN_ROWS = 40;

type Action = 'start' | 'stop' | 'restart' | 'pause' | 'unpause' | 'kill' | 'remove';
const ASK: Partial<Record<Action, string>> = {
  stop: 'Its processes get SIGTERM, then SIGKILL after the stop timeout.',
  restart: 'Its processes are stopped and started again.',
  kill: 'Its processes get SIGKILL at once.',
  remove: 'The container and its writable layer are deleted. Named volumes are kept.',
};

export async function containerAction(c: ContainerSummary, action: Action): Promise<void> {
  const name = containerName(c);
  if (ASK[action]) {
    const verb = action[0]!.toUpperCase() + action.slice(1);
    if (!(await confirmAction(`${verb} ${name}?`, <p>{ASK[action]}</p>, verb))) return;
  }
  await attempt(`${action} ${name}`, async () => {
    if (action === 'remove') await api('DELETE', `/containers/${c.Id}?force=1`);
    else await api('POST', `/containers/${c.Id}/${action}`);
    notify(`${name}: ${action} done`);
  });
}

export function actionsFor(state: string): Action[] {
  if (state === 'running') return ['stop', 'restart', 'pause', 'kill', 'remove'];
  if (state === 'paused') return ['unpause', 'kill', 'remove'];
  if (state === 'restarting') return ['stop', 'kill', 'remove'];
  return ['start', 'remove'];
}

export function PortLinks({ ports }: { ports: Port[] }) {
  const seen = new Set<string>();
  const shown = ports.filter((p) => {
    const k = `${p.PublicPort}/${p.PrivatePort}/${p.Type}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return (
    <span class="ports">
      {shown.map((p) =>
        p.PublicPort ? (
          <a key={`${p.PublicPort}${p.Type}`} href={`http://${location.hostname}:${p.PublicPort}/`} target="_blank" rel="noopener noreferrer">
            {p.PublicPort}:{p.PrivatePort}/{p.Type}
          </a>
        ) : (
          <span key={`${p.PrivatePort}${p.Type}`}>{p.PrivatePort}/{p.Type}</span>
        ),
      )}
    </span>
  );
}

export function StateBadge({ state }: { state: string }) {
  return <span class={`badge state-${state}`}>{state}</span>;
}

function Row({ c }: { c: ContainerSummary }) {
  const name = containerName(c);
  return (
    <tr data-name={name}>
      <td><a href={`#/containers/${c.Id}`} class="name">{name}</a><div class="sub">{c.Id.slice(0, 12)}</div></td>
      <td class="image">{c.Image}</td>
      <td><StateBadge state={c.State} /><div class="sub">{c.Status}</div></td>
      <td><PortLinks ports={c.Ports ?? []} /></td>
      <td class="hide-narrow">{ago(c.Created)}</td>
      <td class="actions">
        {actionsFor(c.State).map((a) => (
          <button key={a} class={a === 'remove' || a === 'kill' ? 'small danger' : 'small'} aria-label={`${a} ${name}`} onClick={() => containerAction(c, a)}>{a}</button>
        ))}
      </td>
    </tr>
  );
}

export function ContainersView() {
  const { list, loaded, version } = useContainers();
  const [search, setSearch] = useState('');
  const [showStopped, setShowStopped] = useState(true);
  const groups = useMemo(() => {
    const s = search.toLowerCase();
    const m = new Map<string, ContainerSummary[]>();
    for (const c of list) {
      if (c.Labels?.[HELPER_LABEL] !== undefined) continue; // volume browser's helper
      if (!showStopped && c.State !== 'running' && c.State !== 'paused') continue;
      if (s && !containerName(c).toLowerCase().includes(s) && !c.Image.toLowerCase().includes(s) && !c.Id.startsWith(s)) continue;
      const p = c.Labels?.[PROJECT] ?? '';
      (m.get(p) ?? m.set(p, []).get(p)!).push(c);
    }
    for (const g of m.values()) g.sort((a, b) => containerName(a).localeCompare(containerName(b)));
    return [...m.entries()].sort(([a], [b]) => (a === '' ? 1 : b === '' ? -1 : a.localeCompare(b)));
  }, [version, search, showStopped]);
  // The first render with data draws what fits a screen; the rest follows a frame later, so
  // 200 containers do not hold the first screen back.
  const [limit, setLimit] = useState(FIRST_SCREEN_ROWS);
  useLayoutEffect(() => {
    if (loaded && !performance.getEntriesByName('first-screen').length) performance.mark('first-screen');
    if (lastEvent.at) lastEvent.shownAt = performance.now();
  });
  useEffect(() => {
    if (loaded && limit !== Infinity) {
      const t = setTimeout(() => setLimit(Infinity), 0);
      return () => clearTimeout(t);
    }
  }, [loaded]);
  let budget = limit;
  const running = list.filter((c) => c.State === 'running').length;
  return (
    <section aria-labelledby="h-containers">
      <div class="toolbar">
        <h1 id="h-containers">Containers <span class="count">{running} running of {list.length}</span></h1>
        <input type="search" placeholder="Search containers" aria-label="Search containers" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
        <label class="check"><input type="checkbox" checked={showStopped} onChange={(e) => setShowStopped((e.target as HTMLInputElement).checked)} /> Show stopped</label>
      </div>
      {!loaded ? <Empty>Loading…</Empty> : list.length === 0 ? <Empty>No containers yet. Run one with <code>berth run</code>.</Empty> : null}
      {groups.map(([project, items]) => (
        <details key={project || '-'} open class="group">
          <summary>{project ? <>compose project <strong>{project}</strong></> : 'standalone containers'} <span class="count">({items.length})</span></summary>
          <table class="list" aria-label={project ? `Containers of ${project}` : 'Standalone containers'}>
            <thead><tr><th>Name</th><th>Image</th><th>State</th><th>Ports</th><th class="hide-narrow">Created</th><th>Actions</th></tr></thead>
            <tbody>{items.slice(0, Math.max(0, budget)).map((c) => <Row key={c.Id} c={c} />)}{void (budget -= items.length)}</tbody>
          </table>
        </details>
      ))}
    </section>
  );
}

export function useContainer(id: string): ContainerSummary | undefined {
  const { list } = useContainers();
  return list.find((c) => c.Id === id || c.Id.startsWith(id));
}

export function useInspect(id: string, version: unknown): Record<string, any> | undefined {
  const [data, setData] = useState<Record<string, any>>();
  useEffect(() => {
    api<Record<string, any>>('GET', `/containers/${id}/json`).then(setData, () => setData(undefined));
  }, [id, version]);
  return data;
}

export function back(): void {
  go('containers');
}
