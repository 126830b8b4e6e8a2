/**
 * Docker's detach keys (Ctrl-P Ctrl-Q by default, `--detach-keys`): parsing and a scanner for
 * the byte stream. Used by the daemon (attach, exec) and the CLI alike.
 */
import { InvalidParameterError } from './errors.js';

/** Docker's default detach sequence: ctrl-p, ctrl-q. */
export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/**
 * Parses Docker's detach-keys syntax (moby/term ToBytes): comma-separated keys, each a single
 * character or `ctrl-<c>` with c in a–z, @, [, \, ], ^, _.
 */
export function parseDetachKeys(keys: string): number[] {
  const out: number[] = [];
  for (const raw of keys.split(',')) {
    const k = raw.trim();
    if (k.length > 1 && !k.toLowerCase().startsWith('ctrl-')) throw new InvalidParameterError(`Invalid detach keys (${keys}) provided`);
    if (k.length === 1) {
      out.push(k.charCodeAt(0));
      continue;
    }
    const c = k.slice(5).toLowerCase();
    if (c.length !== 1) throw new InvalidParameterError(`Invalid detach keys (${keys}) provided`);
    const code = c.charCodeAt(0);
    if (code >= 97 && code <= 122) out.push(code - 96);
    else if (c === '@') out.push(0);
    else if (c === '[') out.push(27);
    else if (c === '\\') out.push(28);
    else if (c === ']') out.push(29);
    else if (c === '^') out.push(30);
    else if (c === '_') out.push(31);
    else throw new InvalidParameterError(`Invalid detach keys (${keys}) provided`);
  }
  if (out.length === 0) throw new InvalidParameterError(`Invalid detach keys (${keys}) provided`);
  return out;
}

/**
 * Finds the detach sequence in a byte stream. Bytes that may begin the sequence are held back
 * until it is clear whether they do (moby/term EscapeProxy); everything else passes through.
 */
export class DetachScanner {
  #matched = 0;
  constructor(private readonly keys: readonly number[]) {}

  /** The bytes to forward, and whether the sequence is complete (later bytes are dropped). */
  push(chunk: Buffer): { forward: Buffer; detached: boolean } {
    if (this.keys.length === 0) return { forward: chunk, detached: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.#matched]) {
        this.#matched++;
        if (this.#matched === this.keys.length) {
          this.#matched = 0;
          return { forward: Buffer.from(out), detached: true };
        }
        continue;
      }
      // A partial match that failed: its bytes were real input after all.
      for (let i = 0; i < this.#matched; i++) out.push(this.keys[i]!);
      this.#matched = 0;
      if (b === this.keys[0]) this.#matched = 1;
      else out.push(b);
    }
    return { forward: Buffer.from(out), detached: false };
  }
}

