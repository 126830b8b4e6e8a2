/**
 * Gives memory back once berthd goes idle after a burst of work (issue 17 item 7).
 *
 * Measured on the 2-core machines: through 200 container lives berthd's RSS went from ~100 to
 * ~135 MB and stayed there idle for minutes. V8 had grown its heap to ~62 MB committed with
 * ~13 MB live (young generation grown to its maximum, old-generation pages kept), and its
 * memory reducer did not shrink the main isolate while berthd sat idle. One full GC once the
 * daemon has been idle for a while brings RSS back to about where it started (89 MB, and 82 MB
 * together with MALLOC_ARENA_MAX=2 in bin/berthd). The GC runs only after activity, only once per
 * idle period, and costs 15-100 ms each of an otherwise idle event loop.
 *
 * Lifecycle: `touch()` when a request starts and when it ends (wired to the API servers by
 * bin wiring in daemon.ts); `close()` at shutdown.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface IdleTrimOptions {
  /** How long nothing must have happened before the GC runs. */
  idleMs?: number;
  /** Injected for tests; default: V8's own full GC. */
  collect?: () => void;
  /**
   * Run once per idle period before the first GC: disk that can go back too (berthd truncates
   * its SQLite WAL here, which otherwise stays at its high-water mark, up to ~4 MB, after a
   * burst of writes, and made `system df` and `du` on the data root disagree by over 1%).
   */
  onIdle?: () => void;
}

/** V8's `gc()`, reachable without starting node with --expose-gc. */
function fullGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

export class IdleTrim {
  readonly #idleMs: number;
  readonly #collect: () => void;
  readonly #onIdle: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** How many times the GC ran (for tests and logs). */
  runs = 0;

  constructor(options: IdleTrimOptions = {}) {
    this.#idleMs = options.idleMs ?? 5000;
    this.#collect = options.collect ?? fullGc();
    this.#onIdle = options.onIdle;
  }

  /**
   * Something happened (a request started or ended): the GC waits until nothing has for
   * `idleMs`. Long streams (events, logs -f, attach) do not hold it off while they only stream.
   */
  touch(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#round(ROUNDS), this.#idleMs);
    this.#timer.unref();
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * One GC per round, a second apart, while nothing happens. V8 shrinks a space only after it
   * was found underused by consecutive collections (its own memory reducer also does up to
   * three): one GC alone took RSS from 129 to 119 MB after the soak, three to ~90 MB.
   */
  #round(left: number): void {
    this.#timer = undefined;
    this.runs++;
    if (left === ROUNDS) {
      try {
        this.#onIdle?.();
      } catch {
        // best effort: the next idle period tries again
      }
    }
    this.#collect();
    if (left > 1) {
      this.#timer = setTimeout(() => this.#round(left - 1), 1000);
      this.#timer.unref();
    }
  }
}

/** How many full GCs make up one trim. */
const ROUNDS = 3;
