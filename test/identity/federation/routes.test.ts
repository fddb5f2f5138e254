/**
 * The browser routes (src/api/federation/routes.ts) on a real Fastify server, with a real
 * upstream (oidc-provider) and a cookie-carrying fetch "browser": start → upstream login →
 * callback → the sign-in pages' finishSignIn.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { federationRedirectUri, registerFederationRoutes } from "../../../src/api/federation/routes.js";
import { Directory } from "../../../src/identity/accounts/directory.js";
import { parseFederationConfig } from "../../../src/identity/federation/config.js";
import { type FederatedSignIn, Federation } from "../../../src/identity/federation/federation.js";
import type { Datastore } from "../../../src/storage/interfaces.js";
import { openDatastore } from "../../../src/storage/open.js";
import { browse, createIdp, type Idp, send } from "./idp.js";

describe("federation routes: sign in with an upstream in a browser", () => {
  let dir: string;
  let ds: Datastore;
  let idp: Idp;
  let app: FastifyInstance;
  let tenet = "";
  let redirect: (id: string) => string;
  const finished: FederatedSignIn[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tenet-federation-routes-"));
    ds = await openDatastore({ dataDir: dir });
    const directory = new Directory({ documents: ds });
    await directory.createGroup({ id: "engineering", name: "engineering" });
    idp = await createIdp();
    const config = parseFederationConfig({
      providers: [{
        id: "up", name: "Upstream", issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, allowInsecureRequests: true,
        provisioning: "auto", scopes: ["openid", "email", "profile", "groups"], groupMapping: [{ value: "eng", group: "engineering" }],
      }],
    });
    // The redirect URI needs Tenet's port, known only once it listens; it is read per sign-in.
    const federation = new Federation({ config, directory, documents: ds, redirectUri: (id) => redirect(id) });
    app = Fastify();
    registerFederationRoutes(app, federation, {
      async finishSignIn(_req, reply, result) {
        finished.push(result);
        reply.header("set-cookie", `tenet-session=${result.userId}; Path=/; HttpOnly`);
        return reply.redirect(result.returnTo, 303);
      },
      async signInFailed(_req, reply, err) {
        return reply.code(err.status).type("text/plain").send(`${err.code}: ${err.message}`);
      },
    }, { secureCookies: false });
    tenet = await app.listen({ port: 0, host: "127.0.0.1" });
    redirect = federationRedirectUri(tenet);
    idp.start([redirect("up")]);
    idp.accounts.set("up-ann", { sub: "up-ann", email: "ann@example.com", email_verified: true, preferred_username: "ann", groups: ["eng"] });
    idp.next = { accountId: "up-ann" };
  });

  after(async () => {
    await app.close();
    await idp.close();
    await ds.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("start → upstream → callback → finishSignIn redirects to returnTo with a session", async () => {
    const jar = new Map<string, Map<string, string>>();
    const start = await send(new URL(`${tenet}/signin/federated/up?returnTo=/apps`), jar);
    assert.equal(start.status, 302);
    assert.ok(start.headers.get("location")!.startsWith(idp.issuer));
    assert.equal(start.headers.get("cache-control"), "no-store");
    const setCookie = start.headers.getSetCookie().join("\n");
    assert.match(setCookie, /^tenet-federation-up=[A-Za-z0-9_-]{43}; Max-Age=600; Path=\/; HttpOnly; SameSite=Lax$/);
    const end = await browse(start.headers.get("location")!, `${tenet}/apps`, jar);
    assert.equal(end.href, `${tenet}/apps`);
    const cookies = jar.get(new URL(tenet).host)!;
    assert.equal(cookies.has("tenet-federation-up"), false, "the pending sign-in's cookie is cleared");
    const r = finished.at(-1)!;
    assert.equal(cookies.get("tenet-session"), r.userId);
    assert.equal(r.account, "provisioned");
    assert.deepEqual(r.groupsAdded, ["engineering"]);
  });

  it("a callback without the browser's cookie, or in another browser (login CSRF), is refused", async () => {
    const jar = new Map<string, Map<string, string>>();
    const start = await send(new URL(`${tenet}/signin/federated/up`), jar);
    const callback = await browse(start.headers.get("location")!, redirect("up"), jar);

    const noCookie = await send(callback, new Map());
    assert.equal(noCookie.status, 400);
    assert.match(await noCookie.text(), /^validation_error: sign-in expired; start again/);

    // The victim started their own sign-in; the attacker's callback URL lands in their browser.
    const victim = new Map<string, Map<string, string>>();
    await send(new URL(`${tenet}/signin/federated/up`), victim);
    const csrf = await send(callback, victim);
    assert.equal(csrf.status, 401);
    assert.equal(victim.get(new URL(tenet).host)?.has("tenet-session"), false);

    // The attacker's own browser still finishes (its state was not the one used)...
    const stateId = jar.get(new URL(tenet).host)!.get("tenet-federation-up")!;
    const own = await send(callback, jar);
    assert.equal(own.status, 303);
    // ...once: the same cookie and callback again fail.
    const replay = await send(callback, new Map([[new URL(tenet).host, new Map([["tenet-federation-up", stateId]])]]));
    assert.equal(replay.status, 400);
  });

  it("bad input: unknown provider 404, returnTo off-site or repeated 400, upstream refusal 403", async () => {
    const unknown = await send(new URL(`${tenet}/signin/federated/nope`), new Map());
    assert.equal(unknown.status, 404);
    const unknownCb = await send(new URL(`${tenet}/signin/federated/nope;Domain=evil/callback?code=x`), new Map());
    assert.equal(unknownCb.status, 404);
    assert.equal(unknownCb.headers.getSetCookie().length, 0);
    assert.equal((await send(new URL(`${tenet}/signin/federated/up?returnTo=//evil.example`), new Map())).status, 400);
    assert.equal((await send(new URL(`${tenet}/signin/federated/up?returnTo=/a&returnTo=/b`), new Map())).status, 400);

    idp.next = { error: "access_denied" };
    try {
      const jar = new Map<string, Map<string, string>>();
      const start = await send(new URL(`${tenet}/signin/federated/up`), jar);
      const callback = await browse(start.headers.get("location")!, redirect("up"), jar);
      const refused = await send(callback, jar);
      assert.equal(refused.status, 403);
      assert.match(await refused.text(), /access_denied/);
    } finally {
      idp.next = { accountId: "up-ann" };
    }
  });
});
