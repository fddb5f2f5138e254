/**
 * Throws a few thousand random and mutated requests at every route of the OpenAPI document and
 * checks the server's contract with hostile clients:
 *   - never a 5xx, never a hang (every request answers within a time limit);
 *   - every 4xx has a JSON body `{ code: string, message: string }`;
 *   - rejected writes leave no trace: every change in the store's change log after the start
 *     belongs to a write that was answered 2xx (with that revision), and the tuples the API
 *     returns are exactly the starting tuples with the change log applied.
 * Reproduce a run with TENET_FUZZ_SEED=<seed> (printed on failure); TENET_FUZZ_N sets the count.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, test } from "node:test";
import { request } from "undici";
import type { TupleKey } from "../../src/policy/tuples/tuple.js";
import { call, client, DOCS_MODEL, startServer, type TestServer } from "./harness.js";
import { rng } from "../rng.js";

const SEED = Number(process.env.TENET_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
const COUNT = Number(process.env.TENET_FUZZ_N ?? 3000);
const CONCURRENCY = Number(process.env.TENET_FUZZ_CONCURRENCY ?? 16);
const BODY_LIMIT = 64 * 1024;
const TIMEOUT_MS = 10_000;
const SLOW_MS = Number(process.env.TENET_FUZZ_SLOW_MS ?? 3000);


/** Sets an own property, even `__proto__` (a plain assignment would set the prototype). */
function setKey(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

class Gen {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  string(max = 20): string {
    const alphabets = ["abcxyz019", ":#@*/ ", "\u0000\u0001\u001f\u007f\n\t", "éß中文🙂\u202e", "%{}[]\"'\\<>&", "ULIDS01ARZ3NDEK"];
    let s = "";
    const n = this.int(max + 1);
    for (let i = 0; i < n; i++) {
      const a = this.pick(alphabets);
      s += [...a][this.int([...a].length)];
    }
    return s;
  }
  ulid(): string {
    const chars = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let s = String(this.int(8));
    for (let i = 0; i < 25; i++) s += chars[this.int(chars.length)];
    return s;
  }
  scalar(): unknown {
    return this.pick<() => unknown>([
      () => null,
      () => true,
      () => this.int(1000) - 500,
      () => this.pick([0, -0, 1e308, -1e308, 2 ** 53 + 1, 0.5, 1e-300]),
      () => this.string(),
      () => this.pick(["", "user:anne", "document:readme", "viewer", "__proto__", "constructor", "1", "99999999999999999999"]),
    ])();
  }
  json(depth = 3): unknown {
    if (depth <= 0 || this.chance(0.4)) return this.scalar();
    if (this.chance(0.5)) return Array.from({ length: this.int(4) }, () => this.json(depth - 1));
    const o: Record<string, unknown> = {};
    for (let i = this.int(4); i > 0; i--) setKey(o, this.chance(0.2) ? this.pick(["__proto__", "constructor", "prototype"]) : this.string(8), this.json(depth - 1));
    return o;
  }
}

// ---- valid requests, per route ----

const USERS = ["user:anne", "user:bob", "user:fz1", "user:fz2", "user:*", "group:eng#member"];
const OBJECTS = ["document:readme", "document:fz1", "document:fz2", "folder:docs", "group:eng", "group:fz"];
const RELATIONS = ["viewer", "editor", "owner", "parent", "member"];

/** A tuple the model accepts (so that writes get through validation and change the store). */
function validTuple(g: Gen): TupleKey {
  const doc = g.pick(["document:readme", "document:fz1", "document:fz2", "document:fz3"]);
  const user = g.pick(["user:anne", "user:bob", "user:fz1", "user:fz2"]);
  return g.pick<() => TupleKey>([
    () => ({ object: doc, relation: "viewer", user: g.pick([user, "user:*", "group:eng#member", "group:fz#member"]) }),
    () => ({ object: doc, relation: g.pick(["owner", "editor"]), user }),
    () => ({ object: doc, relation: "parent", user: g.pick(["folder:docs", "folder:fz"]) }),
    () => ({ object: g.pick(["group:eng", "group:fz"]), relation: "member", user }),
    () => ({ object: g.pick(["folder:docs", "folder:fz"]), relation: "viewer", user }),
    () => ({ object: doc, relation: "viewer", user, condition: { name: "in_office_hours", ...(g.chance(0.5) ? { context: { hour: g.int(24) } } : {}) } }),
    () => ({ object: g.pick(OBJECTS), relation: g.pick(RELATIONS), user: g.pick(USERS) }),
  ])();
}
const entity = (g: Gen, type = g.pick(["user", "document", "group"])) => ({ type, id: g.pick(["anne", "readme", "eng", "fz1"]) });

function validBody(g: Gen, method: string, path: string, modelId: string): unknown {
  const tk = () => {
    const t = validTuple(g);
    return { object: t.object, relation: t.relation, user: t.user };
  };
  const ctx = () => (g.chance(0.5) ? { context: { hour: g.int(24) } } : {});
  const ct = () => (g.chance(0.3) ? { contextual_tuples: { tuple_keys: [validTuple(g)] } } : {});
  const route = `${method} ${path}`;
  if (route === "POST /stores") return { name: `fuzz-${g.int(1000)}` };
  if (path.endsWith("/authorization-models")) return DOCS_MODEL;
  if (path.endsWith("/write")) {
    const body: Record<string, unknown> = {};
    if (g.chance(0.7)) body.writes = { tuple_keys: Array.from({ length: 1 + g.int(3) }, () => validTuple(g)), ...(g.chance(0.6) ? { on_duplicate: g.pick(["error", "ignore"]) } : {}) };
    if (g.chance(0.5)) body.deletes = { tuple_keys: [tk()], ...(g.chance(0.6) ? { on_missing: g.pick(["error", "ignore"]) } : {}) };
    if (g.chance(0.2)) body.authorization_model_id = modelId;
    return body;
  }
  if (path.endsWith("/read")) return { ...(g.chance(0.7) ? { tuple_key: { object: g.pick(OBJECTS) } } : {}), ...(g.chance(0.5) ? { page_size: 1 + g.int(100) } : {}) };
  if (path.includes("/assertions/")) return { assertions: [{ tuple_key: tk(), expectation: g.chance(0.5) }] };
  if (path.endsWith("/check")) return { tuple_key: tk(), ...ctx(), ...ct(), ...(g.chance(0.1) ? { consistency: "HIGHER_CONSISTENCY" } : {}) };
  if (path.endsWith("/batch-check")) return { checks: Array.from({ length: 1 + g.int(3) }, (_, i) => ({ tuple_key: tk(), correlation_id: `c${i}`, ...ctx() })) };
  if (path.endsWith("/expand")) return { tuple_key: { object: g.pick(OBJECTS), relation: g.pick(RELATIONS) } };
  if (path.endsWith("list-objects")) return { type: g.pick(["document", "folder", "group"]), relation: g.pick(RELATIONS), user: g.pick(USERS), ...ctx(), ...ct() };
  if (path.endsWith("/list-users")) return { object: { type: "document", id: "readme" }, relation: g.pick(RELATIONS), user_filters: [{ type: g.pick(["user", "group"]) }], ...ctx() };
  if (path.endsWith("/evaluation")) return { subject: entity(g, "user"), resource: entity(g, "document"), action: { name: g.pick(RELATIONS) }, ...ctx() };
  if (path.endsWith("/evaluations")) {
    return { subject: entity(g, "user"), action: { name: "viewer" }, evaluations: [{ resource: entity(g, "document") }, {}], options: { evaluations_semantic: g.pick(["execute_all", "deny_on_first_deny", "permit_on_first_permit"]) } };
  }
  if (path.endsWith("/search/subject")) return { subject: { type: "user" }, resource: entity(g, "document"), action: { name: "viewer" }, page: { limit: 1 + g.int(5) } };
  if (path.endsWith("/search/resource")) return { subject: entity(g, "user"), resource: { type: "document" }, action: { name: "viewer" }, page: { limit: 1 + g.int(5) } };
  if (path.endsWith("/search/action")) return { subject: entity(g, "user"), resource: entity(g, "document") };
  return undefined;
}

// ---- mutations ----

/** JSON text nested `levels` deep (built as text: too deep for JSON.stringify's recursion). */
function deepText(g: Gen, levels: number): string {
  const arrays = g.chance(0.5);
  return (arrays ? "[" : '{"a":').repeat(levels) + JSON.stringify(g.scalar()) + (arrays ? "]" : "}").repeat(levels);
}
const DEEP = "\u0000deep\u0000";

/** Returns a mutated deep copy of `v`. */
function mutate(g: Gen, v: unknown, depth = 0): unknown {
  const here = depth > 0 && g.chance(0.3);
  if (here || v === null || typeof v !== "object") {
    return g.pick<() => unknown>([
      () => g.json(2),
      () => g.scalar(),
      () => "x".repeat(g.pick([1000, 20_000, 60_000])),
      () => g.string(200),
      () => DEEP,
      () => (JSON.stringify(v ?? null).length < 1000 ? Array.from({ length: g.pick([200, 2000]) }, () => v) : []),
      () => undefined,
    ])();
  }
  if (Array.isArray(v)) {
    const out = v.map((x) => structuredClone(x));
    if (out.length && g.chance(0.7)) {
      const i = g.int(out.length);
      out[i] = mutate(g, out[i], depth + 1);
    } else if (g.chance(0.5)) {
      out.push(out.length ? out[0] : g.json(2)); // duplicates
    } else {
      out.length = 0;
    }
    return out;
  }
  const o: Record<string, unknown> = { ...(structuredClone(v) as Record<string, unknown>) };
  const keys = Object.keys(o);
  const r = g.next();
  if (r < 0.15 && keys.length) delete o[g.pick(keys)];
  else if (r < 0.3) setKey(o, g.pick(["unknown_field", "__proto__", "constructor", "trace", "explain", g.string(10)]), g.json(2));
  else if (keys.length) {
    const k = g.pick(keys);
    setKey(o, k, mutate(g, o[k], depth + 1));
  }
  return o;
}

// ---- requests ----

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | undefined;
  /** The parsed body, for writes to the main store. */
  json?: unknown;
  label: string;
}

