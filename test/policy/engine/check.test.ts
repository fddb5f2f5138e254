/**
 * Check and BatchCheck on the engine: every rewrite kind, contextual tuples, conditions,
 * cycles and the depth limit, the explain tree, request validation and batch limits.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isTenetError, type TenetErrorCode } from "../../../src/errors.js";
import { TypeSystem } from "../../../src/policy/model/typesystem.js";
import { Engine, MAX_BATCH_CHECK, type BatchCheckItem, type CheckRequest } from "../../../src/policy/engine/engine.js";
import type { Why } from "../../../src/policy/engine/resolver.js";
import type { TupleKey } from "../../../src/policy/tuples/tuple.js";
import { T, engineWith } from "../helpers.js";

const ts = TypeSystem.from(`model
  schema 1.1
type user
type group
  relations
    define member: [user, user:*, group#member]
    define viewer: member
type folder
  relations
    define owner: [user]
    define parent: [folder]
    define viewer: [user, group#member] or owner or viewer from parent
type doc
  relations
    define parent: [folder]
    define owner: [user]
    define editor: [user, user with in_range] or owner
    define viewer: [user, user:*, group#member] or editor or viewer from parent
    define blocked: [user, group#member]
    define can_view: viewer but not blocked
    define approver: [user]
    define can_approve: editor and approver
    define guarded: [user with in_range] or owner
    define both_guarded: guarded and approver
condition in_range(x: int, limit: int) {
  x < limit
}
`);


const BASE: TupleKey[] = [
  T("group:eng", "member", "user:anne"),
  T("group:all", "member", "group:eng#member"),
  T("folder:root", "viewer", "group:all#member"),
  T("folder:sub", "parent", "folder:root"),
  T("doc:1", "parent", "folder:sub"),
  T("doc:public", "viewer", "user:*"),
  T("doc:3", "owner", "user:bob"),
  T("doc:3", "approver", "user:bob"),
  T("doc:3", "approver", "user:dora"),
  T("doc:3", "editor", "user:carl", { name: "in_range", context: { limit: 5 } }),
  T("doc:3", "guarded", "user:erin", { name: "in_range" }),
  T("doc:3", "owner", "user:erin"),
];

const engine = engineWith(BASE);
const check = (object: string, relation: string, user: string, extra: Partial<CheckRequest> = {}) =>
  engine.check(ts, { object, relation, user, ...extra });
const allowed = (object: string, relation: string, user: string, extra: Partial<CheckRequest> = {}) => check(object, relation, user, extra).allowed;

function throwsCode(fn: () => unknown, code: TenetErrorCode, openfgaCode?: number): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isTenetError(err), `expected TenetError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (openfgaCode !== undefined) assert.equal(err.openfgaCode, openfgaCode);
    assert.equal(err.status, 400);
    return true;
  });
}

/** Follows the first `because` to the end: the step that found the granting tuple. */
function leaf(w: Why): Why {
  let n = w;
  while (n.because && n.because.length > 0) n = n.because[0]!;
  return n;
}

