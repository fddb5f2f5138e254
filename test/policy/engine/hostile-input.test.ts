/**
 * Hostile input: malformed, mistyped, huge and deeply nested requests go into every query and
 * into writes. Whatever happens, a failure must be a TenetError with a 4xx status (never a
 * TypeError or a 500), no call may hang, and the store must stay consistent.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TenetError } from "../../../src/errors.js";
import { TypeSystem } from "../../../src/policy/model/typesystem.js";
import { Engine } from "../../../src/policy/engine/engine.js";
import { PolicyService } from "../../../src/policy/service.js";
import { MemoryDatastore } from "../../../src/storage/memory/memory-datastore.js";
import type { TupleKey } from "../../../src/policy/tuples/tuple.js";

const MODEL = `model
  schema 1.1
type user
type group
  relations
    define member: [user, user:*, group#member]
    define admin: [user with small]
    define viewer: member or admin
type doc
  relations
    define parent: [group]
    define viewer: [user, user:*, group#member] or member from parent
    define blocked: [user, group#member]
    define can_view: viewer but not blocked
    define both: viewer and blocked
condition small(x: int) {
  x < 10
}
`;
const ts = TypeSystem.from(MODEL);

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(readonly rnd: () => number) {}
  pick<T>(a: readonly T[]): T {
    return a[Math.floor(this.rnd() * a.length)]!;
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  junkString(): string {
    const alphabet = ["a", "z", ":", "#", "*", "@", " ", "\t", "\n", "\u0000", "é", "😀", "/", "%", "\\", '"', "'", "$", "{", "}"];
    const len = this.pick([0, 1, 2, 5, 20, 300, 5000]);
    let s = "";
    for (let i = 0; i < len; i++) s += this.pick(alphabet);
    return s;
  }
  /** Mostly plausible names, with unknown types/ids/relations mixed in. */
  entity(): string {
    const type = this.pick(["user", "group", "doc", "robot", "", "USER", "__proto__", "constructor"]);
    const id = this.pick(["anne", "eng", "1", "ghost", "*", "", "a b", "x".repeat(300), "__proto__", "a:b", "é"]);
    const r = this.rnd();
    if (r < 0.55) return `${type}:${id}`;
    if (r < 0.85) return `${type}:${id}#${this.relation()}`;
    return this.junkString();
  }
  relation(): string {
    return this.pick(["member", "admin", "viewer", "parent", "blocked", "can_view", "both", "nope", "", "__proto__", "constructor", "toString", "member#x"]);
  }
  /** Only values a JSON request body can carry (the API's input), so every finding is reachable. */
  value(): unknown {
    return this.pick<() => unknown>([
      () => undefined,
      () => null,
      () => 0,
      () => -1,
      () => 1.5,
      () => Number.NaN,
      () => Infinity,
      () => true,
      () => [],
      () => ({}),
      () => [this.entity()],
      () => [[["doc:1"]]],
      () => ({ type: "doc", id: "1" }),
      () => JSON.parse('{"__proto__": {"type": "doc"}}'),
      () => this.junkString(),
      () => this.entity(),
    ])();
  }
  maybe(valid: () => unknown, p = 0.75): unknown {
    return this.chance(p) ? valid() : this.value();
  }
  tuple(): unknown {
    if (this.chance(0.05)) return this.value();
    const t: Record<string, unknown> = {
      object: this.maybe(() => this.entity()),
      relation: this.maybe(() => this.relation()),
      user: this.maybe(() => this.entity()),
    };
    if (this.chance(0.2)) {
      t["condition"] = this.pick<unknown>([null, "small", { name: "small" }, { name: "small", context: { x: 1 } }, { name: "small", context: [] }, { name: 7 }, { name: "nope" }, { name: "small", context: { x: "a".repeat(40_000) } }]);
    }
    return t;
  }
  contextualTuples(): unknown {
    return this.pick<() => unknown>([
      () => undefined,
      () => null,
      () => "doc:1#viewer@user:anne",
      () => ({}),
      () => [],
      () => [this.tuple()],
      () => Array.from({ length: this.int(12) }, () => this.tuple()),
      () => Array.from({ length: 101 }, () => ({ object: "doc:1", relation: "viewer", user: "user:anne" })),
      // Deep: a 99-level chain of usersets.
      () => Array.from({ length: 99 }, (_, i) => ({ object: `group:c${i}`, relation: "member", user: `group:c${i + 1}#member` })),
      // Wide: 100 distinct parents.
      () => Array.from({ length: 100 }, (_, i) => ({ object: "doc:w", relation: "parent", user: `group:w${i}` })),
    ])();
  }
  context(): unknown {
    return this.pick<() => unknown>([
      () => undefined,
      () => null,
      () => 5,
      () => "x",
      () => [],
      () => ({ x: 1 }),
      () => ({ x: "1" }),
      () => ({ x: null }),
      () => ({ x: 1e308 }),
      () => ({ x: [1, 2] }),
      () => ({ x: { y: 1 } }),
      () => JSON.parse('{"__proto__": {"x": 1}}'),
      () => ({ big: "a".repeat(70_000) }),
      () => {
        let o: Record<string, unknown> = { x: 1 };
        for (let i = 0; i < 500; i++) o = { n: o };
        return o;
      },
    ])();
  }
}

