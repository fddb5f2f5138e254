/**
 * PolicyService over the in-memory datastore: writes are all-or-nothing, conflicts use OpenFGA's
 * codes, revisions and the changelog follow the writes, and queries see every write at once.
 */
import { describe, it, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { isTenetError, type TenetErrorCode } from "../../src/errors.js";
import { MAX_TUPLES_PER_WRITE, PolicyService } from "../../src/policy/service.js";
import type { TupleKey } from "../../src/policy/tuples/tuple.js";
import { MemoryDatastore } from "../../src/storage/memory/memory-datastore.js";

const MODEL = `model
  schema 1.1
type user
type group
  relations
    define member: [user, group#member]
type doc
  relations
    define owner: [user]
    define viewer: [user, user:*, group#member, user with in_hours] or owner
    define blocked: [user]
    define can_view: viewer but not blocked
condition in_hours(hour: int) {
  hour >= 9 && hour < 17
}
`;

const T = (object: string, relation: string, user: string, condition?: TupleKey["condition"]): TupleKey =>
  condition === undefined ? { object, relation, user } : { object, relation, user, condition };

async function rejectsWith(p: Promise<unknown> | (() => Promise<unknown>), code: TenetErrorCode, openfgaCode?: number): Promise<void> {
  await assert.rejects(typeof p === "function" ? p : () => p, (err: unknown) => {
    assert.ok(isTenetError(err), `expected TenetError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (openfgaCode !== undefined) assert.equal(err.openfgaCode, openfgaCode);
    assert.ok(err.status >= 400 && err.status < 500, `status ${err.status}`);
    return true;
  });
}

let ds: MemoryDatastore;
let svc: PolicyService;
let store: string;

async function snapshot(): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await svc.read(store, {}, token === undefined ? { pageSize: 100 } : { pageSize: 100, continuationToken: token });
    for (const r of page.items) out.push(`${r.key.object}#${r.key.relation}@${r.key.user}${r.key.condition ? ` with ${r.key.condition.name}` : ""}`);
    token = page.continuationToken;
  } while (token);
  return out.sort();
}

async function allowed(object: string, relation: string, user: string, context?: Record<string, unknown>): Promise<boolean> {
  return (await svc.check(store, { object, relation, user, context })).allowed;
}

async function lastRevision(): Promise<number> {
  const changes = await svc.readChanges(store, 0);
  return changes.length === 0 ? 0 : changes[changes.length - 1]!.revision;
}

beforeEach(async () => {
  ds = new MemoryDatastore();
  svc = new PolicyService(ds);
  store = (await svc.createStore("test")).id;
  await svc.writeModel(store, MODEL);
});

describe("PolicyService.write: all or nothing", () => {
  it("a batch with one invalid tuple changes nothing", async () => {
    const rev = await svc.write(store, { writes: [T("doc:1", "viewer", "user:anne")] });
    const before = await snapshot();
    await rejectsWith(
      svc.write(store, {
        writes: [T("doc:2", "viewer", "user:bob"), T("doc:3", "owner", "user:*"), T("doc:4", "viewer", "user:carl")],
      }),
      "invalid_tuple",
      2027,
    );
    assert.deepEqual(await snapshot(), before);
    assert.equal(await allowed("doc:2", "viewer", "user:bob"), false);
    assert.equal(await allowed("doc:4", "viewer", "user:carl"), false);
    assert.equal(await allowed("doc:1", "viewer", "user:anne"), true);
    assert.deepEqual(await svc.readChanges(store, rev), []);
    // The next successful write takes the next revision: the failed one used none.
    assert.equal(await svc.write(store, { writes: [T("doc:5", "viewer", "user:dan")] }), rev + 1);
  });

  it("an invalid delete in a batch with valid writes changes nothing", async () => {
    await svc.write(store, { writes: [T("doc:1", "viewer", "user:anne")] });
    const before = await snapshot();
    const rev = await lastRevision();
    await rejectsWith(
      svc.write(store, { writes: [T("doc:2", "viewer", "user:bob")], deletes: [{ object: "doc:1", relation: "viewer" } as never] }),
      "invalid_tuple",
    );
    assert.deepEqual(await snapshot(), before);
    assert.equal(await lastRevision(), rev);
    assert.equal(await allowed("doc:2", "viewer", "user:bob"), false);
  });

  it("writing an existing tuple is write_conflict and the rest of the batch is not applied", async () => {
    await svc.write(store, { writes: [T("doc:1", "viewer", "user:anne")] });
    const rev = await lastRevision();
    await rejectsWith(
      svc.write(store, { writes: [T("doc:2", "viewer", "user:bob"), T("doc:1", "viewer", "user:anne")] }),
      "write_conflict",
      2017,
    );
    assert.equal(await allowed("doc:2", "viewer", "user:bob"), false);
    assert.equal(await lastRevision(), rev);
    assert.deepEqual(await snapshot(), ["doc:1#viewer@user:anne"]);
  });

  it("an existing tuple conflicts even when the new write carries a condition", async () => {
    await svc.write(store, { writes: [T("doc:1", "viewer", "user:anne")] });
    await rejectsWith(svc.write(store, { writes: [T("doc:1", "viewer", "user:anne", { name: "in_hours" })] }), "write_conflict");
    assert.equal(await allowed("doc:1", "viewer", "user:anne"), true);
  });

  it("deleting a missing tuple is cannot_delete_missing_tuple and the writes are not applied", async () => {
    await svc.write(store, { writes: [T("doc:1", "viewer", "user:anne")] });
    const rev = await lastRevision();
    await rejectsWith(
      svc.write(store, { writes: [T("doc:2", "viewer", "user:bob")], deletes: [T("doc:1", "viewer", "user:anne"), T("doc:9", "viewer", "user:zed")] }),
      "cannot_delete_missing_tuple",
      2017,
    );
    assert.equal(await allowed("doc:1", "viewer", "user:anne"), true, "the valid delete was not applied");
    assert.equal(await allowed("doc:2", "viewer", "user:bob"), false);
    assert.equal(await lastRevision(), rev);
  });

  it("the same tuple twice in one request is refused", async () => {
    await rejectsWith(svc.write(store, { writes: [T("doc:1", "viewer", "user:anne"), T("doc:1", "viewer", "user:anne")] }), "duplicate_tuple_in_write", 2004);
    await rejectsWith(
      svc.write(store, { writes: [T("doc:1", "viewer", "user:anne"), T("doc:1", "viewer", "user:anne", { name: "in_hours" })] }),
      "duplicate_tuple_in_write",
    );
    await svc.write(store, { writes: [T("doc:2", "viewer", "user:anne")] });
    await rejectsWith(
      svc.write(store, { writes: [T("doc:2", "viewer", "user:anne")], deletes: [T("doc:2", "viewer", "user:anne")] }),
      "duplicate_tuple_in_write",
    );
    await rejectsWith(svc.write(store, { deletes: [T("doc:2", "viewer", "user:anne"), T("doc:2", "viewer", "user:anne")] }), "duplicate_tuple_in_write");
    assert.deepEqual(await snapshot(), ["doc:2#viewer@user:anne"]);
  });

  it("more than 100 tuples in one request are refused; exactly 100 are accepted", async () => {
    assert.equal(MAX_TUPLES_PER_WRITE, 100);
    const many = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => T(`doc:${prefix}${i}`, "viewer", "user:anne"));
    await rejectsWith(svc.write(store, { writes: many(101, "a") }), "validation_error", 2000);
    await rejectsWith(svc.write(store, { writes: many(60, "b"), deletes: many(41, "c") }), "validation_error");
    assert.deepEqual(await snapshot(), []);
    await svc.write(store, { writes: many(100, "d") });
    assert.equal((await snapshot()).length, 100);
  });

  it("an empty request and non-array fields are refused", async () => {
    await rejectsWith(svc.write(store, {}), "validation_error");
    await rejectsWith(svc.write(store, { writes: [], deletes: [] }), "validation_error");
    await rejectsWith(svc.write(store, { writes: "doc:1#viewer@user:anne" as never }), "validation_error");
  });

  it("a null request is refused with a TenetError", async () => {
    await rejectsWith(() => svc.write(store, null as never), "validation_error");
  });

  it("a conditional tuple is stored with its condition and context", async () => {
    await svc.write(store, { writes: [T("doc:1", "viewer", "user:anne", { name: "in_hours", context: { hour: 10 } })] });
    const page = await svc.read(store, { object: "doc:1" });
    assert.equal(page.items.length, 1);
    assert.deepEqual(page.items[0]!.key, T("doc:1", "viewer", "user:anne", { name: "in_hours", context: { hour: 10 } }));
    assert.equal(await allowed("doc:1", "viewer", "user:anne"), true);
  });

  it("writes validate against the model named by modelId", async () => {
    const old = (await svc.getModel(store)).id;
    await svc.writeModel(store, MODEL.replace("define blocked: [user]", "define blocked: [user, user:*]"));
    await rejectsWith(svc.write(store, { writes: [T("doc:1", "blocked", "user:*")], modelId: old }), "invalid_tuple");
    await svc.write(store, { writes: [T("doc:1", "blocked", "user:*")] });
    await rejectsWith(svc.write(store, { writes: [T("doc:2", "viewer", "user:a")], modelId: "01HZZZZZZZZZZZZZZZZZZZZZZZ" }), "model_not_found", 2001);
  });

  it("a store without a model cannot take tuples", async () => {
    const empty = (await svc.createStore("empty")).id;
    await rejectsWith(svc.write(empty, { writes: [T("doc:1", "viewer", "user:anne")] }), "latest_model_not_found", 2020);
    await rejectsWith(svc.write("no-such-store", { writes: [T("doc:1", "viewer", "user:anne")] }), "store_not_found", 5002);
  });

  it("concurrent writes of the same tuple: exactly one succeeds", async () => {
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => svc.write(store, { writes: [T("doc:1", "viewer", "user:anne")] })));
    const ok = results.filter((r) => r.status === "fulfilled");
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    assert.equal(ok.length, 1);
    assert.equal(failed.length, 4);
    for (const f of failed) assert.ok(isTenetError(f.reason) && f.reason.code === "write_conflict");
    assert.deepEqual(await snapshot(), ["doc:1#viewer@user:anne"]);
  });
});

