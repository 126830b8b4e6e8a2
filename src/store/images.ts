import { statement, type Db } from './db.js';

/** Persists image records, tags (`name:tag` → image id) and layer records. */
export class ImageTable<T extends { id: string }> {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }
  put(record: T): void {
    statement(this.#db, 'INSERT INTO images (id, data) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET data = excluded.data').run(record.id, JSON.stringify(record));
  }
  get(id: string): T | undefined {
    const row = statement(this.#db, 'SELECT data FROM images WHERE id = ?').get(id) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as T) : undefined;
  }
  list(): T[] {
    return (statement(this.#db, 'SELECT data FROM images').all() as { data: string }[]).map((r) => JSON.parse(r.data) as T);
  }
  delete(id: string): void {
    statement(this.#db, 'DELETE FROM images WHERE id = ?').run(id);
  }
  /** Points `ref` at `imageId`, returning the image it pointed at before, if any. */
  setTag(ref: string, imageId: string): string | undefined {
    const prev = this.getTag(ref);
    // Already so (every cached rebuild tags its result again): no write, no WAL frame.
    if (prev === imageId) return prev;
    statement(this.#db, 'INSERT INTO tags (ref, image_id) VALUES (?, ?) ON CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id').run(ref, imageId);
    return prev;
  }
  getTag(ref: string): string | undefined {
    const row = statement(this.#db, 'SELECT image_id FROM tags WHERE ref = ?').get(ref) as { image_id: string } | undefined;
    return row?.image_id;
  }
  deleteTag(ref: string): void {
    statement(this.#db, 'DELETE FROM tags WHERE ref = ?').run(ref);
  }
  tagsOf(imageId: string): string[] {
    return (statement(this.#db, 'SELECT ref FROM tags WHERE image_id = ? ORDER BY ref').all(imageId) as { ref: string }[]).map((r) => r.ref);
  }
  transaction<R>(fn: () => R): R {
    return this.#db.transaction(fn)();
  }
}

/** Layer records keyed by chain ID, with a reference count of the images using them. */
export class LayerTable<T extends { chainId: string }> {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }
  put(record: T): void {
    statement(this.#db, 'INSERT INTO layers (chain_id, data) VALUES (?, ?) ON CONFLICT(chain_id) DO UPDATE SET data = excluded.data').run(record.chainId, JSON.stringify(record));
  }
  get(chainId: string): T | undefined {
    const row = statement(this.#db, 'SELECT data FROM layers WHERE chain_id = ?').get(chainId) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as T) : undefined;
  }
  list(): T[] {
    return (statement(this.#db, 'SELECT data FROM layers').all() as { data: string }[]).map((r) => JSON.parse(r.data) as T);
  }
  delete(chainId: string): void {
    statement(this.#db, 'DELETE FROM layers WHERE chain_id = ?').run(chainId);
  }
}
