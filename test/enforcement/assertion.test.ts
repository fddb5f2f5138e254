import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { decodeJwt, decodeProtectedHeader, type JWTPayload } from "jose";
import { AssertionIssuer, type AssertionSigner, MAX_ASSERTION_BYTES } from "../../src/enforcement/assertion.js";
import { TenetError } from "../../src/errors.js";
import { createAssertionVerifier } from "../../src/sdk/index.js";
import { type AssertionFixture, startFixture } from "../sdk/assertion-fixture.js";

const ROUTE = "https://app.example.com/";
const base = { audience: ROUTE, subject: "user-1", decisionId: "dec-1" };

describe("AssertionIssuer", () => {
  let f: AssertionFixture;
  /** The real signer, counting its calls (to see what reuse saves). */
  let signs = 0;
  let sign: AssertionSigner;

  before(async () => {
    f = await startFixture();
    sign = (p, h) => {
      signs++;
      return f.keys.sign(p, h);
    };
  });
  after(() => f.close());

  it("sets the registered claims, the identity claims and the explicit typ; omits absent ones", async () => {
    const t0 = 1_800_000_000_500;
    const issuer = new AssertionIssuer({ issuer: `${f.issuer}/`, sign, now: () => t0 });
    const full = await issuer.issue({
      audience: ROUTE,
      subject: "user-1",
      email: "ada@example.com",
      groups: ["eng"],
      acr: "urn:tenet:acr:mfa",
      amr: ["pwd", "otp"],
      authTime: 1_799_999_000,
      deviceId: "dev-1",
      sessionId: "sess-1",
      decisionId: "dec-1",
    });
    const header = decodeProtectedHeader(full);
    assert.deepEqual({ typ: header.typ, alg: header.alg }, { typ: "tenet-assertion+jwt", alg: "ES256" });
    const kid = (await f.keys.list()).find((k) => k.alg === "ES256" && k.state === "current")?.kid;
    assert.equal(header.kid, kid);
    const c = decodeJwt(full);
    assert.equal(typeof c.jti, "string");
    assert.deepEqual(
      { ...c, jti: "-" },
      {
        iss: f.issuer,
        aud: ROUTE,
        sub: "user-1",
        iat: 1_800_000_000,
        nbf: 1_800_000_000,
        exp: 1_800_000_060,
        jti: "-",
        email: "ada@example.com",
        groups: ["eng"],
        acr: "urn:tenet:acr:mfa",
        amr: ["pwd", "otp"],
        auth_time: 1_799_999_000,
        device_id: "dev-1",
        sid: "sess-1",
        decision_id: "dec-1",
      },
    );
    const min = decodeJwt(await issuer.issue(base));
    assert.deepEqual(Object.keys(min).sort(), ["aud", "decision_id", "exp", "iat", "iss", "jti", "nbf", "sub"]);
  });

  it("one assertion per request by default: a new jti and the request's own decision id", async () => {
    const issuer = new AssertionIssuer({ issuer: f.issuer, sign });
    const a = decodeJwt(await issuer.issue(base));
    const b = decodeJwt(await issuer.issue({ ...base, decisionId: "dec-2" }));
    const c = decodeJwt(await issuer.issue(base));
    assert.notEqual(a.jti, c.jti);
    assert.equal(b.decision_id, "dec-2");
    assert.equal(issuer.cached, 0);
  });

  it("ttlSeconds: default 60, configurable up to 300, anything else refused", async () => {
    const exp = async (ttl: number) => {
      const c = decodeJwt(await new AssertionIssuer({ issuer: f.issuer, sign, ttlSeconds: ttl }).issue(base));
      return (c.exp ?? 0) - (c.iat ?? 0);
    };
    assert.equal(new AssertionIssuer({ issuer: f.issuer, sign }).ttlSeconds, 60);
    assert.equal(await exp(5), 5);
    assert.equal(await exp(300), 300);
    for (const ttl of [0, -1, 301, 1.5, Number.NaN]) {
      assert.throws(() => new AssertionIssuer({ issuer: f.issuer, sign, ttlSeconds: ttl }), TypeError, String(ttl));
    }
    assert.throws(() => new AssertionIssuer({ issuer: "", sign }), TypeError);
    assert.throws(() => new AssertionIssuer({ issuer: "ftp://x", sign }), TypeError);
    assert.throws(() => new AssertionIssuer({ issuer: f.issuer, sign: undefined as unknown as AssertionSigner }), TypeError);
    assert.throws(() => new AssertionIssuer({ issuer: f.issuer, sign, cacheSize: 0 }), TypeError);
  });

  it("bad input → validation_error, nothing signed", async () => {
    const issuer = new AssertionIssuer({ issuer: f.issuer, sign });
    const before = signs;
    const bad: unknown[] = [
      undefined,
      {},
      { ...base, audience: "" },
      { ...base, subject: "" },
      { ...base, subject: 7 },
      { ...base, decisionId: undefined },
      { ...base, groups: "eng" },
      { ...base, groups: ["eng", ""] },
      { ...base, amr: [1] },
      { ...base, authTime: -1 },
      { ...base, authTime: 1.5 },
      { ...base, email: "" },
      { ...base, exp: 9_999_999_999 },
      { ...base, iss: "https://evil.example" },
      { ...base, groups: Array.from({ length: 1001 }, (_, i) => `g${i}`) },
    ];
    for (const input of bad) {
      await assert.rejects(
        issuer.issue(input as never),
        (err: unknown) => err instanceof TenetError && err.code === "validation_error",
        JSON.stringify(input)?.slice(0, 80),
      );
    }
    assert.equal(signs, before);
  });

  it("an assertion too big for upstream header limits is refused (request_too_large)", async () => {
    const issuer = new AssertionIssuer({ issuer: f.issuer, sign });
    const groups = Array.from({ length: 200 }, (_, i) => `group-with-a-long-name-${i}`.padEnd(60, "x"));
    await assert.rejects(issuer.issue({ ...base, groups }), (err: unknown) => err instanceof TenetError && err.code === "request_too_large");
    // A realistic membership fits.
    const token = await issuer.issue({ ...base, groups: groups.slice(0, 40) });
    assert.ok(token.length < MAX_ASSERTION_BYTES);
  });

  describe("reuse: true", () => {
    let t = 1_800_000_000_000;
    const clock = () => t;

    it("hands out the same assertion for the same identity within half the TTL, across decisions", async () => {
      const issuer = new AssertionIssuer({ issuer: f.issuer, sign, reuse: true, now: clock });
      const before = signs;
      const a = await issuer.issue({ ...base, decisionId: "dec-a", groups: ["eng"] });
      const b = await issuer.issue({ ...base, decisionId: "dec-b", groups: ["eng"] });
      assert.equal(a, b);
      assert.equal(decodeJwt(b).decision_id, "dec-a", "the decision id is the minting request's (the documented trade-off)");
      t += 29_000;
      assert.equal(await issuer.issue({ ...base, decisionId: "dec-c", groups: ["eng"] }), a);
      t += 1_000;
      const c = await issuer.issue({ ...base, decisionId: "dec-d", groups: ["eng"] });
      assert.notEqual(c, a, "at half the TTL a new one is minted");
      assert.equal(decodeJwt(c).decision_id, "dec-d");
      assert.equal(signs, before + 2);
    });

    it("anything that changes the identity claims mints a new assertion", async () => {
      const issuer = new AssertionIssuer({ issuer: f.issuer, sign, reuse: true, now: clock });
      const first = await issuer.issue(base);
      const variants = [
        { ...base, audience: "https://other.example.com/" },
        { ...base, subject: "user-2" },
        { ...base, sessionId: "s2" },
        { ...base, groups: ["eng"] },
        { ...base, groups: ["eng", "admins"] },
        { ...base, acr: "urn:tenet:acr:mfa" },
        { ...base, amr: ["hwk"] },
        { ...base, authTime: 1 },
        { ...base, deviceId: "d2" },
        { ...base, email: "x@example.com" },
      ];
      const tokens = new Set([first]);
      for (const v of variants) tokens.add(await issuer.issue(v));
      assert.equal(tokens.size, variants.length + 1);
      assert.equal(issuer.cached, variants.length + 1);
    });

    it("the cache is a bounded LRU", async () => {
      const issuer = new AssertionIssuer({ issuer: f.issuer, sign, reuse: true, cacheSize: 2, now: clock });
      const a = await issuer.issue({ ...base, subject: "a" });
      const b = await issuer.issue({ ...base, subject: "b" });
      assert.equal(await issuer.issue({ ...base, subject: "a" }), a, "a is now the most recently used");
      await issuer.issue({ ...base, subject: "c" });
      assert.equal(issuer.cached, 2);
      assert.equal(await issuer.issue({ ...base, subject: "a" }), a, "a kept");
      assert.notEqual(await issuer.issue({ ...base, subject: "b" }), b, "b (least recently used) was evicted");
      issuer.clear();
      assert.equal(issuer.cached, 0);
    });

    it("concurrent requests for one identity sign once; a failed signature is not cached", async () => {
      const issuer = new AssertionIssuer({ issuer: f.issuer, sign, reuse: true, now: clock });
      const before = signs;
      const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => issuer.issue({ ...base, subject: "burst", decisionId: `d${i}` })));
      assert.equal(new Set(tokens).size, 1);
      assert.equal(signs, before + 1);

      let fail = true;
      const flaky = new AssertionIssuer({
        issuer: f.issuer,
        reuse: true,
        now: clock,
        sign: (p: JWTPayload, h) => (fail ? Promise.reject(new Error("storage down")) : f.keys.sign(p, h)),
      });
      await assert.rejects(flaky.issue(base), /storage down/);
      await new Promise((r) => setImmediate(r));
      assert.equal(flaky.cached, 0);
      fail = false;
      await createAssertionVerifier({ issuer: f.issuer, audience: ROUTE, now: clock }).verify(await flaky.issue(base));
    });
  });
});
