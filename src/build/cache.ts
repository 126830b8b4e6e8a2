/**
 * The build cache: which image a build step produced, by what the step depended on.
 *
 * A step's key is the sha256 of its parent image ID, the instruction after substitution (for
 * RUN also the build arguments it sees) and, for COPY/ADD, a digest of the sources' content
 * and metadata. A step whose key is known and whose image still exists is reused (`Using
 * cache`); any change to one of those inputs gives a new key, and since every later step's
 * parent then changes too, exactly that step and the ones after it are rebuilt — the rule
 * Docker's legacy builder follows.
 *
 * Stored as one small JSON file, written atomically; lost or corrupt, it only costs a rebuild.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../common/fs-util.js';

export interface CacheKeyParts {
  parent: string;
  /** The instruction after substitution, as the step ran it. */
  instruction: string;
  /** Extra inputs: build args seen by RUN, sources digest of COPY/ADD. */
  extra?: string;
}

export function cacheKey(parts: CacheKeyParts): string {
  return createHash('sha256').update(JSON.stringify([parts.parent, parts.instruction, parts.extra ?? ''])).digest('hex');
}

export class BuildCache {
  readonly #file: string;
  #entries = new Map<string, string>();
  #loaded = false;
  #writing: Promise<void> = Promise.resolve();

  constructor(file: string) {
    this.#file = file;
  }

  async #load(): Promise<void> {
    if (this.#loaded) return;
    this.#loaded = true;
    try {
      const data = JSON.parse(await readFile(this.#file, 'utf8')) as Record<string, string>;
      for (const [k, v] of Object.entries(data)) if (typeof v === 'string') this.#entries.set(k, v);
    } catch {
      // absent or unreadable: start empty
    }
  }

  /** The image a step with this key produced, if `exists` still says it is there. */
  async get(key: string, exists: (imageId: string) => boolean): Promise<string | undefined> {
    await this.#load();
    const id = this.#entries.get(key);
    if (id && exists(id)) return id;
    if (id) this.#entries.delete(key);
    return undefined;
  }

  /** How many steps the index knows. */
  async size(): Promise<number> {
    await this.#load();
    return this.#entries.size;
  }

  /** Forgets every step (`builder prune -a`): the next builds run every step again. */
  async clear(): Promise<number> {
    await this.#load();
    const n = this.#entries.size;
    this.#entries.clear();
    this.#writing = this.#writing.then(async () => {
      await mkdir(dirname(this.#file), { recursive: true });
      await writeFileAtomic(this.#file, '{}');
    }).catch(() => undefined);
    await this.#writing;
    return n;
  }

  /** Forgets the steps whose image is gone. */
  async dropMissing(exists: (imageId: string) => boolean): Promise<number> {
    await this.#load();
    let n = 0;
    for (const [k, v] of this.#entries) {
      if (!exists(v)) {
        this.#entries.delete(k);
        n++;
      }
    }
    if (n) {
      const snapshot = JSON.stringify(Object.fromEntries(this.#entries));
      this.#writing = this.#writing.then(() => writeFileAtomic(this.#file, snapshot)).catch(() => undefined);
      await this.#writing;
    }
    return n;
  }

  async set(key: string, imageId: string): Promise<void> {
    await this.#load();
    this.#entries.set(key, imageId);
    const snapshot = JSON.stringify(Object.fromEntries(this.#entries));
    this.#writing = this.#writing.then(async () => {
      await mkdir(dirname(this.#file), { recursive: true });
      await writeFileAtomic(this.#file, snapshot);
    }).catch(() => undefined);
    await this.#writing;
  }
}
