import type { Readable } from 'node:stream';
import type { JsonMessage } from '../wire/api-types.js';

/**
 * Iterates a JSON message stream (pull, import, push, build): newline-delimited JSON objects,
 * though Docker's decoder accepts objects back to back, so this does too.
 */
export async function* readJsonMessages(source: Readable): AsyncGenerator<JsonMessage> {
  let buf = '';
  for await (const chunk of source) {
    buf += (chunk as Buffer).toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield* parseConcatenated(line);
    }
  }
  if (buf.trim()) yield* parseConcatenated(buf.trim());
}

function* parseConcatenated(text: string): Generator<JsonMessage> {
  try {
    yield JSON.parse(text) as JsonMessage;
  } catch {
    // `{"a":1}{"b":2}` on one line: split at top-level object boundaries.
    let depth = 0;
    let start = 0;
    let inString = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{') depth++;
      else if (c === '}' && --depth === 0) {
        yield JSON.parse(text.slice(start, i + 1)) as JsonMessage;
        start = i + 1;
      }
    }
  }
}
