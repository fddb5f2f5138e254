/**
 * PostgreSQL schema migrations: the numbered plain SQL files in
 * src/storage/migrations/postgres (`0001_init.sql`, ...), applied in order at open, in the
 * schema first on the connection's search_path, and recorded in `schema_migrations`.
 *
 * The run is one transaction that first takes a transaction-scoped advisory lock (one key per
 * schema): when several replicas start at once, one migrates and the others wait, then find the
 * migrations recorded and apply nothing. PostgreSQL DDL is transactional, so a failed migration
 * leaves the schema as it was. A database already up to date is recognised without the lock.
 */
import type { Pool, PoolClient } from "pg";
import { StorageError } from "../errors.js";
import { loadMigrations, type Migration } from "../migrations/files.js";

export type { Migration };

/** First key of the advisory lock ("TENT"); the second is a hash of the schema name. */
const LOCK_CLASS = 0x54454e54;

export function postgresMigrations(): Migration[] {
  return loadMigrations("postgres", "PostgreSQL");
}

function tooNew(recorded: number[], migrations: Migration[]): StorageError {
  return new StorageError(
    "schema_too_new",
    `the database schema is at version ${Math.max(...recorded)}, newer than this Tenet knows (${migrations.length}); ` +
      "it was upgraded by a newer Tenet: run that version, or restore a backup taken before the upgrade",
  );
}

async function recordedVersions(c: PoolClient): Promise<number[] | undefined> {
  const exists = await c.query<{ present: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS present");
  if (!exists.rows[0]?.present) return undefined;
  const r = await c.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version");
  return r.rows.map((row) => row.version);
}

/** Applies the migrations the schema lacks. Returns the versions applied by this call. */
export async function migratePostgres(pool: Pool, migrations: Migration[] = postgresMigrations()): Promise<number[]> {
  const known = new Set(migrations.map((m) => m.version));
  const c = await pool.connect();
  let broken: Error | undefined;
  try {
    // Fast path, no lock: every known migration recorded and nothing unknown.
    const before = await recordedVersions(c);
    if (before) {
      if (before.some((v) => !known.has(v))) throw tooNew(before, migrations);
      if (migrations.every((m) => before.includes(m.version))) return [];
    }
    await c.query("BEGIN");
    try {
      await c.query("SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))", [LOCK_CLASS]);
      await c.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer NOT NULL PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
      );
      const recorded = (await recordedVersions(c)) ?? [];
      if (recorded.some((v) => !known.has(v))) throw tooNew(recorded, migrations);
      const applied: number[] = [];
      for (const m of migrations) {
        if (recorded.includes(m.version)) continue;
        try {
          await c.query(m.sql);
        } catch (err) {
          throw new StorageError("migration_failed", `PostgreSQL migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, { cause: err });
        }
        await c.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
        applied.push(m.version);
      }
      await c.query("COMMIT");
      return applied;
    } catch (err) {
      await c.query("ROLLBACK").catch((e: Error) => {
        broken = e;
      });
      throw err;
    }
  } finally {
    c.release(broken);
  }
}
