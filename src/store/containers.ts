import { statement, type Db } from './db.js';

/** Persists container records (engine/ owns their shape; the store keeps them as JSON). */
export class ContainerTable<T extends { id: string; name: string }> {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }
  put(record: T): void {
    statement(this.#db, 'INSERT INTO containers (id, name, data) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, data = excluded.data')
      .run(record.id, record.name, JSON.stringify(record));
  }
  get(id: string): T | undefined {
    const row = statement(this.#db, 'SELECT data FROM containers WHERE id = ?').get(id) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as T) : undefined;
  }
  list(): T[] {
    return (statement(this.#db, 'SELECT data FROM containers').all() as { data: string }[]).map((r) => JSON.parse(r.data) as T);
  }
  delete(id: string): void {
    statement(this.#db, 'DELETE FROM containers WHERE id = ?').run(id);
  }
}
