/**
 * SQLite migrations: applied to an empty file, idempotent on reopen, applied exactly once when
 * several processes open a new file at the same moment, atomic when one fails, and refused
 * without touching anything when the file records a version this build does not know.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import { StorageError } from "../../src/storage/errors.js";
import { migrateSqlite, sqliteMigrations } from "../../src/storage/sqlite/migrate.js";
import { SqliteDatastore } from "../../src/storage/sqlite/sqlite-datastore.js";
import { auditCheckpoint, auditRows } from "./audit-contract.js";

const root = mkdtempSync(join(tmpdir(), "tenet-sqlite-migrations-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshFile = (): string => join(root, `m${++n}.db`);
const versions = sqliteMigrations().map((m) => m.version);

function inspect(file: string): { versions: number[]; schema: string[] } {
  const db = new Database(file, { readonly: true });
  try {
    return {
      versions: db.prepare("SELECT version FROM schema_migrations ORDER BY version").pluck().all() as number[],
      schema: db.prepare("SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master ORDER BY name").pluck().all() as string[],
    };
  } finally {
    db.close();
  }
}

describe("sqlite migrations", () => {
  test("the migration files are found (from dist/ too) and numbered 1, 2, 3, ...", () => {
    assert.ok(versions.length >= 1);
    assert.deepEqual(versions, versions.map((_, i) => i + 1));
  });

  test("apply to an empty database, then reopening applies nothing", async () => {
    const file = freshFile();
    const first = SqliteDatastore.open(file);
    assert.deepEqual(first.migrationsApplied, versions);
    const s = await first.createStore("kept");
    await first.close();
    const before = inspect(file);
    assert.deepEqual(before.versions, versions);
    for (const table of ["stores", "models", "tuples", "changelog", "assertions", "api_keys", "documents", "audit_entries", "audit_checkpoints", "audit_pruned", "schema_migrations"]) {
      assert.ok(before.schema.some((l) => l.startsWith(`table ${table}:`)), `table ${table} exists`);
    }
    for (let i = 0; i < 2; i++) {
      const again = SqliteDatastore.open(file);
      assert.deepEqual(again.migrationsApplied, []);
      assert.deepEqual((await again.getStore(s.id))?.name, "kept");
      await again.close();
    }
    assert.deepEqual(inspect(file), before);
  });

  test("a database at version 1 is upgraded in place: only the later migrations run, data kept", async () => {
    const file = freshFile();
    const db = new Database(file);
    try {
      assert.deepEqual(migrateSqlite(db, sqliteMigrations().slice(0, 1)), [1]);
      db.prepare("INSERT INTO stores (id, name, created_at, updated_at) VALUES ('01ARZ3NDEKTSV4RRFFQ69G5FAV', 'old', 'x', 'x')").run();
    } finally {
      db.close();
    }
    const ds = SqliteDatastore.open(file);
    try {
      assert.deepEqual(ds.migrationsApplied, versions.slice(1));
      assert.equal((await ds.getStore("01ARZ3NDEKTSV4RRFFQ69G5FAV"))?.name, "old");
      assert.deepEqual(await ds.readAssertions("01ARZ3NDEKTSV4RRFFQ69G5FAV", "m"), []);
      assert.deepEqual(await ds.listApiKeys(), []);
    } finally {
      await ds.close();
    }
    assert.deepEqual(inspect(file).versions, versions);
  });

  test("a database from before the audit log (version 3) gains it: data kept, the log starts empty", async () => {
    const file = freshFile();
    const db = new Database(file);
    try {
      assert.deepEqual(migrateSqlite(db, sqliteMigrations().slice(0, 3)), [1, 2, 3]);
      db.prepare("INSERT INTO stores (id, name, created_at, updated_at) VALUES ('01ARZ3NDEKTSV4RRFFQ69G5FAV', 'old', 'x', 'x')").run();
      db.prepare("INSERT INTO documents (collection, id, version, body, created_at, updated_at) VALUES ('c', 'd', 1, '{\"n\":1}', 'x', 'x')").run();
    } finally {
      db.close();
    }
    const ds = SqliteDatastore.open(file);
    try {
      assert.deepEqual(ds.migrationsApplied, [4, 5]);
      assert.equal((await ds.getStore("01ARZ3NDEKTSV4RRFFQ69G5FAV"))?.name, "old");
      assert.deepEqual((await ds.getDocument("c", "d"))?.body, { n: 1 });
      assert.deepEqual(await ds.auditHead(), { size: 0, checkpoint: undefined, pruned: undefined });
      await ds.appendAudit(auditRows(0, 3), auditCheckpoint(3));
      assert.equal((await ds.auditHead()).size, 3);
    } finally {
      await ds.close();
    }
  });

  test("an audit log written at version 4 keeps its entries and is searched through the block indexes of version 5", async () => {
    const file = freshFile();
    const db = new Database(file);
    try {
      assert.deepEqual(migrateSqlite(db, sqliteMigrations().slice(0, 4)), [1, 2, 3, 4]);
      const insert = db.prepare(
        "INSERT INTO audit_entries (seq, time, type, class_uid, store_id, subject, resource, decision, policy, event, leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      );
      db.transaction(() => {
        for (const r of auditRows(0, 5000)) insert.run(r.seq, r.time, r.type, r.classUid, r.storeId, r.subject, r.resource, r.decision, r.policy, r.event, r.leafHash);
      })();
    } finally {
      db.close();
    }
    const ds = SqliteDatastore.open(file);
    try {
      assert.deepEqual(ds.migrationsApplied, [5]);
      assert.equal((await ds.auditHead()).size, 5000);
      const found = await ds.queryAudit({ subject: "user:3", resource: "doc:1", order: "desc", limit: 3 });
      const expected = auditRows(0, 5000)
        .filter((r) => r.subject === "user:3" && r.resource === "doc:1")
        .map((r) => r.seq)
        .reverse()
        .slice(0, 3);
      assert.equal(expected.length, 3);
      assert.deepEqual(
        found.map((r) => r.seq),
        expected,
      );
    } finally {
      await ds.close();
    }
    const plan = new Database(file, { readonly: true });
    try {
      const detail = plan.prepare("EXPLAIN QUERY PLAN SELECT seq FROM audit_entries WHERE (seq >> 12) = 1 AND subject = 'user:4' ORDER BY seq").all() as { detail: string }[];
      assert.match(detail.map((d) => d.detail).join(" "), /audit_entries_by_subject/);
    } finally {
      plan.close();
    }
  });

  test("several processes opening a new file at once: all succeed, migrations applied once", async () => {
    const file = freshFile();
    const moduleUrl = new URL("../../src/storage/sqlite/sqlite-datastore.js", import.meta.url).href;
    const startAt = Date.now() + 400;
    const script = `
      import { SqliteDatastore } from ${JSON.stringify(moduleUrl)};
      while (Date.now() < ${startAt}) {}
      const ds = SqliteDatastore.open(${JSON.stringify(file)});
      await ds.createStore("from " + process.pid);
      console.log(JSON.stringify(ds.migrationsApplied));
      await ds.close();`;
    const runs = await Promise.all(
      Array.from({ length: 4 }, () =>
        new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
          const child = spawn(process.execPath, ["--input-type=module", "-e", script]);
          let out = "";
          let err = "";
          child.stdout.on("data", (c: Buffer) => (out += c.toString()));
          child.stderr.on("data", (c: Buffer) => (err += c.toString()));
          child.on("exit", (code) => resolve({ code, out, err }));
        }),
      ),
    );
    for (const r of runs) assert.equal(r.code, 0, r.err);
    const applied = runs.map((r) => JSON.parse(r.out) as number[]);
    assert.equal(applied.filter((a) => a.length > 0).length, 1, `exactly one process migrates: ${JSON.stringify(applied)}`);
    assert.deepEqual(applied.flat().sort(), versions);
    assert.deepEqual(inspect(file).versions, versions);
    const ds = SqliteDatastore.open(file);
    assert.equal((await ds.listStores()).items.length, 4);
    await ds.close();
  });

  test("a migration that fails leaves the database as it was", async () => {
    const file = freshFile();
    await SqliteDatastore.open(file).close();
    const before = inspect(file);
    const db = new Database(file);
    try {
      const broken = { version: versions.length + 1, name: "broken", sql: "CREATE TABLE half_done (a INTEGER); INSERT INTO no_such_table VALUES (1);" };
      assert.throws(
        () => migrateSqlite(db, [...sqliteMigrations(), broken]),
        (e: unknown) => e instanceof StorageError && e.code === "migration_failed" && /broken/.test(e.message),
      );
      assert.equal(db.inTransaction, false);
    } finally {
      db.close();
    }
    assert.deepEqual(inspect(file), before);
  });

  test("a database with a version this build does not know is refused as schema_too_new, untouched", async () => {
    const file = freshFile();
    const ds = SqliteDatastore.open(file);
    const s = await ds.createStore("precious");
    await ds.writeTuples(s.id, [], [{ object: "doc:1", relation: "viewer", user: "user:a" }]);
    await ds.close();
    const db = new Database(file);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', '2999-01-01T00:00:00.000Z')").run(versions.length + 1);
    db.close();
    const before = inspect(file);
    assert.throws(
      () => SqliteDatastore.open(file),
      (e: unknown) => e instanceof StorageError && e.code === "schema_too_new" && e.message.includes(String(versions.length + 1)),
    );
    assert.deepEqual(inspect(file), before);
    const raw = new Database(file, { readonly: true });
    try {
      assert.equal(raw.prepare("SELECT name FROM stores WHERE id = ?").pluck().get(s.id), "precious");
      assert.equal(raw.prepare("SELECT count(*) FROM tuples").pluck().get(), 1);
    } finally {
      raw.close();
    }
  });
});
