/**
 * The decision lane (src/api/lane.ts) answers Check, BatchCheck and AuthZEN evaluation straight
 * from node:http. It must be indistinguishable from the Fastify route it stands in front of:
 * every request below is sent over real HTTP (which the lane takes) and through Fastify's
 * `inject` (which never reaches the lane), and the two answers must match in status, body and
 * the headers clients rely on. Requests whose framing the lane leaves to Fastify (chunked
 * bodies, other media types) are checked to be answered all the same.
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, test } from "node:test";
import { call, startServer, type TestServer } from "./harness.js";

const MODEL = {
  schema_version: "1.1",
  type_definitions: [
    { type: "user" },
    {
      type: "doc",
      relations: { viewer: { this: {} }, editor: { this: {} } },
      metadata: { relations: { viewer: { directly_related_user_types: [{ type: "user" }] }, editor: { directly_related_user_types: [{ type: "user", condition: "weekday" }] } } },
    },
  ],
  conditions: {
    weekday: { name: "weekday", expression: "day < 6", parameters: { day: { type_name: "TYPE_NAME_INT" } } },
  },
};

let server: TestServer;
let storeId: string;
let checkOnly: string;
let otherStoreKey: string;

before(async () => {
  server = await startServer();
  const admin = server.adminToken;
  storeId = (await call(server.url, "POST", "/stores", { token: admin, body: { name: "lane" } })).json.id;
  await call(server.url, "POST", `/stores/${storeId}/authorization-models`, { token: admin, body: MODEL });
  const w = await call(server.url, "POST", `/stores/${storeId}/write`, {
    token: admin,
    body: { writes: { tuple_keys: [{ user: "user:anne", relation: "viewer", object: "doc:1" }, { user: "user:bob", relation: "editor", object: "doc:1", condition: { name: "weekday" } }] } },
  });
  assert.equal(w.status, 200);
  checkOnly = (await server.key({ scopes: ["check"], stores: [storeId] })).token;
  otherStoreKey = (await server.key({ scopes: ["check"], stores: ["01ARZ3NDEKTSV4RRFFQ69G5FAV"] })).token;
  server.authzen.defaultStoreId = storeId;
});
after(async () => server.close());

interface Sent {
  status: number;
  body: string;
  headers: Record<string, string | undefined>;
}

const COMPARED_HEADERS = ["content-type", "www-authenticate", "retry-after", "x-request-id"];

/** Sends raw bytes over HTTP/1.1 (so the exact framing is ours to choose). */
function sendRaw(path: string, headers: Record<string, string>, body: string, chunked = false): Promise<Sent> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method: "POST", path, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => {
        const h: Record<string, string | undefined> = {};
        for (const k of COMPARED_HEADERS) h[k] = res.headers[k] as string | undefined;
        resolve({ status: res.statusCode ?? 0, body: text, headers: h });
      });
    });
    req.on("error", reject);
    if (chunked) {
      // Two writes without a Content-Length: Node sends Transfer-Encoding: chunked.
      req.write(body.slice(0, 5));
      req.end(body.slice(5));
    } else req.end(body);
  });
}

async function viaFastify(path: string, headers: Record<string, string>, body: string): Promise<Sent> {
  const res = await server.app.inject({ method: "POST", url: path, headers, payload: body });
  const h: Record<string, string | undefined> = {};
  for (const k of COMPARED_HEADERS) h[k] = res.headers[k] as string | undefined;
  return { status: res.statusCode, body: res.body, headers: h };
}

/** Sends the request both ways and asserts the answers are the same; returns the lane's. */
async function same(path: string, body: unknown, opts: { token?: string; headers?: Record<string, string> } = {}): Promise<Sent> {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const headers: Record<string, string> = { "content-type": "application/json", "x-request-id": "lane-test", ...(opts.headers ?? {}) };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  const lane = await sendRaw(path, { ...headers, "content-length": String(Buffer.byteLength(text)) }, text);
  const fastify = await viaFastify(path, headers, text);
  assert.equal(lane.status, fastify.status, `status for ${path} ${text}: lane ${lane.body} / fastify ${fastify.body}`);
  assert.deepEqual(JSON.parse(lane.body), JSON.parse(fastify.body), `body for ${path} ${text}`);
  assert.deepEqual(lane.headers, fastify.headers, `headers for ${path} ${text}`);
  return lane;
}

const check = (user: string, extra: Record<string, unknown> = {}) => ({ tuple_key: { user, relation: "viewer", object: "doc:1" }, ...extra });

