/**
 * The access decision point's own behaviour, over the real PolicyService, policy store and
 * in-memory datastore: deny rules decide before any relationship is asked, each relationship
 * question is asked once per decision, route targets (exact and wildcard hosts, paths, methods),
 * derived request fields (hour, zones), a relationship engine that fails (retryable, not a rule
 * failure), risk brought by the caller never lowering the engine's, risk and grants loaded on
 * demand, the background reload of a stale head, and the shadow report counting each answered
 * decision once.
 */
import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import { TenetError } from "../../../src/errors.js";
import { AccessDecisionPoint, type JitAccess, type RiskAssessor } from "../../../src/policy/access/decision-point.js";
import type { Obligation } from "../../../src/policy/access/evaluate.js";
import { AccessPolicyStore } from "../../../src/policy/access/policy-store.js";
import type { AccessRequest, RiskAssessment } from "../../../src/policy/access/types.js";
import { PolicyService } from "../../../src/policy/service.js";
import { MemoryDatastore } from "../../../src/storage/memory/memory-datastore.js";

const MODEL = `model
  schema 1.1
type user
type document
  relations
    define viewer: [user]
    define editor: [user]
`;

const NOW = Date.parse("2026-12-04T10:30:00Z");

function policy(name: string, target: string, rules: string): string {
  return `apiVersion: tenet.dev/v1
kind: AccessPolicy
metadata: { name: ${name} }
spec:
  target:
${target
  .split("\n")
  .map((l) => `    ${l}`)
  .join("\n")}
  rules:
${rules
  .split("\n")
  .map((l) => `    ${l}`)
  .join("\n")}
`;
}

let ds: MemoryDatastore;
let svc: PolicyService;
let store: AccessPolicyStore;
let storeId: string;
let checks: number;
let now: number;

/** Counts the relationship checks the decision point makes (the real service answers them). */
class CountingPolicyService extends PolicyService {
  override checkNow(...args: Parameters<PolicyService["checkNow"]>): ReturnType<PolicyService["checkNow"]> {
    checks++;
    return super.checkNow(...args);
  }
}

async function apply(...sources: string[]): Promise<void> {
  await store.apply(
    storeId,
    sources.map((text, i) => ({ file: `p${i}.yaml`, text })),
    { appliedBy: "test" },
  );
}

const anne = (extra: Partial<AccessRequest> = {}): AccessRequest => ({
  subject: { id: "user:anne", acr: "http://schemas.openid.net/pape/policies/2007/06/multi-factor" },
  resource: { type: "document", id: "d1", classification: "internal" },
  action: "viewer",
  ...extra,
});

beforeEach(async () => {
  ds = new MemoryDatastore();
  svc = new CountingPolicyService(ds);
  store = new AccessPolicyStore(ds);
  storeId = (await svc.createStore("dp")).id;
  await svc.writeModel(storeId, MODEL);
  await svc.write(storeId, { writes: [{ object: "document:d1", relation: "viewer", user: "user:anne" }] });
  checks = 0;
  now = NOW;
});

