import { useEffect, useState } from 'preact/hooks';
import { api } from './api';
import { attempt, confirmAction, Empty, notify } from './ui';
import { bytes, filters, shortId } from './util';

interface Df {
  LayersSize?: number;
  Images?: Array<{ Id: string; RepoTags: string[] | null; Size: number; SharedSize: number; Containers: number }> | null;
  Containers?: Array<{ Id: string; Names: string[]; Image: string; State: string; SizeRw?: number; SizeRootFs?: number }> | null;
  Volumes?: Array<{ Name: string; UsageData?: { Size: number; RefCount: number } }> | null;
  BuildCache?: Array<{ ID: string; Type?: string; Description?: string; Size: number; InUse?: boolean; Shared?: boolean; LastUsedAt?: string }> | null;
}

/** What a clean-up would remove, computed from the same df answer that is shown. */
function plan(df: Df) {
  const containers = (df.Containers ?? []).filter((c) => c.State !== 'running' && c.State !== 'paused' && c.State !== 'restarting');
  const stopped = new Set(containers.map((c) => c.Id));
  const images = (df.Images ?? []).filter((i) => i.Containers === 0 || i.Containers === undefined);
  const volumes = (df.Volumes ?? []).filter((v) => (v.UsageData?.RefCount ?? 0) === 0);
  // POST /build/prune removes every cache mount no running build uses.
  const cache = (df.BuildCache ?? []).filter((b) => !b.InUse);
  void stopped;
  return { containers, images, volumes, cache };
}

