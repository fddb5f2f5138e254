import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { ApiAuthenticator } from "../../../src/api/auth/authenticator.js";
import { buildServer } from "../../../src/api/server.js";
import { registerSignalRoutes } from "../../../src/api/signals/routes.js";
import { MasterKey } from "../../../src/crypto/master-key.js";
import { newApiKey, type Scope } from "../../../src/identity/api-keys/api-key.js";
import { IdentityEvents } from "../../../src/identity/events.js";
import { CAEP, SSF_VERIFICATION } from "../../../src/identity/signals/events.js";
import { ReceiverRegistry } from "../../../src/identity/signals/receivers.js";
import { es256Signer } from "../../../src/identity/signals/set.js";
import { Transmitter } from "../../../src/identity/signals/transmitter.js";
import { PolicyService } from "../../../src/policy/service.js";
import type { Datastore } from "../../../src/storage/interfaces.js";
import { openDatastore } from "../../../src/storage/open.js";
import { ISSUER, startReceiver, until, type TestReceiver } from "./helpers.js";

interface Res {
  status: number;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const SECRET = "Bearer route-secret-0123456789";
const BASE = "/identity/signals/receivers";

describe("Shared Signals receivers HTTP API", () => {
  let dir: string;
  let ds: Datastore;
  let app: FastifyInstance;
  let url: string;
  let transmitter: Transmitter;
  let rx: TestReceiver;
  let admin: string;
  let writer: string;

  const key = async (scopes: Scope[]) => {
    const { token, record } = newApiKey({ name: "test", scopes, stores: ["*"] });
    await ds.createApiKey(record);
    return token;
  };
  const call = async (method: string, path: string, body?: unknown, token: string | null = admin): Promise<Res> => {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(url + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    return { status: res.status, text, json: text ? JSON.parse(text) : undefined };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tenet-ssf-api-"));
    ds = await openDatastore({ dataDir: dir });
    const signer = await es256Signer(ISSUER);
    const receivers = new ReceiverRegistry({ documents: ds, sealer: MasterKey.generate().key, allowInsecure: true });
    transmitter = new Transmitter({ receivers, documents: ds, signer, events: new IdentityEvents(), intervalMs: 10, baseDelayMs: 20 });
    transmitter.start();
    rx = await startReceiver({ jwks: signer.jwks, audience: "urn:rp:test", authorization: SECRET });
    const policy = new PolicyService(ds);
    app = await buildServer({ policy, auth: new ApiAuthenticator(ds, null, 5000), logLevel: "silent", plugins: [(r) => registerSignalRoutes(r, { receivers, transmitter })] });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const addr = app.server.address();
    if (typeof addr !== "object" || addr === null) throw new Error("no address");
    url = `http://127.0.0.1:${addr.port}`;
    admin = await key(["admin"]);
    writer = await key(["write"]);
  });
  after(async () => {
    await transmitter.stop();
    await app.close();
    await rx.close();
    await ds.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("registers, lists, reads, verifies and deletes a receiver; the secret never comes back", async () => {
    const created = await call("POST", BASE, { endpoint_url: rx.url, audience: "urn:rp:test", authorization_header: SECRET, description: "test RP" });
    assert.equal(created.status, 201);
    assert.equal(created.json.endpoint_url, rx.url);
    assert.equal(created.json.delivery_method, "urn:ietf:rfc:8935");
    assert.equal(created.json.audience, "urn:rp:test");
    assert.equal(created.json.status, "enabled");
    assert.equal(created.json.authorization_header_set, true);
    assert.equal(created.json.authorization_header, undefined);
    assert.ok(created.json.events_requested.includes(CAEP.sessionRevoked));
    const id = created.json.id as string;

    const list = await call("GET", BASE);
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.receivers.map((r: { id: string }) => r.id), [id]);
    assert.equal(list.json.continuation_token, "");
    const got = await call("GET", `${BASE}/${id}`);
    assert.equal(got.status, 200);
    assert.equal(got.json.description, "test RP");
    for (const r of [created, list, got]) assert.ok(!r.text.includes("route-secret"), "no secret in any response");

    const verify = await call("POST", `${BASE}/${id}/verify`, { state: "abc123" });
    assert.equal(verify.status, 202);
    assert.match(verify.json.jti, /^[0-9A-Z]{26}$/);
    await until(() => rx.got.length === 1, 5000, "verification SET");
    assert.deepEqual(rx.got[0]!.claims.events, { [SSF_VERIFICATION]: { state: "abc123" } });
    assert.equal(rx.got[0]!.headers.authorization, SECRET, "the receiver got its header");
    await until(async () => (await call("GET", `${BASE}/${id}/deliveries?status=delivered`)).json.deliveries.length === 1, 5000, "delivered record");
    const deliveries = await call("GET", `${BASE}/${id}/deliveries`);
    assert.equal(deliveries.json.deliveries[0].jti, verify.json.jti);
    assert.equal(deliveries.json.deliveries[0].event_type, SSF_VERIFICATION);
    assert.equal(deliveries.json.deliveries[0].attempts, 1);
    assert.ok(!deliveries.text.includes("route-secret"));

    const paused = await call("POST", `${BASE}/${id}/status`, { status: "paused", reason: "maintenance" });
    assert.equal(paused.status, 200);
    assert.equal(paused.json.status, "paused");
    assert.equal(paused.json.status_reason, "maintenance");

    const del = await call("DELETE", `${BASE}/${id}`);
    assert.equal(del.status, 204);
    assert.equal((await call("GET", `${BASE}/${id}`)).status, 404);
    assert.equal((await call("DELETE", `${BASE}/${id}`)).status, 404);
    assert.equal((await call("POST", `${BASE}/${id}/verify`, {})).status, 404);
  });

  it("refuses bad input with 400 validation_error", async () => {
    const bad = async (body: unknown, pattern: RegExp) => {
      const res = await call("POST", BASE, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.json.code, "validation_error");
      assert.match(res.json.message, pattern);
    };
    await bad({ endpoint_url: "http://rp.example/events" }, /https/);
    await bad({ endpoint_url: "not a url" }, /not a URL/);
    await bad({ endpoint_url: "ftp://rp.example/e" }, /not 'ftp'/);
    await bad({ endpoint_url: "https://user:pw@rp.example/e" }, /credentials/);
    await bad({}, /endpoint_url/);
    await bad({ endpoint_url: "https://rp.example/e", events_requested: ["urn:nope"] }, /not an event type Tenet sends/);
    await bad({ endpoint_url: "https://rp.example/e", events_requested: [] }, /events_requested/);
    await bad({ endpoint_url: "https://rp.example/e", authorization_header: "Bearer x\r\nHost: evil" }, /control characters/);
    await bad({ endpoint_url: "https://rp.example/e", status: "running" }, /status/);
    await bad({ endpoint_url: "https://rp.example/e", secret: "x" }, /secret/);
    const badId = await call("GET", `${BASE}/not-an-id`);
    assert.equal(badId.status, 400);
    assert.equal(badId.json.code, "validation_error");
    const badState = await call("POST", `${BASE}/01J00000000000000000000000/verify`, { state: "a\u0000b" });
    assert.equal(badState.status, 400);
    const badStatus = await call("POST", `${BASE}/01J00000000000000000000000/status`, { status: "gone" });
    assert.equal(badStatus.status, 400);
    assert.equal((await call("GET", `${BASE}?page_size=0`)).status, 400);
    assert.equal((await call("GET", BASE)).json.receivers.length, 0, "nothing was created");
  });

  it("is described in the OpenAPI document", async () => {
    const doc = await call("GET", "/openapi.json");
    assert.equal(doc.status, 200);
    const paths = Object.keys(doc.json.paths);
    for (const p of ["/identity/signals/receivers", "/identity/signals/receivers/{id}", "/identity/signals/receivers/{id}/verify", "/identity/signals/receivers/{id}/status", "/identity/signals/receivers/{id}/deliveries"]) {
      assert.ok(paths.includes(p), `${p} in ${paths.filter((x) => x.includes("signals")).join(", ")}`);
    }
  });

  it("needs an admin credential", async () => {
    assert.equal((await call("GET", BASE, undefined, null)).status, 401);
    const w = await call("POST", BASE, { endpoint_url: "https://rp.example/e" }, writer);
    assert.equal(w.status, 403);
    assert.equal((await call("GET", BASE, undefined, writer)).status, 403);
  });

  it("disabling through the API drops the backlog; a disabled receiver cannot be verified", async () => {
    const created = await call("POST", BASE, { endpoint_url: "https://unreachable.invalid/e", status: "paused" });
    assert.equal(created.status, 201);
    const id = created.json.id as string;
    const v = await call("POST", `${BASE}/${id}/verify`, {});
    assert.equal(v.status, 202, "a paused receiver's verification waits");
    const disabled = await call("POST", `${BASE}/${id}/status`, { status: "disabled" });
    assert.equal(disabled.status, 200);
    const d = await call("GET", `${BASE}/${id}/deliveries`);
    assert.equal(d.json.deliveries[0].status, "discarded");
    const again = await call("POST", `${BASE}/${id}/verify`, {});
    assert.equal(again.status, 409);
    assert.equal(again.json.code, "conflict");
    assert.equal((await call("DELETE", `${BASE}/${id}`)).status, 204);
  });
});
