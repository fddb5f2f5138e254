/**
 * TOTP over a real SQLite datastore, with codes made by otplib itself at chosen times (the
 * authenticator app's side), and a clock the test moves (the server's side).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, beforeEach, describe, it } from "node:test";
import { generate } from "otplib";
import { MasterKey } from "../../../src/crypto/master-key.js";
import { KeyError } from "../../../src/crypto/errors.js";
import { TenetError } from "../../../src/errors.js";
import { TOTP_COLLECTION, TotpFactors } from "../../../src/identity/factors/totp.js";
import { setup, T0, type Fixture } from "./helpers.js";

/** What the user's app shows at `ms` (server-independent). */
const codeAt = (secret: string, ms: number) => generate({ secret, epoch: Math.floor(ms / 1000) });
const STEP = 30_000;

describe("TOTP factor", () => {
  let f: Fixture;
  let totp: TotpFactors;
  const open: Fixture[] = [];

  beforeEach(async () => {
    f = await setup("totp");
    open.push(f);
    totp = new TotpFactors({ documents: f.documents, masterKey: f.masterKey, events: f.events, now: f.now });
  });
  after(async () => {
    for (const x of open) await x.close();
  });

  /** Enrols alice at T0 (confirming with the code of T0's step); returns the secret. */
  async function enrolled(userId = "alice"): Promise<string> {
    const { secret } = await totp.beginEnrollment(userId, `${userId}@example.com`);
    assert.equal(await totp.confirmEnrollment(userId, await codeAt(secret, f.clock.now)), true);
    return secret;
  }

  it("enrols in two steps: begin gives a base32 secret and an otpauth URI; only a right code confirms", async () => {
    const e = await totp.beginEnrollment("alice", "alice@example.com");
    assert.match(e.secret, /^[A-Z2-7]{32}$/, "160 bits of base32");
    const uri = new URL(e.otpauthUri);
    assert.equal(uri.protocol, "otpauth:");
    assert.ok(e.otpauthUri.startsWith("otpauth://totp/Tenet:alice%40example.com?"), e.otpauthUri);
    assert.equal(uri.searchParams.get("secret"), e.secret);
    assert.equal(uri.searchParams.get("issuer"), "Tenet");
    assert.equal(e.expiresAt.getTime(), T0 + 10 * 60_000);

    assert.equal(await totp.isEnrolled("alice"), false, "pending is not enrolled");
    assert.deepEqual(await totp.check("alice", await codeAt(e.secret, T0)), { valid: false, reason: "not_enrolled" });

    const right = await codeAt(e.secret, T0);
    const wrong = right === "000000" ? "000001" : "000000";
    assert.equal(await totp.confirmEnrollment("alice", wrong), false);
    assert.equal(await totp.isEnrolled("alice"), false);
    assert.equal(f.emitted.length, 0);

    assert.equal(await totp.confirmEnrollment("alice", right), true);
    assert.equal(await totp.isEnrolled("alice"), true);
    assert.deepEqual(f.emitted, [{ type: "credential.added", userId: "alice", credential: "totp" }]);

    // The code that confirmed cannot then sign in (same step): RFC 6238 §5.2.
    assert.deepEqual(await totp.check("alice", right), { valid: false, reason: "replay" });
    // Nor confirm again: the enrolment is no longer pending.
    await assert.rejects(totp.confirmEnrollment("alice", right), (e: unknown) => e instanceof TenetError && e.code === "not_found");
  });

  it("verifies the current step's code once, and refuses it the second time", async () => {
    const secret = await enrolled();
    f.clock.now += STEP;
    const code = await codeAt(secret, f.clock.now);
    assert.equal(await totp.verify("alice", code), true);
    assert.deepEqual(await totp.check("alice", code), { valid: false, reason: "replay" });
    assert.equal(await totp.verify("alice", code), false);
    f.clock.now += STEP;
    assert.deepEqual(await totp.check("alice", await codeAt(secret, f.clock.now)), { valid: true, delta: 0 });
  });

  it("accepts one step of clock skew either way and refuses two; never a step at or below the last accepted", async () => {
    const secret = await enrolled();
    f.clock.now = T0 + 10 * STEP; // the server is at step S+10
    assert.deepEqual(await totp.check("alice", await codeAt(secret, f.clock.now - STEP)), { valid: true, delta: -1 }, "app one step behind");
    assert.deepEqual(await totp.check("alice", await codeAt(secret, f.clock.now + STEP)), { valid: true, delta: 1 }, "app one step ahead");
    // S+11 was accepted: the current step S+10 is now at or below the last accepted one.
    assert.deepEqual(await totp.check("alice", await codeAt(secret, f.clock.now)), { valid: false, reason: "replay" });
    assert.deepEqual(await totp.check("alice", await codeAt(secret, f.clock.now + 2 * STEP)), { valid: false, reason: "wrong_code" }, "two steps ahead");
    assert.deepEqual(await totp.check("alice", await codeAt(secret, f.clock.now - 2 * STEP)), { valid: false, reason: "wrong_code" }, "two steps behind");

    // Fresh account state: two steps behind is refused even with nothing accepted in between.
    f.clock.now = T0 + 100 * STEP;
    assert.equal(await totp.verify("alice", await codeAt(secret, f.clock.now - 2 * STEP)), false);
    assert.equal(await totp.verify("alice", await codeAt(secret, f.clock.now + 2 * STEP)), false);
    assert.equal(await totp.verify("alice", await codeAt(secret, f.clock.now)), true);
  });

  it("of concurrent uses of one code, exactly one succeeds", async () => {
    const secret = await enrolled();
    f.clock.now += STEP;
    const code = await codeAt(secret, f.clock.now);
    const results = await Promise.all(Array.from({ length: 6 }, () => totp.check("alice", code)));
    assert.equal(results.filter((r) => r.valid).length, 1);
    assert.ok(results.filter((r) => !r.valid).every((r) => !r.valid && r.reason === "replay"));
  });

  it("refuses anything but six ASCII digits without touching storage", async () => {
    await enrolled();
    const before = f.calls.count;
    for (const bad of ["", "12345", "1234567", "12a456", " 123456", "123456 ", "123 456", "１２３４５６", "-12345", "12345\n", null, undefined, 123456]) {
      assert.deepEqual(await totp.check("alice", bad as string), { valid: false, reason: "malformed" }, `check ${JSON.stringify(bad)}`);
      assert.equal(await totp.verify("alice", bad as string), false);
      assert.equal(await totp.confirmEnrollment("alice", bad as string), false);
    }
    assert.equal(f.calls.count, before, "no storage access for malformed codes");
  });

  it("stores the secret sealed, never in clear, bound to its user", async () => {
    const { secret } = await totp.beginEnrollment("alice", "alice");
    const pendingRaw = JSON.stringify(await f.ds.getDocument(TOTP_COLLECTION, "alice"));
    assert.ok(!pendingRaw.includes(secret), "pending secret not in clear");
    await totp.confirmEnrollment("alice", await codeAt(secret, f.clock.now));
    const doc = await f.ds.getDocument<{ active: { secret: unknown } }>(TOTP_COLLECTION, "alice");
    const raw = JSON.stringify(doc);
    assert.ok(!raw.includes(secret), "active secret not in clear");
    assert.ok(!raw.toLowerCase().includes(secret.toLowerCase()));
    assert.equal((doc!.body.active.secret as { alg: string }).alg, "A256GCM");

    // Copied into another user's document, the sealed secret does not open (purpose names the user).
    await f.ds.putDocument(TOTP_COLLECTION, "mallory", doc!.body, 0);
    f.clock.now += STEP;
    await assert.rejects(totp.check("mallory", await codeAt(secret, f.clock.now)), (e: unknown) => e instanceof KeyError && e.code === "unseal_failed");

    // Another master key cannot open it either.
    const other = new TotpFactors({ documents: f.ds, masterKey: MasterKey.fromBytes(randomBytes(32)), now: f.now });
    await assert.rejects(other.check("alice", await codeAt(secret, f.clock.now)), (e: unknown) => e instanceof KeyError && e.code === "wrong_master_key");
    // The right one still does.
    assert.equal(await totp.verify("alice", await codeAt(secret, f.clock.now)), true);
  });

  it("re-enrolment keeps the old secret working until the new one is confirmed", async () => {
    const old = await enrolled();
    const next = await totp.beginEnrollment("alice", "alice");
    assert.notEqual(next.secret, old);
    f.clock.now += STEP;
    assert.equal(await totp.verify("alice", await codeAt(old, f.clock.now)), true, "old still works while the new one is pending");
    f.clock.now += STEP;
    assert.equal(await totp.confirmEnrollment("alice", await codeAt(next.secret, f.clock.now)), true);
    f.clock.now += STEP;
    const oldCode = await codeAt(old, f.clock.now);
    const newCode = await codeAt(next.secret, f.clock.now);
    if (oldCode !== newCode) assert.equal(await totp.verify("alice", oldCode), false, "old secret replaced");
    assert.equal(await totp.verify("alice", newCode), true);
  });

  it("a pending enrolment expires", async () => {
    const { secret } = await totp.beginEnrollment("alice", "alice");
    f.clock.now += 10 * 60_000;
    await assert.rejects(totp.confirmEnrollment("alice", await codeAt(secret, f.clock.now)), (e: unknown) => e instanceof TenetError && e.code === "not_found");
    await assert.rejects(totp.confirmEnrollment("bob", "123456"), (e: unknown) => e instanceof TenetError && e.code === "not_found");
  });

  it("remove ends the factor and says so on the bus", async () => {
    const secret = await enrolled();
    f.emitted.length = 0;
    assert.equal(await totp.remove("alice"), true);
    assert.deepEqual(f.emitted, [{ type: "credential.removed", userId: "alice", credential: "totp" }]);
    assert.equal(await totp.isEnrolled("alice"), false);
    f.clock.now += STEP;
    assert.deepEqual(await totp.check("alice", await codeAt(secret, f.clock.now)), { valid: false, reason: "not_enrolled" });
    assert.equal(await totp.remove("alice"), false);
    assert.equal(f.emitted.length, 1);
  });

  it("validates user ids, labels and options", async () => {
    const isValidation = (e: unknown) => e instanceof TenetError && e.code === "validation_error";
    await assert.rejects(totp.beginEnrollment("", "a"), isValidation);
    await assert.rejects(totp.beginEnrollment("../x", "a"), isValidation);
    await assert.rejects(totp.beginEnrollment("alice", ""), isValidation);
    await assert.rejects(totp.beginEnrollment("alice", "evil:label"), isValidation);
    await assert.rejects(totp.beginEnrollment("alice", "a\u0000b"), isValidation);
    await assert.rejects(totp.beginEnrollment("alice", 42 as unknown as string), isValidation);
    await assert.rejects(totp.check("bad id", "123456"), isValidation);
    assert.throws(() => new TotpFactors({ documents: f.ds, masterKey: f.masterKey, issuer: "A:B" }), isValidation);
    assert.throws(() => new TotpFactors({ documents: f.ds, masterKey: f.masterKey, pendingTtlMs: 0 }), isValidation);
    const custom = new TotpFactors({ documents: f.ds, masterKey: f.masterKey, issuer: "ACME Co", now: f.now });
    const e = await custom.beginEnrollment("carol", "carol@example.com");
    assert.equal(new URL(e.otpauthUri).searchParams.get("issuer"), "ACME Co");
  });
});
