/**
 * The devices API over a real server (buildServer with the devices plugin, SQLite storage, the
 * real API-key authenticator). The signed-in user comes from `userOf`, here a test header; admins
 * are API keys with the admin scope; devices authenticate reports with their own signatures.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { newApiKey, type Scope } from "../../../src/identity/api-keys/api-key.js";
import { DeviceRegistry } from "../../../src/identity/devices/registry.js";
import { deviceKey, posture, recordingEvents, report, sqliteStore, type TestStore } from "./helpers.js";
import { startDeviceServer, TEST_USER_HEADER } from "./server.js";

interface Res {
  status: number;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe("devices HTTP API", () => {
  let store: TestStore;
  let app: FastifyInstance;
  let url: string;
  let devices: DeviceRegistry;
  let adminToken: string;
  let adminKeyId: string;
  let writeToken: string;
  let storeAdminToken: string;
  const rec = recordingEvents();

  const key = async (scopes: Scope[], stores = ["*"]) => {
    const { token, record } = newApiKey({ name: "test", scopes, stores });
    await store.ds.createApiKey(record);
    return { token, id: record.id };
  };
  const call = async (method: string, path: string, opts: { user?: string; token?: string; body?: unknown } = {}): Promise<Res> => {
    const headers: Record<string, string> = {};
    if (opts.user) headers[TEST_USER_HEADER] = opts.user;
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(url + path, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}), signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };
  const enrol = async (user: string, name = "laptop") => {
    const k = await deviceKey();
    const r = await call("POST", "/identity/devices", { user, body: { name, publicKey: k.publicJwk, platform: "linux" } });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return { key: k, id: r.json.id as string };
  };

  before(async () => {
    store = await sqliteStore();
    devices = new DeviceRegistry({ documents: store.ds, events: rec.events });
    ({ app, url } = await startDeviceServer(store, devices));
    ({ token: adminToken, id: adminKeyId } = await key(["admin"]));
    writeToken = (await key(["write"])).token;
    storeAdminToken = (await key(["admin"], ["01HZZZZZZZZZZZZZZZZZZZZZZZ"])).token;
  });
  after(async () => {
    await app.close();
    await store.close();
  });

  describe("enrolment", () => {
    it("enrols a device for the signed-in user", async () => {
      const k = await deviceKey("EdDSA");
      const r = await call("POST", "/identity/devices", { user: "anne", body: { name: "anne's laptop", publicKey: { ...k.publicJwk, alg: "EdDSA", use: "sig", kid: "k1" } } });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      assert.equal(r.json.userId, "anne");
      assert.equal(r.json.name, "anne's laptop");
      assert.equal(r.json.alg, "EdDSA");
      assert.equal(r.json.enrolledBy, "user:anne");
      assert.equal(r.json.compliant, false);
      assert.deepEqual(r.json.reasons, ["no posture reported yet"]);
      assert.equal(r.json.publicKey, undefined, "the view names the key by thumbprint");
      assert.match(r.json.keyThumbprint, /^[A-Za-z0-9_-]{43}$/);
    });

    it("needs a signed-in user or an admin", async () => {
      const k = await deviceKey();
      const anonymous = await call("POST", "/identity/devices", { body: { name: "x", publicKey: k.publicJwk } });
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.json.code, "unauthenticated");
      const notAdmin = await call("POST", "/identity/devices", { token: writeToken, body: { name: "x", publicKey: k.publicJwk, userId: "anne" } });
      assert.equal(notAdmin.status, 403);
    });

    it("lets only admins enrol for another user", async () => {
      const k = await deviceKey();
      const asBob = await call("POST", "/identity/devices", { user: "bob", body: { name: "x", publicKey: k.publicJwk, userId: "anne" } });
      assert.equal(asBob.status, 403);
      assert.equal(asBob.json.code, "forbidden");
      const scoped = await call("POST", "/identity/devices", { token: storeAdminToken, body: { name: "x", publicKey: k.publicJwk, userId: "anne" } });
      assert.equal(scoped.status, 403, "an admin key limited to one store is no directory admin");
      const admin = await call("POST", "/identity/devices", { token: adminToken, body: { name: "kiosk", publicKey: k.publicJwk, userId: "carol" } });
      assert.equal(admin.status, 201, JSON.stringify(admin.json));
      assert.equal(admin.json.userId, "carol");
      assert.equal(admin.json.enrolledBy, `api_key:key:${adminKeyId}`);
      // A user naming themselves needs no admin.
      const self = await call("POST", "/identity/devices", { user: "bob", body: { name: "x", publicKey: (await deviceKey()).publicJwk, userId: "bob" } });
      assert.equal(self.status, 201);
      // An admin must say for whom.
      const nobody = await call("POST", "/identity/devices", { token: adminToken, body: { name: "x", publicKey: (await deviceKey()).publicJwk } });
      assert.equal(nobody.status, 400);
      assert.match(nobody.json.message, /userId is required/);
    });

    it("refuses bad bodies with 400 validation_error", async () => {
      const k = await deviceKey();
      const { exportJWK } = await import("jose");
      const priv = await exportJWK(k.privateKey);
      const bad: unknown[] = [
        {},
        { name: "x" },
        { name: "x", publicKey: priv },
        { name: "x", publicKey: { ...k.publicJwk, crv: "P-384" } },
        { name: "x", publicKey: { ...k.publicJwk, y: k.publicJwk.x } },
        { name: "x", publicKey: { kty: "RSA", n: "a", e: "AQAB" } },
        { name: "", publicKey: k.publicJwk },
        { name: "a\u0000b", publicKey: k.publicJwk },
        { name: "x".repeat(129), publicKey: k.publicJwk },
        { name: "x", publicKey: k.publicJwk, extra: true },
        { name: "x", publicKey: k.publicJwk, userId: "bad/id" },
        { name: 5, publicKey: k.publicJwk },
        [],
      ];
      for (const body of bad) {
        const r = await call("POST", "/identity/devices", { user: "anne", body });
        assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.json)}`);
        assert.equal(r.json.code, "validation_error");
      }
      const dup = await call("POST", "/identity/devices", { user: "anne", body: { name: "x", publicKey: k.publicJwk } });
      assert.equal(dup.status, 201);
      const again = await call("POST", "/identity/devices", { user: "dave", body: { name: "x", publicKey: k.publicJwk } });
      assert.equal(again.status, 409, "one key, one device");
    });
  });

  describe("posture", () => {
    it("accepts a signed report without any API credential and answers the verdict", async () => {
      const { key: k, id } = await enrol("erin");
      rec.seen.length = 0;
      const ok = await call("POST", `/identity/devices/${id}/posture`, { body: { report: await report(k, id, posture()) } });
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
      assert.deepEqual(ok.json, { compliant: true, reasons: [] });
      assert.deepEqual(rec.seen, [{ type: "device.compliance_changed", userId: "erin", deviceId: id, compliant: true, reasons: [] }]);
      const off = await call("POST", `/identity/devices/${id}/posture`, { body: { report: await report(k, id, posture({ diskEncryption: "unknown" })) } });
      assert.deepEqual(off.json, { compliant: false, reasons: ["diskEncryption is unknown (required: on)"] });
      const view = await call("GET", `/identity/devices/${id}`, { user: "erin" });
      assert.equal(view.json.posture.diskEncryption, "unknown");
      assert.equal(view.json.compliant, false);
      assert.ok(view.json.lastReportAt);
    });

    it("refuses replays, other keys, other devices' URLs, unknown devices and junk", async () => {
      const { key: k, id } = await enrol("fay");
      const { id: otherId } = await enrol("fay", "second");
      const jws = await report(k, id, posture());
      assert.equal((await call("POST", `/identity/devices/${id}/posture`, { body: { report: jws } })).status, 200);
      const replay = await call("POST", `/identity/devices/${id}/posture`, { body: { report: jws } });
      assert.equal(replay.status, 401);
      assert.match(replay.json.message, /replay/);
      const forged = await call("POST", `/identity/devices/${id}/posture`, { body: { report: await report(await deviceKey(), id, posture()) } });
      assert.equal(forged.status, 401);
      const elsewhere = await call("POST", `/identity/devices/${otherId}/posture`, { body: { report: await report(k, id, posture()) } });
      assert.equal(elsewhere.status, 400);
      const ghost = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
      const unknown = await call("POST", `/identity/devices/${ghost}/posture`, { body: { report: await report(k, ghost, posture()) } });
      assert.equal(unknown.status, 401);
      assert.match(unknown.json.message, /unknown device/);
      const old = await call("POST", `/identity/devices/${id}/posture`, { body: { report: await report(k, id, posture({}, Date.now() - 600_000), { at: Date.now() - 600_000 }) } });
      assert.equal(old.status, 401);
      for (const body of [{}, { report: "" }, { report: "a.b.c" }, { report: 5 }, { report: "x".repeat(17_000) }, { report: jws, extra: 1 }]) {
        const r = await call("POST", `/identity/devices/${id}/posture`, { body });
        assert.equal(r.status, 400, JSON.stringify(body).slice(0, 80));
      }
      assert.equal((await call("POST", "/identity/devices/not-a-ulid/posture", { body: { report: jws } })).status, 400);
    });
  });

  describe("reading and removing", () => {
    it("shows users their own devices only; admins any user's or all, in pages", async () => {
      const g1 = await enrol("gina", "g1");
      const g2 = await enrol("gina", "g2");
      const h1 = await enrol("hugo", "h1");
      const mine = await call("GET", "/identity/devices", { user: "gina" });
      assert.equal(mine.status, 200);
      assert.deepEqual(mine.json.devices.map((d: { id: string }) => d.id), [g1.id, g2.id]);
      assert.equal(mine.json.continuation_token, "");
      assert.equal((await call("GET", "/identity/devices?userId=gina", { user: "gina" })).status, 200);
      const peek = await call("GET", "/identity/devices?userId=hugo", { user: "gina" });
      assert.equal(peek.status, 403);
      assert.equal((await call("GET", "/identity/devices")).status, 401);
      assert.equal((await call("GET", "/identity/devices", { token: writeToken })).status, 403);

      const hugos = await call("GET", "/identity/devices?userId=hugo", { token: adminToken });
      assert.deepEqual(hugos.json.devices.map((d: { id: string }) => d.id), [h1.id]);
      const seen: string[] = [];
      let token = "";
      let pages = 0;
      do {
        const page = await call("GET", `/identity/devices?page_size=2${token ? `&continuation_token=${token}` : ""}`, { token: adminToken });
        assert.equal(page.status, 200, JSON.stringify(page.json));
        assert.ok(page.json.devices.length <= 2);
        seen.push(...page.json.devices.map((d: { id: string }) => d.id));
        token = page.json.continuation_token;
        pages++;
      } while (token !== "" && pages < 100);
      for (const id of [g1.id, g2.id, h1.id]) assert.ok(seen.includes(id));
      assert.ok(pages > 1);
      for (const q of ["page_size=0", "page_size=101", "continuation_token=nope", "userId=a/b", "other=1"]) {
        assert.equal((await call("GET", `/identity/devices?${q}`, { token: adminToken })).status, 400, q);
      }
    });

    it("reads one device: the owner and admins see it, anyone else gets 404", async () => {
      const { id } = await enrol("ivan");
      assert.equal((await call("GET", `/identity/devices/${id}`, { user: "ivan" })).json.id, id);
      assert.equal((await call("GET", `/identity/devices/${id}`, { token: adminToken })).json.userId, "ivan");
      // A signed-in admin sees others' devices through their admin credential.
      assert.equal((await call("GET", `/identity/devices/${id}`, { user: "root", token: adminToken })).status, 200);
      const other = await call("GET", `/identity/devices/${id}`, { user: "judy" });
      assert.equal(other.status, 404);
      assert.equal((await call("GET", `/identity/devices/${id}`, { user: "judy", token: writeToken })).status, 404);
      assert.equal((await call("GET", `/identity/devices/${id}`)).status, 401);
      assert.equal((await call("GET", "/identity/devices/01ARZ3NDEKTSV4RRFFQ69G5FAV", { user: "ivan" })).status, 404);
      assert.equal((await call("GET", "/identity/devices/junk", { user: "ivan" })).status, 400);
    });

    it("removes a device for its owner or an admin; its reports are refused afterwards", async () => {
      const mine = await enrol("kate");
      rec.seen.length = 0;
      assert.equal((await call("DELETE", `/identity/devices/${mine.id}`, { user: "leo" })).status, 404);
      assert.equal((await call("DELETE", `/identity/devices/${mine.id}`)).status, 401);
      assert.equal(rec.seen.length, 0);
      const del = await call("DELETE", `/identity/devices/${mine.id}`, { user: "kate" });
      assert.equal(del.status, 204);
      assert.deepEqual(rec.seen, [{ type: "device.removed", userId: "kate", deviceId: mine.id }]);
      assert.equal((await call("GET", `/identity/devices/${mine.id}`, { user: "kate" })).status, 404);
      assert.equal((await call("DELETE", `/identity/devices/${mine.id}`, { user: "kate" })).status, 404);
      const late = await call("POST", `/identity/devices/${mine.id}/posture`, { body: { report: await report(mine.key, mine.id, posture()) } });
      assert.equal(late.status, 401);
      assert.match(late.json.message, /removed/);

      const theirs = await enrol("mia");
      assert.equal((await call("DELETE", `/identity/devices/${theirs.id}`, { token: adminToken })).status, 204);
      assert.deepEqual((await call("GET", "/identity/devices", { user: "mia" })).json.devices, []);
    });

    it("documents the routes in the OpenAPI document", async () => {
      const doc = await call("GET", "/openapi.json", { token: adminToken });
      assert.equal(doc.status, 200);
      const paths = doc.json.paths;
      assert.ok(paths["/identity/devices"].post && paths["/identity/devices"].get);
      assert.ok(paths["/identity/devices/{id}"].get && paths["/identity/devices/{id}"].delete);
      assert.ok(paths["/identity/devices/{id}/posture"].post.requestBody);
      assert.equal(paths["/identity/devices/{id}/posture"].post.security, undefined, "the report is its own credential");
    });
  });
});
