/**
 * Dockerfile word processing: quotes, escapes and variable substitution, after moby's
 * `frontend/dockerfile/shell/lex.go` (hand-written because no npm package implements the
 * Dockerfile flavour: a configurable escape character, `${VAR:-default}`/`${VAR:+alt}` forms,
 * and quote removal that differs from POSIX sh in small ways).
 *
 * Pure: the builder passes a lookup function for the variables in scope (ARG + ENV).
 */
import { InvalidParameterError } from '../../common/errors.js';

/** Looks a variable up; undefined when it is not set. */
export type VarLookup = (name: string) => string | undefined;

/** A word that could not be processed (bad `${` syntax, `${VAR:?message}`). */
export class SubstitutionError extends InvalidParameterError {
  override readonly code = 'BERTH_ERR_DOCKERFILE_SUBSTITUTION';
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

/** Processes one word: removes quotes and escapes and substitutes `$VAR`/`${VAR...}`. */
export function processWord(word: string, lookup: VarLookup, escape = '\\'): string {
  return new Lexer(word, lookup, escape, false).run().join('');
}

/**
 * Processes a string into words split at unquoted whitespace (for EXPOSE, VOLUME, COPY
 * sources…); a substituted value is split too, as moby's ProcessWords does.
 */
export function processWords(text: string, lookup: VarLookup, escape = '\\'): string[] {
  return new Lexer(text, lookup, escape, true).run();
}

class Lexer {
  #i = 0;
  readonly #s: string;
  readonly #lookup: VarLookup;
  readonly #esc: string;
  readonly #split: boolean;
  readonly #words: string[] = [];
  #cur = '';
  #inWord = false;

  constructor(s: string, lookup: VarLookup, esc: string, split: boolean) {
    this.#s = s;
    this.#lookup = lookup;
    this.#esc = esc;
    this.#split = split;
  }

  run(): string[] {
    const s = this.#s;
    while (this.#i < s.length) {
      const ch = s[this.#i]!;
      if (this.#split && /\s/.test(ch)) {
        this.#endWord();
        this.#i++;
        continue;
      }
      if (ch === this.#esc) {
        this.#i++;
        if (this.#i < s.length) this.#add(s[this.#i++]!);
        else this.#add(ch); // a trailing escape stays literal
        continue;
      }
      if (ch === "'") {
        this.#i++;
        this.#inWord = true;
        const end = s.indexOf("'", this.#i);
        if (end < 0) throw new SubstitutionError(`unexpected end of statement while looking for matching single-quote`);
        this.#cur += s.slice(this.#i, end);
        this.#i = end + 1;
        continue;
      }
      if (ch === '"') {
        this.#i++;
        this.#inWord = true;
        this.#doubleQuoted();
        continue;
      }
      if (ch === '$') {
        const v = this.#dollar();
        if (this.#split && v.substituted) {
          // An unquoted substitution is split into words, as the shell would.
          const parts = v.text.split(/\s+/);
          parts.forEach((p, k) => {
            if (k > 0) this.#endWord();
            if (p) this.#add(p);
          });
        } else this.#add(v.text);
        continue;
      }
      this.#add(ch);
      this.#i++;
    }
    this.#endWord();
    if (!this.#split && this.#words.length === 0) return [''];
    return this.#words;
  }

  #add(t: string): void {
    this.#cur += t;
    this.#inWord = true;
  }

  #endWord(): void {
    if (this.#inWord) this.#words.push(this.#cur);
    this.#cur = '';
    this.#inWord = false;
  }

  #doubleQuoted(): void {
    const s = this.#s;
    for (;;) {
      if (this.#i >= s.length) throw new SubstitutionError('unexpected end of statement while looking for matching double-quote');
      const ch = s[this.#i]!;
      if (ch === '"') {
        this.#i++;
        return;
      }
      if (ch === '$') {
        this.#cur += this.#dollar().text;
        continue;
      }
      if (ch === this.#esc) {
        const next = s[this.#i + 1];
        if (next === '"' || next === '$' || next === this.#esc) {
          this.#cur += next;
          this.#i += 2;
          continue;
        }
      }
      this.#cur += ch;
      this.#i++;
    }
  }

  /** At a `$`: returns the substitution (or a literal `$`). */
  #dollar(): { text: string; substituted: boolean } {
    const s = this.#s;
    this.#i++; // the $
    const ch = s[this.#i];
    if (ch === undefined) return { text: '$', substituted: false };
    if (ch === '{') {
      this.#i++;
      let name = '';
      while (this.#i < s.length && NAME_CHAR.test(s[this.#i]!)) name += s[this.#i++];
      if (!name) throw new SubstitutionError(`missing variable name in ${JSON.stringify(s)}`);
      const next = s[this.#i];
      if (next === '}') {
        this.#i++;
        return { text: this.#lookup(name) ?? '', substituted: true };
      }
      let op = '';
      if (next === ':') {
        op = ':';
        this.#i++;
      }
      const kind = s[this.#i];
      if (kind !== '-' && kind !== '+' && kind !== '?') {
        throw new SubstitutionError(`unsupported modifier (${op}${kind ?? ''}) in substitution: ${JSON.stringify(s)}`);
      }
      this.#i++;
      const word = this.#braceWord();
      const value = this.#lookup(name);
      const set = op === ':' ? value !== undefined && value !== '' : value !== undefined;
      if (kind === '-') return { text: set ? value! : word, substituted: true };
      if (kind === '+') return { text: set ? word : '', substituted: true };
      if (!set) throw new SubstitutionError(`${name}: ${word || 'is not allowed to be unset'}`);
      return { text: value!, substituted: true };
    }
    if (/[0-9]/.test(ch)) {
      // `$1`: a positional parameter, always empty in a Dockerfile (as moby's lexer).
      this.#i++;
      return { text: '', substituted: true };
    }
    if (NAME_START.test(ch)) {
      let name = '';
      while (this.#i < s.length && NAME_CHAR.test(s[this.#i]!)) name += s[this.#i++];
      return { text: this.#lookup(name) ?? '', substituted: true };
    }
    return { text: '$', substituted: false };
  }

  /** The word inside `${VAR:-word}` up to the matching `}`; itself processed (quotes, nested `$`). */
  #braceWord(): string {
    const s = this.#s;
    let depth = 0;
    const start = this.#i;
    for (; this.#i < s.length; this.#i++) {
      const c = s[this.#i]!;
      if (c === this.#esc) {
        this.#i++;
        continue;
      }
      if (c === '{') depth++;
      else if (c === '}') {
        if (depth === 0) break;
        depth--;
      }
    }
    if (this.#i >= s.length) throw new SubstitutionError(`syntax error: missing '}' in ${JSON.stringify(s)}`);
    const raw = s.slice(start, this.#i);
    this.#i++; // the }
    return new Lexer(raw, this.#lookup, this.#esc, false).run().join('');
  }
}

/**
 * Splits an instruction's arguments into words at unquoted whitespace, keeping quotes and
 * escapes in place (moby `parseWords`, used for `ENV a=1 b="x y"` before substitution).
 */
export function splitRawWords(text: string, escape = '\\'): string[] {
  const words: string[] = [];
  let cur = '';
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (!quote && /\s/.test(c)) {
      if (cur) words.push(cur);
      cur = '';
      continue;
    }
    if (c === escape && i + 1 < text.length && quote !== "'") {
      cur += c + text[++i];
      continue;
    }
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    cur += c;
  }
  if (cur) words.push(cur);
  return words;
}