/** Runs `fn`; records anything thrown that is not a 4xx TenetError. */
function guard(failures: Map<string, string>, label: string, input: unknown, fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    record(failures, label, input, err);
  }
}

function record(failures: Map<string, string>, label: string, input: unknown, err: unknown): void {
  if (err instanceof TenetError && err.status >= 400 && err.status < 500) return;
  const kind = err instanceof TenetError ? `TenetError ${err.code} (${err.status})` : `${(err as Error)?.name ?? typeof err}: ${String((err as Error)?.message ?? err).slice(0, 80)}`;
  const key = `${label}: ${kind}`;
  if (!failures.has(key)) {
    let shown: string;
    try {
      shown = JSON.stringify(input)?.slice(0, 300) ?? "undefined";
    } catch {
      shown = "(unprintable)";
    }
    failures.set(key, shown);
  }
}

function report(failures: Map<string, string>): string[] {
  return [...failures].map(([k, v]) => `${k}  e.g. ${v}`);
}

function seededEngine(): Engine {
  const e = new Engine();
  const tuples: TupleKey[] = [
    { object: "group:eng", relation: "member", user: "user:anne" },
    { object: "group:all", relation: "member", user: "group:eng#member" },
    { object: "group:pub", relation: "member", user: "user:*" },
    { object: "group:eng", relation: "admin", user: "user:bob", condition: { name: "small" } },
    { object: "doc:1", relation: "parent", user: "group:all" },
    { object: "doc:1", relation: "blocked", user: "user:bob" },
  ];
  for (const t of tuples) e.index.add(t);
  return e;
}

