/**
 * PostgreSQL for the audit benchmark: the server named by BENCH_PG_URL or TENET_TEST_DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/test), one fresh schema per run, dropped at the end
 * (as test/storage/pg-test-schema.ts does for the tests).
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

/** Why PostgreSQL cannot be used (unreachable, refused), or undefined. */
export async function pgUnavailable(): Promise<string | undefined> {
  try {
    await pgQuery("SELECT 1");
    return undefined;
  } catch (err) {
    return `${describePg()}: ${(err as Error).message}`;
  }
}

export async function createSchema(): Promise<string> {
  const name = `tenet_bench_audit_${randomBytes(6).toString("hex")}`;
  await pgQuery(`CREATE SCHEMA ${name}`);
  return name;
}

export async function dropSchema(name: string): Promise<void> {
  await pgQuery(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
}

/** Server settings that decide write throughput, for the report. */
export async function pgSettings(): Promise<Record<string, string>> {
  const r = await pgQuery("SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'synchronous_commit', 'fsync', 'wal_sync_method', 'shared_buffers', 'max_wal_size') ORDER BY name");
  return Object.fromEntries(r.rows.map((row: { name: string; setting: string }) => [row.name, row.setting]));
}

/** host:port/database, never a password. */
export function describePg(): string {
  try {
    const u = new URL(PG_URL);
    return `${u.hostname}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return "PostgreSQL";
  }
}