describe("PolicyService: revisions and the changelog", () => {
  it("revisions increase by one per write and readChanges returns writes and deletes in order", async () => {
    const r1 = await svc.write(store, { writes: [T("doc:1", "viewer", "user:anne"), T("doc:1", "owner", "user:bob")] });
    const r2 = await svc.write(store, { deletes: [T("doc:1", "viewer", "user:anne")] });
    const r3 = await svc.write(store, { writes: [T("group:g", "member", "user:carl")], deletes: [T("doc:1", "owner", "user:bob")] });
    assert.ok(r1 >= 1);
    assert.equal(r2, r1 + 1);
    assert.equal(r3, r2 + 1);

    const changes = await svc.readChanges(store, 0);
    assert.deepEqual(
      changes.map((c) => [c.revision, c.operation, `${c.key.object}#${c.key.relation}@${c.key.user}`]),
      [
        [r1, "write", "doc:1#viewer@user:anne"],
        [r1, "write", "doc:1#owner@user:bob"],
        [r2, "delete", "doc:1#viewer@user:anne"],
        // Within one write, deletes are applied before writes.
        [r3, "delete", "doc:1#owner@user:bob"],
        [r3, "write", "group:g#member@user:carl"],
      ],
    );
    for (const c of changes) assert.ok(!Number.isNaN(Date.parse(c.timestamp)));

    assert.deepEqual(
      (await svc.readChanges(store, r1)).map((c) => c.revision),
      [r2, r3, r3],
    );
    assert.deepEqual(await svc.readChanges(store, r3), []);
    assert.deepEqual(
      (await svc.readChanges(store, 0, { type: "group" })).map((c) => c.key.object),
      ["group:g"],
    );
    assert.equal((await svc.readChanges(store, 0, { limit: 2 })).length, 2);
  });

  it("a delete in the changelog carries the deleted tuple's condition", async () => {
    const cond = { name: "in_hours", context: { hour: 9 } };
    await svc.write(store, { writes: [T("doc:1", "viewer", "user:anne", cond)] });
    await svc.write(store, { deletes: [T("doc:1", "viewer", "user:anne")] });
    const changes = await svc.readChanges(store, 0);
    assert.equal(changes.length, 2);
    assert.equal(changes[1]!.operation, "delete");
    assert.deepEqual(changes[1]!.key.condition, cond);
  });

  it("stores have independent revisions and tuples", async () => {
    const other = (await svc.createStore("other")).id;
    await svc.writeModel(other, MODEL);
    const a = await svc.write(store, { writes: [T("doc:1", "viewer", "user:anne")] });
    const b = await svc.write(other, { writes: [T("doc:1", "viewer", "user:bob")] });
    assert.equal(a, b);
    assert.equal((await svc.check(other, { object: "doc:1", relation: "viewer", user: "user:anne" })).allowed, false);
    assert.equal((await svc.check(store, { object: "doc:1", relation: "viewer", user: "user:bob" })).allowed, false);
  });
});

