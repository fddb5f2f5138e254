/**
 * Authentication and authorization of Tenet's own API: no anonymous access except health,
 * readiness and AuthZEN metadata; API keys (malformed, unknown, wrong secret, revoked); scopes
 * (check ⊂ read ⊂ write ⊂ admin); store-scoped keys; per-key rate limits; and OIDC access
 * tokens (JWT) from a configured issuer, verified against its discovery document and JWKS.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
import { JwtVerifier } from "../../src/api/auth/jwt.js";
import { call, client, DOCS_MODEL, startServer, type ApiResponse, type TestServer } from "./harness.js";

const SCOPES = ["check", "read", "write", "admin"] as const;
type Scope = (typeof SCOPES)[number];
const RANK: Record<Scope, number> = { check: 0, read: 1, write: 2, admin: 3 };

const PUBLIC = new Set(["GET /healthz", "GET /readyz", "GET /.well-known/authzen-configuration"]);

function assertUnauthenticated(r: ApiResponse, what: string): void {
  assert.equal(r.status, 401, `${what}: expected 401, got ${r.status} ${r.text.slice(0, 300)}`);
  assert.equal(r.json?.code, "unauthenticated", `${what}: ${r.text}`);
  assert.equal(typeof r.json?.message, "string");
  assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer /, `${what}: www-authenticate`);
}

function assertForbidden(r: ApiResponse, what: string): void {
  assert.equal(r.status, 403, `${what}: expected 403, got ${r.status} ${r.text.slice(0, 300)}`);
  assert.equal(r.json?.code, "forbidden", `${what}: ${r.text}`);
}

/** Every route of the OpenAPI document, with its scope (undefined = public). */
async function routes(server: TestServer): Promise<Array<{ method: string; path: string; scope: Scope | undefined }>> {
  const doc = (await call(server.url, "GET", "/openapi.json", { token: server.adminToken })).json as {
    paths: Record<string, Record<string, { security?: Array<{ bearer: Scope[] }> }>>;
  };
  const out = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) out.push({ method: method.toUpperCase(), path, scope: op.security?.[0]?.bearer[0] });
  }
  return out;
}

const fill = (path: string, storeId: string, modelId: string) =>
  path.replace("{store_id}", storeId).replace("{id}", modelId).replace("{authorization_model_id}", modelId);

