/**
 * The SQLite adapter against the shared storage contract (a fresh file per test), plus what
 * only a file shows: data survives close and reopen, and openDatastore reports a data
 * directory it cannot use, or a file that is not a database, as a clear StorageError.
 * (Surviving kill -9 mid-write is test/storage/durability.test.ts.)
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import { StorageError } from "../../src/storage/errors.js";
import { openDatastore } from "../../src/storage/open.js";
import { SqliteDatastore } from "../../src/storage/sqlite/sqlite-datastore.js";
import { auditCheckpoint, auditRows, isAuditConflict } from "./audit-contract.js";
import { datastoreContract } from "./datastore-contract.js";

const root = mkdtempSync(join(tmpdir(), "tenet-sqlite-test-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshFile = (): string => join(root, `t${++n}.db`);

// A small allTuples batch, so the contract's stream test crosses batch boundaries.
datastoreContract("sqlite", () => SqliteDatastore.open(freshFile(), { allTuplesBatchSize: 500 }));

const isStorageError = (code: string) => (err: unknown) => {
  assert.ok(err instanceof StorageError, `expected a StorageError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return true;
};

describe("sqlite adapter", () => {
  test("keeps everything across close and reopen", async () => {
    const file = freshFile();
    const a = SqliteDatastore.open(file);
    const s = await a.createStore("durable");
    const m = await a.writeModel(s.id, { schema_version: "1.1", type_definitions: [{ type: "user" }] });
    await a.writeTuples(s.id, [], [{ object: "doc:1", relation: "viewer", user: "user:a", condition: { name: "c", context: { x: [1] } } }]);
    await a.writeTuples(s.id, [], [{ object: "doc:2", relation: "viewer", user: "user:a" }]);
    const assertions = [{ tuple_key: { object: "doc:1", relation: "viewer", user: "user:a" }, expectation: true }];
    await a.writeAssertions(s.id, m.id, assertions);
    const key = { id: "00000000000000a1", name: "k", secretHash: "ab".repeat(32), scopes: ["read" as const], stores: [s.id], createdAt: "2024-01-01T00:00:00.000Z", rateLimit: 5 };
    await a.createApiKey(key);
    await a.createApiKey({ ...key, id: "00000000000000b2" });
    await a.revokeApiKey("00000000000000b2", "2024-02-01T00:00:00.000Z");
    await a.close();
    const b = SqliteDatastore.open(file);
    try {
      assert.deepEqual(b.migrationsApplied, []);
      assert.deepEqual(await b.getStore(s.id), s);
      assert.deepEqual(await b.latestModel(s.id), m);
      assert.equal(await b.revision(s.id), 2);
      assert.equal((await b.readTuples(s.id, {})).items.length, 2);
      assert.equal((await b.readChanges(s.id, 0)).length, 2);
      assert.deepEqual(await b.readAssertions(s.id, m.id), assertions);
      assert.deepEqual(await b.listApiKeys(), [key, { ...key, id: "00000000000000b2", revokedAt: "2024-02-01T00:00:00.000Z" }]);
      assert.equal(await b.writeTuples(s.id, [], [{ object: "doc:3", relation: "viewer", user: "user:a" }]), 3);
    } finally {
      await b.close();
    }
  });

  test("deleting a store leaves no rows of it behind", async () => {
    const file = freshFile();
    const ds = SqliteDatastore.open(file);
    const s = await ds.createStore("s");
    const m = await ds.writeModel(s.id, { schema_version: "1.1", type_definitions: [{ type: "user" }] });
    await ds.writeAssertions(s.id, m.id, [{ tuple_key: { object: "doc:1", relation: "viewer", user: "user:a" }, expectation: true }]);
    await ds.writeTuples(s.id, [], [{ object: "doc:1", relation: "viewer", user: "user:a" }]);
    assert.equal(await ds.deleteStore(s.id), true);
    await ds.close();
    const raw = new Database(file, { readonly: true });
    try {
      for (const table of ["models", "tuples", "changelog", "assertions"]) assert.equal(raw.prepare(`SELECT count(*) FROM ${table}`).pluck().get(), 0, table);
    } finally {
      raw.close();
    }
  });

  test("announces a write to subscribers before writeTuples resolves", async () => {
    const ds = SqliteDatastore.open(freshFile());
    try {
      const heard: [string, number][] = [];
      await ds.subscribe((storeId, revision) => heard.push([storeId, revision]));
      const s = await ds.createStore("s");
      assert.equal(await ds.writeTuples(s.id, [], [{ object: "doc:1", relation: "viewer", user: "user:a" }]), 1);
      assert.deepEqual(heard, [[s.id, 1]]);
    } finally {
      await ds.close();
    }
  });

  test("uses the WAL journal", async () => {
    const file = freshFile();
    await SqliteDatastore.open(file).close();
    const raw = new Database(file, { readonly: true });
    try {
      assert.equal(raw.pragma("journal_mode", { simple: true }), "wal");
    } finally {
      raw.close();
    }
  });
});

/** The adapter's own connection, to make it refuse writes as a full disk or a read-only file would. */
const connectionOf = (ds: SqliteDatastore): Database.Database => (ds as unknown as { db: Database.Database }).db;

