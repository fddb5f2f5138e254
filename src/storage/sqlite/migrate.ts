/**
 * SQLite schema migrations: the numbered plain SQL files in src/storage/migrations/sqlite
 * (`0001_init.sql`, `0002_....sql`), applied in order at open and recorded in
 * `schema_migrations`. The whole run is one `BEGIN IMMEDIATE` transaction, which takes the
 * database's write lock first: a second process opening the same file waits (busy_timeout),
 * then finds the migrations recorded and applies nothing. SQLite DDL is transactional, so a
 * failed migration leaves the file as it was.
 */
import type Sqlite from "better-sqlite3";
import { StorageError } from "../errors.js";
import { loadMigrations, type Migration } from "../migrations/files.js";

export type { Migration };

export function sqliteMigrations(): Migration[] {
  return loadMigrations("sqlite", "SQLite");
}

/** Applies the migrations the database lacks. Returns the versions applied by this call. */
export function migrateSqlite(db: Sqlite.Database, migrations: Migration[] = sqliteMigrations()): number[] {
  const known = new Set(migrations.map((m) => m.version));
  const applied: number[] = [];
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT",
    );
    const recorded = db.prepare("SELECT version FROM schema_migrations ORDER BY version").pluck().all() as number[];
    const unknown = recorded.filter((v) => !known.has(v));
    if (unknown.length > 0) {
      throw new StorageError(
        "schema_too_new",
        `the database schema is at version ${Math.max(...recorded)}, newer than this Tenet knows (${migrations.length}); ` +
          "it was upgraded by a newer Tenet: run that version, or restore a backup taken before the upgrade",
      );
    }
    const done = new Set(recorded);
    const record = db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      try {
        db.exec(m.sql);
      } catch (err) {
        throw new StorageError("migration_failed", `SQLite migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, { cause: err });
      }
      record.run(m.version, m.name, new Date().toISOString());
      applied.push(m.version);
    }
    db.exec("COMMIT");
    return applied;
  } catch (err) {
    if (db.inTransaction) db.exec("ROLLBACK");
    throw err;
  }
}
