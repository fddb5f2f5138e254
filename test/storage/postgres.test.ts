/**
 * The PostgreSQL adapter against the shared storage contract, each test in a fresh schema, plus
 * what only a shared server shows: a second pool (another replica) sees committed writes.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { PostgresDatastore } from "../../src/storage/postgres/postgres-datastore.js";
import { StorageError } from "../../src/storage/errors.js";
import { openDatastore } from "../../src/storage/open.js";
import { datastoreContract } from "./datastore-contract.js";
import { PG_SKIP, PG_URL, adminQuery, createTestSchema, dropTestSchema } from "./pg-test-schema.js";

const schemas: string[] = [];
after(async () => {
  for (const s of schemas) await dropTestSchema(s);
});

async function freshDatastore(): Promise<PostgresDatastore> {
  const schema = await createTestSchema();
  schemas.push(schema);
  // A small allTuples batch, so the contract's stream test crosses batch boundaries.
  return PostgresDatastore.open({ connectionString: PG_URL!, schema, allTuplesBatchSize: 500 });
}

datastoreContract("postgres", freshDatastore, { skip: PG_SKIP });

describe("postgres adapter", PG_SKIP ? { skip: PG_SKIP } : {}, () => {
  test("a second pool on the same schema (another replica) sees committed writes", async () => {
    const schema = await createTestSchema();
    schemas.push(schema);
    const a = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
    const b = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
    try {
      const s = await a.createStore("shared");
      await a.writeModel(s.id, { schema_version: "1.1", type_definitions: [{ type: "user" }] });
      await a.writeTuples(s.id, [], [{ object: "doc:1", relation: "viewer", user: "user:a" }]);
      assert.deepEqual(await b.getStore(s.id), s);
      assert.equal(await b.revision(s.id), 1);
      assert.equal((await b.readTuples(s.id, {})).items.length, 1);
      // Writers on both replicas share one gapless revision sequence.
      const revisions = await Promise.all([
        a.writeTuples(s.id, [], [{ object: "doc:2", relation: "viewer", user: "user:a" }]),
        b.writeTuples(s.id, [], [{ object: "doc:3", relation: "viewer", user: "user:a" }]),
        a.writeTuples(s.id, [], [{ object: "doc:4", relation: "viewer", user: "user:a" }]),
        b.writeTuples(s.id, [], [{ object: "doc:5", relation: "viewer", user: "user:a" }]),
      ]);
      assert.deepEqual(revisions.sort(), [2, 3, 4, 5]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("text PostgreSQL cannot store is a validation error, not a crash", async () => {
    const ds = await freshDatastore();
    try {
      const s = await ds.createStore("s");
      await assert.rejects(ds.writeTuples(s.id, [], [{ object: "doc:a\u0000b", relation: "viewer", user: "user:a" }]), (e: unknown) => (e as { code?: string }).code === "validation_error");
      assert.equal(await ds.revision(s.id), 0);
    } finally {
      await ds.close();
    }
  });

  test("openDatastore picks PostgreSQL for a postgres:// URL (search_path from the URL)", async () => {
    const schema = await createTestSchema();
    schemas.push(schema);
    const url = new URL(PG_URL!);
    url.searchParams.set("options", `-c search_path=${schema}`);
    const ds = await openDatastore({ databaseUrl: url.toString(), dataDir: "/nonexistent" });
    try {
      assert.equal(ds.kind, "postgres");
      assert.deepEqual((await adminQuery("SELECT version FROM schema_migrations", [], schema)).rows.map((r) => r.version), [1]);
    } finally {
      await ds.close();
    }
  });
});

test("an unreachable PostgreSQL is a StorageError 'unavailable' that does not reveal the password", async () => {
  const err = await openDatastore({ databaseUrl: "postgres://tenet:s3cret@127.0.0.1:1/tenet", dataDir: "/nonexistent" }).then(
    () => assert.fail("opened an unreachable database"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof StorageError, String(err));
  assert.equal(err.code, "unavailable");
  assert.match(err.message, /127\.0\.0\.1:1\/tenet/);
  assert.doesNotMatch(err.message, /s3cret/);
});