describe("API keys and scopes", () => {
  let server: TestServer;
  let storeId: string;
  let otherStoreId: string;
  let modelId: string;
  const CHECK = { tuple_key: { object: "document:readme", relation: "viewer", user: "user:anne" } };

  before(async () => {
    server = await startServer({ cacheMs: 100 });
    const admin = client(server.url, server.adminToken);
    storeId = (await admin("POST", "/stores", { name: "auth-a" })).json.id;
    otherStoreId = (await admin("POST", "/stores", { name: "auth-b" })).json.id;
    for (const id of [storeId, otherStoreId]) {
      modelId = (await admin("POST", `/stores/${id}/authorization-models`, DOCS_MODEL)).json.authorization_model_id;
      await admin("POST", `/stores/${id}/write`, { writes: { tuple_keys: [CHECK.tuple_key] } });
    }
  });
  after(async () => {
    await server.close();
  });

  test("the public routes are exactly health, readiness and AuthZEN metadata", async () => {
    const all = await routes(server);
    assert.ok(all.length >= 25, `the OpenAPI document lists ${all.length} routes`);
    const unscoped = all.filter((r) => !r.scope).map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(unscoped, ["GET /.well-known/authzen-configuration"]);
    for (const p of PUBLIC) {
      const [method, path] = p.split(" ") as [string, string];
      const r = await call(server.url, method, path);
      assert.equal(r.status, 200, `${p} is public: ${r.text}`);
    }
  });

  test("every other route refuses anonymous callers with 401, www-authenticate and 'unauthenticated'", async () => {
    const targets = (await routes(server)).filter((r) => r.scope).map((r) => ({ method: r.method, path: fill(r.path, storeId, modelId) }));
    for (const { method, path } of targets) {
      const body = method === "GET" || method === "DELETE" ? undefined : {};
      assertUnauthenticated(await call(server.url, method, path, { body }), `anonymous ${method} ${path}`);
    }
    // and nothing was done on their behalf
    assert.equal((await call(server.url, "GET", `/stores/${storeId}`, { token: server.adminToken })).status, 200);
  });

  test("GET /openapi.json (outside the router) refuses anonymous callers too", async () => {
    // Only health, readiness and AuthZEN metadata are meant to be public.
    assertUnauthenticated(await call(server.url, "GET", "/openapi.json"), "anonymous GET /openapi.json");
    assert.equal((await call(server.url, "GET", "/openapi.json", { token: (await server.key({ scopes: ["check"] })).token })).status, 200);
  });

  test("malformed, unknown, wrong-secret and non-bearer credentials are 401", async () => {
    const { token } = await server.key({ scopes: ["admin"] });
    const [, id, secret] = /^tenet_([0-9a-f]{16})_(.+)$/.exec(token)!;
    const wrongSecret = `tenet_${id}_${secret!.slice(0, -1)}${secret!.endsWith("A") ? "B" : "A"}`;
    const unknown = `tenet_${"0".repeat(16)}_${secret}`;
    const cases: Array<[string, Record<string, string>]> = [
      ["malformed key", { authorization: "Bearer tenet_nothex_short" }],
      ["unknown key", { authorization: `Bearer ${unknown}` }],
      ["wrong secret", { authorization: `Bearer ${wrongSecret}` }],
      ["basic auth", { authorization: `Basic ${Buffer.from("admin:admin").toString("base64")}` }],
      ["bare token", { authorization: token }],
      ["empty bearer", { authorization: "Bearer " }],
      ["two tokens", { authorization: `Bearer ${token} ${token}` }],
      ["not a JWT and no issuer configured", { authorization: "Bearer eyJhbGciOi.e30.xx" }],
      ["x-api-key header is not a credential", { "x-api-key": token }],
    ];
    for (const [what, headers] of cases) {
      assertUnauthenticated(await call(server.url, "POST", `/stores/${storeId}/check`, { body: CHECK, headers }), what);
    }
    assert.equal((await call(server.url, "POST", `/stores/${storeId}/check`, { token, body: CHECK })).status, 200, "the real key works");
  });

  test("each scope reaches exactly the routes at or below it (check < read < write < admin)", async () => {
    const tokens = Object.fromEntries(await Promise.all(SCOPES.map(async (s) => [s, (await server.key({ scopes: [s] })).token] as const))) as Record<Scope, string>;
    // A store that does not exist: handlers answer 404/400, so nothing is changed, but
    // authorization has to be decided first.
    const ghost = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    const all = (await routes(server)).filter((r) => r.scope);
    let checked = 0;
    for (const route of all) {
      const path = fill(route.path, ghost, modelId);
      for (const s of SCOPES) {
        const r = await call(server.url, route.method, path, { token: tokens[s], body: route.method === "POST" || route.method === "PUT" ? {} : undefined });
        const what = `${s} key → ${route.method} ${route.path} (needs ${route.scope})`;
        if (RANK[s] >= RANK[route.scope!]) {
          assert.ok(r.status !== 401 && r.status !== 403, `${what}: expected to pass authorization, got ${r.status} ${r.text}`);
        } else {
          assertForbidden(r, what);
        }
        checked++;
      }
    }
    assert.ok(checked >= 100);
  });

  test("check scope can check but not read or write; read can read; write can write; admin can create stores", async () => {
    const key = async (s: Scope) => client(server.url, (await server.key({ scopes: [s] })).token);
    const checker = await key("check");
    assert.equal((await checker("POST", `/stores/${storeId}/check`, CHECK)).json?.allowed, true);
    assertForbidden(await checker("POST", `/stores/${storeId}/read`, {}), "check key reads");
    assertForbidden(await checker("POST", `/stores/${storeId}/write`, { writes: { tuple_keys: [{ object: "document:x", relation: "viewer", user: "user:eve" }] } }), "check key writes");

    const reader = await key("read");
    assert.equal((await reader("POST", `/stores/${storeId}/read`, {})).status, 200);
    assert.equal((await reader("GET", `/stores/${storeId}/changes`)).status, 200);
    assertForbidden(await reader("POST", `/stores/${storeId}/write`, { writes: { tuple_keys: [{ object: "document:x", relation: "viewer", user: "user:eve" }] } }), "read key writes");

    const writer = await key("write");
    const w = await writer("POST", `/stores/${storeId}/write`, { writes: { tuple_keys: [{ object: "document:x", relation: "viewer", user: "user:eve" }] } });
    assert.equal(w.status, 200, w.text);
    assertForbidden(await writer("POST", `/stores/${storeId}/authorization-models`, DOCS_MODEL), "write key writes a model");
    assertForbidden(await writer("POST", "/stores", { name: "nope" }), "write key creates a store");
    assertForbidden(await writer("DELETE", `/stores/${otherStoreId}`), "write key deletes a store");

    const admin = await key("admin");
    const created = await admin("POST", "/stores", { name: "made-by-admin" });
    assert.equal(created.status, 201, created.text);
    assert.equal((await admin("GET", "/stores")).status, 200);
  });

  test("store-scoped keys cannot touch other stores or manage stores", async () => {
    const scoped = client(server.url, (await server.key({ scopes: ["admin"], stores: [storeId] })).token);
    assert.equal((await scoped("POST", `/stores/${storeId}/check`, CHECK)).status, 200);
    assert.equal((await scoped("GET", `/stores/${storeId}`)).status, 200);
    assert.equal((await scoped("POST", `/stores/${storeId}/authorization-models`, DOCS_MODEL)).status, 201);
    for (const [method, path, body] of [
      ["POST", `/stores/${otherStoreId}/check`, CHECK],
      ["GET", `/stores/${otherStoreId}`, undefined],
      ["POST", `/stores/${otherStoreId}/read`, {}],
      ["DELETE", `/stores/${otherStoreId}`, undefined],
      ["POST", `/stores/${otherStoreId}/access/v1/evaluation`, { subject: { type: "user", id: "anne" }, resource: { type: "document", id: "readme" }, action: { name: "viewer" } }],
      ["POST", "/stores", { name: "scoped-new" }],
      ["GET", "/stores", undefined],
    ] as const) {
      assertForbidden(await scoped(method, path, body), `store-scoped key: ${method} ${path}`);
    }
    assert.equal((await call(server.url, "GET", `/stores/${otherStoreId}`, { token: server.adminToken })).status, 200, "the other store survived");
  });

  test("store-scoped keys cannot reach another store through the AuthZEN default-store paths", async () => {
    const scoped = client(server.url, (await server.key({ scopes: ["check"], stores: [storeId] })).token);
    server.authzen.defaultStoreId = otherStoreId;
    try {
      const r = await scoped("POST", "/access/v1/evaluation", {
        subject: { type: "user", id: "anne" },
        resource: { type: "document", id: "readme" },
        action: { name: "viewer" },
      });
      assertForbidden(r, "a key for store A evaluating in the default store B");
      const s = await scoped("POST", "/access/v1/search/resource", { subject: { type: "user", id: "anne" }, resource: { type: "document" }, action: { name: "viewer" } });
      assertForbidden(s, "a key for store A searching the default store B");
    } finally {
      server.authzen.defaultStoreId = undefined;
    }
  });

  test("a revoked key stops working within the cache time; forget() makes it immediate", async () => {
    const { token, id } = await server.key({ scopes: ["check"] });
    const check = () => call(server.url, "POST", `/stores/${storeId}/check`, { token, body: CHECK });
    assert.equal((await check()).status, 200);
    assert.equal(await server.ds.revokeApiKey(id, new Date().toISOString()), true);
    await new Promise((r) => setTimeout(r, 150)); // > cacheMs (100)
    assertUnauthenticated(await check(), "revoked key after the cache time");

    const second = await server.key({ scopes: ["check"] });
    const check2 = () => call(server.url, "POST", `/stores/${storeId}/check`, { token: second.token, body: CHECK });
    assert.equal((await check2()).status, 200);
    await server.ds.revokeApiKey(second.id, new Date().toISOString());
    server.auth.forget(second.id);
    assertUnauthenticated(await check2(), "revoked key after forget()");
  });

  test("per-key rate limit: 429 with Retry-After, other keys unaffected", async () => {
    const limited = await server.key({ scopes: ["check"], rateLimit: 3 });
    const other = await server.key({ scopes: ["check"], rateLimit: 3 });
    const statuses: number[] = [];
    let limitedResponse: ApiResponse | undefined;
    for (let i = 0; i < 6; i++) {
      const r = await call(server.url, "POST", `/stores/${storeId}/check`, { token: limited.token, body: CHECK });
      statuses.push(r.status);
      if (r.status === 429) limitedResponse ??= r;
    }
    assert.deepEqual(statuses.slice(0, 3), [200, 200, 200], "the burst is the rate");
    assert.ok(limitedResponse, `expected a 429 among ${statuses.join(",")}`);
    assert.equal(limitedResponse.json?.code, "rate_limited");
    const retry = Number(limitedResponse.headers.get("retry-after"));
    assert.ok(Number.isInteger(retry) && retry >= 1, `retry-after: ${limitedResponse.headers.get("retry-after")}`);
    assert.equal((await call(server.url, "POST", `/stores/${storeId}/check`, { token: other.token, body: CHECK })).status, 200, "another key has its own bucket");
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await call(server.url, "POST", `/stores/${storeId}/check`, { token: limited.token, body: CHECK })).status, 200, "the bucket refills");
  });
});

