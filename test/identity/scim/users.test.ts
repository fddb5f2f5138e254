/**
 * /scim/v2/Users driven over HTTP with the request bodies Okta and Entra ID send: provisioning,
 * lookups by filter, replacement, deprovisioning (active: false, Entra's "False"), deletion,
 * uniqueness, preconditions and pagination.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ENTERPRISE, ERROR_SCHEMA, LIST_RESPONSE, USER_SCHEMA, type ScimServer, entraUser, oktaUser, patchOp, q, startScim } from "./harness.js";

let s: ScimServer;
before(async () => {
  s = await startScim();
});
after(async () => {
  await s.close();
});

function assertScimError(r: { status: number; json: any; headers: Headers }, status: number, scimType?: string) { // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.deepEqual(r.json.schemas, [ERROR_SCHEMA]);
  assert.equal(r.json.status, String(status));
  assert.equal(r.json.scimType, scimType);
  assert.equal(typeof r.json.detail, "string");
  assert.match(r.headers.get("content-type") ?? "", /^application\/scim\+json/);
}

describe("Okta provisioning", () => {
  let id = "";

  test("looks the user up first: an empty ListResponse", async () => {
    const r = await s.scim("GET", "/Users" + q({ filter: 'userName eq "jane.doe@example.com"', startIndex: 1, count: 100 }));
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /^application\/scim\+json/);
    assert.deepEqual(r.json, { schemas: [LIST_RESPONSE], totalResults: 0, itemsPerPage: 0, startIndex: 1, Resources: [] });
  });

  test("creates the user (the password and locale are ignored)", async () => {
    const r = await s.scim("POST", "/Users", { body: oktaUser("jane.doe@example.com") });
    assert.equal(r.status, 201, r.text);
    id = r.json.id;
    assert.equal(r.json.userName, "jane.doe@example.com");
    assert.deepEqual(r.json.name, { formatted: "jane doe", givenName: "jane", familyName: "doe" });
    assert.deepEqual(r.json.emails, [{ value: "jane.doe@example.com", type: "work", primary: true }]);
    assert.equal(r.json.active, true);
    assert.equal(r.json.password, undefined);
    assert.equal(r.json.meta.resourceType, "User");
    assert.equal(r.json.meta.location, `${s.url}/scim/v2/Users/${encodeURIComponent(id)}`);
    assert.equal(r.headers.get("location"), r.json.meta.location);
    assert.equal(r.headers.get("etag"), r.json.meta.version);
    assert.match(r.json.meta.version, /^W\/"\d+"$/);
    const u = await s.directory.getUser(id);
    assert.equal(u?.username, "jane.doe@example.com");
    assert.equal(u?.email, "jane.doe@example.com");
    assert.equal(u?.externalId, oktaUser("jane.doe@example.com").externalId);
    assert.equal(u?.status, "invited");
  });

  test("finds it by userName, regardless of case", async () => {
    const r = await s.scim("GET", "/Users" + q({ filter: 'userName eq "Jane.Doe@EXAMPLE.com"', startIndex: 1, count: 100 }));
    assert.equal(r.status, 200);
    assert.equal(r.json.totalResults, 1);
    assert.equal(r.json.Resources[0].id, id);
    assert.equal(r.json.Resources[0].active, true);
  });

  test("reads it by id with its ETag", async () => {
    const r = await s.scim("GET", `/Users/${id}`);
    assert.equal(r.status, 200);
    assert.equal(r.json.id, id);
    assert.equal(r.headers.get("etag"), r.json.meta.version);
  });

  test("replaces it with PUT (Okta sends the whole user back)", async () => {
    const cur = (await s.scim("GET", `/Users/${id}`)).json;
    const body = { ...cur, name: { givenName: "Janet", familyName: "Doe" }, emails: [{ primary: true, value: "janet.doe@example.com", type: "work" }], displayName: "Janet Doe" };
    const r = await s.scim("PUT", `/Users/${id}`, { body });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.name.givenName, "Janet");
    assert.equal(r.json.displayName, "Janet Doe");
    const u = await s.directory.getUser(id);
    assert.equal(u?.email, "janet.doe@example.com");
    assert.equal(u?.givenName, "Janet");
    // The old address is free again; the new one is found.
    const byMail = await s.scim("GET", "/Users" + q({ filter: 'emails.value eq "janet.doe@example.com"' }));
    assert.equal(byMail.json.totalResults, 1);
    assert.equal((await s.scim("GET", "/Users" + q({ filter: 'emails.value eq "jane.doe@example.com"' }))).json.totalResults, 0);
  });

  test("deactivates with replace {active:false}: the account is suspended", async () => {
    const r = await s.scim("PATCH", `/Users/${id}`, { body: patchOp({ op: "replace", value: { active: false } }) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.active, false);
    assert.equal((await s.directory.getUser(id))?.status, "suspended");
    assert.ok(s.events.some((e) => e.type === "user.suspended" && e.userId === id));
    // Still listed (deprovisioned, not deleted), as inactive.
    const found = await s.scim("GET", "/Users" + q({ filter: 'userName eq "jane.doe@example.com"' }));
    assert.equal(found.json.Resources[0].active, false);
  });

  test("reactivates with replace {active:true}", async () => {
    const r = await s.scim("PATCH", `/Users/${id}`, { body: patchOp({ op: "replace", value: { active: true } }) });
    assert.equal(r.status, 200);
    assert.equal(r.json.active, true);
    assert.notEqual((await s.directory.getUser(id))?.status, "suspended");
    assert.ok(s.events.some((e) => e.type === "user.reactivated" && e.userId === id));
  });

  test("deletes it", async () => {
    const r = await s.scim("DELETE", `/Users/${id}`);
    assert.equal(r.status, 204);
    assert.equal(r.text, "");
    assert.equal(await s.directory.getUser(id), undefined);
    assertScimError(await s.scim("GET", `/Users/${id}`), 404);
    assertScimError(await s.scim("DELETE", `/Users/${id}`), 404);
    assert.ok(s.events.some((e) => e.type === "user.deleted" && e.userId === id));
  });
});

describe("Entra ID provisioning", () => {
  let id = "";
  const ext = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef";

  test("creates the user from Entra's body (enterprise schema, roles, meta)", async () => {
    const r = await s.scim("POST", "/Users", { body: entraUser("Test_User_ab6490ee@testuser.com", ext) });
    assert.equal(r.status, 201, r.text);
    id = r.json.id;
    assert.equal(r.json.externalId, ext);
    assert.equal(r.json.roles, undefined);
    assert.deepEqual(r.json.schemas, [USER_SCHEMA]);
  });

  test("finds it by externalId (exact case) and by the work e-mail filter Entra uses", async () => {
    const r = await s.scim("GET", "/Users" + q({ filter: `externalId eq "${ext}"` }));
    assert.equal(r.json.totalResults, 1);
    assert.equal(r.json.Resources[0].id, id);
    assert.equal((await s.scim("GET", "/Users" + q({ filter: `externalId eq "${ext.toUpperCase()}"` }))).json.totalResults, 0);
    const byMail = await s.scim("GET", "/Users" + q({ filter: 'emails[type eq "work"].value eq "test_user_ab6490ee@testuser.com"' }));
    assert.equal(byMail.json.totalResults, 1);
    const rfcForm = await s.scim("GET", "/Users" + q({ filter: 'emails[type eq "work" and value eq "Test_User_ab6490ee@testuser.com"]' }));
    assert.equal(rfcForm.json.totalResults, 1);
    const home = await s.scim("GET", "/Users" + q({ filter: 'emails[type eq "home"].value eq "Test_User_ab6490ee@testuser.com"' }));
    assert.equal(home.json.totalResults, 0);
  });

  test("updates with capitalised ops and value paths", async () => {
    const r = await s.scim("PATCH", `/Users/${id}`, {
      body: patchOp(
        { op: "Replace", path: 'emails[type eq "work"].value', value: "updatedEmail@microsoft.com" },
        { op: "Replace", path: "name.familyName", value: "updatedFamilyName" },
        { op: "Add", path: "displayName", value: "Updated Display" },
        { op: "Add", path: "title", value: "not stored" },
      ),
    });
    assert.equal(r.status, 200, r.text);
    const u = await s.directory.getUser(id);
    assert.equal(u?.email, "updatedEmail@microsoft.com");
    assert.equal(u?.familyName, "updatedFamilyName");
    assert.equal(u?.displayName, "Updated Display");
    assert.equal(r.json.title, undefined);
  });

  test("disables with the string \"False\" (and enables with \"True\")", async () => {
    const off = await s.scim("PATCH", `/Users/${id}`, { body: patchOp({ op: "Replace", path: "active", value: "False" }) });
    assert.equal(off.status, 200, off.text);
    assert.equal(off.json.active, false);
    assert.equal((await s.directory.getUser(id))?.status, "suspended");
    const on = await s.scim("PATCH", `/Users/${id}`, { body: patchOp({ op: "Replace", path: "active", value: "True" }) });
    assert.equal(on.json.active, true);
    assert.notEqual((await s.directory.getUser(id))?.status, "suspended");
  });

  test("sets and removes the manager through the enterprise extension", async () => {
    const boss = await s.scim("POST", "/Users", { body: entraUser("boss@testuser.com", "boss-ext") });
    const add = await s.scim("PATCH", `/Users/${id}`, {
      body: patchOp({ op: "Add", path: `${ENTERPRISE}:manager`, value: boss.json.id }),
    });
    assert.equal(add.status, 200, add.text);
    assert.equal(add.json[ENTERPRISE].manager.value, boss.json.id);
    assert.deepEqual(add.json.schemas, [USER_SCHEMA, ENTERPRISE]);
    assert.equal((await s.directory.getUser(id))?.managerId, boss.json.id);
    const missing = await s.scim("PATCH", `/Users/${id}`, { body: patchOp({ op: "Replace", path: `${ENTERPRISE}:manager`, value: { value: "nobody" } }) });
    assertScimError(missing, 400, "invalidValue");
    const rm = await s.scim("PATCH", `/Users/${id}`, { body: patchOp({ op: "Remove", path: `${ENTERPRISE}:manager` }) });
    assert.equal(rm.status, 200, rm.text);
    assert.equal(rm.json[ENTERPRISE], undefined);
    assert.equal((await s.directory.getUser(id))?.managerId, undefined);
  });

  test("adds a work address to a user who has none", async () => {
    const r = await s.scim("POST", "/Users", { body: { schemas: [USER_SCHEMA], userName: "no-mail@testuser.com", externalId: "no-mail" } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.emails, undefined);
    const p = await s.scim("PATCH", `/Users/${r.json.id}`, { body: patchOp({ op: "Add", path: 'emails[type eq "work"].value', value: "found@testuser.com" }) });
    assert.equal(p.status, 200, p.text);
    assert.equal((await s.directory.getUser(r.json.id))?.email, "found@testuser.com");
  });

  test("deprovisions a user created inactive", async () => {
    const r = await s.scim("POST", "/Users", { body: entraUser("inactive@testuser.com", "inactive-ext", { active: "False" }) });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.active, false);
    assert.equal((await s.directory.getUser(r.json.id))?.status, "suspended");
  });
});

describe("errors", () => {
  test("a duplicate userName (any case) is 409 uniqueness; so is a taken externalId", async () => {
    const first = await s.scim("POST", "/Users", { body: oktaUser("dup.user@example.com") });
    assert.equal(first.status, 201);
    assertScimError(await s.scim("POST", "/Users", { body: oktaUser("DUP.user@example.com", { externalId: "other" }) }), 409, "uniqueness");
    assertScimError(await s.scim("POST", "/Users", { body: oktaUser("dup2.user@example.com", { externalId: first.json.externalId }) }), 409, "uniqueness");
    // Renaming onto a taken name is refused too, and changes nothing.
    const other = await s.scim("POST", "/Users", { body: oktaUser("dup3.user@example.com") });
    assertScimError(await s.scim("PATCH", `/Users/${other.json.id}`, { body: patchOp({ op: "replace", path: "userName", value: "dup.user@example.com" }) }), 409, "uniqueness");
    assert.equal((await s.directory.getUser(other.json.id))?.username, "dup3.user@example.com");
  });

  test("a name freed by a rename can be provisioned again, without disturbing its former owner", async () => {
    const a = await s.scim("POST", "/Users", { body: oktaUser("reuse.me@example.com") });
    assert.equal(a.status, 201);
    const renamed = await s.scim("PATCH", `/Users/${a.json.id}`, { body: patchOp({ op: "replace", path: "userName", value: "moved.on@example.com" }) });
    assert.equal(renamed.status, 200, renamed.text);
    const b = await s.scim("POST", "/Users", { body: oktaUser("reuse.me@example.com", { externalId: "reuse-2", emails: [{ value: "b@example.com", primary: true }] }) });
    assert.equal(b.status, 201, b.text);
    assert.notEqual(b.json.id, a.json.id);
    // The first user keeps its address (taking it is refused) and its new name.
    assertScimError(await s.scim("PATCH", `/Users/${b.json.id}`, { body: patchOp({ op: "replace", path: "emails[primary eq true].value", value: "reuse.me@example.com" }) }), 409, "uniqueness");
    assertScimError(await s.scim("POST", "/Users", { body: oktaUser("moved.on@example.com") }), 409, "uniqueness");
    const byName = await s.scim("GET", "/Users" + q({ filter: 'userName eq "reuse.me@example.com"' }));
    assert.deepEqual(byName.json.Resources.map((r: { id: string }) => r.id), [b.json.id]);
  });

  test("unknown ids are 404 SCIM errors", async () => {
    for (const [method, body] of [["GET"], ["PUT", oktaUser("x.y@example.com")], ["PATCH", patchOp({ op: "replace", value: { active: false } })], ["DELETE"]] as const) {
      assertScimError(await s.scim(method, "/Users/no-such-user", body ? { body } : {}), 404);
    }
    assertScimError(await s.scim("GET", "/Users/%E2%9C%93%20bad"), 404);
  });

  test("bad bodies are 400s with a scimType, and change nothing", async () => {
    const u = await s.scim("POST", "/Users", { body: oktaUser("bad.body@example.com") });
    const id = u.json.id;
    assertScimError(await s.scim("POST", "/Users", { body: { schemas: [USER_SCHEMA], name: { givenName: "No" } } }), 400, "invalidValue");
    assertScimError(await s.scim("POST", "/Users", { body: { userName: 42 } }), 400, "invalidValue");
    assertScimError(await s.scim("POST", "/Users", { body: { userName: "x@example.com", emails: [{ value: "not an address" }] } }), 400, "invalidValue");
    assertScimError(await s.scim("POST", "/Users", { body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], userName: "g" } }), 400, "invalidValue");
    assertScimError(await s.scim("POST", "/Users", { body: [oktaUser("arr@example.com")] }), 400, "invalidSyntax");
    assertScimError(await s.scim("PATCH", `/Users/${id}`, { body: patchOp({ op: "replace", path: "active", value: "maybe" }) }), 400, "invalidValue");
    assertScimError(await s.scim("PATCH", `/Users/${id}`, { body: patchOp({ op: "move", path: "active", value: false }) }), 400, "invalidSyntax");
    assertScimError(await s.scim("PATCH", `/Users/${id}`, { body: patchOp({ op: "remove" }) }), 400, "noTarget");
    assertScimError(await s.scim("PATCH", `/Users/${id}`, { body: patchOp({ op: "add", path: "groups", value: [{ value: "g" }] }) }), 400, "mutability");
    assertScimError(await s.scim("PATCH", `/Users/${id}`, { body: patchOp({ op: "replace", path: "id", value: "other" }) }), 400, "mutability");
    assertScimError(await s.scim("PATCH", `/Users/${id}`, { body: patchOp({ op: "replace", path: 'emails[type eq "home"]', value: { value: "h@example.com" } }) }), 400, "noTarget");
    assertScimError(await s.scim("PATCH", `/Users/${id}`, { body: patchOp({ op: "replace", path: "emails[type eq ]", value: "x" }) }), 400, "invalidPath");
    assertScimError(await s.scim("PATCH", `/Users/${id}`, { body: patchOp({ op: "remove", path: "userName" }) }), 400, "invalidValue");
    assertScimError(await s.scim("PATCH", `/Users/${id}`, { body: { schemas: ["urn:wrong"], Operations: [] } }), 400, "invalidSyntax");
    assertScimError(await s.scim("PATCH", `/Users/${id}`, { body: patchOp() }), 400, "invalidSyntax");
    // A valid operation followed by a bad one: nothing is applied.
    assertScimError(
      await s.scim("PATCH", `/Users/${id}`, { body: patchOp({ op: "replace", path: "displayName", value: "Changed" }, { op: "replace", path: "userName", value: 7 }) }),
      400,
      "invalidValue",
    );
    const after = await s.directory.getUser(id);
    assert.equal(after?.displayName, "bad body");
    assert.equal(after?.version, u.json.meta.version.match(/\d+/)[0] * 1);
  });

  test("removing a value Tenet cannot clear is refused, not silently ignored", async () => {
    const u = await s.scim("POST", "/Users", { body: oktaUser("clear.me@example.com") });
    assertScimError(await s.scim("PATCH", `/Users/${u.json.id}`, { body: patchOp({ op: "remove", path: "name.givenName" }) }), 400, "invalidValue");
    assert.equal((await s.directory.getUser(u.json.id))?.givenName, "clear");
  });
});

describe("ETags", () => {
  test("If-Match: a stale version is 412 for PUT, PATCH and DELETE; the current one succeeds", async () => {
    const c = await s.scim("POST", "/Users", { body: oktaUser("etag.user@example.com") });
    const id = c.json.id;
    const v1 = c.headers.get("etag")!;
    const p = await s.scim("PATCH", `/Users/${id}`, { body: patchOp({ op: "replace", path: "displayName", value: "One" }), headers: { "if-match": v1 } });
    assert.equal(p.status, 200, p.text);
    const v2 = p.headers.get("etag")!;
    assert.notEqual(v2, v1);
    assertScimError(await s.scim("PATCH", `/Users/${id}`, { body: patchOp({ op: "replace", path: "displayName", value: "Two" }), headers: { "if-match": v1 } }), 412);
    assertScimError(await s.scim("PUT", `/Users/${id}`, { body: oktaUser("etag.user@example.com", { displayName: "Two" }), headers: { "if-match": v1 } }), 412);
    assertScimError(await s.scim("DELETE", `/Users/${id}`, { headers: { "if-match": v1 } }), 412);
    assert.equal((await s.directory.getUser(id))?.displayName, "One");
    // The strong form of the same version and `*` match.
    const strong = v2.replace(/^W\//, "");
    assert.equal((await s.scim("PUT", `/Users/${id}`, { body: oktaUser("etag.user@example.com", { displayName: "Three" }), headers: { "if-match": strong } })).status, 200);
    assert.equal((await s.scim("DELETE", `/Users/${id}`, { headers: { "if-match": "*" } })).status, 204);
  });

  test("If-None-Match with the current version is 304", async () => {
    const c = await s.scim("POST", "/Users", { body: oktaUser("inm.user@example.com") });
    const r = await s.scim("GET", `/Users/${c.json.id}`, { headers: { "if-none-match": c.headers.get("etag")! } });
    assert.equal(r.status, 304);
    assert.equal((await s.scim("GET", `/Users/${c.json.id}`, { headers: { "if-none-match": 'W/"999"' } })).status, 200);
  });
});

describe("lists", () => {
  let p: ScimServer;
  before(async () => {
    p = await startScim({ maxResults: 5 });
    for (let i = 0; i < 8; i++) {
      const r = await p.scim("POST", "/Users", { body: oktaUser(`page.user${i}@example.com`, { displayName: i % 2 ? "Odd" : "Even" }) });
      assert.equal(r.status, 201);
    }
  });
  after(async () => {
    await p.close();
  });

  test("startIndex and count page through every user, in a stable order", async () => {
    const all = (await p.scim("GET", "/Users" + q({ startIndex: 1, count: 5 }))).json;
    assert.equal(all.totalResults, 8);
    assert.equal(all.itemsPerPage, 5);
    const second = (await p.scim("GET", "/Users" + q({ startIndex: 6, count: 5 }))).json;
    assert.equal(second.totalResults, 8);
    assert.equal(second.startIndex, 6);
    assert.equal(second.itemsPerPage, 3);
    const ids = [...all.Resources, ...second.Resources].map((r: { id: string }) => r.id);
    assert.equal(new Set(ids).size, 8);
    const mid = (await p.scim("GET", "/Users" + q({ startIndex: 3, count: 2 }))).json;
    assert.deepEqual(mid.Resources.map((r: { id: string }) => r.id), ids.slice(2, 4));
    const past = (await p.scim("GET", "/Users" + q({ startIndex: 20 }))).json;
    assert.equal(past.totalResults, 8);
    assert.deepEqual(past.Resources, []);
  });

  test("count is capped at maxResults, count=0 only counts, startIndex<1 is 1", async () => {
    const capped = (await p.scim("GET", "/Users" + q({ count: 1000 }))).json;
    assert.equal(capped.itemsPerPage, 5);
    const zero = (await p.scim("GET", "/Users" + q({ count: 0 }))).json;
    assert.equal(zero.totalResults, 8);
    assert.deepEqual(zero.Resources, []);
    assert.equal((await p.scim("GET", "/Users" + q({ startIndex: -4, count: 1 }))).json.startIndex, 1);
    assertScimError(await p.scim("GET", "/Users" + q({ count: "ten" })), 400, "invalidValue");
    assertScimError(await p.scim("GET", "/Users?count=1&count=2"), 400, "invalidValue");
  });

  test("a filter without an index is evaluated on every user, and paged", async () => {
    const odd = (await p.scim("GET", "/Users" + q({ filter: 'displayName eq "odd"', count: 2 }))).json;
    assert.equal(odd.totalResults, 4);
    assert.equal(odd.Resources.length, 2);
    assert.ok(odd.Resources.every((r: { displayName: string }) => r.displayName === "Odd"));
    const both = (await p.scim("GET", "/Users" + q({ filter: 'displayName eq "Odd" and userName eq "page.user1@example.com"' }))).json;
    assert.equal(both.totalResults, 1);
    const none = (await p.scim("GET", "/Users" + q({ filter: 'displayName eq "Even" and userName eq "page.user1@example.com"' }))).json;
    assert.equal(none.totalResults, 0);
    const active = (await p.scim("GET", "/Users" + q({ filter: "active eq true" }))).json;
    assert.equal(active.totalResults, 8);
  });

  test("attributes and excludedAttributes shape the resources", async () => {
    const only = (await p.scim("GET", "/Users" + q({ filter: 'userName eq "page.user1@example.com"', attributes: "userName,name.givenName" }))).json;
    const r = only.Resources[0];
    assert.deepEqual(Object.keys(r).sort(), ["id", "name", "schemas", "userName"]);
    assert.deepEqual(r.name, { givenName: "page" });
    const without = (await p.scim("GET", "/Users" + q({ filter: 'userName eq "page.user1@example.com"', excludedAttributes: "emails,meta" }))).json;
    assert.equal(without.Resources[0].emails, undefined);
    assert.equal(without.Resources[0].meta, undefined);
    assert.equal(without.Resources[0].userName, "page.user1@example.com");
  });
});
