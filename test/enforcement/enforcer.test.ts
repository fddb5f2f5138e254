/**
 * The enforcer against the real decision point (assembled server): sign-in when nobody is signed
 * in, route-level step-up before any decision, policy decisions mapped to what the proxy does,
 * deny by default, and fail closed when the decision point errors or is slow.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Enforcer } from "../../src/enforcement/enforcer.js";
import { parseRoutes } from "../../src/enforcement/routes.js";
import { ACR } from "../../src/identity/acr.js";
import type { AccessDecision } from "../../src/policy/access/decision-point.js";
import { startServer, type TestServer } from "../api/harness.js";
import { APPS_MODEL, appsPolicy } from "./apps-fixture.js";


describe("enforcer", () => {
  let server: TestServer;
  let storeId: string;
  let enforcer: Enforcer;
  const [route, strict, open] = parseRoutes([
    { id: "grafana", from: { host: "grafana.example.com" }, to: "http://127.0.0.1:1", resource: { type: "app", id: "grafana" } },
    { id: "admin", from: { host: "admin.example.com" }, to: "http://127.0.0.1:1", resource: { type: "app", id: "grafana" }, acr: "hardware", maxAge: "15m" },
    { id: "health", from: { host: "grafana.example.com", path: "/healthz" }, to: "http://127.0.0.1:1", resource: { type: "app", id: "grafana" }, public: true },
  ]);
  const req = { method: "GET", host: "grafana.example.com", path: "/d/1", ip: "10.0.0.1" };
  const anne = { userId: "anne", sessionId: "s1", acr: ACR.phishingResistant, amr: ["swk", "user", "mfa"], authTime: Math.floor(Date.now() / 1000) };

  before(async () => {
    server = await startServer();
    storeId = (await server.policy.createStore("apps")).id;
    await server.policy.writeModel(storeId, APPS_MODEL);
    await server.policy.write(storeId, { writes: [{ object: "app:grafana", relation: "access", user: "user:anne" }] });
    const pdp = server.authzen.access!;
    enforcer = new Enforcer({ decide: (s, r) => pdp.decide(s, r), defaultStoreId: storeId });
  });
  after(async () => server.close());

  it("sends an anonymous request to sign-in, lets a public route through, denies by default", async () => {
    assert.deepEqual(await enforcer.enforce({ route: route!, request: req }), { kind: "signin" });
    assert.equal((await enforcer.enforce({ route: open!, request: req })).kind, "allow");
    // No access policies yet: the decision point denies.
    const d = await enforcer.enforce({ route: route!, identity: anne, request: req });
    assert.equal(d.kind, "deny");
  });

  it("maps policy decisions: allow for members, deny for others, challenge for a missing acr", async () => {
    const applied = await fetch(`${server.url}/stores/${storeId}/access-policies`, {
      method: "PUT",
      headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ files: [{ name: "apps.yaml", content: appsPolicy('check("access")\n      require: { acr: phishing_resistant }') }] }),
    });
    assert.equal(applied.status, 200, await applied.clone().text());
    const ok = await enforcer.enforce({ route: route!, identity: anne, request: req });
    assert.equal(ok.kind, "allow");
    assert.match((ok as { decisionId: string }).decisionId, /^[0-9A-Z]{26}$/);
    assert.equal((await enforcer.enforce({ route: route!, identity: { userId: "mallory", acr: ACR.hardware }, request: req })).kind, "deny");
    const weak = await enforcer.enforce({ route: route!, identity: { ...anne, acr: ACR.mfa }, request: req });
    assert.deepEqual({ kind: weak.kind, acr: (weak as { acr?: string }).acr }, { kind: "challenge", acr: ACR.phishingResistant });
  });

  it("asks for the route's own acr and max_age before any decision", async () => {
    let asked = 0;
    const counting = new Enforcer({ decide: (s, r) => (asked++, server.authzen.access!.decide(s, r)), defaultStoreId: storeId });
    const weak = await counting.enforce({ route: strict!, identity: anne, request: req });
    assert.deepEqual(weak, { kind: "challenge", acr: ACR.hardware, maxAge: 900 });
    const stale = await counting.enforce({ route: strict!, identity: { ...anne, acr: ACR.hardware, authTime: Math.floor(Date.now() / 1000) - 3600 }, request: req });
    assert.deepEqual(stale, { kind: "challenge", acr: ACR.hardware, maxAge: 900 });
    assert.equal(asked, 0);
    assert.equal((await counting.enforce({ route: strict!, identity: { ...anne, acr: ACR.hardware }, request: req })).kind, "allow");
    assert.equal(asked, 1);
  });

  it("fails closed: an erroring or slow decision point is unavailable, never allow", async () => {
    const failing = new Enforcer({ decide: async () => Promise.reject(new Error("connection refused")), defaultStoreId: storeId });
    const f = await failing.enforce({ route: route!, identity: anne, request: req });
    assert.equal(f.kind, "unavailable");
    const slow = new Enforcer({ decide: () => new Promise<AccessDecision>(() => undefined), defaultStoreId: storeId, decisionTimeoutMs: 50 });
    const s = await slow.enforce({ route: route!, identity: anne, request: req });
    assert.deepEqual(s, { kind: "unavailable", reason: "the decision point did not answer within 50 ms" });
    const noStore = new Enforcer({ decide: (st, r) => server.authzen.access!.decide(st, r) });
    assert.equal((await noStore.enforce({ route: route!, identity: anne, request: req })).kind, "unavailable");
  });
});
