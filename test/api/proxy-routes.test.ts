/**
 * The proxy's routes by API, in `tenet serve` as assembled: a route put by API is served on the
 * next request (sign-in included: the proxy's client learns the new redirect URI) and is gone
 * once deleted; routes of the configuration file cannot be changed; a host and path serve one
 * route only; bad input is refused naming the field; only admin keys may change routes; every
 * change is in the audit log. On PostgreSQL, a route put on one replica reaches another within
 * the reload interval.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { assemble } from "../../src/app/assemble.js";
import { main } from "../../src/cli/main.js";
import { parseAccessConfig } from "../../src/config/access-config.js";
import { newApiKey, type Scope } from "../../src/identity/api-keys/api-key.js";
import { openDatastore } from "../../src/storage/open.js";
import { createAssertionVerifier } from "../../src/sdk/index.js";
import { APPS_MODEL, appsPolicy } from "../enforcement/apps-fixture.js";
import { Browser, json } from "../identity/browser.js";
import { inviteAndRegister, passkeySignIn } from "../identity/oidc/flow.js";
import { freePort, type IdpServer } from "../identity/oidc/server.js";
import { PG_SKIP, PG_URL, createTestSchema, dropTestSchema } from "../storage/pg-test-schema.js";

type Started = IdpServer & { adminKeyId: string; key(scopes: Scope[]): Promise<string> };

/** `tenet serve` as assembled, with routes re-read every `routeReloadMs` (as a replica would). */
async function start(o: { fileRoutes?: (port: number) => unknown[]; databaseUrl?: string; masterKey?: string; routeReloadMs?: number } = {}): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), "tenet-routes-"));
  const ds = await openDatastore(o.databaseUrl ? { dataDir: dir, databaseUrl: o.databaseUrl } : { dataDir: dir });
  const port = await freePort();
  const url = `http://localhost:${port}`;
  const parts = await assemble({
    ds,
    access: parseAccessConfig({ identity: {}, proxy: { routes: o.fileRoutes?.(port) ?? [] } }),
    dataDir: dir,
    env: o.masterKey ? { TENET_MASTER_KEY: o.masterKey } : {},
    logLevel: "warn",
    authzen: { baseUrl: () => url },
    publicUrl: url,
    riskEngine: false,
    routeReloadMs: o.routeReloadMs ?? 5000,
  });
  await parts.app.listen({ host: "127.0.0.1", port });
  const { token, record } = newApiKey({ name: "admin", scopes: ["admin", "write", "read", "check"], stores: ["*"] });
  await ds.createApiKey(record);
  const call = async (token: string, method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${url}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  return {
    url,
    issuer: `${url}/oidc`,
    adminToken: token,
    adminKeyId: record.id,
    parts,
    ds,
    admin: (method, path, body) => call(token, method, path, body),
    async key(scopes) {
      const k = newApiKey({ name: "other", scopes, stores: ["*"] });
      await ds.createApiKey(k.record);
      return k.token;
    },
    async close() {
      await parts.close();
      await ds.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A request with any Host (fetch sends only the URL's): the status and JSON body. */
function hostRequest(port: string, host: string, path: string): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path, headers: { host, accept: "application/json" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, body: text.startsWith("{") ? (JSON.parse(text) as Record<string, unknown>) : undefined });
      });
    })
      .on("error", reject)
      .end();
  });
}

