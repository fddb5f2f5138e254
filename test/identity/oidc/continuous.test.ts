/**
 * Continuous evaluation through the assembled server: risk changes downgrade or revoke live
 * sessions, removing a passkey ends the sessions it signed, a CAEP SET reaches a registered
 * receiver, key rotation keeps tokens verifiable, SCIM deprovisioning ends sessions, and the
 * `tenet user`/`tenet client` commands drive the admin API.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { createRemoteJWKSet, jwtVerify } from "jose";
import * as client from "openid-client";
import { main } from "../../../src/cli/main.js";
import { ACR } from "../../../src/identity/acr.js";
import { Browser } from "../browser.js";
import { exchange, inviteAndRegister, passkeySignIn, registerRp, startLogin, type Rp } from "./flow.js";
import { type IdpServer, startIdp } from "./server.js";

describe("continuous evaluation and administration", () => {
  let srv: IdpServer;
  let rp: Rp;
  let receiver: Server;
  let receiverUrl: string;
  const received: string[] = [];

  before(async () => {
    srv = await startIdp();
    rp = await registerRp(srv);
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        received.push(body);
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const a = receiver.address();
    receiverUrl = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}/events`;
  });
  after(async () => {
    await srv.close();
    receiver.close();
  });

  const signIn = async (auth: Awaited<ReturnType<typeof inviteAndRegister>>["auth"], b = new Browser(srv.url)) => {
    const started = await startLogin(rp, b);
    return { b, tokens: await exchange(rp, await passkeySignIn(srv, b, started, auth), started) };
  };
  const active = async (token: string) => (await client.tokenIntrospection(rp.config, token)).active;

  it("a medium risk downgrades the session (step-up needed), a high one revokes it", async () => {
    const u = await inviteAndRegister(srv, "dana");
    const { b, tokens } = await signIn(u.auth);
    await srv.admin("POST", `/identity/users/${u.userId}/risk`, { level: "medium" });
    // Tokens keep their short lives, but no acr can be had without a fresh sign-in.
    assert.equal(await active(tokens.access_token), true);
    const none = await startLogin(rp, b, { prompt: "none", acr_values: ACR.mfa });
    assert.equal(new URL(none.landed).searchParams.get("error"), "login_required");
    await srv.admin("POST", `/identity/users/${u.userId}/risk`, { level: "high", previous: "medium" });
    assert.equal(await active(tokens.access_token), false);
    assert.equal((await srv.admin("GET", `/identity/sessions?user_id=${u.userId}`)).body.sessions.length, 0);
  });

  it("removing a passkey ends the sessions it signed in", async () => {
    const u = await inviteAndRegister(srv, "eve");
    const { tokens } = await signIn(u.auth);
    const keys = await srv.admin("GET", `/identity/users/${u.userId}/passkeys`);
    assert.equal(keys.body.passkeys.length, 1);
    assert.equal(keys.body.passkeys[0].publicKey, undefined, "public keys are not listed");
    const del = await srv.admin("DELETE", `/identity/users/${u.userId}/passkeys/${keys.body.passkeys[0].id}`);
    assert.equal(del.status, 204);
    assert.equal(await active(tokens.access_token), false);
  });

  it("pushes a signed CAEP session-revoked SET to a registered receiver", async () => {
    const reg = await srv.admin("POST", "/identity/signals/receivers", { endpoint_url: receiverUrl, audience: "https://rp.example", events_requested: ["https://schemas.openid.net/secevent/caep/event-type/session-revoked"] });
    assert.equal(reg.status, 201, JSON.stringify(reg.body));
    const u = await inviteAndRegister(srv, "frank");
    await signIn(u.auth);
    await srv.admin("POST", `/identity/users/${u.userId}/suspend`, { reason: "test" });
    const jwks = createRemoteJWKSet(new URL(`${srv.issuer}/jwks`));
    const deadline = Date.now() + 10_000;
    let found = false;
    while (!found && Date.now() < deadline) {
      for (const set of received) {
        const { payload, protectedHeader } = await jwtVerify(set, jwks, { issuer: srv.issuer, audience: "https://rp.example", typ: "secevent+jwt" });
        assert.ok(protectedHeader.kid);
        const ev = (payload.events as Record<string, unknown>)["https://schemas.openid.net/secevent/caep/event-type/session-revoked"];
        if (ev && JSON.stringify(payload.sub_id).includes(u.userId)) found = true;
      }
      if (!found) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(found, `no session-revoked SET for ${u.userId} among ${received.length}`);
  });

  it("rotates signing keys without breaking tokens already issued", async () => {
    const u = await inviteAndRegister(srv, "gina");
    const before = await signIn(u.auth);
    const kidBefore = JSON.parse(Buffer.from(before.tokens.id_token!.split(".")[0]!, "base64url").toString()).kid;
    const rotated = await srv.admin("POST", "/identity/keys/rotate");
    assert.equal(rotated.status, 200);
    assert.ok(rotated.body.keys.some((k: { state: string }) => k.state === "retired"));
    const after = await signIn(u.auth);
    const kidAfter = JSON.parse(Buffer.from(after.tokens.id_token!.split(".")[0]!, "base64url").toString()).kid;
    assert.notEqual(kidAfter, kidBefore);
    const jwks = createRemoteJWKSet(new URL(`${srv.issuer}/jwks`));
    await jwtVerify(before.tokens.id_token!, jwks, { issuer: srv.issuer });
    await jwtVerify(after.tokens.id_token!, jwks, { issuer: srv.issuer });
    assert.equal(await active(before.tokens.access_token), true);
  });

  it("SCIM deprovisioning (active: false) suspends the user and ends their sessions", async () => {
    const u = await inviteAndRegister(srv, "hank");
    const { tokens } = await signIn(u.auth);
    const res = await fetch(`${srv.url}/scim/v2/Users/${u.userId}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${srv.adminToken}`, "content-type": "application/scim+json" },
      body: JSON.stringify({ schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "Replace", path: "active", value: "False" }] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal((await srv.admin("GET", `/identity/users/${u.userId}`)).body.status, "suspended");
    assert.equal(await active(tokens.access_token), false);
    const unauth = await fetch(`${srv.url}/scim/v2/Users`, { headers: { authorization: "Bearer nope" } });
    assert.equal(unauth.status, 401);
    assert.match(unauth.headers.get("content-type") ?? "", /scim\+json/);
  });

  it("a device enrolled with the user's access token that reports bad posture downgrades the user's sessions", async () => {
    const u = await inviteAndRegister(srv, "jade");
    const { b, tokens } = await signIn(u.auth);
    const { generateKeyPair, exportJWK } = await import("jose");
    const { signPostureReport } = await import("../../../src/identity/devices/signature.js");
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const enrol = await fetch(`${srv.url}/identity/devices`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.access_token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "laptop", publicKey: await exportJWK(publicKey), platform: "linux" }),
    });
    assert.equal(enrol.status, 201, await enrol.clone().text());
    const device = (await enrol.json()) as { id: string };
    const report = async (diskEncryption: string) => {
      const posture = { os: { name: "debian", version: "12" }, diskEncryption, screenLock: "on", firewall: "on", managed: false, collectedAt: new Date().toISOString() };
      const jws = await signPostureReport(privateKey, { deviceId: device.id, alg: "ES256", posture: posture as never });
      const rep = await fetch(`${srv.url}/identity/devices/${device.id}/posture`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ report: jws }) });
      assert.equal(rep.status, 200, await rep.clone().text());
      return ((await rep.json()) as { compliant: boolean }).compliant;
    };
    assert.equal(await report("on"), true);
    const sso = await startLogin(rp, b, { prompt: "none", acr_values: ACR.mfa });
    assert.ok(new URL(sso.landed).searchParams.get("code"), "compliant: single sign-on still works");
    // The disk is no longer encrypted: the device falls out of compliance.
    assert.equal(await report("off"), false);
    // Not bound to this browser session, so the user's sessions are downgraded: any acr needs a new sign-in.
    const none = await startLogin(rp, b, { prompt: "none", acr_values: ACR.mfa });
    assert.equal(new URL(none.landed).searchParams.get("error"), "login_required");
    // Someone else's token cannot see the device.
    const other = await fetch(`${srv.url}/identity/devices/${device.id}`, { headers: { authorization: "Bearer not-a-token-at-all-xx" } });
    assert.ok(other.status === 401 || other.status === 404, String(other.status));
  });

  it("revoking a session sends a back-channel logout token the relying party can verify", async () => {
    const tokensSeen: string[] = [];
    const rpServer = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        tokensSeen.push(new URLSearchParams(body).get("logout_token") ?? "");
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => rpServer.listen(0, "127.0.0.1", r));
    const a = rpServer.address();
    const bcl = `http://localhost:${typeof a === "object" && a ? a.port : 0}/backchannel`;
    try {
      const rp2 = await registerRp(srv, { backchannel_logout_uri: bcl, backchannel_logout_session_required: true });
      const u = await inviteAndRegister(srv, "lena");
      const b = new Browser(srv.url);
      const started = await startLogin(rp2, b);
      const tokens = await exchange(rp2, await passkeySignIn(srv, b, started, u.auth), started);
      const sid = tokens.claims()!.sid as string;
      assert.ok(sid, "the ID token names the session (sid)");
      const [session] = (await srv.admin("GET", `/identity/sessions?user_id=${u.userId}`)).body.sessions;
      assert.equal((await srv.admin("DELETE", `/identity/sessions/${session.uid}`)).status, 204);
      assert.equal(tokensSeen.length, 1);
      const { payload } = await jwtVerify(tokensSeen[0]!, createRemoteJWKSet(new URL(`${srv.issuer}/jwks`)), { issuer: srv.issuer, audience: rp2.clientId, typ: "logout+jwt" });
      assert.equal(payload.sub, u.userId);
      assert.equal(payload.sid, sid);
      assert.ok((payload.events as Record<string, unknown>)["http://schemas.openid.net/event/backchannel-logout"]);
    } finally {
      rpServer.close();
    }
  });

  it("tenet device enroll without a token signs the person in through a browser (RFC 8628)", async () => {
    const u = await inviteAndRegister(srv, "milo");
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const state = join(mkdtempSync(join(tmpdir(), "tenet-dev-")), "device.json");
    const err: string[] = [];
    const out: string[] = [];
    let announced: (url: string) => void = () => undefined;
    const url = new Promise<string>((r) => (announced = r));
    const io = {
      out: (s: string) => void out.push(s),
      err: (s: string) => {
        err.push(s);
        const m = /(http:\/\/\S+\/oidc\/device\S*)/.exec(s);
        if (m) announced(m[1]!);
      },
    };
    const cli = main(["device", "enroll", "--server", srv.url, "--name", "milo-laptop", "--state", state], io);
    const b = new Browser(srv.url);
    // The complete URI carries the code: the library's page submits it (a script allowed by hash).
    const submit = await b.request(await url);
    assert.equal(submit.status, 200);
    const auto = await submit.text();
    const script = /<script>([\s\S]*?)<\/script>/.exec(auto)![1]!;
    const { createHash } = await import("node:crypto");
    assert.ok(submit.headers.get("content-security-policy")!.includes(`'sha256-${createHash("sha256").update(script).digest("base64")}'`));
    const autoAction = /<form method="post" action="([^"]+)"/.exec(auto)![1]!;
    const autoFields = Object.fromEntries([...auto.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    const confirm = await b.request(autoAction, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(autoFields).toString() });
    assert.equal(confirm.status, 200);
    const html = await confirm.text();
    assert.match(html, /Tenet command line/);
    const action = /<form[^>]+action="([^"]+)"/.exec(html)![1]!;
    const fields = Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    const posted = await b.request(action, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(fields).toString() });
    const { res: signin } = await b.follow(new URL(posted.headers.get("location")!, srv.url).href);
    const started = { verifier: "", state: "", landed: "", res: signin };
    const done = await passkeySignIn(srv, b, started, u.auth);
    assert.match(done, /\/oidc\/device/);
    assert.equal(await cli, 0, err.join(""));
    const devices = await srv.admin("GET", `/identity/devices?userId=${u.userId}`);
    assert.ok(JSON.stringify(devices.body).includes("milo-laptop"), JSON.stringify(devices.body));
  });

  it("tenet user and tenet client drive the admin API", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) };
    const common = ["--server", srv.url, "--token", srv.adminToken];
    assert.equal(await main(["user", "create", "--username", "ivy", "--email", "ivy@example.com", ...common], io), 0, err.join(""));
    assert.match(out.join(""), new RegExp(`${srv.url}/invite/[A-Za-z0-9_-]{43}`));
    assert.equal(await main(["user", "suspend", "ivy", "--reason", "test", ...common], io), 0, err.join(""));
    assert.equal((await srv.admin("GET", "/identity/users/ivy")).body.status, "suspended");
    out.length = 0;
    assert.equal(await main(["client", "create", "--name", "CLI app", "--redirect-uri", "https://app.example/cb", ...common], io), 0, err.join(""));
    const created = JSON.parse(out.join(""));
    assert.ok(created.client_secret && created.client_id);
    assert.equal(await main(["client", "create", "--name", "bad", "--redirect-uri", "http://evil.example/cb", ...common], io), 1);
    assert.match(err.join(""), /validation_error/);
    // Admin changes are in the audit log with who made them; the secret only as an HMAC.
    const clientRows = await srv.ds.queryAudit({ type: "identity.client.create", limit: 10 });
    const row = clientRows.find((r) => r.resource === `oauth_client:${created.client_id}`);
    assert.ok(row, "client creation audited");
    assert.ok(!row.event.includes(created.client_secret), "no client secret in the audit log");
    assert.match(row.subject ?? "", /^api_key:/);
    assert.ok((await srv.ds.queryAudit({ type: "identity.user.suspend", resource: "user:ivy", limit: 1 })).length === 1);
    assert.equal(await main(["client", "delete", created.client_id, ...common], io), 0);
    assert.equal(await main(["user", "get", "nobody", ...common], io), 1);
    assert.equal(await main(["client", "create", ...common], io), 2);
  });
});
