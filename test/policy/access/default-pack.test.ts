/**
 * The default policy pack (policies/default) against the seed's risk table and its three
 * examples: internal documentation from a corporate device (low risk → standard MFA),
 * production monitoring from a personal device (medium → step-up MFA and a compliant device),
 * changing IAM policies or reading customer PII (high → hardware key, just-in-time approval and
 * a notice to the manager). Real PolicyService over the in-memory datastore, real policy store
 * and decision point.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { AccessDecisionPoint, type JitAccess } from "../../../src/policy/access/decision-point.js";
import type { Obligation } from "../../../src/policy/access/evaluate.js";
import { readPolicySources } from "../../../src/policy/access/files.js";
import { AccessPolicyStore } from "../../../src/policy/access/policy-store.js";
import type { AccessRequest, RiskAssessment, RiskLevel } from "../../../src/policy/access/types.js";
import { PolicyService } from "../../../src/policy/service.js";
import { MemoryDatastore } from "../../../src/storage/memory/memory-datastore.js";

const PACK = fileURLToPath(new URL("../../../../policies/default", import.meta.url));

const MODEL = `model
  schema 1.1
type user
  relations
    define manager: [user]
type group
  relations
    define member: [user]
type document
  relations
    define viewer: [user, group#member]
type dashboard
  relations
    define viewer: [user, group#member]
type iam_policy
  relations
    define editor: [user]
    define viewer: [user] or editor
type customer_record
  relations
    define viewer: [user]
    define editor: [user]
`;

const NOW = Date.parse("2026-12-04T10:00:00Z");
const risk = (level: RiskLevel, score: number, signals: string[] = []): RiskAssessment => ({ score, level, reasons: signals.map((s) => ({ signal: s, score: 10, reason: s })) });

/** Grants just-in-time access on approval; a recorded list of what was asked. */
class RecordingJit implements JitAccess {
  readonly filed: Array<{ subject: string; object: string; action: string; approvers: unknown }> = [];
  readonly grants = new Map<string, { id: string; expiresAt: string }>();
  activeGrantNow(_s: string, subject: string, object: string, action: string, now: number) {
    const g = this.grants.get(`${subject}|${object}|${action}`);
    return g && Date.parse(g.expiresAt) > now ? g : null;
  }
  async prepare() {}
  readonly notices: Array<{ subject: string; to: string[]; decisionId: string }> = [];
  async notify(_s: string, req: AccessRequest, obligations: Obligation[], decisionId: string) {
    this.notices.push({ subject: req.subject.id, to: obligations.map((o) => o.to), decisionId });
  }
  async requestApproval(_s: string, req: AccessRequest, needed: { approvers: unknown }) {
    this.filed.push({ subject: req.subject.id, object: `${req.resource.type}:${req.resource.id}`, action: req.action, approvers: needed.approvers });
    return { id: `jit-${this.filed.length}`, approvers: ["user:boss"] };
  }
}

let pdp: AccessDecisionPoint;
let storeId: string;
const jit = new RecordingJit();

before(async () => {
  const ds = new MemoryDatastore();
  const policy = new PolicyService(ds);
  storeId = (await policy.createStore("pack")).id;
  await policy.writeModel(storeId, MODEL);
  await policy.write(storeId, {
    writes: [
      { object: "group:eng", relation: "member", user: "user:anne" },
      { object: "document:handbook", relation: "viewer", user: "group:eng#member" },
      { object: "dashboard:prod-api", relation: "viewer", user: "group:eng#member" },
      { object: "iam_policy:root", relation: "editor", user: "user:anne" },
      { object: "customer_record:c-1", relation: "viewer", user: "user:anne" },
      { object: "user:anne", relation: "manager", user: "user:boss" },
    ],
  });
  const policies = new AccessPolicyStore(ds);
  await policies.apply(storeId, readPolicySources([PACK]), { appliedBy: "test" });
  pdp = new AccessDecisionPoint({ policy, policies, jit, now: () => NOW });
});

const corporateLaptop = { id: "dev-1", registered: true, managed: true, compliant: true };
const personalPhone = { id: "dev-2", registered: true, managed: false, compliant: false };
const anne = (acr: string, authAgeSeconds = 60) => ({ id: "user:anne", acr, amr: ["pwd", "otp"], auth_time: NOW / 1000 - authAgeSeconds, groups: ["eng"] });

