/**
 * Second factors end to end: the account page (signed in through the provider like any app) sets
 * up an authenticator app and makes recovery codes; a recovery code signs in at level 0; a TOTP
 * code then steps that session up to multi-factor — the step-up page asks only for the missing
 * factor. Lockout after repeated wrong codes, and an admin unlock.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { generate } from "otplib";
import { ACR } from "../../../src/identity/acr.js";
import { Browser, json, pageData } from "../browser.js";
import { exchange, inviteAndRegister, registerRp, startLogin, passkeySignIn, type Rp } from "./flow.js";
import { type IdpServer, startIdp } from "./server.js";

const totpCode = (secret: string, at: number) => generate({ secret, epoch: Math.floor(at / 1000) });

describe("second factors and recovery", () => {
  let srv: IdpServer;
  let rp: Rp;
  let user: Awaited<ReturnType<typeof inviteAndRegister>>;
  let secret = "";
  let codes: string[] = [];

  before(async () => {
    srv = await startIdp();
    rp = await registerRp(srv);
    user = await inviteAndRegister(srv, "kim");
  });
  after(async () => srv.close());

  it("the account page sets up an authenticator app and recovery codes", async () => {
    const b = user.browser;
    // The invitation ended on /account: sign in to it through the provider.
    const { res: signin } = await b.follow(`${srv.url}/account`);
    assert.equal(signin.status, 200);
    const { base, csrf } = pageData(await signin.text());
    const opts = await json(b.postJson(`${base}/passkey/options`, {}, csrf));
    const done = await b.postJson(`${base}/passkey/verify`, { handle: opts.handle, response: user.auth.get(opts.options, srv.url) }, csrf);
    const { res: account } = await b.follow((await json(done)).redirect);
    const html = await account.text();
    assert.match(html, /Your account/);
    const acsrf = pageData(html).csrf;
    const form = (path: string, fields: Record<string, string>) => b.request(path, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", origin: srv.url }, body: new URLSearchParams({ csrf: acsrf, ...fields }).toString() });

    const setup = await form("/account/totp/begin", {});
    assert.equal(setup.status, 200);
    const page = await setup.text();
    secret = /Key: <code>([A-Z2-7 ]+)<\/code>/.exec(page)![1]!.replace(/ /g, "");
    assert.match(page, /otpauth:\/\/totp\//);
    const confirmed = await form("/account/totp/confirm", { code: await totpCode(secret, Date.now()) });
    assert.equal(confirmed.status, 303);
    assert.match(decodeURIComponent(confirmed.headers.get("location")!), /Authenticator app added/);

    const rc = await form("/account/recovery-codes", {});
    assert.equal(rc.status, 200);
    codes = [...(await rc.text()).matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1]!);
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    // Without the CSRF token nothing changes.
    const forged = await b.request("/account/recovery-codes", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "csrf=forged" });
    assert.equal(forged.status, 403);
    const status = await srv.admin("GET", `/identity/users/${user.userId}`);
    assert.equal(status.body.totp, true);
    assert.equal(status.body.recovery_codes_left, 10);
  });

  it("a recovery code signs in at level 0, and TOTP steps that session up to multi-factor", async () => {
    const b = new Browser(srv.url);
    const started = await startLogin(rp, b);
    const { base, csrf } = pageData(await started.res.text());
    const res = await b.request(`${base}/recovery`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", origin: srv.url }, body: new URLSearchParams({ csrf, username: "kim", code: codes[0]!.toLowerCase() }).toString() });
    assert.equal(res.status, 303);
    const { url } = await b.follow(res.headers.get("location")!);
    const t1 = await exchange(rp, url, started);
    assert.equal(t1.claims()!.acr, ACR.none);
    assert.deepEqual(t1.claims()!.amr, ["otp"]);
    // The same code does not work twice.
    const again = await startLogin(rp, new Browser(srv.url));
    const d2 = pageData(await again.res.text());
    const reused = await b.request(`${d2.base}/recovery`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ csrf: d2.csrf, username: "kim", code: codes[0]! }).toString() });
    assert.equal(reused.status, 400);

    // Step-up to MFA: the page knows the user and offers the authenticator app.
    const up = await startLogin(rp, b, { acr_values: ACR.mfa });
    assert.equal(up.res.status, 200);
    const upHtml = await up.res.text();
    assert.match(upHtml, /a second factor is required/);
    assert.match(upHtml, /authenticator app/);
    const d3 = pageData(upHtml);
    const wrong = await b.request(`${d3.base}/totp`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ csrf: d3.csrf, code: "000000" }).toString() });
    assert.equal(wrong.status, 400);
    // The next time step's code (the enrolment used this one).
    const code = await totpCode(secret, Date.now() + 30_000);
    const ok = await b.request(`${d3.base}/totp`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ csrf: d3.csrf, code }).toString() });
    assert.equal(ok.status, 303, await ok.clone().text());
    const { url: back } = await b.follow(ok.headers.get("location")!);
    const t2 = await exchange(rp, back, up);
    assert.equal(t2.claims()!.acr, ACR.mfa);
    assert.deepEqual(t2.claims()!.amr, ["mfa", "otp"]);
  });

  it("locks the account after 10 wrong codes from a real attempt, refuses the right factor meanwhile, and an admin unlocks it", async () => {
    const b = new Browser(srv.url);
    for (let i = 0; i < 10; i++) {
      const s = await startLogin(rp, b);
      const d = pageData(await s.res.text());
      const r = await b.request(`${d.base}/recovery`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ csrf: d.csrf, username: "kim", code: `AAAA-BBBB-CCCC-${String(1000 + i)}` }).toString() });
      assert.ok(r.status === 400 || r.status === 429, String(r.status));
    }
    const locked = await srv.admin("GET", `/identity/users/${user.userId}`);
    assert.ok(locked.body.locked_until, "locked after 10 failures");
    assert.ok(Date.parse(locked.body.locked_until) - Date.now() >= 29 * 60_000);
    // Even the right passkey is refused while locked.
    const s = await startLogin(rp, new Browser(srv.url));
    await assert.rejects(passkeySignIn(srv, new Browser(srv.url), s, user.auth));
    assert.equal((await srv.admin("POST", `/identity/users/${user.userId}/unlock`, { reason: "verified by phone" })).body.unlocked, true);
    const b2 = new Browser(srv.url);
    const s2 = await startLogin(rp, b2);
    const tokens = await exchange(rp, await passkeySignIn(srv, b2, s2, user.auth), s2);
    assert.equal(tokens.claims()!.sub, user.userId);
    const lockouts = await srv.ds.queryAudit({ type: "authentication.lockout", limit: 10 });
    assert.ok(lockouts.length >= 2, "lockout and unlock are audited");
    // An admin resets the authenticator app (a lost phone).
    assert.equal((await srv.admin("DELETE", `/identity/users/${user.userId}/totp`)).status, 204);
    assert.equal((await srv.admin("GET", `/identity/users/${user.userId}`)).body.totp, false);
    assert.equal((await srv.admin("DELETE", `/identity/users/${user.userId}/totp`)).status, 404);
  });
});
