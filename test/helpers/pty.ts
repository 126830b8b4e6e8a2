/**
 * Drives a CLI through a pseudo-terminal (node-pty), as a user at a terminal would: type
 * keys, wait for output, resize the window, see the exit code.
 */
import pty from 'node-pty';

export interface PtySession {
  /** Everything the program printed so far (terminal bytes). */
  readonly output: string;
  /** Output since the last `mark()`. */
  since(): string;
  mark(): void;
  type(keys: string): void;
  resize(cols: number, rows: number): void;
  /** Waits until the output since the last mark matches `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or rejects after `timeoutMs`). */
  exit(timeoutMs?: number): Promise<number>;
  kill(): void;
}

export function spawnPty(file: string, args: string[], options: { env: NodeJS.ProcessEnv; cols?: number; rows?: number }): PtySession {
  const p = pty.spawn(file, args, { name: 'xterm', cols: options.cols ?? 80, rows: options.rows ?? 24, env: options.env as Record<string, string> });
  let out = '';
  let markAt = 0;
  let code: number | undefined;
  const exited = new Promise<number>((resolve) =>
    p.onExit((e) => {
      code = e.exitCode;
      resolve(e.exitCode);
    }),
  );
  p.onData((d) => {
    out += d;
  });
  return {
    get output() {
      return out;
    },
    since: () => out.slice(markAt),
    mark() {
      markAt = out.length;
    },
    type: (keys) => p.write(keys),
    resize: (cols, rows) => p.resize(cols, rows),
    async waitFor(re, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = re.exec(out.slice(markAt));
        if (m) return m[0];
        if (code !== undefined) throw new Error(`process exited (${code}) before ${re} appeared; output: ${JSON.stringify(out.slice(markAt))}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; output: ${JSON.stringify(out.slice(markAt))}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    exit(timeoutMs = 15_000) {
      return Promise.race([
        exited,
        new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`no exit within ${timeoutMs} ms; output: ${JSON.stringify(out.slice(markAt))}`)), timeoutMs).unref()),
      ]);
    },
    kill() {
      if (code === undefined) p.kill('SIGKILL');
    },
  };
}
