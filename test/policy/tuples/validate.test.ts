/**
 * Tuple validation against a model, as OpenFGA applies it to writes and contextual tuples:
 * every violation is `invalid_tuple` (OpenFGA code 2027, HTTP 400).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isTenetError } from "../../../src/errors.js";
import { TypeSystem } from "../../../src/policy/model/typesystem.js";
import { parseObject, parseUser, type TupleKey } from "../../../src/policy/tuples/tuple.js";
import { validateTuple } from "../../../src/policy/tuples/validate.js";
import { Engine } from "../../../src/policy/engine/engine.js";

const ts = TypeSystem.from(`model
  schema 1.1
type user
type employee
type group
  relations
    define member: [user, group#member]
    define owner: [user]
type folder
  relations
    define viewer: [user]
type doc
  relations
    define owner: [user]
    define parent: [folder]
    define viewer: [user, user:*, group#member, employee with in_office]
    define editor: [user with in_office]
    define commenter: [user, user with in_office]
    define can_view: viewer or owner
condition in_office(ip: string) {
  ip == "10.0.0.1"
}
`);

const T = (object: string, relation: string, user: string, condition?: TupleKey["condition"]): TupleKey =>
  condition === undefined ? { object, relation, user } : { object, relation, user, condition };

function invalid(t: unknown, reason?: RegExp): void {
  assert.throws(
    () => validateTuple(ts, t as TupleKey),
    (err: unknown) => {
      assert.ok(isTenetError(err), `expected TenetError, got ${String(err)}`);
      assert.equal(err.code, "invalid_tuple", err.message);
      assert.equal(err.openfgaCode, 2027);
      assert.equal(err.status, 400);
      assert.ok(err.details.length >= 1, "details name the tuple");
      if (reason) assert.match(err.message, reason);
      return true;
    },
    `expected ${JSON.stringify(t)} to be invalid`,
  );
}

function valid(t: TupleKey): void {
  assert.doesNotThrow(() => validateTuple(ts, t), `expected ${JSON.stringify(t)} to be valid`);
}

describe("validateTuple: type restrictions", () => {
  it("accepts each allowed form", () => {
    valid(T("doc:1", "viewer", "user:anne"));
    valid(T("doc:1", "viewer", "user:*"));
    valid(T("doc:1", "viewer", "group:eng#member"));
    valid(T("doc:1", "viewer", "employee:e1", { name: "in_office" }));
    valid(T("doc:1", "parent", "folder:f"));
    valid(T("group:eng", "member", "group:eng#member"));
  });

  it("a wildcard where only the type is allowed", () => {
    invalid(T("doc:1", "owner", "user:*"), /type restriction/);
  });

  it("a plain user where only a wildcard or userset is allowed for that type", () => {
    const wildOnly = TypeSystem.from("model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define pub: [user:*]\n");
    assert.throws(() => validateTuple(wildOnly, T("doc:1", "pub", "user:anne")), (e: unknown) => isTenetError(e) && e.code === "invalid_tuple");
    assert.doesNotThrow(() => validateTuple(wildOnly, T("doc:1", "pub", "user:*")));
  });

  it("a userset where only a plain type is allowed", () => {
    invalid(T("doc:1", "owner", "group:eng#member"), /type restriction/);
    invalid(T("doc:1", "parent", "folder:f#viewer"), /type restriction/);
  });

  it("a userset with a relation that is not the one allowed", () => {
    invalid(T("doc:1", "viewer", "group:eng#owner"), /type restriction/);
  });

  it("a userset naming a relation that does not exist on its type", () => {
    invalid(T("doc:1", "viewer", "group:eng#nope"), /group#nope/);
  });

  it("a user of a type the restriction does not list", () => {
    invalid(T("doc:1", "owner", "employee:e1"), /type restriction/);
    invalid(T("doc:1", "parent", "doc:2"), /type restriction/);
  });

  it("a user of a type the model does not define", () => {
    invalid(T("doc:1", "viewer", "robot:r1"), /robot/);
  });

  it("an object of a type the model does not define", () => {
    invalid(T("robot:1", "viewer", "user:anne"), /robot/);
  });

  it("a relation the object's type does not define", () => {
    invalid(T("doc:1", "approver", "user:anne"), /approver/);
    invalid(T("folder:1", "owner", "user:anne"), /owner/);
  });

  it("a relation that is not directly assignable", () => {
    invalid(T("doc:1", "can_view", "user:anne"), /not directly assignable/);
  });
});

describe("validateTuple: conditions", () => {
  it("a condition required by the restriction may not be left out", () => {
    invalid(T("doc:1", "editor", "user:anne"), /type restriction/);
    invalid(T("doc:1", "viewer", "employee:e1"), /type restriction/);
  });

  it("a condition may not be added where the restriction has none", () => {
    invalid(T("doc:1", "owner", "user:anne", { name: "in_office" }), /type restriction/);
    invalid(T("doc:1", "viewer", "user:*", { name: "in_office" }), /type restriction/);
  });

  it("both forms are allowed where the restriction lists both", () => {
    valid(T("doc:1", "commenter", "user:anne"));
    valid(T("doc:1", "commenter", "user:anne", { name: "in_office", context: { ip: "10.0.0.1" } }));
  });

  it("a condition the model does not define", () => {
    invalid(T("doc:1", "editor", "user:anne", { name: "nope" }), /nope/);
  });

  it("a malformed condition", () => {
    invalid({ ...T("doc:1", "editor", "user:anne"), condition: { name: "" } });
    invalid({ ...T("doc:1", "editor", "user:anne"), condition: "in_office" });
    invalid({ ...T("doc:1", "editor", "user:anne"), condition: { name: 5 } });
    invalid({ ...T("doc:1", "editor", "user:anne"), condition: { name: "in_office", context: [1, 2] } }, /context/);
    invalid({ ...T("doc:1", "editor", "user:anne"), condition: { name: "in_office", context: "ip" } }, /context/);
    invalid({ ...T("doc:1", "editor", "user:anne"), condition: { name: "in_office", context: null } }, /context/);
  });

  it("a condition context over 32 KiB", () => {
    invalid(T("doc:1", "editor", "user:anne", { name: "in_office", context: { ip: "x".repeat(33 * 1024) } }), /larger/);
    valid(T("doc:1", "editor", "user:anne", { name: "in_office", context: { ip: "x".repeat(1024) } }));
  });

  it("a null condition counts as no condition", () => {
    valid({ ...T("doc:1", "owner", "user:anne"), condition: null } as unknown as TupleKey);
    invalid({ ...T("doc:1", "editor", "user:anne"), condition: null });
  });
});

describe("validateTuple: object and user syntax", () => {
  it("bad objects", () => {
    for (const object of ["doc", "doc:", ":1", "doc:*", "doc:1#viewer", "doc:a b", "doc:1:2", "doc :1", `doc:${"x".repeat(257)}`, ""]) {
      invalid(T(object, "viewer", "user:anne"));
    }
  });

  it("an id of 256 characters is the longest allowed", () => {
    valid(T(`doc:${"x".repeat(256)}`, "viewer", "user:anne"));
  });

  it("bad users", () => {
    for (const user of ["user", "user:", ":anne", "user:a b", "group:*#member", "group:eng#", "group:eng#member#x", "user:a:b", "#member", "user anne", ""]) {
      invalid(T("doc:1", "viewer", user));
    }
  });

  it("missing or non-string fields, and non-objects", () => {
    invalid({ object: "doc:1", relation: "viewer" });
    invalid({ object: "doc:1", user: "user:anne" });
    invalid({ object: 1, relation: "viewer", user: "user:anne" });
    invalid({ object: "doc:1", relation: ["viewer"], user: "user:anne" });
    invalid(null);
    invalid(undefined);
    invalid("doc:1#viewer@user:anne");
    invalid(42);
  });
});

describe("tuple syntax helpers", () => {
  it("parseObject splits type and id", () => {
    assert.deepEqual(parseObject("doc:2021-budget"), { type: "doc", id: "2021-budget" });
    assert.deepEqual(parseObject("doc:a/b|c"), { type: "doc", id: "a/b|c" });
  });

  it("parseUser distinguishes objects, wildcards and usersets", () => {
    assert.deepEqual(parseUser("user:anne"), { kind: "object", type: "user", id: "anne" });
    assert.deepEqual(parseUser("user:*"), { kind: "wildcard", type: "user" });
    assert.deepEqual(parseUser("group:eng#member"), { kind: "userset", type: "group", id: "eng", relation: "member" });
  });

  it("syntax errors are validation errors with a 400 status", () => {
    for (const bad of ["doc", "doc:", "doc:*"]) {
      assert.throws(() => parseObject(bad), (e: unknown) => isTenetError(e) && e.code === "validation_error" && e.status === 400);
    }
    assert.throws(() => parseUser("user"), (e: unknown) => isTenetError(e) && e.code === "validation_error");
  });
});

describe("contextual tuples are validated with the same rules", () => {
  const engine = new Engine();
  const check = (tuple: TupleKey) => () =>
    engine.check(ts, { object: "doc:1", relation: "viewer", user: "user:anne", contextualTuples: [tuple] });

  it("a contextual tuple that breaks a restriction fails the request with 2027", () => {
    for (const t of [
      T("doc:1", "owner", "user:*"),
      T("doc:1", "can_view", "user:anne"),
      T("doc:1", "editor", "user:anne"),
      T("doc:1", "owner", "user:anne", { name: "in_office" }),
      T("robot:1", "viewer", "user:anne"),
      T("doc:1", "viewer", "group:eng#nope"),
    ]) {
      assert.throws(check(t), (e: unknown) => isTenetError(e) && e.code === "invalid_tuple" && e.openfgaCode === 2027, JSON.stringify(t));
    }
  });

  it("a valid contextual tuple is used", () => {
    assert.equal(check(T("doc:1", "viewer", "user:anne"))().allowed, true);
    assert.equal(engine.check(ts, { object: "doc:1", relation: "viewer", user: "user:anne" }).allowed, false);
  });
});
