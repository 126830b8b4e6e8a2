/**
 * Output of stages that run in parallel, in stage order: the earliest unfinished stage writes
 * through, the others are held until every stage before them has finished.
 */
export class OrderedOutput {
  readonly #out: (t: string) => void;
  readonly #order: number[];
  readonly #held = new Map<number, string[]>();
  readonly #finished = new Set<number>();
  #head = 0;

  constructor(out: (t: string) => void, order: number[]) {
    this.#out = out;
    this.#order = order;
  }

  sink(stage: number): (t: string) => void {
    return (t) => {
      if (this.#order[this.#head] === stage) this.#out(t);
      else {
        const h = this.#held.get(stage) ?? [];
        h.push(t);
        this.#held.set(stage, h);
      }
    };
  }

  finish(stage: number): void {
    this.#finished.add(stage);
    while (this.#head < this.#order.length && this.#finished.has(this.#order[this.#head]!)) {
      this.#head++;
      const next = this.#order[this.#head];
      if (next === undefined) break;
      for (const t of this.#held.get(next) ?? []) this.#out(t);
      this.#held.delete(next);
    }
  }

  /** After a failure: what the stages printed, in order. */
  flushAll(): void {
    for (const i of this.#order) {
      for (const t of this.#held.get(i) ?? []) this.#out(t);
      this.#held.delete(i);
    }
  }
}
