/** Pull/push progress as Docker's JSON messages, shown as one bar per layer. */
import { useState } from 'preact/hooks';
import { bridge, jsonLines } from './api';

interface Msg { id?: string; status?: string; progressDetail?: { current?: number; total?: number }; error?: string; errorDetail?: { message: string } }
export interface Layer { id: string; status: string; current: number; total: number }

export function useProgress() {
  const [layers, setLayers] = useState<Layer[]>([]);
  const [lines, setLines] = useState<string[]>([]);
  const [state, setState] = useState<'idle' | 'running' | 'done' | 'failed'>('idle');
  const run = (path: string, onDone?: (ok: boolean) => void) => {
    setLayers([]);
    setLines([]);
    setState('running');
    let failed = false;
    const byId = new Map<string, Layer>();
    bridge.stream(path, {
      onData: jsonLines<Msg>((m) => {
        if (m.error || m.errorDetail) {
          failed = true;
          setLines((l) => [...l, m.errorDetail?.message ?? m.error ?? 'failed']);
          return;
        }
        if (m.id && m.progressDetail !== undefined && m.status !== undefined && !/^(Pulling from|Digest|Status)/.test(m.status)) {
          const l = byId.get(m.id) ?? { id: m.id, status: '', current: 0, total: 0 };
          l.status = m.status;
          if (m.progressDetail.total) {
            l.total = m.progressDetail.total;
            l.current = m.progressDetail.current ?? 0;
          }
          if (/complete|exists|Pushed|Mounted/i.test(m.status) && l.total) l.current = l.total;
          byId.set(m.id, { ...l });
          setLayers([...byId.values()]);
        } else if (m.status) setLines((ls) => [...ls, m.id ? `${m.id}: ${m.status}` : m.status!].slice(-20));
      }),
      onEnd(error) {
        if (error) {
          failed = true;
          setLines((l) => [...l, error]);
        }
        setState(failed ? 'failed' : 'done');
        onDone?.(!failed);
      },
    });
  };
  return { layers, lines, state, run };
}

export function ProgressView({ p, label }: { p: ReturnType<typeof useProgress>; label: string }) {
  if (p.state === 'idle') return null;
  return (
    <div class="progress card" aria-live="polite" aria-label={`${label} progress`}>
      {p.layers.map((l) => (
        <div key={l.id} class="layer">
          <span class="mono">{l.id}</span>
          <progress max={l.total || 1} value={l.total ? l.current : /complete|exists|Pushed/i.test(l.status) ? 1 : 0} aria-label={`layer ${l.id}`} />
          <span class="sub">{l.status}</span>
        </div>
      ))}
      <ul class="plain mono">{p.lines.map((l, i) => <li key={i}>{l}</li>)}</ul>
      <p class={p.state === 'failed' ? 'error-text' : 'sub'}>{p.state === 'running' ? `${label}…` : p.state === 'done' ? `${label} complete` : `${label} failed`}</p>
    </div>
  );
}
