import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api';
import { ProgressView, useProgress } from './progress';
import { attempt, confirmAction, Empty, notify } from './ui';
import { ago, bytes, q, shortId } from './util';

interface Image { Id: string; RepoTags: string[] | null; RepoDigests?: string[] | null; Created: number; Size: number; SharedSize?: number; Containers?: number; Labels?: Record<string, string> | null }
interface History { Id: string; Created: number; CreatedBy: string; Size: number; Comment?: string; Tags?: string[] | null }

function useImages() {
  const [list, setList] = useState<Image[]>();
  const [inUse, setInUse] = useState<Set<string>>(new Set());
  const generation = useRef(0);
  const reload = async () => {
    // Only the newest reload may write: an older, slower answer must not bring a stale list back.
    const gen = ++generation.current;
    const [imgs, cs] = await Promise.all([api<Image[]>('GET', '/images/json'), api<Array<{ ImageID: string }>>('GET', '/containers/json?all=1')]);
    if (gen !== generation.current) return;
    setInUse(new Set(cs.map((c) => c.ImageID)));
    setList(imgs);
    // Shared sizes come from system df (the list leaves them out); filled in when ready.
    api<{ Images?: Array<{ Id: string; SharedSize: number }> | null }>('GET', '/system/df').then((df) => {
      if (gen !== generation.current) return;
      const shared = new Map((df.Images ?? []).map((i) => [i.Id, i.SharedSize]));
      setList(imgs.map((i) => ({ ...i, SharedSize: shared.get(i.Id) ?? i.SharedSize })));
    }, () => undefined);
  };
  useEffect(() => void reload().catch((e) => notify(`images: ${e.message}`, true)), []);
  return { list, inUse, reload };
}

function splitRef(ref: string): { repo: string; tag: string } {
  const at = ref.lastIndexOf(':');
  return at > ref.lastIndexOf('/') ? { repo: ref.slice(0, at), tag: ref.slice(at + 1) } : { repo: ref, tag: 'latest' };
}

