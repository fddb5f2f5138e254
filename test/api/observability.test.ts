/**
 * Operating Tenet: health and readiness probes, Prometheus metrics (behind the `read` scope),
 * the OpenAPI 3.1 document, and request ids (echoed when the caller sends a sane one).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { call, client, DOCS_MODEL, startServer, type TestServer } from "./harness.js";

let server: TestServer;
let storeId: string;
let admin: ReturnType<typeof client>;

before(async () => {
  server = await startServer();
  admin = client(server.url, server.adminToken);
  storeId = (await admin("POST", "/stores", { name: "observability" })).json.id;
  await admin("POST", `/stores/${storeId}/authorization-models`, DOCS_MODEL);
  await admin("POST", `/stores/${storeId}/write`, {
    writes: { tuple_keys: [{ object: "document:readme", relation: "owner", user: "user:anne" }, { object: "group:eng", relation: "member", user: "user:bob" }] },
  });
});
after(async () => {
  await server.close();
});

describe("health", () => {
  test("/healthz and /readyz answer anonymously", async () => {
    const h = await call(server.url, "GET", "/healthz");
    assert.equal(h.status, 200);
    assert.deepEqual(h.json, { status: "SERVING" });
    const r = await call(server.url, "GET", "/readyz");
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: "READY" });
  });

  test("/readyz is 503 when the datastore cannot answer; /healthz stays 200", async () => {
    const s = await startServer();
    try {
      await s.ds.close();
      const r = await call(s.url, "GET", "/readyz");
      assert.equal(r.status, 503, r.text);
      assert.deepEqual(r.json, { status: "NOT_READY" });
      assert.equal((await call(s.url, "GET", "/healthz")).status, 200);
    } finally {
      await s.close(); // closing the datastore twice is harmless
    }
  });
});

/** The value of one sample line `name{labels} value` (labels matched as a subset), or 0. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const got = Object.fromEntries([...(m[1] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) total += Number(m[2]);
  }
  return total;
}

describe("metrics", () => {
  test("/metrics needs the read scope", async () => {
    const anon = await call(server.url, "GET", "/metrics");
    assert.equal(anon.status, 401);
    const checkOnly = await call(server.url, "GET", "/metrics", { token: (await server.key({ scopes: ["check"] })).token });
    assert.equal(checkOnly.status, 403);
    const reader = await call(server.url, "GET", "/metrics", { token: (await server.key({ scopes: ["read"] })).token });
    assert.equal(reader.status, 200);
    assert.match(reader.headers.get("content-type") ?? "", /^text\/plain/);
  });

  test("request latency and decisions are counted after checks and evaluations", async () => {
    const before = (await admin("GET", "/metrics")).text;
    const checks = [
      ["user:anne", true],
      ["user:anne", true],
      ["user:zoe", false],
    ] as const;
    for (const [user, expected] of checks) {
      const r = await admin("POST", `/stores/${storeId}/check`, { tuple_key: { object: "document:readme", relation: "viewer", user } });
      assert.equal(r.json.allowed, expected);
    }
    const ev = await admin("POST", `/stores/${storeId}/access/v1/evaluation`, {
      subject: { type: "user", id: "zoe" },
      resource: { type: "document", id: "readme" },
      action: { name: "viewer" },
    });
    assert.equal(ev.json.decision, false);
    // A failed check is not a decision.
    assert.equal((await admin("POST", `/stores/${storeId}/check`, { tuple_key: { object: "document:readme", relation: "nope", user: "user:anne" } })).status, 400);

    const after = (await admin("GET", "/metrics")).text;
    assert.match(after, /^# TYPE tenet_http_request_duration_seconds histogram$/m);
    assert.match(after, /^# TYPE tenet_decisions_total counter$/m);
    const delta = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    assert.equal(delta("tenet_decisions_total", { api: "openfga", result: "allow" }), 2);
    assert.equal(delta("tenet_decisions_total", { api: "openfga", result: "deny" }), 1);
    assert.equal(delta("tenet_decisions_total", { api: "authzen", result: "deny" }), 1);
    assert.equal(delta("tenet_decisions_total", { api: "authzen", result: "allow" }), 0);
    const checkRoute = { route: "/stores/:store_id/check", method: "POST" };
    assert.equal(delta("tenet_http_request_duration_seconds_count", { ...checkRoute, status: "200" }), 3);
    assert.equal(delta("tenet_http_request_duration_seconds_count", { ...checkRoute, status: "400" }), 1);
    assert.ok(sample(after, "tenet_http_request_duration_seconds_bucket", { ...checkRoute, status: "200", le: "+Inf" }) >= 3);
    assert.ok(sample(after, "tenet_http_request_duration_seconds_sum", { ...checkRoute, status: "200" }) > 0);
    // Routes are labelled by template, never by raw URL (the label set must stay bounded).
    assert.doesNotMatch(after, new RegExp(`route="[^"]*${storeId}`));
  });

  test("the index gauges report each loaded store", async () => {
    const text = (await admin("GET", "/metrics")).text;
    assert.equal(sample(text, "tenet_index_tuples", { store: storeId }), 2);
    assert.ok(sample(text, "tenet_index_revision", { store: storeId }) >= 1);
    assert.ok(sample(text, "tenet_process_resident_memory_bytes") > 0 || /tenet_nodejs_/.test(text), "default process metrics, prefixed");
  });
});

describe("OpenAPI document", () => {
  type Op = {
    summary?: string;
    parameters?: Array<{ name: string; in: string; required?: boolean; schema?: unknown }>;
    requestBody?: { required?: boolean; content?: Record<string, { schema?: { type?: string; properties?: Record<string, unknown>; required?: string[] } }> };
    responses?: Record<string, unknown>;
    security?: Array<Record<string, string[]>>;
  };
  let doc: { openapi: string; info: { title: string; version: string }; paths: Record<string, Record<string, Op>>; components?: { securitySchemes?: Record<string, unknown> } };

  before(async () => {
    const r = await admin("GET", "/openapi.json");
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /application\/json/);
    doc = r.json;
  });

  test("is an OpenAPI 3.1 document with every OpenFGA and AuthZEN route", () => {
    assert.equal(doc.openapi, "3.1.0");
    assert.equal(typeof doc.info.title, "string");
    assert.equal(typeof doc.info.version, "string");
    const ops = new Set(Object.entries(doc.paths).flatMap(([p, o]) => Object.keys(o).map((m) => `${m.toUpperCase()} ${p}`)));
    const openfga = [
      "POST /stores", "GET /stores", "GET /stores/{store_id}", "DELETE /stores/{store_id}",
      "POST /stores/{store_id}/authorization-models", "GET /stores/{store_id}/authorization-models", "GET /stores/{store_id}/authorization-models/{id}",
      "POST /stores/{store_id}/write", "POST /stores/{store_id}/read", "GET /stores/{store_id}/changes",
      "PUT /stores/{store_id}/assertions/{authorization_model_id}", "GET /stores/{store_id}/assertions/{authorization_model_id}",
      "POST /stores/{store_id}/check", "POST /stores/{store_id}/batch-check", "POST /stores/{store_id}/expand",
      "POST /stores/{store_id}/list-objects", "POST /stores/{store_id}/streamed-list-objects", "POST /stores/{store_id}/list-users",
    ];
    const authzen = ["evaluation", "evaluations", "search/subject", "search/resource", "search/action"].flatMap((e) => [
      `POST /access/v1/${e}`,
      `POST /stores/{store_id}/access/v1/${e}`,
    ]);
    for (const op of [...openfga, ...authzen, "GET /.well-known/authzen-configuration", "GET /metrics"]) assert.ok(ops.has(op), `missing ${op}`);
  });

  test("every operation is well formed: responses, declared path parameters, security for scoped routes", () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method.toUpperCase()} ${path}`;
        assert.ok(["get", "post", "put", "delete"].includes(method), where);
        assert.ok(op.responses && Object.keys(op.responses).length > 0, `${where}: responses`);
        assert.equal(typeof op.summary, "string", `${where}: summary`);
        const declared = (op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name).sort();
        assert.deepEqual(declared, templated, `${where}: path parameters`);
        for (const p of op.parameters ?? []) {
          assert.ok(["path", "query", "header", "cookie"].includes(p.in), `${where}: parameter ${p.name} in ${p.in}`);
          assert.ok(p.schema && typeof p.schema === "object", `${where}: parameter ${p.name} has a schema`);
          if (p.in === "path") assert.equal(p.required, true, `${where}: path parameter ${p.name} is required`);
        }
        for (const s of op.security ?? []) for (const name of Object.keys(s)) assert.ok(doc.components?.securitySchemes?.[name], `${where}: security scheme ${name} is defined`);
      }
    }
    const open = Object.entries(doc.paths).flatMap(([p, o]) => Object.entries(o).filter(([, op]) => !op.security).map(([m]) => `${m.toUpperCase()} ${p}`));
    assert.deepEqual(open, ["GET /.well-known/authzen-configuration"], "only AuthZEN metadata needs no credentials");
  });

  test("POST and PUT operations carry the JSON schema of their request body", () => {
    const body = (method: string, path: string) => doc.paths[path]?.[method]?.requestBody?.content?.["application/json"]?.schema;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (method !== "post" && method !== "put") continue;
        const schema = op.requestBody?.content?.["application/json"]?.schema;
        assert.equal(schema?.type, "object", `${method.toUpperCase()} ${path}: request body schema`);
        assert.ok(Object.keys(schema?.properties ?? {}).length > 0, `${method.toUpperCase()} ${path}: body properties`);
      }
    }
    const check = body("post", "/stores/{store_id}/check");
    assert.deepEqual(check?.required, ["tuple_key"]);
    assert.ok(check?.properties?.contextual_tuples && check.properties.context && check.properties.authorization_model_id);
    assert.deepEqual((check?.properties?.tuple_key as { required?: string[] }).required?.sort(), ["object", "relation", "user"]);
    assert.deepEqual(body("post", "/stores/{store_id}/list-users")?.required?.sort(), ["object", "relation", "user_filters"]);
    assert.deepEqual(body("post", "/stores/{store_id}/access/v1/evaluation")?.required?.sort(), ["action", "resource", "subject"]);
    assert.ok(body("post", "/access/v1/evaluations")?.properties?.evaluations);
    const write = body("post", "/stores/{store_id}/write");
    assert.ok(write?.properties?.writes && write.properties.deletes);
  });
});

describe("request ids", () => {
  test("a sane x-request-id is echoed, on success and on errors", async () => {
    const ok = await call(server.url, "GET", "/healthz", { headers: { "x-request-id": "trace-abc.123_X" } });
    assert.equal(ok.headers.get("x-request-id"), "trace-abc.123_X");
    const unauth = await call(server.url, "POST", `/stores/${storeId}/check`, { headers: { "x-request-id": "req-401" }, body: {} });
    assert.equal(unauth.status, 401);
    assert.equal(unauth.headers.get("x-request-id"), "req-401");
    const invalid = await call(server.url, "POST", `/stores/${storeId}/check`, { token: server.adminToken, headers: { "x-request-id": "req-400" }, body: { nope: 1 } });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.headers.get("x-request-id"), "req-400");
    const missing = await call(server.url, "GET", "/no/such/route", { headers: { "x-request-id": "req-404" } });
    assert.equal(missing.status, 404);
    assert.equal(missing.json?.code, "undefined_endpoint");
    assert.equal(missing.headers.get("x-request-id"), "req-404");
  });

  test("without one, or with one that is not a plain token, the server makes a UUID", async () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const none = await call(server.url, "GET", "/healthz");
    assert.match(none.headers.get("x-request-id") ?? "", uuid);
    const other = await call(server.url, "GET", "/healthz");
    assert.notEqual(other.headers.get("x-request-id"), none.headers.get("x-request-id"));
    for (const bad of ["has spaces in it", "x".repeat(65), "semi;colon", "<script>", ""]) {
      const r = await call(server.url, "GET", "/healthz", { headers: { "x-request-id": bad } });
      assert.match(r.headers.get("x-request-id") ?? "", uuid, `x-request-id ${JSON.stringify(bad)} is replaced`);
    }
  });
});