describe("hostile input: random requests", () => {
  const ROUNDS = 400;

  for (const seed of [1, 2, 3]) {
    it(`check, batchCheck, expand, listObjects and listUsers only fail with 4xx TenetErrors (seed ${seed})`, () => {
      const g = new Gen(seeded(seed));
      const e = seededEngine();
      const sizeBefore = e.index.size;
      const failures = new Map<string, string>();
      const start = Date.now();
      for (let i = 0; i < ROUNDS; i++) {
        const checkReq = g.chance(0.05)
          ? g.value()
          : { object: g.maybe(() => g.entity()), relation: g.maybe(() => g.relation()), user: g.maybe(() => g.entity()), contextualTuples: g.contextualTuples(), context: g.context(), explain: g.pick([true, false, undefined, "yes"]) };
        guard(failures, "check", checkReq, () => e.check(ts, checkReq as never));

        const items = g.pick<() => unknown>([
          () => null,
          () => [],
          () => "items",
          () => Array.from({ length: 51 }, (_, j) => ({ correlationId: `c${j}`, object: "doc:1", relation: "viewer", user: "user:anne" })),
          () => Array.from({ length: 1 + g.int(4) }, (_, j) => ({ correlationId: g.pick<unknown>([`id${j}`, "", null, 5, "x".repeat(37), "dup"]), object: g.maybe(() => g.entity()), relation: g.relation(), user: g.maybe(() => g.entity()), context: g.context(), contextualTuples: g.contextualTuples() })),
          () => [null, undefined],
        ])();
        guard(failures, "batchCheck", items, () => e.batchCheck(ts, items as never));

        const expandReq = g.chance(0.05) ? g.value() : { object: g.maybe(() => g.entity()), relation: g.maybe(() => g.relation()), contextualTuples: g.contextualTuples() };
        guard(failures, "expand", expandReq, () => e.expand(ts, expandReq as never));

        const loReq = g.chance(0.05)
          ? g.value()
          : { type: g.maybe(() => g.pick(["doc", "group", "user", "robot", "", "__proto__"])), relation: g.maybe(() => g.relation()), user: g.maybe(() => g.entity()), contextualTuples: g.contextualTuples(), context: g.context(), maxResults: g.pick<unknown>([undefined, null, 0, -1, 1, 2.5, "3", 1e9, Number.NaN]) };
        guard(failures, "listObjects", loReq, () => e.listObjects(ts, loReq as never));

        const filter = g.pick<unknown>([undefined, null, [], "user", [null], [{ type: "user" }], [{ type: "group", relation: "member" }], [{ type: "group", relation: "viewer" }], [{ type: "doc", relation: "viewer" }], [{ type: g.value(), relation: g.value() }], [{ type: "user" }, { type: "group" }], [{ type: "group", relation: "nope" }]]);
        const luReq = g.chance(0.05)
          ? g.value()
          : { object: g.maybe(() => g.entity()), relation: g.maybe(() => g.relation()), userFilters: filter, contextualTuples: g.contextualTuples(), context: g.context(), maxResults: g.pick<unknown>([undefined, 0, 1, 1000, "5"]) };
        guard(failures, "listUsers", luReq, () => e.listUsers(ts, luReq as never));
      }
      assert.equal(e.index.size, sizeBefore, "requests must not change the stored tuples");
      assert.ok(Date.now() - start < 30_000, `took ${Date.now() - start}ms`);
      // The engine still answers normally afterwards.
      assert.equal(e.check(ts, { object: "doc:1", relation: "viewer", user: "user:anne" }).allowed, true);
      assert.equal(e.check(ts, { object: "doc:1", relation: "can_view", user: "user:bob" }).allowed, false);
      assert.deepEqual(report(failures), []);
    });
  }
});