function fillPath(g: Gen, path: string, ids: { storeId: string; modelId: string }, method: string): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const valid = name === "store_id" ? ids.storeId : ids.modelId;
    // Never delete the store under test: its data is what the test compares.
    const safeValid = method === "DELETE" && name === "store_id" ? g.ulid() : valid;
    return g.pick<() => string>([
      () => safeValid,
      () => safeValid,
      () => safeValid,
      () => g.ulid(),
      () => valid.toLowerCase(),
      () => encodeURIComponent(g.string(30)),
      () => "A".repeat(g.pick([27, 199, 201, 3000])),
      () => g.pick(["%00", "%0A", "%7F", "%2F", "..", "%2e%2e", "%E0%A4%A", "%", "%ZZ", "%C0%AF"]),
      () => encodeURIComponent("\u0000" + valid),
    ])();
  });
}

function query(g: Gen): string {
  if (!g.chance(0.5)) return "";
  const params = new URLSearchParams();
  for (let i = 1 + g.int(3); i > 0; i--) {
    const k = g.pick(["page_size", "continuation_token", "type", "name", "start_time", "unknown", "page_size"]);
    const v = g.pick<() => string>([
      () => String(g.int(200) - 50),
      () => g.string(30),
      () => Buffer.from(`${g.int(100)}.${g.int(100)}`).toString("base64url"),
      () => Buffer.from(g.string(20)).toString("base64url"),
      () => "x".repeat(3000), // (URLs over 16 KB are Node's 431: see the raw-socket test)
      () => "1e3",
    ])();
    params.append(k, v);
  }
  return `?${params}`;
}