describe("OIDC access tokens (JWT)", () => {
  let server: TestServer;
  let idp: Server;
  let issuer: string;
  let storeId: string;
  let signingKey: PrivateKey;
  let otherKey: PrivateKey;
  const AUDIENCE = "https://tenet.test/api";
  const CHECK = { tuple_key: { object: "document:readme", relation: "viewer", user: "user:anne" } };

  before(async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    signingKey = pair.privateKey;
    otherKey = (await generateKeyPair("ES256")).privateKey;
    const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    idp = createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      if (req.url === "/.well-known/openid-configuration") res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks.json` }));
      else if (req.url === "/jwks.json") res.end(JSON.stringify({ keys: [jwk] }));
      else res.writeHead(404).end("{}");
    });
    await new Promise<void>((resolve) => idp.listen(0, "127.0.0.1", resolve));
    const addr = idp.address();
    issuer = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
    server = await startServer({ jwt: new JwtVerifier([{ issuer, audience: AUDIENCE }]) });
    const admin = client(server.url, server.adminToken);
    storeId = (await admin("POST", "/stores", { name: "jwt" })).json.id;
    await admin("POST", `/stores/${storeId}/authorization-models`, DOCS_MODEL);
    await admin("POST", `/stores/${storeId}/write`, { writes: { tuple_keys: [CHECK.tuple_key] } });
  });
  after(async () => {
    await server.close();
    await new Promise((r) => idp.close(r));
  });

  const sign = (claims: Record<string, unknown>, opts: { key?: PrivateKey; iss?: string; aud?: string; exp?: number | string; sub?: string | null } = {}) => {
    let jwt = new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(opts.iss ?? issuer).setAudience(opts.aud ?? AUDIENCE).setIssuedAt();
    if (opts.sub !== null) jwt = jwt.setSubject(opts.sub ?? "alice");
    jwt = jwt.setExpirationTime(opts.exp ?? "5m");
    return jwt.sign(opts.key ?? signingKey);
  };
  const as = (token: string) => client(server.url, token);

  test("a valid token is accepted with its scopes", async () => {
    const checker = as(await sign({ scope: "check" }));
    const ok = await checker("POST", `/stores/${storeId}/check`, CHECK);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.allowed, true);
    assertForbidden(await checker("POST", `/stores/${storeId}/read`, {}), "check-scoped token reads");

    const writer = as(await sign({ scope: "openid profile write" }));
    assert.equal((await writer("POST", `/stores/${storeId}/read`, {})).status, 200, "write implies read");
    assert.equal((await writer("POST", `/stores/${storeId}/write`, { writes: { tuple_keys: [{ object: "document:j", relation: "viewer", user: "user:jwt" }] } })).status, 200);
    assertForbidden(await writer("POST", "/stores", { name: "by-jwt" }), "write-scoped token creates a store");

    const admin = as(await sign({ scope: "admin" }));
    assert.equal((await admin("POST", "/stores", { name: "by-jwt" })).status, 201);
  });

  test("a token without a Tenet scope is authenticated but forbidden", async () => {
    assertForbidden(await as(await sign({}))("POST", `/stores/${storeId}/check`, CHECK), "no scope claim");
    assertForbidden(await as(await sign({ scope: "openid email" }))("POST", `/stores/${storeId}/check`, CHECK), "unrelated scopes");
  });

  test("wrong audience, untrusted issuer, expiry, bad signature, alg none, no subject: 401", async () => {
    const header = (h: object) => Buffer.from(JSON.stringify(h)).toString("base64url");
    const payload = (p: object) => Buffer.from(JSON.stringify(p)).toString("base64url");
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer, aud: AUDIENCE, sub: "alice", scope: "admin", iat: now, exp: now + 300 };
    const valid = await sign({ scope: "admin" });
    const [h, , sig] = valid.split(".");
    const cases: Array<[string, string]> = [
      ["wrong audience", await sign({ scope: "admin" }, { aud: "https://someone-else" })],
      ["untrusted issuer", await sign({ scope: "admin" }, { iss: "http://127.0.0.1:1/evil" })],
      ["expired", await sign({ scope: "admin" }, { exp: now - 120 })],
      ["signed by another key", await sign({ scope: "admin" }, { key: otherKey })],
      ["payload swapped under a valid signature", `${h}.${payload({ ...claims, sub: "mallory" })}.${sig}`],
      ["alg none", `${header({ alg: "none", typ: "JWT" })}.${payload(claims)}.`],
      ["HS256 with a guessable secret", await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: "k1" }).sign(new TextEncoder().encode("secret"))],
      ["no subject", await sign({ scope: "admin" }, { sub: null })],
      ["not a JWT", "definitely-not-a-jwt"],
      ["garbage payload", `${h}.%%%.${sig}`],
    ];
    for (const [what, token] of cases) {
      assertUnauthenticated(await call(server.url, "POST", `/stores/${storeId}/check`, { token, body: CHECK }), what);
    }
    assert.equal((await call(server.url, "POST", `/stores/${storeId}/check`, { token: valid, body: CHECK })).status, 200, "the valid token works");
  });
});
