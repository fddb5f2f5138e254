import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type CachedIdentity, IdentityCache } from "../../src/enforcement/identity-cache.js";
import { TtlCache } from "../../src/util/ttl-cache.js";

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("TtlCache", () => {
  test("returns entries until their deadline, then nothing", () => {
    const c = clock();
    const cache = new TtlCache<string, number>(10, c.now);
    cache.set("a", 1, c.now() + 100);
    assert.equal(cache.get("a"), 1);
    c.advance(99);
    assert.equal(cache.get("a"), 1);
    c.advance(1);
    assert.equal(cache.get("a"), undefined);
    assert.equal(cache.size, 0, "an expired entry is dropped when met");
  });

  test("a deadline already past stores nothing", () => {
    const c = clock();
    const cache = new TtlCache<string, number>(10, c.now);
    cache.set("a", 1, c.now());
    assert.equal(cache.size, 0);
  });

  test("drops the least recently used entry beyond its size", () => {
    const c = clock();
    const cache = new TtlCache<string, number>(2, c.now);
    cache.set("a", 1, c.now() + 1000);
    cache.set("b", 2, c.now() + 1000);
    assert.equal(cache.get("a"), 1); // a is now the most recently used
    cache.set("c", 3, c.now() + 1000);
    assert.equal(cache.get("b"), undefined);
    assert.equal(cache.get("a"), 1);
    assert.equal(cache.get("c"), 3);
  });

  test("deleteWhere drops exactly the matching entries", () => {
    const cache = new TtlCache<string, { user: string }>(10);
    cache.set("t1", { user: "alice" }, Date.now() + 1000);
    cache.set("t2", { user: "bob" }, Date.now() + 1000);
    cache.set("t3", { user: "alice" }, Date.now() + 1000);
    assert.equal(cache.deleteWhere((v) => v.user === "alice"), 2);
    assert.deepEqual([cache.get("t1"), cache.get("t2")?.user, cache.get("t3")], [undefined, "bob", undefined]);
  });

  test("refuses a size that is not a positive whole number", () => {
    for (const n of [0, -1, 1.5, Number.NaN]) assert.throws(() => new TtlCache(n), TypeError);
  });
});

describe("IdentityCache", () => {
  const alice: CachedIdentity = { userId: "alice", sessionId: "s1", acr: "x", groups: [] };

  function counting(answer: () => CachedIdentity | undefined, c = clock()) {
    let calls = 0;
    const cache = new IdentityCache({ lookup: async () => (calls++, answer()), now: c.now });
    return { cache, calls: () => calls, c };
  }

  test("asks the identity provider once per token within the TTL, again after it", async () => {
    const { cache, calls, c } = counting(() => alice);
    assert.equal((await cache.identityOf("tok"))?.userId, "alice");
    assert.equal((await cache.identityOf("tok"))?.userId, "alice");
    assert.equal(calls(), 1);
    c.advance(2000);
    await cache.identityOf("tok");
    assert.equal(calls(), 2);
  });

  test("never keeps an identity past its access token's expiry", async () => {
    const c = clock(1_000_000_000);
    const { cache, calls } = counting(() => ({ ...alice, expiresAt: 1_000_000 + 1 }), c); // expires in 1 s
    await cache.identityOf("tok");
    c.advance(1000);
    await cache.identityOf("tok");
    assert.equal(calls(), 2);
  });

  test("an unknown token is asked again every time (a new sign-in counts at once)", async () => {
    const signedIn: { who?: CachedIdentity } = {};
    const { cache, calls } = counting(() => signedIn.who);
    assert.equal(await cache.identityOf("tok"), undefined);
    signedIn.who = alice;
    assert.equal((await cache.identityOf("tok"))?.userId, "alice");
    assert.equal(calls(), 2);
  });

  test("forgetUser drops that user's entries at once and leaves others'", async () => {
    const answers: Record<string, CachedIdentity> = { a: alice, b: { userId: "bob", groups: [] } };
    let calls = 0;
    const cache = new IdentityCache({ lookup: async (t) => (calls++, answers[t]) });
    await cache.identityOf("a");
    await cache.identityOf("b");
    cache.forgetUser("alice");
    delete answers.a; // alice's session was revoked
    assert.equal(await cache.identityOf("a"), undefined);
    assert.equal((await cache.identityOf("b"))?.userId, "bob");
    assert.equal(calls, 3);
  });

  test("a lookup that started before a revocation does not store its (stale) answer", async () => {
    let release!: (v: CachedIdentity | undefined) => void;
    let calls = 0;
    const cache = new IdentityCache({ lookup: () => (calls++, calls === 1 ? new Promise((r) => (release = r)) : Promise.resolve(undefined)) });
    const first = cache.identityOf("tok");
    cache.forgetUser("alice");
    release(alice);
    assert.equal((await first)?.userId, "alice");
    assert.equal(await cache.identityOf("tok"), undefined, "the answer from before the revocation was kept");
  });

  test("concurrent requests with one token share one lookup; a failed lookup is not kept", async () => {
    let calls = 0;
    let fail = true;
    const cache = new IdentityCache({
      lookup: async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 5));
        if (fail) throw new Error("storage down");
        return alice;
      },
    });
    const all = await Promise.allSettled([cache.identityOf("tok"), cache.identityOf("tok"), cache.identityOf("tok")]);
    assert.equal(calls, 1);
    assert.ok(all.every((r) => r.status === "rejected"));
    fail = false;
    assert.equal((await cache.identityOf("tok"))?.userId, "alice");
    assert.equal(calls, 2);
  });

  test("ttlMs 0 turns the cache off; an out-of-range TTL is refused", async () => {
    let calls = 0;
    const cache = new IdentityCache({ lookup: async () => (calls++, alice), ttlMs: 0 });
    await cache.identityOf("tok");
    await cache.identityOf("tok");
    assert.equal(calls, 2);
    for (const ttlMs of [-1, 10_001, 1.5]) assert.throws(() => new IdentityCache({ lookup: async () => undefined, ttlMs }), TypeError);
  });
});