function makeRequest(g: Gen, routes: Route[], ids: { storeId: string; modelId: string }, tokens: { admin: string }): FuzzRequest {
  // Writes to the store under test are over-represented: they are what can corrupt it.
  const route = g.chance(0.1) ? { method: "POST", path: "/stores/{store_id}/write" } : g.pick(routes);
  const method = g.chance(0.03) ? g.pick(["GET", "POST", "PUT", "DELETE", "PATCH"]) : route.method;
  const path = fillPath(g, route.path, ids, method) + (g.chance(0.05) ? `/${g.string(5)}` : "") + query(g);
  const headers: Record<string, string> = {};
  const auth = g.next();
  if (auth < 0.85) headers.authorization = `Bearer ${tokens.admin}`;
  else if (auth < 0.9) headers.authorization = `Bearer ${g.pick(["tenet_", "tenet_0123456789abcdef_" + "a".repeat(43), g.string(40), "a.b.c"])}`.replace(/[^\x20-\x7e]/g, "");
  else if (auth < 0.95) headers.authorization = g.string(30).replace(/[^\x20-\x7e]/g, "");
  let label = `${method} ${route.path}`;
  if (method === "GET" || method === "DELETE") {
    if (g.chance(0.1)) return { method, path, headers: { ...headers, "content-type": "application/json" }, body: "{}", label: `${label} with a body` };
    return { method, path, headers, label };
  }
  let json = validBody(g, route.method, route.path, ids.modelId);
  const shape = g.next();
  if (shape < 0.25) {
    label += " valid";
  } else if (shape < 0.8) {
    for (let i = 1 + g.int(3); i > 0; i--) json = mutate(g, json);
    label += " mutated";
  } else if (shape < 0.85) {
    json = g.json(4);
    label += " random";
  } else {
    const text = JSON.stringify(json ?? {});
    const kind = g.pick(["truncated", "garbage", "empty", "wrong-type", "oversized", "no-type", "charset", "nul"] as const);
    const body =
      kind === "truncated" ? text.slice(0, g.int(text.length)) :
      kind === "garbage" ? text + g.pick(["}", "]", ",", "x", "\u0000"]) :
      kind === "empty" ? "" :
      kind === "oversized" ? JSON.stringify({ ...(json as object), pad: "x".repeat(BODY_LIMIT + g.int(BODY_LIMIT)) }) :
      kind === "nul" ? text.replace(/"/, "\"\u0000") :
      text;
    const ctype =
      kind === "wrong-type" ? g.pick(["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/octet-stream"]) :
      kind === "charset" ? g.pick(["application/json; charset=utf-16", "application/json; charset=latin1", "APPLICATION/JSON"]) :
      kind === "no-type" ? undefined :
      "application/json";
    return { method, path, headers: { ...headers, ...(ctype ? { "content-type": ctype } : {}) }, body, json, label: `${label} ${kind}` };
  }
  let body = JSON.stringify(json);
  if (body === undefined) return { method, path, headers, label: `${label} no body` };
  if (body.includes(JSON.stringify(DEEP))) {
    // One deep value per body (copies of it would multiply the body's size).
    body = body.replace(JSON.stringify(DEEP), deepText(g, g.pick([100, 1000, 10_000, 30_000]))).split(JSON.stringify(DEEP)).join("null");
    label += " deep";
  }
  return { method, path, headers: { ...headers, "content-type": "application/json" }, body, json, label };
}

