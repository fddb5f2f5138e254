/**
 * The storage contract as tests: every Datastore adapter (memory, SQLite, PostgreSQL) registers
 * this one suite with a factory and must pass all of it. Expectations follow the in-memory
 * reference adapter; where adapters may differ (the order of a tuple read), the tests compare
 * sets, never order.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { TenetError } from "../../src/errors.js";
import { type ApiKeyRecord, hashSecret } from "../../src/identity/api-keys/api-key.js";
import type { AuthorizationModel } from "../../src/policy/model/types.js";
import { tupleKeyString, type TupleKey, type TupleKeyWithoutCondition } from "../../src/policy/tuples/tuple.js";
import { type Assertion, type Datastore, type StoreRecord, type TupleFilter, type TupleRecord, TupleWriteConflict, DocumentConflict } from "../../src/storage/interfaces.js";
import { matchesFilter } from "../../src/storage/paging.js";
import { ULID_PATTERN } from "../../src/util/ulid.js";
import { auditContract } from "./audit-contract.js";

export interface ContractOptions {
  /** Skip the whole suite, with this message (e.g. no test database configured). */
  skip?: string | undefined;
}

export type DatastoreFactory = () => Datastore | Promise<Datastore>;

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const UNKNOWN_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

const tk = (object: string, relation: string, user: string, condition?: TupleKey["condition"]): TupleKey =>
  condition ? { object, relation, user, condition } : { object, relation, user };

const model = (types: string[]): AuthorizationModel =>
  ({
    schema_version: "1.1",
    type_definitions: [
      { type: "user" },
      ...types.map((type) => ({
        type,
        relations: { viewer: { this: {} } },
        metadata: { relations: { viewer: { directly_related_user_types: [{ type: "user", condition: "in_region" }] } } },
      })),
    ],
    conditions: {
      in_region: {
        name: "in_region",
        expression: "region in allowed",
        parameters: { region: { type_name: "TYPE_NAME_STRING" }, allowed: { type_name: "TYPE_NAME_LIST", generic_types: [{ type_name: "TYPE_NAME_STRING" }] } },
      },
    },
  }) as unknown as AuthorizationModel;

const isCode = (code: string) => (err: unknown) => err instanceof TenetError && err.code === code;
const isConflict = (reason: "exists" | "missing", key: TupleKeyWithoutCondition) => (err: unknown) => {
  assert.ok(err instanceof TupleWriteConflict, `expected TupleWriteConflict, got ${String(err)}`);
  assert.equal(err.reason, reason);
  assert.deepEqual({ object: err.key.object, relation: err.key.relation, user: err.key.user }, key);
  return true;
};

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Reads every page; asserts page sizes and that no tuple comes twice. */
async function readAll(ds: Datastore, storeId: string, filter: TupleFilter, pageSize: number): Promise<TupleRecord[]> {
  const out: TupleRecord[] = [];
  const seen = new Set<string>();
  let token: string | undefined;
  for (let pages = 0; ; pages++) {
    assert.ok(pages < 10_000, "pagination does not end");
    const page = await ds.readTuples(storeId, filter, token === undefined ? { pageSize } : { pageSize, continuationToken: token });
    assert.ok(page.items.length <= pageSize, `a page has ${page.items.length} items, more than ${pageSize}`);
    for (const r of page.items) {
      const k = tupleKeyString(r.key);
      assert.ok(!seen.has(k), `tuple ${k} returned twice`);
      seen.add(k);
      out.push(r);
    }
    if (page.continuationToken === undefined) return out;
    assert.ok(page.items.length > 0, "an empty page with a continuation token");
    token = page.continuationToken;
  }
}

/**
 * Records change notifications. PostgreSQL delivers them asynchronously (on another connection),
 * the embedded adapters synchronously: `until(n)` waits for the n-th either way.
 */
