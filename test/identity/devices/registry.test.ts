/**
 * The device registry over real datastores (SQLite; PostgreSQL when TENET_TEST_DATABASE_URL is
 * set): enrolment and its bad input, listing per user and for admins, removal and its event, and
 * the decision point's compliance lookup.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TenetError } from "../../../src/errors.js";
import { DeviceRegistry } from "../../../src/identity/devices/registry.js";
import { BACKENDS, clock, deviceKey, posture, recordingEvents, report, type TestStore } from "./helpers.js";

const isCode = (code: string) => (e: unknown) => e instanceof TenetError && e.code === code;

for (const backend of BACKENDS) {
  describe(`DeviceRegistry (${backend.name})`, backend.skip ? { skip: backend.skip } : {}, () => {
    let store: TestStore;
    before(async () => {
      store = await backend.open();
    });
    after(async () => {
      await store?.close();
    });

    it("enrols a device for a user and returns it with an id, key thumbprint and no verdict yet", async () => {
      const devices = new DeviceRegistry({ documents: store.ds });
      const key = await deviceKey();
      const d = await devices.enroll({ userId: "anne", name: "anne's laptop", publicKey: key.publicJwk, platform: "linux" });
      assert.match(d.id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
      assert.equal(d.userId, "anne");
      assert.equal(d.name, "anne's laptop");
      assert.equal(d.platform, "linux");
      assert.equal(d.alg, "ES256");
      assert.equal(d.enrolledBy, "user:anne");
      assert.deepEqual(Object.keys(d.publicKey).sort(), ["crv", "kty", "x", "y"]);
      assert.match(d.keyThumbprint, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(d.compliance.compliant, false);
      assert.deepEqual(d.compliance.reasons, ["no posture reported yet"]);
      assert.deepEqual(await devices.get(d.id), d);
      // Ed25519 keys too.
      const ed = await devices.enroll({ userId: "anne", name: "phone", publicKey: (await deviceKey("EdDSA")).publicJwk });
      assert.equal(ed.alg, "EdDSA");
      assert.deepEqual(Object.keys(ed.publicKey).sort(), ["crv", "kty", "x"]);
    });

    it("refuses bad enrolments with validation_error", async () => {
      const devices = new DeviceRegistry({ documents: store.ds });
      const ec = (await deviceKey()).publicJwk;
      const { privateKey } = await deviceKey();
      const { exportJWK } = await import("jose");
      const privateJwk = await exportJWK(privateKey);
      const bad: Array<[Record<string, unknown>, RegExp]> = [
        [{ userId: "anne", name: "x", publicKey: privateJwk }, /private key/],
        [{ userId: "anne", name: "x", publicKey: { kty: "RSA", n: "abc", e: "AQAB" } }, /EC P-256|Ed25519/],
        [{ userId: "anne", name: "x", publicKey: { ...ec, crv: "P-384" } }, /EC P-256/],
        [{ userId: "anne", name: "x", publicKey: { ...ec, x: "short" } }, /EC P-256/],
        // A point that is not on the curve (well-formed coordinates, wrong y).
        [{ userId: "anne", name: "x", publicKey: { ...ec, y: ec.x } }, /not a valid key/],
        [{ userId: "anne", name: "x", publicKey: "not a key" }, /JWK object/],
        [{ userId: "anne", name: "x", publicKey: null }, /JWK object/],
        [{ userId: "anne", name: "", publicKey: ec }, /name/],
        [{ userId: "anne", name: "tab\there", publicKey: ec }, /name/],
        [{ userId: "anne", publicKey: ec }, /name is required/],
        [{ userId: "user:anne", name: "x", publicKey: ec }, /userId/],
        [{ userId: "", name: "x", publicKey: ec }, /userId/],
        [{ userId: "anne", name: "x", publicKey: ec, platform: "x".repeat(33) }, /platform/],
      ];
      for (const [input, message] of bad) {
        await assert.rejects(devices.enroll(input as never), (e: unknown) => isCode("validation_error")(e) && message.test((e as Error).message), JSON.stringify(input));
      }
      assert.equal((await devices.listByUser("anne")).filter((d) => d.name === "x").length, 0, "nothing was enrolled");
    });

    it("binds a key to one device: enrolling the same key again is a conflict", async () => {
      const devices = new DeviceRegistry({ documents: store.ds });
      const key = await deviceKey();
      await devices.enroll({ userId: "bob", name: "one", publicKey: key.publicJwk });
      await assert.rejects(devices.enroll({ userId: "carol", name: "two", publicKey: { ...key.publicJwk, kid: "other" } }), isCode("conflict"));
      assert.deepEqual((await devices.listByUser("carol")).length, 0);
    });

    it("lists a user's devices, and every device for admins in pages", async () => {
      const devices = new DeviceRegistry({ documents: store.ds });
      const mine = [];
      for (const name of ["a", "b", "c"]) mine.push(await devices.enroll({ userId: "dora", name, publicKey: (await deviceKey()).publicJwk }));
      await devices.enroll({ userId: "dorothy", name: "not dora's", publicKey: (await deviceKey()).publicJwk });
      assert.deepEqual((await devices.listByUser("dora")).map((d) => d.name), ["a", "b", "c"]);
      // `dora/` is the prefix: dorothy's device is not dora's.
      assert.deepEqual((await devices.listByUser("dorothy")).map((d) => d.name), ["not dora's"]);
      assert.deepEqual(await devices.listByUser("nobody"), []);
      await assert.rejects(devices.listByUser("bad/id"), isCode("validation_error"));

      const all: string[] = [];
      let after: string | undefined;
      let pages = 0;
      do {
        const page = await devices.listAll({ after, limit: 2 });
        all.push(...page.items.map((d) => d.id));
        after = page.next;
        pages++;
      } while (after !== undefined && pages < 100);
      for (const d of mine) assert.ok(all.includes(d.id));
      assert.deepEqual(all, [...all].sort(), "id (enrolment) order");
      assert.equal(new Set(all).size, all.length);
      assert.ok(pages >= 3);
    });

    it("gets a device only for its owner when a userId is given", async () => {
      const devices = new DeviceRegistry({ documents: store.ds });
      const d = await devices.enroll({ userId: "erin", name: "e", publicKey: (await deviceKey()).publicJwk });
      assert.equal((await devices.get(d.id, { userId: "erin" }))?.id, d.id);
      assert.equal(await devices.get(d.id, { userId: "frank" }), undefined);
      assert.equal(await devices.get("not-a-ulid"), undefined);
      assert.equal(await devices.get("01ARZ3NDEKTSV4RRFFQ69G5FAV"), undefined);
    });

    it("removes a device: gone from reads and lists, its key stays bound, device.removed announced", async () => {
      const { events, seen } = recordingEvents();
      const devices = new DeviceRegistry({ documents: store.ds, events });
      const key = await deviceKey();
      const d = await devices.enroll({ userId: "gus", name: "g", publicKey: key.publicJwk });
      await assert.rejects(devices.remove(d.id, { userId: "someone-else" }), isCode("not_found"));
      assert.equal(seen.length, 0);
      const removed = await devices.remove(d.id, { userId: "gus", by: "user:gus" });
      assert.equal(removed.id, d.id);
      assert.deepEqual(seen, [{ type: "device.removed", userId: "gus", deviceId: d.id }]);
      assert.equal(await devices.get(d.id), undefined);
      assert.deepEqual(await devices.listByUser("gus"), []);
      assert.ok(!(await devices.listAll({ limit: 1000 })).items.some((x) => x.id === d.id));
      await assert.rejects(devices.remove(d.id), isCode("not_found"), "removing twice");
      await assert.rejects(devices.enroll({ userId: "gus", name: "again", publicKey: key.publicJwk }), isCode("conflict"));
      // Its reports are refused.
      await assert.rejects(devices.report(await report(key, d.id, posture())), (e: unknown) => isCode("unauthenticated")(e) && /removed/.test((e as Error).message));
    });

    it("removes every device of a user", async () => {
      const { events, seen } = recordingEvents();
      const devices = new DeviceRegistry({ documents: store.ds, events });
      for (const n of ["1", "2"]) await devices.enroll({ userId: "hank", name: n, publicKey: (await deviceKey()).publicJwk });
      assert.equal(await devices.removeAllOf("hank", "system:user.deleted"), 2);
      assert.deepEqual(await devices.listByUser("hank"), []);
      assert.equal(seen.filter((e) => e.type === "device.removed").length, 2);
    });

    it("limits the devices per user", async () => {
      const devices = new DeviceRegistry({ documents: store.ds, maxDevicesPerUser: 2 });
      await devices.enroll({ userId: "ivy", name: "1", publicKey: (await deviceKey()).publicJwk });
      const second = await devices.enroll({ userId: "ivy", name: "2", publicKey: (await deviceKey()).publicJwk });
      await assert.rejects(devices.enroll({ userId: "ivy", name: "3", publicKey: (await deviceKey()).publicJwk }), isCode("conflict"));
      await devices.remove(second.id);
      await devices.enroll({ userId: "ivy", name: "3", publicKey: (await deviceKey()).publicJwk });
    });

    it("refuses unknown and suspended users when given the directory", async () => {
      const users = new Map([["jo", { status: "active" }], ["kim", { status: "suspended" }]]);
      const devices = new DeviceRegistry({ documents: store.ds, users: { getUser: async (id) => users.get(id) } });
      await devices.enroll({ userId: "jo", name: "ok", publicKey: (await deviceKey()).publicJwk });
      await assert.rejects(devices.enroll({ userId: "kim", name: "no", publicKey: (await deviceKey()).publicJwk }), isCode("forbidden"));
      await assert.rejects(devices.enroll({ userId: "lee", name: "no", publicKey: (await deviceKey()).publicJwk }), isCode("not_found"));
    });

    it("answers complianceOf from memory once read, evaluated afresh each time", async () => {
      const c = clock(Date.now());
      const devices = new DeviceRegistry({ documents: store.ds, now: c.now, cacheMs: 60_000 });
      const key = await deviceKey();
      const d = await devices.enroll({ userId: "max", name: "m", publicKey: key.publicJwk });
      // Just enrolled: cached, synchronous, not compliant yet.
      const first = devices.complianceOf(d.id);
      assert.ok(!(first instanceof Promise));
      assert.deepEqual(first, { deviceId: d.id, userId: "max", compliant: false, reasons: ["no posture reported yet"], lastReportAt: undefined });
      await devices.report(await report(key, d.id, posture({}, c.now()), { at: c.now() }));
      const now = devices.complianceOf(d.id);
      assert.ok(!(now instanceof Promise));
      assert.equal(now?.compliant, true);
      assert.equal(now?.lastReportAt, new Date(c.now()).toISOString());
      // 25 hours on, without any write: stale, at once.
      c.advance(25 * 3600_000);
      const later = await devices.complianceOf(d.id);
      assert.equal(later?.compliant, false);
      assert.match(later!.reasons[0]!, /stale/);
      // Another registry (a second replica) reads it from storage.
      const other = new DeviceRegistry({ documents: store.ds, now: c.now });
      const fromStorage = other.complianceOf(d.id);
      assert.ok(fromStorage instanceof Promise);
      assert.equal((await fromStorage)?.userId, "max");
      // Unknown and removed devices: undefined.
      assert.equal(await devices.complianceOf("01ARZ3NDEKTSV4RRFFQ69G5FAV"), undefined);
      assert.equal(await devices.complianceOf("junk"), undefined);
      await devices.remove(d.id);
      assert.equal(await devices.complianceOf(d.id), undefined);
    });
  });
}