describe("sqlite adapter: audit log", () => {
  test("two connections to one file append to one log: the second at a stale size is refused", async () => {
    const file = freshFile();
    const a = SqliteDatastore.open(file);
    const b = SqliteDatastore.open(file);
    try {
      await a.appendAudit(auditRows(0, 10), auditCheckpoint(10));
      await assert.rejects(b.appendAudit(auditRows(0, 5, "b")), isAuditConflict(10, 0));
      assert.equal((await b.auditHead()).size, 10);
      await b.appendAudit(auditRows(10, 5, "b"));
      assert.deepEqual((await a.readAudit(8, 4)).map((r) => r.event), [...auditRows(8, 2), ...auditRows(10, 2, "b")].map((r) => r.event));
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("a database that refuses writes (read-only) makes appends reject, and stores nothing", async () => {
    const ds = SqliteDatastore.open(freshFile());
    try {
      await ds.appendAudit(auditRows(0, 3));
      connectionOf(ds).pragma("query_only = ON");
      await assert.rejects(ds.appendAudit(auditRows(3, 3), auditCheckpoint(6)), isStorageError("not_writable"));
      await assert.rejects(ds.putAuditCheckpoint(auditCheckpoint(3)), isStorageError("not_writable"));
      await assert.rejects(ds.pruneAudit({ size: 3, subtrees: [], checkpoint: auditCheckpoint(3), time: "2024-01-02T00:00:00.000Z" }), isStorageError("not_writable"));
      // Reads still work, and show nothing of the refused writes.
      assert.deepEqual(await ds.auditHead(), { size: 3, checkpoint: undefined, pruned: undefined });
      connectionOf(ds).pragma("query_only = OFF");
      await ds.appendAudit(auditRows(3, 3), auditCheckpoint(6));
      assert.equal((await ds.auditHead()).size, 6);
    } finally {
      await ds.close();
    }
  });

  test("a full disk makes appends reject, and stores nothing of the batch", async () => {
    const ds = SqliteDatastore.open(freshFile());
    try {
      await ds.appendAudit(auditRows(0, 3));
      const db = connectionOf(ds);
      // The file may not grow by a single page: as if the disk were full.
      const pages = db.pragma("page_count", { simple: true }) as number;
      db.pragma(`max_page_count = ${pages}`);
      await assert.rejects(ds.appendAudit(auditRows(3, 500), auditCheckpoint(503)), isStorageError("not_writable"));
      assert.deepEqual(await ds.auditHead(), { size: 3, checkpoint: undefined, pruned: undefined });
      db.pragma("max_page_count = 1073741823");
      await ds.appendAudit(auditRows(3, 500), auditCheckpoint(503));
      assert.equal((await ds.auditHead()).size, 503);
    } finally {
      await ds.close();
    }
  });
});

describe("openDatastore (SQLite)", () => {
  test("creates the data directory and tenet.db in it", async () => {
    const dir = join(root, "nested", "data", "dir");
    const ds = await openDatastore({ dataDir: dir });
    try {
      assert.equal(ds.kind, "sqlite");
      assert.equal(readFileSync(join(dir, "tenet.db")).subarray(0, 15).toString("latin1"), "SQLite format 3");
      assert.equal(statSync(dir).mode & 0o777, 0o700, "the data directory is owner-only");
      assert.equal(statSync(join(dir, "tenet.db")).mode & 0o777, 0o600, "the database file is owner-only");
    } finally {
      await ds.close();
    }
  });

  test("a data directory that cannot be created is not_writable", async () => {
    const file = join(root, "a-file");
    writeFileSync(file, "not a directory");
    await assert.rejects(openDatastore({ dataDir: file }), isStorageError("not_writable"));
    await assert.rejects(openDatastore({ dataDir: join(file, "below") }), isStorageError("not_writable"));
  });

  test("a tenet.db that cannot be opened is not_writable", async () => {
    const dir = join(root, "db-is-a-dir");
    mkdirSync(join(dir, "tenet.db"), { recursive: true });
    await assert.rejects(openDatastore({ dataDir: dir }), isStorageError("not_writable"));
  });

  test("a tenet.db that is not a database is corrupt, and is left as it was", async () => {
    const dir = join(root, "corrupt");
    mkdirSync(dir);
    const garbage = Buffer.from("this is not a database, but it is long enough to have a header ".repeat(40));
    writeFileSync(join(dir, "tenet.db"), garbage);
    await assert.rejects(openDatastore({ dataDir: dir }), isStorageError("corrupt"));
    assert.deepEqual(readFileSync(join(dir, "tenet.db")), garbage);
  });

  test("a database URL that is not PostgreSQL is refused without echoing it", async () => {
    const err = await openDatastore({ databaseUrl: "mysql://root:hunter2@db/tenet", dataDir: root }).then(
      () => assert.fail("opened an unsupported URL"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof StorageError);
    assert.match(err.message, /'mysql'/);
    assert.doesNotMatch(err.message, /hunter2/);
  });
});
