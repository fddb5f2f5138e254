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
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Pool, PoolClient } from "pg";
import { StorageError } from "../errors.js";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Where the SQL files are: beside this module when run from source, and in the source tree
 * when run from dist/ (tsc does not copy .sql files), so the .sql files stay the only copy.
 */
const LOCATIONS = ["../migrations/postgres/", "../../../../src/storage/migrations/postgres/"];
const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;
/** First key of the advisory lock ("TENT"); the second is a hash of the schema name. */
const LOCK_CLASS = 0x54454e54;

let cached: Migration[] | undefined;

export function postgresMigrations(): Migration[] {
  if (cached) return cached;
  const dir = LOCATIONS.map((l) => new URL(l, import.meta.url)).find((u) => existsSync(u));
  if (!dir) {
    throw new StorageError("migration_failed", `PostgreSQL migration files not found (looked in ${LOCATIONS.map((l) => fileURLToPath(new URL(l, import.meta.url))).join(", ")})`);
  }
  const migrations = readdirSync(dir)
    .map((f) => FILE.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ version: Number(m[1]), name: m[2]!, sql: readFileSync(new URL(m[0], dir), "utf8") }))
    .sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new StorageError("migration_failed", `PostgreSQL migrations must be numbered 1, 2, 3, ... without gaps; found ${m.version} at position ${i + 1}`);
  });
  cached = migrations;
  return migrations;
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
