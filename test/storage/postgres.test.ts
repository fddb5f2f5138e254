/**
 * The PostgreSQL adapter against the shared storage contract, each test in a fresh schema, plus
 * what only a shared server shows: a second pool (another replica) sees committed writes and
 * hears of them through LISTEN/NOTIFY, also after its LISTEN connection was killed, while
 * replicas of other schemas hear nothing.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import pg from "pg";
import { changeChannel, parseChangePayload } from "../../src/storage/postgres/change-listener.js";
import { postgresMigrations } from "../../src/storage/postgres/migrate.js";
import { PostgresDatastore } from "../../src/storage/postgres/postgres-datastore.js";
import { StorageError } from "../../src/storage/errors.js";
import { openDatastore } from "../../src/storage/open.js";
import { AuditConflict } from "../../src/storage/interfaces.js";
import { allAudit, auditCheckpoint, auditRow, auditRows, isAuditConflict, plainCheckpoint, plainRow } from "./audit-contract.js";
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

describe("postgres adapter: audit log", PG_SKIP ? { skip: PG_SKIP } : {}, () => {
  test("two replicas appending at the same seq at once: exactly one batch (and its checkpoint) is stored", async () => {
    const schema = await createTestSchema();
    schemas.push(schema);
    const a = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
    const b = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
    try {
      const winners: string[] = [];
      for (let size = 0; size < 1000; size += 50) {
        const results = await Promise.allSettled(
          (["a", "b"] as const).map((tag) => (tag === "a" ? a : b).appendAudit(auditRows(size, 50, tag), auditCheckpoint(size + 50, tag))),
        );
        const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [i === 0 ? "a" : "b"] : []));
        assert.equal(won.length, 1, `exactly one append at ${size} succeeds`);
        for (const r of results) if (r.status === "rejected") assert.ok(isAuditConflict(size + 50, size)(r.reason));
        winners.push(won[0]!);
      }
      const stored = await allAudit(b);
      assert.deepEqual(
        stored.map((r) => r.seq),
        Array.from({ length: 1000 }, (_, i) => i),
      );
      winners.forEach((tag, i) => {
        assert.deepEqual(stored.slice(i * 50, i * 50 + 50).map(plainRow), auditRows(i * 50, 50, tag).map(plainRow), `batch ${i} is all ${tag}'s`);
      });
      for (const [i, c] of (await a.listAuditCheckpoints(0, 100)).entries()) assert.deepEqual(plainCheckpoint(c), plainCheckpoint(auditCheckpoint((i + 1) * 50, winners[i])));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test("four replicas racing to append, each retrying at the new size: no gap, no entry twice", async () => {
    const schema = await createTestSchema();
    schemas.push(schema);
    const replicas = await Promise.all(Array.from({ length: 4 }, () => PostgresDatastore.open({ connectionString: PG_URL!, schema, poolSize: 2 })));
    try {
      await Promise.all(
        replicas.map(async (ds, r) => {
          for (let n = 0; n < 15; ) {
            const { size } = await ds.auditHead();
            try {
              await ds.appendAudit(auditRows(size, 7, `replica ${r} batch ${n}`));
              n++;
            } catch (err) {
              // Another replica appended first: read the new size and try again.
              assert.ok(err instanceof AuditConflict, String(err));
            }
          }
        }),
      );
      const stored = await allAudit(replicas[0]!);
      assert.deepEqual(
        stored.map((r) => r.seq),
        Array.from({ length: 4 * 15 * 7 }, (_, i) => i),
      );
      // Every batch landed whole: its 7 rows carry one tag.
      for (let i = 0; i < stored.length; i += 7) assert.equal(new Set(stored.slice(i, i + 7).map((r) => JSON.parse(r.event).tag)).size, 1);
      assert.equal((await replicas[3]!.auditHead()).size, 420);
    } finally {
      await Promise.all(replicas.map((ds) => ds.close()));
    }
  });

  test("rows inserted behind the log's back (without its lock) make a racing append an AuditConflict", async () => {
    const schema = await createTestSchema();
    schemas.push(schema);
    const ds = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
    const intruder = new pg.Client({ connectionString: PG_URL!, options: `-c search_path=${schema}` });
    await intruder.connect();
    try {
      await ds.appendAudit(auditRows(0, 5));
      const r = auditRow(5, "intruder");
      await intruder.query("BEGIN");
      await intruder.query(
        "INSERT INTO audit_entries (seq, time, type, class_uid, store_id, subject, resource, decision, policy, event, leaf_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        [r.seq, r.time, r.type, r.classUid, r.storeId, r.subject, r.resource, r.decision, r.policy, r.event, r.leafHash],
      );
      // The append reads size 5 (the intruder has not committed) and waits on the row's key.
      const append = ds.appendAudit(auditRows(5, 3), auditCheckpoint(8));
      await sleep(200);
      await intruder.query("COMMIT");
      await assert.rejects(append, isAuditConflict(6, 5));
      assert.deepEqual(
        (await allAudit(ds)).map((row) => row.seq),
        [0, 1, 2, 3, 4, 5],
      );
      assert.equal(await ds.getAuditCheckpoint(8), undefined);
    } finally {
      await intruder.end();
      await ds.close();
    }
  });

  test("a read-only transaction default (a standby, a read-only role) makes appends reject", async () => {
    const schema = await createTestSchema();
    schemas.push(schema);
    const ds = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
    const readOnly = new URL(PG_URL!);
    readOnly.searchParams.set("options", `-c search_path=${schema} -c default_transaction_read_only=on`);
    const ro = await PostgresDatastore.open({ connectionString: readOnly.toString() });
    try {
      await ds.appendAudit(auditRows(0, 2));
      await assert.rejects(ro.appendAudit(auditRows(2, 2)), (e: unknown) => e instanceof StorageError && e.code === "not_writable");
      await assert.rejects(ro.putAuditCheckpoint(auditCheckpoint(2)), (e: unknown) => e instanceof StorageError && e.code === "not_writable");
      assert.equal((await ro.auditHead()).size, 2);
    } finally {
      await Promise.all([ds.close(), ro.close()]);
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