describe("hostile input: JSON objects whose string conversion throws", () => {
  // `{"toString": 1}` is valid JSON; interpolating it into a message (`${x}` or String(x)) throws
  // a TypeError in JavaScript. Such a value in any string field must still be a 4xx TenetError.
  const nasty = [JSON.parse('{"toString": 1}'), JSON.parse('{"toString": null, "valueOf": "x"}')];

  it("in every string field of every query", () => {
    const e = seededEngine();
    const failures = new Map<string, string>();
    for (const bad of nasty) {
      const cases: Array<[string, unknown, () => unknown]> = [];
      const add = (label: string, req: unknown, fn: (r: never) => unknown): void => void cases.push([label, req, () => fn(req as never)]);
      for (const field of ["object", "relation", "user"]) {
        add(`check.${field}`, { object: "doc:1", relation: "viewer", user: "user:anne", [field]: bad }, (r) => e.check(ts, r));
        add(`batchCheck.${field}`, [{ correlationId: "a", object: "doc:1", relation: "viewer", user: "user:anne", [field]: bad }], (r) => e.batchCheck(ts, r));
        add(`contextualTuple.${field}`, { object: "doc:1", relation: "viewer", user: "user:anne", contextualTuples: [{ object: "doc:1", relation: "viewer", user: "user:anne", [field]: bad }] }, (r) => e.check(ts, r));
      }
      for (const field of ["object", "relation"]) add(`expand.${field}`, { object: "doc:1", relation: "viewer", [field]: bad }, (r) => e.expand(ts, r));
      for (const field of ["type", "relation", "user"]) add(`listObjects.${field}`, { type: "doc", relation: "viewer", user: "user:anne", [field]: bad }, (r) => e.listObjects(ts, r));
      for (const field of ["object", "relation"]) add(`listUsers.${field}`, { object: "doc:1", relation: "viewer", userFilters: [{ type: "user" }], [field]: bad }, (r) => e.listUsers(ts, r));
      add("listUsers.filter.type", { object: "doc:1", relation: "viewer", userFilters: [{ type: bad }] }, (r) => e.listUsers(ts, r));
      add("listUsers.filter.relation", { object: "doc:1", relation: "viewer", userFilters: [{ type: "group", relation: bad }] }, (r) => e.listUsers(ts, r));
      add("batchCheck.correlationId", [{ correlationId: bad, object: "doc:1", relation: "viewer", user: "user:anne" }], (r) => e.batchCheck(ts, r));
      add("condition.name", { object: "doc:1", relation: "viewer", user: "user:anne", contextualTuples: [{ object: "group:eng", relation: "admin", user: "user:anne", condition: { name: bad } }] }, (r) => e.check(ts, r));
      for (const [label, req, fn] of cases) guard(failures, label, req, fn);
    }
    assert.deepEqual(report(failures), []);
  });
});

describe("hostile input: every well-formed name combination", () => {
  // Random input rarely hits the combinations that matter (an object the store has never seen,
  // a userset whose object is unknown, a filter equal to the object's own relation), so sweep them.
  it("check (with and without explain), expand, listObjects and listUsers never crash", () => {
    const e = seededEngine();
    const objects: string[] = [];
    const users: string[] = [];
    for (const [type, td] of ts.types) {
      for (const id of ["eng", "1", "ghost", "other"]) {
        objects.push(`${type}:${id}`);
        users.push(`${type}:${id}`);
        for (const rel of td.relations.keys()) users.push(`${type}:${id}#${rel}`);
      }
      users.push(`${type}:*`);
    }
    const failures = new Map<string, string>();
    for (const object of objects) {
      const type = object.slice(0, object.indexOf(":"));
      for (const relation of ts.types.get(type)!.relations.keys()) {
        for (const user of users) {
          for (const explain of [false, true]) {
            const req = { object, relation, user, explain, context: { x: 1 } };
            guard(failures, `check explain=${explain}`, req, () => e.check(ts, req));
          }
        }
        guard(failures, "expand", { object, relation }, () => e.expand(ts, { object, relation }));
        for (const [ft, fd] of ts.types) {
          const filters = [{ type: ft }, ...[...fd.relations.keys()].map((r) => ({ type: ft, relation: r }))];
          for (const f of filters) {
            const req = { object, relation, userFilters: [f], context: { x: 1 } };
            guard(failures, "listUsers", req, () => e.listUsers(ts, req));
          }
        }
      }
    }
    for (const [type, td] of ts.types) {
      for (const relation of td.relations.keys()) {
        for (const user of users) {
          const req = { type, relation, user, context: { x: 1 } };
          guard(failures, "listObjects", req, () => e.listObjects(ts, req));
        }
      }
    }
    assert.deepEqual(report(failures), []);
  });
});