describe("access decision point", () => {
  test("a deny rule that holds decides without asking the relationship engine; otherwise each question is asked once", async () => {
    await apply(
      policy("docs", "resources: [{ type: document }]", `- { name: blocked, effect: deny, when: '"blocked" in subject.groups' }
- { name: view, effect: allow, when: 'check("viewer")' }
- { name: view-again, effect: allow, when: 'check("viewer") && check("viewer", "document:d1")' }`),
    );
    const pdp = new AccessDecisionPoint({ policy: svc, policies: store, now: () => now });
    const denied = await pdp.decide(storeId, anne({ subject: { id: "user:anne", groups: ["blocked"] } }));
    assert.equal(denied.decision, "deny");
    assert.equal(checks, 0, "no relationship check for a request a deny rule refuses");
    assert.deepEqual(denied.relationships, []);
    assert.deepEqual(
      denied.rules.map((r) => `${r.rule}:${r.outcome}`),
      ["blocked:matched"],
    );

    const allowed = await pdp.decide(storeId, anne({ subject: { id: "user:anne", groups: [] } }));
    assert.equal(allowed.decision, "allow");
    assert.equal(checks, 1, "the same (relation, object) is asked once per decision");
    assert.equal(allowed.relationships.length, 1);
    assert.equal(allowed.relationships[0]!.allowed, true);
    assert.ok(allowed.relationships[0]!.path, "the path that granted it is in the record");
  });

  test("route targets: exact hosts (case-insensitive), wildcard hosts, path globs and methods", async () => {
    await apply(
      policy("exact", "routes: [{ host: app.example.com, path: '/api/**', methods: [GET] }]", "- { name: ok, effect: allow }"),
      policy("wild", "routes: [{ host: '*.internal.example.com', path: '/ui/*' }]", "- { name: ok, effect: allow }"),
    );
    const pdp = new AccessDecisionPoint({ policy: svc, policies: store, now: () => now });
    const route = (host: string, path: string, method = "GET") => pdp.decide(storeId, anne({ resource: { type: "route", id: `${host}${path}` }, request: { host, path, method } }));
    const cases: Array<[string, string, string, string]> = [
      ["App.Example.COM", "/api/v1/x", "GET", "exact"],
      ["app.example.com", "/api/v1/x", "POST", ""],
      ["app.example.com", "/other", "GET", ""],
      ["evil-app.example.com", "/api/v1/x", "GET", ""],
      ["a.internal.example.com", "/ui/page", "DELETE", "wild"],
      ["a.internal.example.com", "/ui/a/b", "GET", ""],
      ["a.b.internal.example.com", "/ui/page", "GET", ""],
    ];
    for (const [host, path, method, by] of cases) {
      const d = await route(host, path, method);
      assert.equal(d.decision, by ? "allow" : "deny", `${method} ${host}${path}`);
      if (by) assert.equal(d.rules.find((r) => r.outcome === "matched")?.policy, by);
    }
  });

  test("derived request fields: the hour of the request's time, and the named zones of its address", async () => {
    await apply(policy("docs", "resources: [{ type: document }]", `- { name: office, effect: allow, when: '"corp" in request.zones && request.hour >= 8.0 && request.hour < 18.0' }`));
    const zonesOf = (ip: string) => (ip.startsWith("10.") ? ["corp"] : []);
    const pdp = new AccessDecisionPoint({ policy: svc, policies: store, zonesOf, now: () => now });
    assert.equal((await pdp.decide(storeId, anne({ request: { ip: "10.1.2.3" } }))).decision, "allow", "10:30 UTC from the corporate network");
    assert.equal((await pdp.decide(storeId, anne({ request: { ip: "192.0.2.1" } }))).decision, "deny");
    assert.equal((await pdp.decide(storeId, anne({ request: { ip: "10.1.2.3", time: "2026-12-04T22:00:00Z" } }))).decision, "deny");
    const noIp = await pdp.decide(storeId, anne());
    assert.equal(noIp.decision, "deny", "no address: the zones are unknown, never assumed");
    assert.equal(noIp.rules[0]?.outcome, "unevaluable");
  });

  test("a failing relationship engine makes the decision fail (retryable), it is not a rule that did not match", async () => {
    await apply(policy("docs", "resources: [{ type: document }]", `- { name: either, effect: allow, when: 'check("viewer") || true' }`));
    const pdp = new AccessDecisionPoint({ policy: svc, policies: store, now: () => now });
    assert.equal((await pdp.decide(storeId, anne())).decision, "allow");
    svc.checkNow = () => {
      throw new TenetError("unavailable", "the database is gone");
    };
    await assert.rejects(pdp.decide(storeId, anne()), (err: unknown) => err instanceof TenetError && err.code === "unavailable");
    assert.throws(() => pdp.decideNow(storeId, anne()), (err: unknown) => err instanceof TenetError && err.code === "unavailable");
  });

  test("a caller's risk assessment can add risk, never take the engine's away; risk history is loaded on demand", async () => {
    await apply(
      policy("docs", "resources: [{ type: document }]", `- name: view
  effect: allow
  when: check("viewer")
  require_by_risk: { low: {}, medium: { acr: hardware } }`),
    );
    let prepared = 0;
    let loaded = false;
    const engine: RiskAssessor = {
      assessNow: () => (loaded ? { score: 40, level: "medium", reasons: [{ signal: "new_device", score: 40, reason: "a device never seen" }] } : undefined),
      prepare: async () => {
        prepared++;
        loaded = true;
      },
    };
    const pdp = new AccessDecisionPoint({ policy: svc, policies: store, risk: engine, now: () => now });
    const low: RiskAssessment = { score: 0, level: "low", reasons: [] };
    assert.equal(pdp.decideNow(storeId, anne({ risk: low })), undefined, "the head is not loaded yet");
    const d = await pdp.decide(storeId, anne({ risk: low }));
    assert.equal(prepared, 1);
    assert.equal(d.risk.level, "medium", "the caller's 'low' does not lower the engine's 'medium'");
    assert.deepEqual(
      d.risk.reasons.map((r) => r.signal),
      ["new_device"],
    );
    assert.equal(d.decision, "challenge");
    const higher = await pdp.decide(storeId, anne({ risk: { score: 90, level: "critical", reasons: [{ signal: "edge_waf", score: 90, reason: "flagged at the edge" }] } }));
    assert.equal(higher.risk.level, "critical");
    assert.deepEqual(
      higher.risk.reasons.map((r) => r.signal),
      ["edge_waf", "new_device"],
    );
    assert.equal(higher.decision, "deny");
  });

  test("risk history and grants are loaded on demand in one decide; a notice is queued before an allow leaves, so decideNow leaves it to decide", async () => {
    await apply(
      policy("docs", "resources: [{ type: document }]", `- name: view
  effect: allow
  when: check("viewer")
  require: { approval: { approvers: { users: [user:boss] } }, notify: [manager] }`),
    );
    let grantsLoaded = false;
    const filed: string[] = [];
    const notices: Array<{ to: string[]; id: string }> = [];
    const jit: JitAccess = {
      activeGrantNow: () => (grantsLoaded ? (filed.length > 0 ? { id: "g1", expiresAt: new Date(now + 60_000).toISOString() } : null) : undefined),
      prepare: async () => {
        grantsLoaded = true;
      },
      requestApproval: async (_s, req) => {
        filed.push(req.subject.id);
        return { id: "r1", approvers: ["user:boss"] };
      },
      notify: async (_s, _r, obligations: Obligation[], id) => {
        notices.push({ to: obligations.map((o) => o.to), id });
      },
    };
    // Neither the risk history nor the grants are in memory at first: one decide loads both.
    let riskLoaded = false;
    const risk: RiskAssessor = {
      assessNow: () => (riskLoaded ? { score: 0, level: "low", reasons: [] } : undefined),
      prepare: async () => {
        riskLoaded = true;
      },
    };
    const pdp = new AccessDecisionPoint({ policy: svc, policies: store, jit, risk, now: () => now });
    const pending = await pdp.decide(storeId, anne());
    assert.equal(pending.decision, "pending");
    assert.deepEqual(pending.pending, { request_id: "r1", approvers: ["user:boss"] });
    assert.equal(notices.length, 0, "a pending request is announced to its approvers, not by the notice");
    assert.equal(pdp.decideNow(storeId, anne()), undefined, "an allow with a notice is not answered synchronously");
    const allowed = await pdp.decide(storeId, anne());
    assert.equal(allowed.decision, "allow");
    assert.equal(allowed.grant?.id, "g1");
    assert.deepEqual(notices, [{ to: ["manager"], id: allowed.decision_id }]);
  });

  test("a head older than refreshMs is reloaded in the background; decideNow answers again once it is", async () => {
    await apply(policy("docs", "resources: [{ type: document }]", `- { name: view, effect: allow, when: 'check("viewer")' }`));
    const pdp = new AccessDecisionPoint({ policy: svc, policies: store, now: () => now, refreshMs: 1000 });
    await pdp.decide(storeId, anne());
    assert.equal(pdp.decideNow(storeId, anne())?.decision, "allow");
    // Another process applies a deny-all version; this decision point learns of it only by reading.
    await apply(policy("docs", "resources: [{ type: document }]", "- { name: nobody, effect: deny }"));
    assert.equal(pdp.decideNow(storeId, anne())?.decision, "allow", "within refreshMs the loaded head is trusted");
    now += 1500;
    assert.equal(pdp.decideNow(storeId, anne()), undefined, "stale: not answered from the old head");
    for (let i = 0; i < 50 && pdp.decideNow(storeId, anne()) === undefined; i++) await new Promise((r) => setTimeout(r, 5));
    const d = pdp.decideNow(storeId, anne());
    assert.equal(d?.decision, "deny", "the background reload picked up the new version");
    assert.equal(d?.policy_version, 2);
  });

  test("the shadow report counts each answered decision once, pending ones included", async () => {
    await apply(
      policy("docs", "resources: [{ type: document }]", `- name: view
  effect: allow
  when: check("viewer")
  require: { approval: { approvers: { users: [user:boss] } } }`),
    );
    await store.apply(storeId, [{ file: "s.yaml", text: policy("docs", "resources: [{ type: document }]", "- { name: nobody, effect: deny }") }], { mode: "shadow", appliedBy: "test" });
    const jit: JitAccess = {
      activeGrantNow: () => null,
      prepare: async () => undefined,
      requestApproval: async () => ({ id: "r1", approvers: ["user:boss"] }),
      notify: async () => undefined,
    };
    const pdp = new AccessDecisionPoint({ policy: svc, policies: store, jit, now: () => now });
    await pdp.decide(storeId, anne());
    assert.equal(pdp.decideNow(storeId, anne()), undefined, "pending: left to decide");
    const d = await pdp.decide(storeId, anne());
    assert.equal(d.decision, "pending");
    assert.equal(d.shadow?.decision, "deny");
    const report = pdp.shadowReport(storeId)!;
    assert.equal(report.evaluated, 2, "two decisions answered, each counted once");
    assert.deepEqual(report.transitions, { "pending→deny": 2 });
  });
});