describe("the decision lane answers exactly as the Fastify routes do", () => {
  test("Check: allowed, denied, with context and with explain", async () => {
    const admin = server.adminToken;
    assert.deepEqual(JSON.parse((await same(`/stores/${storeId}/check`, check("user:anne"), { token: admin })).body), { allowed: true, resolution: "" });
    assert.deepEqual(JSON.parse((await same(`/stores/${storeId}/check`, check("user:zed"), { token: checkOnly })).body), { allowed: false, resolution: "" });
    const cond = { tuple_key: { user: "user:bob", relation: "editor", object: "doc:1" }, context: { day: 3 } };
    assert.equal(JSON.parse((await same(`/stores/${storeId}/check`, cond, { token: admin })).body).allowed, true);
    const missing = { tuple_key: { user: "user:bob", relation: "editor", object: "doc:1" } };
    assert.equal((await same(`/stores/${storeId}/check`, missing, { token: admin })).status, 400);
    const explained = JSON.parse((await same(`/stores/${storeId}/check`, check("user:anne", { explain: true }), { token: admin })).body);
    assert.equal(explained.allowed, true);
    assert.ok(explained.why, "explain returns the path");
    await same(`/stores/${storeId}/check`, check("user:anne", { contextual_tuples: { tuple_keys: [{ user: "user:carl", relation: "viewer", object: "doc:2" }] } }), { token: admin });
  });

  test("Check: credentials missing, wrong, lacking the scope or for another store", async () => {
    const path = `/stores/${storeId}/check`;
    assert.equal((await same(path, check("user:anne"))).status, 401);
    assert.equal((await same(path, check("user:anne"), { token: "tenet_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" })).status, 401);
    assert.equal((await same(path, check("user:anne"), { token: "not-a-key" })).status, 401);
    assert.equal((await same(path, check("user:anne"), { token: otherStoreKey })).status, 403);
    assert.equal((await same(path, check("user:anne"), { headers: { authorization: "Basic abc" } })).status, 401);
  });

  test("Check: malformed JSON, empty bodies, prototype keys, unknown fields, wrong types, deep nesting", async () => {
    const path = `/stores/${storeId}/check`;
    const t = { token: server.adminToken };
    assert.equal((await same(path, "{not json", t)).status, 400);
    assert.equal((await same(path, "", t)).status, 400);
    const proto = await same(path, '{"__proto__":{"allowed":true},"tuple_key":{"user":"user:x","relation":"viewer","object":"doc:1"}}', t);
    assert.equal(proto.status, 400);
    assert.equal(JSON.parse(proto.body).code, "invalid_json");
    // The same key spelled with JSON escapes is caught too.
    assert.equal((await same(path, '{"\\u005f_proto__":{"x":1}}', t)).status, 400);
    assert.equal((await same(path, '{"constructor":{"prototype":{"x":1}}}', t)).status, 400);
    assert.equal((await same(path, { tuple_key: { user: "user:anne", relation: "viewer", object: "doc:1" }, nope: 1 }, t)).status, 400);
    assert.equal((await same(path, { tuple_key: { user: 5, relation: "viewer", object: "doc:1" } }, t)).status, 400);
    assert.equal((await same(path, { tuple_key: { user: "user:a\u0001", relation: "viewer", object: "doc:1" } }, t)).status, 400);
    assert.equal((await same(path, { tuple_key: { user: "user:anne", relation: "nope", object: "doc:1" } }, t)).status, 400);
    assert.equal((await same(path, { tuple_key: { user: "user:anne", relation: "viewer", object: "folder:1" } }, t)).status, 400);
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = { a: deep };
    assert.equal((await same(path, { ...check("user:anne"), context: deep }, t)).status, 400);
    assert.equal((await same(path, "[]", t)).status, 400);
    assert.equal((await same(path, "null", t)).status, 400);
  });

  test("Check: a store or model that does not exist", async () => {
    const t = { token: server.adminToken };
    assert.equal((await same("/stores/01ARZ3NDEKTSV4RRFFQ69G5FAV/check", check("user:anne"), t)).status, 404);
    assert.equal((await same("/stores/not-a-ulid/check", check("user:anne"), t)).status, 400);
    assert.equal((await same(`/stores/${storeId}/check`, check("user:anne", { authorization_model_id: "01ARZ3NDEKTSV4RRFFQ69G5FAV" }), t)).status, 400);
  });

  test("BatchCheck and AuthZEN evaluation(s), per store and on the default store", async () => {
    const t = { token: server.adminToken };
    const batch = await same(`/stores/${storeId}/batch-check`, {
      checks: [
        { tuple_key: { user: "user:anne", relation: "viewer", object: "doc:1" }, correlation_id: "a" },
        { tuple_key: { user: "user:zed", relation: "viewer", object: "doc:1" }, correlation_id: "b" },
      ],
    }, t);
    assert.equal(JSON.parse(batch.body).result.a.allowed, true);
    const evaluation = { subject: { type: "user", id: "anne" }, resource: { type: "doc", id: "1" }, action: { name: "viewer" } };
    for (const prefix of [`/stores/${storeId}`, ""]) {
      assert.equal(JSON.parse((await same(`${prefix}/access/v1/evaluation`, evaluation, t)).body).decision, true);
      assert.equal(JSON.parse((await same(`${prefix}/access/v1/evaluation`, { ...evaluation, action: { name: "editor" } }, t)).body).decision, false);
      assert.equal((await same(`${prefix}/access/v1/evaluation`, { subject: { type: "user" } }, t)).status, 400);
      const many = await same(`${prefix}/access/v1/evaluations`, { ...evaluation, evaluations: [{}, { action: { name: "editor" } }], options: { evaluations_semantic: "deny_on_first_deny" } }, t);
      assert.equal(JSON.parse(many.body).evaluations.length, 2);
    }
    // The default-store mount checks the credential's store itself.
    assert.equal((await same("/access/v1/evaluation", evaluation, { token: otherStoreKey })).status, 403);
  });

  test("without an x-request-id each answer gets its own", async () => {
    const body = JSON.stringify(check("user:anne"));
    const headers = { "content-type": "application/json", "content-length": String(body.length), authorization: `Bearer ${server.adminToken}` };
    const a = await sendRaw(`/stores/${storeId}/check`, headers, body);
    const b = await sendRaw(`/stores/${storeId}/check`, headers, body);
    assert.match(a.headers["x-request-id"] ?? "", /^[0-9a-f-]{36}$/);
    assert.notEqual(a.headers["x-request-id"], b.headers["x-request-id"]);
  });
});