async function startUpstream(): Promise<{ server: Server; url: string; seen: Array<Record<string, string | string[] | undefined>> }> {
  const seen: Array<Record<string, string | string[] | undefined>> = [];
  const server = createServer((req, res) => {
    seen.push({ ...req.headers, path: req.url });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ ok: true, path: req.url }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  return { server, url: `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`, seen };
}

describe("proxy routes by API", () => {
  let srv: Started;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let appOrigin: string;
  let port: string;
  let user: Awaited<ReturnType<typeof inviteAndRegister>>;
  const wiki = () => ({ from: { host: new URL(appOrigin).host }, to: upstream.url, resource: { type: "app", id: "wiki" } });

  before(async () => {
    upstream = await startUpstream();
    srv = await start({ fileRoutes: () => [{ id: "files", from: { host: "files.example.test", path: "/" }, to: "http://127.0.0.1:9", resource: { type: "app", id: "files" } }] });
    port = new URL(srv.url).port;
    appOrigin = srv.url.replace("localhost", "127.0.0.1");
    const store = await srv.admin("POST", "/stores", { name: "apps" });
    const storeId: string = store.body.id;
    srv.parts.authzen.defaultStoreId = storeId;
    await srv.parts.policy.writeModel(storeId, APPS_MODEL);
    user = await inviteAndRegister(srv, "rowan");
    await srv.parts.policy.write(storeId, { writes: [{ object: "app:wiki", relation: "access", user: `user:${user.userId}` }] });
    const applied = await srv.admin("PUT", `/stores/${storeId}/access-policies`, { files: [{ name: "apps.yaml", content: appsPolicy('check("access")') }] });
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
  });
  after(async () => {
    await srv?.close();
    upstream?.server.close();
  });

  it("serves a route put by API on the next request, signs people in through it, and stops once it is deleted", async () => {
    const app = new Browser(appOrigin);
    const before = await app.request("/docs", { headers: { accept: "application/json" } });
    assert.equal(before.status, 404, "no route yet: Tenet's own 404");

    const put = await srv.admin("PUT", "/proxy/routes/wiki", wiki());
    assert.equal(put.status, 201, JSON.stringify(put.body));
    assert.equal(put.body.id, "wiki");
    assert.equal(put.body.source, "api");
    assert.equal(put.body.version, 1);
    assert.deepEqual(put.body.from, { host: new URL(appOrigin).host, path: "/" });
    assert.equal(put.body.timeout, "30s");
    assert.equal(put.body.action, "access");

    const anon = await app.request("/docs", { headers: { accept: "application/json" } });
    assert.equal(anon.status, 401, "the proxy answers now, without a restart");
    assert.equal((await json(anon)).code, "unauthenticated");

    // The proxy's own client may now send people back to this host.
    const client = await srv.admin("GET", "/identity/clients/tenet-proxy");
    assert.ok(client.body.redirect_uris.includes(`${appOrigin}/.tenet/callback`), JSON.stringify(client.body));
    const first = await app.request("/docs/page", { headers: { accept: "text/html" } });
    assert.equal(first.status, 302);
    const idp = new Browser(srv.url);
    const started = await idp.follow(first.headers.get("location")!);
    const back = await passkeySignIn(srv, idp, { verifier: "", state: "", landed: started.url, res: started.res }, user.auth);
    assert.ok(back.startsWith(`${appOrigin}/.tenet/callback`), back);
    const { res } = await app.follow(back, { headers: { accept: "text/html" } });
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await json(res), { ok: true, path: "/docs/page" });
    const verifier = createAssertionVerifier({ issuer: srv.url, audience: appOrigin, jwksUri: `${srv.issuer}/jwks` });
    assert.equal((await verifier.verify(String(upstream.seen.at(-1)!["x-tenet-assertion"]))).subject, user.userId);

    const listed = await srv.admin("GET", "/proxy/routes");
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.routes.map((r: { id: string; source: string; version: number | null }) => [r.id, r.source, r.version]),
      [
        ["files", "file", null],
        ["wiki", "api", 1],
      ],
    );

    // Replace: with the version read, then a stale one; create-only on an existing route.
    const got = await srv.admin("GET", "/proxy/routes/wiki");
    const { source: _source, updated_at: _updated, ...body } = got.body;
    const replaced = await srv.admin("PUT", "/proxy/routes/wiki", { ...body, timeout: "1m", version: 1 });
    assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
    assert.equal(replaced.body.version, 2);
    assert.equal(replaced.body.timeout, "1m");
    const stale = await srv.admin("PUT", "/proxy/routes/wiki", { ...wiki(), version: 1 });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.code, "conflict");
    const createOnly = await srv.admin("PUT", "/proxy/routes/wiki", { ...wiki(), version: 0 });
    assert.equal(createOnly.status, 409);
    const staleDelete = await srv.admin("DELETE", "/proxy/routes/wiki?version=1");
    assert.equal(staleDelete.status, 409);

    const deleted = await srv.admin("DELETE", "/proxy/routes/wiki");
    assert.equal(deleted.status, 204);
    const gone = await app.request("/docs", { headers: { accept: "application/json" } });
    assert.equal(gone.status, 404);
    assert.equal((await srv.admin("GET", "/proxy/routes/wiki")).status, 404);
    assert.equal((await srv.admin("DELETE", "/proxy/routes/wiki")).body.code, "not_found");
    const after = await srv.admin("GET", "/identity/clients/tenet-proxy");
    assert.ok(!(after.body.redirect_uris ?? []).includes(`${appOrigin}/.tenet/callback`), JSON.stringify(after.body));
  });

  it("leaves the configuration file's routes alone and serves a host and path with one route only", async () => {
    const file = await srv.admin("GET", "/proxy/routes/files");
    assert.equal(file.status, 200);
    assert.equal(file.body.source, "file");
    const change = await srv.admin("PUT", "/proxy/routes/files", { from: { host: "other.example.test" }, to: upstream.url, resource: { type: "app", id: "files" } });
    assert.equal(change.status, 409);
    assert.equal(change.body.code, "conflict");
    assert.match(change.body.message, /configuration file/);
    assert.equal((await srv.admin("DELETE", "/proxy/routes/files")).status, 409);

    const onFileHost = await srv.admin("PUT", "/proxy/routes/shadow", { from: { host: "files.example.test", path: "/" }, to: upstream.url, resource: { type: "app", id: "x" } });
    assert.equal(onFileHost.status, 409);
    assert.match(onFileHost.body.message, /route files/);

    const a = await srv.admin("PUT", "/proxy/routes/reports-a", { from: { host: "reports.example.test", path: "/q" }, to: upstream.url, resource: { type: "app", id: "reports" } });
    assert.equal(a.status, 201, JSON.stringify(a.body));
    const b = await srv.admin("PUT", "/proxy/routes/reports-b", { from: { host: "reports.example.test", path: "/q/" }, to: upstream.url, resource: { type: "app", id: "reports" } });
    assert.equal(b.status, 409, "the same prefix, written with a trailing slash");
    assert.match(b.body.message, /route reports-a .*reports\.example\.test\/q/);
    const deeper = await srv.admin("PUT", "/proxy/routes/reports-b", { from: { host: "reports.example.test", path: "/q/r" }, to: upstream.url, resource: { type: "app", id: "reports" } });
    assert.equal(deeper.status, 201, "a longer prefix is another route");
    // Moving a route to where it already is, is no clash with itself.
    assert.equal((await srv.admin("PUT", "/proxy/routes/reports-a", { from: { host: "reports.example.test", path: "/q" }, to: upstream.url, resource: { type: "app", id: "reports" }, public: true })).status, 200);
    for (const id of ["reports-a", "reports-b"]) assert.equal((await srv.admin("DELETE", `/proxy/routes/${id}`)).status, 204);
  });

  it("refuses bad input with validation_error naming the field", async () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ["a URL that is not http(s)", { ...wiki(), to: "ftp://files.example.test/" }, /\bto\b/],
      ["a URL with credentials", { ...wiki(), to: "http://user:pw@127.0.0.1:1/" }, /\bto\b/],
      ["a bad host", { ...wiki(), from: { host: "bad host!" } }, /from\.host/],
      ["a path with ..", { ...wiki(), from: { host: "ok.example.test", path: "/a/../b" } }, /from\.path/],
      ["an unknown field", { ...wiki(), upstream: "http://127.0.0.1:1" }, /upstream/],
      ["an unknown field inside from", { ...wiki(), from: { host: "ok.example.test", port: 1 } }, /from/],
      ["a bad duration", { ...wiki(), from: { host: "ok.example.test" }, timeout: "soon" }, /timeout/],
      ["a missing resource", { from: { host: "ok.example.test" }, to: upstream.url }, /resource/],
      ["another id in the body", { ...wiki(), id: "other" }, /\bid\b/],
      ["Tenet's own host", { ...wiki(), from: { host: new URL(srv.url).host } }, /from\.host/],
      ["a wildcard over Tenet's own host", { ...wiki(), from: { host: "*.localhost" } }, /./],
    ];
    for (const [what, body, field] of cases) {
      const r = await srv.admin("PUT", "/proxy/routes/bad", body);
      if (what === "a wildcard over Tenet's own host") {
        // `*.localhost` covers hosts below localhost, never localhost itself: allowed.
        assert.equal(r.status, 201, `${what}: ${JSON.stringify(r.body)}`);
        assert.equal((await srv.admin("DELETE", "/proxy/routes/bad")).status, 204);
        continue;
      }
      assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.code, "validation_error", what);
      assert.match(r.body.message, field, `${what}: ${r.body.message}`);
    }
    const badId = await srv.admin("PUT", "/proxy/routes/Not_OK", wiki());
    assert.equal(badId.status, 400);
    assert.match(badId.body.message, /\bid\b/);
    const notJson = await fetch(`${srv.url}/proxy/routes/bad`, { method: "PUT", headers: { authorization: `Bearer ${srv.adminToken}`, "content-type": "application/json" }, body: "{" });
    assert.equal(notJson.status, 400);
    assert.equal((await srv.admin("GET", "/proxy/routes/bad")).status, 404, "nothing was stored");
  });

  it("needs an admin key", async () => {
    const writer = await srv.key(["read", "write", "check"]);
    for (const [method, path, body] of [["GET", "/proxy/routes"], ["GET", "/proxy/routes/files"], ["PUT", "/proxy/routes/x", wiki()], ["DELETE", "/proxy/routes/x"]] as const) {
      const headers: Record<string, string> = { authorization: `Bearer ${writer}`, ...(body ? { "content-type": "application/json" } : {}) };
      const res = await fetch(`${srv.url}${path}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal((await json(res)).code, "forbidden");
      const anon = await fetch(`${srv.url}${path}`, { method });
      assert.equal(anon.status, 401, `${method} ${path} without a key`);
    }
    assert.equal((await srv.admin("GET", "/proxy/routes/x")).status, 404);
  });

  it("records every change in the audit log, with who made it", async () => {
    assert.equal((await srv.admin("PUT", "/proxy/routes/audited", { ...wiki(), from: { host: "audited.example.test" } })).status, 201);
    assert.equal((await srv.admin("PUT", "/proxy/routes/audited", { ...wiki(), from: { host: "audited.example.test" }, acr: "hardware" })).status, 200);
    assert.equal((await srv.admin("DELETE", "/proxy/routes/audited")).status, 204);
    const rows = await srv.ds.queryAudit({ resource: "proxy_route:audited", limit: 10, order: "asc" });
    assert.deepEqual(
      rows.map((r) => [r.type, r.subject, r.decision]),
      [
        ["proxy.route.create", `api_key:key:${srv.adminKeyId}`, "success"],
        ["proxy.route.update", `api_key:key:${srv.adminKeyId}`, "success"],
        ["proxy.route.delete", `api_key:key:${srv.adminKeyId}`, "success"],
      ],
    );
    const created = JSON.parse(rows[0]!.event);
    assert.equal(created.class_uid, 3004, "OCSF Entity Management");
    assert.equal(created.unmapped.tenet.details.host, "audited.example.test");
    assert.equal(JSON.parse(rows[1]!.event).entity.version, "2");
  });

  it("is in the OpenAPI description", async () => {
    const doc = (await srv.admin("GET", "/openapi.json")).body;
    assert.ok(doc.paths["/proxy/routes/{id}"]?.put, Object.keys(doc.paths).join(" "));
    assert.ok(doc.paths["/proxy/routes/{id}"].put.requestBody.content["application/json"].schema.properties.from);
  });

  it("the command line manages routes through the server (tenet route)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tenet-route-cli-"));
    const file = join(dir, "route.yaml");
    writeFileSync(file, "from: { host: cli.example.test, path: /app }\nto: http://127.0.0.1:9/base\nresource: { type: app, id: cli }\nmaxAge: 15m\n");
    const run = async (...args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(["route", ...args, "--server", srv.url, "--token", srv.adminToken], { out: (x) => out.push(x), err: (x) => err.push(x) });
      return { code, out: out.join(""), err: err.join("") };
    };
    try {
      const put = await run("put", "cli", "--file", file);
      assert.equal(put.code, 0, put.err);
      assert.equal(JSON.parse(put.out).maxAge, "15m");
      assert.equal(JSON.parse(put.out).to, "http://127.0.0.1:9/base");
      const stale = await run("put", "cli", "--file", file, "--version", "7");
      assert.equal(stale.code, 1);
      assert.match(stale.err, /409: conflict/);
      assert.match((await run("list")).out, /^cli\s+api\s+cli\.example\.test\/app\s+-> http:\/\/127\.0\.0\.1:9\/base$/m);
      assert.equal(JSON.parse((await run("get", "cli")).out).version, 1);
      assert.equal((await run("delete", "cli", "--version", "1")).code, 0);
      assert.equal((await run("get", "cli")).code, 1);
      assert.equal((await run("put", "cli")).code, 2, "usage");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("hosts of the proxy are still claimed only by their routes (Tenet's API stays reachable)", async () => {
    const r = await hostRequest(port, `localhost:${port}`, "/proxy/routes");
    assert.equal(r.status, 401, "Tenet's API, not the proxy");
  });
});

describe("proxy routes by API on PostgreSQL replicas", { skip: PG_SKIP }, () => {
  let schema: string;
  let a: Started;
  let b: Started;

  before(async () => {
    schema = await createTestSchema();
    const url = new URL(PG_URL!);
    url.searchParams.set("options", `-c search_path=${schema}`);
    // Replicas share the database and the master key.
    const masterKey = randomBytes(32).toString("base64url");
    a = await start({ databaseUrl: url.href, masterKey, routeReloadMs: 200 });
    b = await start({ databaseUrl: url.href, masterKey, routeReloadMs: 200 });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    if (schema) await dropTestSchema(schema);
  });

  async function until(what: string, ok: () => Promise<boolean>, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it("a route put on one replica is served by the other within the reload interval, and so is its deletion", async () => {
    const bPort = new URL(b.url).port;
    const host = "apps.replica.test";
    assert.equal((await hostRequest(bPort, host, "/x")).status, 404);
    const put = await a.admin("PUT", "/proxy/routes/apps", { from: { host }, to: "http://127.0.0.1:9", resource: { type: "app", id: "apps" } });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    await until("the route on replica b", async () => (await hostRequest(bPort, host, "/x")).status === 401);
    const onB = await b.admin("GET", "/proxy/routes/apps");
    assert.equal(onB.body.version, 1);
    // Replica b's catalog validates against what a stored: the same host and path is taken.
    const clash = await b.admin("PUT", "/proxy/routes/apps-2", { from: { host }, to: "http://127.0.0.1:9", resource: { type: "app", id: "apps" } });
    assert.equal(clash.status, 409);
    assert.equal((await b.admin("DELETE", "/proxy/routes/apps")).status, 204);
    const aPort = new URL(a.url).port;
    await until("the deletion on replica a", async () => (await hostRequest(aPort, host, "/x")).status === 404);
  });
});
