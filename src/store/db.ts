// The one wrapper around better-sqlite3 (STYLE.md: a third-party package is imported in one place).
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type Db = Database.Database;

const statements = new WeakMap<Db, Map<string, Database.Statement>>();

/**
 * The prepared statement for `sql` on `db`, compiled once per connection. better-sqlite3 has
 * no statement cache of its own, and compiling costs more than running a primary-key lookup
 * (a fully cached build does a dozen: ~0.5 ms). Statements are only used for run/get/all,
 * which finish before returning, so one statement can serve every caller; SQLite recompiles
 * a statement by itself when the schema changes under it.
 */
export function statement(db: Db, sql: string): Database.Statement {
  let cache = statements.get(db);
  if (!cache) statements.set(db, (cache = new Map()));
  let st = cache.get(sql);
  if (!st) cache.set(sql, (st = db.prepare(sql)));
  return st;
}

/** Opens (creating if needed) the state database in WAL mode and applies migrations. */
export function openDatabase(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

const MIGRATIONS: string[] = [
  // 1: the record kinds. Each row keeps the record as JSON; indexed columns are the ones
  // looked up by (ids, unique names, tags).
  `CREATE TABLE containers (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, data TEXT NOT NULL);
   CREATE TABLE images (id TEXT PRIMARY KEY, data TEXT NOT NULL);
   CREATE TABLE tags (ref TEXT PRIMARY KEY, image_id TEXT NOT NULL);
   CREATE INDEX tags_image ON tags(image_id);
   CREATE TABLE layers (chain_id TEXT PRIMARY KEY, data TEXT NOT NULL);
   CREATE TABLE execs (id TEXT PRIMARY KEY, container_id TEXT NOT NULL, data TEXT NOT NULL);`,
];

function migrate(db: Db): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
