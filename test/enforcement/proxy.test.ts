/**
 * The identity-aware proxy end to end, in `tenet serve` as assembled: an anonymous request is sent
 * to sign in (passkey at the identity provider, another origin), comes back, and reaches the app
 * with a signed identity assertion the SDK verifies; spoofed identity headers never reach the app;
 * a policy change denies the next request; a revoked session is sent to sign in again; a route
 * that needs a hardware key steps up; path tricks are refused before any decision.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import { createAssertionVerifier } from "../../src/sdk/index.js";
import { APPS_MODEL, appsPolicy, NEVER } from "./apps-fixture.js";
import { Browser, json } from "../identity/browser.js";
import { exchange, inviteAndRegister, passkeySignIn, registerRp, startLogin } from "../identity/oidc/flow.js";
import { type IdpServer, startIdp } from "../identity/oidc/server.js";

const require = createRequire(import.meta.url);

describe("identity-aware proxy", () => {
  let srv: IdpServer;
  let upstream: Server;
  let appOrigin: string;
  const seen: Array<Record<string, string | string[] | undefined>> = [];
  const upgraded: Array<import("node:stream").Duplex> = [];
  let storeId: string;
  let user: Awaited<ReturnType<typeof inviteAndRegister>>;

  before(async () => {
    upstream = createServer((req, res) => {
      seen.push({ ...req.headers, path: req.url });
      res.writeHead(200, { "content-type": "application/json", connection: "keep-alive", "x-app": "yes" });
      res.end(JSON.stringify({ ok: true, path: req.url }));
    });
    // A minimal WebSocket endpoint (RFC 6455 §4.2.2): accept, then send one text frame naming
    // the user its assertion says.
    upstream.on("upgrade", (req, socket) => {
      upgraded.push(socket);
      const { createHash } = require("node:crypto") as typeof import("node:crypto");
      const accept = createHash("sha1").update(`${String(req.headers["sec-websocket-key"])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      const sub = JSON.parse(Buffer.from(String(req.headers["x-tenet-assertion"] ?? "..").split(".")[1] ?? "", "base64url").toString() || "{}").sub ?? "nobody";
      const text = Buffer.from(`hello ${sub}`);
      socket.write(Buffer.concat([Buffer.from([0x81, text.length]), text]));
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const a = upstream.address();
    const upstreamUrl = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;
    srv = await startIdp({
      access: (_url, port) => ({
        proxy: {
          routes: [
            { id: "app", from: { host: `127.0.0.1:${port}` }, to: upstreamUrl, resource: { type: "app", id: "wiki" } },
            { id: "admin", from: { host: `127.0.0.1:${port}`, path: "/admin" }, to: upstreamUrl, resource: { type: "app", id: "wiki" }, acr: "hardware" },
            { id: "live", from: { host: `127.0.0.1:${port}`, path: "/ws" }, to: upstreamUrl, resource: { type: "app", id: "wiki" }, websockets: true },
          ],
        },
      }),
    });
    appOrigin = srv.url.replace("localhost", "127.0.0.1");
    const store = await srv.admin("POST", "/stores", { name: "apps" });
    storeId = store.body.id;
    srv.parts.authzen.defaultStoreId = storeId;
    await srv.parts.policy.writeModel(storeId, APPS_MODEL);
    user = await inviteAndRegister(srv, "nora");
    await srv.parts.policy.write(storeId, { writes: [{ object: "app:wiki", relation: "access", user: `user:${user.userId}` }] });
    const applied = await srv.admin("PUT", `/stores/${storeId}/access-policies`, { files: [{ name: "apps.yaml", content: appsPolicy('check("access")') }] });
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
  });
  after(async () => {
    for (const s of upgraded) s.destroy();
    await srv.close();
    upstream.close();
  });

  /** Browses the app: follows the sign-in through the provider (its own origin) and back. */
  async function signInToApp(app: Browser, idp: Browser, path: string): Promise<Response> {
    const first = await app.request(path, { headers: { accept: "text/html" } });
    assert.equal(first.status, 302, await first.clone().text());
    const started = await idp.follow(first.headers.get("location")!);
    const back = await passkeySignIn(srv, idp, { verifier: "", state: "", landed: started.url, res: started.res }, user.auth);
    assert.ok(back.startsWith(`${appOrigin}/.tenet/callback`), back);
    const { res } = await app.follow(back, { headers: { accept: "text/html" } });
    return res;
  }

  it("signs in, forwards with a verifiable assertion, and strips spoofed identity headers", async () => {
    const app = new Browser(appOrigin);
    const idp = new Browser(srv.url);
    const res = await signInToApp(app, idp, "/docs/page?x=1");
    assert.equal(res.status, 200);
    assert.deepEqual(await json(res), { ok: true, path: "/docs/page?x=1" });
    assert.equal(res.headers.get("x-app"), "yes");
    const again = await app.request("/docs/other", { headers: { "x-tenet-assertion": "forged", "x-forwarded-user": "admin", "x-forwarded-for": "1.2.3.4" } });
    assert.equal(again.status, 200);
    const h = seen.at(-1)!;
    assert.notEqual(h["x-tenet-assertion"], "forged");
    assert.equal(h["x-forwarded-user"], undefined);
    assert.notEqual(h["x-forwarded-for"], "1.2.3.4");
    assert.equal(h.cookie, undefined, "Tenet's session cookie is not passed to the app");
    const verifier = createAssertionVerifier({ issuer: srv.url, audience: appOrigin, jwksUri: `${srv.issuer}/jwks` });
    const who = await verifier.verify(String(h["x-tenet-assertion"]));
    assert.equal(who.subject, user.userId);
    assert.match(who.decisionId, /^[0-9A-Z]{26}$/);
    // The same keys are published on the app's own host, at a well-known path.
    const local = createAssertionVerifier({ issuer: srv.url, audience: appOrigin, jwksUri: `${appOrigin}/.well-known/tenet/jwks.json` });
    assert.equal((await local.verify(String(h["x-tenet-assertion"]))).subject, user.userId);
    // Every proxied decision is in the audit log.
    const rows = await srv.ds.queryAudit({ type: "access.decision", limit: 50 });
    assert.ok(rows.some((r) => r.event.includes(who.decisionId)));
    // The same request again at once: the decision is reused (the decision cache), and that
    // answer is recorded too, as a decision of its own naming the one it reused.
    assert.equal((await app.request("/docs/same")).status, 200);
    assert.equal((await app.request("/docs/same")).status, 200);
    const second = await verifier.verify(String(seen.at(-1)!["x-tenet-assertion"]));
    const reuse = (await srv.ds.queryAudit({ type: "access.decision", limit: 50 })).find((r) => r.event.includes(second.decisionId));
    assert.ok(reuse, "the reused decision was not recorded");
    assert.match(reuse.event, /"reused_from":"[0-9A-Z]{26}"/);
  });

  it("refuses path tricks before any decision, answers API clients with JSON", async () => {
    const app = new Browser(appOrigin);
    // fetch would resolve the dots itself: send the request-target as written.
    const { request } = await import("node:http");
    const raw = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const u = new URL(appOrigin);
        request({ host: u.hostname, port: u.port, path, headers: { host: u.host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on("error", reject)
          .end();
      });
    for (const p of ["/docs/%2e%2e/%2e%2e/etc/passwd", "/docs/..%2f..%2fetc", "/a/%252e%252e/b", "/a\\b"]) assert.equal(await raw(p), 400, p);
    const before = seen.length;
    assert.equal(seen.length, before, "nothing reached the app");
    const anon = await app.request("/docs", { headers: { accept: "application/json" } });
    assert.equal(anon.status, 401);
    assert.equal((await json(anon)).code, "unauthenticated");
  });

  it("a route that needs a hardware key sends the user to step up; a policy change denies; a revoked session signs in again", async () => {
    const app = new Browser(appOrigin);
    const idp = new Browser(srv.url);
    const first = await signInToApp(app, idp, "/");
    assert.equal(first.status, 200, await first.clone().text());
    const admin = await app.request("/admin/panel", { headers: { accept: "text/html" } });
    assert.equal(admin.status, 302);
    const loc = new URL(admin.headers.get("location")!);
    assert.equal(loc.searchParams.get("acr_values"), "http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical");

    const deny = await srv.admin("PUT", `/stores/${storeId}/access-policies`, { files: [{ name: "apps.yaml", content: appsPolicy(NEVER) }] });
    assert.equal(deny.status, 200, JSON.stringify(deny.body));
    const denied = await app.request("/docs", { headers: { accept: "text/html" } });
    assert.equal(denied.status, 403);
    assert.match(await denied.text(), /Access denied/);
    await srv.admin("PUT", `/stores/${storeId}/access-policies`, { files: [{ name: "apps.yaml", content: appsPolicy('check("access")') }] });
    const allowedAgain = await app.request("/docs");
    assert.equal(allowedAgain.status, 200, await allowedAgain.clone().text());

    const [session] = (await srv.admin("GET", `/identity/sessions?user_id=${user.userId}`)).body.sessions;
    for (const s of (await srv.admin("GET", `/identity/sessions?user_id=${user.userId}`)).body.sessions) await srv.admin("DELETE", `/identity/sessions/${s.uid}`);
    assert.ok(session);
    const after = await app.request("/docs", { headers: { accept: "text/html" } });
    assert.equal(after.status, 302, "revoked: back to sign-in");
  });

  it("a rule that needs an approval shows the pending just-in-time request, re-checked until approved", async () => {
    const app = new Browser(appOrigin);
    const idp = new Browser(srv.url);
    assert.equal((await signInToApp(app, idp, "/")).status, 200);
    const jitPolicy = appsPolicy('check("access")').replace("      when: check(\"access\")", '      when: check("access")\n      require: { approval: { approvers: { users: [user:boss] } } }');
    assert.notEqual(jitPolicy, appsPolicy('check("access")'), "the fixture's rule text changed: update this test");
    const put = await srv.admin("PUT", `/stores/${storeId}/access-policies`, { files: [{ name: "apps.yaml", content: jitPolicy }] });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    try {
      const page = await app.request("/docs", { headers: { accept: "text/html" } });
      assert.equal(page.status, 403);
      assert.equal(page.headers.get("refresh"), "15", "the page asks again by itself");
      const text = await page.text();
      assert.match(text, /Waiting for approval/);
      assert.match(text, /user:boss/);
      const api = await app.request("/docs", { headers: { accept: "application/json" } });
      assert.equal(api.status, 403);
      const body = await json(api);
      assert.equal(body.status, "pending");
      assert.deepEqual(body.approvers, ["user:boss"]);
      assert.match(String(body.request_id), /^[0-9A-Z]{26}$/);
      assert.ok(text.includes(String(body.request_id)), "the page names the same open request");
      const approved = await srv.admin("POST", `/stores/${storeId}/jit/requests/${body.request_id}/approve`, { approver: "user:boss", justification: "ok" });
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      const after = await app.request("/docs", { headers: { accept: "application/json" } });
      assert.equal(after.status, 200, await after.clone().text());
    } finally {
      await srv.admin("PUT", `/stores/${storeId}/access-policies`, { files: [{ name: "apps.yaml", content: appsPolicy('check("access")') }] });
    }
  });

  it("answers Envoy's ext_authz HTTP checks (requests shaped as Envoy sends them)", async () => {
    const rp = await registerRp(srv);
    const b = new Browser(srv.url);
    const started = await startLogin(rp, b);
    const tokens = await exchange(rp, await passkeySignIn(srv, b, started, user.auth), started);
    const host = new URL(appOrigin).host;
    // Envoy: the original method, path_prefix + original path, Host = the original authority,
    // the allowed headers, no body.
    // node:http, not fetch: fetch will not send a Host other than the URL's.
    const { request } = await import("node:http");
    const send = (path: string, headers: Record<string, string>) =>
      new Promise<Response>((resolve, reject) => {
        const u = new URL(srv.url);
        request({ host: "127.0.0.1", port: u.port, path: `/.tenet/ext_authz${path}`, method: "GET", headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const h = new Headers();
            for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") h.set(k, v);
            resolve(new Response(res.statusCode === 302 || chunks.length === 0 ? null : Buffer.concat(chunks), { status: res.statusCode ?? 0, headers: h }));
          });
        })
          .on("error", reject)
          .end();
      });
    const check = (path: string, headers: Record<string, string> = {}) => send(path, { host, "x-forwarded-for": "10.1.2.3", "x-request-id": "r-1", "x-envoy-internal": "true", "content-length": "0", ...headers });
    const ok = await check("/docs/page?x=1", { authorization: `Bearer ${tokens.access_token}` });
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal(ok.headers.get("x-tenet-user"), user.userId);
    const verifier = createAssertionVerifier({ issuer: srv.url, audience: appOrigin, jwksUri: `${srv.issuer}/jwks` });
    assert.equal((await verifier.verify(ok.headers.get("x-tenet-assertion")!)).subject, user.userId);
    const anon = await check("/docs", { accept: "application/json" });
    assert.equal(anon.status, 401);
    assert.equal((await json(anon)).code, "unauthenticated");
    const browser = await check("/docs", { accept: "text/html" });
    assert.equal(browser.status, 302);
    assert.match(browser.headers.get("location")!, /\/oidc\/auth\?/);
    const forged = await check("/docs", { authorization: "Bearer not-a-real-token-at-all" });
    assert.equal(forged.status, 401);
    const tricky = await check("/docs/%2e%2e/admin", { authorization: `Bearer ${tokens.access_token}` });
    assert.equal(tricky.status, 400);
    const stepUp = await check("/admin/x", { authorization: `Bearer ${tokens.access_token}`, accept: "application/json" });
    assert.equal(stepUp.status, 401);
    assert.equal((await json(stepUp)).acr_values, "http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical");
    const unknownHost = await send("/x", { host: "nowhere.example", authorization: `Bearer ${tokens.access_token}` });
    assert.equal(unknownHost.status, 403);
    await srv.admin("PUT", `/stores/${storeId}/access-policies`, { files: [{ name: "apps.yaml", content: appsPolicy(NEVER) }] });
    const denied = await check("/docs", { authorization: `Bearer ${tokens.access_token}` });
    assert.equal(denied.status, 403);
    assert.equal((await json(denied)).code, "forbidden");
    await srv.admin("PUT", `/stores/${storeId}/access-policies`, { files: [{ name: "apps.yaml", content: appsPolicy('check("access")') }] });
  });

  it("carries WebSockets for signed-in users on routes that allow them, and refuses the rest", async () => {
    const app = new Browser(appOrigin);
    const idp = new Browser(srv.url);
    assert.equal((await signInToApp(app, idp, "/")).status, 200);
    const { WebSocket } = await import("undici");
    const open = (path: string, cookie?: string) =>
      new Promise<{ message?: string; error?: string }>((resolve) => {
        const ws = new WebSocket(`${appOrigin.replace("http", "ws")}${path}`, { headers: cookie ? { cookie } : {} } as never);
        const timer = setTimeout(() => resolve({ error: "timeout" }), 5000);
        ws.addEventListener("message", (e) => {
          clearTimeout(timer);
          resolve({ message: String(e.data) });
          ws.close();
        });
        ws.addEventListener("error", () => {
          clearTimeout(timer);
          resolve({ error: "refused" });
        });
      });
    const cookie = app.cookieHeader("/ws");
    assert.deepEqual(await open("/ws/feed", cookie), { message: `hello ${user.userId}` });
    assert.deepEqual(await open("/ws/feed"), { error: "refused" }, "anonymous");
    assert.deepEqual(await open("/docs", cookie), { error: "refused" }, "a route without websockets");
  });
});