describe("PolicyService: queries see writes immediately", () => {
  it("deletes take effect in check and listObjects at once", async () => {
    await svc.write(store, { writes: [T("doc:1", "viewer", "user:anne"), T("doc:2", "viewer", "group:eng#member"), T("group:eng", "member", "user:anne")] });
    assert.equal(await allowed("doc:1", "viewer", "user:anne"), true);
    assert.deepEqual((await svc.listObjects(store, { type: "doc", relation: "viewer", user: "user:anne" })).sort(), ["doc:1", "doc:2"]);

    await svc.write(store, { deletes: [T("doc:1", "viewer", "user:anne")] });
    assert.equal(await allowed("doc:1", "viewer", "user:anne"), false);
    assert.deepEqual(await svc.listObjects(store, { type: "doc", relation: "viewer", user: "user:anne" }), ["doc:2"]);

    await svc.write(store, { deletes: [T("group:eng", "member", "user:anne")] });
    assert.equal(await allowed("doc:2", "viewer", "user:anne"), false);
    assert.deepEqual(await svc.listObjects(store, { type: "doc", relation: "viewer", user: "user:anne" }), []);
    assert.deepEqual(await svc.listUsers(store, { object: "doc:2", relation: "viewer", userFilters: [{ type: "user" }] }), []);
  });

  it("a blocked write takes effect in a difference at once", async () => {
    await svc.write(store, { writes: [T("doc:1", "owner", "user:anne")] });
    assert.equal(await allowed("doc:1", "can_view", "user:anne"), true);
    await svc.write(store, { writes: [T("doc:1", "blocked", "user:anne")] });
    assert.equal(await allowed("doc:1", "can_view", "user:anne"), false);
    await svc.write(store, { deletes: [T("doc:1", "blocked", "user:anne")] });
    assert.equal(await allowed("doc:1", "can_view", "user:anne"), true);
  });

  it("a tuple re-written with a different condition uses the new one", async () => {
    await svc.write(store, { writes: [T("doc:1", "viewer", "user:anne", { name: "in_hours", context: { hour: 3 } })] });
    assert.equal(await allowed("doc:1", "viewer", "user:anne"), false);
    await svc.write(store, { deletes: [T("doc:1", "viewer", "user:anne")] });
    await svc.write(store, { writes: [T("doc:1", "viewer", "user:anne", { name: "in_hours", context: { hour: 10 } })] });
    assert.equal(await allowed("doc:1", "viewer", "user:anne"), true);
    await svc.write(store, { deletes: [T("doc:1", "viewer", "user:anne")] });
    await svc.write(store, { writes: [T("doc:1", "viewer", "user:anne")] });
    assert.equal(await allowed("doc:1", "viewer", "user:anne", { hour: 1 }), true);
  });

  it("a new service over the same datastore loads the stored tuples", async () => {
    await svc.write(store, { writes: [T("doc:1", "viewer", "user:anne"), T("doc:2", "viewer", "user:anne")] });
    await svc.write(store, { deletes: [T("doc:2", "viewer", "user:anne")] });
    const fresh = new PolicyService(ds);
    assert.equal((await fresh.check(store, { object: "doc:1", relation: "viewer", user: "user:anne" })).allowed, true);
    assert.equal((await fresh.check(store, { object: "doc:2", relation: "viewer", user: "user:anne" })).allowed, false);
    const rev = await fresh.write(store, { writes: [T("doc:3", "viewer", "user:anne")] });
    assert.equal(rev, 3);
  });

  it("queries use the model named by modelId", async () => {
    const v1 = (await svc.getModel(store)).id;
    await svc.writeModel(store, MODEL.replace("define viewer: [user, user:*, group#member, user with in_hours] or owner", "define viewer: [user, user:*, group#member, user with in_hours]"));
    await svc.write(store, { writes: [T("doc:1", "owner", "user:anne")] });
    assert.equal((await svc.check(store, { object: "doc:1", relation: "viewer", user: "user:anne", modelId: v1 })).allowed, true);
    assert.equal((await svc.check(store, { object: "doc:1", relation: "viewer", user: "user:anne" })).allowed, false);
  });

  it("queries on a deleted store fail with store_not_found", async () => {
    await svc.write(store, { writes: [T("doc:1", "viewer", "user:anne")] });
    await svc.deleteStore(store);
    await rejectsWith(svc.check(store, { object: "doc:1", relation: "viewer", user: "user:anne" }), "store_not_found", 5002);
    await rejectsWith(svc.deleteStore(store), "store_not_found");
  });
});