describe("check: rewrites", () => {
  it("direct tuples", () => {
    assert.equal(allowed("doc:3", "owner", "user:bob"), true);
    assert.equal(allowed("doc:3", "owner", "user:anne"), false);
    assert.equal(allowed("doc:4", "owner", "user:bob"), false);
  });

  it("wildcards grant every user of the type, and only of that type", () => {
    assert.equal(allowed("doc:public", "viewer", "user:anyone"), true);
    assert.equal(allowed("doc:public", "viewer", "user:*"), true);
    assert.equal(allowed("doc:public", "viewer", "group:eng#member"), false);
    assert.equal(allowed("doc:public", "owner", "user:anyone"), false);
  });

  it("a wildcard user is not granted by a specific user's tuple", () => {
    assert.equal(allowed("doc:3", "owner", "user:*"), false);
  });

  it("usersets, nested", () => {
    assert.equal(allowed("group:all", "member", "user:anne"), true);
    assert.equal(allowed("folder:root", "viewer", "user:anne"), true);
    assert.equal(allowed("folder:root", "viewer", "user:bob"), false);
    assert.equal(allowed("folder:root", "viewer", "group:eng#member"), true);
    assert.equal(allowed("folder:root", "viewer", "group:other#member"), false);
  });

  it("computed usersets", () => {
    assert.equal(allowed("doc:3", "editor", "user:bob"), true);
    assert.equal(allowed("doc:3", "viewer", "user:bob"), true);
    assert.equal(allowed("group:eng", "viewer", "user:anne"), true);
    assert.equal(allowed("group:eng", "viewer", "user:bob"), false);
  });

  it("tuple to userset, through two levels of parents", () => {
    assert.equal(allowed("folder:sub", "viewer", "user:anne"), true);
    assert.equal(allowed("doc:1", "viewer", "user:anne"), true);
    assert.equal(allowed("doc:1", "viewer", "user:bob"), false);
    assert.equal(allowed("doc:1", "owner", "user:anne"), false);
  });

  it("intersection needs every branch", () => {
    assert.equal(allowed("doc:3", "can_approve", "user:bob"), true);
    assert.equal(allowed("doc:3", "can_approve", "user:dora"), false, "approver but not editor");
    assert.equal(allowed("doc:3", "can_approve", "user:anne"), false);
  });

  it("difference removes the subtracted users, directly or through a userset", () => {
    const e = engineWith([...BASE, T("doc:3", "viewer", "user:anne"), T("doc:3", "blocked", "group:eng#member")]);
    assert.equal(e.check(ts, { object: "doc:3", relation: "can_view", user: "user:bob" }).allowed, true);
    assert.equal(e.check(ts, { object: "doc:3", relation: "can_view", user: "user:anne" }).allowed, false);
    assert.equal(e.check(ts, { object: "doc:3", relation: "viewer", user: "user:anne" }).allowed, true);
  });

  it("a userset user is checked as a set, not as its members", () => {
    assert.equal(allowed("doc:1", "viewer", "group:eng#member"), true);
    assert.equal(allowed("doc:3", "viewer", "group:eng#member"), false);
  });
});

