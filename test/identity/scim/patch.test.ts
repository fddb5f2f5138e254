/**
 * PATCH semantics on resources (RFC 7644 §3.5.2) without HTTP: the three operations on simple,
 * complex, multi-valued and extension attributes, the clients' variants, and the input that must
 * be refused. The resource passed in is never changed.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ScimError } from "../../../src/api/scim/errors.js";
import { applyPatch, parsePatch } from "../../../src/api/scim/patch.js";
import { GROUP, USER } from "../../../src/api/scim/schemas.js";

const EXT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

const user = () => ({
  schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
  id: "jane",
  userName: "jane",
  name: { givenName: "Jane", familyName: "Doe" },
  active: true,
  emails: [{ value: "jane@work.example", type: "work", primary: true }],
  meta: { resourceType: "User", version: 'W/"1"' },
});

function patch(resource: Record<string, unknown>, ...ops: unknown[]) {
  return applyPatch(resource, parsePatch({ schemas: [PATCH], Operations: ops }, USER), USER);
}

function patchGroup(resource: Record<string, unknown>, ...ops: unknown[]) {
  return applyPatch(resource, parsePatch({ schemas: [PATCH], Operations: ops }, GROUP), GROUP);
}

function refuses(fn: () => unknown, scimType: string) {
  assert.throws(fn, (e: unknown) => e instanceof ScimError && e.status === 400 && e.scimType === scimType);
}

describe("PATCH", () => {
  test("replace without a path: a map of attributes, any case, dotted and qualified keys", () => {
    const u = user();
    const r = patch(u, { op: "Replace", value: { ACTIVE: "false", "name.givenName": "Janet", [`${EXT}:manager`]: "boss", "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "JD" } });
    assert.equal(r.active, false);
    assert.deepEqual(r.name, { givenName: "Janet", familyName: "Doe" });
    assert.deepEqual(r[EXT], { manager: { value: "boss" } });
    assert.equal(r.displayName, "JD");
    assert.equal(u.active, true, "the input is not changed");
  });

  test("replace of a complex attribute keeps the sub-attributes not given", () => {
    const r = patch(user(), { op: "replace", path: "name", value: { familyName: "Roe" } });
    assert.deepEqual(r.name, { givenName: "Jane", familyName: "Roe" });
  });

  test("add to a multi-valued attribute appends, without duplicates; primary moves", () => {
    const r = patch(user(), { op: "add", path: "emails", value: [{ value: "jane@work.example", type: "work" }, { value: "j@new.example", type: "home", primary: "True" }] });
    assert.deepEqual(r.emails, [
      { value: "jane@work.example", type: "work", primary: false },
      { value: "j@new.example", type: "home", primary: true },
    ]);
  });

  test("replace of a multi-valued attribute replaces every value (bare strings are values)", () => {
    const r = patch(user(), { op: "replace", path: "emails", value: [{ value: "only@example.com" }] });
    assert.deepEqual(r.emails, [{ value: "only@example.com" }]);
    assert.deepEqual(patch(user(), { op: "replace", path: "emails", value: ["bare@example.com"] }).emails, [{ value: "bare@example.com" }]);
  });

  test("value paths: replace a sub-attribute of matching values, remove matching values", () => {
    const u = { ...user(), emails: [{ value: "a@x.example", type: "work" }, { value: "b@x.example", type: "home" }] };
    const r = patch(u, { op: "replace", path: 'emails[type eq "home"].value', value: "c@x.example" });
    assert.deepEqual(r.emails, [{ value: "a@x.example", type: "work" }, { value: "c@x.example", type: "home" }]);
    const r2 = patch(u, { op: "remove", path: 'emails[type eq "work"]' });
    assert.deepEqual(r2.emails, [{ value: "b@x.example", type: "home" }]);
    const r3 = patch(u, { op: "remove", path: 'emails[type eq "other"]' });
    assert.deepEqual(r3.emails, u.emails, "removing nothing is not an error");
    const r4 = patch(u, { op: "replace", path: 'emails[type eq "work"]', value: { value: "w@x.example", type: "work", primary: true } });
    assert.deepEqual(r4.emails, [{ value: "w@x.example", type: "work", primary: true }, { value: "b@x.example", type: "home" }]);
  });

  test("remove of the last value leaves the attribute unassigned", () => {
    const r = patch(user(), { op: "remove", path: 'emails[value eq "JANE@work.example"]' });
    assert.equal(r.emails, undefined);
    const r2 = patch(user(), { op: "remove", path: "name.givenName" }, { op: "remove", path: "name.familyName" });
    assert.equal(r2.name, undefined);
  });

  test("the manager: a bare id, an object, an array of one; removal drops the extension", () => {
    for (const value of ["m1", { value: "m1" }, [{ value: "m1", $ref: null }]]) {
      const r = patch(user(), { op: "add", path: `${EXT}:manager`, value });
      assert.deepEqual(r[EXT], { manager: { value: "m1" } }, JSON.stringify(value));
    }
    const withManager = { ...user(), [EXT]: { manager: { value: "m1" } } };
    assert.equal(patch(withManager, { op: "remove", path: `${EXT}:manager` })[EXT], undefined);
    assert.equal(patch(withManager, { op: "remove", path: EXT })[EXT], undefined);
    assert.deepEqual(patch(user(), { op: "replace", path: EXT, value: { manager: { value: "m2" } } })[EXT], { manager: { value: "m2" } });
  });

  test("group members: add, remove by filter, remove by value (Entra), remove all", () => {
    const g = { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], id: "g", displayName: "G", members: [{ value: "a" }, { value: "b" }] };
    assert.deepEqual(patchGroup(g, { op: "add", path: "members", value: [{ value: "c", display: "C" }, { value: "a" }] }).members, [{ value: "a" }, { value: "b" }, { value: "c" }]);
    assert.deepEqual(patchGroup(g, { op: "remove", path: 'members[value eq "a"]' }).members, [{ value: "b" }]);
    assert.deepEqual(patchGroup(g, { op: "Remove", path: "members", value: [{ $ref: null, value: "b" }] }).members, [{ value: "a" }]);
    assert.equal(patchGroup(g, { op: "remove", path: "members" }).members, undefined);
    assert.deepEqual(patchGroup(g, { op: "replace", path: "members", value: [{ value: "z" }] }).members, [{ value: "z" }]);
    // Okta's rename: the read-only id in the map is ignored.
    assert.equal(patchGroup(g, { op: "replace", value: { id: "g", displayName: "New" } }).displayName, "New");
    assert.equal(patchGroup(g, { op: "replace", value: { id: "other", displayName: "New" } }).id, "g");
  });

  test("operations on attributes Tenet does not keep change nothing", () => {
    const u = user();
    assert.deepEqual(patch(u, { op: "add", path: "title", value: "CEO" }, { op: "replace", value: { nickName: "J", password: "x" } }, { op: "remove", path: 'phoneNumbers[type eq "work"]' }), u);
  });

  test("refused: bad messages, paths and values", () => {
    refuses(() => parsePatch(null, USER), "invalidSyntax");
    refuses(() => parsePatch({ Operations: {} }, USER), "invalidSyntax");
    refuses(() => parsePatch({ schemas: ["urn:x"], Operations: [{ op: "add", path: "title", value: 1 }] }, USER), "invalidSyntax");
    refuses(() => parsePatch({ Operations: [{ op: "copy", path: "title" }] }, USER), "invalidSyntax");
    refuses(() => parsePatch({ Operations: [{ op: "add", path: "displayName" }] }, USER), "invalidSyntax");
    refuses(() => parsePatch({ Operations: [{ op: "remove", path: "" }] }, USER), "noTarget");
    refuses(() => parsePatch({ Operations: [{ op: "add", path: 7, value: 1 }] }, USER), "invalidPath");
    refuses(() => patch(user(), { op: "add", value: "not a map" }), "invalidValue");
    refuses(() => patch(user(), { op: "replace", path: "meta.version", value: 'W/"9"' }), "mutability");
    refuses(() => patch(user(), { op: "replace", path: "displayName", value: { a: 1 } }), "invalidValue");
    refuses(() => patch(user(), { op: "replace", path: "name", value: "Jane" }), "invalidValue");
    refuses(() => patch(user(), { op: "replace", path: "emails", value: [7] }), "invalidValue");
    refuses(() => patch(user(), { op: "replace", path: `${EXT}:manager`, value: [{ value: "a" }, { value: "b" }] }), "invalidValue");
    refuses(() => patch(user(), { op: "replace", path: 'emails[type eq "home"]', value: { value: "h@x.example" } }), "noTarget");
  });
});
