/**
 * The remote decision point client against a real HTTP server: the request it sends, and every
 * way an answer can be wrong (refused, slow, 4xx/5xx, not JSON, no decision) ends as an error —
 * which the enforcer turns into 503 (fail closed), never into a forward.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { after, before, describe, test } from "node:test";
import { Enforcer } from "../../src/enforcement/enforcer.js";
import { RemoteDecisionPoint } from "../../src/enforcement/remote/decision-client.js";
import { parseRoutes } from "../../src/enforcement/routes.js";
import type { AccessRequest } from "../../src/policy/access/types.js";

describe("RemoteDecisionPoint", () => {
  let server: Server;
  let base: string;
  let answer: (req: IncomingMessage, res: ServerResponse, body: string) => void = () => undefined;
  const received: Array<{ url: string; auth: string; body: string }> = [];
  const req: AccessRequest = { subject: { id: "user:ana", acr: "x" }, request: { ip: "10.0.0.1", method: "GET", host: "app", path: "/" }, resource: { type: "app", id: "wiki" }, action: "access" };

  before(async () => {
    server = createServer((r, res) => {
      let body = "";
      r.on("data", (c: Buffer) => (body += c.toString()));
      r.on("end", () => {
        received.push({ url: r.url ?? "", auth: String(r.headers.authorization ?? ""), body });
        answer(r, res, body);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const a = server.address();
    base = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const reply = (status: number, body: string) => (_r: IncomingMessage, res: ServerResponse) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(body);
  };

  test("posts the access request to the store's decide route with the key; returns the decision", async () => {
    answer = reply(200, JSON.stringify({ decision: "allow", decision_id: "01JABCDEFGHJKMNPQRSTVWXYZ0", obligations: [{ type: "log" }], reasons: [] }));
    const pdp = new RemoteDecisionPoint({ url: `${base}/`, token: "tenet_secret_key_value" });
    const d = await pdp.decide("01STORE", req);
    assert.equal(d.decision, "allow");
    assert.equal(d.decision_id, "01JABCDEFGHJKMNPQRSTVWXYZ0");
    const last = received.at(-1)!;
    assert.equal(last.url, "/stores/01STORE/access/v1/decide");
    assert.equal(last.auth, "Bearer tenet_secret_key_value");
    assert.deepEqual(JSON.parse(last.body), req);
    await pdp.close();
  });

  for (const [name, handler, pattern] of [
    ["401 (unknown key)", reply(401, JSON.stringify({ code: "unauthenticated" })), /401 \(unauthenticated\)/],
    ["500 without JSON", reply(500, "oops"), /500/],
    ["200 that is not JSON", reply(200, "<html>"), /JSON|Unexpected/],
    ["200 without a decision", reply(200, JSON.stringify({ decision: "maybe", decision_id: "x" })), /no decision/],
  ] as const) {
    test(`${name} → an error`, async () => {
      answer = handler;
      const pdp = new RemoteDecisionPoint({ url: base, token: "tenet_secret_key_value" });
      await assert.rejects(pdp.decide("s", req), pattern);
      await pdp.close();
    });
  }

  test("a decision point that does not answer in time → error; through the enforcer, 'unavailable'", async () => {
    answer = () => undefined; // never answers
    const pdp = new RemoteDecisionPoint({ url: base, token: "tenet_secret_key_value", timeoutMs: 300 });
    const t0 = Date.now();
    await assert.rejects(pdp.decide("s", req));
    assert.ok(Date.now() - t0 < 5000);
    const enforcer = new Enforcer({ decide: (s, r) => pdp.decide(s, r), decisionTimeoutMs: 1000 });
    const [route] = parseRoutes([{ id: "wiki", from: { host: "app.example.com" }, to: "http://127.0.0.1:1", resource: { type: "app", id: "wiki" }, storeId: "s" }]);
    const outcome = await enforcer.enforce({ route: route!, identity: { userId: "ana", groups: [] }, request: { method: "GET", host: "app.example.com", path: "/", ip: "10.0.0.1" } });
    assert.equal(outcome.kind, "unavailable");
    await pdp.close();
  });

  test("a refused connection → error", async () => {
    const pdp = new RemoteDecisionPoint({ url: "http://127.0.0.1:1", token: "tenet_secret_key_value" });
    await assert.rejects(pdp.decide("s", req));
    await pdp.close();
  });

  test("only http(s) URLs", () => {
    assert.throws(() => new RemoteDecisionPoint({ url: "ftp://x", token: "t" }), TypeError);
  });
});
