/**
 * The identity-aware proxy in a real browser (issue 8, Must have 9): Debian's Chromium, driven by
 * playwright-core, with a DevTools virtual authenticator holding the user's passkey, against
 * `tenet serve` as assembled. The protocol details are covered by test/enforcement/proxy.test.ts
 * with a scripted browser; this suite proves the flows work in a browser that applies cookie
 * scoping, SameSite, redirects, WebAuthn's origin rules and the pages' CSP for real.
 *
 * The app and the identity provider are two origins of the same server: the proxy's route is
 * `127.0.0.1:<port>` (cookies only: no WebAuthn there), the provider is `localhost:<port>` (a
 * secure context, where the passkey ceremonies run). The upstream is a small node:http app that
 * shows who the proxy's signed assertion says is there.
 *
 *   1. anonymous → the app URL → Tenet's sign-in → passkey → back at the same URL (with its
 *      query) showing the user;
 *   2. a denying access policy → the next navigation is Tenet's 403 page; restored → allowed;
 *   3. the session revoked → the next navigation is at sign-in within 5 s of the revocation;
 *   4. a route with `maxAge` → step-up ("Confirm it's you"), passkey, back at the route;
 *   5. the proxy's pages carry the CSP and nothing logged an error on the console.
 *
 * Runs from dist (the audit writer thread does not load under tsx):
 *   npx tsc -p tsconfig.build.json && node --test dist/test/enforcement/browser/proxy.test.js
 */
import { APPS_MODEL, appsPolicy } from "../apps-fixture.js";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import type { Browser, Page, Response as PageResponse } from "playwright-core";
import { createAssertionVerifier } from "../../../src/sdk/index.js";
import { chromiumSkip, closeChromium, launchChromium, newPasskeyPage, type PasskeyPage } from "../../identity/browser/chromium.js";
import { type IdpServer, startIdp } from "../../identity/oidc/server.js";

/** Explicit waits: a step that has not happened within this is a failure, not a hang. */
const STEP_MS = 10_000;
/** The sensitive route's maximum sign-in age: short, so the test can outwait it. */
const ADMIN_MAX_AGE_S = 4;
const SIGNIN_PAGE = /^http:\/\/localhost:\d+\/signin\/[A-Za-z0-9_-]{10,64}$/;