describe("PolicyService: models and stores", () => {
  it("an invalid model is refused and the latest model stays", async () => {
    const before = (await svc.getModel(store)).id;
    await rejectsWith(svc.writeModel(store, "model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define viewer: [team]\n"), "invalid_model");
    await rejectsWith(svc.writeModel(store, "model\n  schema 1.1\ntype doc\n  relations\n    define viewer [user]\n"), "invalid_dsl");
    assert.equal((await svc.getModel(store)).id, before);
    assert.equal((await svc.listModels(store)).items.length, 1);
  });

  it("getModel without a model, with an unknown id", async () => {
    const empty = (await svc.createStore("empty")).id;
    await rejectsWith(svc.getModel(empty), "latest_model_not_found", 2020);
    await rejectsWith(svc.getModel(store, "nope"), "model_not_found");
  });

  it("store names must be 1 to 64 characters", async () => {
    await rejectsWith(async () => svc.createStore(""), "validation_error");
    await rejectsWith(async () => svc.createStore("x".repeat(65)), "validation_error");
    assert.equal((await svc.createStore("x".repeat(64))).name, "x".repeat(64));
  });

  it("createStore reports a bad name as a rejected promise, not a synchronous throw", async () => {
    let sync: unknown = null;
    let p: Promise<unknown> | undefined;
    try {
      p = svc.createStore("");
    } catch (err) {
      sync = err;
    }
    assert.equal(sync, null, "createStore threw synchronously instead of returning a rejected promise");
    await rejectsWith(p!, "validation_error");
  });
});
