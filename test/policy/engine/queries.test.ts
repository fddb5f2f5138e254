/**
 * Expand, ListObjects and ListUsers on the engine: OpenFGA's UsersetTree shape, wildcards,
 * userset filters, contextual tuples, limits and request validation.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isTenetError, type TenetErrorCode } from "../../../src/errors.js";
import { TypeSystem } from "../../../src/policy/model/typesystem.js";
import type { TupleKey } from "../../../src/policy/tuples/tuple.js";
import { T, engineWith } from "../helpers.js";

const ts = TypeSystem.from(`model
  schema 1.1
type user
type group
  relations
    define member: [user, user:*, group#member]
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
condition in_range(x: int) {
  x < 5
}
`);


const TUPLES: TupleKey[] = [
  T("group:eng", "member", "user:anne"),
  T("group:eng", "member", "user:beth"),
  T("group:all", "member", "group:eng#member"),
  T("group:all", "member", "user:carl"),
  T("group:everyone", "member", "user:*"),
  T("folder:root", "viewer", "group:all#member"),
  T("folder:root", "owner", "user:olga"),
  T("folder:sub", "parent", "folder:root"),
  T("doc:1", "parent", "folder:sub"),
  T("doc:1", "viewer", "user:dan"),
  T("doc:1", "viewer", "user:*"),
  T("doc:1", "blocked", "user:beth"),
  T("doc:2", "owner", "user:anne"),
  T("doc:2", "approver", "user:anne"),
  T("doc:2", "approver", "user:dan"),
  T("doc:3", "viewer", "group:everyone#member"),
  T("doc:4", "editor", "user:erin", { name: "in_range" }),
];
const engine = engineWith(TUPLES);
const sorted = (a: string[]): string[] => [...a].sort();

function throwsCode(fn: () => unknown, code: TenetErrorCode, openfgaCode?: number): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isTenetError(err), `expected TenetError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (openfgaCode !== undefined) assert.equal(err.openfgaCode, openfgaCode);
    assert.ok(err.status >= 400 && err.status < 500);
    return true;
  });
}

describe("expand: OpenFGA's UsersetTree", () => {
  it("a direct relation is a users leaf with users, wildcards and usersets, sorted", () => {
    assert.deepEqual(engine.expand(ts, { object: "group:all", relation: "member" }), {
      name: "group:all#member",
      leaf: { users: { users: ["group:eng#member", "user:carl"] } },
    });
    assert.deepEqual(engine.expand(ts, { object: "group:everyone", relation: "member" }), {
      name: "group:everyone#member",
      leaf: { users: { users: ["user:*"] } },
    });
  });

  it("a union has a node per child: this, computed and tuple-to-userset leaves", () => {
    assert.deepEqual(engine.expand(ts, { object: "doc:1", relation: "viewer" }), {
      name: "doc:1#viewer",
      union: {
        nodes: [
          { name: "doc:1#viewer", leaf: { users: { users: ["user:*", "user:dan"] } } },
          { name: "doc:1#viewer", leaf: { computed: { userset: "doc:1#editor" } } },
          { name: "doc:1#viewer", leaf: { tupleToUserset: { tupleset: "doc:1#parent", computed: [{ userset: "folder:sub#viewer" }] } } },
        ],
      },
    });
  });

  it("a difference has base and subtract", () => {
    assert.deepEqual(engine.expand(ts, { object: "doc:1", relation: "can_view" }), {
      name: "doc:1#can_view",
      difference: {
        base: { name: "doc:1#can_view", leaf: { computed: { userset: "doc:1#viewer" } } },
        subtract: { name: "doc:1#can_view", leaf: { computed: { userset: "doc:1#blocked" } } },
      },
    });
  });

  it("an intersection has a node per child", () => {
    assert.deepEqual(engine.expand(ts, { object: "doc:2", relation: "can_approve" }), {
      name: "doc:2#can_approve",
      intersection: {
        nodes: [
          { name: "doc:2#can_approve", leaf: { computed: { userset: "doc:2#editor" } } },
          { name: "doc:2#can_approve", leaf: { computed: { userset: "doc:2#approver" } } },
        ],
      },
    });
  });

  it("a tuple-to-userset leaf lists every parent's userset", () => {
    const e = engineWith([...TUPLES, T("doc:1", "parent", "folder:root")]);
    const tree = e.expand(ts, { object: "doc:1", relation: "viewer" });
    const ttu = tree.union?.nodes[2]?.leaf;
    assert.deepEqual(ttu, { tupleToUserset: { tupleset: "doc:1#parent", computed: [{ userset: "folder:root#viewer" }, { userset: "folder:sub#viewer" }] } });
  });

  it("an object without tuples expands to empty leaves", () => {
    const tree = engine.expand(ts, { object: "doc:none", relation: "viewer" });
    assert.deepEqual(tree.union?.nodes[0], { name: "doc:none#viewer", leaf: { users: { users: [] } } });
    assert.deepEqual(tree.union?.nodes[2], { name: "doc:none#viewer", leaf: { tupleToUserset: { tupleset: "doc:none#parent", computed: [] } } });
  });

  it("contextual tuples appear in the leaves for that request only", () => {
    const node = engine.expand(ts, { object: "group:all", relation: "member", contextualTuples: [T("group:all", "member", "user:zoe")] });
    assert.deepEqual(node.leaf, { users: { users: ["group:eng#member", "user:carl", "user:zoe"] } });
    assert.deepEqual(engine.expand(ts, { object: "group:all", relation: "member" }).leaf, { users: { users: ["group:eng#member", "user:carl"] } });
  });

  it("unknown types and relations use OpenFGA's codes", () => {
    throwsCode(() => engine.expand(ts, { object: "robot:1", relation: "viewer" }), "type_not_found", 2021);
    throwsCode(() => engine.expand(ts, { object: "doc:1", relation: "nope" }), "relation_not_found", 2022);
    throwsCode(() => engine.expand(ts, { object: "doc", relation: "viewer" }), "validation_error");
  });
});

describe("listObjects", () => {
  const lo = (type: string, relation: string, user: string, extra: Record<string, unknown> = {}) =>
    sorted(engine.listObjects(ts, { type, relation, user, ...extra }));

  it("finds objects through usersets, computed relations and parents", () => {
    // anne: eng → all → folder:root viewer → folder:sub → doc:1; owner of doc:2; everyone → doc:3; doc:1 is also public.
    assert.deepEqual(lo("doc", "viewer", "user:anne"), ["doc:1", "doc:2", "doc:3"]);
    assert.deepEqual(lo("folder", "viewer", "user:anne"), ["folder:root", "folder:sub"]);
    assert.deepEqual(lo("folder", "viewer", "user:olga"), ["folder:root", "folder:sub"]);
    assert.deepEqual(lo("group", "member", "user:anne"), ["group:all", "group:eng", "group:everyone"]);
  });

  it("a user reached only through wildcards gets the public objects", () => {
    assert.deepEqual(lo("doc", "viewer", "user:stranger"), ["doc:1", "doc:3"]);
    assert.deepEqual(lo("group", "member", "user:stranger"), ["group:everyone"]);
  });

  it("the wildcard as the user gets only what is granted to the wildcard", () => {
    assert.deepEqual(lo("doc", "viewer", "user:*"), ["doc:1", "doc:3"]);
    assert.deepEqual(lo("doc", "owner", "user:*"), []);
  });

  it("a userset as the user", () => {
    assert.deepEqual(lo("folder", "viewer", "group:eng#member"), ["folder:root", "folder:sub"]);
    assert.deepEqual(lo("doc", "viewer", "group:eng#member"), ["doc:1"]);
    assert.deepEqual(lo("doc", "viewer", "group:nobody#member"), []);
  });

  it("a userset user includes its own object (reflexive, OpenFGA #1526)", () => {
    assert.deepEqual(lo("group", "member", "group:eng#member"), ["group:all", "group:eng"]);
    assert.deepEqual(lo("group", "member", "group:fresh#member"), ["group:fresh"]);
  });

  it("exclusions and intersections are applied", () => {
    assert.deepEqual(lo("doc", "can_view", "user:beth"), ["doc:3"], "beth is blocked on doc:1");
    assert.deepEqual(lo("doc", "can_view", "user:anne"), ["doc:1", "doc:2", "doc:3"]);
    assert.deepEqual(lo("doc", "can_approve", "user:anne"), ["doc:2"]);
    assert.deepEqual(lo("doc", "can_approve", "user:dan"), []);
  });

  it("contextual tuples add objects for the request only", () => {
    const ctx = [T("doc:9", "viewer", "user:zoe"), T("folder:new", "parent", "folder:root"), T("doc:10", "parent", "folder:new")];
    assert.deepEqual(lo("doc", "viewer", "user:zoe", { contextualTuples: ctx }), ["doc:1", "doc:3", "doc:9"]);
    assert.deepEqual(lo("doc", "viewer", "user:anne", { contextualTuples: ctx }), ["doc:1", "doc:10", "doc:2", "doc:3"]);
    assert.deepEqual(lo("doc", "viewer", "user:zoe"), ["doc:1", "doc:3"]);
    assert.deepEqual(lo("doc", "can_view", "user:anne", { contextualTuples: [T("doc:2", "blocked", "user:anne")] }), ["doc:1", "doc:3"]);
  });

  it("conditions use the request context", () => {
    assert.deepEqual(lo("doc", "editor", "user:erin", { context: { x: 1 } }), ["doc:4"]);
    assert.deepEqual(lo("doc", "editor", "user:erin", { context: { x: 9 } }), []);
  });

  it("maxResults caps the answer without duplicates", () => {
    const tuples = Array.from({ length: 30 }, (_, i) => T(`doc:m${i}`, "viewer", "user:many"));
    const e = engineWith([...tuples, ...tuples.map((t) => T(t.object, "owner", "user:many"))]);
    const all = e.listObjects(ts, { type: "doc", relation: "viewer", user: "user:many" });
    assert.equal(all.length, 30);
    assert.equal(new Set(all).size, 30);
    const few = e.listObjects(ts, { type: "doc", relation: "viewer", user: "user:many", maxResults: 7 });
    assert.equal(few.length, 7);
    assert.equal(new Set(few).size, 7);
    for (const o of few) assert.ok(all.includes(o));
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      throwsCode(() => e.listObjects(ts, { type: "doc", relation: "viewer", user: "user:many", maxResults: bad }), "validation_error");
    }
  });

  it("validates the request with OpenFGA's codes", () => {
    throwsCode(() => engine.listObjects(ts, { type: "robot", relation: "viewer", user: "user:anne" }), "type_not_found", 2021);
    throwsCode(() => engine.listObjects(ts, { type: "doc", relation: "nope", user: "user:anne" }), "relation_not_found", 2022);
    throwsCode(() => engine.listObjects(ts, { type: "doc", relation: "viewer", user: "robot:1" }), "validation_error", 2000);
    throwsCode(() => engine.listObjects(ts, { type: "doc", relation: "viewer", user: "anne" }), "validation_error");
    throwsCode(() => engine.listObjects(ts, { type: "doc", relation: "viewer", user: "user:anne", contextualTuples: [T("doc:1", "can_view", "user:anne")] }), "invalid_tuple", 2027);
  });

  it("a cycle of usersets terminates", () => {
    const e = engineWith([T("group:a", "member", "group:b#member"), T("group:b", "member", "group:a#member"), T("group:b", "member", "user:zoe")]);
    assert.deepEqual(sorted(e.listObjects(ts, { type: "group", relation: "member", user: "user:zoe" })), ["group:a", "group:b"]);
    assert.deepEqual(e.listObjects(ts, { type: "group", relation: "member", user: "user:nobody" }), []);
  });
});

describe("listUsers", () => {
  const lu = (object: string, relation: string, filter: { type: string; relation?: string }, extra: Record<string, unknown> = {}) =>
    sorted(engine.listUsers(ts, { object, relation, userFilters: [filter], ...extra }));

  it("users through usersets, computed relations and parents", () => {
    assert.deepEqual(lu("folder:root", "viewer", { type: "user" }), ["user:anne", "user:beth", "user:carl", "user:olga"]);
    assert.deepEqual(lu("doc:2", "viewer", { type: "user" }), ["user:anne"]);
    assert.deepEqual(lu("group:all", "member", { type: "user" }), ["user:anne", "user:beth", "user:carl"]);
  });

  it("wildcards are returned as type:*", () => {
    assert.deepEqual(lu("group:everyone", "member", { type: "user" }), ["user:*"]);
    assert.deepEqual(lu("doc:1", "viewer", { type: "user" }), ["user:*", "user:anne", "user:beth", "user:carl", "user:dan", "user:olga"]);
    assert.deepEqual(lu("doc:3", "viewer", { type: "user" }), ["user:*"]);
  });

  it("exclusions and intersections are applied", () => {
    const users = lu("doc:1", "can_view", { type: "user" });
    assert.ok(!users.includes("user:beth"), JSON.stringify(users));
    assert.ok(users.includes("user:anne"));
    assert.deepEqual(lu("doc:2", "can_approve", { type: "user" }), ["user:anne"]);
  });

  it("a userset filter returns the usersets, nested ones included", () => {
    assert.deepEqual(lu("folder:root", "viewer", { type: "group", relation: "member" }), ["group:all#member", "group:eng#member"]);
    assert.deepEqual(lu("doc:1", "viewer", { type: "group", relation: "member" }), ["group:all#member", "group:eng#member"]);
    assert.deepEqual(lu("doc:2", "viewer", { type: "group", relation: "member" }), []);
  });

  it("a type filter does not return usersets, nor objects of other types", () => {
    assert.deepEqual(lu("folder:root", "viewer", { type: "group" }), []);
    assert.deepEqual(lu("doc:1", "parent", { type: "folder" }), ["folder:sub"]);
  });

  it("the object's own userset is returned for a matching filter (reflexive, OpenFGA #1526)", () => {
    assert.deepEqual(lu("group:eng", "member", { type: "group", relation: "member" }), ["group:eng#member"]);
    assert.deepEqual(lu("group:unwritten", "member", { type: "group", relation: "member" }), ["group:unwritten#member"]);
  });

  it("an object the store has never seen has no users and does not crash", () => {
    assert.deepEqual(lu("doc:unwritten", "viewer", { type: "user" }), []);
    assert.deepEqual(lu("doc:unwritten", "viewer", { type: "group", relation: "member" }), []);
  });

  it("contextual tuples add users for the request only", () => {
    const ctx = [T("group:eng", "member", "user:zoe"), T("doc:2", "viewer", "group:eng#member")];
    assert.deepEqual(lu("doc:2", "viewer", { type: "user" }, { contextualTuples: ctx }), ["user:anne", "user:beth", "user:zoe"]);
    assert.deepEqual(lu("doc:2", "viewer", { type: "user" }), ["user:anne"]);
    assert.deepEqual(lu("group:eng", "member", { type: "user" }), ["user:anne", "user:beth"]);
  });

  it("conditions use the request context", () => {
    assert.deepEqual(lu("doc:4", "editor", { type: "user" }, { context: { x: 1 } }), ["user:erin"]);
    assert.deepEqual(lu("doc:4", "editor", { type: "user" }, { context: { x: 7 } }), []);
  });

  it("maxResults caps the answer", () => {
    const all = lu("doc:1", "viewer", { type: "user" });
    const few = engine.listUsers(ts, { object: "doc:1", relation: "viewer", userFilters: [{ type: "user" }], maxResults: 2 });
    assert.equal(few.length, 2);
    for (const u of few) assert.ok(all.includes(u));
    throwsCode(() => engine.listUsers(ts, { object: "doc:1", relation: "viewer", userFilters: [{ type: "user" }], maxResults: 0 }), "validation_error");
  });

  it("needs exactly one filter, of a known type and relation", () => {
    throwsCode(() => engine.listUsers(ts, { object: "doc:1", relation: "viewer", userFilters: [] }), "validation_error");
    throwsCode(() => engine.listUsers(ts, { object: "doc:1", relation: "viewer", userFilters: [{ type: "user" }, { type: "group" }] }), "validation_error");
    throwsCode(() => engine.listUsers(ts, { object: "doc:1", relation: "viewer", userFilters: [{ type: "robot" }] }), "type_not_found", 2021);
    throwsCode(() => engine.listUsers(ts, { object: "doc:1", relation: "viewer", userFilters: [{ type: "group", relation: "nope" }] }), "relation_not_found", 2022);
    throwsCode(() => engine.listUsers(ts, { object: "robot:1", relation: "viewer", userFilters: [{ type: "user" }] }), "type_not_found");
    throwsCode(() => engine.listUsers(ts, { object: "doc:1", relation: "nope", userFilters: [{ type: "user" }] }), "relation_not_found");
  });

  it("a cycle terminates and a chain deeper than 25 is 2002", () => {
    const cyc = engineWith([T("group:a", "member", "group:b#member"), T("group:b", "member", "group:a#member"), T("group:b", "member", "user:zoe")]);
    assert.deepEqual(cyc.listUsers(ts, { object: "group:a", relation: "member", userFilters: [{ type: "user" }] }), ["user:zoe"]);
    const deep: TupleKey[] = [];
    for (let i = 0; i < 40; i++) deep.push(T(`group:g${i}`, "member", `group:g${i + 1}#member`));
    deep.push(T("group:g40", "member", "user:deep"));
    const e = engineWith(deep);
    throwsCode(() => e.listUsers(ts, { object: "group:g0", relation: "member", userFilters: [{ type: "user" }] }), "resolution_too_complex", 2002);
  });
});
