/**
 * The PostgreSQL adapter against the shared storage contract, each test in a fresh schema, plus
 * what only a shared server shows: a second pool (another replica) sees committed writes and
 * hears of them through LISTEN/NOTIFY, also after its LISTEN connection was killed, while
 * replicas of other schemas hear nothing.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { changeChannel, parseChangePayload } from "../../src/storage/postgres/change-listener.js";
import { postgresMigrations } from "../../src/storage/postgres/migrate.js";
import { PostgresDatastore } from "../../src/storage/postgres/postgres-datastore.js";
import { StorageError } from "../../src/storage/errors.js";
import { openDatastore } from "../../src/storage/open.js";
import { changeRecorder, datastoreContract } from "./datastore-contract.js";
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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The backends LISTENing on a channel for a Tenet change feed. */
async function listeners(channel: string): Promise<number[]> {
  const r = await adminQuery("SELECT pid FROM pg_stat_activity WHERE application_name = 'tenet-listen' AND query = $1 ORDER BY pid", [`LISTEN "${channel}"`]);
  return r.rows.map((row) => row.pid as number);
}

async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

describe("postgres change feed channel and payload", () => {
  test("one channel per schema, a valid name of at most 63 bytes", () => {
    assert.equal(changeChannel("tenet_test_0123abcd"), "tenet_changes_tenet_test_0123abcd");
    assert.equal(changeChannel("public"), "tenet_changes_public");
    const odd = ["My-Schema", "my_schema_", "Ünïcödé", "x".repeat(63), `${"x".repeat(62)}y`];
    const channels = odd.map(changeChannel);
    for (const c of channels) {
      assert.match(c, /^tenet_changes_[a-z0-9_]+$/);
      assert.ok(Buffer.byteLength(c) <= 63, c);
    }
    assert.equal(new Set(channels).size, odd.length, "distinct schemas get distinct channels");
    assert.equal(changeChannel("My-Schema"), channels[0], "the same schema always gets the same channel");
  });

  test("payloads are `<storeId>:<revision>`; anything else is ignored", () => {
    assert.deepEqual(parseChangePayload("01ARZ3NDEKTSV4RRFFQ69G5FAV:42"), { storeId: "01ARZ3NDEKTSV4RRFFQ69G5FAV", revision: 42 });
    for (const bad of [undefined, "", "42", ":42", "s:", "s:-1", "s:1.5", "s:x", "s:99999999999999999999"]) assert.equal(parseChangePayload(bad), undefined, String(bad));
  });
});

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

  test("a write through one replica is announced to subscribers of every replica of the schema, and only those", async () => {
    const schema = await createTestSchema();
    const elsewhere = await createTestSchema();
    schemas.push(schema, elsewhere);
    const a = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
    const b = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
    const c = await PostgresDatastore.open({ connectionString: PG_URL!, schema: elsewhere });
    try {
      assert.equal(a.changeChannel, b.changeChannel);
      assert.notEqual(a.changeChannel, c.changeChannel);
      const onA = changeRecorder();
      const onB = changeRecorder();
      const onC = changeRecorder();
      await a.subscribe(onA.listener);
      await b.subscribe(onB.listener);
      await c.subscribe(onC.listener);
      const s = await a.createStore("shared");
      const other = await c.createStore("other schema");
      await a.writeTuples(s.id, [], [{ object: "doc:1", relation: "viewer", user: "user:a" }]);
      await b.writeTuples(s.id, [], [{ object: "doc:2", relation: "viewer", user: "user:a" }]);
      await assert.rejects(b.writeTuples(s.id, [], [{ object: "doc:2", relation: "viewer", user: "user:a" }]));
      await c.writeTuples(other.id, [], [{ object: "doc:1", relation: "viewer", user: "user:a" }]);
      await a.writeTuples(s.id, [{ object: "doc:1", relation: "viewer", user: "user:a" }], []);
      const expected: [string, number][] = [
        [s.id, 1],
        [s.id, 2],
        [s.id, 3],
      ];
      await onA.until(3);
      await onB.until(3);
      await onC.until(1);
      assert.deepEqual(onB.events, expected, "replica b hears of a's writes (and its own)");
      assert.deepEqual(onA.events, expected, "replica a hears of b's writes (and its own)");
      await sleep(100);
      assert.deepEqual(onC.events, [[other.id, 1]], "a replica of another schema hears only its own schema");
      assert.equal(onA.events.length + onB.events.length, 6, "nothing from the other schema");
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
    // close() ended the LISTEN connections.
    await waitFor("the LISTEN connections are closed", async () => (await listeners(a.changeChannel)).length === 0 && (await listeners(c.changeChannel)).length === 0);
  });

  test("a subscriber whose LISTEN connection is terminated reconnects and hears later writes", async () => {
    const schema = await createTestSchema();
    schemas.push(schema);
    const writer = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
    const replica = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
    try {
      const rec = changeRecorder();
      const unsubscribe = await replica.subscribe(rec.listener);
      const s = await writer.createStore("s");
      await writer.writeTuples(s.id, [], [{ object: "doc:0", relation: "viewer", user: "user:a" }]);
      await rec.until(1);
      for (let round = 1; round <= 2; round++) {
        const [pid, ...more] = await listeners(replica.changeChannel);
        assert.ok(pid !== undefined && more.length === 0, "one LISTEN connection");
        const killed = await adminQuery(
          "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND application_name = 'tenet-listen' AND pid = $1",
          [pid],
        );
        assert.equal(killed.rows[0]?.done, true);
        await waitFor("the subscriber has reconnected", async () => {
          const now = await listeners(replica.changeChannel);
          return now.length === 1 && now[0] !== pid;
        });
        const revision = await writer.writeTuples(s.id, [], [{ object: `doc:${round}`, relation: "viewer", user: "user:a" }]);
        await rec.until(round + 1);
        assert.deepEqual(rec.events[round], [s.id, revision]);
      }
      // The datastore itself is unaffected.
      assert.equal(await replica.revision(s.id), 3);
      await unsubscribe();
      await waitFor("unsubscribe closed the LISTEN connection", async () => (await listeners(replica.changeChannel)).length === 0);
      await writer.writeTuples(s.id, [], [{ object: "doc:9", relation: "viewer", user: "user:a" }]);
      await sleep(100);
      assert.equal(rec.events.length, 3, "nothing after unsubscribing");
    } finally {
      await Promise.all([writer.close(), replica.close()]);
    }
  });

  test("subscribing to a closed datastore is refused", async () => {
    const ds = await freshDatastore();
    await ds.close();
    await assert.rejects(ds.subscribe(() => undefined), (e: unknown) => e instanceof StorageError && e.code === "unavailable");
  });

  test("deleting a store leaves no rows of it behind, and API keys are stored as given", async () => {
    const schema = await createTestSchema();
    schemas.push(schema);
    const ds = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
    try {
      const s = await ds.createStore("s");
      const m = await ds.writeModel(s.id, { schema_version: "1.1", type_definitions: [{ type: "user" }] });
      await ds.writeAssertions(s.id, m.id, [{ tuple_key: { object: "doc:1", relation: "viewer", user: "user:a" }, expectation: true }]);
      await ds.writeTuples(s.id, [], [{ object: "doc:1", relation: "viewer", user: "user:a" }]);
      assert.equal(await ds.deleteStore(s.id), true);
      for (const table of ["models", "tuples", "changelog", "assertions"]) {
        assert.equal((await adminQuery(`SELECT count(*)::int AS n FROM ${table}`, [], schema)).rows[0]?.n, 0, table);
      }
      await ds.createApiKey({ id: "00000000000000a1", name: "k", secretHash: "ab".repeat(32), scopes: ["read"], stores: ["*"], createdAt: "2024-01-01T00:00:00.000Z", rateLimit: 0 });
      const row = (await adminQuery("SELECT * FROM api_keys", [], schema)).rows[0] as Record<string, unknown>;
      assert.equal(row.secret_hash, "ab".repeat(32));
      assert.equal(row.revoked_at, null);
    } finally {
      await ds.close();
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
      assert.deepEqual(
        (await adminQuery("SELECT version FROM schema_migrations ORDER BY version", [], schema)).rows.map((r) => r.version),
        postgresMigrations().map((m) => m.version),
      );
      assert.equal((ds as PostgresDatastore).changeChannel, `tenet_changes_${schema}`, "the change channel follows the URL's schema");
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
