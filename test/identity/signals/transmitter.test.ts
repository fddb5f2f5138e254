import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { ACR } from "../../../src/identity/acr.js";
import { CAEP, SSF_VERIFICATION } from "../../../src/identity/signals/events.js";
import type { SetRecord } from "../../../src/identity/signals/outbox.js";
import { setup, sleep, startReceiver, until, type Fixture, type TestReceiver } from "./helpers.js";

describe("shared signals transmitter", () => {
  let f: Fixture | undefined;
  const receivers: TestReceiver[] = [];
  const rx = async (opts: Parameters<typeof startReceiver>[0]) => {
    const r = await startReceiver(opts);
    receivers.push(r);
    return r;
  };
  afterEach(async () => {
    await f?.close();
    f = undefined;
    for (const r of receivers.splice(0)) await r.close();
  });
  const record = async (receiverId: string, jti: string): Promise<SetRecord> => (await f!.transmitter.outbox.get(`${receiverId}:${jti}`))!;

  it("pushes each bus event as a signed CAEP SET the receiver verifies against the JWKS", async () => {
    f = await setup();
    const r = await rx({ jwks: f.signer.jwks, audience: "https://rp.example/caep" });
    const reg = await f.registry.create({ endpointUrl: r.url, audience: "https://rp.example/caep" });
    f.transmitter.start();

    await f.bus.emit({ type: "user.suspended", userId: "anne", reason: "left" });
    await f.bus.emit({ type: "credential.removed", userId: "anne", credential: "totp" });
    await f.bus.emit({ type: "device.compliance_changed", userId: "anne", deviceId: "D1", compliant: false, reasons: ["firewall off"] });
    await f.bus.emit({ type: "session.revoked", userId: "anne", sessionId: "S1", reason: "risk" });
    await f.bus.emit({ type: "session.assurance_changed", userId: "anne", sessionId: "S2", previous: ACR.phishingResistant, current: ACR.none });
    await f.bus.emit({ type: "risk.changed", userId: "anne", previous: "low", current: "high" });
    await f.bus.emit({ type: "user.reactivated", userId: "anne" }); // nothing to tell
    await until(() => r.got.length === 6, 5000, "six SETs");
    await until(async () => (await f!.transmitter.deliveries(reg.id, { status: "delivered" })).length === 6, 5000, "six recorded");

    const byType = new Map(r.got.map((g) => [Object.keys(g.claims.events!)[0]!, g]));
    assert.deepEqual([...byType.keys()].sort(), [CAEP.sessionRevoked, CAEP.credentialChange, CAEP.deviceComplianceChange, CAEP.assuranceLevelChange, CAEP.riskLevelChange].sort());
    assert.equal(r.got.filter((g) => g.claims.events![CAEP.sessionRevoked]).length, 2, "suspension and session revocation");
    for (const g of r.got) {
      assert.equal(g.headers["content-type"], "application/secevent+jwt");
      assert.equal(g.headers.accept, "application/json");
      assert.equal(g.headers.authorization, undefined);
      assert.equal(g.protectedHeader.typ, "secevent+jwt");
      assert.equal(g.protectedHeader.alg, "ES256");
      assert.equal(g.claims.iss, "https://tenet.test");
      assert.equal(g.claims.aud, "https://rp.example/caep");
      assert.match(g.claims.jti!, /^[0-9A-Z]{26}$/);
      assert.match(g.claims.txn!, /^[0-9A-Z]{26}$/);
      assert.equal(typeof g.claims.iat, "number");
      assert.equal(Object.keys(g.claims.events!).length, 1, "one event per SET");
    }
    assert.equal(new Set(r.got.map((g) => g.claims.jti)).size, 6);
    const device = byType.get(CAEP.deviceComplianceChange)!.claims;
    assert.deepEqual(device.sub_id, { format: "complex", user: { format: "iss_sub", iss: "https://tenet.test", sub: "anne" }, device: { format: "iss_sub", iss: "https://tenet.test", sub: "D1" } });
    assert.equal(device.events![CAEP.deviceComplianceChange]!.current_status, "not-compliant");
    const risk = byType.get(CAEP.riskLevelChange)!.claims.events![CAEP.riskLevelChange]!;
    assert.equal(risk.current_level, "HIGH");
    assert.equal(risk.principal, "USER");
    const cred = byType.get(CAEP.credentialChange)!.claims.events![CAEP.credentialChange]!;
    assert.deepEqual([cred.credential_type, cred.change_type], ["app", "delete"]);

    // Each SET is recorded as delivered after one attempt.
    const records = await f.transmitter.deliveries(reg.id);
    assert.equal(records.length, 6);
    for (const d of records) {
      assert.equal(d.status, "delivered");
      assert.equal(d.attempts, 1);
      assert.ok(d.deliveredAt);
    }
    assert.deepEqual(f.errors, []);
  });

  it("sends each receiver only the event types it asked for, with its own audience; one txn per cause", async () => {
    f = await setup();
    const a = await rx({ jwks: f.signer.jwks, audience: "aud-a" });
    const b = await rx({ jwks: f.signer.jwks, audience: "aud-b" });
    await f.registry.create({ endpointUrl: a.url, audience: "aud-a", events: [CAEP.riskLevelChange] });
    await f.registry.create({ endpointUrl: b.url, audience: "aud-b" });
    await f.registry.create({ endpointUrl: b.url, audience: "aud-b", status: "disabled" });
    f.transmitter.start();
    await f.bus.emit({ type: "session.revoked", userId: "anne", sessionId: "S1", reason: "logout" });
    await f.bus.emit({ type: "risk.changed", userId: "anne", previous: "medium", current: "critical" });
    await until(() => a.got.length === 1 && b.got.length === 2, 5000, "deliveries");
    await sleep(50);
    assert.equal(a.got.length, 1);
    assert.ok(a.got[0]!.claims.events![CAEP.riskLevelChange]);
    assert.equal(b.got.length, 2, "the disabled receiver (same URL) got nothing");
    const riskB = b.got.find((g) => g.claims.events![CAEP.riskLevelChange])!;
    assert.equal(riskB.claims.txn, a.got[0]!.claims.txn, "the same cause, the same txn");
    assert.notEqual(riskB.claims.jti, a.got[0]!.claims.jti, "but a SET of its own");
  });

  it("retries a receiver that fails twice: it gets the same SET (same jti) on the third attempt", async () => {
    f = await setup();
    const r = await rx({ jwks: f.signer.jwks, audience: "rp" });
    r.fail.next.push(503, 500);
    const reg = await f.registry.create({ endpointUrl: r.url, audience: "rp" });
    f.transmitter.start();
    await f.bus.emit({ type: "user.suspended", userId: "bob" });
    await until(() => r.got.length === 1, 5000, "the SET on retry");
    await until(async () => (await f!.transmitter.deliveries(reg.id))[0]!.status === "delivered", 5000, "recorded");
    assert.equal(r.requests.length, 3);
    assert.deepEqual(r.requests.map((q) => q.status), [503, 500, 202]);
    const jtis = new Set(r.requests.map((q) => JSON.parse(Buffer.from(q.body.split(".")[1]!, "base64url").toString()).jti));
    assert.equal(jtis.size, 1, "the same SET each time");
    const [d] = await f.transmitter.deliveries(reg.id);
    assert.equal(d!.status, "delivered");
    assert.equal(d!.attempts, 3);
  });

  it("dead-letters a receiver that always fails, after maxAttempts, and reports it", async () => {
    const dead: Array<{ record: SetRecord; receiver: { id: string; endpointUrl: string } }> = [];
    f = await setup({ onDead: (record, receiver) => dead.push({ record, receiver }) });
    const r = await rx({ jwks: f.signer.jwks, audience: "rp" });
    r.fail.always = 503;
    const reg = await f.registry.create({ endpointUrl: r.url, audience: "rp", authorizationHeader: "Bearer top-secret-token" });
    f.transmitter.start();
    await f.bus.emit({ type: "risk.changed", userId: "bob", previous: "low", current: "medium" });
    await until(() => dead.length === 1, 5000, "dead letter");
    assert.equal(r.requests.length, 3);
    const [d] = await f.transmitter.deliveries(reg.id, { status: "dead" });
    assert.equal(d!.attempts, 3);
    assert.equal(d!.lastError, "HTTP 503");
    assert.ok(d!.endedAt);
    assert.equal(dead[0]!.record.jti, d!.jti);
    assert.deepEqual(dead[0]!.receiver, { id: reg.id, endpointUrl: r.url });
    assert.ok(!JSON.stringify(dead).includes("top-secret-token"), "the secret is not in what is reported");
    await sleep(100);
    assert.equal(r.requests.length, 3, "nothing more after giving up");
    assert.deepEqual(await f.transmitter.outbox.pendingIds(reg.id), [], "no longer pending");
  });

  it("a SET the receiver rejects for good (400 invalid_audience) is dead at once; invalid_key is retried", async () => {
    f = await setup();
    const r = await rx({ jwks: f.signer.jwks, audience: "the-right-audience" });
    const wrong = await f.registry.create({ endpointUrl: r.url, audience: "a-wrong-audience" });
    await f.transmitter.publish({ type: "user.deleted", userId: "carl" });
    const report = await f.transmitter.deliverDue();
    assert.deepEqual(report, { attempted: 1, delivered: 0, failed: 0, dead: 1, discarded: 0 });
    const [d] = await f.transmitter.deliveries(wrong.id);
    assert.equal(d!.status, "dead");
    assert.match(d!.lastError!, /^HTTP 400 invalid_audience: /);

    // A receiver that does not know our key (yet) answers invalid_key: worth retrying.
    await f.registry.setStatus(wrong.id, "disabled");
    const other = await (await import("../../../src/identity/signals/set.js")).es256Signer("https://tenet.test", "other");
    const r2 = await rx({ jwks: other.jwks, audience: "rp2" });
    const reg2 = await f.registry.create({ endpointUrl: r2.url, audience: "rp2" });
    await f.transmitter.publish({ type: "user.deleted", userId: "dina" });
    const second = await f.transmitter.deliverDue();
    assert.equal(second.failed, 1);
    const [d2] = await f.transmitter.deliveries(reg2.id);
    assert.equal(d2!.status, "pending");
    assert.match(d2!.lastError!, /^HTTP 400 invalid_key/);
  });

  it("sends the receiver's authorization header; a wrong one is retried, not dropped", async () => {
    f = await setup();
    const r = await rx({ jwks: f.signer.jwks, audience: "rp", authorization: "Bearer let-me-in" });
    const good = await f.registry.create({ endpointUrl: r.url, audience: "rp", authorizationHeader: "Bearer let-me-in" });
    const bad = await f.registry.create({ endpointUrl: r.url, audience: "rp", authorizationHeader: "Bearer wrong" });
    await f.transmitter.publish({ type: "session.revoked", userId: "anne", sessionId: "S9", reason: "admin" });
    const report = await f.transmitter.deliverDue();
    assert.equal(report.delivered, 1);
    assert.equal(report.failed, 1);
    assert.equal(r.got.length, 1);
    assert.equal(r.got[0]!.headers.authorization, "Bearer let-me-in");
    assert.equal((await f.transmitter.deliveries(good.id))[0]!.status, "delivered");
    const [b] = await f.transmitter.deliveries(bad.id);
    assert.equal(b!.status, "pending");
    assert.match(b!.lastError!, /authentication_failed/);
    // Fixed by the admin: the next attempt goes through.
    await f.registry.update(bad.id, { authorizationHeader: "Bearer let-me-in" });
    await f.transmitter.deliverDue(Date.now() + 60_000);
    assert.equal((await f.transmitter.deliveries(bad.id))[0]!.status, "delivered");
  });

  it("a paused receiver gets nothing; its SETs wait and go out once it is enabled", async () => {
    f = await setup();
    const r = await rx({ jwks: f.signer.jwks, audience: "rp" });
    const reg = await f.registry.create({ endpointUrl: r.url, audience: "rp", status: "paused" });
    f.transmitter.start();
    await f.bus.emit({ type: "user.suspended", userId: "erin" });
    await sleep(150); // ~15 rounds
    assert.equal(r.requests.length, 0);
    const [held] = await f.transmitter.deliveries(reg.id);
    assert.equal(held!.status, "pending");
    assert.equal(held!.attempts, 0);
    await f.registry.setStatus(reg.id, "enabled");
    await until(() => r.got.length === 1, 5000, "held SET after enabling");
    await until(async () => (await record(reg.id, held!.jti)).status !== "pending", 5000, "recorded");
    assert.equal((await record(reg.id, held!.jti)).status, "delivered");
  });

  it("disabling a receiver discards its backlog; a disabled receiver gets no new SETs", async () => {
    f = await setup();
    const r = await rx({ jwks: f.signer.jwks, audience: "rp" });
    const reg = await f.registry.create({ endpointUrl: r.url, audience: "rp", status: "paused" });
    await f.transmitter.publish({ type: "user.suspended", userId: "finn" });
    await f.registry.setStatus(reg.id, "disabled", "decommissioned");
    assert.deepEqual(await f.transmitter.deliverDue(), { attempted: 0, delivered: 0, failed: 0, dead: 0, discarded: 1 });
    const [d] = await f.transmitter.deliveries(reg.id);
    assert.equal(d!.status, "discarded");
    assert.equal(d!.lastError, "receiver disabled");
    assert.deepEqual(await f.transmitter.publish({ type: "user.suspended", userId: "finn" }), []);
    assert.equal(r.requests.length, 0);
  });

  it("a timeout ends an attempt (AbortSignal) and counts as a failure", async () => {
    f = await setup({ timeoutMs: 200 });
    const r = await rx({ jwks: f.signer.jwks, audience: "rp" });
    r.fail.hang = true;
    const reg = await f.registry.create({ endpointUrl: r.url, audience: "rp" });
    await f.transmitter.publish({ type: "user.suspended", userId: "gus" });
    const t0 = Date.now();
    const report = await f.transmitter.deliverDue();
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(report.failed, 1);
    assert.match((await f.transmitter.deliveries(reg.id))[0]!.lastError!, /^timeout after 200 ms/);
  });

  it("the outbox survives a restart: a SET stored before the stop goes out after", async () => {
    f = await setup({ baseDelayMs: 200, maxDelayMs: 200 });
    const r = await rx({ jwks: f.signer.jwks, audience: "rp" });
    r.fail.always = 503;
    const reg = await f.registry.create({ endpointUrl: r.url, audience: "rp" });
    f.transmitter.start();
    const [stored] = await f.transmitter.publish({ type: "credential.added", userId: "hana", credential: "passkey" });
    await until(async () => (await record(reg.id, stored!.jti)).attempts === 1, 5000, "first attempt");
    await f.transmitter.stop();
    // A "crash": the process and its database connection go away; the receiver recovers.
    await f.reopen();
    r.fail.always = undefined;
    f.transmitter = f.newTransmitter();
    assert.equal((await record(reg.id, stored!.jti)).status, "pending");
    f.transmitter.start();
    await until(() => r.got.length === 1, 5000, "delivery after restart");
    await until(async () => (await record(reg.id, stored!.jti)).status !== "pending", 5000, "recorded");
    assert.equal(r.got[0]!.claims.jti, stored!.jti);
    const after = await record(reg.id, stored!.jti);
    assert.equal(after.status, "delivered");
    assert.equal(after.attempts, 2);
  });

  it("stored while stopped, sent on start; a deleted receiver's backlog is swept at start", async () => {
    f = await setup();
    const r = await rx({ jwks: f.signer.jwks, audience: "rp" });
    const kept = await f.registry.create({ endpointUrl: r.url, audience: "rp" });
    const gone = await f.registry.create({ endpointUrl: r.url, audience: "rp" });
    await f.transmitter.publish({ type: "user.suspended", userId: "ivan" });
    await f.registry.delete(gone.id);
    f.transmitter.start();
    await until(() => r.got.length === 1, 5000, "delivery on start");
    await until(async () => (await f!.transmitter.deliveries(kept.id))[0]!.status === "delivered", 5000, "recorded");
    await until(async () => (await f!.transmitter.deliveries(gone.id))[0]?.status === "discarded", 5000, "orphan swept");
    assert.equal((await f.transmitter.deliveries(kept.id))[0]!.status, "delivered");
    assert.equal((await f.transmitter.deliveries(gone.id))[0]!.lastError, "receiver deleted");
  });

  it("verification: an SSF verification event with the state, subject the stream", async () => {
    f = await setup();
    const r = await rx({ jwks: f.signer.jwks, audience: "rp" });
    const reg = await f.registry.create({ endpointUrl: r.url, audience: "rp", events: [CAEP.riskLevelChange] });
    f.transmitter.start();
    const rec = await f.transmitter.verify(reg.id, "c3RhdGU=");
    await until(() => r.got.length === 1, 5000, "verification SET");
    const c = r.got[0]!.claims;
    assert.equal(c.jti, rec.jti);
    assert.deepEqual(c.sub_id, { format: "opaque", id: reg.id });
    assert.deepEqual(c.events, { [SSF_VERIFICATION]: { state: "c3RhdGU=" } });
    assert.equal(c.txn, undefined);

    await f.transmitter.verify(reg.id);
    await until(() => r.got.length === 2, 5000, "verification without state");
    assert.deepEqual(r.got[1]!.claims.events, { [SSF_VERIFICATION]: {} });

    await assert.rejects(f.transmitter.verify(reg.id, "bad\nstate"), { code: "validation_error" });
    await assert.rejects(f.transmitter.verify("01J00000000000000000000000"), { code: "not_found" });
    await f.registry.setStatus(reg.id, "disabled");
    await assert.rejects(f.transmitter.verify(reg.id), { code: "conflict" });
  });

  it("two transmitters over one database send each SET once", async () => {
    f = await setup();
    const r = await rx({ jwks: f.signer.jwks, audience: "rp" });
    const reg = await f.registry.create({ endpointUrl: r.url, audience: "rp" });
    const other = f.newTransmitter();
    for (let i = 0; i < 10; i++) await f.transmitter.publish({ type: "session.revoked", userId: "u", sessionId: `S${i}`, reason: "x" });
    const [a, b] = await Promise.all([f.transmitter.deliverDue(), other.deliverDue()]);
    assert.equal(a.delivered + b.delivered, 10);
    assert.equal(r.requests.length, 10);
    assert.equal(new Set(r.got.map((g) => g.claims.jti)).size, 10);
    assert.equal((await f.transmitter.deliveries(reg.id, { status: "delivered" })).length, 10);
  });
});
