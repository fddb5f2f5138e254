/**
 * Signed posture reports: accepted from the device's key, refused when the signature, type,
 * algorithm, issuer, time window or nonce is wrong, or the device is unknown or removed; a change
 * of compliance is announced once.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CompactSign } from "jose";
import { TenetError } from "../../../src/errors.js";
import { PosturePolicy } from "../../../src/identity/devices/posture-policy.js";
import { DeviceRegistry } from "../../../src/identity/devices/registry.js";
import { claimedDevice } from "../../../src/identity/devices/signature.js";
import type { Device } from "../../../src/identity/devices/types.js";
import { clock, deviceKey, posture, recordingEvents, report, sqliteStore, type TestDeviceKey, type TestStore } from "./helpers.js";

const refused = (code: string, message: RegExp) => (e: unknown) => e instanceof TenetError && e.code === code && message.test(e.message);

describe("posture reports", () => {
  let store: TestStore;
  const c = clock(Date.parse("2026-03-02T10:00:00Z"));
  before(async () => {
    store = await sqliteStore();
  });
  after(async () => {
    await store.close();
  });

  async function enrolled(alg: "ES256" | "EdDSA" = "ES256", registry?: DeviceRegistry): Promise<{ devices: DeviceRegistry; key: TestDeviceKey; device: Device; seen: ReturnType<typeof recordingEvents>["seen"] }> {
    const { events, seen } = recordingEvents();
    const devices = registry ?? new DeviceRegistry({ documents: store.ds, events, now: c.now });
    const key = await deviceKey(alg);
    const device = await devices.enroll({ userId: "anne", name: "laptop", publicKey: key.publicJwk });
    return { devices, key, device, seen };
  }

  for (const alg of ["ES256", "EdDSA"] as const) {
    it(`accepts a report signed with the device's ${alg} key and announces the change of compliance once`, async () => {
      const { devices, key, device, seen } = await enrolled(alg);
      const r = await devices.report(await report(key, device.id, posture({}, c.now()), { at: c.now() }), { deviceId: device.id });
      assert.deepEqual(r.compliance, { compliant: true, reasons: [] });
      assert.equal(r.changed, true);
      assert.equal(r.device.lastReportAt, new Date(c.now()).toISOString());
      assert.deepEqual(r.device.posture, posture({}, c.now()));
      assert.deepEqual(seen, [{ type: "device.compliance_changed", userId: "anne", deviceId: device.id, compliant: true, reasons: [] }]);
      // The same verdict again: no event.
      const again = await devices.report(await report(key, device.id, posture({}, c.now()), { at: c.now() }));
      assert.equal(again.changed, false);
      assert.equal(seen.length, 1);
      // Falling out of compliance: announced with the reasons.
      const off = await devices.report(await report(key, device.id, posture({ firewall: "off" }, c.now()), { at: c.now() }));
      assert.equal(off.changed, true);
      assert.deepEqual(seen[1], { type: "device.compliance_changed", userId: "anne", deviceId: device.id, compliant: false, reasons: ["firewall is off (required: on)"] });
      // Stored.
      assert.equal((await devices.get(device.id))?.compliance.compliant, false);
    });
  }

  it("refuses a report signed by another key", async () => {
    const { devices, device } = await enrolled();
    const thief = await deviceKey();
    await assert.rejects(devices.report(await report(thief, device.id, posture({}, c.now()), { at: c.now() })), refused("unauthenticated", /signature/));
    // An EdDSA key claiming an EC device: refused by the algorithm allow-list first.
    const ed = await deviceKey("EdDSA");
    await assert.rejects(devices.report(await report(ed, device.id, posture({}, c.now()), { at: c.now() })), refused("unauthenticated", /alg must be ES256/));
  });

  it("refuses a tampered payload and a stripped signature", async () => {
    const { devices, key, device } = await enrolled();
    const jws = await report(key, device.id, posture({ firewall: "off" }, c.now()), { at: c.now() });
    const [h, p, s] = jws.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString());
    claims.posture.firewall = "on";
    const tampered = `${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${s}`;
    await assert.rejects(devices.report(tampered), refused("unauthenticated", /signature/));
    await assert.rejects(devices.report(`${h}.${p}.`), refused("validation_error", /compact JWS/));
    // alg "none" (RFC 8725 §2.1): refused however it is spelt.
    const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "tenet-posture+jwt" })).toString("base64url")}.${p}.`;
    await assert.rejects(devices.report(none), refused("validation_error", /compact JWS/));
    const noneSig = `${Buffer.from(JSON.stringify({ alg: "none", typ: "tenet-posture+jwt" })).toString("base64url")}.${p}.${s}`;
    await assert.rejects(devices.report(noneSig), refused("unauthenticated", /alg must be/));
    // HS256 with the public key as the secret (the classic confusion attack).
    const hs = await new CompactSign(Buffer.from(p, "base64url"))
      .setProtectedHeader({ alg: "HS256", typ: "tenet-posture+jwt" })
      .sign(new TextEncoder().encode(JSON.stringify(device.publicKey)));
    await assert.rejects(devices.report(hs), refused("unauthenticated", /alg must be/));
  });

  it("refuses a report with another typ (a JWT of another kind signed by the same key)", async () => {
    const { devices, key, device } = await enrolled();
    for (const typ of ["JWT", "at+jwt", "tenet-posture"]) {
      await assert.rejects(devices.report(await report(key, device.id, posture({}, c.now()), { at: c.now(), typ })), refused("unauthenticated", /typ/), typ);
    }
    // typ is a media type: case does not matter.
    await devices.report(await report(key, device.id, posture({}, c.now()), { at: c.now(), typ: "Tenet-Posture+JWT" }));
  });

  it("refuses reports older than 5 minutes or more than 1 minute ahead", async () => {
    const { devices, key, device } = await enrolled();
    const nowS = Math.floor(c.now() / 1000);
    const p = posture({}, c.now() - 400_000);
    await assert.rejects(devices.report(await report(key, device.id, p, { iat: nowS - 301 })), refused("unauthenticated", /5 minutes ago/));
    await devices.report(await report(key, device.id, p, { iat: nowS - 299 }));
    await assert.rejects(devices.report(await report(key, device.id, posture({}, c.now()), { iat: nowS + 61 })), refused("unauthenticated", /future/));
    await devices.report(await report(key, device.id, posture({}, c.now()), { iat: nowS + 59 }));
    // Posture collected after the report was signed: the device clock is wrong.
    await assert.rejects(devices.report(await report(key, device.id, posture({}, c.now() + 10 * 60_000), { iat: nowS })), refused("validation_error", /collectedAt/));
  });

  it("refuses a replayed report, also between two registries (replicas) sharing the storage", async () => {
    const { devices, key, device } = await enrolled();
    const jws = await report(key, device.id, posture({}, c.now()), { at: c.now() });
    await devices.report(jws);
    await assert.rejects(devices.report(jws), refused("unauthenticated", /replay/));
    const replica = new DeviceRegistry({ documents: store.ds, now: c.now });
    await assert.rejects(replica.report(jws), refused("unauthenticated", /replay/));
    // The same report delivered to both at the same moment: exactly one accepts it.
    const twice = await report(key, device.id, posture({}, c.now()), { at: c.now() });
    const results = await Promise.allSettled([devices.report(twice), replica.report(twice)]);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1, JSON.stringify(results.map((r) => r.status)));
    // A new nonce is a new report.
    await devices.report(await report(key, device.id, posture({}, c.now()), { at: c.now() }));
  });

  it("forgets nonces once their reports could no longer be accepted anyway", async () => {
    const { devices, key, device } = await enrolled();
    const start = c.now();
    for (let i = 0; i < 5; i++) await devices.report(await report(key, device.id, posture({}, c.now()), { at: c.now(), jti: `nonce-number-${i}-xxxxxxxx` }));
    c.advance(10 * 60_000);
    try {
      // The old nonce can be used again only because a report signed now is a new report; an
      // old report with it is refused by its age.
      await devices.report(await report(key, device.id, posture({}, c.now()), { at: c.now(), jti: "nonce-number-0-xxxxxxxx" }));
      await assert.rejects(devices.report(await report(key, device.id, posture({}, start), { at: start, jti: "nonce-number-1-xxxxxxxx" })), refused("unauthenticated", /5 minutes ago/));
    } finally {
      c.set(start);
    }
  });

  it("keeps the newest posture when reports arrive out of order", async () => {
    const { devices, key, device } = await enrolled();
    const nowS = Math.floor(c.now() / 1000);
    const older = await report(key, device.id, posture({ firewall: "off" }, c.now() - 30_000), { iat: nowS - 30 });
    const newer = await report(key, device.id, posture({}, c.now()), { iat: nowS });
    await devices.report(newer);
    const r = await devices.report(older);
    assert.equal(r.compliance.compliant, true);
    assert.equal(r.device.posture?.firewall, "on");
    // Its nonce is spent all the same.
    await assert.rejects(devices.report(older), refused("unauthenticated", /replay/));
  });

  it("refuses reports of unknown devices and reports for another device than the URL's", async () => {
    const { devices, key, device } = await enrolled();
    const ghost = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    await assert.rejects(devices.report(await report(key, ghost, posture({}, c.now()), { at: c.now() })), refused("unauthenticated", /unknown device/));
    await assert.rejects(devices.report(await report(key, "not-a-ulid", posture({}, c.now()), { at: c.now() })), refused("unauthenticated", /unknown device/));
    await assert.rejects(devices.report(await report(key, device.id, posture({}, c.now()), { at: c.now() }), { deviceId: ghost }), refused("validation_error", /another device/));
  });

  it("refuses a report whose sub is not the device", async () => {
    const { devices, key, device } = await enrolled();
    const payload = { iss: device.id, sub: "someone-else", iat: Math.floor(c.now() / 1000), jti: "abcdefghijklmnopqrstuv", posture: posture({}, c.now()) };
    const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: "ES256", typ: "tenet-posture+jwt" }).sign(key.privateKey);
    await assert.rejects(devices.report(jws), refused("unauthenticated", /iss and sub/));
  });

  it("refuses malformed reports and bad posture with validation_error", async () => {
    const { devices, key, device } = await enrolled();
    const sign = (payload: unknown) => new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: "ES256", typ: "tenet-posture+jwt" }).sign(key.privateKey);
    const iat = Math.floor(c.now() / 1000);
    const good = { iss: device.id, sub: device.id, iat, jti: "abcdefghijklmnopqrstuv", posture: posture({}, c.now()) };
    const cases: Array<[unknown, RegExp]> = [
      ["", /compact JWS/],
      [42, /compact JWS/],
      ["a.b", /compact JWS/],
      ["a.b.c.d", /compact JWS/],
      ["a!.b.c", /compact JWS/],
      [`x.${Buffer.from("not json").toString("base64url")}.y`, /not JSON/],
      [`x.${Buffer.from("{}").toString("base64url")}.y`, /no iss/],
      ["x".repeat(20_000), /larger than/],
      [await sign({ ...good, posture: { ...good.posture, firewall: "maybe" } }), /posture\.firewall/],
      [await sign({ ...good, jti: "short" }), /jti/],
      [await sign({ ...good, iat: "now" }), /iat/],
      [await sign({ ...good, posture: undefined }), /posture/],
    ];
    for (const [jws, message] of cases) {
      await assert.rejects(devices.report(jws), refused("validation_error", message), String(jws).slice(0, 60));
    }
    // The report's iss is what is looked up; a header that names another key is not followed.
    assert.equal(claimedDevice(await sign(good)), device.id);
  });

  it("limits how many reports a device may send within the window", async () => {
    const { devices, key, device } = await enrolled();
    for (let i = 0; i < 60; i++) await devices.report(await report(key, device.id, posture({}, c.now()), { at: c.now() }));
    await assert.rejects(devices.report(await report(key, device.id, posture({}, c.now()), { at: c.now() })), refused("rate_limited", /reports/));
  });

  it("evaluates with the configured posture policy", async () => {
    const devices = new DeviceRegistry({ documents: store.ds, now: c.now, policy: new PosturePolicy({ require: ["screenLock"], requireManaged: true }) });
    const { key, device } = await enrolled("ES256", devices);
    const r = await devices.report(await report(key, device.id, posture({ screenLock: "unknown", managed: "unknown" }, c.now()), { at: c.now() }));
    assert.deepEqual(r.compliance.reasons, ["screenLock is unknown (required: on)", "the device is not known to be managed (required: managed)"]);
  });
});
