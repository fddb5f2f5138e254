/** Steps shared by the identity tests: invite a user, register a passkey, sign in through an RP. */
import assert from "node:assert/strict";
import * as client from "openid-client";
import { Browser, json, pageData } from "../browser.js";
import { SoftAuthenticator } from "../soft-authenticator.js";
import type { IdpServer } from "./server.js";

export async function inviteAndRegister(srv: IdpServer, username: string, auth = new SoftAuthenticator()): Promise<{ userId: string; auth: SoftAuthenticator; browser: Browser }> {
  const created = await srv.admin("POST", "/identity/users", { username, email: `${username}@example.com`, email_verified: true });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const inv = await srv.admin("POST", `/identity/users/${created.body.id}/invitations`, {});
  assert.equal(inv.status, 201);
  const browser = new Browser(srv.url);
  const page = await browser.request(inv.body.url);
  assert.equal(page.status, 200);
  const { base, csrf } = pageData(await page.text());
  const opts = await json(browser.postJson(`${base}/passkey/register-options`, {}, csrf));
  const response = auth.create(opts.options, srv.url);
  const done = await browser.postJson(`${base}/passkey/register`, { handle: opts.handle, response, name: "test key" }, csrf);
  assert.equal(done.status, 200, await done.clone().text());
  return { userId: created.body.id, auth, browser };
}

export interface Rp {
  config: client.Configuration;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

export async function registerRp(srv: IdpServer, extra: Record<string, unknown> = {}): Promise<Rp> {
  const redirectUri = `${srv.url}/rp/callback`;
  const r = await srv.admin("POST", "/identity/clients", { client_name: "Test RP", redirect_uris: [redirectUri], post_logout_redirect_uris: [`${srv.url}/rp/bye`], ...extra });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const config = await client.discovery(new URL(srv.issuer), r.body.client_id, r.body.client_secret, undefined, { execute: [client.allowInsecureRequests] });
  return { config, clientId: r.body.client_id, clientSecret: r.body.client_secret, redirectUri };
}

export interface Started {
  verifier: string;
  state: string;
  /** Where the browser landed: the sign-in page, or straight back at the RP. */
  landed: string;
  res: Response;
}

export async function startLogin(rp: Rp, browser: Browser, params: Record<string, string> = {}): Promise<Started> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(rp.config, {
    redirect_uri: rp.redirectUri,
    scope: "openid profile email groups",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    ...params,
  });
  const { res, url: landed } = await browser.follow(url.href);
  return { verifier, state, landed, res };
}

/** On the sign-in page: passkey options, the authenticator, verify; returns the RP callback URL. */
export async function passkeySignIn(srv: IdpServer, browser: Browser, started: Started, auth: SoftAuthenticator): Promise<string> {
  assert.equal(started.res.status, 200, `expected the sign-in page at ${started.landed}`);
  const { base, csrf } = pageData(await started.res.text());
  const opts = await json(browser.postJson(`${base}/passkey/options`, {}, csrf));
  const verified = await browser.postJson(`${base}/passkey/verify`, { handle: opts.handle, response: auth.get(opts.options, srv.url) }, csrf);
  assert.equal(verified.status, 200, await verified.clone().text());
  const { redirect } = (await json(verified)) as { redirect: string };
  const { url } = await browser.follow(redirect);
  return url;
}

export async function exchange(rp: Rp, callback: string, started: Started) {
  return client.authorizationCodeGrant(rp.config, new URL(callback), { pkceCodeVerifier: started.verifier, expectedState: started.state });
}
