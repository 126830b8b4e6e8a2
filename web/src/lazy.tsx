/**
 * Heavy views (xterm.js, uPlot) load on first use, so the first screen parses only the
 * container list's code (issue 19: first screen under 300 ms).
 */
import { useEffect, useState } from 'preact/hooks';
import type { ComponentType } from 'preact';

export function lazy<P extends object>(load: () => Promise<ComponentType<P>>): ComponentType<P> {
  let loaded: ComponentType<P> | undefined;
  let pending: Promise<ComponentType<P>> | undefined;
  return function Lazy(props: P) {
    const [C, setC] = useState<ComponentType<P> | undefined>(() => loaded);
    const [error, setError] = useState<string>();
    useEffect(() => {
      if (C) return;
      pending ??= load().then((c) => (loaded = c));
      pending.then((c) => setC(() => c), (e: Error) => setError(e.message));
    }, []);
    if (error) return <p class="error-text">could not load this view: {error}</p>;
    return C ? <C {...props} /> : <p class="empty">Loading…</p>;
  };
}
