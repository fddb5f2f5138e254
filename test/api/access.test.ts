/**
 * Access policies over HTTP: apply (validated first, nothing half-applied), decide natively and
 * through AuthZEN (obligations in the response context), history, diff, rollback, shadow mode
 * with its report. A real server (harness) and fetch.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { call, startServer, type TestServer } from "./harness.js";

let server: TestServer;
let storeId: string;
const t = () => ({ token: server.adminToken });

const MODEL = "model\n  schema 1.1\ntype user\ntype document\n  relations\n    define viewer: [user]\n";

const policyYaml = (name: string, when: string, extra = "") => `apiVersion: tenet.dev/v1
kind: AccessPolicy
metadata:
  name: ${name}
spec:
  target:
    resources:
      - type: document
  rules:
    - name: readers
      effect: allow
      when: ${when}${extra}
`;

before(async () => {
  server = await startServer();
  storeId = (await call(server.url, "POST", "/stores", { ...t(), body: { name: "access" } })).json.id;
  await call(server.url, "POST", `/stores/${storeId}/authorization-models`, { ...t(), body: MODEL, headers: { "content-type": "text/plain" } }).catch(() => undefined);
  // The DSL through the service (the OpenFGA route takes JSON models).
  await server.policy.writeModel(storeId, MODEL);
  await server.policy.write(storeId, { writes: [{ object: "document:1", relation: "viewer", user: "user:anne" }] });
});
after(async () => server.close());

const apply = (files: Array<{ name: string; content: string }>, extra: Record<string, unknown> = {}) =>
  call(server.url, "PUT", `/stores/${storeId}/access-policies`, { ...t(), body: { files, ...extra } });
const decide = (body: unknown) => call(server.url, "POST", `/stores/${storeId}/access/v1/decide`, { ...t(), body });
const anne = { subject: { id: "user:anne", acr: "http://schemas.openid.net/pape/policies/2007/06/multi-factor", auth_time: Math.floor(Date.now() / 1000) }, resource: { type: "document", id: "1", classification: "internal" }, action: "viewer" };

describe("access policies over HTTP", () => {
  test("a store without policies denies every decision", async () => {
    const d = await decide(anne);
    assert.equal(d.status, 200);
    assert.equal(d.json.decision, "deny");
  });

  test("bad policies are refused with file and line, and nothing is applied", async () => {
    const bad = await apply([
      { name: "ok.yaml", content: policyYaml("good", 'check("viewer")') },
      { name: "typo.yaml", content: policyYaml("bad", "device.compliance == true") },
      { name: "syntax.yaml", content: "apiVersion: tenet.dev/v1\nkind: AccessPolicy\nmetadata: [unclosed\n" },
    ]);
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, "validation_error");
    assert.match(bad.json.message, /typo\.yaml:10: rule 'readers': .*compliance/);
    assert.match(bad.json.message, /syntax\.yaml:\d+: YAML/);
    const unknownField = await apply([{ name: "u.yaml", content: policyYaml("u", "true").replace("effect: allow", "effect: allow\n      efect: deny") }]);
    assert.equal(unknownField.status, 400);
    assert.match(unknownField.json.message, /u\.yaml:\d+: .*efect/);
    // Relations the rules ask about are checked against the store's model.
    const relations = await apply([
      { name: "rel.yaml", content: policyYaml("rel", 'check("viewr")') },
      { name: "obj.yaml", content: policyYaml("obj", 'check("viewer", "spaceship:1") || check("owner", "document:2")') },
    ]);
    assert.equal(relations.status, 400);
    assert.match(relations.json.message, /rel\.yaml:10: rule 'readers': check\("viewr"\): relation 'document#viewr' is not defined/);
    assert.match(relations.json.message, /obj\.yaml:10: rule 'readers': check\("viewer", "spaceship:1"\): type 'spaceship' is not defined/);
    assert.match(relations.json.message, /relation 'document#owner' is not defined/);
    const head = await call(server.url, "GET", `/stores/${storeId}/access-policies`, t());
    assert.deepEqual(head.json, { live: null, shadow: null, policies: [] });
  });

  test("apply, decide natively and through AuthZEN with the outcome in the context", async () => {
    const a = await apply([{ name: "p.yaml", content: policyYaml("readers", 'check("viewer")', "\n      require: { acr: hardware }") }], { comment: "first" });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.version, 1);
    const d = await decide(anne);
    assert.equal(d.json.decision, "challenge");
    assert.deepEqual(d.json.challenge, { acr: "http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical" });
    assert.equal(d.json.policy_version, 1);
    const z = await call(server.url, "POST", `/stores/${storeId}/access/v1/evaluation`, {
      ...t(),
      body: { subject: { type: "user", id: "anne", properties: { acr: "urn:tenet:acr:mfa" /* the earlier name, still accepted */ } }, resource: { type: "document", id: "1", properties: { classification: "internal" } }, action: { name: "viewer" } },
    });
    assert.equal(z.status, 200);
    assert.equal(z.json.decision, false);
    assert.equal(z.json.context.outcome, "challenge");
    assert.deepEqual(z.json.context.challenge, { acr: "http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical" });
    assert.match(z.json.context.decision_id, /^[0-9A-Z]{26}$/);
    const ok = await call(server.url, "POST", `/stores/${storeId}/access/v1/evaluation`, {
      ...t(),
      body: { subject: { type: "user", id: "anne", properties: { acr: "urn:tenet:acr:hardware" } }, resource: { type: "document", id: "1" }, action: { name: "viewer" } },
    });
    assert.equal(ok.json.decision, true);
    assert.equal(ok.json.context.relationships[0].allowed, true);
    const badSignal = await call(server.url, "POST", `/stores/${storeId}/access/v1/evaluation`, {
      ...t(),
      body: { subject: { type: "user", id: "anne" }, resource: { type: "document", id: "1" }, action: { name: "viewer" }, context: { device: { compliant: "yes" } } },
    });
    assert.equal(badSignal.status, 400);
  });

  test("history, diff and rollback", async () => {
    const v2 = await apply([{ name: "p.yaml", content: policyYaml("readers", 'check("viewer")') }], { comment: "drop the hardware key" });
    assert.equal(v2.json.version, 2);
    assert.equal((await decide(anne)).json.decision, "allow");
    const history = await call(server.url, "GET", `/stores/${storeId}/access-policies/versions`, t());
    assert.deepEqual(history.json.versions.map((v: { version: number; comment: string }) => [v.version, v.comment]), [[1, "first"], [2, "drop the hardware key"]]);
    const diff = await call(server.url, "GET", `/stores/${storeId}/access-policies/diff?from=1&to=2`, t());
    assert.deepEqual(diff.json.changed.map((c: { policy: string }) => c.policy), ["readers"]);
    const rb = await call(server.url, "POST", `/stores/${storeId}/access-policies/rollback`, { ...t(), body: { version: 1 } });
    assert.equal(rb.json.version, 3);
    assert.equal((await decide(anne)).json.decision, "challenge", "rolled back to the hardware-key version");
    assert.equal((await call(server.url, "GET", `/stores/${storeId}/access-policies/versions/99`, t())).status, 404);
  });

  test("shadow mode: evaluated beside the live set, reported, not enforced, then promoted", async () => {
    const s = await apply([{ name: "p.yaml", content: policyYaml("readers", 'check("viewer")') }], { mode: "shadow" });
    assert.equal(s.json.mode, "shadow");
    const d = await decide(anne);
    assert.equal(d.json.decision, "challenge", "the live version still decides");
    assert.equal(d.json.shadow.decision, "allow");
    const report = await call(server.url, "GET", `/stores/${storeId}/access-policies/shadow-report`, t());
    assert.equal(report.json.changed >= 1, true);
    assert.equal(report.json.transitions["challenge→allow"] >= 1, true);
    assert.equal(report.json.examples[0].subject, "user:anne");
    const stale = await call(server.url, "POST", `/stores/${storeId}/access-policies/promote`, { ...t(), body: { shadow_version: 1 } });
    assert.equal(stale.status, 409, "promoting a version other than the reviewed one is refused");
    const promoted = await call(server.url, "POST", `/stores/${storeId}/access-policies/promote`, { ...t(), body: { shadow_version: s.json.version } });
    assert.equal(promoted.status, 200);
    assert.equal((await decide(anne)).json.decision, "allow");
  });

  test("bad input: unknown fields, missing subject, read-only keys cannot apply", async () => {
    assert.equal((await decide({ ...anne, extra: 1 })).status, 400);
    assert.equal((await decide({ resource: anne.resource, action: "viewer" })).status, 400);
    const reader = await server.key({ scopes: ["read"] });
    const denied = await call(server.url, "PUT", `/stores/${storeId}/access-policies`, { token: reader.token, body: { files: [{ name: "x.yaml", content: "x" }] } });
    assert.equal(denied.status, 403);
    assert.equal((await call(server.url, "PUT", `/stores/${storeId}/access-policies`, { ...t(), body: { files: [] } })).status, 400);
  });
});
