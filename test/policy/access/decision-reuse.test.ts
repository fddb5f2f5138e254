/**
 * The proxy's decision cache (decision-reuse.ts) in the real decision point, over the real
 * PolicyService and policy store: an identical question asked with `reuse` within the window
 * gets the same answer without a second evaluation — but a decision of its own, recorded, naming
 * what it reused; any difference in the question, a policy apply, a tuple write or the window
 * passing means a fresh evaluation; challenges and pending approvals are never reused; callers
 * that do not ask for reuse always get a fresh one.
 */
import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import { type AccessDecision, AccessDecisionPoint, type DecisionOrigin, type JitAccess } from "../../../src/policy/access/decision-point.js";
import { AccessPolicyStore } from "../../../src/policy/access/policy-store.js";
import type { AccessRequest } from "../../../src/policy/access/types.js";
import { PolicyService } from "../../../src/policy/service.js";
import { MemoryDatastore } from "../../../src/storage/memory/memory-datastore.js";

const MODEL = "model\n  schema 1.1\ntype user\ntype document\n  relations\n    define viewer: [user]\n";
const NOW = Date.parse("2026-12-04T10:30:00Z");

const policy = (rules: string) => `apiVersion: tenet.dev/v1
kind: AccessPolicy
metadata: { name: docs }
spec:
  target:
    resources: [{ type: document }]
  rules:
${rules}
`;
const VIEW = `    - { name: view, effect: allow, when: 'check("viewer")' }`;

let ds: MemoryDatastore;
let svc: PolicyService;
let store: AccessPolicyStore;
let storeId: string;
let checks: number;
let now: number;
let recorded: Array<{ d: AccessDecision; via: string }>;

class CountingPolicyService extends PolicyService {
  override checkNow(...args: Parameters<PolicyService["checkNow"]>): ReturnType<PolicyService["checkNow"]> {
    checks++;
    return super.checkNow(...args);
  }
}

const anne = (path = "/doc"): AccessRequest => ({
  subject: { id: "user:anne", groups: ["staff"], acr: "x" },
  request: { ip: "10.0.0.1", method: "GET", host: "docs.example.com", path },
  resource: { type: "document", id: "d1" },
  action: "viewer",
});

const PROXY: DecisionOrigin = { via: "proxy", reuse: true };

function pdp(extra: { jit?: JitAccess } = {}): AccessDecisionPoint {
  return new AccessDecisionPoint({ policy: svc, policies: store, now: () => now, reuseMs: 1000, audit: { record: async (d, _r, o) => void recorded.push({ d, via: o.via }) }, ...extra });
}

beforeEach(async () => {
  ds = new MemoryDatastore();
  svc = new CountingPolicyService(ds);
  store = new AccessPolicyStore(ds);
  storeId = (await svc.createStore("reuse")).id;
  await svc.writeModel(storeId, MODEL);
  await svc.write(storeId, { writes: [{ object: "document:d1", relation: "viewer", user: "user:anne" }] });
  await store.apply(storeId, [{ file: "p.yaml", text: policy(VIEW) }], { appliedBy: "test" });
  checks = 0;
  now = NOW;
  recorded = [];
});

describe("decision reuse (the proxy's decision cache)", () => {
  test("an identical question within the window: same answer, no evaluation, its own recorded decision naming the one reused", async () => {
    const p = pdp();
    const first = await p.decide(storeId, anne(), PROXY);
    const checksAfterFirst = checks;
    now += 500;
    const second = await p.decide(storeId, anne(), PROXY);
    assert.equal(second.decision, "allow");
    assert.equal(checks, checksAfterFirst, "the second answer was evaluated again");
    assert.notEqual(second.decision_id, first.decision_id);
    assert.equal(second.reused_from, first.decision_id);
    assert.equal(second.time, new Date(now).toISOString());
    assert.deepEqual(recorded.map((r) => r.d.decision_id), [first.decision_id, second.decision_id], "every answer is recorded");
  });

  test("after the window, for another question, or without `reuse`: evaluated afresh", async () => {
    const p = pdp();
    await p.decide(storeId, anne(), PROXY);
    const c0 = checks;
    await p.decide(storeId, anne("/other"), PROXY);
    assert.ok(checks > c0, "a different path reused another path's answer");
    const c1 = checks;
    await p.decide(storeId, anne(), { via: "access.decide" });
    assert.ok(checks > c1, "a caller that did not ask for reuse got a reused answer");
    const c2 = checks;
    now += 1000;
    const late = await p.decide(storeId, anne(), PROXY);
    assert.ok(checks > c2, "an answer was reused past its window");
    assert.equal(late.reused_from, undefined);
  });

  test("a policy apply or a tuple write: the next identical question is decided by the new state", async () => {
    const p = pdp();
    assert.equal((await p.decide(storeId, anne(), PROXY)).decision, "allow");
    await svc.write(storeId, { deletes: [{ object: "document:d1", relation: "viewer", user: "user:anne" }] });
    assert.equal((await p.decide(storeId, anne(), PROXY)).decision, "deny", "a deleted tuple still allowed");
    await svc.write(storeId, { writes: [{ object: "document:d1", relation: "viewer", user: "user:anne" }] });
    assert.equal((await p.decide(storeId, anne(), PROXY)).decision, "allow");
    await store.apply(storeId, [{ file: "p.yaml", text: policy(`    - { name: never, effect: allow, when: '"a" == "b"' }`) }], { appliedBy: "test" });
    p.invalidate(storeId); // what the API does after an apply
    assert.equal((await p.decide(storeId, anne(), PROXY)).decision, "deny", "a replaced policy still allowed");
  });

  test("pending approvals and allows through a just-in-time grant are never reused", async () => {
    await store.apply(storeId, [{ file: "p.yaml", text: policy(`    - name: view\n      effect: allow\n      when: check("viewer")\n      require: { approval: { approvers: { users: [user:boss] } } }`) }], { appliedBy: "test" });
    let filed = 0;
    let grantAsked = 0;
    let grant: { id: string; expiresAt: string } | null = null;
    const jit: JitAccess = {
      activeGrantNow: () => (grantAsked++, grant),
      prepare: async () => undefined,
      requestApproval: async () => ({ id: `r${++filed}`, approvers: ["user:boss"] }),
      notify: async () => undefined,
    };
    const p = pdp({ jit });
    const a = await p.decide(storeId, anne(), PROXY);
    const b = await p.decide(storeId, anne(), PROXY);
    assert.deepEqual([a.decision, b.decision], ["pending", "pending"]);
    assert.equal(b.reused_from, undefined);
    assert.equal(filed, 2, "the second question reached the just-in-time service again");
    // Approved: allowed through the grant, which expires, so each question looks at it again.
    grant = { id: "g1", expiresAt: new Date(now + 60_000).toISOString() };
    const c = await p.decide(storeId, anne(), PROXY);
    const asked = grantAsked;
    const d = await p.decide(storeId, anne(), PROXY);
    assert.deepEqual([c.decision, d.decision], ["allow", "allow"]);
    assert.equal(d.reused_from, undefined);
    assert.ok(grantAsked > asked, "an allow through a grant was reused");
  });
});