describe("hostile input: writes", () => {
  it("random write requests only fail with 4xx TenetErrors, and the index matches storage", async () => {
    const ds = new MemoryDatastore();
    const svc = new PolicyService(ds);
    const store = (await svc.createStore("fuzz")).id;
    await svc.writeModel(store, MODEL);
    const g = new Gen(seeded(42));
    const failures = new Map<string, string>();
    const valid = (): TupleKey =>
      g.pick<TupleKey>([
        { object: `doc:${g.int(5)}`, relation: "viewer", user: `user:u${g.int(5)}` },
        { object: `doc:${g.int(5)}`, relation: "blocked", user: `group:g${g.int(3)}#member` },
        { object: `group:g${g.int(3)}`, relation: "member", user: g.pick(["user:*", `user:u${g.int(5)}`]) },
        { object: `group:g${g.int(3)}`, relation: "admin", user: `user:u${g.int(5)}`, condition: { name: "small", context: { x: g.int(20) } } },
      ]);
    let ok = 0;
    for (const req of [null, undefined, "writes", 5, [], { writes: null, deletes: null }, { writes: [null] }, { deletes: [null] }, { writes: [{}] }, { deletes: "x" }]) {
      try {
        await svc.write(store, req as never);
        failures.set(`write: accepted ${JSON.stringify(req)}`, "");
      } catch (err) {
        record(failures, "write (fixed)", req, err);
      }
    }
    const written: TupleKey[] = [];
    for (let i = 0; i < 300; i++) {
      if (g.chance(0.4)) {
        // Mostly valid traffic, so that the store fills up and deletes hit existing tuples.
        const del = written.length > 0 && g.chance(0.4) ? [written[g.int(written.length)]!] : [];
        const wr = del.length > 0 && g.chance(0.5) ? [] : [valid()];
        try {
          await svc.write(store, { writes: wr, deletes: del.map((t) => ({ object: t.object, relation: t.relation, user: t.user })) });
          ok++;
          for (const d of del) written.splice(written.indexOf(d), 1);
          written.push(...wr);
        } catch (err) {
          record(failures, "write (plausible)", { wr, del }, err);
        }
        continue;
      }
      const list = (): unknown =>
        g.pick<() => unknown>([
          () => undefined,
          () => null,
          () => "x",
          () => [],
          () => Array.from({ length: 1 + g.int(4) }, () => (g.chance(0.7) ? valid() : g.tuple())),
          () => Array.from({ length: 101 }, (_, j) => ({ object: `doc:big${j}`, relation: "viewer", user: "user:u1" })),
        ])();
      const req = g.chance(0.05) ? g.value() : { writes: list(), deletes: list(), modelId: g.pick<unknown>([undefined, undefined, undefined, "nope", 5]) };
      try {
        await svc.write(store, req as never);
        ok++;
      } catch (err) {
        record(failures, "write", req, err);
      }
    }
    assert.ok(ok > 10, `only ${ok} writes succeeded: the generator is too hostile to test consistency`);

    // Every stored tuple is visible to check, and a fresh service (loading from storage) agrees.
    const stored: TupleKey[] = [];
    let token: string | undefined;
    do {
      const page = await svc.read(store, {}, token === undefined ? { pageSize: 100 } : { pageSize: 100, continuationToken: token });
      stored.push(...page.items.map((r) => r.key));
      token = page.continuationToken;
    } while (token);
    const fresh = new PolicyService(ds);
    for (const t of stored) {
      const context = { x: 1 };
      const a = await svc.check(store, { object: t.object, relation: t.relation, user: t.user, context });
      const b = await fresh.check(store, { object: t.object, relation: t.relation, user: t.user, context });
      assert.equal(a.allowed, b.allowed, `${t.object}#${t.relation}@${t.user}`);
      if (!t.condition || (t.condition.context?.["x"] as number) < 10) assert.equal(a.allowed, true, `${t.object}#${t.relation}@${t.user}`);
    }
    const changes = await svc.readChanges(store, 0);
    const revisions = changes.map((c) => c.revision);
    assert.deepEqual(revisions, [...revisions].sort((x, y) => x - y), "changelog is in revision order");
    assert.equal(new Set(revisions).size, ok, "one revision per successful write");
    assert.deepEqual(report(failures), []);
  });
});
