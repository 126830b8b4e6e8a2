import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ContainersView } from './containers';
import { ContainerDetail } from './container-detail';
import { ImagesView } from './images';
import { VolumesView } from './volumes';
import { NetworksView } from './networks';
import { DiskView } from './disk';
// Not a lazy chunk: it is small, and a lazy view sharing modules with the first screen makes
// esbuild split those into more chunks, which the first screen then has to fetch (issue 19).
import { BuildsView } from './builds';
import { lazy } from './lazy';
import { ConfirmDialog, Notices, useHash } from './ui';
import { api, bridge } from './api';
// The lazily loaded views' styles are small: they ship in app.css (esbuild does not link chunk CSS).
import '@xterm/xterm/css/xterm.css';
import 'uplot/dist/uPlot.min.css';
import './style.css';

const EngineStats = lazy(async () => (await import('./charts')).EngineStats);

const NAV = [
  ['containers', 'Containers'],
  ['images', 'Images'],
  ['builds', 'Builds'],
  ['volumes', 'Volumes'],
  ['networks', 'Networks'],
  ['stats', 'Statistics'],
  ['disk', 'Disk'],
] as const;

function EngineName() {
  const [v, setV] = useState<string>();
  const [up, setUp] = useState(true);
  useEffect(() => {
    api<{ Name?: string; ServerVersion?: string }>('GET', '/info').then((i) => setV(`berth ${i.ServerVersion ?? ''}`), () => setV('engine unreachable'));
    const l = (ok: boolean) => setUp(ok);
    bridge.statusListeners.add(l);
    return () => void bridge.statusListeners.delete(l);
  }, []);
  return <span class="engine" aria-live="polite">{v}{up ? '' : ' — reconnecting…'}</span>;
}

function App() {
  const [view = 'containers', id, tab] = useHash();
  const current = view || 'containers';
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header>
        <span class="logo" aria-hidden="true">⚓</span>
        <strong>berth desktop</strong>
        <nav aria-label="Main">
          {NAV.map(([k, label]) => <a key={k} href={`#/${k}`} aria-current={current === k ? 'page' : undefined}>{label}</a>)}
        </nav>
        <EngineName />
      </header>
      <main id="main" tabIndex={-1}>
        {current === 'containers' && !id && <ContainersView />}
        {current === 'containers' && id && <ContainerDetail id={id} tab={tab} />}
        {current === 'images' && <ImagesView />}
        {current === 'builds' && <BuildsView />}
        {current === 'volumes' && <VolumesView />}
        {current === 'networks' && <NetworksView />}
        {current === 'stats' && <EngineStats />}
        {current === 'disk' && <DiskView />}
      </main>
      <ConfirmDialog />
      <Notices />
    </>
  );
}

render(<App />, document.getElementById('app')!);
