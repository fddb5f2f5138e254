/** Account lockout over a real SQLite datastore, with a clock the test moves. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, beforeEach, describe, it } from "node:test";
import { TenetError } from "../../../src/errors.js";
import { Lockout, type LockoutEvent, type LockoutOptions } from "../../../src/identity/abuse/lockout.js";
import { SignInLimits } from "../../../src/identity/abuse/rate-limits.js";
import type { Datastore } from "../../../src/storage/interfaces.js";
import { openDatastore } from "../../../src/storage/open.js";

const T0 = Date.parse("2026-03-02T09:00:00.000Z");
const MIN = 60_000;

describe("account lockout", () => {
  let ds: Datastore;
  let dir: string;
  const clock = { now: T0 };
  let events: LockoutEvent[];
  let lockout: Lockout;
  const cleanup: Array<() => Promise<void>> = [];

  const make = (opts: Partial<LockoutOptions> = {}) => new Lockout({ documents: ds, now: () => clock.now, onEvent: (e) => void events.push(e), ...opts });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "tenet-lockout-test-"));
    ds = await openDatastore({ dataDir: dir });
    const d = dir;
    const s = ds;
    cleanup.push(async () => {
      await s.close();
      rmSync(d, { recursive: true, force: true });
    });
    clock.now = T0;
    events = [];
    lockout = make();
  });
  after(async () => {
    for (const c of cleanup) await c();
  });

  const fail = (userId = "alice", kind: "credential" | "malformed" | "unknown_credential" | "replay" | "skew" = "credential", ip = "192.0.2.7") =>
    lockout.recordFailure(userId, { kind, ip });

  it("ten credential failures lock the account for 30 minutes", async () => {
    for (let i = 1; i <= 9; i++) {
      const r = await fail();
      assert.deepEqual(r, { locked: false, failures: i, counted: true });
    }
    assert.deepEqual(await lockout.check("alice"), { locked: false, failures: 9 });
    const r = await fail();
    assert.equal(r.locked, true);
    assert.equal(r.until!.getTime(), T0 + 30 * MIN);
    assert.deepEqual(await lockout.check("alice"), { locked: true, until: new Date(T0 + 30 * MIN), failures: 10 });
    assert.equal(events.filter((e) => e.type === "failure" && e.counted).length, 10);
    const locks = events.filter((e) => e.type === "lockout");
    assert.equal(locks.length, 1);
    assert.deepEqual(locks[0], { type: "lockout", userId: "alice", ip: "192.0.2.7", reason: "credential", kind: "credential", failures: 10, until: new Date(T0 + 30 * MIN) });
    // Other accounts are untouched.
    assert.deepEqual(await lockout.check("bob"), { locked: false, failures: 0 });
  });

  it("malformed responses, unknown credentials, replays and skew are recorded but never lock", async () => {
    const limits = new SignInLimits({ now: () => clock.now });
    lockout = make({ ipLimiter: limits });
    for (let i = 0; i < 25; i++) {
      for (const kind of ["malformed", "unknown_credential", "replay", "skew"] as const) {
        const r = await fail("alice", kind, "203.0.113.9");
        assert.equal(r.locked, false);
        assert.equal(r.counted, false);
      }
    }
    assert.deepEqual(await lockout.check("alice"), { locked: false, failures: 0 });
    assert.equal(await ds.getDocument("identity.lockouts", "alice"), undefined, "nothing stored for the account");
    assert.equal(events.length, 100);
    assert.ok(events.every((e) => e.type === "failure" && e.counted === false && e.ip === "203.0.113.9"));
    assert.deepEqual(new Set(events.map((e) => e.kind)), new Set(["malformed", "unknown_credential", "replay", "skew"]));
    // ...but they count against the sending address.
    const d = limits.attempt({ ip: "203.0.113.9", account: "alice" });
    assert.equal(d.ok, false);
    assert.equal(!d.ok && d.limitedBy, "ip_failures");
    assert.deepEqual(limits.attempt({ ip: "198.51.100.1", account: "alice" }), { ok: true }, "the real user elsewhere is not limited");
    // And the real user's own single mistake still counts normally.
    assert.equal((await fail("alice", "credential")).failures, 1);
  });

  it("the lock lasts at least 30 minutes; failures while locked neither count nor extend it", async () => {
    for (let i = 0; i < 10; i++) await fail();
    clock.now = T0 + 20 * MIN;
    const during = await fail();
    assert.deepEqual(during, { locked: true, until: new Date(T0 + 30 * MIN), failures: 10, counted: false });
    clock.now = T0 + 30 * MIN - 1;
    assert.equal((await lockout.check("alice")).locked, true, "still locked 1 ms before 30 minutes");
    clock.now = T0 + 30 * MIN;
    assert.deepEqual(await lockout.check("alice"), { locked: false, failures: 0 });
    // A new series starts from zero: one failure does not lock again.
    assert.deepEqual(await fail(), { locked: false, failures: 1, counted: true });
  });

  it("a success resets the count, but does not lift a lock in force", async () => {
    for (let i = 0; i < 9; i++) await fail();
    await lockout.recordSuccess("alice");
    assert.deepEqual(await lockout.check("alice"), { locked: false, failures: 0 });
    for (let i = 0; i < 9; i++) await fail();
    assert.equal((await lockout.check("alice")).locked, false, "9 + 9 with a success between does not lock");
    await fail();
    await lockout.recordSuccess("alice");
    assert.equal((await lockout.check("alice")).locked, true);
    await lockout.recordSuccess("nobody"); // harmless
  });

  it("an administrator unlocks", async () => {
    for (let i = 0; i < 10; i++) await fail();
    assert.equal(await lockout.unlock("alice", { by: "admin-1", reason: "identity confirmed by phone" }), true);
    assert.deepEqual(events.at(-1), { type: "unlock", userId: "alice", reason: "identity confirmed by phone", by: "admin-1" });
    assert.deepEqual(await lockout.check("alice"), { locked: false, failures: 0 });
    assert.equal(await lockout.unlock("alice"), false, "not locked");
    await fail();
    assert.equal(await lockout.unlock("alice"), false, "a count without a lock is reset but was not a lock");
    assert.deepEqual(await lockout.check("alice"), { locked: false, failures: 0 });
  });

  it("concurrent failures are all counted", async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => fail()));
    assert.deepEqual(results.map((r) => r.failures).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal((await lockout.check("alice")).locked, true);
    assert.equal(events.filter((e) => e.type === "lockout").length, 1);
  });

  it("configuration may be stricter, never looser (PCI DSS 4.0 8.3.4)", async () => {
    const isValidation = (e: unknown) => e instanceof TenetError && e.code === "validation_error";
    assert.throws(() => make({ maxFailures: 11 }), isValidation);
    assert.throws(() => make({ maxFailures: 0 }), isValidation);
    assert.throws(() => make({ maxFailures: 2.5 }), isValidation);
    assert.throws(() => make({ lockoutMs: 30 * MIN - 1 }), isValidation);
    assert.throws(() => make({ lockoutMs: Number.NaN }), isValidation);
    lockout = make({ maxFailures: 3, lockoutMs: 60 * MIN });
    await fail();
    await fail();
    const r = await fail();
    assert.equal(r.locked, true);
    assert.equal(r.until!.getTime(), T0 + 60 * MIN);
    clock.now = T0 + 59 * MIN;
    assert.equal((await lockout.check("alice")).locked, true);
  });

  it("validates input; an event listener that throws does not undo the record", async () => {
    const isValidation = (e: unknown) => e instanceof TenetError && e.code === "validation_error";
    await assert.rejects(lockout.check("no spaces"), isValidation);
    await assert.rejects(lockout.recordFailure("", { kind: "credential" }), isValidation);
    await assert.rejects(lockout.recordFailure("alice", { kind: "bogus" as "credential" }), TypeError);
    await assert.rejects(lockout.recordFailure("alice", undefined as unknown as { kind: "credential" }), TypeError);
    const problems: string[] = [];
    lockout = make({
      onEvent: () => {
        throw new Error("audit down");
      },
      onProblem: (m) => void problems.push(m),
    });
    assert.equal((await fail()).failures, 1);
    assert.equal((await lockout.check("alice")).failures, 1);
    assert.equal(problems.length, 1);
  });
});
