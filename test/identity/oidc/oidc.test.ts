/**
 * The identity provider end to end with a real relying party (`openid-client`): invitation →
 * passkey registration → code flow with PKCE → tokens with acr/amr; refresh rotation and reuse
 * detection; introspection and revocation; step-up with acr_values; suspension revoking live
 * sessions; RP-initiated logout; and the protocol's negative cases with their error codes.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as client from "openid-client";
import { ACR } from "../../../src/identity/acr.js";
import { Browser, json, pageData } from "../browser.js";
import { SoftAuthenticator } from "../soft-authenticator.js";
import { exchange, inviteAndRegister, passkeySignIn, registerRp, startLogin, type Rp } from "./flow.js";
import { type IdpServer, startIdp } from "./server.js";

async function oauthError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { error?: string; code?: string }).error ?? (err as Error).message;
  }
  assert.fail("expected an OAuth error");
}

describe("identity provider with openid-client", () => {
  let srv: IdpServer;
  let rp: Rp;
  let alice: Awaited<ReturnType<typeof inviteAndRegister>>;

  before(async () => {
    srv = await startIdp();
    rp = await registerRp(srv);
    alice = await inviteAndRegister(srv, "alice");
  });
  after(async () => srv.close());

  it("publishes discovery with PKCE S256 only, the acr values and the endpoints", async () => {
    const meta = rp.config.serverMetadata();
    assert.equal(meta.issuer, srv.issuer);
    assert.deepEqual(meta.code_challenge_methods_supported, ["S256"]);
    assert.ok(meta.acr_values_supported?.includes(ACR.phishingResistant));
    assert.ok(meta.introspection_endpoint && meta.revocation_endpoint && meta.end_session_endpoint);
    assert.equal((meta as Record<string, unknown>).backchannel_logout_supported, true);
    const jwks = await json(fetch(meta.jwks_uri!));
    assert.ok(jwks.keys.some((k: { alg: string }) => k.alg === "ES256"));
    assert.ok(jwks.keys.every((k: Record<string, unknown>) => k.d === undefined), "no private parts in the JWKS");
  });

  it("signs in with a passkey: code + PKCE, ID token with acr, amr and auth_time", async () => {
    const b = new Browser(srv.url);
    const started = await startLogin(rp, b);
    const callback = await passkeySignIn(srv, b, started, alice.auth);
    assert.ok(callback.startsWith(rp.redirectUri), callback);
    const tokens = await exchange(rp, callback, started);
    const claims = tokens.claims()!;
    assert.equal(claims.sub, alice.userId);
    assert.equal(claims.acr, ACR.phishingResistant);
    assert.deepEqual(claims.amr, ["mfa", "swk", "user"]);
    assert.ok(typeof claims.auth_time === "number" && Math.abs(claims.auth_time - Date.now() / 1000) < 60);
    const info = await client.fetchUserInfo(rp.config, tokens.access_token, alice.userId);
    assert.equal(info.preferred_username, "alice");
    assert.equal(info.email, "alice@example.com");
    assert.ok(tokens.refresh_token, "a refresh token for a client allowed the refresh grant");
  });

  it("rotates refresh tokens and treats a reused one as theft", async () => {
    const b = new Browser(srv.url);
    const started = await startLogin(rp, b);
    const tokens = await exchange(rp, await passkeySignIn(srv, b, started, alice.auth), started);
    const first = tokens.refresh_token!;
    const next = await client.refreshTokenGrant(rp.config, first);
    assert.ok(next.refresh_token && next.refresh_token !== first);
    assert.equal(await oauthError(client.refreshTokenGrant(rp.config, first)), "invalid_grant");
    // The reuse revoked the grant: the rotated token is dead too.
    assert.equal(await oauthError(client.refreshTokenGrant(rp.config, next.refresh_token!)), "invalid_grant");
  });

  it("refuses a reused code, a PKCE mismatch and a wrong redirect_uri with invalid_grant", async () => {
    const b = new Browser(srv.url);
    const started = await startLogin(rp, b);
    const callback = await passkeySignIn(srv, b, started, alice.auth);
    const code = new URL(callback).searchParams.get("code")!;
    const token = (body: Record<string, string>) =>
      fetch(rp.config.serverMetadata().token_endpoint!, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${encodeURIComponent(rp.clientId)}:${encodeURIComponent(rp.clientSecret)}`).toString("base64")}` },
        body: new URLSearchParams({ grant_type: "authorization_code", redirect_uri: rp.redirectUri, code, ...body }),
      }).then(async (r) => ({ status: r.status, body: await json(r) }));
    const wrongVerifier = await token({ code_verifier: client.randomPKCECodeVerifier() });
    assert.equal(wrongVerifier.status, 400);
    assert.equal(wrongVerifier.body.error, "invalid_grant");
    // RFC 7636 §4.6: a failed verification (no verifier at all included) is invalid_grant.
    const missingVerifier = await token({});
    assert.equal(missingVerifier.body.error, "invalid_grant");
    const ok = await token({ code_verifier: started.verifier });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const again = await token({ code_verifier: started.verifier });
    assert.equal(again.body.error, "invalid_grant");
    // The reuse revoked what the code had issued.
    const intro = await client.tokenIntrospection(rp.config, ok.body.access_token);
    assert.equal(intro.active, false);
  });

  it("requires PKCE on the authorization request", async () => {
    const b = new Browser(srv.url);
    const url = new URL(rp.config.serverMetadata().authorization_endpoint!);
    url.search = new URLSearchParams({ client_id: rp.clientId, response_type: "code", scope: "openid", redirect_uri: rp.redirectUri, state: "s" }).toString();
    const { url: landed } = await b.follow(url.href);
    const back = new URL(landed);
    assert.equal(back.searchParams.get("error"), "invalid_request");
    assert.match(back.searchParams.get("error_description") ?? "", /PKCE/);
  });

  it("answers login_required to prompt=none without a session, and when acr_values cannot be met", async () => {
    const fresh = new Browser(srv.url);
    const none = await startLogin(rp, fresh, { prompt: "none" });
    assert.equal(new URL(none.landed).searchParams.get("error"), "login_required");

    const b = new Browser(srv.url);
    const started = await startLogin(rp, b);
    await exchange(rp, await passkeySignIn(srv, b, started, alice.auth), started);
    // Same browser: SSO for the same level, login_required for a hardware key it never used.
    const sso = await startLogin(rp, b, { prompt: "none", acr_values: ACR.phishingResistant });
    assert.ok(new URL(sso.landed).searchParams.get("code"), sso.landed);
    const hw = await startLogin(rp, b, { prompt: "none", acr_values: ACR.hardware });
    assert.equal(new URL(hw.landed).searchParams.get("error"), "login_required");
  });

  it("steps up: a session at a lower level is asked only for the missing factor", async () => {
    const b = new Browser(srv.url);
    const started = await startLogin(rp, b);
    await exchange(rp, await passkeySignIn(srv, b, started, alice.auth), started);
    // max_age=0 forces a fresh authentication: the page names the known user (step-up).
    const again = await startLogin(rp, b, { max_age: "0" });
    assert.equal(again.res.status, 200);
    const html = await again.res.clone().text();
    assert.match(html, /Confirm it&#39;s you|Confirm it's you/);
    assert.match(html, /alice/);
    const tokens = await exchange(rp, await passkeySignIn(srv, b, again, alice.auth), again);
    assert.ok(tokens.claims()!.auth_time! >= Math.floor(Date.now() / 1000) - 5);
  });

  it("suspending the account revokes live sessions and their tokens within seconds", async () => {
    const bob = await inviteAndRegister(srv, "bob");
    const b = new Browser(srv.url);
    const started = await startLogin(rp, b);
    const tokens = await exchange(rp, await passkeySignIn(srv, b, started, bob.auth), started);
    assert.equal((await client.tokenIntrospection(rp.config, tokens.access_token)).active, true);
    const sessions = await srv.admin("GET", `/identity/sessions?user_id=${bob.userId}`);
    assert.equal(sessions.body.sessions.length, 1);
    assert.equal(sessions.body.sessions[0].credentialId, bob.auth.credentials[0]!.id.toString("base64url"));
    // What an enforcement point learns from the token: who, and how they signed in.
    const idp = srv.parts.identity!.idp;
    const who = await idp.identityOfAccessToken(tokens.access_token);
    assert.equal(who?.userId, bob.userId);
    assert.equal(who?.acr, ACR.phishingResistant);
    assert.deepEqual(who?.amr, ["mfa", "swk", "user"]);
    assert.equal(who?.sessionId, sessions.body.sessions[0].uid);

    const t0 = Date.now();
    assert.equal((await srv.admin("POST", `/identity/users/${bob.userId}/suspend`, { reason: "left the company" })).status, 200);
    assert.equal((await client.tokenIntrospection(rp.config, tokens.access_token)).active, false);
    assert.ok(Date.now() - t0 < 5000);
    assert.equal(await oauthError(client.refreshTokenGrant(rp.config, tokens.refresh_token!)), "invalid_grant");
    assert.equal((await srv.admin("GET", `/identity/sessions?user_id=${bob.userId}`)).body.sessions.length, 0);
    assert.equal(await idp.identityOfAccessToken(tokens.access_token), undefined);
    // And the next sign-in is refused.
    const retry = await startLogin(rp, b);
    const { base, csrf } = pageData(await retry.res.text());
    const opts = await json(b.postJson(`${base}/passkey/options`, {}, csrf));
    const denied = await b.postJson(`${base}/passkey/verify`, { handle: opts.handle, response: bob.auth.get(opts.options, srv.url) }, csrf);
    assert.equal(denied.status, 403);
  });

  it("ends the session with RP-initiated logout", async () => {
    const b = new Browser(srv.url);
    const started = await startLogin(rp, b);
    const tokens = await exchange(rp, await passkeySignIn(srv, b, started, alice.auth), started);
    const end = client.buildEndSessionUrl(rp.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${srv.url}/rp/bye` });
    const page = await b.request(end.href);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    const action = /action="([^"]+)"/.exec(html)![1]!;
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)![1]!;
    const confirm = await b.request(action, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ xsrf, logout: "yes" }).toString() });
    const { url } = await b.follow(confirm.headers.get("location")!.startsWith("http") ? confirm.headers.get("location")! : new URL(confirm.headers.get("location")!, srv.url).href);
    assert.ok(url.startsWith(`${srv.url}/rp/bye`), url);
    assert.equal((await client.tokenIntrospection(rp.config, tokens.access_token)).active, false);
    const none = await startLogin(rp, b, { prompt: "none" });
    assert.equal(new URL(none.landed).searchParams.get("error"), "login_required");
  });

  it("issues client-credentials tokens to services", async () => {
    const svc = await srv.admin("POST", "/identity/clients", { client_name: "svc", grant_types: ["client_credentials"] });
    assert.equal(svc.status, 201, JSON.stringify(svc.body));
    const cfg = await client.discovery(new URL(srv.issuer), svc.body.client_id, svc.body.client_secret, undefined, { execute: [client.allowInsecureRequests] });
    const t = await client.clientCredentialsGrant(cfg, {});
    assert.ok(t.access_token);
    const bad = await client.discovery(new URL(srv.issuer), svc.body.client_id, "wrong-secret", undefined, { execute: [client.allowInsecureRequests] });
    assert.equal(await oauthError(client.clientCredentialsGrant(bad, {})), "invalid_client");
  });

  it("rejects WebAuthn replays, wrong origins and bad signatures without locking the user out", async () => {
    const carol = await inviteAndRegister(srv, "carol");
    const b = new Browser(srv.url);
    const started = await startLogin(rp, b);
    const { base, csrf } = pageData(await started.res.text());
    const ask = () => json(b.postJson(`${base}/passkey/options`, {}, csrf));

    const o1 = await ask();
    const wrongOrigin = await b.postJson(`${base}/passkey/verify`, { handle: o1.handle, response: carol.auth.get(o1.options, "https://evil.example") }, csrf);
    assert.equal(wrongOrigin.status, 400);
    const o2 = await ask();
    const good = carol.auth.get(o2.options, srv.url);
    const tampered = { ...good, response: { ...good.response, signature: carol.auth.get(o2.options, srv.url, { tamper: true }).response.signature } };
    const badSig = await b.postJson(`${base}/passkey/verify`, { handle: o2.handle, response: tampered }, csrf);
    assert.equal(badSig.status, 401);
    // The same challenge again (replay of a used ceremony).
    const replay = await b.postJson(`${base}/passkey/verify`, { handle: o2.handle, response: good }, csrf);
    assert.equal(replay.status, 400);
    const malformed = await b.postJson(`${base}/passkey/verify`, { handle: "x", response: { id: 5 } }, csrf);
    assert.equal(malformed.status, 400);
    const unknown = new SoftAuthenticator();
    unknown.create({ challenge: "AA", rp: { name: "x", id: "localhost" }, user: { id: "eA" } }, srv.url);
    const o3 = await ask();
    const stranger = await b.postJson(`${base}/passkey/verify`, { handle: o3.handle, response: unknown.get(o3.options, srv.url) }, csrf);
    assert.equal(stranger.status, 401);
    const noCsrf = await b.postJson(`${base}/passkey/options`, {}, "nope");
    assert.equal(noCsrf.status, 403);
    // None of that locked carol out.
    const user = await srv.admin("GET", `/identity/users/${carol.userId}`);
    assert.equal(user.body.locked_until, undefined);
    const o4 = await ask();
    const ok = await b.postJson(`${base}/passkey/verify`, { handle: o4.handle, response: carol.auth.get(o4.options, srv.url) }, csrf);
    assert.equal(ok.status, 200, await ok.clone().text());
  });

  it("records sign-ins and failures in the audit log", async () => {
    const rows = await srv.ds.queryAudit({ type: "authentication.sign_in", limit: 100 });
    assert.ok(rows.length >= 3);
    const ev = JSON.parse(rows[0]!.event);
    assert.equal(ev.class_uid, 3002);
    assert.equal(ev.unmapped.tenet.acr, ACR.phishingResistant);
    const failures = await srv.ds.queryAudit({ type: "authentication.failure", limit: 100 });
    assert.ok(failures.some((r) => JSON.parse(r.event).status_detail.startsWith("replay")));
  });
});
