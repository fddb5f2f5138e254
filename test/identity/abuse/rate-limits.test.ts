/** Sign-in rate limits: GCRA per key, address bucketing, bounded memory, Retry-After. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TenetError } from "../../../src/errors.js";
import { accountBucket, ipBucket, KeyedLimiter, SignInLimits } from "../../../src/identity/abuse/rate-limits.js";

const T0 = Date.parse("2026-03-02T09:00:00.000Z");

describe("KeyedLimiter", () => {
  it("allows a burst of `limit`, then one per window/limit, and says how long to wait", () => {
    const clock = { now: T0 };
    const l = new KeyedLimiter({ limit: 5, windowMs: 60_000 }, { now: () => clock.now });
    for (let i = 0; i < 5; i++) assert.equal(l.take("k"), 0, `request ${i + 1}`);
    assert.equal(l.take("k"), 12, "60 s / 5 = one every 12 s");
    assert.equal(l.take("k"), 12, "a refused request counts nothing");
    clock.now += 11_000;
    assert.equal(l.take("k"), 1);
    clock.now += 1_000;
    assert.equal(l.take("k"), 0);
    assert.equal(l.take("k"), 12);
    assert.equal(l.take("other"), 0, "keys are independent");
    clock.now += 60_000;
    for (let i = 0; i < 5; i++) assert.equal(l.take("k"), 0, "a full burst again after a quiet window");
    assert.ok(l.take("k") > 0);
  });

  it("peek does not count; costs are bounded by the limit", () => {
    const clock = { now: T0 };
    const l = new KeyedLimiter({ limit: 2, windowMs: 1_000 }, { now: () => clock.now });
    for (let i = 0; i < 10; i++) assert.equal(l.peek("k"), 0);
    assert.equal(l.size, 0, "peek stores nothing");
    assert.equal(l.take("k", 2), 0);
    assert.equal(l.peek("k"), 1);
    assert.throws(() => l.take("k", 3), RangeError);
    assert.throws(() => l.take("k", 0), RangeError);
    l.reset("k");
    assert.equal(l.take("k"), 0);
  });

  it("keeps at most maxKeys keys, however many addresses an attacker rotates through", () => {
    const clock = { now: T0 };
    const l = new KeyedLimiter({ limit: 3, windowMs: 60_000 }, { maxKeys: 100, now: () => clock.now });
    for (let i = 0; i < 20_000; i++) l.take(`ip:10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    assert.equal(l.size, 100);
    // A key that is busy (touched, even when refused) survives the churn; a quiet one is dropped first.
    for (let i = 0; i < 3; i++) l.take("busy");
    for (let i = 0; i < 300; i++) {
      l.take(`churn-${i}`);
      assert.ok(l.take("busy") > 0, "busy key still remembered as limited");
    }
    assert.equal(l.size, 100);
  });

  it("forgets expired keys as requests come", () => {
    const clock = { now: T0 };
    const l = new KeyedLimiter({ limit: 3, windowMs: 1_000 }, { now: () => clock.now });
    for (let i = 0; i < 1_000; i++) l.take(`k${i}`);
    assert.equal(l.size, 1_000);
    clock.now += 2_000;
    for (let i = 0; i < 200; i++) l.take("fresh");
    assert.ok(l.size < 1_000 - 1_000 / 2, `swept to ${l.size}`);
  });

  it("refuses nonsense limits", () => {
    const isValidation = (e: unknown) => e instanceof TenetError && e.code === "validation_error";
    assert.throws(() => new KeyedLimiter({ limit: 0, windowMs: 1000 }), isValidation);
    assert.throws(() => new KeyedLimiter({ limit: 1.5, windowMs: 1000 }), isValidation);
    assert.throws(() => new KeyedLimiter({ limit: 1, windowMs: 0 }), isValidation);
    assert.throws(() => new KeyedLimiter({ limit: 1, windowMs: Number.POSITIVE_INFINITY }), isValidation);
    assert.throws(() => new KeyedLimiter({ limit: 1, windowMs: 1000 }, { maxKeys: 0 }), isValidation);
  });
});

describe("address and account buckets", () => {
  it("IPv4 per address; IPv4-mapped IPv6 as IPv4; IPv6 per /64", () => {
    assert.equal(ipBucket("192.0.2.1"), "ip:192.0.2.1");
    assert.equal(ipBucket("::ffff:192.0.2.1"), "ip:192.0.2.1");
    assert.equal(ipBucket("::ffff:c000:201"), "ip:192.0.2.1");
    assert.equal(ipBucket("2001:db8::1"), "ip6:2001:db8:0:0::/64");
    assert.equal(ipBucket("2001:DB8:0:0:ffff:ffff:ffff:ffff"), "ip6:2001:db8:0:0::/64");
    assert.equal(ipBucket("[2001:db8:1:2::5]"), "ip6:2001:db8:1:2::/64");
    assert.equal(ipBucket("2001:db8:1:3::5"), "ip6:2001:db8:1:3::/64");
    assert.equal(ipBucket("fe80::1%eth0"), "ip6:fe80:0:0:0::/64");
    assert.equal(ipBucket("1:2:3:4:5:6:1.2.3.4"), "ip6:1:2:3:4::/64");
    assert.equal(ipBucket("::1"), "ip6:0:0:0:0::/64");
    assert.equal(ipBucket("::"), "ip6:0:0:0:0::/64");
    assert.equal(ipBucket("1::"), "ip6:1:0:0:0::/64");
    assert.equal(ipBucket("a:b:c:d:e::"), "ip6:a:b:c:d::/64");
    for (const junk of ["", "not an ip", "999.1.1.1", "1.2.3", "2001:db8::g", undefined, null]) assert.equal(ipBucket(junk as string), "ip:unknown");
  });

  it("accounts case-insensitively, long names hashed", () => {
    assert.equal(accountBucket("Alice@Example.com"), accountBucket("alice@example.com"));
    assert.notEqual(accountBucket("alice"), accountBucket("bob"));
    const long = accountBucket("x".repeat(10_000));
    assert.ok(long.length < 64, long);
    assert.notEqual(long, accountBucket("x".repeat(9_999)));
  });
});

describe("SignInLimits", () => {
  const make = (clock: { now: number }, maxKeys?: number) =>
    new SignInLimits({
      perIp: { limit: 5, windowMs: 60_000 },
      perIpFailures: { limit: 3, windowMs: 60_000 },
      perAccount: { limit: 4, windowMs: 60_000 },
      maxKeys,
      now: () => clock.now,
    });

  it("limits per address, with a Retry-After", () => {
    const clock = { now: T0 };
    const s = make(clock);
    for (let i = 0; i < 5; i++) assert.deepEqual(s.attempt({ ip: "192.0.2.1" }), { ok: true });
    assert.deepEqual(s.attempt({ ip: "192.0.2.1" }), { ok: false, retryAfter: 12, limitedBy: "ip" });
    assert.deepEqual(s.attempt({ ip: "192.0.2.2" }), { ok: true });
    assert.throws(
      () => s.enforce({ ip: "192.0.2.1" }),
      (e: unknown) => e instanceof TenetError && e.code === "rate_limited" && e.status === 429 && (e as unknown as { retryAfter: number }).retryAfter === 12,
    );
    clock.now += 12_000;
    s.enforce({ ip: "192.0.2.1" });
  });

  it("buckets IPv6 clients by /64: rotating the interface id does not help", () => {
    const s = make({ now: T0 });
    for (let i = 0; i < 5; i++) assert.equal(s.attempt({ ip: `2001:db8:aa:bb::${(i + 1).toString(16)}` }).ok, true);
    assert.equal(s.attempt({ ip: "2001:db8:aa:bb:dead:beef:1:2" }).ok, false, "same /64");
    assert.equal(s.attempt({ ip: "2001:db8:aa:bc::1" }).ok, true, "next /64");
  });

  it("limits per account across addresses; a refused attempt does not use the account's allowance", () => {
    const s = make({ now: T0 });
    // An address already limited does not eat into alice's allowance.
    for (let i = 0; i < 5; i++) s.attempt({ ip: "198.51.100.1" });
    for (let i = 0; i < 20; i++) assert.equal(s.attempt({ ip: "198.51.100.1", account: "alice" }).ok, false);
    for (let i = 0; i < 4; i++) assert.deepEqual(s.attempt({ ip: `203.0.113.${i}`, account: i % 2 ? "Alice" : "alice" }), { ok: true });
    const d = s.attempt({ ip: "203.0.113.200", account: "alice" });
    assert.deepEqual(d, { ok: false, retryAfter: 15, limitedBy: "account" });
    assert.equal(s.attempt({ ip: "203.0.113.200", account: "bob" }).ok, true);
    assert.throws(() => s.enforce({ ip: "203.0.113.201", account: "alice" }), /this account/);
  });

  it("failures of any kind slow the sending address", () => {
    const s = make({ now: T0 });
    for (let i = 0; i < 3; i++) s.recordFailure("::ffff:192.0.2.9");
    assert.deepEqual(s.attempt({ ip: "192.0.2.9" }), { ok: false, retryAfter: 20, limitedBy: "ip_failures" });
    assert.equal(s.attempt({ ip: "192.0.2.10" }).ok, true);
  });

  it("bounded memory in every limit", () => {
    const s = make({ now: T0 }, 50);
    for (let i = 0; i < 5_000; i++) {
      const ip = `2001:db8:${i.toString(16)}::1`;
      s.attempt({ ip, account: `user${i}` });
      s.recordFailure(ip);
    }
    assert.deepEqual(s.sizes, { ip: 50, ipFailures: 50, account: 50 });
  });
});