// ---- the test ----

interface Route {
  method: string;
  path: string;
}

let server: TestServer;
let storeId: string;
let modelId: string;

before(async () => {
  server = await startServer({ bodyLimit: BODY_LIMIT });
  const admin = client(server.url, server.adminToken);
  storeId = (await admin("POST", "/stores", { name: "fuzz-main" })).json.id;
  modelId = (await admin("POST", `/stores/${storeId}/authorization-models`, DOCS_MODEL)).json.authorization_model_id;
  const w = await admin("POST", `/stores/${storeId}/write`, {
    writes: {
      tuple_keys: [
        { object: "document:readme", relation: "owner", user: "user:anne" },
        { object: "document:readme", relation: "viewer", user: "group:eng#member" },
        { object: "group:eng", relation: "member", user: "user:bob" },
        { object: "document:readme", relation: "parent", user: "folder:docs" },
        { object: "document:fz1", relation: "viewer", user: "user:*" },
        { object: "document:fz2", relation: "viewer", user: "user:fz1", condition: { name: "in_office_hours" } },
      ],
    },
  });
  assert.equal(w.status, 200, w.text);
  server.authzen.defaultStoreId = storeId;
});
after(async () => {
  await server.close();
});

const tupleKey = (t: TupleKey) => `${t.object}#${t.relation}@${t.user}${t.condition ? ` [${t.condition.name} ${JSON.stringify(t.condition.context ?? {})}]` : ""}`;