export function ImagesView() {
  const { list, inUse, reload } = useImages();
  const [open, setOpen] = useState<string>();
  const [ref, setRef] = useState('');
  const pull = useProgress();
  const push = useProgress();
  const doPull = (e: Event) => {
    e.preventDefault();
    const r = ref.trim();
    if (!r) return;
    const { repo, tag } = splitRef(r);
    pull.run(`/images/create${q({ fromImage: repo, tag })}`, (ok) => {
      if (ok) notify(`pulled ${r}`);
      void reload();
    });
  };
  const prune = async (all: boolean) => {
    if (!list) return;
    const going = list.filter((i) => !inUse.has(i.Id) && (all || !i.RepoTags?.length || i.RepoTags.every((t) => t === '<none>:<none>')));
    if (!going.length) return notify(all ? 'no unused images' : 'no dangling images');
    const total = going.reduce((s, i) => s + i.Size, 0);
    const ok = await confirmAction(
      all ? 'Remove all unused images?' : 'Remove dangling images?',
      <><p>These {going.length} images go (up to {bytes(total)}; layers shared with kept images stay):</p><ul class="plain mono">{going.map((i) => <li key={i.Id}>{i.RepoTags?.join(', ') || shortId(i.Id)} — {bytes(i.Size)}</li>)}</ul></>,
      'Remove',
    );
    if (!ok) return;
    await attempt('prune images', async () => {
      const r = await api<{ SpaceReclaimed: number }>('POST', `/images/prune${all ? `?filters=${encodeURIComponent(JSON.stringify({ dangling: ['false'] }))}` : ''}`);
      notify(`freed ${bytes(r.SpaceReclaimed)}`);
    });
    void reload();
  };
  return (
    <section aria-labelledby="h-images">
      <div class="toolbar">
        <h1 id="h-images">Images {list && <span class="count">{list.length}</span>}</h1>
        <form class="inline" onSubmit={doPull} aria-label="Pull an image">
          <input aria-label="Image to pull" placeholder="registry/name:tag" value={ref} onInput={(e) => setRef((e.target as HTMLInputElement).value)} />
          <button class="primary" type="submit" disabled={pull.state === 'running'}>Pull</button>
        </form>
        <button onClick={() => prune(false)}>Prune dangling…</button>
        <button onClick={() => prune(true)}>Prune unused…</button>
        <a href="#/builds">Build history</a>
      </div>
      <ProgressView p={pull} label="Pull" />
      <ProgressView p={push} label="Push" />
      {!list ? <Empty>Loading…</Empty> : list.length === 0 ? <Empty>No images. Pull one above, or use <code>berth load</code>.</Empty> : (
        <table class="list" aria-label="Images">
          <thead><tr><th>Repository:tag</th><th>ID</th><th>Created</th><th>Size</th><th class="hide-narrow">Shared</th><th>In use</th><th>Actions</th></tr></thead>
          <tbody>
            {list.map((i) => (
              <ImageRow key={i.Id} i={i} used={inUse.has(i.Id)} open={open === i.Id} toggle={() => setOpen(open === i.Id ? undefined : i.Id)} reload={reload} push={(name) => push.run(`/images/${name}/push`, (ok) => ok && notify(`pushed ${name}`))} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function ImageRow({ i, used, open, toggle, reload, push }: { i: Image; used: boolean; open: boolean; toggle(): void; reload(): Promise<void>; push(name: string): void }) {
  const [tagging, setTagging] = useState(false);
  const [target, setTarget] = useState('');
  const name = i.RepoTags?.[0] ?? shortId(i.Id);
  const remove = async () => {
    if (!(await confirmAction(`Remove ${name}?`, <p>{used ? 'A container uses this image: it is removed with force only if no running container needs it.' : `Tags ${i.RepoTags?.join(', ') || 'none'} are removed, and layers no other image uses.`}</p>, 'Remove'))) return;
    await attempt(`remove ${name}`, () => api('DELETE', `/images/${i.Id}${used ? '?force=1' : ''}`));
    void reload();
  };
  const tag = async (e: Event) => {
    e.preventDefault();
    const { repo, tag } = splitRef(target.trim());
    await attempt(`tag ${name}`, async () => {
      await api('POST', `/images/${i.Id}/tag${q({ repo, tag })}`);
      notify(`tagged ${repo}:${tag}`);
      setTagging(false);
      setTarget('');
    });
    void reload();
  };
  return (
    <>
      <tr>
        <td>
          <button class="link" aria-expanded={open} aria-label={`history of ${name}`} onClick={toggle}>{open ? '▾' : '▸'} {i.RepoTags?.length ? '' : '<none>'}</button>
          {(i.RepoTags ?? []).map((t) => (
            <div key={t} class="tagline"><span>{t}</span> <button class="small" aria-label={`push ${t}`} title={`push ${t} to its registry`} onClick={() => push(t)}>push</button></div>
          ))}
        </td>
        <td class="mono">{shortId(i.Id)}</td>
        <td>{ago(i.Created)}</td>
        <td>{bytes(i.Size)}</td>
        <td class="hide-narrow">{i.SharedSize !== undefined && i.SharedSize >= 0 ? bytes(i.SharedSize) : '—'}</td>
        <td>{used ? 'yes' : 'no'}</td>
        <td class="actions">
          <button class="small" onClick={() => setTagging(!tagging)} aria-label={`tag ${name}`}>tag</button>
          <button class="small danger" onClick={remove} aria-label={`remove ${name}`}>remove</button>
        </td>
      </tr>
      {tagging && (
        <tr><td colSpan={7}>
          <form class="inline" onSubmit={tag}>
            <input aria-label={`New tag for ${name}`} placeholder="localhost:5000/name:tag" value={target} onInput={(e) => setTarget((e.target as HTMLInputElement).value)} />
            <button class="primary" type="submit">Add tag</button>
          </form>
        </td></tr>
      )}
      {open && <tr><td colSpan={7}><HistoryView id={i.Id} /></td></tr>}
    </>
  );
}

function HistoryView({ id }: { id: string }) {
  const [h, setH] = useState<History[]>();
  const [err, setErr] = useState<string>();
  useEffect(() => void api<History[]>('GET', `/images/${id}/history`).then(setH, (e) => setErr(e.message)), [id]);
  if (err) return <p class="error-text">{err}</p>;
  if (!h) return <p class="sub">Loading history…</p>;
  return (
    <table class="list nested" aria-label="Image history">
      <thead><tr><th>Layer</th><th>Created</th><th>Created by</th><th>Size</th></tr></thead>
      <tbody>{h.map((l, n) => <tr key={n}><td class="mono">{l.Id === '<missing>' ? '<missing>' : shortId(l.Id)}</td><td>{ago(l.Created)}</td><td class="mono wrap">{l.CreatedBy}</td><td>{bytes(l.Size)}</td></tr>)}</tbody>
    </table>
  );
}
