/**
 * The SCIM protocol around the resources: authentication, media types, malformed and hostile
 * bodies, filters Tenet refuses, unknown endpoints and discovery — every failure a SCIM error,
 * never Tenet's own error shape, and the rest of the server untouched by the SCIM scope.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ERROR_SCHEMA, GROUP_SCHEMA, LIST_RESPONSE, USER_SCHEMA, type ScimServer, oktaUser, patchOp, q, startScim } from "./harness.js";

let s: ScimServer;
before(async () => {
  s = await startScim({
    bodyLimit: 16 * 1024,
    setup: (app) => {
      app.get("/outside", async () => ({ ok: true }));
      app.post("/outside", async (req) => ({ echo: req.body }));
    },
  });
});
after(async () => {
  await s.close();
});

function assertScimError(r: { status: number; json: any; headers: Headers; text: string }, status: number, scimType?: string) { // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(r.status, status, r.text);
  assert.ok(r.json, `not JSON: ${r.text}`);
  assert.deepEqual(r.json.schemas, [ERROR_SCHEMA]);
  assert.equal(r.json.status, String(status));
  assert.equal(r.json.scimType, scimType);
  assert.equal(typeof r.json.detail, "string");
  assert.equal(r.json.code, undefined, "Tenet's error shape leaked");
  assert.match(r.headers.get("content-type") ?? "", /^application\/scim\+json/);
}

describe("authentication", () => {
  test("no token, a malformed token, an unknown key: 401 with a Bearer challenge", async () => {
    for (const token of [null, "not-a-key", "tenet_AAAAAAAAAAAAAAAAAAAAAAAAAA_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"]) {
      const r = await s.scim("GET", "/Users", { token });
      assertScimError(r, 401);
      assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer/);
    }
    // A valid key id with a wrong secret.
    const [prefix, id] = s.adminToken.split("_");
    assertScimError(await s.scim("GET", "/Users", { token: `${prefix}_${id}_${"x".repeat(43)}` }), 401);
  });

  test("a key without the admin scope is 403", async () => {
    const readKey = await s.key(["read"]);
    assertScimError(await s.scim("GET", "/Users", { token: readKey }), 403);
    assertScimError(await s.scim("POST", "/Users", { token: readKey, body: oktaUser("nope@example.com") }), 403);
    assert.equal(await s.directory.findByUsername("nope@example.com"), undefined);
  });

  test("authentication comes before everything else, unknown endpoints and bad bodies included", async () => {
    assertScimError(await s.scim("GET", "/Nothing", { token: null }), 401);
    assertScimError(await s.scim("POST", "/Users", { token: null, body: "{not json" }), 401);
    assertScimError(await s.scim("GET", "/ServiceProviderConfig", { token: null }), 401);
  });
});

describe("bodies", () => {
  test("application/json is accepted as well as application/scim+json", async () => {
    const r = await s.scim("POST", "/Users", { body: oktaUser("json.type@example.com"), headers: { "content-type": "application/json; charset=utf-8" } });
    assert.equal(r.status, 201, r.text);
    assert.match(r.headers.get("content-type") ?? "", /^application\/scim\+json/);
    const r2 = await s.scim("POST", "/Users", { body: oktaUser("scim.type@example.com"), headers: { "content-type": "application/scim+json; charset=utf-8" } });
    assert.equal(r2.status, 201, r2.text);
  });

  test("malformed JSON is 400 invalidSyntax", async () => {
    for (const body of ['{"userName": "x"', "{'userName': 'x'}", "nul", '{"userName":"a"}}']) {
      assertScimError(await s.scim("POST", "/Users", { body }), 400, "invalidSyntax");
    }
    assertScimError(await s.scim("PATCH", "/Users/x", { body: "[" }), 400, "invalidSyntax");
    // The detail does not quote the body back (it may hold the password Okta sends).
    const r = await s.scim("POST", "/Users", { body: '{"userName":"x@example.com","password":"s3cret-placeholder",}' });
    assertScimError(r, 400, "invalidSyntax");
    assert.doesNotMatch(r.text, /s3cret/);
  });

  test("an empty body where one is needed is 400", async () => {
    assertScimError(await s.scim("POST", "/Users", { body: "" }), 400, "invalidSyntax");
    assertScimError(await s.scim("POST", "/Groups", { body: "null" }), 400, "invalidSyntax");
  });

  test("deeply nested input is refused before it is parsed", async () => {
    const deep = '{"userName":"deep@example.com","x":' + "[".repeat(5000) + "]".repeat(5000) + "}";
    const r = await s.scim("POST", "/Users", { body: deep });
    assertScimError(r, 400, "invalidSyntax");
    assert.match(r.json.detail, /nests/);
    const deepPatch = JSON.stringify(patchOp({ op: "add", path: "title", value: JSON.parse("[".repeat(20) + "]".repeat(20)) }));
    assertScimError(await s.scim("PATCH", "/Users/x", { body: deepPatch }), 400, "invalidSyntax");
    // Brackets inside strings do not count.
    const r2 = await s.scim("POST", "/Users", { body: { ...oktaUser("brackets@example.com"), displayName: "[[[[[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{{{{{{{{{" } });
    assert.equal(r2.status, 201, r2.text);
  });

  test("prototype poisoning is refused", async () => {
    const body = '{"userName":"proto@example.com","__proto__":{"admin":true}}';
    assertScimError(await s.scim("POST", "/Users", { body }), 400, "invalidSyntax");
    const body2 = '{"schemas":["' + USER_SCHEMA + '"],"userName":"ctor@example.com","constructor":{"prototype":{"admin":true}}}';
    assertScimError(await s.scim("POST", "/Users", { body: body2 }), 400, "invalidSyntax");
  });

  test("a body over the limit is 413; too many PATCH operations is 400", async () => {
    const big = { ...oktaUser("big@example.com"), displayName: "x".repeat(20 * 1024) };
    assertScimError(await s.scim("POST", "/Users", { body: big }), 413);
    const many = patchOp(...Array.from({ length: 1001 }, () => ({ op: "add", path: "title", value: "t" })));
    const p = await startScim({ bodyLimit: 1024 * 1024 });
    try {
      const u = await p.scim("POST", "/Users", { body: oktaUser("many.ops@example.com") });
      assertScimError(await p.scim("PATCH", `/Users/${u.json.id}`, { body: many }), 400, "invalidSyntax");
    } finally {
      await p.close();
    }
  });

  test("other media types are 415", async () => {
    assertScimError(await s.scim("POST", "/Users", { body: "userName=x", headers: { "content-type": "application/x-www-form-urlencoded" } }), 415);
    assertScimError(await s.scim("POST", "/Users", { body: "<user/>", headers: { "content-type": "text/xml" } }), 415);
  });

  test("over-long and control-character values are 400 invalidValue", async () => {
    assertScimError(await s.scim("POST", "/Users", { body: { userName: "a".repeat(300) } }), 400, "invalidValue");
    assertScimError(await s.scim("POST", "/Users", { body: { userName: "bad\u0000name" } }), 400, "invalidValue");
    assertScimError(await s.scim("POST", "/Groups", { body: { displayName: "g".repeat(300) } }), 400, "invalidValue");
  });
});

describe("filters", () => {
  test("unsupported or malformed filters are 400 invalidFilter", async () => {
    const bad = [
      'userName co "x"',
      'userName sw "x"',
      "userName pr",
      'userName eq "x" or userName eq "y"',
      'not (userName eq "x")',
      '(userName eq "x")',
      "userName eq",
      'userName "x"',
      'userName eq "unterminated',
      'nickName eq "x"',
      'name eq "x"',
      'emails[type eq "work"',
      'emails[foo eq "x"]',
      'userName[value eq "x"]',
      'userName eq "x" and',
      "active eq 3",
      'active eq "maybe"',
      'userName eq "x" extra',
      'urn:example:unknown:User:userName eq "x"',
      "userName eq 'x'",
      'userName eq "x";',
      "a".repeat(2000),
      'userName eq "x" and '.repeat(20) + 'userName eq "x"',
      "",
    ];
    for (const filter of bad) {
      const r = await s.scim("GET", "/Users" + q({ filter }));
      assertScimError(r, 400, "invalidFilter");
    }
    assertScimError(await s.scim("GET", "/Groups" + q({ filter: 'userName eq "x"' })), 400, "invalidFilter");
  });

  test("fully qualified names, odd spacing and case in operators are accepted", async () => {
    await s.scim("POST", "/Users", { body: oktaUser("qualified.name@example.com") });
    for (const filter of [
      `${USER_SCHEMA}:userName eq "qualified.name@example.com"`,
      'USERNAME EQ "qualified.name@example.com"',
      '  userName   eq   "qualified.name@example.com"  ',
      'userName eq "qualified.name@example.com" AND active eq true',
      'name.givenName eq "qualified" and name.familyName eq "name"',
    ]) {
      const r = await s.scim("GET", "/Users" + q({ filter }));
      assert.equal(r.status, 200, `${filter}: ${r.text}`);
      assert.equal(r.json.totalResults, 1, filter);
    }
    // `+` for a space, as form encoding writes it.
    const plus = await s.scim("GET", "/Users?filter=userName+eq+%22qualified.name%40example.com%22");
    assert.equal(plus.json.totalResults, 1, plus.text);
  });
});

describe("endpoints", () => {
  test("unknown SCIM endpoints are SCIM 404s; the rest of the server is untouched", async () => {
    assertScimError(await s.scim("GET", "/Nothing"), 404);
    assertScimError(await s.scim("POST", "/Users/.search", { body: { schemas: ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"] } }), 404);
    const outside = await fetch(`${s.url}/outside`);
    assert.equal(outside.status, 200);
    assert.match(outside.headers.get("content-type") ?? "", /^application\/json/);
    const rootMissing = await fetch(`${s.url}/elsewhere`);
    assert.deepEqual(await rootMissing.json(), { code: "undefined_endpoint", message: "root not found" });
    // The root keeps its own JSON parser and error handler.
    const echo = await fetch(`${s.url}/outside`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' });
    assert.deepEqual(await echo.json(), { echo: { a: 1 } });
    const bad = await fetch(`${s.url}/outside`, { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { code: string }).code, "tenet_root");
  });

  test("ServiceProviderConfig says what is supported", async () => {
    const r = await s.scim("GET", "/ServiceProviderConfig");
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.schemas, ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]);
    assert.equal(r.json.patch.supported, true);
    assert.equal(r.json.bulk.supported, false);
    assert.equal(r.json.filter.supported, true);
    assert.equal(r.json.filter.maxResults, 200);
    assert.equal(r.json.etag.supported, true);
    assert.equal(r.json.sort.supported, false);
    assert.equal(r.json.authenticationSchemes[0].type, "oauthbearertoken");
    assertScimError(await s.scim("GET", "/ServiceProviderConfig" + q({ filter: 'id eq "x"' })), 403);
  });

  test("ResourceTypes and Schemas describe Users, Groups and the enterprise extension", async () => {
    const types = await s.scim("GET", "/ResourceTypes");
    assert.deepEqual(types.json.schemas, [LIST_RESPONSE]);
    assert.deepEqual(types.json.Resources.map((t: { id: string }) => t.id), ["User", "Group"]);
    assert.equal(types.json.Resources[0].schemaExtensions[0].schema, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User");
    assert.equal((await s.scim("GET", "/ResourceTypes/Group")).json.endpoint, "/Groups");
    assertScimError(await s.scim("GET", "/ResourceTypes/Device"), 404);
    const schemas = await s.scim("GET", "/Schemas");
    assert.equal(schemas.json.totalResults, 3);
    const user = await s.scim("GET", `/Schemas/${USER_SCHEMA}`);
    assert.equal(user.status, 200);
    const userName = user.json.attributes.find((a: { name: string }) => a.name === "userName");
    assert.equal(userName.uniqueness, "server");
    assert.equal(userName.required, true);
    const group = await s.scim("GET", `/Schemas/${GROUP_SCHEMA}`);
    assert.ok(group.json.attributes.some((a: { name: string }) => a.name === "members"));
    assertScimError(await s.scim("GET", "/Schemas/urn:nope"), 404);
  });

  test("meta.location follows the Host the client used", async () => {
    const r = await s.scim("POST", "/Users", { body: oktaUser("host.header@example.com") });
    assert.ok(r.json.meta.location.startsWith(`${s.url}/scim/v2/Users/`));
  });
});

describe("publicUrl", () => {
  test("meta.location and $ref use the configured public URL", async () => {
    const { default: Fastify } = await import("fastify");
    const { registerScimRoutes } = await import("../../../src/api/scim/routes.js");
    const app = Fastify();
    registerScimRoutes(app, { directory: s.directory, authenticate: () => undefined, publicUrl: "https://id.example.com/scim/v2/" });
    await app.ready();
    try {
      const r = await app.inject({ method: "POST", url: "/scim/v2/Groups", headers: { "content-type": "application/scim+json" }, payload: JSON.stringify({ displayName: "Public" }) });
      assert.equal(r.statusCode, 201, r.body);
      assert.equal(r.headers.location, `https://id.example.com/scim/v2/Groups/${JSON.parse(r.body).id}`);
    } finally {
      await app.close();
    }
  });
});
