/**
 * PostgreSQL test databases: every run works in its own fresh schema (`tenet_test_<random>`),
 * reached through the connection's search_path, and drops it afterwards, so parallel runs and
 * other test files never see each other's tables. Tests need TENET_TEST_DATABASE_URL; without
 * it they are skipped with this message.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export const PG_URL = process.env.TENET_TEST_DATABASE_URL || undefined;
export const PG_SKIP = PG_URL ? undefined : "TENET_TEST_DATABASE_URL not set";

function requireUrl(): string {
  if (!PG_URL) throw new Error("TENET_TEST_DATABASE_URL not set");
  return PG_URL;
}

/** Runs one statement as the test database's owner, on a short-lived connection. */
export async function adminQuery(sql: string, values: unknown[] = [], schema?: string): Promise<pg.QueryResult> {
  const client = new pg.Client(schema ? { connectionString: requireUrl(), options: `-c search_path=${schema}` } : { connectionString: requireUrl() });
  await client.connect();
  try {
    return await client.query(sql, values);
  } finally {
    await client.end();
  }
}

/** Creates a fresh, empty schema and returns its name. */
export async function createTestSchema(): Promise<string> {
  const name = `tenet_test_${randomBytes(8).toString("hex")}`;
  await adminQuery(`CREATE SCHEMA ${name}`);
  return name;
}

export async function dropTestSchema(name: string): Promise<void> {
  await adminQuery(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
}