describe("check: self-defining usersets and unknown objects", () => {
  it("a userset is always a member of itself (OpenFGA #1066), stored or not", () => {
    assert.equal(allowed("group:eng", "member", "group:eng#member"), true);
    assert.equal(allowed("doc:3", "blocked", "doc:3#blocked"), true);
    assert.equal(allowed("group:never-written", "member", "group:never-written#member"), true);
  });

  it("an unknown object is not reached by a userset of another unknown object", () => {
    // Neither object appears in any tuple; the answer must be "no" whatever the relation names.
    assert.equal(allowed("group:ghost1", "viewer", "group:ghost2#member"), false);
    assert.equal(allowed("doc:new", "can_view", "group:ghost#viewer"), false);
    assert.equal(allowed("doc:new", "viewer", "doc:other#editor"), false);
  });

  it("no check on objects the store has never seen is allowed, except a userset on itself", () => {
    const empty = new Engine();
    const usersets: string[] = [];
    for (const [type, td] of ts.types) for (const rel of td.relations.keys()) for (const id of ["a", "b"]) usersets.push(`${type}:${id}#${rel}`);
    const wrong: string[] = [];
    for (const [type, td] of ts.types) {
      for (const rel of td.relations.keys()) {
        for (const user of ["user:a", "user:*", ...usersets]) {
          const object = `${type}:a`;
          const self = user === `${object}#${rel}`;
          let got: boolean;
          try {
            got = empty.check(ts, { object, relation: rel, user, context: { x: 1, limit: 2 } }).allowed;
          } catch (err) {
            assert.ok(isTenetError(err), `${object}#${rel}@${user}: ${String(err)}`);
            continue;
          }
          if (got !== self && !(user.startsWith(`${object}#`) && got)) wrong.push(`${object}#${rel}@${user} = ${got}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  });

  it("explain does not crash on unknown objects", () => {
    const empty = new Engine();
    assert.doesNotThrow(() => empty.check(ts, { object: "group:ghost1", relation: "viewer", user: "group:ghost2#member", explain: true }));
    assert.doesNotThrow(() => empty.check(ts, { object: "group:ghost1", relation: "viewer", user: "group:ghost1#member", explain: true }));
  });
});

describe("check: contextual tuples", () => {
  it("grant for the request only and never persist", () => {
    const e = engineWith(BASE);
    const before = e.index.size;
    const ctx = [T("doc:9", "viewer", "user:zoe"), T("group:new", "member", "user:yan"), T("doc:9", "viewer", "group:new#member")];
    assert.equal(e.check(ts, { object: "doc:9", relation: "viewer", user: "user:zoe", contextualTuples: ctx }).allowed, true);
    assert.equal(e.check(ts, { object: "doc:9", relation: "viewer", user: "user:yan", contextualTuples: ctx }).allowed, true);
    assert.equal(e.check(ts, { object: "doc:9", relation: "viewer", user: "user:zoe" }).allowed, false);
    assert.equal(e.check(ts, { object: "doc:9", relation: "viewer", user: "user:yan" }).allowed, false);
    assert.equal(e.index.size, before);
    assert.equal(e.index.entities.lookup("user:zoe"), -1, "contextual entities do not leak into the shared table");
  });

  it("combine with stored tuples (a contextual block subtracts from stored access)", () => {
    assert.equal(allowed("doc:3", "can_view", "user:bob", { contextualTuples: [T("doc:3", "blocked", "user:bob")] }), false);
    assert.equal(allowed("doc:3", "can_view", "user:bob"), true);
  });

  it("a contextual parent links stored tuples", () => {
    assert.equal(allowed("doc:9", "viewer", "user:anne", { contextualTuples: [T("doc:9", "parent", "folder:root")] }), true);
    assert.equal(allowed("doc:9", "viewer", "user:anne"), false);
  });

  it("more than 100 contextual tuples are refused; 100 are accepted", () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => T(`doc:c${i}`, "viewer", "user:zoe"));
    throwsCode(() => check("doc:c0", "viewer", "user:zoe", { contextualTuples: many(101) }), "validation_error", 2000);
    assert.equal(allowed("doc:c99", "viewer", "user:zoe", { contextualTuples: many(100) }), true);
  });

  it("contextual tuples with conditions use their own context first", () => {
    const ctx = (x: number) => [T("doc:9", "editor", "user:zoe", { name: "in_range", context: { x, limit: 5 } })];
    assert.equal(allowed("doc:9", "editor", "user:zoe", { contextualTuples: ctx(1), context: { x: 9 } }), true);
    assert.equal(allowed("doc:9", "editor", "user:zoe", { contextualTuples: ctx(9), context: { x: 1 } }), false);
  });
});

describe("check: conditions", () => {
  it("request context decides a conditional tuple", () => {
    assert.equal(allowed("doc:3", "editor", "user:carl", { context: { x: 3 } }), true);
    assert.equal(allowed("doc:3", "editor", "user:carl", { context: { x: 7 } }), false);
  });

  it("the tuple's context wins over the request's for the same parameter", () => {
    // The tuple fixes limit=5; a request trying limit=100 cannot widen it.
    assert.equal(allowed("doc:3", "editor", "user:carl", { context: { x: 7, limit: 100 } }), false);
    assert.equal(allowed("doc:3", "editor", "user:carl", { context: { x: 3, limit: 1 } }), true);
  });

  it("a missing parameter is an error, not a denial", () => {
    throwsCode(() => check("doc:3", "editor", "user:carl"), "condition_missing_parameters", 2000);
    throwsCode(() => check("doc:3", "editor", "user:carl", { context: { y: 1 } }), "condition_missing_parameters");
  });

  it("an erroring branch does not matter when another union branch grants", () => {
    // erin: conditional tuple without context (would error) and also owner.
    assert.equal(allowed("doc:3", "guarded", "user:erin"), true);
  });

  it("an erroring branch does not matter when an intersection branch is false", () => {
    assert.equal(allowed("doc:3", "both_guarded", "user:erin"), false, "erin is not an approver");
  });

  it("context must be an object", () => {
    for (const context of [5, "x", [1], true]) {
      throwsCode(() => check("doc:3", "editor", "user:carl", { context: context as never }), "invalid_context");
    }
  });

  it("an over-large context is refused", () => {
    assert.throws(
      () => check("doc:3", "editor", "user:carl", { context: { x: 1, pad: "p".repeat(70 * 1024) } }),
      (e: unknown) => isTenetError(e) && e.status >= 400 && e.status < 500,
    );
  });
});

describe("check: cycles and the depth limit", () => {
  it("a cycle of usersets is 'not allowed', not an error, and returns quickly", () => {
    const e = engineWith([
      T("group:a", "member", "group:b#member"),
      T("group:b", "member", "group:c#member"),
      T("group:c", "member", "group:a#member"),
      T("folder:x", "parent", "folder:y"),
      T("folder:y", "parent", "folder:x"),
    ]);
    const start = Date.now();
    assert.equal(e.check(ts, { object: "group:a", relation: "member", user: "user:anne" }).allowed, false);
    assert.equal(e.check(ts, { object: "folder:x", relation: "viewer", user: "user:anne" }).allowed, false);
    assert.equal(e.check(ts, { object: "group:a", relation: "member", user: "group:b#member" }).allowed, true);
    assert.ok(Date.now() - start < 2000);
  });

  it("a cycle still finds a user that is reachable inside it", () => {
    const e = engineWith([T("group:a", "member", "group:b#member"), T("group:b", "member", "group:a#member"), T("group:b", "member", "user:zoe")]);
    assert.equal(e.check(ts, { object: "group:a", relation: "member", user: "user:zoe" }).allowed, true);
    assert.equal(e.check(ts, { object: "group:b", relation: "member", user: "user:zoe" }).allowed, true);
  });

  function chain(n: number, prefix = "g"): TupleKey[] {
    const out: TupleKey[] = [];
    for (let i = 0; i < n; i++) out.push(T(`group:${prefix}${i}`, "member", `group:${prefix}${i + 1}#member`));
    out.push(T(`group:${prefix}${n}`, "member", "user:deep"));
    return out;
  }

  it("a chain well within 25 levels resolves", () => {
    const e = engineWith(chain(15));
    assert.equal(e.check(ts, { object: "group:g0", relation: "member", user: "user:deep" }).allowed, true);
  });

  it("a chain deeper than 25 levels is resolution_too_complex (2002)", () => {
    const e = engineWith(chain(40));
    throwsCode(() => e.check(ts, { object: "group:g0", relation: "member", user: "user:deep" }), "resolution_too_complex", 2002);
    // The same chain, entered near its end, is within the limit.
    assert.equal(e.check(ts, { object: "group:g35", relation: "member", user: "user:deep" }).allowed, true);
  });

  it("a deep chain of parents (tuple to userset) is 2002 as well", () => {
    const tuples: TupleKey[] = [];
    for (let i = 0; i < 40; i++) tuples.push(T(`folder:f${i}`, "parent", `folder:f${i + 1}`));
    tuples.push(T("folder:f40", "owner", "user:deep"));
    const e = engineWith(tuples);
    throwsCode(() => e.check(ts, { object: "folder:f0", relation: "viewer", user: "user:deep" }), "resolution_too_complex", 2002);
  });

  it("a deep chain made of contextual tuples is 2002 and leaves the engine usable", () => {
    const e = engineWith([]);
    throwsCode(() => e.check(ts, { object: "group:c0", relation: "member", user: "user:deep", contextualTuples: chain(60, "c").slice(0, 100) }), "resolution_too_complex", 2002);
    assert.equal(e.index.size, 0);
    assert.equal(e.check(ts, { object: "group:c0", relation: "member", user: "user:deep", contextualTuples: chain(3, "c") }).allowed, true);
  });
});

describe("check: explain", () => {
  it("the why tree follows a TTU and userset path down to the granting tuple", () => {
    const r = check("doc:1", "viewer", "user:anne", { explain: true });
    assert.equal(r.allowed, true);
    assert.deepEqual(r.why, {
      object: "doc:1",
      relation: "viewer",
      rule: "tuple_to_userset",
      tuple: "doc:1#parent@folder:sub",
      because: [
        {
          object: "folder:sub",
          relation: "viewer",
          rule: "tuple_to_userset",
          tuple: "folder:sub#parent@folder:root",
          because: [
            {
              object: "folder:root",
              relation: "viewer",
              rule: "userset",
              tuple: "folder:root#viewer@group:all#member",
              because: [
                {
                  object: "group:all",
                  relation: "member",
                  rule: "userset",
                  tuple: "group:all#member@group:eng#member",
                  because: [{ object: "group:eng", relation: "member", rule: "direct", tuple: "group:eng#member@user:anne" }],
                },
              ],
            },
          ],
        },
      ],
    });
  });

  it("computed usersets lead to the direct tuple", () => {
    const r = check("doc:3", "viewer", "user:bob", { explain: true });
    assert.ok(r.why);
    assert.equal(r.why.rule, "computed_userset");
    assert.deepEqual(leaf(r.why), { object: "doc:3", relation: "owner", rule: "direct", tuple: "doc:3#owner@user:bob" });
  });

  it("a wildcard grant names the wildcard tuple", () => {
    const r = check("doc:public", "viewer", "user:zed", { explain: true });
    assert.deepEqual(r.why, { object: "doc:public", relation: "viewer", rule: "wildcard", tuple: "doc:public#viewer@user:*" });
  });

  it("a conditional grant names the condition", () => {
    const r = check("doc:3", "editor", "user:carl", { explain: true, context: { x: 1 } });
    assert.ok(r.why);
    const l = leaf(r.why);
    assert.equal(l.tuple, "doc:3#editor@user:carl");
    assert.equal(l.condition, "in_range");
  });

  it("an intersection lists the reason for each branch", () => {
    const r = check("doc:3", "can_approve", "user:bob", { explain: true });
    assert.ok(r.why);
    assert.equal(r.why.rule, "intersection");
    assert.equal(r.why.because?.length, 2);
    const leaves = r.why.because!.map((b) => leaf(b).tuple).sort();
    assert.deepEqual(leaves, ["doc:3#approver@user:bob", "doc:3#owner@user:bob"]);
  });

  it("an exclusion explains its base", () => {
    const r = check("doc:3", "can_view", "user:bob", { explain: true });
    assert.ok(r.why);
    assert.equal(r.why.rule, "exclusion");
    assert.equal(leaf(r.why).tuple, "doc:3#owner@user:bob");
  });

  it("a contextual tuple can be the granting tuple", () => {
    const r = check("doc:9", "viewer", "user:zoe", { explain: true, contextualTuples: [T("doc:9", "owner", "user:zoe")] });
    assert.ok(r.why);
    assert.equal(leaf(r.why).tuple, "doc:9#owner@user:zoe");
  });

  it("an object with two parent paths explains one of them down to the user's tuple", () => {
    const e = engineWith([...BASE, T("doc:7", "parent", "folder:sub"), T("doc:7", "parent", "folder:root")]);
    const r = e.check(ts, { object: "doc:7", relation: "viewer", user: "user:anne", explain: true });
    assert.equal(r.allowed, true);
    assert.ok(r.why);
    assert.equal(leaf(r.why).tuple, "group:eng#member@user:anne");
  });

  it("no why when denied, and none unless asked for", () => {
    const denied = check("doc:3", "can_approve", "user:dora", { explain: true });
    assert.deepEqual(denied, { allowed: false });
    assert.equal("why" in denied, false);
    const notAsked = check("doc:3", "owner", "user:bob");
    assert.deepEqual(notAsked, { allowed: true });
  });
});

describe("check: request validation", () => {
  it("unknown types and relations are validation errors (2000)", () => {
    throwsCode(() => check("robot:1", "viewer", "user:anne"), "validation_error", 2000);
    throwsCode(() => check("doc:1", "nope", "user:anne"), "validation_error", 2000);
    throwsCode(() => check("doc:1", "viewer", "robot:anne"), "validation_error", 2000);
    throwsCode(() => check("doc:1", "viewer", "group:eng#nope"), "validation_error", 2000);
  });

  it("malformed objects and users are validation errors", () => {
    for (const object of ["doc", "doc:", ":1", "doc:*", "doc:1#viewer", ""]) throwsCode(() => check(object, "viewer", "user:anne"), "validation_error");
    for (const user of ["anne", "user:", "user:a b", "group:*#member", ""]) throwsCode(() => check("doc:1", "viewer", user), "validation_error");
  });

  it("a relation name from another type is not accepted", () => {
    throwsCode(() => check("group:eng", "owner", "user:anne"), "validation_error");
  });
});

describe("batchCheck", () => {
  const item = (correlationId: string, object: string, relation: string, user: string, extra: Partial<BatchCheckItem> = {}): BatchCheckItem => ({
    correlationId,
    object,
    relation,
    user,
    ...extra,
  });

  it("answers each item under its correlation id", () => {
    const out = engine.batchCheck(ts, [
      item("a", "doc:1", "viewer", "user:anne"),
      item("b", "doc:1", "viewer", "user:bob"),
      item("c", "doc:3", "editor", "user:carl", { context: { x: 1 } }),
      item("d", "doc:9", "viewer", "user:zoe", { contextualTuples: [T("doc:9", "viewer", "user:zoe")] }),
    ]);
    assert.deepEqual(Object.fromEntries(out), {
      a: { allowed: true },
      b: { allowed: false },
      c: { allowed: true },
      d: { allowed: true },
    });
  });

  it("an item's error is reported for that item only", () => {
    const out = engine.batchCheck(ts, [
      item("ok", "doc:3", "owner", "user:bob"),
      item("bad-rel", "doc:3", "nope", "user:bob"),
      item("missing-param", "doc:3", "editor", "user:carl"),
      item("bad-ctx", "doc:9", "viewer", "user:zoe", { contextualTuples: [T("doc:9", "can_view", "user:zoe")] }),
      item("ok2", "doc:public", "viewer", "user:zed"),
    ]);
    assert.deepEqual(out.get("ok"), { allowed: true });
    assert.deepEqual(out.get("ok2"), { allowed: true });
    assert.equal(out.get("bad-rel")?.error?.code, "validation_error");
    assert.equal(out.get("bad-rel")?.error?.openfgaCode, 2000);
    assert.equal(out.get("missing-param")?.error?.code, "condition_missing_parameters");
    assert.equal(out.get("bad-ctx")?.error?.code, "invalid_tuple");
    assert.equal(out.get("bad-ctx")?.error?.openfgaCode, 2027);
    assert.equal(out.get("bad-rel")?.allowed, undefined);
  });

  it("a deep item errors with 2002 while the others answer", () => {
    const tuples: TupleKey[] = [];
    for (let i = 0; i < 40; i++) tuples.push(T(`group:g${i}`, "member", `group:g${i + 1}#member`));
    tuples.push(T("group:g40", "member", "user:deep"));
    const e = engineWith(tuples);
    const out = e.batchCheck(ts, [item("deep", "group:g0", "member", "user:deep"), item("shallow", "group:g39", "member", "user:deep")]);
    assert.equal(out.get("deep")?.error?.openfgaCode, 2002);
    assert.deepEqual(out.get("shallow"), { allowed: true });
  });

  it("contextual tuples of one item are not seen by another", () => {
    const out = engine.batchCheck(ts, [
      item("with", "doc:9", "viewer", "user:zoe", { contextualTuples: [T("doc:9", "viewer", "user:zoe")] }),
      item("without", "doc:9", "viewer", "user:zoe"),
    ]);
    assert.deepEqual(out.get("with"), { allowed: true });
    assert.deepEqual(out.get("without"), { allowed: false });
  });

  it(`accepts ${MAX_BATCH_CHECK} items and refuses more`, () => {
    assert.equal(MAX_BATCH_CHECK, 50);
    const items = (n: number) => Array.from({ length: n }, (_, i) => item(`c${i}`, "doc:3", "owner", "user:bob"));
    assert.equal(engine.batchCheck(ts, items(50)).size, 50);
    throwsCode(() => engine.batchCheck(ts, items(51)), "validation_error", 2000);
  });

  it("refuses an empty batch, duplicate ids and bad ids", () => {
    throwsCode(() => engine.batchCheck(ts, []), "validation_error");
    throwsCode(() => engine.batchCheck(ts, [item("x", "doc:3", "owner", "user:bob"), item("x", "doc:1", "viewer", "user:anne")]), "validation_error");
    throwsCode(() => engine.batchCheck(ts, [item("", "doc:3", "owner", "user:bob")]), "validation_error");
    throwsCode(() => engine.batchCheck(ts, [item("x".repeat(37), "doc:3", "owner", "user:bob")]), "validation_error");
    assert.equal(engine.batchCheck(ts, [item("x".repeat(36), "doc:3", "owner", "user:bob")]).size, 1);
    throwsCode(() => engine.batchCheck(ts, [{ object: "doc:3", relation: "owner", user: "user:bob" } as never]), "validation_error");
    throwsCode(() => engine.batchCheck(ts, null as never), "validation_error");
  });
});