export function DiskView() {
  const [df, setDf] = useState<Df>();
  const [busy, setBusy] = useState(false);
  const reload = () => api<Df>('GET', '/system/df').then(setDf, (e) => notify(`disk usage: ${e.message}`, true));
  useEffect(() => void reload(), []);
  if (!df) return <section aria-labelledby="h-disk"><h1 id="h-disk">Disk</h1><Empty>Measuring…</Empty></section>;
  const imgs = df.Images ?? [], cs = df.Containers ?? [], vols = df.Volumes ?? [], cache = df.BuildCache ?? [];
  const sum = (xs: number[]) => xs.reduce((a, b) => a + Math.max(0, b), 0);
  const p = plan(df);
  const rows = [
    ['Images', imgs.length, imgs.filter((i) => i.Containers > 0).length, df.LayersSize ?? sum(imgs.map((i) => i.Size)), sum(p.images.map((i) => i.Size - Math.max(0, i.SharedSize)))],
    ['Containers', cs.length, cs.filter((c) => c.State === 'running').length, sum(cs.map((c) => c.SizeRw ?? 0)), sum(p.containers.map((c) => c.SizeRw ?? 0))],
    ['Local volumes', vols.length, vols.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length, sum(vols.map((v) => v.UsageData?.Size ?? 0)), sum(p.volumes.map((v) => v.UsageData?.Size ?? 0))],
    ['Build cache', cache.length, cache.filter((b) => b.InUse).length, sum(cache.map((b) => b.Size)), sum(p.cache.map((b) => b.Size))],
  ] as const;
  const cacheList = <ul class="plain mono">{p.cache.map((b) => <li key={b.ID}>{b.Description || b.ID.slice(0, 12)} — {bytes(b.Size)}</li>)}</ul>;
  const cleanCache = async (all: boolean) => {
    if (!all && !p.cache.length) return notify('no build cache to remove');
    const ok = await confirmAction(
      all ? 'Remove the build cache and forget every cached step?' : 'Remove the build cache?',
      <>
        <p>{p.cache.length === 1 ? 'This build cache entry goes' : `These ${p.cache.length} build cache entries go`} (about {bytes(rows[3][4])}):</p>{cacheList}
        {all ? <p>Every cached build step is forgotten too: the next builds run every step again.</p> : <p class="sub">Cached build steps whose images still exist stay (the next builds still use them).</p>}
      </>,
      'Remove',
    );
    if (!ok) return;
    setBusy(true);
    await attempt('clean the build cache', async () => {
      const r = await api<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>('POST', `/build/prune${all ? '?all=1' : ''}`);
      const n = r.CachesDeleted?.length ?? 0;
      notify(`build cache: ${n} ${n === 1 ? 'entry' : 'entries'} removed, freed ${bytes(r.SpaceReclaimed)}${all ? ', every cached step forgotten' : ''}`);
    });
    setBusy(false);
    void reload();
  };
  const cleanUp = async () => {
    const total = rows.reduce((s, r) => s + r[4], 0);
    const ok = await confirmAction(
      'Clean up?',
      <>
        <p>Exactly these go (about {bytes(total)}):</p>
        <h3>{p.containers.length} stopped containers</h3><ul class="plain mono">{p.containers.map((c) => <li key={c.Id}>{(c.Names[0] ?? '').replace(/^\//, '')} ({shortId(c.Id)})</li>)}</ul>
        <h3>{p.images.length} images no container uses</h3><ul class="plain mono">{p.images.map((i) => <li key={i.Id}>{i.RepoTags?.join(', ') || shortId(i.Id)} — {bytes(i.Size)}</li>)}</ul>
        <h3>{p.volumes.length} volumes no container uses</h3><ul class="plain mono">{p.volumes.map((v) => <li key={v.Name}>{v.Name} — {bytes(v.UsageData?.Size)}</li>)}</ul>
        <h3>{p.cache.length} build cache entries no build uses</h3>{cacheList}
        <p class="sub">Cached build steps whose images stay are kept.</p>
      </>,
      'Remove all of it',
    );
    if (!ok) return;
    setBusy(true);
    await attempt('clean up', async () => {
      for (const c of p.containers) await api('DELETE', `/containers/${c.Id}?v=1`).catch(() => undefined);
      const vr = await api<{ SpaceReclaimed: number }>('POST', `/volumes/prune?filters=${filters({ all: ['true'] })}`);
      const ir = await api<{ SpaceReclaimed: number }>('POST', `/images/prune?filters=${filters({ dangling: ['false'] })}`);
      const br = await api<{ SpaceReclaimed: number }>('POST', '/build/prune');
      notify(`freed ${bytes(vr.SpaceReclaimed + ir.SpaceReclaimed + br.SpaceReclaimed)}`);
    });
    setBusy(false);
    void reload();
  };
  return (
    <section aria-labelledby="h-disk">
      <div class="toolbar">
        <h1 id="h-disk">Disk</h1>
        <button class="danger" onClick={cleanUp} disabled={busy}>Clean up…</button>
        <button onClick={() => void cleanCache(false)} disabled={busy}>Clean build cache…</button>
        <button onClick={() => void cleanCache(true)} disabled={busy}>Clean build cache and steps…</button>
        <button onClick={() => void reload()}>Refresh</button>
      </div>
      <table class="list" aria-label="Disk usage summary">
        <thead><tr><th>Type</th><th>Total</th><th>Active</th><th>Size</th><th>Reclaimable</th></tr></thead>
        <tbody>{rows.map((r) => <tr key={r[0]}><td>{r[0]}</td><td>{r[1]}</td><td>{r[2]}</td><td>{bytes(r[3])}</td><td>{bytes(r[4])}</td></tr>)}</tbody>
      </table>
      <div class="grid2">
        <div class="card"><h2>Images</h2><table class="list"><thead><tr><th>Image</th><th>Size</th><th>Shared</th><th>Containers</th></tr></thead>
          <tbody>{imgs.map((i) => <tr key={i.Id}><td>{i.RepoTags?.join(', ') || shortId(i.Id)}</td><td>{bytes(i.Size)}</td><td>{bytes(i.SharedSize)}</td><td>{i.Containers}</td></tr>)}</tbody></table></div>
        <div class="card"><h2>Containers</h2><table class="list"><thead><tr><th>Container</th><th>State</th><th>Writable layer</th></tr></thead>
          <tbody>{cs.map((c) => <tr key={c.Id}><td>{(c.Names[0] ?? '').replace(/^\//, '')}</td><td>{c.State}</td><td>{bytes(c.SizeRw)}</td></tr>)}</tbody></table></div>
        <div class="card"><h2>Volumes</h2><table class="list"><thead><tr><th>Volume</th><th>Links</th><th>Size</th></tr></thead>
          <tbody>{vols.map((v) => <tr key={v.Name}><td class="mono">{v.Name}</td><td>{v.UsageData?.RefCount}</td><td>{bytes(v.UsageData?.Size)}</td></tr>)}</tbody></table></div>
        <div class="card"><h2>Build cache</h2>{cache.length ? <table class="list" aria-label="Build cache"><thead><tr><th>ID</th><th>Type</th><th>Description</th><th>Size</th><th>Last used</th></tr></thead>
          <tbody>{cache.map((b) => <tr key={b.ID}><td class="mono">{b.ID.slice(0, 12)}</td><td>{b.Type}</td><td class="wrap">{b.Description}</td><td>{bytes(b.Size)}</td><td>{b.LastUsedAt ? new Date(b.LastUsedAt).toLocaleString() : '—'}{b.InUse ? ' (in use)' : ''}</td></tr>)}</tbody></table> : <p class="sub">empty</p>}</div>
      </div>
    </section>
  );
}
