/**
 * Build history: every build that went through the engine's POST /build (berth build, docker
 * build, compose build), newest first, from berthd's `GET /berth/builds` extension. A build
 * opens to its steps: instruction, time, and whether the step cache served it.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, bridge, jsonLines } from './api';
import { Empty, notify } from './ui';
import { filters, shortId } from './util';

interface Step { Number: number; Instruction: string; Started: string; DurationMs: number; Cached: boolean }
interface Build {
  ID: string; Started: string; Finished?: string; DurationMs?: number; Result: 'running' | 'ok' | 'error'; Error?: string;
  Tags: string[]; Dockerfile: string; ImageID?: string; TotalSteps: number; Steps: Step[];
}

/** "1.2 s", "340 ms", "2 min 5 s". */
export function ms(n: number | undefined): string {
  if (n === undefined) return '—';
  if (n < 1000) return `${Math.round(n)} ms`;
  if (n < 60_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)} s`;
  return `${Math.floor(n / 60_000)} min ${Math.round((n % 60_000) / 1000)} s`;
}

function when(iso: string): string {
  const d = new Date(iso);
  return `${d.toLocaleDateString()} ${d.toLocaleTimeString()}`;
}

export function BuildsView() {
  const [list, setList] = useState<Build[]>();
  const [open, setOpen] = useState<string>();
  const generation = useRef(0);
  const reload = () => {
    const gen = ++generation.current;
    return api<Build[]>('GET', '/berth/builds').then((l) => gen === generation.current && setList(l), (e) => notify(`builds: ${e.message}`, true));
  };
  useEffect(() => {
    void reload();
    // A build ends by creating or tagging an image: read the list again then (no polling).
    let timer: ReturnType<typeof setTimeout> | undefined;
    const s = bridge.stream(`/events?filters=${filters({ type: ['image'] })}`, {
      onData: jsonLines(() => {
        clearTimeout(timer);
        timer = setTimeout(() => void reload(), 150);
      }),
    });
    return () => {
      clearTimeout(timer);
      s.cancel();
    };
  }, []);
  return (
    <section aria-labelledby="h-builds">
      <div class="toolbar">
        <h1 id="h-builds">Builds {list && <span class="count">{list.length}</span>}</h1>
        <button onClick={() => void reload()}>Refresh</button>
      </div>
      <p class="sub">The last 100 builds the engine ran (berth build, docker build, compose build).</p>
      {!list ? <Empty>Loading…</Empty> : list.length === 0 ? <Empty>No builds yet. Run <code>berth build -t NAME .</code> and it shows here.</Empty> : (
        <table class="list" aria-label="Builds">
          <thead><tr><th>Started</th><th>Tags</th><th class="hide-narrow">Dockerfile</th><th>Steps</th><th>Duration</th><th>Result</th></tr></thead>
          <tbody>{list.map((b) => <BuildRow key={b.ID} b={b} open={open === b.ID} toggle={() => setOpen(open === b.ID ? undefined : b.ID)} />)}</tbody>
        </table>
      )}
    </section>
  );
}

function BuildRow({ b, open, toggle }: { b: Build; open: boolean; toggle(): void }) {
  const name = b.Tags[0] ?? (b.ImageID ? shortId(b.ImageID) : shortId(b.ID));
  const cached = b.Steps.filter((s) => s.Cached).length;
  return (
    <>
      <tr data-build={b.ID}>
        <td><button class="link" aria-expanded={open} aria-label={`steps of build ${name}`} onClick={toggle}>{open ? '▾' : '▸'} {when(b.Started)}</button></td>
        <td>{b.Tags.length ? b.Tags.map((t) => <div key={t}>{t}</div>) : <span class="sub">{b.ImageID ? shortId(b.ImageID) : 'untagged'}</span>}</td>
        <td class="mono hide-narrow">{b.Dockerfile}</td>
        <td>{b.Steps.length}{b.TotalSteps > b.Steps.length ? ` of ${b.TotalSteps}` : ''}{cached ? `, ${cached} cached` : ''}</td>
        <td>{b.Result === 'running' ? 'running…' : ms(b.DurationMs)}</td>
        <td class={`result-${b.Result}`}>{b.Result === 'ok' ? 'ok' : b.Result === 'running' ? 'running' : <span title={b.Error}>error</span>}</td>
      </tr>
      {open && (
        <tr><td colSpan={6}>
          {b.Error && <p class="error-text" role="note">Error: {b.Error}</p>}
          {b.Steps.length === 0 ? <p class="sub">No step ran.</p> : (
            <table class="list nested" aria-label={`Steps of build ${name}`}>
              <thead><tr><th>Step</th><th>Instruction</th><th>Time</th><th>Cache</th></tr></thead>
              <tbody>{b.Steps.map((s, n) => (
                <tr key={n} class={s.Cached ? 'cached' : undefined}>
                  <td>{s.Number}/{b.TotalSteps}</td>
                  <td class="mono wrap">{s.Instruction}</td>
                  <td>{ms(s.DurationMs)}</td>
                  <td>{s.Cached ? <span class="badge">CACHED</span> : 'built'}</td>
                </tr>
              ))}</tbody>
            </table>
          )}
        </td></tr>
      )}
    </>
  );
}
