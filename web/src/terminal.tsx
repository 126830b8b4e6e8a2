/** A shell in the container: an exec with a real tty over the bridge, drawn by xterm.js. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { bridge } from './api';

export function TerminalView({ id, running }: { id: string; running: boolean }) {
  const host = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState('connecting…');
  const [session, setSession] = useState(0);
  const [shell, setShell] = useState('sh');

  useEffect(() => {
    if (!running || !host.current) return;
    const term = new Terminal({ cursorBlink: true, fontSize: 13, fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace', theme: { background: '#0f1419' } });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host.current);
    fit.fit();
    setStatus('connecting…');
    const h = bridge.exec(id, [shell], { cols: term.cols, rows: term.rows }, {
      onStarted: () => {
        setStatus(`connected: ${shell}`);
        term.focus();
      },
      onData: (text) => term.write(text),
      onEnd: (error) => {
        setStatus(error ? `closed: ${error}` : 'session ended');
        term.write(`\r\n\x1b[90m[${error ?? 'session ended'}]\x1b[0m\r\n`);
      },
    });
    const input = term.onData((d) => h.input(d));
    const resized = term.onResize(({ cols, rows }) => h.resize(cols, rows));
    const ro = new ResizeObserver(() => fit.fit());
    ro.observe(host.current);
    return () => {
      ro.disconnect();
      input.dispose();
      resized.dispose();
      h.cancel();
      term.dispose();
    };
  }, [id, running, session, shell]);

  if (!running) return <p class="empty">The container is not running: start it to open a terminal.</p>;
  return (
    <div class="terminal">
      <div class="toolbar">
        <label>Shell <select aria-label="Shell" value={shell} onChange={(e) => setShell((e.target as HTMLSelectElement).value)}>
          <option value="sh">sh</option><option value="bash">bash</option><option value="ash">ash</option>
        </select></label>
        <button class="small" onClick={() => setSession((n) => n + 1)}>Reconnect</button>
        <span class="sub" aria-live="polite">{status}</span>
      </div>
      <div class="xterm-host" ref={host} aria-label="Terminal" />
    </div>
  );
}
