/**
 * The JIT service as the decision point's JitAccess: grants from memory (undefined until the
 * store is loaded, then null or the grant), approvals filed as JIT requests (the rule's approvers
 * and duration, capped by the server's maximum), and `notify` obligations as `access.notice`
 * events in the outbox, delivered signed to a webhook. Real JitService, Outbox, WebhookWorker and
 * SQLite (test/policy/jit/helpers.ts), a real HTTP receiver.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, test } from "node:test";
import { ServiceJitAccess } from "../../../../src/policy/access/adapters/jit-access.js";
import type { ApprovalNeeded } from "../../../../src/policy/access/evaluate.js";
import type { AccessRequest } from "../../../../src/policy/access/types.js";
import { verifySignature } from "../../../../src/policy/jit/signature.js";
import { WebhookWorker } from "../../../../src/policy/jit/webhook.js";
import { rejectsCode, setup, type Fixture } from "../../jit/helpers.js";

const HOUR = 3600_000;
const anne: AccessRequest = { subject: { id: "user:anne" }, resource: { type: "doc", id: "1", owner: "user:olga" }, action: "editor", request: { ip: "10.1.2.3" } };
const needed = (over: Partial<ApprovalNeeded> = {}): ApprovalNeeded => ({ policy: "high-impact", rule: "approved-holders", approvers: { manager: true }, durationSeconds: 3600, ...over });

let fx: Fixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

describe("ServiceJitAccess: grants and approvals", () => {
  test("activeGrantNow: undefined before the store's grants are loaded, null when none, the grant's id and expiry once approved", async () => {
    fx = await setup();
    const jit = new ServiceJitAccess(fx.jit, fx.policy);
    assert.equal(jit.activeGrantNow(fx.storeId, "user:anne", "doc:1", "editor", fx.clock.now), undefined);
    await Promise.all([jit.prepare(fx.storeId), jit.prepare(fx.storeId)]);
    assert.equal(jit.activeGrantNow(fx.storeId, "user:anne", "doc:1", "editor", fx.clock.now), null);

    const filed = await jit.requestApproval(fx.storeId, anne, needed({ durationSeconds: 7200 }), "high-impact/approved-holders needs a just-in-time approval");
    assert.deepEqual(filed.approvers, ["user:mia"], "the manager from the relationship graph");
    const r = await fx.jit.get(filed.id);
    assert.equal(r.status, "pending");
    assert.equal(r.requester, "user:anne");
    assert.equal(r.resource, "doc:1");
    assert.equal(r.action, "editor");
    assert.equal(r.durationMs, 2 * HOUR);
    assert.equal(r.reason, "high-impact/approved-holders needs a just-in-time approval");
    assert.deepEqual(r.approverSpec, { manager: true });

    const again = await jit.requestApproval(fx.storeId, anne, needed(), "asked again");
    assert.equal(again.id, filed.id, "the open request is found, not a second one filed");

    await fx.jit.approve(filed.id, "user:mia", "fine");
    const g = jit.activeGrantNow(fx.storeId, "user:anne", "doc:1", "editor", fx.clock.now);
    assert.deepEqual(g, { id: filed.id, expiresAt: new Date(fx.clock.now + 2 * HOUR).toISOString() }, "only the id and expiry: the rest stays with the JIT API");
    assert.equal(jit.activeGrantNow(fx.storeId, "user:anne", "doc:1", "editor", fx.clock.now + 2 * HOUR), null, "ended");
    assert.equal(jit.activeGrantNow(fx.storeId, "user:bob", "doc:1", "editor", fx.clock.now), null, "someone else");
  });

  test("a rule asking for longer than the server's maximum gets the maximum (less access, never a failed decision)", async () => {
    fx = await setup({ jit: { maxDuration: "1h" } });
    const jit = new ServiceJitAccess(fx.jit, fx.policy);
    const filed = await jit.requestApproval(fx.storeId, anne, needed({ durationSeconds: 7 * 24 * 3600 }), "needs approval");
    assert.equal((await fx.jit.get(filed.id)).durationMs, HOUR);
  });

  test("the reason is made acceptable to JIT: control characters replaced, clipped to 1000 characters, never empty", async () => {
    fx = await setup();
    const jit = new ServiceJitAccess(fx.jit, fx.policy);
    const a = await jit.requestApproval(fx.storeId, anne, needed(), `x\u0000y\n${"z".repeat(2000)}`);
    const reason = (await fx.jit.get(a.id)).reason;
    assert.equal(reason.length, 1000);
    assert.ok(reason.startsWith("x y\nzzz"), JSON.stringify(reason.slice(0, 10)));
    await fx.jit.deny(a.id, "user:mia", "no");
    const b = await jit.requestApproval(fx.storeId, anne, needed(), "  ");
    assert.equal((await fx.jit.get(b.id)).reason, "access policy high-impact/approved-holders requires an approval");
  });

  test("approvers that resolve to nobody: the JIT service's validation error, as is", async () => {
    fx = await setup();
    const jit = new ServiceJitAccess(fx.jit, fx.policy);
    const bob = { ...anne, subject: { id: "user:bob" } };
    await rejectsCode(() => jit.requestApproval(fx!.storeId, bob, needed(), "needs approval"), "validation_error", /resolve to nobody/);
  });
});

describe("ServiceJitAccess: notify obligations", () => {
  const notices = async (f: Fixture) => (await f.outbox.list()).filter((e) => e.event.type === "access.notice");

  test("manager, owner and security: one access.notice to all of them, with the decision in its data", async () => {
    fx = await setup();
    const jit = new ServiceJitAccess(fx.jit, fx.policy, { security: ["user:secops", "group:soc"] });
    await jit.notify(fx.storeId, anne, [{ type: "notify", to: "manager" }, { type: "notify", to: "owner" }, { type: "notify", to: "security" }, { type: "notify", to: "manager" }], "01JDECISION0000000000000000");
    const [n, ...more] = await notices(fx);
    assert.equal(more.length, 0);
    assert.equal(n!.status, "recorded", "no webhook configured: kept, nobody called");
    assert.deepEqual(n!.event.recipients, ["group:soc", "user:mia", "user:olga", "user:secops"]);
    assert.equal(n!.event.store_id, fx.storeId);
    assert.deepEqual(n!.event.data, {
      decision_id: "01JDECISION0000000000000000",
      subject: "user:anne",
      resource: "doc:1",
      action: "editor",
      recipients_by_role: { manager: ["user:mia"], owner: ["user:olga"], security: ["user:secops", "group:soc"] },
      ip: "10.1.2.3",
    });
  });

  test("roles that name nobody are reported and skipped; with no recipient at all nothing is sent and nothing throws", async () => {
    fx = await setup();
    const problems: string[] = [];
    const jit = new ServiceJitAccess(fx.jit, fx.policy, { onProblem: (m) => problems.push(m) });
    const bob: AccessRequest = { subject: { id: "user:bob" }, resource: { type: "doc", id: "2" }, action: "editor" };
    await jit.notify(fx.storeId, bob, [{ type: "notify", to: "manager" }, { type: "notify", to: "owner" }, { type: "notify", to: "security" }], "01JDECISION0000000000000001");
    assert.deepEqual(await notices(fx), []);
    assert.equal(problems.length, 4, problems.join("\n"));
    assert.match(problems[0]!, /manager of user:bob .* no manager is recorded/);
    assert.match(problems[1]!, /owner of doc:2 .* names no resource\.owner/);
    assert.match(problems[2]!, /no security recipients are configured \(notify\.security\)/);
    assert.match(problems[3]!, /01JDECISION0000000000000001: the notice to manager, owner, security has no recipient/);

    problems.length = 0;
    await jit.notify(fx.storeId, bob, [], "01JDECISION0000000000000002");
    assert.deepEqual(problems, [], "no obligation, nothing to say");
  });

  test("a subject whose type has no manager relation, and a malformed owner, are reported; the others are still told", async () => {
    fx = await setup();
    const problems: string[] = [];
    const jit = new ServiceJitAccess(fx.jit, fx.policy, { security: ["user:secops"], onProblem: (m) => problems.push(m) });
    const req: AccessRequest = { subject: { id: "group:sre" }, resource: { type: "doc", id: "3", owner: "not a subject" }, action: "editor" };
    await jit.notify(fx.storeId, req, [{ type: "notify", to: "manager" }, { type: "notify", to: "owner" }, { type: "notify", to: "security" }], "01JDECISION0000000000000003");
    assert.deepEqual((await notices(fx)).map((n) => n.event.recipients), [["user:secops"]]);
    assert.match(problems.join("\n"), /the manager of group:sre cannot be notified: cannot resolve the manager/);
    assert.match(problems.join("\n"), /the owner of doc:3 cannot be notified/);
  });

  test("the notice is delivered to the configured webhook, signed with its secret", async () => {
    const got: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
    const receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        got.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    try {
      const endpoints = [{ url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, secret: "s3cret-s3cret-s3cret" }];
      fx = await setup({ endpoints });
      const jit = new ServiceJitAccess(fx.jit, fx.policy);
      await jit.notify(fx.storeId, anne, [{ type: "notify", to: "manager" }], "01JDECISION0000000000000004");
      const clock = fx.clock;
      const report = await new WebhookWorker(fx.outbox, { endpoints, now: () => clock.now }).deliverDue();
      assert.equal(report.delivered, 1);
      assert.equal(got.length, 1);
      const event = JSON.parse(got[0]!.body);
      assert.equal(event.type, "access.notice");
      assert.deepEqual(event.recipients, ["user:mia"]);
      assert.equal(event.data.decision_id, "01JDECISION0000000000000004");
      assert.equal(got[0]!.headers["tenet-event-id"], event.id);
      const sig = got[0]!.headers["tenet-signature"] as string;
      assert.ok(verifySignature(endpoints[0]!.secret, sig, got[0]!.body, { nowSeconds: Math.floor(fx.clock.now / 1000) }), sig);
      assert.ok(!verifySignature("another-secret-of-16", sig, got[0]!.body, { nowSeconds: Math.floor(fx.clock.now / 1000) }));
    } finally {
      receiver.close();
    }
  });

  test("security recipients are checked when the adapter is built", async () => {
    fx = await setup();
    assert.throws(() => new ServiceJitAccess(fx!.jit, fx!.policy, { security: ["secops"] }), { code: "validation_error", message: /security\[0\]/ });
  });
});
