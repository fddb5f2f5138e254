import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { ApiAuthenticator } from "../../../src/api/auth/authenticator.js";
import { registerJitRoutes } from "../../../src/api/jit/routes.js";
import { buildServer } from "../../../src/api/server.js";
import { newApiKey, type Scope } from "../../../src/identity/api-keys/api-key.js";
import { Outbox } from "../../../src/policy/jit/outbox.js";
import { JitService } from "../../../src/policy/jit/service.js";
import { PolicyService } from "../../../src/policy/service.js";
import type { Datastore } from "../../../src/storage/interfaces.js";
import { openDatastore } from "../../../src/storage/open.js";
import { MODEL } from "../../policy/jit/helpers.js";

interface Res {
  status: number;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe("JIT HTTP API", () => {
  let dir: string;
  let ds: Datastore;
  let app: FastifyInstance;
  let url: string;
  let storeId: string;
  let writeToken: string;
  let readToken: string;
  let otherStoreToken: string;

  const key = async (scopes: Scope[], stores = ["*"]) => {
    const { token, record } = newApiKey({ name: "test", scopes, stores });
    await ds.createApiKey(record);
    return token;
  };
  const call = async (method: string, path: string, body?: unknown, token: string | null = writeToken): Promise<Res> => {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(url + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };
  const base = () => `/stores/${storeId}/jit`;
  const ask = (over: Record<string, unknown> = {}) => ({
    requester: "user:anne",
    resource: "doc:1",
    action: "editor",
    reason: "fix the runbook",
    duration: "1h",
    approvers: { users: ["user:bob"], groups: ["group:sre"] },
    ...over,
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tenet-jit-api-"));
    ds = await openDatastore({ dataDir: dir });
    const policy = new PolicyService(ds);
    const jit = new JitService({ documents: ds, policy, outbox: new Outbox(ds) });
    app = await buildServer({ policy, auth: new ApiAuthenticator(ds, null, 5000), logLevel: "silent", plugins: [(r) => registerJitRoutes(r, jit)] });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const addr = app.server.address();
    if (typeof addr !== "object" || addr === null) throw new Error("no address");
    url = `http://127.0.0.1:${addr.port}`;
    const store = await policy.createStore("jit-api");
    storeId = store.id;
    await policy.writeModel(storeId, MODEL);
    await policy.write(storeId, { writes: [{ object: "group:sre", relation: "member", user: "user:carol" }] });
    writeToken = await key(["write"]);
    readToken = await key(["read"]);
    otherStoreToken = await key(["write"], ["01HZZZZZZZZZZZZZZZZZZZZZZZ"]);
  });
  after(async () => {
    await app.close();
    await ds.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("happy path: request (idempotent), list, get, approve, revoke", async () => {
    const created = await call("POST", `${base()}/requests`, ask());
    assert.equal(created.status, 201);
    assert.equal(created.json.status, "pending");
    assert.deepEqual(created.json.approvers, ["user:bob", "user:carol"]);
    assert.equal(created.json.duration_seconds, 3600);
    assert.equal(created.json.history[0].action, "requested");
    const id = created.json.id as string;

    const again = await call("POST", `${base()}/requests`, ask());
    assert.equal(again.status, 200, "the open request is returned, not a new one");
    assert.equal(again.json.id, id);

    const list = await call("GET", `${base()}/requests?status=pending&approver=user:carol`, undefined, readToken);
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.requests.map((r: { id: string }) => r.id), [id]);
    assert.equal(list.json.continuation_token, "");

    const got = await call("GET", `${base()}/requests/${id}`, undefined, readToken);
    assert.equal(got.status, 200);
    assert.equal(got.json.requester, "user:anne");

    const self = await call("POST", `${base()}/requests/${id}/approve`, { approver: "user:anne", justification: "me" });
    assert.equal(self.status, 403);
    assert.equal(self.json.code, "forbidden");

    const ok = await call("POST", `${base()}/requests/${id}/approve`, { approver: "user:carol", justification: "on call" });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.status, "approved");
    assert.deepEqual(ok.json.grant.tuple, { written: true });
    assert.ok(Date.parse(ok.json.grant.expires_at) > Date.now());

    const late = await call("POST", `${base()}/requests/${id}/deny`, { approver: "user:bob", justification: "too late" });
    assert.equal(late.status, 409);
    assert.equal(late.json.code, "conflict");

    const rv = await call("POST", `${base()}/requests/${id}/revoke`, { actor: "user:bob", justification: "done" });
    assert.equal(rv.status, 200);
    assert.equal(rv.json.status, "revoked");
    assert.deepEqual(rv.json.history.map((h: { action: string }) => h.action), ["requested", "approved", "revoked"]);
  });

  it("break-glass, then review", async () => {
    const bg = await call("POST", `${base()}/break-glass`, { requester: "user:anne", resource: "doc:2", action: "editor", reason: "outage", duration: "15m" });
    assert.equal(bg.status, 201);
    assert.equal(bg.json.status, "break_glass");
    assert.deepEqual(bg.json.review, { required: true, status: "pending" });
    const rv = await call("POST", `${base()}/requests/${bg.json.id}/review`, { reviewer: "user:carol", outcome: "revoked", justification: "no outage" });
    assert.equal(rv.status, 200);
    assert.equal(rv.json.status, "revoked");
    assert.equal(rv.json.review.status, "revoked");
  });

  it("400 on bad input, with where it is wrong", async () => {
    const unknown = await call("POST", `${base()}/requests`, ask({ resource: "doc:3", admin: true }));
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json.code, "validation_error");
    assert.match(unknown.json.message, /admin/);
    const badDuration = await call("POST", `${base()}/requests`, ask({ resource: "doc:3", duration: "forever" }));
    assert.equal(badDuration.status, 400);
    assert.match(badDuration.json.message, /invalid duration 'forever'/);
    const tooLong = await call("POST", `${base()}/requests`, ask({ resource: "doc:3", duration: "3d" }));
    assert.equal(tooLong.status, 400);
    const noApprover = await call("POST", `${base()}/requests`, ask({ resource: "doc:3", approvers: { users: ["user:anne"] } }));
    assert.equal(noApprover.status, 400);
    assert.match(noApprover.json.message, /nobody other than the requester/);
    const badApproverField = await call("POST", `${base()}/requests`, ask({ resource: "doc:3", approvers: { everyone: true } }));
    assert.equal(badApproverField.status, 400);
    const badOutcome = await call("POST", `${base()}/requests/01HZZZZZZZZZZZZZZZZZZZZZZZ/review`, { reviewer: "user:carol", outcome: "maybe", justification: "x" });
    assert.equal(badOutcome.status, 400);
    const badStatus = await call("GET", `${base()}/requests?status=open`, undefined, readToken);
    assert.equal(badStatus.status, 400);
    const badId = await call("GET", `${base()}/requests/not-an-id`, undefined, readToken);
    assert.equal(badId.status, 400);
  });

  it("404 for an unknown id, and for a request of another store", async () => {
    const missing = await call("GET", `${base()}/requests/01HZZZZZZZZZZZZZZZZZZZZZZZ`, undefined, readToken);
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, "not_found");
    const approve = await call("POST", `${base()}/requests/01HZZZZZZZZZZZZZZZZZZZZZZZ/approve`, { approver: "user:bob", justification: "x" });
    assert.equal(approve.status, 404);

    const created = await call("POST", `${base()}/requests`, ask({ resource: "doc:4" }));
    const other = (await call("POST", "/stores", { name: "other" }, await key(["admin"]))).json.id as string;
    const cross = await call("GET", `/stores/${other}/jit/requests/${created.json.id}`, undefined, readToken);
    assert.equal(cross.status, 404);
  });

  it("401 without a key; 403 for a read-only key on approve and for another store's key", async () => {
    const noKey = await call("POST", `${base()}/requests`, ask({ resource: "doc:5" }), null);
    assert.equal(noKey.status, 401);
    const noKeyGet = await call("GET", `${base()}/requests`, undefined, null);
    assert.equal(noKeyGet.status, 401);
    const created = await call("POST", `${base()}/requests`, ask({ resource: "doc:5" }));
    const ro = await call("POST", `${base()}/requests/${created.json.id}/approve`, { approver: "user:bob", justification: "x" }, readToken);
    assert.equal(ro.status, 403);
    assert.equal(ro.json.code, "forbidden");
    const roCreate = await call("POST", `${base()}/break-glass`, { requester: "user:anne", resource: "doc:6", action: "editor", reason: "x", duration: "5m" }, readToken);
    assert.equal(roCreate.status, 403);
    const foreign = await call("GET", `${base()}/requests`, undefined, otherStoreToken);
    assert.equal(foreign.status, 403);
    assert.equal((await call("GET", `${base()}/requests/${created.json.id}`, undefined, readToken)).json.status, "pending", "nothing changed");
  });

  it("is described in the OpenAPI document", async () => {
    const doc = await call("GET", "/openapi.json", undefined, readToken);
    assert.equal(doc.status, 200);
    const create = doc.json.paths["/stores/{store_id}/jit/requests"].post;
    assert.ok(create.requestBody.content["application/json"].schema.properties.requester);
    assert.ok(doc.json.paths["/stores/{store_id}/jit/requests/{id}/approve"].post);
    assert.ok(doc.json.paths["/stores/{store_id}/jit/break-glass"].post);
  });

  it("pages the list", async () => {
    for (const r of ["doc:p1", "doc:p2", "doc:p3"]) assert.equal((await call("POST", `${base()}/requests`, ask({ resource: r, requester: "user:pat" }))).status, 201);
    const p1 = await call("GET", `${base()}/requests?requester=user:pat&page_size=2`, undefined, readToken);
    assert.equal(p1.json.requests.length, 2);
    assert.notEqual(p1.json.continuation_token, "");
    const p2 = await call("GET", `${base()}/requests?requester=user:pat&page_size=2&continuation_token=${p1.json.continuation_token}`, undefined, readToken);
    assert.deepEqual(p2.json.requests.map((r: { resource: string }) => r.resource), ["doc:p3"]);
  });
});
