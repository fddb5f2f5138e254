/**
 * /scim/v2/Groups driven over HTTP with Okta's and Entra ID's requests: group push, member
 * add/remove in both clients' forms, renames, the membership query Entra sends, and the effects
 * on users (their `groups`) and on the directory's tuples.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ERROR_SCHEMA, GROUP_SCHEMA, type ScimServer, entraUser, oktaUser, patchOp, q, startScim } from "./harness.js";

let s: ScimServer;
const users: string[] = [];
before(async () => {
  s = await startScim();
  for (const name of ["ann.one@example.com", "bob.two@example.com", "cat.three@example.com"]) {
    const r = await s.scim("POST", "/Users", { body: oktaUser(name) });
    assert.equal(r.status, 201);
    users.push(r.json.id);
  }
});
after(async () => {
  await s.close();
});

function assertScimError(r: { status: number; json: any }, status: number, scimType?: string) { // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.deepEqual(r.json.schemas, [ERROR_SCHEMA]);
  assert.equal(r.json.status, String(status));
  assert.equal(r.json.scimType, scimType);
}

const memberIds = (r: { json: { members?: Array<{ value: string }> } }) => (r.json.members ?? []).map((m) => m.value).sort();

describe("Okta group push", () => {
  let gid = "";

  test("creates the group", async () => {
    const r = await s.scim("POST", "/Groups", { body: { schemas: [GROUP_SCHEMA], displayName: "Engineering", members: [] } });
    assert.equal(r.status, 201, r.text);
    gid = r.json.id;
    assert.equal(r.json.displayName, "Engineering");
    assert.equal(r.json.meta.resourceType, "Group");
    assert.equal(r.headers.get("etag"), r.json.meta.version);
    assert.equal(r.headers.get("location"), r.json.meta.location);
  });

  test("finds it by displayName", async () => {
    const r = await s.scim("GET", "/Groups" + q({ filter: 'displayName eq "engineering"', startIndex: 1, count: 100 }));
    assert.equal(r.json.totalResults, 1);
    assert.equal(r.json.Resources[0].id, gid);
  });

  test("adds members; users list the group and the directory has the tuples' source", async () => {
    const r = await s.scim("PATCH", `/Groups/${gid}`, {
      body: patchOp({ op: "add", path: "members", value: [{ value: users[0], display: "ann.one@example.com" }, { value: users[1], display: "bob.two@example.com" }] }),
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(memberIds(r), [users[0], users[1]].sort());
    assert.equal(r.json.members.find((m: { value: string }) => m.value === users[0]).display, "ann one");
    assert.equal(r.json.members[0].type, "User");
    assert.deepEqual((await s.directory.getGroup(gid))?.members.sort(), [users[0], users[1]].sort());
    const u = await s.scim("GET", `/Users/${users[0]}`);
    assert.deepEqual(u.json.groups, [{ value: gid, $ref: `${s.url}/scim/v2/Groups/${gid}`, display: "Engineering", type: "direct" }]);
    // Adding a member again changes nothing.
    const again = await s.scim("PATCH", `/Groups/${gid}`, { body: patchOp({ op: "add", path: "members", value: [{ value: users[0] }] }) });
    assert.deepEqual(memberIds(again), [users[0], users[1]].sort());
  });

  test("removes a member with members[value eq \"id\"]", async () => {
    const r = await s.scim("PATCH", `/Groups/${gid}`, { body: patchOp({ op: "remove", path: `members[value eq "${users[0]}"]` }) });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(memberIds(r), [users[1]]);
    assert.deepEqual((await s.directory.getUser(users[0]!))?.groups, []);
    // Removing someone who is not a member is not an error.
    const again = await s.scim("PATCH", `/Groups/${gid}`, { body: patchOp({ op: "remove", path: `members[value eq "${users[0]}"]` }) });
    assert.equal(again.status, 200);
  });

  test("renames with replace {id, displayName}", async () => {
    const r = await s.scim("PATCH", `/Groups/${gid}`, { body: patchOp({ op: "replace", value: { id: gid, displayName: "Platform Engineering" } }) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.displayName, "Platform Engineering");
    assert.equal(r.json.id, gid);
    assert.deepEqual(memberIds(r), [users[1]]);
    assert.equal((await s.scim("GET", "/Groups" + q({ filter: 'displayName eq "Engineering"' }))).json.totalResults, 0);
  });

  test("replaces the group with PUT (members set exactly)", async () => {
    const r = await s.scim("PUT", `/Groups/${gid}`, {
      body: { schemas: [GROUP_SCHEMA], id: gid, displayName: "Platform Engineering", members: [{ value: users[2] }, { value: users[0] }] },
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(memberIds(r), [users[0], users[2]].sort());
    assert.deepEqual((await s.directory.getUser(users[1]!))?.groups, []);
    // Without `members`, PUT leaves them as they are.
    const keep = await s.scim("PUT", `/Groups/${gid}`, { body: { schemas: [GROUP_SCHEMA], displayName: "Platform" } });
    assert.equal(keep.json.displayName, "Platform");
    assert.deepEqual(memberIds(keep), [users[0], users[2]].sort());
  });

  test("deletes the group: users no longer list it", async () => {
    const r = await s.scim("DELETE", `/Groups/${gid}`);
    assert.equal(r.status, 204);
    assert.deepEqual((await s.directory.getUser(users[0]!))?.groups, []);
    assertScimError(await s.scim("GET", `/Groups/${gid}`), 404);
  });
});

describe("Entra ID group provisioning", () => {
  let gid = "";

  test("creates the group with an externalId and finds it by it", async () => {
    const r = await s.scim("POST", "/Groups", {
      body: { schemas: [GROUP_SCHEMA], externalId: "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", displayName: "Group1DisplayName", meta: { resourceType: "Group" } },
    });
    assert.equal(r.status, 201, r.text);
    gid = r.json.id;
    const found = await s.scim("GET", "/Groups" + q({ excludedAttributes: "members", filter: 'externalId eq "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"' }));
    assert.equal(found.json.totalResults, 1);
  });

  test("adds members with capitalised Add and $ref null", async () => {
    const r = await s.scim("PATCH", `/Groups/${gid}`, {
      body: patchOp({ op: "Add", path: "members", value: [{ $ref: null, value: users[0] }] }, { op: "Add", path: "members", value: [{ $ref: null, value: users[1] }] }),
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(memberIds(r), [users[0], users[1]].sort());
  });

  test("asks whether a user is a member: id eq ... and members[value eq ...], members excluded", async () => {
    const yes = await s.scim("GET", "/Groups" + q({ excludedAttributes: "members", filter: `id eq "${gid}" and members[value eq "${users[0]}"]` }));
    assert.equal(yes.status, 200, yes.text);
    assert.equal(yes.json.totalResults, 1);
    assert.equal(yes.json.Resources[0].members, undefined);
    assert.equal(yes.json.Resources[0].displayName, "Group1DisplayName");
    const no = await s.scim("GET", "/Groups" + q({ excludedAttributes: "members", filter: `id eq "${gid}" and members[value eq "${users[2]}"]` }));
    assert.equal(no.json.totalResults, 0);
    const byMember = await s.scim("GET", "/Groups" + q({ filter: `members[value eq "${users[1]}"]` }));
    assert.deepEqual(byMember.json.Resources.map((g: { id: string }) => g.id), [gid]);
  });

  test("removes only the listed members (Remove with a value)", async () => {
    const r = await s.scim("PATCH", `/Groups/${gid}`, { body: patchOp({ op: "Remove", path: "members", value: [{ $ref: null, value: users[0] }] }) });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(memberIds(r), [users[1]]);
  });

  test("renames with Replace displayName", async () => {
    const r = await s.scim("PATCH", `/Groups/${gid}`, { body: patchOp({ op: "Replace", path: "displayName", value: "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName" }) });
    assert.equal(r.status, 200, r.text);
    assert.equal((await s.directory.getGroup(gid))?.name, "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName");
  });

  test("Remove members without a value empties the group (RFC 7644 §3.5.2.2)", async () => {
    const r = await s.scim("PATCH", `/Groups/${gid}`, { body: patchOp({ op: "Remove", path: "members" }) });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(memberIds(r), []);
    assert.deepEqual((await s.directory.getGroup(gid))?.members, []);
  });
});

describe("group errors", () => {
  test("a duplicate displayName (any case) is 409 uniqueness", async () => {
    assert.equal((await s.scim("POST", "/Groups", { body: { schemas: [GROUP_SCHEMA], displayName: "Sales" } })).status, 201);
    assertScimError(await s.scim("POST", "/Groups", { body: { schemas: [GROUP_SCHEMA], displayName: "SALES" } }), 409, "uniqueness");
    const other = await s.scim("POST", "/Groups", { body: { schemas: [GROUP_SCHEMA], displayName: "Marketing" } });
    assertScimError(await s.scim("PATCH", `/Groups/${other.json.id}`, { body: patchOp({ op: "replace", path: "displayName", value: "sales" }) }), 409, "uniqueness");
  });

  test("members that are not users are 400 invalidValue, and nothing changes", async () => {
    const g = await s.scim("POST", "/Groups", { body: { schemas: [GROUP_SCHEMA], displayName: "Support", members: [{ value: users[0] }] } });
    assert.equal(g.status, 201, g.text);
    assertScimError(await s.scim("PATCH", `/Groups/${g.json.id}`, { body: patchOp({ op: "add", path: "members", value: [{ value: users[1] }, { value: "ghost" }] }) }), 400, "invalidValue");
    assertScimError(await s.scim("PATCH", `/Groups/${g.json.id}`, { body: patchOp({ op: "add", path: "members", value: [{ value: g.json.id, type: "Group" }] }) }), 400, "invalidValue");
    assertScimError(await s.scim("PATCH", `/Groups/${g.json.id}`, { body: patchOp({ op: "add", path: "members", value: [{ display: "no value" }] }) }), 400, "invalidValue");
    assertScimError(await s.scim("POST", "/Groups", { body: { schemas: [GROUP_SCHEMA], displayName: "Ghosts", members: [{ value: "ghost" }] } }), 400, "invalidValue");
    assert.deepEqual((await s.directory.getGroup(g.json.id))?.members, [users[0]]);
    assert.equal((await s.scim("GET", "/Groups" + q({ filter: 'displayName eq "Ghosts"' }))).json.totalResults, 0);
  });

  test("a group without displayName, unknown ids, stale If-Match", async () => {
    assertScimError(await s.scim("POST", "/Groups", { body: { schemas: [GROUP_SCHEMA], members: [] } }), 400, "invalidValue");
    assertScimError(await s.scim("PATCH", "/Groups/nope", { body: patchOp({ op: "Remove", path: "members" }) }), 404);
    assertScimError(await s.scim("DELETE", "/Groups/nope"), 404);
    const g = await s.scim("POST", "/Groups", { body: { schemas: [GROUP_SCHEMA], displayName: "Pinned" } });
    const add = await s.scim("PATCH", `/Groups/${g.json.id}`, { body: patchOp({ op: "add", path: "members", value: [{ value: users[2] }] }), headers: { "if-match": g.headers.get("etag")! } });
    assert.equal(add.status, 200, add.text);
    assertScimError(await s.scim("PATCH", `/Groups/${g.json.id}`, { body: patchOp({ op: "Remove", path: "members" }), headers: { "if-match": g.headers.get("etag")! } }), 412);
    assertScimError(await s.scim("PUT", `/Groups/${g.json.id}`, { body: { displayName: "Pinned", members: [] }, headers: { "if-match": g.headers.get("etag")! } }), 412);
    assert.deepEqual((await s.directory.getGroup(g.json.id))?.members, [users[2]]);
  });

  test("a group name freed by a rename can be created again", async () => {
    const a = await s.scim("POST", "/Groups", { body: { schemas: [GROUP_SCHEMA], displayName: "ops", externalId: "ops-1" } });
    await s.scim("PATCH", `/Groups/${a.json.id}`, { body: patchOp({ op: "replace", path: "displayName", value: "ops-old" }) });
    const b = await s.scim("POST", "/Groups", { body: { schemas: [GROUP_SCHEMA], displayName: "ops", externalId: "ops-2" } });
    assert.equal(b.status, 201, b.text);
    assert.notEqual(b.json.id, a.json.id);
    assertScimError(await s.scim("POST", "/Groups", { body: { schemas: [GROUP_SCHEMA], displayName: "ops-3", externalId: "ops-1" } }), 409, "uniqueness");
  });

  test("users created by Entra are valid members", async () => {
    const u = await s.scim("POST", "/Users", { body: entraUser("member@testuser.com", "m-ext") });
    const g = await s.scim("POST", "/Groups", { body: { schemas: [GROUP_SCHEMA], displayName: "WithEntra", members: [{ value: u.json.id }] } });
    assert.equal(g.status, 201, g.text);
    assert.deepEqual(memberIds(g), [u.json.id]);
  });
});
