/**
 * A container's logs: streamed (follow), searchable, timestamps on demand, stderr marked.
 * Virtualised: only the rows in view are in the DOM, and new lines are drawn at most once per
 * animation frame, so thousands of lines a second cost one small render per frame.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { bridge } from './api';

const ROW = 18;
const MAX_LINES = 200_000;
const OVERSCAN = 20;

interface Line { ts: string; err: boolean; text: string }

export function LogView({ id }: { id: string }) {
  const lines = useRef<Line[]>([]);
  const [, setTick] = useState(0);
  const [follow, setFollow] = useState(true);
  const [timestamps, setTimestamps] = useState(false);
  const [search, setSearch] = useState('');
  const [ended, setEnded] = useState<string>();
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(400);
  const box = useRef<HTMLDivElement>(null);
  const followRef = useRef(follow);
  followRef.current = follow;

  useEffect(() => {
    lines.current = [];
    setEnded(undefined);
    const partial = ['', '', ''];
    let scheduled = false;
    const draw = () => {
      scheduled = false;
      setTick((n) => n + 1);
    };
    const h = bridge.stream(`/containers/${id}/logs?stdout=1&stderr=1&follow=1&timestamps=1&tail=5000`, {
      onData(text, stream = 1) {
        const s = stream === 2 ? 2 : 1;
        const parts = (partial[s] + text).split('\n');
        partial[s] = parts.pop() ?? '';
        const out = lines.current;
        for (const p of parts) {
          const sp = p.indexOf(' ');
          const looksStamped = sp > 19 && p[4] === '-' && p[10] === 'T';
          out.push({ ts: looksStamped ? p.slice(0, sp) : '', err: s === 2, text: (looksStamped ? p.slice(sp + 1) : p).replace(/\r$/, '') });
        }
        if (out.length > MAX_LINES) out.splice(0, out.length - MAX_LINES);
        if (!scheduled) {
          scheduled = true;
          requestAnimationFrame(draw);
        }
      },
      onEnd(error) {
        setEnded(error ?? 'end of logs (the container stopped)');
        setTick((n) => n + 1);
      },
    });
    return () => h.cancel();
  }, [id]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const term = search.toLowerCase();
  const shown = term ? lines.current.filter((l) => l.text.toLowerCase().includes(term)) : lines.current;
  const total = shown.length;

  useEffect(() => {
    const el = box.current;
    if (el && followRef.current) el.scrollTop = el.scrollHeight;
  });

  const first = Math.max(0, Math.floor(scrollTop / ROW) - OVERSCAN);
  const last = Math.min(total, Math.ceil((scrollTop + height) / ROW) + OVERSCAN);
  const rows = [];
  for (let i = first; i < last; i++) {
    const l = shown[i]!;
    rows.push(
      <div key={i} class={l.err ? 'logline err' : 'logline'} style={{ top: i * ROW }}>
        {l.err && <span class="tag" title="standard error">err</span>}
        {timestamps && <span class="ts">{l.ts}</span>}
        {term ? highlight(l.text, term) : l.text}
      </div>,
    );
  }
  return (
    <div class="logs">
      <div class="toolbar">
        <input type="search" placeholder="Search logs" aria-label="Search logs" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
        <label class="check"><input type="checkbox" checked={follow} onChange={(e) => setFollow((e.target as HTMLInputElement).checked)} /> Follow</label>
        <label class="check"><input type="checkbox" checked={timestamps} onChange={(e) => setTimestamps((e.target as HTMLInputElement).checked)} /> Timestamps</label>
        <span class="count" aria-live="polite">{term ? `${total} of ${lines.current.length} lines match` : `${total} lines`}</span>
      </div>
      <div
        class="logbox"
        ref={box}
        tabIndex={0}
        role="log"
        aria-label="Container logs"
        onScroll={(e) => {
          const el = e.currentTarget as HTMLDivElement;
          setScrollTop(el.scrollTop);
          const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW * 2;
          if (!atBottom && followRef.current) setFollow(false);
          else if (atBottom && !followRef.current) setFollow(true);
        }}
      >
        <div style={{ height: total * ROW, position: 'relative' }}>{rows}</div>
      </div>
      {ended && <p class="sub">{ended}</p>}
    </div>
  );
}

function highlight(text: string, term: string) {
  const out = [];
  const lower = text.toLowerCase();
  let i = 0;
  for (;;) {
    const j = lower.indexOf(term, i);
    if (j < 0) break;
    out.push(text.slice(i, j), <mark>{text.slice(j, j + term.length)}</mark>);
    i = j + term.length;
  }
  out.push(text.slice(i));
  return out;
}