describe("the seed's risk table, through the default policy pack", () => {
  test("low: internal documentation from a corporate device with standard MFA is allowed", async () => {
    const d = await pdp.decide(storeId, {
      subject: anne("http://schemas.openid.net/pape/policies/2007/06/multi-factor"),
      device: corporateLaptop,
      resource: { type: "document", id: "handbook", classification: "internal" },
      action: "viewer",
      risk: risk("low", 5),
    });
    assert.equal(d.decision, "allow", d.reasons.join("; "));
    assert.deepEqual(d.rules.find((r) => r.outcome === "matched"), { policy: "internal-documents", rule: "readers", effect: "allow", outcome: "matched" });
    assert.equal(d.relationships[0]?.allowed, true);
    assert.ok(d.relationships[0]?.path, "the relationship path is part of the decision");
    assert.match(d.decision_id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(d.policy_version, 1);
  });

  test("low: without MFA the same request is a challenge for MFA", async () => {
    const d = await pdp.decide(storeId, {
      subject: { ...anne("http://schemas.openid.net/pape/policies/2007/06/multi-factor"), acr: undefined as unknown as string },
      device: corporateLaptop,
      resource: { type: "document", id: "handbook", classification: "internal" },
      action: "viewer",
      risk: risk("low", 5),
    });
    assert.equal(d.decision, "challenge");
    assert.deepEqual(d.challenge, { acr: "http://schemas.openid.net/pape/policies/2007/06/multi-factor" });
  });

  test("medium: production monitoring from a personal device needs fresh MFA and a compliant device", async () => {
    const d = await pdp.decide(storeId, {
      subject: anne("http://schemas.openid.net/pape/policies/2007/06/multi-factor", 3600),
      device: personalPhone,
      resource: { type: "dashboard", id: "prod-api", classification: "confidential" },
      action: "viewer",
      risk: risk("medium", 40, ["new_device"]),
    });
    assert.equal(d.decision, "challenge");
    assert.deepEqual(d.challenge, { max_age: 900, device: ["compliant"] });
    assert.deepEqual(d.risk.reasons.map((r) => r.signal), ["new_device"], "the risk reasons travel with the decision");
    // Step up on a compliant device: allowed.
    const after = await pdp.decide(storeId, {
      subject: anne("http://schemas.openid.net/pape/policies/2007/06/multi-factor", 30),
      device: corporateLaptop,
      resource: { type: "dashboard", id: "prod-api", classification: "confidential" },
      action: "viewer",
      risk: risk("medium", 40, ["new_device"]),
    });
    assert.equal(after.decision, "allow");
  });

  test("high: changing IAM policies needs a hardware key, then a just-in-time approval, then notifies the manager", async () => {
    const req = (acr: string): AccessRequest => ({
      subject: anne(acr, 60),
      device: corporateLaptop,
      resource: { type: "iam_policy", id: "root", classification: "restricted" },
      action: "editor",
      risk: risk("high", 70, ["resource_sensitivity"]),
    });
    const stepUp = await pdp.decide(storeId, req("http://schemas.openid.net/pape/policies/2007/06/multi-factor"));
    assert.equal(stepUp.decision, "challenge");
    assert.deepEqual(stepUp.challenge, { acr: "http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical" });
    assert.equal(jit.filed.length, 0, "no approval is requested before the step-up");

    const pending = await pdp.decide(storeId, req("http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical"));
    assert.equal(pending.decision, "pending");
    assert.deepEqual(pending.pending, { request_id: "jit-1", approvers: ["user:boss"] });
    assert.deepEqual(jit.filed[0], { subject: "user:anne", object: "iam_policy:root", action: "editor", approvers: { manager: true } });

    jit.grants.set("user:anne|iam_policy:root|editor", { id: "jit-1", expiresAt: new Date(NOW + 3600_000).toISOString() });
    const granted = await pdp.decide(storeId, req("http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical"));
    assert.equal(granted.decision, "allow");
    assert.deepEqual(granted.grant, { id: "jit-1", expiresAt: new Date(NOW + 3600_000).toISOString() });
    assert.deepEqual(granted.obligations, [{ type: "notify", to: "manager" }]);
    assert.deepEqual(jit.notices, [{ subject: "user:anne", to: ["manager"], decisionId: granted.decision_id }], "the notice is sent for the allow only (the pending request went to the approvers)");
  });

  test("high: customer PII without a classification is treated as confidential, so the strict policy applies", async () => {
    const d = await pdp.decide(storeId, {
      subject: anne("http://schemas.openid.net/pape/policies/2007/06/multi-factor"),
      device: corporateLaptop,
      resource: { type: "customer_record", id: "c-1" },
      action: "viewer",
      risk: risk("low", 10),
    });
    assert.equal(d.decision, "challenge");
    assert.equal(d.challenge?.acr, "http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical");
  });

  test("critical risk is refused whatever else holds; a blocked address is refused", async () => {
    const base = { subject: anne("http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical"), device: corporateLaptop, resource: { type: "document", id: "handbook", classification: "internal" as const }, action: "viewer" };
    const critical = await pdp.decide(storeId, { ...base, risk: risk("critical", 95, ["impossible_travel"]) });
    assert.equal(critical.decision, "deny");
    assert.deepEqual(critical.rules.find((r) => r.effect === "deny"), { policy: "baseline-deny", rule: "flagged-or-critical-risk", effect: "deny", outcome: "matched" });
    const blocked = await pdp.decide(storeId, { ...base, risk: risk("high", 65, ["ip_reputation"]) });
    assert.equal(blocked.decision, "deny");
  });

  test("no relationship, no access; no policy for the type, no access", async () => {
    const stranger = await pdp.decide(storeId, {
      subject: { id: "user:zed", acr: "http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical", auth_time: NOW / 1000 },
      device: corporateLaptop,
      resource: { type: "document", id: "handbook", classification: "internal" },
      action: "viewer",
      risk: risk("low", 0),
    });
    assert.equal(stranger.decision, "deny");
    assert.equal(stranger.relationships[0]?.allowed, false);
    const unknownType = await pdp.decide(storeId, { subject: anne("http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical"), device: corporateLaptop, resource: { type: "printer", id: "p1", classification: "public" }, action: "viewer", risk: risk("low", 0) });
    assert.equal(unknownType.decision, "deny");
    assert.match(unknownType.reasons.join(" "), /no rule|no access policy/);
  });

  test("a request without the device signal is the riskier case: a challenge, never an allow", async () => {
    const d = await pdp.decide(storeId, {
      subject: anne("http://schemas.openid.net/pape/policies/2007/06/multi-factor", 30),
      resource: { type: "dashboard", id: "prod-api", classification: "confidential" },
      action: "viewer",
      risk: risk("medium", 40),
    });
    assert.equal(d.decision, "challenge");
    assert.deepEqual(d.challenge?.device, ["compliant"]);
  });
});
