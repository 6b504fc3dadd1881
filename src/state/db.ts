/**
 * The embedded state store: one SQLite file in the state directory (created 0700, file 0600).
 * Token store, idempotency records and the hook inbox each keep their own tables in it, behind
 * their own small interfaces, so a Redis backend can replace any of them later.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export type StateDb = Database.Database;

/** Opens (or creates) `<dir>/state.sqlite`; `dir` undefined → an in-memory database. */
export function openStateDb(dir: string | undefined): StateDb {
  if (dir === undefined) return new Database(':memory:');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = join(dir, 'state.sqlite');
  const db = new Database(file);
  chmodSync(file, 0o600);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  return db;
}