const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const esc = (s: unknown) => String(s ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/** The upstream app: a page that says who the proxy's assertion names (payload decoded, not verified: the test verifies). */
function startUpstream(seen: string[]): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const assertion = req.headers["x-tenet-assertion"];
    let sub = "nobody";
    let email = "";
    if (typeof assertion === "string") {
      seen.push(assertion);
      try {
        const payload = JSON.parse(Buffer.from(assertion.split(".")[1] ?? "", "base64url").toString("utf8")) as { sub?: string; email?: string };
        sub = payload.sub ?? "no subject";
        email = payload.email ?? "";
      } catch {
        sub = "unreadable assertion";
      }
    }
    const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Wiki</title></head><body><h1>Wiki</h1><p id="who">${esc(sub)}</p><p id="email">${esc(email)}</p><p id="path">${esc(req.url)}</p></body></html>`;
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
    res.end(body);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const a = server.address();
      resolve({ server, url: `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}` });
    }),
  );
}

describe("the identity-aware proxy in Chromium with a virtual passkey", { skip: chromiumSkip() }, () => {
  let srv: IdpServer;
  let upstream: Server;
  let appOrigin: string;
  let storeId: string;
  let userId: string;
  let chromium: Browser;
  let tab: PasskeyPage;
  let page: Page;
  const assertions: string[] = [];
  /** Every document the browser received from the app's origin (the proxy's and the app's). */
  const appDocuments: PageResponse[] = [];
  /** Console errors and CSP reports, with the URL they are about. */
  const consoleErrors: Array<{ text: string; url: string }> = [];

  const applyPolicy = async (rule: string) => {
    const r = await srv.admin("PUT", `/stores/${storeId}/access-policies`, { files: [{ name: "apps.yaml", content: appsPolicy(rule) }] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  };

  /** On the provider's sign-in page: the passkey button, then back at `appUrl` showing the user. */
  const passkeyBackTo = async (appUrl: string) => {
    await page.locator("#passkey-signin").click();
    await page.waitForURL(appUrl, { timeout: STEP_MS });
    await page.locator("#who").waitFor();
    assert.equal(await page.locator("#who").textContent(), userId);
  };

  before(async () => {
    const up = await startUpstream(assertions);
    upstream = up.server;
    srv = await startIdp({
      access: (_url, port) => ({
        proxy: {
          routes: [
            { id: "wiki", from: { host: `127.0.0.1:${port}` }, to: up.url, resource: { type: "app", id: "wiki" } },
            { id: "wiki-admin", from: { host: `127.0.0.1:${port}`, path: "/admin" }, to: up.url, resource: { type: "app", id: "wiki" }, maxAge: `${ADMIN_MAX_AGE_S}s` },
          ],
        },
      }),
    });
    appOrigin = srv.url.replace("localhost", "127.0.0.1");
    const store = await srv.admin("POST", "/stores", { name: "apps" });
    assert.equal(store.status, 201, JSON.stringify(store.body));
    storeId = store.body.id;
    srv.parts.authzen.defaultStoreId = storeId;
    await srv.parts.policy.writeModel(storeId, APPS_MODEL);

    const created = await srv.admin("POST", "/identity/users", { username: "nora", email: "nora@example.com", email_verified: true });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    userId = created.body.id;
    await srv.parts.policy.write(storeId, { writes: [{ object: "app:wiki", relation: "access", user: `user:${userId}` }] });
    await applyPolicy('check("access")');

    chromium = await launchChromium();
    tab = await newPasskeyPage(chromium, { timeoutMs: STEP_MS });
    page = tab.page;
    page.on("console", (m) => {
      if (m.type() === "error" || /Content Security Policy/i.test(m.text())) consoleErrors.push({ text: m.text(), url: m.location().url });
    });
    page.on("response", (r) => {
      if (r.request().resourceType() === "document" && r.url().startsWith(`${appOrigin}/`)) appDocuments.push(r);
    });

    // The passkey, registered the way a new user does it: the invitation page on the provider.
    const inv = await srv.admin("POST", `/identity/users/${userId}/invitations`, {});
    assert.equal(inv.status, 201, JSON.stringify(inv.body));
    await page.goto(new URL(inv.body.url, srv.url).href);
    await page.locator("#passkey-name").fill("Chromium key");
    await page.locator("#passkey-register").click();
    await page.waitForURL(SIGNIN_PAGE, { timeout: STEP_MS });
    assert.equal((await tab.credentials()).length, 1, "the virtual authenticator holds the passkey");
    // Anonymous from here on: no cookie of the provider or the app (the passkey stays).
    await tab.context.clearCookies();
  });

  after(async () => {
    await closeChromium(chromium);
    await srv?.close();
    upstream?.close();
  });

  it("sends an anonymous visitor to sign in with a passkey and back to the same URL, signed in", async () => {
    const appUrl = `${appOrigin}/docs/page?x=1&y=two`;
    const auth = page.waitForRequest((r) => r.url().startsWith(`${srv.issuer}/auth?`));
    await page.goto(appUrl);
    const authUrl = new URL((await auth).url());
    assert.equal(authUrl.searchParams.get("client_id"), "tenet-proxy");
    assert.equal(authUrl.searchParams.get("code_challenge_method"), "S256");
    assert.equal(authUrl.searchParams.get("redirect_uri"), `${appOrigin}/.tenet/callback`);
    await page.waitForURL(SIGNIN_PAGE);
    assert.equal(await page.locator("h1").textContent(), "Sign in to Tenet proxy");

    await passkeyBackTo(appUrl);
    assert.equal(await page.locator("#path").textContent(), "/docs/page?x=1&y=two");
    assert.equal(await page.locator("#email").textContent(), "nora@example.com");
    // The app got an assertion it can verify (audience: the route).
    const verifier = createAssertionVerifier({ issuer: srv.url, audience: appOrigin, jwksUri: `${srv.issuer}/jwks` });
    const who = await verifier.verify(assertions.at(-1)!);
    assert.equal(who.subject, userId);

    // The proxy's session cookie: on the app's host only, HttpOnly, SameSite; never the app's to see.
    const cookies = await tab.context.cookies(appOrigin);
    const session = cookies.find((c) => c.name === "tenet_proxy");
    assert.ok(session, JSON.stringify(cookies.map((c) => c.name)));
    assert.equal(session.domain, "127.0.0.1");
    assert.equal(session.httpOnly, true);
    assert.notEqual(session.sameSite, "None");
    assert.equal(await page.evaluate("document.cookie"), "", "no script on the app's page can read Tenet's cookie");
  });

  it("denies the next navigation after a policy change with Tenet's 403 page, and allows again when restored", async () => {
    await applyPolicy(`'"a" == "b"'`);
    const denied = await page.goto(`${appOrigin}/docs/page?x=2`);
    assert.equal(denied?.status(), 403);
    assert.equal(await page.locator("h1").textContent(), "Access denied");
    assert.match((await page.locator("main").textContent()) ?? "", /You do not have access to this application/);
    assert.equal(page.url(), `${appOrigin}/docs/page?x=2`, "a refusal, not a redirect");

    await applyPolicy('check("access")');
    const allowed = await page.goto(`${appOrigin}/docs/page?x=3`);
    assert.equal(allowed?.status(), 200);
    assert.equal(await page.locator("#who").textContent(), userId);
    assert.equal(await page.locator("#path").textContent(), "/docs/page?x=3");
  });

  it("sends the next navigation to sign in within seconds of the session's revocation", async () => {
    const listed = await srv.admin("GET", `/identity/sessions?user_id=${userId}`);
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    const sessions = listed.body.sessions as Array<{ uid: string }>;
    assert.ok(sessions.length >= 1, "the sign-in made a session");
    const t0 = performance.now();
    for (const s of sessions) {
      const r = await srv.admin("DELETE", `/identity/sessions/${s.uid}`);
      assert.ok(r.status === 200 || r.status === 204, `${r.status} ${JSON.stringify(r.body)}`);
    }
    const appUrl = `${appOrigin}/docs/after-revocation`;
    await page.goto(appUrl);
    await page.waitForURL(SIGNIN_PAGE, { timeout: 5_000 });
    const elapsed = performance.now() - t0;
    console.log(`session revoked → the next navigation at sign-in: ${elapsed.toFixed(0)} ms`);
    assert.ok(elapsed < 5_000, `took ${elapsed} ms`);
    assert.equal(await page.locator("h1").textContent(), "Sign in to Tenet proxy");
    // The proxy dropped its cookie of the ended session: nothing of it is left on the app's host.
    assert.equal((await tab.context.cookies(appOrigin)).filter((c) => c.name === "tenet_proxy").length, 0);

    await passkeyBackTo(appUrl);
  });

  it("steps up on a route whose sign-in must be recent: 'Confirm it's you', passkey, back at the route", async () => {
    // The sign-in of the previous test is older than the route allows after this wait (auth_time
    // has one-second resolution, hence the extra second).
    await page.waitForTimeout((ADMIN_MAX_AGE_S + 1.2) * 1000);
    const appUrl = `${appOrigin}/admin/panel?tab=keys`;
    const auth = page.waitForRequest((r) => r.url().startsWith(`${srv.issuer}/auth?`));
    await page.goto(appUrl);
    const authUrl = new URL((await auth).url());
    assert.equal(authUrl.searchParams.get("max_age"), String(ADMIN_MAX_AGE_S));
    await page.waitForURL(SIGNIN_PAGE);
    assert.equal(await page.locator("h1").textContent(), "Confirm it's you");
    assert.match((await page.locator("main").textContent()) ?? "", /Tenet proxy needs a stronger sign-in for nora/);

    await passkeyBackTo(appUrl);
    assert.equal(await page.locator("#path").textContent(), "/admin/panel?tab=keys");
    const verifier = createAssertionVerifier({ issuer: srv.url, audience: `${appOrigin}/admin`, jwksUri: `${srv.issuer}/jwks` });
    const who = await verifier.verify(assertions.at(-1)!);
    assert.equal(who.subject, userId);
    assert.ok(who.authTime !== undefined && Date.now() / 1000 - who.authTime <= ADMIN_MAX_AGE_S, `auth_time ${who.authTime}`);
    // The rest of the app does not ask again.
    const other = await page.goto(`${appOrigin}/docs/x`);
    assert.equal(other?.status(), 200);
  });

  it("serves the proxy's own pages with the CSP, and nothing logged an error on the console", async () => {
    // Tenet's 403 page again, fresh (the earlier one is covered below as well).
    await applyPolicy(`'"a" == "b"'`);
    const denied = await page.goto(`${appOrigin}/docs/denied`);
    await applyPolicy('check("access")');
    assert.equal(denied?.status(), 403);
    await page.locator("h1", { hasText: "Access denied" }).waitFor();
    // Styled by Tenet's stylesheet, loaded from the proxy itself (on the app's host every other
    // path belongs to the app).
    await page.waitForLoadState("load");
    const applied = await page.evaluate(`[...document.styleSheets].filter((s) => { try { return s.cssRules.length > 0; } catch { return false; } }).length`);
    assert.ok(Number(applied) >= 1, "the 403 page's stylesheet was applied");

    const proxyPages = appDocuments.filter((r) => r.status() === 403);
    assert.ok(proxyPages.length >= 2, `${proxyPages.length} proxy pages seen`);
    for (const r of proxyPages) {
      const h = r.headers();
      const csp = h["content-security-policy"] ?? "";
      assert.match(csp, /(^|;\s*)default-src 'none'/, `${r.url()}: ${csp}`);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(h["x-content-type-options"], "nosniff");
      assert.equal(h["cache-control"], "no-store");
    }
    // The redirects to sign-in are not cached either.
    const redirects = appDocuments.filter((r) => r.status() === 302);
    assert.ok(redirects.length >= 3);
    for (const r of redirects) assert.equal(r.headers()["cache-control"], "no-store");

    // Chromium reports a document's own 4xx status on the console ("Failed to load resource"):
    // that is the refusal this test asked for, not an error of the page. Anything else is.
    const refused = new Set(proxyPages.map((r) => r.url()));
    const errors = consoleErrors.filter((e) => !(refused.has(e.url) && /^Failed to load resource: the server responded with a status of 403/.test(e.text)));
    assert.deepEqual(errors, [], "console errors or CSP violations on the pages seen");
    assert.deepEqual(tab.pageErrors, []);
  });
});
