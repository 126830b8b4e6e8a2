/**
 * `berth build --progress=tty`: BuildKit's live view of a build on a terminal. One header line
 * (`[+] Building 3.1s (4/6)`), one line per step with its time (`=> CACHED [2/6] RUN …`), and the
 * last lines of the running step's output (`=> => # …`), redrawn in place ten times a second
 * and once more, `FINISHED`, at the end. It reads the same legacy-builder stream as the plain
 * shape (`Step N/M : …`, ` ---> Using cache`, output lines), so it needs nothing new from berthd.
 */

interface TtyStep {
  n: number;
  total: number;
  text: string;
  start: number;
  end?: number;
  cached: boolean;
}

/** How many output lines of the running step stay on screen (BuildKit shows a few as well). */
const LOG_LINES = 6;

export class BuildkitTty {
  readonly #write: (s: string) => void;
  readonly #columns: () => number;
  readonly #started = Date.now();
  readonly #steps: TtyStep[] = [];
  #logs: string[] = [];
  #buf = '';
  #drawn = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(write: (s: string) => void, columns: () => number) {
    this.#write = write;
    this.#columns = columns;
    this.#timer = setInterval(() => this.#render(false), 100);
    this.#timer.unref();
    this.#render(false);
  }

  push(text: string): void {
    this.#buf += text;
    let nl: number;
    while ((nl = this.#buf.indexOf('\n')) >= 0) {
      this.#line(this.#buf.slice(0, nl));
      this.#buf = this.#buf.slice(nl + 1);
    }
  }

  /** The last frame; `ok` false leaves the failed step's output on screen. */
  end(ok: boolean): void {
    if (this.#buf) this.#line(this.#buf);
    this.#buf = '';
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    const open = this.#steps.at(-1);
    if (open && open.end === undefined && ok) {
      open.end = Date.now();
      this.#logs = [];
    }
    this.#render(ok);
  }

  #line(l: string): void {
    const m = /^Step (\d+)\/(\d+) : (.*)$/.exec(l);
    if (m) {
      const prev = this.#steps.at(-1);
      if (prev && prev.end === undefined) prev.end = Date.now();
      this.#steps.push({ n: Number(m[1]), total: Number(m[2]), text: m[3]!, start: Date.now(), cached: false });
      this.#logs = [];
      return;
    }
    const cur = this.#steps.at(-1);
    if (l === ' ---> Using cache') {
      if (cur) {
        cur.cached = true;
        cur.end = Date.now();
      }
      return;
    }
    if (/^ ---> ([0-9a-f]{12})$|^ ---> Running in |^Removing intermediate container |^Successfully (built|tagged) /.test(l) || l === '') return;
    // The classic builder colours a step's stderr; the live view shows the text alone.
    this.#logs.push(l.replace(/\x1b\[[0-9;]*m/g, ''));
    if (this.#logs.length > LOG_LINES) this.#logs.shift();
  }

  #render(finished: boolean): void {
    const width = Math.max(40, this.#columns());
    const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
    const done = this.#steps.filter((s) => s.end !== undefined).length;
    const total = this.#steps.at(-1)?.total ?? 0;
    const lines = [`[+] Building ${secs(Date.now() - this.#started)} (${done}/${Math.max(total, this.#steps.length)})${finished ? ' FINISHED' : ''}`];
    for (const s of this.#steps) {
      const left = ` => ${s.cached ? 'CACHED ' : ''}[${s.n}/${s.total}] ${s.text}`;
      const right = secs((s.end ?? Date.now()) - s.start);
      lines.push(fit(left, right, width));
    }
    for (const l of this.#logs) lines.push(fit(` => => # ${l}`, '', width));
    // Back to the top of the last frame, then each line cleared and rewritten; what the last
    // frame had below this one is cleared too.
    const up = this.#drawn ? `\x1b[${this.#drawn}A\r` : '';
    this.#write(`${up}${lines.map((l) => `\x1b[2K${l}`).join('\n')}\n\x1b[J`);
    this.#drawn = lines.length;
  }
}

/** `left` cut to leave room for `right`, which ends at the last column but one. */
function fit(left: string, right: string, width: number): string {
  const room = width - 1 - (right ? right.length + 1 : 0);
  const l = left.length > room ? `${left.slice(0, Math.max(0, room - 3))}...` : left;
  return right ? `${l.padEnd(room)} ${right}` : l;
}
