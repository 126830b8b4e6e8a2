/** Shared pieces: the confirmation dialog, notices, hash routing. */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';

type Listener = () => void;
function store<T>(initial: T) {
  let value = initial;
  const ls = new Set<Listener>();
  return {
    get: () => value,
    set(v: T) {
      value = v;
      for (const l of ls) l();
    },
    use(): T {
      const [, force] = useState(0);
      useEffect(() => {
        const l = () => force((n) => n + 1);
        ls.add(l);
        return () => void ls.delete(l);
      }, []);
      return value;
    },
  };
}

interface Ask {
  title: string;
  body: ComponentChildren;
  action: string;
  danger?: boolean;
  resolve(ok: boolean): void;
}
const asking = store<Ask | undefined>(undefined);

/** Asks before an action; resolves true when confirmed. */
export function confirmAction(title: string, body: ComponentChildren, action: string, danger = true): Promise<boolean> {
  return new Promise((resolve) => asking.set({ title, body, action, danger, resolve }));
}

export function ConfirmDialog() {
  const a = asking.use();
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (a && !d.open) d.showModal();
    if (!a && d.open) d.close();
  }, [a]);
  const done = (ok: boolean) => {
    a?.resolve(ok);
    asking.set(undefined);
  };
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onCancel={(e) => { e.preventDefault(); done(false); }}>
      {a && (
        <form method="dialog" onSubmit={(e) => { e.preventDefault(); done(true); }}>
          <h2 id="confirm-title">{a.title}</h2>
          <div class="confirm-body">{a.body}</div>
          <div class="row end">
            {/* Destructive actions start on Cancel: Enter alone must not remove anything. */}
            <button type="button" onClick={() => done(false)} autofocus={a.danger}>Cancel</button>
            <button type="submit" class={a.danger ? 'danger' : 'primary'} autofocus={!a.danger}>{a.action}</button>
          </div>
        </form>
      )}
    </dialog>
  );
}

interface Notice { id: number; text: string; error: boolean }
const notices = store<Notice[]>([]);
let noticeId = 0;
export function notify(text: string, error = false): void {
  const n = { id: ++noticeId, text, error };
  notices.set([...notices.get(), n].slice(-4));
  setTimeout(() => notices.set(notices.get().filter((x) => x !== n)), error ? 8000 : 4000);
}
export function Notices() {
  const list = notices.use();
  return (
    <div class="notices" role="status" aria-live="polite">
      {list.map((n) => <div key={n.id} class={n.error ? 'notice error' : 'notice'}>{n.text}</div>)}
    </div>
  );
}

/** Runs an action, reporting failure as a notice. */
export async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    notify(`${what}: ${(err as Error).message}`, true);
    return undefined;
  }
}

export function useHash(): string[] {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const f = () => setHash(location.hash);
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
}

export function go(path: string): void {
  location.hash = `#/${path}`;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}
