import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { OUTBOX } from "../../../src/policy/jit/outbox.js";
import { JitService } from "../../../src/policy/jit/service.js";
import type { OutboxEntry } from "../../../src/policy/jit/outbox.js";
import type { JitRequestInput } from "../../../src/policy/jit/types.js";
import { rejectsCode, setup, type Fixture } from "./helpers.js";

const HOUR = 3600_000;

describe("JIT access", () => {
  let f: Fixture;
  let ask: (over?: Partial<JitRequestInput>) => JitRequestInput;
  let doc = 0;
  /** A fresh object per test, so tests do not see each other's grants. */
  const nextDoc = () => `doc:${++doc}`;

  before(async () => {
    f = await setup();
    ask = (over = {}) => ({
      storeId: f.storeId,
      requester: "user:anne",
      resource: "doc:0",
      action: "editor",
      reason: "fix the incident runbook",
      duration: "2h",
      approvers: { users: ["user:bob"] },
      ...over,
    });
  });
  after(() => f.close());

  const events = async (requestId: string) =>
    (await f.ds.listDocuments<OutboxEntry>(OUTBOX)).map((d) => d.body.event).filter((e) => e.request_id === requestId);

  it("request → approve grants until the duration ends: check is true before expiry, false after", async () => {
    const resource = nextDoc();
    assert.equal(await f.can("user:anne", "editor", resource), false);
    const r = await f.jit.request(ask({ resource }));
    assert.equal(r.status, "pending");
    assert.deepEqual(r.approvers, ["user:bob"]);
    assert.equal(await f.can("user:anne", "editor", resource), false, "a pending request grants nothing");

    f.advance(60_000);
    const a = await f.jit.approve(r.id, "user:bob", "on call this week");
    assert.equal(a.status, "approved");
    assert.equal(a.grant?.grantedAt, new Date(f.clock.now).toISOString());
    assert.equal(a.grant?.expiresAt, new Date(f.clock.now + 2 * HOUR).toISOString());
    assert.deepEqual(a.grant?.tuple, { written: true });

    const tuples = await f.policy.read(f.storeId, { object: resource, relation: "editor", user: "user:anne" });
    assert.deepEqual(tuples.items[0]?.key.condition, { name: "tenet_jit_grant", context: { grant_expires_at: a.grant?.expiresAt } });
    assert.equal(await f.can("user:anne", "editor", resource), true);
    assert.equal(await f.can("user:anne", "editor", resource, f.clock.now + 2 * HOUR - 1), true);
    assert.equal(await f.can("user:anne", "editor", resource, f.clock.now + 2 * HOUR), false, "the condition ends the grant on its own");

    const g = await f.jit.activeGrant(f.storeId, "user:anne", resource, "editor");
    assert.equal(g?.id, r.id);
    assert.equal(f.jit.activeGrantNow(f.storeId, "user:anne", resource, "editor", f.clock.now + 2 * HOUR), null);
    assert.equal(f.jit.activeGrantNow(f.storeId, "user:bob", resource, "editor"), null);

    // All of it recorded, and announced.
    assert.deepEqual(
      a.history.map((h) => [h.action, h.actor, h.justification]),
      [
        ["requested", "user:anne", "fix the incident runbook"],
        ["approved", "user:bob", "on call this week"],
      ],
    );
    const ev = await events(r.id);
    assert.deepEqual(ev.map((e) => e.type), ["jit.requested", "jit.approved"]);
    assert.deepEqual(ev[0]!.recipients, ["user:bob"]);
    assert.deepEqual(ev[1]!.recipients, ["user:anne", "user:bob"]);
    assert.equal(ev[1]!.id, a.history[1]!.eventId);
    assert.equal(ev[1]!.request?.status, "approved");
  });

  it("deny: no grant, recorded with the justification", async () => {
    const resource = nextDoc();
    const r = await f.jit.request(ask({ resource }));
    const d = await f.jit.deny(r.id, "user:bob", "not your service");
    assert.equal(d.status, "denied");
    assert.equal(d.grant, undefined);
    assert.equal(await f.can("user:anne", "editor", resource), false);
    assert.equal(await f.jit.activeGrant(f.storeId, "user:anne", resource, "editor"), undefined);
    assert.deepEqual(d.history.map((h) => h.action), ["requested", "denied"]);
    assert.equal(d.history[1]!.justification, "not your service");
    await rejectsCode(() => f.jit.approve(r.id, "user:bob", "changed my mind"), "conflict", /denied/);
    assert.deepEqual((await events(r.id)).map((e) => e.type), ["jit.requested", "jit.denied"]);
  });

  it("the requester cannot approve their own request; a non-approver is refused", async () => {
    const r = await f.jit.request(ask({ resource: nextDoc(), approvers: { users: ["user:bob", "user:anne"] } }));
    assert.deepEqual(r.approvers, ["user:bob"], "the requester is never one of the approvers");
    await rejectsCode(() => f.jit.approve(r.id, "user:anne", "I trust me"), "forbidden", /requester/);
    await rejectsCode(() => f.jit.deny(r.id, "user:eve", "no"), "forbidden", /not an approver/);
    assert.equal((await f.jit.get(r.id)).status, "pending");
    assert.equal((await f.jit.get(r.id)).history.length, 1, "refused attempts change nothing");
  });

  it("approvers from a group and from the requester's manager are resolved from tuples", async () => {
    const byGroup = await f.jit.request(ask({ resource: nextDoc(), approvers: { groups: ["group:sre"] } }));
    assert.deepEqual(byGroup.approvers, ["user:carol", "user:dave"], "members of group:sre but the requester");
    const byManager = await f.jit.request(ask({ resource: nextDoc(), approvers: { manager: true } }));
    assert.deepEqual(byManager.approvers, ["user:mia"]);
    const both = await f.jit.request(ask({ resource: nextDoc(), approvers: { users: ["user:bob"], groups: ["group:sre"], manager: true } }));
    assert.deepEqual(both.approvers, ["user:bob", "user:carol", "user:dave", "user:mia"]);
    await f.jit.approve(byManager.id, "user:mia", "ok");

    await rejectsCode(() => f.jit.request(ask({ requester: "user:bob", resource: nextDoc(), approvers: { manager: true } })), "validation_error", /nobody other than the requester/);
    await rejectsCode(() => f.jit.request(ask({ resource: nextDoc(), approvers: { users: ["user:anne"] } })), "validation_error", /nobody other than the requester/);
    await rejectsCode(() => f.jit.request(ask({ resource: nextDoc(), approvers: { groups: ["group:empty"] } })), "validation_error", /nobody/);
    await rejectsCode(() => f.jit.request(ask({ resource: nextDoc(), approvers: { groups: ["team:x"] } })), "validation_error", /cannot resolve the members of 'team:x'/);
  });

  it("is idempotent: an open pending request for the same access is returned, even to concurrent callers", async () => {
    const resource = nextDoc();
    const [a, b] = await Promise.all([f.jit.open(ask({ resource })), f.jit.open(ask({ resource }))]);
    assert.equal(a.request.id, b.request.id);
    assert.deepEqual([a.created, b.created].sort(), [false, true]);
    const again = await f.jit.open(ask({ resource, reason: "asking again" }));
    assert.equal(again.request.id, a.request.id);
    assert.equal(again.created, false);
    assert.equal((await f.jit.list({ storeId: f.storeId, requester: "user:anne" })).items.filter((r) => r.resource === resource).length, 1);

    // Once decided, the same access may be asked for again.
    await f.jit.deny(a.request.id, "user:bob", "no");
    const fresh = await f.jit.open(ask({ resource }));
    assert.equal(fresh.created, true);
    assert.notEqual(fresh.request.id, a.request.id);
  });

  it("concurrent approve and deny: exactly one wins", async () => {
    for (let i = 0; i < 5; i++) {
      const r = await f.jit.request(ask({ resource: nextDoc(), approvers: { users: ["user:bob", "user:carol"] } }));
      const results = await Promise.allSettled([f.jit.approve(r.id, "user:bob", "yes"), f.jit.deny(r.id, "user:carol", "no")]);
      const won = results.filter((x) => x.status === "fulfilled");
      const lost = results.filter((x): x is PromiseRejectedResult => x.status === "rejected");
      assert.equal(won.length, 1);
      assert.equal(lost.length, 1);
      assert.equal((lost[0]!.reason as { code: string }).code, "conflict");
      const final = await f.jit.get(r.id);
      assert.equal(final.history.length, 2);
      assert.equal(final.status, (won[0] as PromiseFulfilledResult<{ status: string }>).value.status);
      assert.equal(await f.can("user:anne", "editor", r.resource), final.status === "approved");
    }
  });

  it("break-glass grants at once; the review is forced and a revoking review ends it at once", async () => {
    const resource = nextDoc();
    const bg = await f.jit.breakGlass({ storeId: f.storeId, requester: "user:anne", resource, action: "editor", reason: "prod is down", duration: "30m" });
    assert.equal(bg.kind, "break_glass");
    assert.equal(bg.status, "break_glass");
    assert.deepEqual(bg.review, { required: true, status: "pending" });
    assert.equal(await f.can("user:anne", "editor", resource), true);
    assert.ok(f.jit.activeGrantNow(f.storeId, "user:anne", resource, "editor"));

    await rejectsCode(() => f.jit.review(bg.id, "user:anne", "upheld", "it was fine"), "forbidden", /requester/);
    f.advance(5 * 60_000);
    const rv = await f.jit.review(bg.id, "user:carol", "revoked", "no incident was open");
    assert.equal(rv.status, "revoked");
    assert.equal(rv.review?.status, "revoked");
    assert.equal(rv.review?.reviewer, "user:carol");
    assert.equal(rv.grant?.endedAt, new Date(f.clock.now).toISOString());
    assert.equal(await f.can("user:anne", "editor", resource), false);
    assert.equal((await f.policy.read(f.storeId, { object: resource, relation: "editor", user: "user:anne" })).items.length, 0, "the tuple is deleted");
    assert.equal(f.jit.activeGrantNow(f.storeId, "user:anne", resource, "editor"), null);
    await rejectsCode(() => f.jit.review(bg.id, "user:dave", "upheld", "again"), "conflict", /already reviewed/);
    assert.deepEqual(rv.history.map((h) => [h.action, h.actor, h.outcome]), [
      ["break_glass", "user:anne", undefined],
      ["reviewed", "user:carol", "revoked"],
    ]);
    assert.deepEqual((await events(bg.id)).map((e) => e.type), ["jit.break_glass", "jit.reviewed"]);
  });

  it("break-glass with named reviewers: only they review; upheld keeps the grant", async () => {
    const resource = nextDoc();
    const bg = await f.jit.breakGlass({ storeId: f.storeId, requester: "user:anne", resource, action: "editor", reason: "db failover", duration: "PT20M", reviewers: { manager: true } });
    assert.deepEqual(bg.approvers, ["user:mia"]);
    const ev = await events(bg.id);
    assert.deepEqual(ev[0]!.recipients, ["user:anne", "user:mia"]);
    await rejectsCode(() => f.jit.review(bg.id, "user:carol", "upheld", "fine"), "forbidden", /not a reviewer/);
    const ok = await f.jit.review(bg.id, "user:mia", "upheld", "the failover was needed");
    assert.equal(ok.status, "break_glass");
    assert.equal(ok.review?.status, "upheld");
    assert.equal(await f.can("user:anne", "editor", resource), true);
    await rejectsCode(() => f.jit.breakGlass({ storeId: f.storeId, requester: "user:anne", resource: nextDoc(), action: "editor", reason: "x", duration: "2h" }), "validation_error", /1h allowed/);
  });

  it("revoke ends a grant early; only the requester or an approver may", async () => {
    const resource = nextDoc();
    const r = await f.jit.request(ask({ resource }));
    await f.jit.approve(r.id, "user:bob", "ok");
    await rejectsCode(() => f.jit.revoke(r.id, "user:eve", "mine now"), "forbidden");
    const rv = await f.jit.revoke(r.id, "user:bob", "task done");
    assert.equal(rv.status, "revoked");
    assert.equal(await f.can("user:anne", "editor", resource), false);
    assert.equal(await f.jit.activeGrant(f.storeId, "user:anne", resource, "editor"), undefined);
    await rejectsCode(() => f.jit.revoke(r.id, "user:bob", "again"), "conflict", /no grant in force/);
  });

  it("sweep marks expired grants expired, deletes their tuples and announces it", async () => {
    const resource = nextDoc();
    const r = await f.jit.request(ask({ resource, duration: "30m" }));
    await f.jit.approve(r.id, "user:bob", "ok");
    const before = await f.jit.sweep();
    assert.equal(before.expired, 0);
    f.advance(30 * 60_000);
    const report = await f.jit.sweep();
    assert.ok(report.expired >= 1);
    const x = await f.jit.get(r.id);
    assert.equal(x.status, "expired");
    assert.equal(x.grant?.endedAt, x.grant?.expiresAt);
    assert.deepEqual(x.history.at(-1)?.actor, "system");
    assert.deepEqual(x.history.map((h) => h.action), ["requested", "approved", "expired"]);
    assert.equal((await f.policy.read(f.storeId, { object: resource, relation: "editor", user: "user:anne" })).items.length, 0);
    assert.equal(f.jit.activeGrantNow(f.storeId, "user:anne", resource, "editor"), null);
    assert.deepEqual((await events(r.id)).map((e) => e.type), ["jit.requested", "jit.approved", "jit.expired"]);
    assert.equal((await f.jit.sweep()).expired, 0, "nothing left to sweep");
  });

  it("sweep expires requests nobody decided within pendingTtl", async () => {
    const r = await f.jit.request(ask({ resource: nextDoc() }));
    f.advance(24 * HOUR);
    const report = await f.jit.sweep();
    assert.ok(report.lapsed >= 1);
    const x = await f.jit.get(r.id);
    assert.equal(x.status, "expired");
    assert.match(x.history.at(-1)?.justification ?? "", /not decided within 1d/);
  });

  it("validates duration and reason", async () => {
    await rejectsCode(() => f.jit.request(ask({ duration: "9h" })), "validation_error", /longer than the 8h allowed/);
    await rejectsCode(() => f.jit.request(ask({ duration: "soon" })), "validation_error", /invalid duration 'soon'/);
    await rejectsCode(() => f.jit.request(ask({ duration: "0m" })), "validation_error", /longer than zero/);
    await rejectsCode(() => f.jit.request(ask({ duration: "PT" })), "validation_error", /invalid duration/);
    await rejectsCode(() => f.jit.request(ask({ reason: "" })), "validation_error", /reason is required/);
    await rejectsCode(() => f.jit.request(ask({ reason: "   " })), "validation_error", /reason is required/);
    await rejectsCode(() => f.jit.request(ask({ reason: "x".repeat(1001) })), "validation_error", /at most 1000/);
    await rejectsCode(() => f.jit.request(ask({ requester: "user:*" })), "validation_error", /requester/);
    await rejectsCode(() => f.jit.request(ask({ resource: "nodoc" })), "validation_error", /resource/);
    await rejectsCode(() => f.jit.request(ask({ storeId: "01HZZZZZZZZZZZZZZZZZZZZZZZ" })), "store_not_found");
    const ok = await f.jit.request(ask({ resource: nextDoc(), duration: "PT1H30M" }));
    assert.equal(ok.durationMs, 90 * 60_000);
    const r = await f.jit.request(ask({ resource: nextDoc() }));
    await rejectsCode(() => f.jit.approve(r.id, "user:bob", ""), "validation_error", /justification/);
    await rejectsCode(() => f.jit.get("01HZZZZZZZZZZZZZZZZZZZZZZZ"), "not_found");
    await rejectsCode(() => f.jit.get(r.id, { storeId: "01HZZZZZZZZZZZZZZZZZZZZZZZ" }), "not_found", /not found/);
  });

  it("a model that cannot take the tuple: the grant is recorded (tuple not written, with the reason) and honoured by activeGrant", async () => {
    const resource = nextDoc();
    const r = await f.jit.request(ask({ resource, action: "reader" }));
    const a = await f.jit.approve(r.id, "user:bob", "ok");
    assert.equal(a.status, "approved");
    assert.equal(a.grant?.tuple.written, false);
    assert.match(a.grant?.tuple.reason ?? "", /does not accept the grant's tuple.*tenet_jit_grant/);
    assert.equal(await f.can("user:anne", "reader", resource), false);
    assert.equal((await f.jit.activeGrant(f.storeId, "user:anne", resource, "reader"))?.id, r.id);
  });

  it("a tuple that exists already is left alone, also when the grant ends", async () => {
    const resource = nextDoc();
    await f.policy.write(f.storeId, { writes: [{ object: resource, relation: "editor", user: "user:anne" }] });
    const r = await f.jit.request(ask({ resource }));
    const a = await f.jit.approve(r.id, "user:bob", "ok");
    assert.equal(a.grant?.tuple.written, false);
    assert.match(a.grant?.tuple.reason ?? "", /exists already/);
    await f.jit.revoke(r.id, "user:anne", "done early");
    const left = await f.policy.read(f.storeId, { object: resource, relation: "editor", user: "user:anne" });
    assert.equal(left.items.length, 1);
    assert.equal(left.items[0]!.key.condition, undefined);
  });

  it("refuses a request for access the requester already holds through JIT", async () => {
    const resource = nextDoc();
    const r = await f.jit.request(ask({ resource }));
    await f.jit.approve(r.id, "user:bob", "ok");
    await rejectsCode(() => f.jit.request(ask({ resource })), "conflict", new RegExp(`already holds this access through JIT request ${r.id}`));
  });

  it("grants are visible to another service instance after refresh (the index is loaded from storage)", async () => {
    const resource = nextDoc();
    const other = new JitService({ documents: f.ds, policy: f.policy, outbox: f.outbox, now: () => f.clock.now });
    assert.equal(other.activeGrantNow(f.storeId, "user:anne", resource, "editor"), undefined, "not loaded yet");
    await other.refresh(f.storeId);
    assert.equal(other.activeGrantNow(f.storeId, "user:anne", resource, "editor"), null);
    const r = await f.jit.request(ask({ resource }));
    await f.jit.approve(r.id, "user:bob", "ok");
    assert.equal(other.activeGrantNow(f.storeId, "user:anne", resource, "editor"), null, "until refreshed");
    await other.refresh();
    assert.equal(other.activeGrantNow(f.storeId, "user:anne", resource, "editor")?.id, r.id);
  });

  it("lists by status, requester and approver, in pages", async () => {
    const resource = nextDoc();
    const r = await f.jit.request(ask({ requester: "user:zed", resource, approvers: { users: ["user:quinn"] } }));
    const byApprover = await f.jit.list({ storeId: f.storeId, approver: "user:quinn" });
    assert.deepEqual(byApprover.items.map((x) => x.id), [r.id]);
    const pending = await f.jit.list({ storeId: f.storeId, status: "pending", requester: "user:zed" });
    assert.deepEqual(pending.items.map((x) => x.id), [r.id]);
    const p1 = await f.jit.list({ storeId: f.storeId, limit: 2 });
    assert.equal(p1.items.length, 2);
    const p2 = await f.jit.list({ storeId: f.storeId, limit: 2, after: p1.next });
    assert.ok(p2.items[0]!.id > p1.items[1]!.id);
  });

  it("notify stores a generic event with its recipients", async () => {
    const e = await f.jit.notify({ type: "access.manager_notice", recipients: ["user:mia"], storeId: f.storeId, data: { subject: "user:anne" } });
    const entry = await f.outbox.get(e.id);
    assert.equal(entry?.event.type, "access.manager_notice");
    assert.deepEqual(entry?.event.recipients, ["user:mia"]);
    assert.equal(entry?.status, "recorded", "no endpoint configured: kept, nobody called");
    await rejectsCode(() => f.jit.notify({ type: "Bad Type", recipients: [] }), "validation_error");
  });
});
