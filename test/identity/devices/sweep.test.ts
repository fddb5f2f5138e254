/**
 * The periodic sweep: posture that goes stale flips the stored verdict and is announced once,
 * a fresh report flips it back, and tombstones of removed devices are purged after retention.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PosturePolicy } from "../../../src/identity/devices/posture-policy.js";
import { DEVICES, DeviceRegistry } from "../../../src/identity/devices/registry.js";
import { clock, deviceKey, posture, recordingEvents, report, sqliteStore, type TestStore } from "./helpers.js";

const HOUR = 3600_000;

describe("DeviceRegistry.sweep", () => {
  let store: TestStore;
  before(async () => {
    store = await sqliteStore();
  });
  after(async () => {
    await store.close();
  });

  it("flips devices whose posture went stale to non-compliant, announcing each once", async () => {
    const c = clock(Date.parse("2026-03-02T10:00:00Z"));
    const { events, seen } = recordingEvents();
    const devices = new DeviceRegistry({ documents: store.ds, events, now: c.now, policy: new PosturePolicy({ maxAge: "1h" }) });
    const keyA = await deviceKey();
    const keyB = await deviceKey();
    const a = await devices.enroll({ userId: "anne", name: "a", publicKey: keyA.publicJwk });
    const b = await devices.enroll({ userId: "bob", name: "b", publicKey: keyB.publicJwk });
    await devices.report(await report(keyA, a.id, posture({}, c.now()), { at: c.now() }));
    c.advance(30 * 60_000);
    await devices.report(await report(keyB, b.id, posture({}, c.now()), { at: c.now() }));
    assert.equal(seen.length, 2);
    seen.length = 0;

    // Nothing stale yet.
    assert.deepEqual(await devices.sweep(), { checked: 2, changed: 0, purged: 0 });
    assert.equal(seen.length, 0);

    // 31 minutes later: a's posture is 61 minutes old, b's 31.
    c.advance(31 * 60_000);
    assert.deepEqual(await devices.sweep(), { checked: 2, changed: 1, purged: 0 });
    assert.equal(seen.length, 1);
    const e = seen[0]!;
    assert.equal(e.type, "device.compliance_changed");
    assert.ok(e.type === "device.compliance_changed");
    assert.deepEqual({ userId: e.userId, deviceId: e.deviceId, compliant: e.compliant }, { userId: "anne", deviceId: a.id, compliant: false });
    assert.match(e.reasons[0]!, /stale/);
    const stored = await devices.get(a.id);
    assert.equal(stored?.compliance.compliant, false);
    assert.equal(stored?.compliance.evaluatedAt, new Date(c.now()).toISOString());

    // Sweeping again changes nothing: announced once.
    assert.equal((await devices.sweep()).changed, 0);
    assert.equal(seen.length, 1);

    // A second replica's sweep sees the stored verdict: no duplicate event.
    const replica = new DeviceRegistry({ documents: store.ds, events, now: c.now, policy: new PosturePolicy({ maxAge: "1h" }) });
    assert.equal((await replica.sweep()).changed, 0);

    // A fresh report makes a compliant again (announced by the report).
    await devices.report(await report(keyA, a.id, posture({}, c.now()), { at: c.now() }));
    assert.equal(seen.length, 2);
    assert.ok(seen[1]!.type === "device.compliance_changed" && seen[1]!.compliant === true);

    // An hour and a minute on, both are stale.
    c.advance(HOUR + 60_000);
    const r = await devices.sweep();
    assert.equal(r.changed, 2);
    assert.deepEqual(seen.slice(2).map((x) => x.type === "device.compliance_changed" && [x.deviceId, x.compliant]).sort(), [[a.id, false], [b.id, false]].sort());
  });

  it("re-evaluates with the policy in force: a stricter policy flips compliant devices", async () => {
    const c = clock(Date.parse("2026-03-02T10:00:00Z"));
    const { events, seen } = recordingEvents();
    const lenient = new DeviceRegistry({ documents: store.ds, events, now: c.now });
    const key = await deviceKey();
    const d = await lenient.enroll({ userId: "carl", name: "c", publicKey: key.publicJwk });
    await lenient.report(await report(key, d.id, posture({ os: { name: "debian", version: "11" } }, c.now()), { at: c.now() }));
    seen.length = 0;
    const strict = new DeviceRegistry({ documents: store.ds, events, now: c.now, policy: new PosturePolicy({ minOsVersion: { debian: "12" } }) });
    await strict.sweep();
    const flipped = seen.filter((e) => e.type === "device.compliance_changed" && e.deviceId === d.id);
    assert.equal(flipped.length, 1);
    assert.ok(flipped[0]!.type === "device.compliance_changed" && /older than the minimum 12/.test(flipped[0]!.reasons.join()));
  });

  it("purges tombstones after the retention, and only then", async () => {
    const c = clock(Date.parse("2026-03-02T10:00:00Z"));
    const devices = new DeviceRegistry({ documents: store.ds, now: c.now, removedRetentionMs: 24 * HOUR });
    const key = await deviceKey();
    const d = await devices.enroll({ userId: "dana", name: "d", publicKey: key.publicJwk });
    await devices.remove(d.id);
    assert.ok(await store.ds.getDocument(DEVICES, d.id), "tombstone kept");
    assert.equal((await devices.sweep()).purged, 0);
    c.advance(25 * HOUR);
    assert.equal((await devices.sweep()).purged, 1);
    assert.equal(await store.ds.getDocument(DEVICES, d.id), undefined);
    // The key is free again, and a report from the purged device is from an unknown device.
    const again = await devices.enroll({ userId: "dana", name: "d2", publicKey: key.publicJwk });
    assert.notEqual(again.id, d.id);
    await assert.rejects(devices.report(await report(key, d.id, posture({}, c.now()), { at: c.now() })), /unknown device/);
  });

  it("runs on a timer once started, until stopped", async () => {
    const { events, seen } = recordingEvents();
    // Real time here: posture of 1 s max age goes stale while the timer runs.
    const devices = new DeviceRegistry({ documents: store.ds, events, policy: new PosturePolicy({ maxAge: 1000 }) });
    const key = await deviceKey();
    const d = await devices.enroll({ userId: "eve", name: "e", publicKey: key.publicJwk });
    await devices.report(await report(key, d.id, posture({}, Date.now())));
    seen.length = 0;
    devices.start({ sweepMs: 100 });
    try {
      const until = Date.now() + 5000;
      while (!seen.some((e) => e.type === "device.compliance_changed" && e.deviceId === d.id) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    } finally {
      devices.stop();
    }
    assert.ok(seen.some((e) => e.type === "device.compliance_changed" && e.deviceId === d.id && !e.compliant), "the timer's sweep announced it");
  });
});