async function readAllTuples(): Promise<string[]> {
  const out: string[] = [];
  let token = "";
  for (let i = 0; i < 1000; i++) {
    const r = await call(server.url, "POST", `/stores/${storeId}/read`, { token: server.adminToken, body: { page_size: 100, ...(token ? { continuation_token: token } : {}) } });
    assert.equal(r.status, 200, r.text);
    out.push(...(r.json.tuples as Array<{ key: TupleKey }>).map((t) => tupleKey(t.key)));
    token = r.json.continuation_token;
    if (!token) return out.sort();
  }
  throw new Error("read does not end");
}

test(`fuzz: ${COUNT} random and mutated requests (seed ${SEED})`, async (t) => {
  t.diagnostic(`seed ${SEED} (reproduce with TENET_FUZZ_SEED=${SEED})`);
  const doc = (await call(server.url, "GET", "/openapi.json", { token: server.adminToken })).json as { paths: Record<string, Record<string, unknown>> };
  const routes: Route[] = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path })));
  routes.push({ method: "GET", path: "/healthz" }, { method: "GET", path: "/readyz" }, { method: "GET", path: "/openapi.json" });
  assert.ok(routes.length >= 30, `${routes.length} routes`);

  const tuplesBefore = await readAllTuples();
  const revisionBefore = await server.ds.revision(storeId);
  const modelsBefore = (await server.ds.listModels(storeId, { pageSize: 100 })).items.length;

  const g = new Gen(rng(SEED));
  const requests = Array.from({ length: COUNT }, () => makeRequest(g, routes, { storeId, modelId }, { admin: server.adminToken }));
  const violations = new Map<string, { count: number; example: string }>();
  const violation = (kind: string, req: FuzzRequest, detail: string) => {
    const key = `${kind}: ${req.label}`;
    const v = violations.get(key);
    if (v) v.count++;
    else violations.set(key, { count: 1, example: `${req.method} ${req.path.slice(0, 200)} body=${(req.body ?? "").slice(0, 300)} → ${detail.slice(0, 300)}` });
  };
  const acceptedWrites = new Map<number, FuzzRequest[]>();
  let acceptedModels = 0;
  const statuses = new Map<number, number>();

  const send = async (req: FuzzRequest) => {
    let res: { status: number; ok: boolean; headers: Record<string, string | string[] | undefined> };
    let text: string;
    const started = Date.now();
    try {
      // undici's request (not fetch): it also sends GET and DELETE with a body.
      const r = await request(server.url + req.path, {
        method: req.method as "GET",
        headers: req.headers,
        ...(req.body !== undefined ? { body: req.body } : {}),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      text = await r.body.text();
      res = { status: r.statusCode, ok: r.statusCode >= 200 && r.statusCode < 300, headers: r.headers };
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e.name === "TimeoutError" || e.name === "AbortError") violation("hang", req, `no answer within ${TIMEOUT_MS} ms`);
      // The server may refuse an oversized body and close the connection before reading it.
      else if (!req.label.endsWith("oversized")) violation("connection error", req, `${e.name} ${e.message} ${e.code ?? ""}`);
      return;
    }
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (res.status >= 500) violation(`HTTP ${res.status}`, req, text);
    if (res.status >= 400 && res.status < 500) {
      let body: { code?: unknown; message?: unknown } | undefined;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      if (!body || typeof body.code !== "string" || typeof body.message !== "string") violation(`HTTP ${res.status} without {code, message}`, req, text);
    }
    if (Date.now() - started > SLOW_MS) violation(`slow (> ${SLOW_MS} ms)`, req, `${Date.now() - started} ms, HTTP ${res.status} ${text}`);
    if (res.ok && req.method === "POST" && req.path.startsWith(`/stores/${storeId}/write`)) {
      const rev = Number(res.headers["tenet-consistency-token"]);
      acceptedWrites.set(rev, [...(acceptedWrites.get(rev) ?? []), req]);
    }
    if (res.ok && req.method === "POST" && req.path.startsWith(`/stores/${storeId}/authorization-models`)) acceptedModels++;
  };

  for (let i = 0; i < requests.length; i += CONCURRENCY) await Promise.all(requests.slice(i, i + CONCURRENCY).map(send));

  // Rejected writes left no trace: every change belongs to an accepted write of that revision.
  const changes = await server.ds.readChanges(storeId, revisionBefore, { limit: 1_000_000 });
  for (const c of changes) {
    const writes = acceptedWrites.get(c.revision);
    const inBody = writes?.some((w) => {
      const b = w.json as { writes?: { tuple_keys: TupleKey[] }; deletes?: { tuple_keys: TupleKey[] } };
      const list = c.operation === "write" ? b.writes?.tuple_keys : b.deletes?.tuple_keys;
      return list?.some((k) => k.object === c.key.object && k.relation === c.key.relation && k.user === c.key.user);
    });
    if (!inBody) violation("change without an accepted write", { method: "POST", path: `/stores/${storeId}/write`, headers: {}, label: `revision ${c.revision}` }, `${c.operation} ${tupleKey(c.key)}`);
  }
  // The tuples are the starting tuples with exactly those changes applied.
  const expected = new Map(tuplesBefore.map((k) => [k.replace(/ \[.*$/, ""), k]));
  for (const c of changes) {
    const k = tupleKey(c.key);
    if (c.operation === "write") expected.set(k.replace(/ \[.*$/, ""), k);
    else expected.delete(k.replace(/ \[.*$/, ""));
  }
  assert.deepEqual(await readAllTuples(), [...expected.values()].sort(), `seed ${SEED}: the tuples differ from the starting tuples plus the change log`);
  assert.equal((await server.ds.listModels(storeId, { pageSize: 100 })).items.length, modelsBefore + acceptedModels, `seed ${SEED}: models`);
  assert.ok(await server.ds.getStore(storeId), "the store under test still exists");

  t.diagnostic(`statuses: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(" ")}`);
  t.diagnostic(`accepted writes: ${[...acceptedWrites.values()].flat().length}, changes: ${changes.length}`);
  const report = [...violations].map(([k, v]) => `  ${v.count}× ${k}\n      e.g. ${v.example}`).join("\n");
  assert.equal(violations.size, 0, `seed ${SEED} (reproduce with TENET_FUZZ_SEED=${SEED}): ${violations.size} kinds of violation:\n${report}`);
  // The fuzzer reached the handlers, not only the validators, and changed the store.
  assert.ok((statuses.get(200) ?? 0) > COUNT / 20, `too few successful requests: ${JSON.stringify([...statuses])}`);
  assert.ok(changes.length > 0 && acceptedWrites.size > 0, "no write got through: the no-trace check above proved nothing");
});

test("malformed HTTP (raw socket) is answered 4xx with a {code, message} body, and the server keeps serving", async () => {
  const port = Number(new URL(server.url).port);
  const raw = (text: string) =>
    new Promise<string>((resolve) => {
      const sock = net.connect(port, "127.0.0.1");
      let out = "";
      sock.on("data", (d) => (out += d.toString("latin1")));
      sock.on("close", () => resolve(out));
      sock.on("error", () => resolve(out));
      sock.setTimeout(3000, () => sock.destroy());
      sock.write(text, "latin1");
    });
  const failures: string[] = [];
  for (const req of [
    `GET /stores/\u0001 HTTP/1.1\r\nHost: x\r\n\r\n`,
    `GET /stores/${"\u007f"} HTTP/1.1\r\nHost: x\r\n\r\n`,
    "NONSENSE\r\n\r\n",
    `POST /stores HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}{}{}`,
    `GET /healthz?x=${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
  ]) {
    const res = await raw(req);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(res)?.[1]);
    const body = res.slice(res.indexOf("\r\n\r\n") + 4);
    let json: { code?: unknown; message?: unknown } | undefined;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    if (!(status >= 400 && status < 500) || typeof json?.code !== "string" || typeof json.message !== "string") {
      failures.push(`${JSON.stringify(req.slice(0, 60))} → ${JSON.stringify(res.slice(0, 200))}`);
    }
  }
  assert.deepEqual(failures, [], "every malformed request gets a 4xx with a { code, message } body");
  assert.equal((await call(server.url, "GET", "/healthz")).status, 200);
});

test("a consistency token no write has issued is refused promptly, not after a wait", async () => {
  // A client cannot make the server poll storage for seconds (and then 503) by inventing a
  // token from the future: after refreshing from storage, a revision beyond the store's is
  // not "not yet caught up", it does not exist.
  const started = Date.now();
  const r = await call(server.url, "POST", `/stores/${storeId}/check`, {
    token: server.adminToken,
    body: { tuple_key: { object: "document:readme", relation: "viewer", user: "user:anne" }, consistency_token: "999999999" },
  });
  const ms = Date.now() - started;
  assert.ok(r.status < 500, `HTTP ${r.status} ${r.text} after ${ms} ms`);
  assert.ok(ms < 1000, `answered after ${ms} ms`);
});

test("deeply nested JSON (within the body limit) is a 4xx, never a 500", async () => {
  // 20,000 levels is 40 KB of JSON: well inside the body limit.
  const deep = "[".repeat(20_000) + "1" + "]".repeat(20_000);
  const check = `{"tuple_key":{"object":"document:fz2","relation":"viewer","user":"user:fz1"},"context":{"hour":${deep}}}`;
  const cases: Array<[string, string, string]> = [
    ["check context", `/stores/${storeId}/check`, check],
    ["list-objects context", `/stores/${storeId}/list-objects`, `{"type":"document","relation":"viewer","user":"user:fz1","context":{"x":${deep}}}`],
    ["AuthZEN evaluation context", `/stores/${storeId}/access/v1/evaluation`, `{"subject":{"type":"user","id":"fz1"},"resource":{"type":"document","id":"fz2"},"action":{"name":"viewer"},"context":{"x":${deep}}}`],
    ["model", `/stores/${storeId}/authorization-models`, JSON.stringify(DOCS_MODEL).replace('{"type":"user"}', `{"type":"user","metadata":${deep}}`)],
  ];
  const failures: string[] = [];
  for (const [what, path, body] of cases) {
    const r = await call(server.url, "POST", path, { token: server.adminToken, body });
    if (r.status >= 500 || r.status < 400) failures.push(`${what}: POST ${path} with ${body.length} bytes → ${r.status} ${r.text.slice(0, 120)}`);
    else assert.equal(typeof r.json?.code, "string");
  }
  assert.deepEqual(failures, []);
});
