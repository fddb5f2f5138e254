/** The directory over a real SQLite datastore: unique names, ids, membership under concurrency, tuples, events. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Directory } from "../../../src/identity/accounts/directory.js";
import { Invitations } from "../../../src/identity/accounts/invitations.js";
import { IdentityEvents, type IdentityEvent } from "../../../src/identity/events.js";
import type { Datastore } from "../../../src/storage/interfaces.js";
import { openDatastore } from "../../../src/storage/open.js";

describe("directory", () => {
  let dir: string;
  let ds: Datastore;
  let d: Directory;
  const events: IdentityEvent[] = [];
  const tuples: Array<{ w: string[]; d: string[] }> = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tenet-dir-"));
    ds = await openDatastore({ dataDir: dir });
    const bus = new IdentityEvents();
    bus.on((e) => void events.push(e));
    d = new Directory({
      documents: ds,
      events: bus,
      tuples: { apply: async (w, del) => void tuples.push({ w: w.map((t) => `${t.object}#${t.relation}@${t.user}`), d: del.map((t) => `${t.object}#${t.relation}@${t.user}`) }) },
    });
  });
  after(async () => {
    await ds.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("derives the id from the username, and refuses taken names case-insensitively", async () => {
    const a = await d.createUser({ username: "Alice", email: "alice@example.com" });
    assert.equal(a.id, "alice");
    assert.equal(a.status, "invited");
    await assert.rejects(d.createUser({ username: "ALICE" }), { code: "conflict" });
    await assert.rejects(d.createUser({ username: "other", email: "Alice@Example.com" }), { code: "conflict" });
    assert.equal((await d.findByEmail("ALICE@example.com"))?.id, "alice");
  });

  it("a refused create does not disturb another user's names (derived id taken → a fresh id)", async () => {
    await d.createUser({ username: "bob", email: "bob@example.com" });
    await d.updateUser("bob", { username: "robert" });
    // "bob" is free as a name but taken as an id: the new user gets another id.
    const b2 = await d.createUser({ username: "bob", email: "bob2@example.com" });
    assert.notEqual(b2.id, "bob");
    assert.equal((await d.findByUsername("robert"))?.id, "bob");
    assert.equal((await d.findByEmail("bob@example.com"))?.id, "bob");
    // An explicit taken id is a conflict and leaves the owner's e-mail index alone.
    await assert.rejects(d.createUser({ id: "bob", username: "someone", email: "bob@example.com" }), { code: "conflict" });
    assert.equal((await d.findByEmail("bob@example.com"))?.id, "bob");
    await assert.rejects(d.createUser({ username: "robert" }), { code: "conflict" });
  });

  it("validates input at the boundary", async () => {
    await assert.rejects(d.createUser({ username: "x", email: "not-an-email" }), { code: "validation_error" });
    await assert.rejects(d.createUser({ username: "bad\u0000name" }), { code: "validation_error" });
    await assert.rejects(d.createUser({ id: "has space", username: "y" }), { code: "validation_error" });
    await assert.rejects(d.updateUser("alice", { managerId: "alice" }), { code: "validation_error" });
    await assert.rejects(d.updateUser("alice", { managerId: "nobody" }), { code: "not_found" });
  });

  it("keeps every member when additions race", async () => {
    const g = await d.createGroup({ name: "Engineering" });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await d.createUser({ username: `eng${i}` })).id);
    await Promise.all(ids.map((id) => d.addMember(g.id, id)));
    const after = await d.requireGroup(g.id);
    assert.deepEqual([...after.members].sort(), [...ids].sort());
    for (const id of ids) assert.deepEqual((await d.requireUser(id)).groups, [g.id]);
    assert.ok(tuples.some((t) => t.w.includes(`group:engineering#member@user:${ids[0]}`)));
    await d.removeMember(g.id, ids[0]!);
    assert.deepEqual((await d.requireUser(ids[0]!)).groups, []);
    assert.ok(tuples.some((t) => t.d.includes(`group:engineering#member@user:${ids[0]}`)));
  });

  it("writes manager tuples and emits suspension events", async () => {
    await d.updateUser("alice", { managerId: "bob" });
    assert.ok(tuples.some((t) => t.w.includes("user:alice#manager@user:bob")));
    await d.suspend("alice", "investigation");
    assert.deepEqual(events.at(-1), { type: "user.suspended", userId: "alice", reason: "investigation" });
    assert.equal((await d.requireUser("alice")).status, "suspended");
    await d.reactivate("alice");
    assert.equal(events.at(-1)?.type, "user.reactivated");
    assert.ok(await d.deleteUser("alice"));
    assert.equal(await d.findByUsername("alice"), undefined);
    // The name is free again.
    assert.equal((await d.createUser({ username: "alice" })).id, "alice");
  });

  it("invitations work once, and only the token's hash is stored", async () => {
    const inv = new Invitations(ds);
    const { token } = await inv.create("bob", "admin");
    const stored = JSON.stringify(await ds.listDocuments("identity.invitations"));
    assert.ok(!stored.includes(token));
    assert.equal((await inv.peek(token))?.userId, "bob");
    const [a, b] = await Promise.allSettled([inv.redeem(token), inv.redeem(token)]);
    assert.equal([a, b].filter((r) => r.status === "fulfilled").length, 1);
    await assert.rejects(inv.redeem(token), { code: "not_found" });
    assert.equal(await inv.peek("short"), undefined);
  });
});
