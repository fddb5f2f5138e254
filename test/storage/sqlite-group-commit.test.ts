/**
 * Group commit of SQLite document writes: writes of one event-loop turn share a transaction; each
 * resolves only once durable (another connection sees it); other writes commit the group first;
 * a conflict or a failing statement leaves the rest of the group intact.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { DocumentConflict } from "../../src/storage/interfaces.js";
import { SqliteDatastore } from "../../src/storage/sqlite/sqlite-datastore.js";

describe("SQLite group commit of documents", () => {
  let dir: string;
  let ds: SqliteDatastore;
  let other: Database.Database;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tenet-gc-"));
    ds = await SqliteDatastore.open(join(dir, "tenet.db"));
    other = new Database(join(dir, "tenet.db"), { readonly: true });
  });
  after(async () => {
    other.close();
    await ds.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const visibleElsewhere = (id: string) => other.prepare("SELECT count(*) AS n FROM documents WHERE collection = 'gc' AND id = ?").get(id) as { n: number };

  it("resolves each write only after its group committed, visible to another connection", async () => {
    const writes = Array.from({ length: 50 }, (_, i) => ds.putDocument("gc", `doc-${i}`, { i }, 0));
    // Not yet committed: another connection does not see them.
    assert.equal(visibleElsewhere("doc-0").n, 0);
    assert.deepEqual(await Promise.all(writes), Array(50).fill(1));
    for (let i = 0; i < 50; i++) assert.equal(visibleElsewhere(`doc-${i}`).n, 1);
  });

  it("a conflict in the group fails alone", async () => {
    const [a, b, c] = await Promise.allSettled([ds.putDocument("gc", "x", { v: 1 }, 0), ds.putDocument("gc", "x", { v: 2 }, 0), ds.putDocument("gc", "y", { v: 1 }, 0)]);
    assert.equal(a.status, "fulfilled");
    assert.ok(b.status === "rejected" && b.reason instanceof DocumentConflict);
    assert.equal(c.status, "fulfilled");
    assert.deepEqual((await ds.getDocument("gc", "x"))?.body, { v: 1 });
    assert.equal(visibleElsewhere("y").n, 1);
  });

  it("a write of another kind commits the open group first", async () => {
    const pending = ds.putDocument("gc", "before-store", {}, 0);
    const store = await ds.createStore("s");
    assert.equal(visibleElsewhere("before-store").n, 1, "committed before the store write");
    await pending;
    assert.ok(await ds.getStore(store.id));
  });

  it("deletes are group-committed too, and report once", async () => {
    await ds.putDocument("gc", "del", {}, 0);
    const [a, b] = await Promise.all([ds.deleteDocument("gc", "del"), ds.deleteDocument("gc", "del")]);
    assert.deepEqual([a, b].sort(), [false, true]);
    assert.equal(visibleElsewhere("del").n, 0);
  });

  it("close commits what is pending", async () => {
    const file = join(dir, "close.db");
    const d2 = await SqliteDatastore.open(file);
    const p = d2.putDocument("gc", "last", { ok: true }, 0);
    await d2.close();
    await p;
    const check = new Database(file, { readonly: true });
    assert.equal((check.prepare("SELECT count(*) AS n FROM documents WHERE id = 'last'").get() as { n: number }).n, 1);
    check.close();
  });
});
