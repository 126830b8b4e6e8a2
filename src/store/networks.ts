import { statement, type Db } from './db.js';

/**
 * Persists network records (network/ owns their shape; the store keeps them as JSON). The
 * table is created here rather than in db.ts's migrations so the network module can evolve
 * without renumbering other kinds' migrations.
 */
export class NetworkTable<T extends { id: string; name: string }> {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
    db.exec('CREATE TABLE IF NOT EXISTS networks (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, data TEXT NOT NULL)');
  }
  put(record: T): void {
    statement(this.#db, 'INSERT INTO networks (id, name, data) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, data = excluded.data')
      .run(record.id, record.name, JSON.stringify(record));
  }
  list(): T[] {
    return (statement(this.#db, 'SELECT data FROM networks').all() as { data: string }[]).map((r) => JSON.parse(r.data) as T);
  }
  delete(id: string): void {
    statement(this.#db, 'DELETE FROM networks WHERE id = ?').run(id);
  }
}
