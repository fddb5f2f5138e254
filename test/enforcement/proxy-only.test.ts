/**
 * `tenet serve --roles proxy`: the proxy as a process of its own (the real binary), in front of an
 * app, asking a remote Tenet (assembled in this process) for decisions and sign-ins. Sign-in with a
 * passkey at the remote provider → the app, with an assertion verifiable against the proxy's own
 * JWKS; the decision recorded in the remote audit log; a policy change denies the next request; a
 * revoked session ends within the identity cache's seconds; the remote decision point refusing
 * the proxy's key → 503, never a forward.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server as HttpServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { newApiKey } from "../../src/identity/api-keys/api-key.js";
import { createAssertionVerifier } from "../../src/sdk/index.js";
import { serve, type Server as ServeProcess } from "../cli/cli-helpers.js";
import { Browser, json } from "../identity/browser.js";
import { inviteAndRegister, passkeySignIn } from "../identity/oidc/flow.js";
import { freePort, type IdpServer, startIdp } from "../identity/oidc/server.js";
import { APPS_MODEL, appsPolicy, NEVER } from "./apps-fixture.js";

describe("tenet serve --roles proxy (against a remote Tenet)", () => {
  let remote: IdpServer;
  let upstream: HttpServer;
  let proxy: ServeProcess;
  let appOrigin: string;
  let storeId: string;
  let user: Awaited<ReturnType<typeof inviteAndRegister>>;
  let env: Record<string, string>;
  let accessFile: string;
  const seen: Array<Record<string, string | string[] | undefined>> = [];

  async function startProxy(extra: Record<string, string> = {}, port?: number): Promise<ServeProcess> {
    const srv = await serve({ ...env, ...extra }, ["--roles", "proxy", "--port", String(port ?? 0), "--access-config", accessFile], 30_000, { ready: false });
    // Its own /healthz answers on any host that is not a route's.
    const health = await fetch(`${srv.url.replace("127.0.0.1", "localhost")}/healthz`);
    assert.equal(health.status, 200, await health.text());
    return srv;
  }

  before(async () => {
    upstream = createServer((req, res) => {
      seen.push({ ...req.headers, path: req.url });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true, path: req.url }));
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const a = upstream.address();
    const upstreamUrl = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;

    remote = await startIdp();
    const store = await remote.admin("POST", "/stores", { name: "apps" });
    storeId = store.body.id;
    await remote.parts.policy.writeModel(storeId, APPS_MODEL);
    user = await inviteAndRegister(remote, "rosa");
    await remote.parts.policy.write(storeId, { writes: [{ object: "app:wiki", relation: "access", user: `user:${user.userId}` }] });
    const applied = await remote.admin("PUT", `/stores/${storeId}/access-policies`, { files: [{ name: "apps.yaml", content: appsPolicy('check("access")') }] });
    assert.equal(applied.status, 200, JSON.stringify(applied.body));

    const port = await freePort();
    appOrigin = `http://127.0.0.1:${port}`;
    // The proxy's client at the remote provider, and a key that may only ask for decisions.
    const created = await remote.parts.identity!.idp.clients.create({ client_id: "edge-proxy", client_name: "Edge proxy", redirect_uris: [`${appOrigin}/.tenet/callback`], grant_types: ["authorization_code"] });
    const secret = String(created.client_secret ?? "");
    assert.ok(secret.length > 20);
    const { token, record } = newApiKey({ name: "edge-proxy", scopes: ["check"], stores: [storeId] });
    await remote.ds.createApiKey(record);
    const dir = mkdtempSync(join(tmpdir(), "tenet-proxy-only-"));
    accessFile = join(dir, "access.json");
    writeFileSync(accessFile, JSON.stringify({ proxy: { routes: [{ id: "wiki", from: { host: `127.0.0.1:${port}` }, to: upstreamUrl, resource: { type: "app", id: "wiki" }, storeId }] } }));
    env = { TENET_DATA_DIR: join(dir, "data"), TENET_DECISION_URL: remote.url, TENET_DECISION_TOKEN: token, TENET_PROXY_CLIENT_ID: "edge-proxy", TENET_PROXY_CLIENT_SECRET: secret };
    proxy = await startProxy({}, port);
  });

  after(async () => {
    await proxy?.stop();
    await remote?.close();
    upstream?.close();
  });

  async function signIn(app: Browser, path: string): Promise<Response> {
    const first = await app.request(path, { headers: { accept: "text/html" } });
    assert.equal(first.status, 302, await first.clone().text());
    assert.ok(first.headers.get("location")!.startsWith(`${remote.issuer}/auth`), first.headers.get("location")!);
    const idp = new Browser(remote.url);
    const started = await idp.follow(first.headers.get("location")!);
    const back = await passkeySignIn(remote, idp, { verifier: "", state: "", landed: started.url, res: started.res }, user.auth);
    assert.ok(back.startsWith(`${appOrigin}/.tenet/callback`), back);
    return (await app.follow(back, { headers: { accept: "text/html" } })).res;
  }

  it("signs in at the remote provider, forwards with an assertion verifiable against the proxy's JWKS, records the decision remotely", async () => {
    const app = new Browser(appOrigin);
    const res = await signIn(app, "/docs?x=1");
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await json(res), { ok: true, path: "/docs?x=1" });
    const h = seen.at(-1)!;
    const verifier = createAssertionVerifier({ issuer: appOrigin, audience: appOrigin, jwksUri: `${appOrigin}/.well-known/tenet/jwks.json` });
    const who = await verifier.verify(String(h["x-tenet-assertion"]));
    assert.equal(who.subject, user.userId);
    assert.ok(who.acr, "the assertion carries how the user signed in (from the ID token)");
    const rows = await remote.ds.queryAudit({ type: "access.decision", limit: 50 });
    assert.ok(rows.some((r) => r.event.includes(who.decisionId)), "the remote audit log holds the proxy's decision");
  });

  it("a policy change denies the next request; a revoked session is sent to sign in within seconds", async () => {
    const app = new Browser(appOrigin);
    assert.equal((await signIn(app, "/")).status, 200);
    await remote.admin("PUT", `/stores/${storeId}/access-policies`, { files: [{ name: "apps.yaml", content: appsPolicy(NEVER) }] });
    const denied = await app.request("/docs", { headers: { accept: "application/json" } });
    assert.equal(denied.status, 403);
    assert.equal((await json(denied)).code, "forbidden");
    await remote.admin("PUT", `/stores/${storeId}/access-policies`, { files: [{ name: "apps.yaml", content: appsPolicy('check("access")') }] });
    assert.equal((await app.request("/docs")).status, 200);

    for (const s of (await remote.admin("GET", `/identity/sessions?user_id=${user.userId}`)).body.sessions) await remote.admin("DELETE", `/identity/sessions/${s.uid}`);
    const t0 = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - t0 < 10_000) {
      status = (await app.request("/docs", { headers: { accept: "application/json" } })).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status, 401, "a revoked session still reached the app after 10 s");
    assert.ok(Date.now() - t0 < 5_000, `revocation took ${Date.now() - t0} ms to reach the proxy`);
  });

  it("refused by the decision point (a key it does not know) → 503 and nothing forwarded", async () => {
    // The same signed-in browser cookie works on a second proxy sharing the data dir (master key).
    const app = new Browser(appOrigin);
    assert.equal((await signIn(app, "/")).status, 200);
    await proxy.stop();
    const port = Number(new URL(appOrigin).port);
    const { token: unknownKey } = newApiKey({ name: "nobody", scopes: ["check"], stores: [storeId] });
    proxy = await startProxy({ TENET_DECISION_TOKEN: unknownKey }, port);
    const before = seen.length;
    const res = await app.request("/docs", { headers: { accept: "application/json" } });
    assert.equal(res.status, 503);
    assert.equal((await json(res)).code, "unavailable");
    assert.equal(seen.length, before, "nothing reached the app");
  });

  it("refuses to start without its remote settings, naming each missing variable", async () => {
    const r = await serve({ TENET_DATA_DIR: env.TENET_DATA_DIR! }, ["--roles", "proxy", "--port", "0"], 20_000, { ready: false }).then(
      async (s) => (await s.stop("SIGKILL"), ""),
      (e: Error) => e.message,
    );
    for (const v of ["TENET_DECISION_URL", "TENET_DECISION_TOKEN", "TENET_PROXY_CLIENT_SECRET"]) assert.match(r, new RegExp(v));
  });
});