export function changeRecorder(): { events: [string, number][]; listener: (storeId: string, revision: number) => void; until: (n: number, timeoutMs?: number) => Promise<void> } {
  const events: [string, number][] = [];
  return {
    events,
    listener: (storeId, revision) => {
      events.push([storeId, revision]);
    },
    until: async (n, timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      while (events.length < n) {
        if (Date.now() > deadline) assert.fail(`expected ${n} change notifications within ${timeoutMs} ms, got ${JSON.stringify(events)}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  };
}

const apiKey = (id: string, createdAt: string, extra: Partial<ApiKeyRecord> = {}): ApiKeyRecord => ({
  id,
  name: `key ${id}`,
  secretHash: hashSecret(`the secret of ${id}`),
  scopes: ["check", "read"],
  stores: ["*"],
  createdAt,
  rateLimit: 0,
  ...extra,
});

/** Assertions using every field, nested contexts and conditional contextual tuples. */
const sampleAssertions = (): Assertion[] => [
  { tuple_key: { object: "doc:1", relation: "viewer", user: "user:a" }, expectation: true },
  {
    tuple_key: { object: "doc:2", relation: "viewer", user: "user:b" },
    expectation: false,
    contextual_tuples: [tk("doc:2", "viewer", "user:b", { name: "in_region", context: { region: "eu" } }), tk("doc:3", "viewer", "group:eng#member")],
    context: { region: "us", allowed: ["eu", "naïve ✓ 🙂"], n: 1.5, big: Number.MAX_SAFE_INTEGER, nested: { x: null, y: [true, false] }, zkey: 1, akey: 2 },
  },
];

const sortedKeys = (keys: TupleKey[]): TupleKey[] => [...keys].sort((a, b) => (tupleKeyString(a) < tupleKeyString(b) ? -1 : tupleKeyString(a) > tupleKeyString(b) ? 1 : 0));

export function datastoreContract(name: string, factory: DatastoreFactory, opts: ContractOptions = {}): void {
  describe(`${name}: datastore contract`, opts.skip !== undefined ? { skip: opts.skip } : {}, () => {
    const it = (title: string, fn: (ds: Datastore) => Promise<void>): void => {
      test(title, async () => {
        const ds = await factory();
        try {
          await fn(ds);
        } finally {
          await ds.close();
        }
      });
    };

    // ---- stores ----
    it("creates, gets and deletes a store", async (ds) => {
      const s = await ds.createStore("first store");
      assert.match(s.id, ULID_PATTERN);
      assert.equal(s.name, "first store");
      assert.match(s.createdAt, ISO);
      assert.equal(s.updatedAt, s.createdAt);
      assert.deepEqual(await ds.getStore(s.id), s);
      assert.equal(await ds.getStore(UNKNOWN_ID), undefined);
      assert.equal(await ds.deleteStore(s.id), true);
      assert.equal(await ds.getStore(s.id), undefined);
      assert.equal(await ds.deleteStore(s.id), false);
    });

    it("lists stores in pages, each store exactly once", async (ds) => {
      const created: StoreRecord[] = [];
      for (let i = 0; i < 5; i++) created.push(await ds.createStore(`store ${i}`));
      const seen: string[] = [];
      let token: string | undefined;
      do {
        const page = await ds.listStores(token === undefined ? { pageSize: 2 } : { pageSize: 2, continuationToken: token });
        assert.ok(page.items.length <= 2);
        seen.push(...page.items.map((s) => s.id));
        token = page.continuationToken;
      } while (token !== undefined);
      assert.deepEqual([...seen].sort(), created.map((s) => s.id).sort());
      const all = await ds.listStores();
      assert.equal(all.items.length, 5);
      assert.equal(all.continuationToken, undefined);
      assert.deepEqual(all.items.find((s) => s.id === created[3]!.id), created[3]);
    });

    it("rejects bad page sizes and continuation tokens with validation_error", async (ds) => {
      const s = await ds.createStore("s");
      await assert.rejects(ds.listStores({ pageSize: 0 }), isCode("validation_error"));
      await assert.rejects(ds.listStores({ pageSize: 101 }), isCode("validation_error"));
      await assert.rejects(ds.listStores({ pageSize: 1.5 }), isCode("validation_error"));
      await assert.rejects(ds.listStores({ continuationToken: "not a token!" }), isCode("validation_error"));
      await assert.rejects(ds.readTuples(s.id, {}, { continuationToken: "%%%" }), isCode("validation_error"));
      await assert.rejects(ds.listModels(s.id, { continuationToken: "-1" }), isCode("validation_error"));
      await assert.rejects(ds.readTuples(s.id, {}, { pageSize: 1000 }), isCode("validation_error"));
    });

    it("answers store_not_found for every operation on an unknown store", async (ds) => {
      const notFound = isCode("store_not_found");
      await assert.rejects(ds.writeModel(UNKNOWN_ID, model(["doc"])), notFound);
      await assert.rejects(ds.getModel(UNKNOWN_ID, UNKNOWN_ID), notFound);
      await assert.rejects(ds.latestModel(UNKNOWN_ID), notFound);
      await assert.rejects(ds.listModels(UNKNOWN_ID), notFound);
      await assert.rejects(ds.writeTuples(UNKNOWN_ID, [], [tk("doc:1", "viewer", "user:a")]), notFound);
      await assert.rejects(ds.readTuples(UNKNOWN_ID, {}), notFound);
      await assert.rejects(collect(ds.allTuples(UNKNOWN_ID)), notFound);
      await assert.rejects(ds.revision(UNKNOWN_ID), notFound);
      await assert.rejects(ds.readChanges(UNKNOWN_ID, 0), notFound);
      await assert.rejects(ds.writeAssertions(UNKNOWN_ID, UNKNOWN_ID, sampleAssertions()), notFound);
      await assert.rejects(ds.readAssertions(UNKNOWN_ID, UNKNOWN_ID), notFound);
    });

    it("deleting a store removes its models, tuples, changes and assertions, and only its own", async (ds) => {
      const doomed = await ds.createStore("doomed");
      const kept = await ds.createStore("kept");
      const models: string[] = [];
      for (const s of [doomed, kept]) {
        const m = await ds.writeModel(s.id, model(["doc"]));
        models.push(m.id);
        await ds.writeAssertions(s.id, m.id, sampleAssertions());
        await ds.writeTuples(s.id, [], [tk("doc:1", "viewer", "user:a"), tk("doc:2", "viewer", "user:b")]);
      }
      assert.equal(await ds.deleteStore(doomed.id), true);
      await assert.rejects(ds.latestModel(doomed.id), isCode("store_not_found"));
      await assert.rejects(ds.readAssertions(doomed.id, models[0]!), isCode("store_not_found"));
      await assert.rejects(ds.writeAssertions(doomed.id, models[0]!, []), isCode("store_not_found"));
      assert.deepEqual(await ds.readAssertions(kept.id, models[1]!), sampleAssertions());
      await assert.rejects(ds.readTuples(doomed.id, {}), isCode("store_not_found"));
      await assert.rejects(ds.readChanges(doomed.id, 0), isCode("store_not_found"));
      await assert.rejects(ds.writeTuples(doomed.id, [], [tk("doc:3", "viewer", "user:c")]), isCode("store_not_found"));
      assert.equal((await ds.readTuples(kept.id, {})).items.length, 2);
      assert.equal((await ds.readChanges(kept.id, 0)).length, 2);
      assert.ok(await ds.latestModel(kept.id));
      assert.equal(await ds.revision(kept.id), 1);
    });

    // ---- models ----
    it("stores models with ULID ids; the latest is the most recently written", async (ds) => {
      const s = await ds.createStore("models");
      assert.equal(await ds.latestModel(s.id), undefined);
      assert.deepEqual(await ds.listModels(s.id), { items: [] });
      const written = [];
      for (const types of [["doc"], ["doc", "folder"], ["doc", "folder", "team"]]) written.push(await ds.writeModel(s.id, model(types)));
      const [m1, m2, m3] = written as [(typeof written)[0], (typeof written)[0], (typeof written)[0]];
      for (const [i, m] of written.entries()) {
        assert.match(m.id, ULID_PATTERN);
        assert.equal(m.storeId, s.id);
        assert.match(m.createdAt, ISO);
        assert.deepEqual(m.model, model(i === 0 ? ["doc"] : i === 1 ? ["doc", "folder"] : ["doc", "folder", "team"]));
        assert.deepEqual(await ds.getModel(s.id, m.id), m);
      }
      assert.ok(m1.id < m2.id && m2.id < m3.id, "model ids sort by creation");
      assert.deepEqual(await ds.latestModel(s.id), m3);
      assert.equal(await ds.getModel(s.id, UNKNOWN_ID), undefined);
      const other = await ds.createStore("other");
      assert.equal(await ds.getModel(other.id, m1.id), undefined, "a model belongs to its store");

      const first = await ds.listModels(s.id, { pageSize: 2 });
      assert.deepEqual(first.items, [m3, m2]);
      assert.ok(first.continuationToken);
      const second = await ds.listModels(s.id, { pageSize: 2, continuationToken: first.continuationToken });
      assert.deepEqual(second, { items: [m1] });
    });

    // ---- tuples: writes, revisions, conflicts ----
    it("increments a per-store revision by one per write", async (ds) => {
      const a = await ds.createStore("a");
      const b = await ds.createStore("b");
      assert.equal(await ds.revision(a.id), 0);
      assert.equal(await ds.writeTuples(a.id, [], [tk("doc:1", "viewer", "user:a")]), 1);
      assert.equal(await ds.writeTuples(a.id, [], [tk("doc:2", "viewer", "user:a"), tk("doc:3", "viewer", "user:a")]), 2);
      assert.equal(await ds.writeTuples(b.id, [], [tk("doc:1", "viewer", "user:a")]), 1);
      assert.equal(await ds.writeTuples(a.id, [tk("doc:1", "viewer", "user:a")], []), 3);
      assert.equal(await ds.revision(a.id), 3);
      assert.equal(await ds.revision(b.id), 1);
    });

    it("refuses a write of an existing tuple and changes nothing", async (ds) => {
      const s = await ds.createStore("s");
      await ds.writeTuples(s.id, [], [tk("doc:1", "viewer", "user:a"), tk("doc:2", "viewer", "user:b")]);
      const before = { tuples: sortedKeys((await readAll(ds, s.id, {}, 100)).map((r) => r.key)), changes: await ds.readChanges(s.id, 0) };
      await assert.rejects(
        ds.writeTuples(s.id, [tk("doc:2", "viewer", "user:b")], [tk("doc:3", "viewer", "user:c"), tk("doc:1", "viewer", "user:a", { name: "c" })]),
        isConflict("exists", { object: "doc:1", relation: "viewer", user: "user:a" }),
      );
      assert.deepEqual(sortedKeys((await readAll(ds, s.id, {}, 100)).map((r) => r.key)), before.tuples);
      assert.deepEqual(await ds.readChanges(s.id, 0), before.changes);
      assert.equal(await ds.revision(s.id), 1);
      // The failed write left no trace: the next one gets the next revision.
      assert.equal(await ds.writeTuples(s.id, [], [tk("doc:3", "viewer", "user:c")]), 2);
    });

    it("refuses a delete of a missing tuple and changes nothing", async (ds) => {
      const s = await ds.createStore("s");
      await ds.writeTuples(s.id, [], [tk("doc:1", "viewer", "user:a"), tk("doc:2", "viewer", "user:b")]);
      await assert.rejects(
        ds.writeTuples(s.id, [tk("doc:1", "viewer", "user:a"), tk("doc:9", "viewer", "user:a")], [tk("doc:3", "viewer", "user:c")]),
        isConflict("missing", { object: "doc:9", relation: "viewer", user: "user:a" }),
      );
      // A delete must match object, relation and user exactly.
      await assert.rejects(ds.writeTuples(s.id, [tk("doc:1", "editor", "user:a")], []), isConflict("missing", { object: "doc:1", relation: "editor", user: "user:a" }));
      assert.deepEqual(sortedKeys((await readAll(ds, s.id, {}, 100)).map((r) => r.key)), [tk("doc:1", "viewer", "user:a"), tk("doc:2", "viewer", "user:b")]);
      assert.equal(await ds.revision(s.id), 1);
      assert.equal((await ds.readChanges(s.id, 0)).length, 2);
    });

    it("checks deletes before writes when both conflict", async (ds) => {
      const s = await ds.createStore("s");
      await ds.writeTuples(s.id, [], [tk("doc:1", "viewer", "user:a")]);
      await assert.rejects(
        ds.writeTuples(s.id, [tk("doc:9", "viewer", "user:a")], [tk("doc:1", "viewer", "user:a")]),
        isConflict("missing", { object: "doc:9", relation: "viewer", user: "user:a" }),
      );
    });

    it("replaces a tuple deleted and written in one call, logging both at one revision", async (ds) => {
      const s = await ds.createStore("s");
      await ds.writeTuples(s.id, [], [tk("doc:1", "viewer", "user:a", { name: "old", context: { n: 1 } })]);
      const rev = await ds.writeTuples(s.id, [tk("doc:1", "viewer", "user:a")], [tk("doc:1", "viewer", "user:a", { name: "new" })]);
      assert.equal(rev, 2);
      const [only, ...rest] = (await ds.readTuples(s.id, {})).items;
      assert.equal(rest.length, 0);
      assert.deepEqual(only?.key, tk("doc:1", "viewer", "user:a", { name: "new" }));
      assert.equal(only?.revision, 2);
      const changes = await ds.readChanges(s.id, 1);
      assert.deepEqual(
        changes.map((c) => [c.revision, c.operation, c.key]),
        [
          [2, "delete", tk("doc:1", "viewer", "user:a", { name: "old", context: { n: 1 } })],
          [2, "write", tk("doc:1", "viewer", "user:a", { name: "new" })],
        ],
      );
    });

    it("writes 100 tuples in one call atomically", async (ds) => {
      const s = await ds.createStore("s");
      const batch = Array.from({ length: 100 }, (_, i) => tk(`doc:${i}`, "viewer", `user:${i % 7}`));
      assert.equal(await ds.writeTuples(s.id, [], batch), 1);
      assert.equal((await readAll(ds, s.id, {}, 100)).length, 100);
      const again = [...batch.slice(0, 50).map((t) => tk(t.object, "editor", t.user)), batch[99]!];
      await assert.rejects(ds.writeTuples(s.id, [], again), isConflict("exists", { object: "doc:99", relation: "viewer", user: "user:1" }));
      assert.equal((await readAll(ds, s.id, { relation: "editor" }, 100)).length, 0);
      assert.equal(await ds.writeTuples(s.id, batch, []), 2);
      assert.equal((await ds.readTuples(s.id, {})).items.length, 0);
      assert.equal((await ds.readChanges(s.id, 0)).length, 200);
    });

    it("gives concurrent writes to one store distinct revisions without gaps", async (ds) => {
      const s = await ds.createStore("s");
      const writes = Array.from({ length: 20 }, (_, i) => ds.writeTuples(s.id, [], Array.from({ length: 5 }, (_, j) => tk(`doc:${i}-${j}`, "viewer", "user:a"))));
      const revisions = (await Promise.all(writes)).sort((a, b) => a - b);
      assert.deepEqual(revisions, Array.from({ length: 20 }, (_, i) => i + 1));
      assert.equal(await ds.revision(s.id), 20);
      const changes = await ds.readChanges(s.id, 0);
      assert.equal(changes.length, 100);
      for (let r = 1; r <= 20; r++) assert.equal(changes.filter((c) => c.revision === r).length, 5);
    });

    it("lets exactly one of several concurrent writes of the same tuple succeed", async (ds) => {
      const s = await ds.createStore("s");
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => ds.writeTuples(s.id, [], [tk("doc:1", "viewer", "user:a")])));
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
      for (const r of results) {
        if (r.status === "rejected") assert.ok(r.reason instanceof TupleWriteConflict && r.reason.reason === "exists", String(r.reason));
      }
      assert.equal(await ds.revision(s.id), 1);
    });

    it("keeps stores' tuples apart", async (ds) => {
      const a = await ds.createStore("a");
      const b = await ds.createStore("b");
      await ds.writeTuples(a.id, [], [tk("doc:1", "viewer", "user:a")]);
      await ds.writeTuples(b.id, [], [tk("doc:1", "viewer", "user:a"), tk("doc:2", "viewer", "user:a")]);
      assert.equal((await readAll(ds, a.id, {}, 10)).length, 1);
      assert.equal((await readAll(ds, b.id, { user: "user:a" }, 10)).length, 2);
      await ds.writeTuples(a.id, [tk("doc:1", "viewer", "user:a")], []);
      assert.equal((await readAll(ds, b.id, {}, 10)).length, 2);
    });

    // ---- conditions ----
    it("returns conditions and their contexts exactly as written", async (ds) => {
      const s = await ds.createStore("s");
      const context = {
        region: "eu-west-1",
        allowed: ["eu-west-1", "eu-central-1"],
        nested: { a: { b: [1, 2.5, -3, 1e21, 0.1] } },
        max_safe: Number.MAX_SAFE_INTEGER,
        yes: true,
        no: false,
        nothing: null,
        empty: "",
        text: "naïve ✓ 日本語 🙂 \"quoted\" \\ \n\t \u0000",
        zkey: 1,
        akey: 2,
      };
      const written = [
        tk("doc:1", "viewer", "user:a", { name: "in_region", context }),
        tk("doc:2", "viewer", "user:a", { name: "in_region" }),
        tk("doc:3", "viewer", "user:a", { name: "in_region", context: {} }),
        tk("doc:4", "viewer", "user:a"),
      ];
      await ds.writeTuples(s.id, [], written);
      const read = sortedKeys((await readAll(ds, s.id, {}, 100)).map((r) => r.key));
      assert.deepEqual(read, written);
      assert.deepEqual(Object.keys(read[0]!.condition!.context!), Object.keys(context), "context keys keep their order");
      assert.ok(!("context" in read[1]!.condition!), "a condition without context has no context key");
      assert.ok(!("condition" in read[3]!), "a tuple without condition has no condition key");
      assert.deepEqual(sortedKeys(await collect(ds.allTuples(s.id))), written);
      assert.deepEqual(sortedKeys((await ds.readChanges(s.id, 0)).map((c) => c.key)), written);
      await ds.writeTuples(s.id, [tk("doc:1", "viewer", "user:a")], []);
      const deleted = (await ds.readChanges(s.id, 1))[0];
      assert.deepEqual(deleted?.key, written[0], "a delete logs the condition the tuple had");
    });

    // ---- reads ----
    const dataset: TupleKey[] = [
      tk("doc:1", "viewer", "user:a"),
      tk("doc:1", "editor", "user:a"),
      tk("doc:1", "viewer", "user:b"),
      tk("doc:1", "viewer", "group:eng#member"),
      tk("doc:2", "viewer", "user:*"),
      tk("doc:2", "owner", "user:b", { name: "in_region", context: { region: "eu" } }),
      tk("document:1", "viewer", "user:a"),
      tk("docs:1", "viewer", "user:a"),
      tk("do:1", "viewer", "user:a"),
      tk("a_b:1", "viewer", "user:a"),
      tk("axb:1", "viewer", "user:a"),
      tk("a%b:1", "viewer", "user:a"),
      tk("doc:ünï-cödé", "viewer", "user:ü"),
      tk("doc:🙂", "viewer", "user:a"),
      tk("doc:'quoted'", "viewer", "user:a"),
      tk("group:eng", "member", "user:a"),
      tk("group:eng", "member", "group:ops#member"),
    ];
    const filters: TupleFilter[] = [
      {},
      { object: "doc:1" },
      { object: "doc:" },
      { object: "do:" },
      { object: "a_b:" },
      { object: "a%b:" },
      { object: "nothing:" },
      { relation: "viewer" },
      { user: "user:a" },
      { user: "group:eng#member" },
      { user: "user:*" },
      { object: "doc:", relation: "viewer" },
      { object: "doc:", user: "user:a" },
      { object: "doc:1", relation: "viewer" },
      { object: "doc:1", user: "user:a" },
      { relation: "viewer", user: "user:a" },
      { object: "doc:1", relation: "viewer", user: "user:a" },
      { object: "doc:1", relation: "viewer", user: "user:z" },
      { object: "doc:9" },
    ];

    it("reads tuples by object, `type:`, relation and user, in pages of any size", async (ds) => {
      const s = await ds.createStore("reads");
      await ds.writeTuples(s.id, [], dataset);
      for (const filter of filters) {
        const expected = sortedKeys(dataset.filter((t) => matchesFilter(t, filter)));
        for (const size of [1, 2, 3, 100]) {
          const got = sortedKeys((await readAll(ds, s.id, filter, size)).map((r) => r.key));
          assert.deepEqual(got, expected, `filter ${JSON.stringify(filter)}, page size ${size}`);
        }
      }
    });

    it("records the revision and time at which each tuple was written", async (ds) => {
      const s = await ds.createStore("s");
      await ds.writeTuples(s.id, [], [tk("doc:1", "viewer", "user:a")]);
      await ds.writeTuples(s.id, [], [tk("doc:2", "viewer", "user:a")]);
      const records = await readAll(ds, s.id, {}, 10);
      assert.deepEqual(records.map((r) => [r.key.object, r.revision]).sort(), [["doc:1", 1], ["doc:2", 2]]);
      for (const r of records) assert.match(r.timestamp, ISO);
    });

    it("pages through many tuples, each exactly once, while others are written", async (ds) => {
      const s = await ds.createStore("s");
      const all: TupleKey[] = [];
      for (let i = 0; i < 250; i++) all.push(tk(`doc:${i}`, i % 2 ? "viewer" : "editor", `user:${i % 13}`));
      for (let i = 0; i < all.length; i += 100) await ds.writeTuples(s.id, [], all.slice(i, i + 100));
      // A token stays valid while tuples elsewhere in the key space come and go.
      const first = await ds.readTuples(s.id, { object: "doc:" }, { pageSize: 100 });
      await ds.writeTuples(s.id, [], [tk("zzz:1", "viewer", "user:a")]);
      const rest = await readAll(ds, s.id, {}, 7);
      assert.equal(rest.length, 251);
      const second = await ds.readTuples(s.id, { object: "doc:" }, { pageSize: 100, continuationToken: first.continuationToken! });
      const third = await ds.readTuples(s.id, { object: "doc:" }, { pageSize: 100, continuationToken: second.continuationToken! });
      assert.equal(third.continuationToken, undefined);
      const keys = [...first.items, ...second.items, ...third.items].map((r) => tupleKeyString(r.key));
      assert.equal(new Set(keys).size, 250);
    });

    it("streams every tuple with allTuples, and survives a consumer that stops early", async (ds) => {
      const s = await ds.createStore("s");
      const all: TupleKey[] = [];
      for (let i = 0; i < 2345; i++) {
        all.push(i % 10 === 0 ? tk(`doc:${i}`, "viewer", `user:${i % 101}`, { name: "in_region", context: { i } }) : tk(`doc:${i}`, "viewer", `user:${i % 101}`));
      }
      for (let i = 0; i < all.length; i += 100) await ds.writeTuples(s.id, [], all.slice(i, i + 100));
      assert.deepEqual(sortedKeys(await collect(ds.allTuples(s.id))), sortedKeys(all));
      let n = 0;
      for await (const _ of ds.allTuples(s.id)) if (++n === 10) break;
      assert.equal(n, 10);
      // The datastore is still usable after an abandoned stream.
      assert.equal(await ds.writeTuples(s.id, [], [tk("doc:x", "viewer", "user:a")]), 25);
      const empty = await ds.createStore("empty");
      assert.deepEqual(await collect(ds.allTuples(empty.id)), []);
    });

    // ---- change log ----
    it("reads changes after a revision, oldest first, by object type and with a limit", async (ds) => {
      const s = await ds.createStore("s");
      await ds.writeTuples(s.id, [], [tk("doc:1", "viewer", "user:a"), tk("folder:1", "viewer", "user:a")]);
      await ds.writeTuples(s.id, [], [tk("doc:2", "viewer", "user:b"), tk("document:1", "viewer", "user:b")]);
      await ds.writeTuples(s.id, [tk("doc:1", "viewer", "user:a")], [tk("folder:2", "viewer", "user:c")]);
      const all = await ds.readChanges(s.id, 0);
      assert.deepEqual(
        all.map((c) => [c.revision, c.operation, c.key.object]),
        [
          [1, "write", "doc:1"],
          [1, "write", "folder:1"],
          [2, "write", "doc:2"],
          [2, "write", "document:1"],
          [3, "delete", "doc:1"],
          [3, "write", "folder:2"],
        ],
      );
      for (const c of all) assert.match(c.timestamp, ISO);
      assert.deepEqual(
        (await ds.readChanges(s.id, 1)).map((c) => c.key.object),
        ["doc:2", "document:1", "doc:1", "folder:2"],
      );
      assert.deepEqual(
        (await ds.readChanges(s.id, 0, { type: "doc" })).map((c) => [c.revision, c.operation, c.key.object]),
        [
          [1, "write", "doc:1"],
          [2, "write", "doc:2"],
          [3, "delete", "doc:1"],
        ],
      );
      assert.deepEqual((await ds.readChanges(s.id, 0, { limit: 3 })).map((c) => c.key.object), ["doc:1", "folder:1", "doc:2"]);
      assert.deepEqual((await ds.readChanges(s.id, 1, { type: "folder", limit: 1 })).map((c) => c.key.object), ["folder:2"]);
      assert.deepEqual(await ds.readChanges(s.id, 3), []);
      assert.deepEqual(await ds.readChanges(s.id, 0, { type: "nothing" }), []);
    });

    // ---- assertions ----
    it("writes, replaces and reads the assertions of each model", async (ds) => {
      const s = await ds.createStore("s");
      const m1 = await ds.writeModel(s.id, model(["doc"]));
      const m2 = await ds.writeModel(s.id, model(["doc", "folder"]));
      assert.deepEqual(await ds.readAssertions(s.id, m1.id), []);
      const written = sampleAssertions();
      await ds.writeAssertions(s.id, m1.id, written);
      written[0]!.expectation = false;
      written.push(written[0]!);
      const read = await ds.readAssertions(s.id, m1.id);
      assert.deepEqual(read, sampleAssertions(), "the stored list is not the caller's array");
      assert.deepEqual(Object.keys(read[1]!.context!), Object.keys(sampleAssertions()[1]!.context!), "context keys keep their order");
      assert.ok(!("contextual_tuples" in read[0]!) && !("context" in read[0]!), "absent fields stay absent");
      read[1]!.contextual_tuples!.pop();
      assert.deepEqual(await ds.readAssertions(s.id, m1.id), sampleAssertions(), "the list read is a copy");
      assert.deepEqual(await ds.readAssertions(s.id, m2.id), [], "assertions belong to their model");
      const other = await ds.createStore("other");
      assert.deepEqual(await ds.readAssertions(other.id, m1.id), [], "and to their store");

      // A write replaces the whole list.
      const replacement: Assertion[] = [{ tuple_key: { object: "folder:1", relation: "viewer", user: "user:c" }, expectation: true }];
      await ds.writeAssertions(s.id, m1.id, replacement);
      assert.deepEqual(await ds.readAssertions(s.id, m1.id), replacement);
      await ds.writeAssertions(s.id, m2.id, sampleAssertions());
      await ds.writeAssertions(s.id, m1.id, []);
      assert.deepEqual(await ds.readAssertions(s.id, m1.id), []);
      assert.deepEqual(await ds.readAssertions(s.id, m2.id), sampleAssertions());
    });

    // ---- API keys ----
    it("creates, gets, lists (newest first) and revokes API keys, every field exactly", async (ds) => {
      assert.deepEqual(await ds.listApiKeys(), []);
      const s = await ds.createStore("s");
      const a = apiKey("00000000000000a1", "2024-01-01T00:00:00.000Z", { scopes: ["admin"] });
      const b = apiKey("00000000000000b2", "2024-03-01T12:30:45.123Z", { scopes: ["check", "read", "write"], stores: [s.id, UNKNOWN_ID], rateLimit: 2.5 });
      const c = apiKey("00000000000000c3", "2024-02-01T00:00:00.000Z", { name: "naïve ✓ \"quoted\" 🙂", scopes: [], stores: [], rateLimit: 100 });
      // Created together: the same time; ties are listed by id.
      const d = apiKey("00000000000000d4", c.createdAt, { revokedAt: "2024-02-02T00:00:00.000Z" });
      for (const k of [a, b, d, c]) await ds.createApiKey(k);

      for (const k of [a, b, c]) {
        const got = await ds.getApiKey(k.id);
        assert.deepEqual(got, k);
        assert.ok(got && !("revokedAt" in got), "an active key has no revokedAt key at all");
      }
      assert.deepEqual(await ds.getApiKey(d.id), d);
      assert.equal((await ds.getApiKey(a.id))?.secretHash, hashSecret(`the secret of ${a.id}`), "the hash is stored as given");
      assert.equal(await ds.getApiKey("0000000000000000"), undefined);
      assert.deepEqual(await ds.listApiKeys(), [b, c, d, a]);

      // Ids are unique: a second key with the same id is refused and changes nothing.
      await assert.rejects(ds.createApiKey({ ...a, name: "impostor", scopes: ["admin", "write"] }), Error);
      assert.deepEqual(await ds.getApiKey(a.id), a);

      // Records returned are copies.
      const copy = await ds.getApiKey(b.id);
      copy!.scopes.push("admin");
      copy!.stores.length = 0;
      assert.deepEqual(await ds.getApiKey(b.id), b);

      // Revocation happens once.
      assert.equal(await ds.revokeApiKey(b.id, "2024-04-01T00:00:00.000Z"), true);
      assert.deepEqual(await ds.getApiKey(b.id), { ...b, revokedAt: "2024-04-01T00:00:00.000Z" });
      assert.equal(await ds.revokeApiKey(b.id, "2024-05-01T00:00:00.000Z"), false);
      assert.equal((await ds.getApiKey(b.id))?.revokedAt, "2024-04-01T00:00:00.000Z", "a second revocation changes nothing");
      assert.equal(await ds.revokeApiKey(d.id, "2024-05-01T00:00:00.000Z"), false, "a key created revoked stays as it was");
      assert.equal(await ds.revokeApiKey("0000000000000000", "2024-05-01T00:00:00.000Z"), false);
      assert.deepEqual(await ds.listApiKeys(), [{ ...b, revokedAt: "2024-04-01T00:00:00.000Z" }, c, d, a]);

      // Keys are global: deleting a store they name leaves them.
      assert.equal(await ds.deleteStore(s.id), true);
      assert.equal((await ds.listApiKeys()).length, 4);
    });

    // ---- change feed ----
    it("announces each committed tuple write to subscribers, until they unsubscribe", async (ds) => {
      const a = await ds.createStore("a");
      const b = await ds.createStore("b");
      const first = changeRecorder();
      const second = changeRecorder();
      const unsubscribeFirst = await ds.subscribe(first.listener);
      const unsubscribeSecond = await ds.subscribe(second.listener);
      await ds.writeTuples(a.id, [], [tk("doc:1", "viewer", "user:a")]);
      await ds.writeTuples(b.id, [], [tk("doc:1", "viewer", "user:a"), tk("doc:2", "viewer", "user:a")]);
      // A refused write commits nothing and announces nothing; models are not tuple writes.
      await assert.rejects(ds.writeTuples(a.id, [], [tk("doc:1", "viewer", "user:a")]), TupleWriteConflict);
      await ds.writeModel(a.id, model(["doc"]));
      await ds.writeTuples(a.id, [tk("doc:1", "viewer", "user:a")], []);
      const expected: [string, number][] = [
        [a.id, 1],
        [b.id, 1],
        [a.id, 2],
      ];
      await first.until(3);
      await second.until(3);
      assert.deepEqual(first.events, expected);
      assert.deepEqual(second.events, expected);

      await unsubscribeFirst();
      await ds.writeTuples(b.id, [], [tk("doc:3", "viewer", "user:a")]);
      await second.until(4);
      assert.deepEqual(second.events, [...expected, [b.id, 2]]);
      assert.equal(first.events.length, 3, "no notification after unsubscribing");
      await unsubscribeSecond();
    });

    it("announces concurrent writes once each, and a throwing listener disturbs nothing", async (ds) => {
      const s = await ds.createStore("s");
      const throwing = changeRecorder();
      const unsubscribeThrowing = await ds.subscribe((storeId, revision) => {
        throwing.listener(storeId, revision);
        throw new Error("listener failure");
      });
      const rec = changeRecorder();
      const unsubscribe = await ds.subscribe(rec.listener);
      const revisions = await Promise.all(Array.from({ length: 10 }, (_, i) => ds.writeTuples(s.id, [], [tk(`doc:${i}`, "viewer", "user:a")])));
      await rec.until(10);
      assert.deepEqual(
        rec.events.map(([id, rev]) => `${id}:${rev}`).sort(),
        revisions.map((rev) => `${s.id}:${rev}`).sort(),
      );
      assert.equal(await ds.writeTuples(s.id, [], [tk("doc:x", "viewer", "user:a")]), 11);
      await rec.until(11);
      assert.deepEqual(rec.events[10], [s.id, 11]);
      await throwing.until(11);
      assert.deepEqual(throwing.events, rec.events, "the throwing listener is still called for every write");
      await unsubscribeThrowing();
      await unsubscribe();
    });

    it("documents: create, read, replace with the version read, conflicts change nothing", async (ds) => {
      const c = `c-${Math.random().toString(36).slice(2)}`;
      assert.equal(await ds.getDocument(c, "a"), undefined);
      assert.equal(await ds.putDocument(c, "a", { n: 1, nested: { list: [1, "x", null] } }, 0), 1);
      const a1 = await ds.getDocument<{ n: number }>(c, "a");
      assert.equal(a1?.version, 1);
      assert.deepEqual(a1?.body, { n: 1, nested: { list: [1, "x", null] } });
      assert.ok(a1 && !Number.isNaN(Date.parse(a1.createdAt)));
      await assert.rejects(ds.putDocument(c, "a", { n: 9 }, 0), DocumentConflict, "creating an existing document conflicts");
      assert.equal(await ds.putDocument(c, "a", { n: 2 }, 1), 2);
      await assert.rejects(ds.putDocument(c, "a", { n: 3 }, 1), DocumentConflict, "a stale version conflicts");
      await assert.rejects(ds.putDocument(c, "b", { n: 3 }, 4), DocumentConflict, "replacing a missing document conflicts");
      assert.deepEqual((await ds.getDocument(c, "a"))?.body, { n: 2 });
      assert.equal(await ds.getDocument(c, "b"), undefined);
      // Concurrent replacements of one version: exactly one wins.
      const results = await Promise.allSettled([ds.putDocument(c, "a", { w: 1 }, 2), ds.putDocument(c, "a", { w: 2 }, 2)]);
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
      assert.equal(await ds.deleteDocument(c, "a"), true);
      assert.equal(await ds.deleteDocument(c, "a"), false);
      assert.equal(await ds.getDocument(c, "a"), undefined);
    });

    it("documents: listed in id order by prefix, after an id, up to a limit; collections are apart", async (ds) => {
      const c = `c-${Math.random().toString(36).slice(2)}`;
      for (const id of ["s1/003", "s1/001", "s2/001", "s1/002", "s10/001"]) await ds.putDocument(c, id, { id }, 0);
      await ds.putDocument(`${c}-other`, "s1/000", {}, 0);
      const ids = async (opts?: { prefix?: string; after?: string; limit?: number }) => (await ds.listDocuments(c, opts)).map((d) => d.id);
      assert.deepEqual(await ids(), ["s1/001", "s1/002", "s1/003", "s10/001", "s2/001"]);
      assert.deepEqual(await ids({ prefix: "s1/" }), ["s1/001", "s1/002", "s1/003"]);
      assert.deepEqual(await ids({ prefix: "s1/", after: "s1/001", limit: 1 }), ["s1/002"]);
      assert.deepEqual(await ids({ prefix: "nope" }), []);
      assert.deepEqual((await ds.listDocuments<{ id: string }>(c, { prefix: "s2/" }))[0]?.body, { id: "s2/001" });
    });

    // ---- audit log ----
    auditContract(it);
  });
}