describe("requests the lane leaves to Fastify are answered all the same", () => {
  const headers = () => ({ "content-type": "application/json", authorization: `Bearer ${server.adminToken}` });

  test("a chunked body", async () => {
    const res = await sendRaw(`/stores/${storeId}/check`, headers(), JSON.stringify(check("user:anne")), true);
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { allowed: true, resolution: "" });
  });

  test("a media type other than JSON, a body over the limit, a percent-encoded store id", async () => {
    const text = JSON.stringify(check("user:anne"));
    const plain = await sendRaw(`/stores/${storeId}/check`, { ...headers(), "content-type": "text/plain", "content-length": String(text.length) }, text);
    // Fastify reads text/plain as a string, which the schema refuses.
    assert.equal(plain.status, 400);
    assert.equal(JSON.parse(plain.body).code, "validation_error");
    const big = JSON.stringify({ ...check("user:anne"), context: { pad: "x".repeat(1024 * 1024) } });
    const tooLarge = await sendRaw(`/stores/${storeId}/check`, { ...headers(), "content-length": String(big.length) }, big);
    assert.equal(tooLarge.status, 413);
    assert.equal(JSON.parse(tooLarge.body).code, "request_too_large");
    const encoded = await sendRaw(`/stores/${storeId.slice(0, 5)}%${storeId.charCodeAt(5).toString(16)}${storeId.slice(6)}/check`, { ...headers(), "content-length": String(text.length) }, text);
    assert.equal(encoded.status, 200);
  });

  test("a charset parameter and a query string stay on the lane and are answered", async () => {
    const text = JSON.stringify(check("user:anne"));
    const res = await sendRaw(`/stores/${storeId}/check?x=1`, { ...headers(), "content-type": "application/json; charset=utf-8", "content-length": String(text.length) }, text);
    assert.equal(res.status, 200);
  });
});

describe("the lane's answers are counted in /metrics", () => {
  test("latency by route and decisions by result include lane requests", async () => {
    const before = await call(server.url, "GET", "/metrics", { token: server.adminToken });
    const count = (text: string, re: RegExp): number => Number(re.exec(text)?.[1] ?? 0);
    const latencyRe = /tenet_http_request_duration_seconds_count\{route="\/stores\/:store_id\/check",method="POST",status="200"\} (\d+)/;
    const allowRe = /tenet_decisions_total\{api="openfga",result="allow"\} (\d+)/;
    const denyRe = /tenet_decisions_total\{api="authzen",result="deny"\} (\d+)/;
    await call(server.url, "POST", `/stores/${storeId}/check`, { token: server.adminToken, body: check("user:anne") });
    await call(server.url, "POST", `/stores/${storeId}/check`, { token: server.adminToken, body: check("user:anne") });
    await call(server.url, "POST", `/stores/${storeId}/access/v1/evaluation`, {
      token: server.adminToken,
      body: { subject: { type: "user", id: "zed" }, resource: { type: "doc", id: "1" }, action: { name: "viewer" } },
    });
    const afterText = (await call(server.url, "GET", "/metrics", { token: server.adminToken })).text;
    assert.equal(count(afterText, latencyRe) - count(before.text, latencyRe), 2);
    assert.equal(count(afterText, allowRe) - count(before.text, allowRe), 2);
    assert.equal(count(afterText, denyRe) - count(before.text, denyRe), 1);
  });
});
