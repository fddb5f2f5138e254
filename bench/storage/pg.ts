/**
 * PostgreSQL for the storage benchmark: the server named by TENET_TEST_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/test, trust auth), one fresh schema per run, dropped at the
 * end. Spawned servers reach the schema through the URL's `options=-c search_path=<schema>`.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export const PG_URL = process.env.BENCH_PG_URL || process.env.TENET_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";

/** Runs one statement on a short-lived connection. */
export async function pgQuery(sql: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await client.query(sql, values);
  } finally {
    await client.end();
  }
}

/** Why PostgreSQL cannot be used (unreachable, no privilege to create a schema), or undefined. */
export async function pgUnavailable(): Promise<string | undefined> {
  try {
    await pgQuery("SELECT 1");
    return undefined;
  } catch (err) {
    return `${describe(PG_URL)}: ${(err as Error).message}`;
  }
}

export async function createSchema(): Promise<string> {
  const name = `tenet_bench_${randomBytes(6).toString("hex")}`;
  await pgQuery(`CREATE SCHEMA ${name}`);
  return name;
}

export async function dropSchema(name: string): Promise<void> {
  await pgQuery(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
}

/** The URL with the schema as its search_path (for `tenet serve` via TENET_DATABASE_URL). */
export function urlWithSchema(schema: string): string {
  const sep = PG_URL.includes("?") ? "&" : "?";
  return `${PG_URL}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

/** Server settings that decide write throughput, for the report. */
export async function pgSettings(): Promise<Record<string, string>> {
  const r = await pgQuery(
    "SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'synchronous_commit', 'fsync', 'wal_sync_method', 'shared_buffers', 'max_wal_size') ORDER BY name",
  );
  return Object.fromEntries(r.rows.map((row: { name: string; setting: string }) => [row.name, row.setting]));
}

/** host:port/database, never a password. */
export function describe(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return "PostgreSQL";
  }
}
