import type { Db } from './db.js';

/**
 * Persists volume records (volume/ owns their shape; the store keeps them as JSON). The table is
 * created here on first use, so volumes need no migration of the shared schema.
 */
export class VolumeTable<T extends { name: string }> {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
    db.exec('CREATE TABLE IF NOT EXISTS volumes (name TEXT PRIMARY KEY, data TEXT NOT NULL)');
  }
  put(record: T): void {
    this.#db.prepare('INSERT INTO volumes (name, data) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET data = excluded.data').run(record.name, JSON.stringify(record));
  }
  get(name: string): T | undefined {
    const row = this.#db.prepare('SELECT data FROM volumes WHERE name = ?').get(name) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as T) : undefined;
  }
  list(): T[] {
    return (this.#db.prepare('SELECT data FROM volumes').all() as { data: string }[]).map((r) => JSON.parse(r.data) as T);
  }
  delete(name: string): void {
    this.#db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
  }
}
