/**
 * The SDK's middleware in real servers: a Fastify app with the plugin and a node:http app with
 * the connect-style middleware, fed assertions from Tenet's issuer; optionally asking a real
 * decision point (the test API server). Deny by default: no handler runs on a refusal.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import Fastify from "fastify";
import { AssertionIssuer } from "../../src/enforcement/assertion.js";
import { createAssertionVerifier, tenetFastify, tenetMiddleware } from "../../src/sdk/index.js";
import { startServer, type TestServer } from "../api/harness.js";
import { type AssertionFixture, startFixture } from "./assertion-fixture.js";

const AUD = "https://app.example.com";

describe("SDK middleware", () => {
  let fx: AssertionFixture;
  let issuer: AssertionIssuer;
  let pdpServer: TestServer;
  let storeId: string;
  before(async () => {
    fx = await startFixture();
    issuer = new AssertionIssuer({ issuer: fx.issuer, sign: (p, h) => fx.keys.sign(p, h) });
    pdpServer = await startServer();
    storeId = (await pdpServer.policy.createStore("mw")).id;
    await pdpServer.policy.writeModel(storeId, "model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define viewer: [user]\n");
    await pdpServer.policy.write(storeId, { writes: [{ object: "doc:1", relation: "viewer", user: "user:anne" }] });
    const policy = `apiVersion: tenet.dev/v1\nkind: AccessPolicy\nmetadata:\n  name: docs\nspec:\n  target:\n    resources:\n      - type: doc\n  rules:\n    - name: viewers\n      effect: allow\n      when: check("viewer")\n`;
    const r = await fetch(`${pdpServer.url}/stores/${storeId}/access-policies`, { method: "PUT", headers: { authorization: `Bearer ${pdpServer.adminToken}`, "content-type": "application/json" }, body: JSON.stringify({ files: [{ name: "docs.yaml", content: policy }] }) });
    assert.equal(r.status, 200, await r.text());
  });
  after(async () => {
    await fx.close();
    await pdpServer.close();
  });

  const assertion = (subject: string, audience = AUD) => issuer.issue({ audience, subject, groups: ["eng"], decisionId: "01J0000000000000000000000A" });

  it("Fastify plugin: verified identity on the request, 401 otherwise, handler never runs", async () => {
    const app = Fastify();
    let ran = 0;
    await app.register(tenetFastify, { verifier: createAssertionVerifier({ issuer: fx.issuer, audience: AUD, jwksUri: fx.jwksUri }) });
    app.get("/me", async (req) => {
      ran++;
      return { sub: (req as unknown as { tenet: { subject: string } }).tenet.subject };
    });
    const ok = await app.inject({ url: "/me", headers: { "x-tenet-assertion": await assertion("anne") } });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { sub: "anne" });
    const none = await app.inject({ url: "/me" });
    assert.equal(none.statusCode, 401);
    assert.equal(none.json().code, "missing");
    const wrongAud = await app.inject({ url: "/me", headers: { "x-tenet-assertion": await assertion("anne", "https://other.example.com") } });
    assert.equal(wrongAud.statusCode, 401);
    assert.equal(ran, 1);
    await app.close();
  });

  it("connect-style middleware with the decision point: allow, 403 for others, 503 when unreachable", async () => {
    const mw = (url: string) =>
      tenetMiddleware({
        verifier: createAssertionVerifier({ issuer: fx.issuer, audience: AUD, jwksUri: fx.jwksUri }),
        decide: { url, token: pdpServer.adminToken, storeId, resourceOf: (req) => ({ resource: { type: "doc", id: (req.url ?? "/").split("/")[2] ?? "" }, action: "viewer" }) },
      });
    const serve = async (m: ReturnType<typeof tenetMiddleware>) => {
      const s = createServer((req: IncomingMessage, res: ServerResponse) => {
        m(req as never, res, (err) => {
          if (err) {
            res.statusCode = 500;
            res.end();
            return;
          }
          res.end(`hello ${(req as unknown as { tenet: { subject: string } }).tenet.subject}`);
        });
      });
      await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
      return { s, url: `http://127.0.0.1:${(s.address() as AddressInfo).port}` };
    };
    const { s, url } = await serve(mw(pdpServer.url));
    try {
      const ok = await fetch(`${url}/docs/1`, { headers: { "x-tenet-assertion": await assertion("anne") } });
      assert.equal(ok.status, 200);
      assert.equal(await ok.text(), "hello anne");
      const other = await fetch(`${url}/docs/1`, { headers: { "x-tenet-assertion": await assertion("mallory") } });
      assert.equal(other.status, 403);
      const forged = await fetch(`${url}/docs/1`, { headers: { "x-tenet-assertion": "e30.e30.sig" } });
      assert.equal(forged.status, 401);
    } finally {
      s.close();
    }
    const down = await serve(mw("http://127.0.0.1:9"));
    try {
      const r = await fetch(`${down.url}/docs/1`, { headers: { "x-tenet-assertion": await assertion("anne") } });
      assert.equal(r.status, 503, "fail closed");
    } finally {
      down.s.close();
    }
  });
});
