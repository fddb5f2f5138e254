/**
 * The OpenID AuthZEN Authorization API 1.0 over HTTP: PDP metadata, evaluation, evaluations
 * (defaults and the three evaluation semantics), the three searches with paging, per-store and
 * default-store paths. Mapping: subject → user, resource → object, action.name → relation;
 * subject/resource/action properties and the request context become condition context.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { call, client, DOCS_MODEL, startServer, type TestServer } from "./harness.js";

let server: TestServer;
let storeId: string;
let api: ReturnType<typeof client>;

const user = (id: string, properties?: Record<string, unknown>) => (properties ? { type: "user", id, properties } : { type: "user", id });
const doc = (id: string) => ({ type: "document", id });
const DOCS = ["d1", "d2", "d3", "d4", "d5"];

before(async () => {
  server = await startServer();
  api = client(server.url, server.adminToken);
  storeId = (await api("POST", "/stores", { name: "authzen" })).json.id;
  assert.equal((await api("POST", `/stores/${storeId}/authorization-models`, DOCS_MODEL)).status, 201);
  const tuple_keys = [
    { object: "document:readme", relation: "owner", user: "user:anne" },
    { object: "document:readme", relation: "viewer", user: "group:eng#member" },
    { object: "group:eng", relation: "member", user: "user:bob" },
    { object: "document:plan", relation: "viewer", user: "user:dave", condition: { name: "in_office_hours" } },
    ...DOCS.map((d) => ({ object: `document:${d}`, relation: "viewer", user: "user:anne" })),
  ];
  assert.equal((await api("POST", `/stores/${storeId}/write`, { writes: { tuple_keys } })).status, 200);
});
after(async () => {
  await server.close();
});

const base = () => `/stores/${storeId}/access/v1`;

describe("metadata", () => {
  test("/.well-known/authzen-configuration is public and names every endpoint", async () => {
    const r = await call(server.url, "GET", "/.well-known/authzen-configuration");
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {
      policy_decision_point: server.url,
      access_evaluation_endpoint: `${server.url}/access/v1/evaluation`,
      access_evaluations_endpoint: `${server.url}/access/v1/evaluations`,
      search_subject_endpoint: `${server.url}/access/v1/search/subject`,
      search_resource_endpoint: `${server.url}/access/v1/search/resource`,
      search_action_endpoint: `${server.url}/access/v1/search/action`,
    });
  });
});

describe("evaluation", () => {
  test("allowed, with a reason in the context", async () => {
    const r = await api("POST", `${base()}/evaluation`, { subject: user("anne"), resource: doc("readme"), action: { name: "viewer" } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.decision, true);
    assert.ok(r.json.context?.reason, `a reason: ${r.text}`);
  });

  test("denied", async () => {
    const r = await api("POST", `${base()}/evaluation`, { subject: user("zoe"), resource: doc("readme"), action: { name: "viewer" } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.decision, false);
  });

  test("usersets resolve: a group member may view", async () => {
    const r = await api("POST", `${base()}/evaluation`, { subject: user("bob"), resource: doc("readme"), action: { name: "viewer" } });
    assert.equal(r.json.decision, true);
    const e = await api("POST", `${base()}/evaluation`, { subject: user("bob"), resource: doc("readme"), action: { name: "editor" } });
    assert.equal(e.json.decision, false);
  });

  test("subject, resource and action properties and the request context feed the condition", async () => {
    const ev = (body: Record<string, unknown>) => api("POST", `${base()}/evaluation`, { resource: doc("plan"), action: { name: "viewer" }, subject: user("dave"), ...body });
    assert.equal((await ev({ subject: user("dave", { hour: 10 }) })).json.decision, true, "subject property");
    assert.equal((await ev({ subject: user("dave", { hour: 20 }) })).json.decision, false);
    assert.equal((await ev({ resource: { ...doc("plan"), properties: { hour: 11 } } })).json.decision, true, "resource property");
    assert.equal((await ev({ action: { name: "viewer", properties: { hour: 12 } } })).json.decision, true, "action property");
    assert.equal((await ev({ context: { hour: 13 } })).json.decision, true, "request context");
    assert.equal((await ev({ subject: user("dave", { hour: 10 }), context: { hour: 22 } })).json.decision, false, "the request context wins");
  });

  test("an evaluation that cannot be decided is a deny with the error in its context", async () => {
    const missing = await api("POST", `${base()}/evaluation`, { subject: user("dave"), resource: doc("plan"), action: { name: "viewer" } });
    assert.equal(missing.status, 200, missing.text);
    assert.equal(missing.json.decision, false);
    assert.equal(missing.json.context?.error?.status, 400);
    const unknown = await api("POST", `${base()}/evaluation`, { subject: user("anne"), resource: doc("readme"), action: { name: "approve" } });
    assert.equal(unknown.json.decision, false);
    assert.equal(unknown.json.context?.error?.code, "validation_error");
  });

  test("malformed requests are 400 validation errors", async () => {
    for (const body of [
      {},
      { subject: user("anne"), resource: doc("readme") },
      { subject: { type: "user" }, resource: doc("readme"), action: { name: "viewer" } },
      { subject: user("an:ne"), resource: doc("readme"), action: { name: "viewer" } },
      { subject: user("anne"), resource: doc("readme"), action: { name: "viewer" }, context: "x" },
    ]) {
      const r = await api("POST", `${base()}/evaluation`, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.status} ${r.text}`);
      assert.equal(r.json?.code, "validation_error");
    }
  });
});

describe("evaluations", () => {
  const items = [{ resource: doc("d1") }, { resource: doc("nope") }, { resource: doc("d2") }, { resource: doc("nope2") }];
  const run = (semantic?: string) =>
    api("POST", `${base()}/evaluations`, {
      subject: user("anne"),
      action: { name: "viewer" },
      evaluations: items,
      ...(semantic ? { options: { evaluations_semantic: semantic } } : {}),
    });

  test("defaults from the request apply to every item; execute_all is the default", async () => {
    const r = await run();
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.evaluations.map((e: { decision: boolean }) => e.decision), [true, false, true, false]);
    assert.deepEqual((await run("execute_all")).json.evaluations.map((e: { decision: boolean }) => e.decision), [true, false, true, false]);
  });

  test("deny_on_first_deny stops after the first deny", async () => {
    const r = await run("deny_on_first_deny");
    assert.deepEqual(r.json.evaluations.map((e: { decision: boolean }) => e.decision), [true, false]);
  });

  test("permit_on_first_permit stops after the first permit", async () => {
    const r = await api("POST", `${base()}/evaluations`, {
      subject: user("anne"),
      action: { name: "viewer" },
      options: { evaluations_semantic: "permit_on_first_permit" },
      evaluations: [{ resource: doc("nope") }, { resource: doc("d3") }, { resource: doc("d4") }],
    });
    assert.deepEqual(r.json.evaluations.map((e: { decision: boolean }) => e.decision), [false, true]);
  });

  test("an unknown semantic is refused", async () => {
    const r = await run("majority");
    assert.equal(r.status, 400);
  });

  test("items override the defaults; item context merges over the request context", async () => {
    const r = await api("POST", `${base()}/evaluations`, {
      subject: user("anne"),
      resource: doc("readme"),
      action: { name: "viewer" },
      context: { hour: 10 },
      evaluations: [
        {},
        { action: { name: "owner" } },
        { subject: user("bob"), action: { name: "owner" } },
        { subject: user("dave"), resource: doc("plan") },
        { subject: user("dave"), resource: doc("plan"), context: { hour: 23 } },
      ],
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.evaluations.map((e: { decision: boolean }) => e.decision), [true, true, false, true, false]);
  });

  test("an item without subject, resource or action is a deny with an error, the others still run", async () => {
    const r = await api("POST", `${base()}/evaluations`, {
      subject: user("anne"),
      evaluations: [{ resource: doc("d1"), action: { name: "viewer" } }, { resource: doc("d1") }],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.evaluations[0].decision, true);
    assert.equal(r.json.evaluations[1].decision, false);
    assert.equal(r.json.evaluations[1].context?.error?.code, "validation_error");
  });

  test("without an evaluations array the response is a single decision", async () => {
    const r = await api("POST", `${base()}/evaluations`, { subject: user("anne"), resource: doc("d5"), action: { name: "viewer" } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.decision, true);
    assert.equal(r.json.evaluations, undefined);
  });
});

describe("search", () => {
  /** Pages through a search with `limit`; returns every result and the number of pages. */
  async function all(path: string, body: Record<string, unknown>, limit: number) {
    const results: Array<Record<string, unknown>> = [];
    let token: string | undefined;
    let pages = 0;
    for (; pages < 50; ) {
      const r = await api("POST", path, { ...body, page: { limit, ...(token ? { token } : {}) } });
      assert.equal(r.status, 200, r.text);
      pages++;
      assert.ok(r.json.results.length <= limit, `page of ${r.json.results.length} > limit ${limit}`);
      results.push(...r.json.results);
      token = r.json.page?.next_token;
      assert.equal(typeof token, "string", "every page has a next_token (empty on the last)");
      if (!token) break;
    }
    return { results, pages };
  }
  const ids = (rs: Array<Record<string, unknown>>) => rs.map((r) => `${r.type}:${r.id}`).sort();

  test("resource search, paged", async () => {
    const body = { subject: user("anne"), action: { name: "viewer" }, resource: { type: "document" } };
    const expected = ["document:d1", "document:d2", "document:d3", "document:d4", "document:d5", "document:readme"];
    const unpaged = await api("POST", `${base()}/search/resource`, body);
    assert.deepEqual(ids(unpaged.json.results), expected);
    assert.equal(unpaged.json.page?.next_token, "");
    const paged = await all(`${base()}/search/resource`, body, 4);
    assert.deepEqual(ids(paged.results), expected);
    assert.equal(paged.pages, 2);
    const one = await all(`${base()}/search/resource`, body, 1);
    assert.deepEqual(ids(one.results), expected);
    assert.equal(one.pages, 6);
  });

  test("resource search honours condition context", async () => {
    const body = { subject: user("dave"), action: { name: "viewer" }, resource: { type: "document" } };
    assert.deepEqual(ids((await api("POST", `${base()}/search/resource`, { ...body, context: { hour: 9 } })).json.results), ["document:plan"]);
    assert.deepEqual(ids((await api("POST", `${base()}/search/resource`, { ...body, context: { hour: 8 } })).json.results), []);
  });

  test("subject search, paged", async () => {
    const body = { subject: { type: "user" }, action: { name: "viewer" }, resource: doc("readme") };
    const paged = await all(`${base()}/search/subject`, body, 1);
    assert.deepEqual(ids(paged.results), ["user:anne", "user:bob"]);
    assert.equal(paged.pages, 2);
  });

  test("action search, paged", async () => {
    const body = { subject: user("anne"), resource: doc("readme") };
    const res = await all(`${base()}/search/action`, body, 2);
    assert.deepEqual(res.results.map((a) => a.name).sort(), ["editor", "owner", "viewer"]);
    assert.equal(res.pages, 2);
    const bob = await api("POST", `${base()}/search/action`, { subject: user("bob"), resource: doc("readme") });
    assert.deepEqual(bob.json.results, [{ name: "viewer" }]);
    const unknown = await api("POST", `${base()}/search/action`, { subject: user("bob"), resource: { type: "spaceship", id: "1" } });
    assert.equal(unknown.status, 400);
  });

  test("an invalid page token or limit is a 400", async () => {
    const body = { subject: user("anne"), action: { name: "viewer" }, resource: { type: "document" } };
    for (const page of [{ token: "not-a-number!" }, { token: Buffer.from("-5").toString("base64url") }, { limit: 0 }, { limit: 1.5 }, { limit: "2" }]) {
      const r = await api("POST", `${base()}/search/resource`, { ...body, page });
      assert.equal(r.status, 400, `${JSON.stringify(page)} → ${r.status} ${r.text}`);
      assert.equal(r.json?.code, "validation_error");
    }
  });
});

