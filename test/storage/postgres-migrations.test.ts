/**
 * PostgreSQL migrations, each test in a fresh schema: applied to an empty schema, idempotent on
 * reopen, applied exactly once when several replicas start at the same moment (advisory lock),
 * atomic when one fails, and refused without touching anything when the schema records a
 * version this build does not know.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import pg from "pg";
import { StorageError } from "../../src/storage/errors.js";
import { migratePostgres, postgresMigrations } from "../../src/storage/postgres/migrate.js";
import { PostgresDatastore } from "../../src/storage/postgres/postgres-datastore.js";
import { auditCheckpoint, auditRows } from "./audit-contract.js";
import { PG_SKIP, PG_URL, adminQuery, createTestSchema, dropTestSchema } from "./pg-test-schema.js";

const schemas: string[] = [];
after(async () => {
  for (const s of schemas) await dropTestSchema(s);
});
async function freshSchema(): Promise<string> {
  const s = await createTestSchema();
  schemas.push(s);
  return s;
}
const versions = postgresMigrations().map((m) => m.version);

async function inspect(schema: string): Promise<{ versions: number[]; tables: string[] }> {
  const v = await adminQuery("SELECT version FROM schema_migrations ORDER BY version", [], schema);
  const t = await adminQuery(
    "SELECT c.relname || ':' || c.relkind::text AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY 1",
    [schema],
  );
  return { versions: v.rows.map((r) => r.version as number), tables: t.rows.map((r) => r.rel as string) };
}

describe("postgres migrations", PG_SKIP ? { skip: PG_SKIP } : {}, () => {
  test("the migration files are found (from dist/ too) and numbered 1, 2, 3, ...", () => {
    assert.ok(versions.length >= 1);
    assert.deepEqual(versions, versions.map((_, i) => i + 1));
  });

  test("apply to an empty schema, then reopening applies nothing", async () => {
    const schema = await freshSchema();
    const first = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
    assert.deepEqual(first.migrationsApplied, versions);
    const s = await first.createStore("kept");
    await first.close();
    const before = await inspect(schema);
    assert.deepEqual(before.versions, versions);
    for (const table of ["stores", "models", "tuples", "changelog", "assertions", "api_keys", "documents", "audit_entries", "audit_checkpoints", "audit_pruned", "schema_migrations"]) assert.ok(before.tables.includes(`${table}:r`), `table ${table} exists`);
    for (let i = 0; i < 2; i++) {
      const again = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
      assert.deepEqual(again.migrationsApplied, []);
      assert.equal((await again.getStore(s.id))?.name, "kept");
      await again.close();
    }
    assert.deepEqual(await inspect(schema), before);
  });

  test("a schema at version 1 is upgraded in place: only the later migrations run, data kept", async () => {
    const schema = await freshSchema();
    const pool = new pg.Pool({ connectionString: PG_URL!, options: `-c search_path=${schema}`, max: 1 });
    try {
      assert.deepEqual(await migratePostgres(pool, postgresMigrations().slice(0, 1)), [1]);
    } finally {
      await pool.end();
    }
    await adminQuery("INSERT INTO stores (id, name, created_at, updated_at) VALUES ('01ARZ3NDEKTSV4RRFFQ69G5FAV', 'old', now(), now())", [], schema);
    const ds = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
    try {
      assert.deepEqual(ds.migrationsApplied, versions.slice(1));
      assert.equal((await ds.getStore("01ARZ3NDEKTSV4RRFFQ69G5FAV"))?.name, "old");
      assert.deepEqual(await ds.readAssertions("01ARZ3NDEKTSV4RRFFQ69G5FAV", "m"), []);
      assert.deepEqual(await ds.listApiKeys(), []);
    } finally {
      await ds.close();
    }
    assert.deepEqual((await inspect(schema)).versions, versions);
  });

  test("a schema from before the audit log (version 3) gains it: data kept, the log starts empty", async () => {
    const schema = await freshSchema();
    const pool = new pg.Pool({ connectionString: PG_URL!, options: `-c search_path=${schema}`, max: 1 });
    try {
      assert.deepEqual(await migratePostgres(pool, postgresMigrations().slice(0, 3)), [1, 2, 3]);
    } finally {
      await pool.end();
    }
    await adminQuery("INSERT INTO stores (id, name, created_at, updated_at) VALUES ('01ARZ3NDEKTSV4RRFFQ69G5FAV', 'old', now(), now())", [], schema);
    await adminQuery(`INSERT INTO documents (collection, id, version, body, created_at, updated_at) VALUES ('c', 'd', 1, '{"n":1}', 'x', 'x')`, [], schema);
    const ds = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
    try {
      assert.deepEqual(ds.migrationsApplied, [4]);
      assert.equal((await ds.getStore("01ARZ3NDEKTSV4RRFFQ69G5FAV"))?.name, "old");
      assert.deepEqual((await ds.getDocument("c", "d"))?.body, { n: 1 });
      assert.deepEqual(await ds.auditHead(), { size: 0, checkpoint: undefined, pruned: undefined });
      await ds.appendAudit(auditRows(0, 3), auditCheckpoint(3));
      assert.equal((await ds.auditHead()).size, 3);
    } finally {
      await ds.close();
    }
  });

  test("several replicas opening an empty schema at once: all succeed, migrations applied once", async () => {
    const schema = await freshSchema();
    const opened = await Promise.all(Array.from({ length: 5 }, () => PostgresDatastore.open({ connectionString: PG_URL!, schema })));
    try {
      const applied = opened.map((ds) => [...ds.migrationsApplied]);
      assert.equal(applied.filter((a) => a.length > 0).length, 1, `exactly one replica migrates: ${JSON.stringify(applied)}`);
      assert.deepEqual(applied.flat().sort(), versions);
      assert.deepEqual((await inspect(schema)).versions, versions);
    } finally {
      await Promise.all(opened.map((ds) => ds.close()));
    }
  });

  test("a migration that fails leaves the schema as it was", async () => {
    const schema = await freshSchema();
    await (await PostgresDatastore.open({ connectionString: PG_URL!, schema })).close();
    const before = await inspect(schema);
    const pool = new pg.Pool({ connectionString: PG_URL!, options: `-c search_path=${schema}`, max: 1 });
    try {
      const broken = { version: versions.length + 1, name: "broken", sql: "CREATE TABLE half_done (a integer); INSERT INTO no_such_table VALUES (1);" };
      await assert.rejects(
        migratePostgres(pool, [...postgresMigrations(), broken]),
        (e: unknown) => e instanceof StorageError && e.code === "migration_failed" && /broken/.test(e.message),
      );
    } finally {
      await pool.end();
    }
    assert.deepEqual(await inspect(schema), before);
  });

  test("a schema with a version this build does not know is refused as schema_too_new, untouched", async () => {
    const schema = await freshSchema();
    const ds = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
    const s = await ds.createStore("precious");
    await ds.writeTuples(s.id, [], [{ object: "doc:1", relation: "viewer", user: "user:a" }]);
    await ds.close();
    await adminQuery("INSERT INTO schema_migrations (version, name) VALUES ($1, 'from_the_future')", [versions.length + 1], schema);
    const before = await inspect(schema);
    await assert.rejects(
      PostgresDatastore.open({ connectionString: PG_URL!, schema }),
      (e: unknown) => e instanceof StorageError && e.code === "schema_too_new" && e.message.includes(String(versions.length + 1)),
    );
    assert.deepEqual(await inspect(schema), before);
    assert.equal((await adminQuery("SELECT name FROM stores WHERE id = $1", [s.id], schema)).rows[0]?.name, "precious");
    assert.equal((await adminQuery("SELECT count(*)::int AS n FROM tuples", [], schema)).rows[0]?.n, 1);
  });
});
