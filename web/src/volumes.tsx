import { useEffect, useRef, useState } from 'preact/hooks';
import { api, apiBytes } from './api';
import { useContainers, containerName } from './container-store';
import { readTar, type TarEntry } from './tar';
import { attempt, confirmAction, Empty, notify } from './ui';
import { bytes, filters } from './util';

interface Volume { Name: string; Driver: string; Mountpoint: string; CreatedAt?: string; Labels?: Record<string, string> | null; UsageData?: { Size: number; RefCount: number } }

/** The helper container's label: containers made to read a volume through the archive API. */
export const HELPER_LABEL = 'berth.desktop.volume-browser';
const MOUNT = '/.berth-volume';

export function VolumesView() {
  const [list, setList] = useState<Volume[]>();
  const [sizes, setSizes] = useState<Record<string, number>>({});
  const [browsing, setBrowsing] = useState<string>();
  const { list: containers } = useContainers();
  const generation = useRef(0);
  const reload = async () => {
    const gen = ++generation.current;
    const r = await api<{ Volumes: Volume[] | null }>('GET', '/volumes');
    if (gen !== generation.current) return;
    setList((r.Volumes ?? []).sort((a, b) => a.Name.localeCompare(b.Name)));
    // Sizes come from system df, which walks each volume: shown when ready, not waited for.
    api<{ Volumes?: Volume[] }>('GET', '/system/df').then((df) => setSizes(Object.fromEntries((df.Volumes ?? []).map((v) => [v.Name, v.UsageData?.Size ?? -1]))), () => undefined);
  };
  useEffect(() => void reload().catch((e) => notify(`volumes: ${e.message}`, true)), []);
  const users = (name: string) => containers.filter((c) => c.Labels?.[HELPER_LABEL] === undefined && (c.Mounts ?? []).some((m) => m.Type === 'volume' && m.Name === name));
  const remove = async (v: Volume) => {
    const u = users(v.Name);
    if (!(await confirmAction(`Remove volume ${v.Name}?`, <p>{u.length ? `It is used by ${u.map(containerName).join(', ')}: the engine will refuse while they exist.` : `Its data (${bytes(sizes[v.Name])}) is deleted for good.`}</p>, 'Remove'))) return;
    if (browsing === v.Name) setBrowsing(undefined);
    await attempt(`remove volume ${v.Name}`, async () => {
      await removeHelpers(v.Name);
      await api('DELETE', `/volumes/${encodeURIComponent(v.Name)}`);
      notify(`volume ${v.Name} removed`);
    });
    void reload();
  };
  const prune = async () => {
    if (!list) return;
    const going = list.filter((v) => users(v.Name).length === 0);
    if (!going.length) return notify('no unused volumes');
    const ok = await confirmAction('Remove unused volumes?', <><p>These {going.length} volumes are used by no container and go, with their data:</p><ul class="plain mono">{going.map((v) => <li key={v.Name}>{v.Name} — {bytes(sizes[v.Name])}</li>)}</ul></>, 'Remove');
    if (!ok) return;
    setBrowsing(undefined);
    await attempt('prune volumes', async () => {
      await removeHelpers();
      const r = await api<{ SpaceReclaimed: number; VolumesDeleted: string[] | null }>('POST', `/volumes/prune?filters=${filters({ all: ['true'] })}`);
      notify(`removed ${r.VolumesDeleted?.length ?? 0} volumes, freed ${bytes(r.SpaceReclaimed)}`);
    });
    void reload();
  };
  return (
    <section aria-labelledby="h-volumes">
      <div class="toolbar">
        <h1 id="h-volumes">Volumes {list && <span class="count">{list.length}</span>}</h1>
        <button onClick={prune}>Prune unused…</button>
      </div>
      {!list ? <Empty>Loading…</Empty> : list.length === 0 ? <Empty>No volumes.</Empty> : (
        <table class="list" aria-label="Volumes">
          <thead><tr><th>Name</th><th>Driver</th><th>Size</th><th>Used by</th><th>Actions</th></tr></thead>
          <tbody>
            {list.map((v) => {
              const u = users(v.Name);
              return (
                <tr key={v.Name} data-name={v.Name}>
                  <td class="mono">{v.Name}</td>
                  <td>{v.Driver}</td>
                  <td>{sizes[v.Name] === undefined ? '…' : bytes(sizes[v.Name])}</td>
                  <td>{u.length ? u.map((c) => <a key={c.Id} href={`#/containers/${c.Id}`}>{containerName(c)} </a>) : <span class="sub">none</span>}</td>
                  <td class="actions">
                    <button class="small" aria-label={`browse ${v.Name}`} onClick={() => setBrowsing(browsing === v.Name ? undefined : v.Name)}>{browsing === v.Name ? 'close' : 'browse'}</button>
                    <button class="small danger" aria-label={`remove ${v.Name}`} onClick={() => remove(v)}>remove</button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {browsing && <VolumeBrowser key={browsing} name={browsing} />}
    </section>
  );
}

/** Removes the browser's helper containers (of one volume, or all): they hold the volume in use. */
async function removeHelpers(volume?: string): Promise<void> {
  const list = await api<Array<{ Id: string }>>('GET', `/containers/json?all=1&filters=${filters({ label: [volume ? `${HELPER_LABEL}=${volume}` : HELPER_LABEL] })}`);
  await Promise.all(list.map((c) => api('DELETE', `/containers/${c.Id}?force=1`).catch(() => undefined)));
}

/**
 * Browses a volume through the archive API: a created (never started) helper container mounts
 * the volume read-only, GET /containers/{id}/archive lists a directory or fetches one file, and
 * the helper is removed when the browser closes.
 */
function VolumeBrowser({ name }: { name: string }) {
  const [helper, setHelper] = useState<string>();
  const [path, setPath] = useState('');
  const [entries, setEntries] = useState<TarEntry[]>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let id: string | undefined;
    let gone = false;
    (async () => {
      const images = await api<Array<{ Id: string }>>('GET', '/images/json');
      if (!images.length) throw new Error('browsing a volume needs one image (any) for the helper container');
      const r = await api<{ Id: string }>('POST', '/containers/create', {
        Image: images[0]!.Id, Cmd: ['true'], Entrypoint: [], Labels: { [HELPER_LABEL]: name },
        HostConfig: { Mounts: [{ Type: 'volume', Source: name, Target: MOUNT, ReadOnly: true }], NetworkMode: 'none' },
      });
      id = r.Id;
      if (gone) void api('DELETE', `/containers/${id}?force=1`);
      else setHelper(id);
    })().catch((e: Error) => setError(e.message));
    return () => {
      gone = true;
      if (id) void api('DELETE', `/containers/${id}?force=1`).catch(() => undefined);
    };
  }, [name]);
  useEffect(() => {
    if (!helper) return;
    setEntries(undefined);
    setError(undefined);
    apiBytes(`/containers/${helper}/archive?path=${encodeURIComponent(`${MOUNT}/${path}`)}`)
      .then((tar) => {
        const all = readTar(tar);
        const root = all[0]?.name.split('/')[0] ?? '';
        // Direct children of the listed directory only (the archive holds the whole tree).
        setEntries(all.filter((e) => e.name.startsWith(`${root}/`) && !e.name.slice(root.length + 1).includes('/')).sort((a, b) => (a.type === 'dir' ? 0 : 1) - (b.type === 'dir' ? 0 : 1) || a.name.localeCompare(b.name)));
      })
      .catch((e: Error) => setError(e.message));
  }, [helper, path]);
  const download = async (e: TarEntry) => {
    const file = `${path ? `${path}/` : ''}${e.name.split('/').pop()}`;
    await attempt(`download ${file}`, async () => {
      const tar = readTar(await apiBytes(`/containers/${helper}/archive?path=${encodeURIComponent(`${MOUNT}/${file}`)}`));
      const f = tar.find((x) => x.type === 'file');
      if (!f) throw new Error('not a regular file');
      const url = URL.createObjectURL(new Blob([new Uint8Array(f.data)]));
      const a = document.createElement('a');
      a.href = url;
      a.download = file.split('/').pop()!;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    });
  };
  const parts = path ? path.split('/') : [];
  return (
    <div class="card" aria-label={`Files of volume ${name}`} role="region">
      <h2>Files of <span class="mono">{name}</span></h2>
      <nav class="crumbs" aria-label="Folder">
        <button class="link" onClick={() => setPath('')}>/</button>
        {parts.map((p, i) => <span key={i}> <button class="link" onClick={() => setPath(parts.slice(0, i + 1).join('/'))}>{p}</button> /</span>)}
      </nav>
      {error ? <p class="error-text">{error}</p> : !entries ? <p class="sub">Loading…</p> : entries.length === 0 ? <p class="sub">empty folder</p> : (
        <table class="list" aria-label="Files">
          <thead><tr><th>Name</th><th>Size</th><th>Modified</th><th></th></tr></thead>
          <tbody>
            {entries.map((e) => {
              const base = e.name.split('/').pop()!;
              return (
                <tr key={e.name}>
                  <td class="mono">{e.type === 'dir' ? <button class="link" onClick={() => setPath(path ? `${path}/${base}` : base)}>{base}/</button> : e.type === 'symlink' ? `${base} → ${e.linkname}` : base}</td>
                  <td>{e.type === 'file' ? bytes(e.size) : ''}</td>
                  <td>{new Date(e.mtime * 1000).toLocaleString()}</td>
                  <td>{e.type === 'file' && <button class="small" aria-label={`download ${base}`} onClick={() => download(e)}>download</button>}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