describe("default store paths", () => {
  const evaluation = { subject: user("anne"), resource: doc("readme"), action: { name: "viewer" } };

  test("without a configured default store, /access/v1/* is a 404 that says what to do", async () => {
    server.authzen.defaultStoreId = undefined;
    for (const path of ["evaluation", "evaluations", "search/subject", "search/resource", "search/action"]) {
      const r = await api("POST", `/access/v1/${path}`, {
        ...evaluation,
        ...(path === "search/subject" ? { subject: { type: "user" } } : {}),
        ...(path === "search/resource" ? { resource: { type: "document" } } : {}),
      });
      assert.equal(r.status, 404, `${path}: ${r.text}`);
      assert.equal(r.json?.code, "not_found");
      assert.match(r.json?.message, /default store/);
    }
  });

  test("with a default store, /access/v1/* answers for it", async () => {
    server.authzen.defaultStoreId = storeId;
    try {
      const r = await api("POST", "/access/v1/evaluation", evaluation);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.decision, true);
      const s = await api("POST", "/access/v1/search/resource", { subject: user("bob"), action: { name: "viewer" }, resource: { type: "document" } });
      assert.deepEqual(s.json.results, [doc("readme")]);
      const b = await api("POST", "/access/v1/evaluations", { ...evaluation, evaluations: [{}, { subject: user("zoe") }] });
      assert.deepEqual(b.json.evaluations.map((e: { decision: boolean }) => e.decision), [true, false]);
    } finally {
      server.authzen.defaultStoreId = undefined;
    }
  });

  test("per-store paths: an unknown store is a 404 on every endpoint, a malformed id a 400", async () => {
    const ghost = "/stores/01ARZ3NDEKTSV4RRFFQ69G5FAV/access/v1";
    const search = await api("POST", `${ghost}/search/resource`, { subject: user("anne"), action: { name: "viewer" }, resource: { type: "document" } });
    assert.equal(search.status, 404, search.text);
    assert.equal(search.json?.code, "store_id_not_found");
    // A request for a store that does not exist is not an evaluation that was denied: like
    // the search endpoints (and OpenFGA's /check), it must fail, not answer 200 "deny".
    for (const [path, body] of [
      ["evaluation", evaluation],
      ["evaluations", { ...evaluation, evaluations: [{}] }],
    ] as const) {
      const r = await api("POST", `${ghost}/${path}`, body);
      assert.equal(r.status, 404, `${path}: ${r.status} ${r.text}`);
      assert.equal(r.json?.code, "store_id_not_found");
    }
    const bad = await api("POST", "/stores/not-a-store/access/v1/evaluation", evaluation);
    assert.equal(bad.status, 400, bad.text);
  });
});
