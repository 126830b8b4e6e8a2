import { statement, type Db } from './db.js';

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
    statement(this.#db, 'INSERT INTO volumes (name, data) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET data = excluded.data').run(record.name, JSON.stringify(record));
  }
  get(name: string): T | undefined {
    const row = statement(this.#db, 'SELECT data FROM volumes WHERE name = ?').get(name) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as T) : undefined;
  }
  list(): T[] {
    return (statement(this.#db, 'SELECT data FROM volumes').all() as { data: string }[]).map((r) => JSON.parse(r.data) as T);
  }
  delete(name: string): void {
    statement(this.#db, 'DELETE FROM volumes WHERE name = ?').run(name);
  }
}
