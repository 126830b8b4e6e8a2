import { Writable } from 'node:stream';
import type { ApiClient } from '../../client/client.js';
import { demultiplex } from '../../client/stdcopy.js';
import type { Query } from '../../client/client.js';

/**
 * Compose's interleaved log output: every line prefixed with the container's name padded to
 * the longest one and `| `, in a colour per container (Docker Compose's palette) when the
 * output is a terminal. Partial lines are held until their newline.
 */

const PALETTE = ['36', '33', '32', '35', '34', '31', '36;1', '33;1', '32;1', '35;1', '34;1', '31;1'];

export class LogPrinter {
  readonly #out: Writable;
  readonly #color: boolean;
  readonly #prefix: boolean;
  #width = 0;
  #colors = new Map<string, string>();

  constructor(out: Writable, options: { color: boolean; prefix?: boolean }) {
    this.#out = out;
    this.#color = options.color;
    this.#prefix = options.prefix ?? true;
  }

  /** Registers names up front so the padding is right from the first line. */
  register(names: string[]): void {
    for (const n of names) {
      this.#width = Math.max(this.#width, n.length);
      if (!this.#colors.has(n)) this.#colors.set(n, PALETTE[this.#colors.size % PALETTE.length]!);
    }
  }

  #head(name: string): string {
    if (!this.#prefix) return '';
    this.register([name]);
    const p = `${name.padEnd(this.#width)}  | `;
    return this.#color ? `\u001b[${this.#colors.get(name)}m${p}\u001b[0m` : p;
  }

  line(name: string, text: string): void {
    this.#out.write(`${this.#head(name)}${text}\n`);
  }

  /** A plain message in the container's colour (`web-1 exited with code 0`). */
  status(name: string, text: string): void {
    this.#out.write(this.#color ? `\u001b[${this.#colors.get(name) ?? '0'}m${text}\u001b[0m\n` : `${text}\n`);
  }

  /** A writable that prefixes every complete line with `name`. */
  sink(name: string): Writable & { flushRest(): void } {
    let rest = '';
    const w = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        rest += chunk.toString('utf8');
        const lines = rest.split('\n');
        rest = lines.pop() ?? '';
        for (const l of lines) this.line(name, l.replace(/\r$/, ''));
        cb();
      },
    }) as Writable & { flushRest(): void };
    w.flushRest = () => {
      if (rest) this.line(name, rest);
      rest = '';
    };
    return w;
  }

  /** Streams one container's logs (GET /containers/{id}/logs) through the printer until the stream ends. */
  async follow(client: ApiClient, id: string, name: string, query: Query, tty: boolean): Promise<void> {
    const res = await client.containerLogs(id, query);
    const out = this.sink(name);
    if (tty) {
      for await (const c of res) out.write(c as Buffer);
    } else {
      await demultiplex(res, out, out);
    }
    out.flushRest();
  }
}
