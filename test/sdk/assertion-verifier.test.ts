import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { decodeProtectedHeader, SignJWT } from "jose";
import Provider from "oidc-provider";
import { AssertionIssuer } from "../../src/enforcement/assertion.js";
import { AssertionError, assertionFromHeaders, createAssertionVerifier, type TenetIdentity } from "../../src/sdk/index.js";
import { type AssertionFixture, deadUrl, startFixture } from "./assertion-fixture.js";

const ROUTE = "https://app.example.com/";

async function rejects(p: Promise<unknown>, code: string): Promise<AssertionError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AssertionError, `expected an AssertionError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected AssertionError ${code}, but it verified`);
}

function b64(json: unknown): string {
  return Buffer.from(JSON.stringify(json)).toString("base64url");
}

function parts(token: string): { header: Record<string, unknown>; payload: Record<string, unknown>; sig: string } {
  const [h, p, sig] = token.split(".");
  return { header: JSON.parse(Buffer.from(h!, "base64url").toString()), payload: JSON.parse(Buffer.from(p!, "base64url").toString()), sig: sig! };
}

async function currentKid(f: AssertionFixture): Promise<string> {
  const k = (await f.keys.list()).find((x) => x.alg === "ES256" && x.state === "current");
  assert.ok(k);
  return k.kid;
}

describe("assertion verifier (SDK)", () => {
  let f: AssertionFixture;
  let issuer: AssertionIssuer;
  const input = { audience: ROUTE, subject: "user-1", decisionId: "dec-1" };

  before(async () => {
    f = await startFixture();
    issuer = new AssertionIssuer({ issuer: f.issuer, sign: (p, h) => f.keys.sign(p, h) });
  });
  after(() => f.close());

  const verifier = (extra: Partial<Parameters<typeof createAssertionVerifier>[0]> = {}) => createAssertionVerifier({ issuer: f.issuer, audience: ROUTE, ...extra });

  it("round trip: every claim comes back as the identity", async () => {
    const token = await issuer.issue({
      audience: ROUTE,
      subject: "user-1",
      email: "ada@example.com",
      groups: ["eng", "admins"],
      acr: "urn:tenet:acr:phishing-resistant",
      amr: ["hwk", "user"],
      authTime: 1_790_000_000,
      deviceId: "dev-9",
      sessionId: "sess-3",
      decisionId: "dec-42",
    });
    const header = decodeProtectedHeader(token);
    assert.equal(header.typ, "tenet-assertion+jwt");
    assert.equal(header.alg, "ES256");
    assert.equal(header.kid, await currentKid(f));
    const who: TenetIdentity = await verifier().verify(token);
    assert.equal(who.subject, "user-1");
    assert.equal(who.email, "ada@example.com");
    assert.deepEqual(who.groups, ["eng", "admins"]);
    assert.equal(who.acr, "urn:tenet:acr:phishing-resistant");
    assert.deepEqual(who.amr, ["hwk", "user"]);
    assert.equal(who.authTime, 1_790_000_000);
    assert.equal(who.deviceId, "dev-9");
    assert.equal(who.sessionId, "sess-3");
    assert.equal(who.decisionId, "dec-42");
    assert.equal(who.audience, ROUTE);
    assert.equal(who.issuer, f.issuer);
    assert.equal(who.expiresAt - who.issuedAt, 60);
    assert.match(who.id, /^[0-9a-f-]{36}$/);
  });

  it("the default JWKS location is <issuer>/oidc/jwks, fetched once and cached", async () => {
    const v = verifier();
    const hits = f.jwksHits;
    await v.verify(await issuer.issue(input));
    await v.verify(await issuer.issue(input));
    assert.equal(f.jwksHits, hits + 1);
    // A trailing slash on the issuer changes nothing.
    await createAssertionVerifier({ issuer: `${f.issuer}/`, audience: ROUTE }).verify(await issuer.issue(input));
  });

  it("optional claims absent: empty lists, no undefined members", async () => {
    const who = await verifier().verify(await issuer.issue(input));
    assert.deepEqual(who.groups, []);
    assert.deepEqual(who.amr, []);
    for (const k of ["email", "acr", "authTime", "deviceId", "sessionId"]) assert.ok(!(k in who), k);
  });

  it("refuses an assertion for another route; accepts any of several audiences", async () => {
    const token = await issuer.issue({ ...input, audience: "https://other.example.com/" });
    await rejects(verifier().verify(token), "wrong_audience");
    const who = await verifier({ audience: ["https://x.example/", "https://other.example.com/"] }).verify(token);
    assert.equal(who.audience, "https://other.example.com/");
  });

  it("refuses an assertion from another issuer (same keys, different iss)", async () => {
    const other = new AssertionIssuer({ issuer: "https://evil.example.com", sign: (p, h) => f.keys.sign(p, h) });
    await rejects(verifier().verify(await other.issue(input)), "wrong_issuer");
  });

  it("refuses an expired assertion (clock injected), within the tolerance it still verifies", async () => {
    const old = new AssertionIssuer({ issuer: f.issuer, sign: (p, h) => f.keys.sign(p, h), now: () => Date.now() - 120_000 });
    const err = await rejects(verifier().verify(await old.issue(input)), "expired");
    assert.equal(err.status, 401);
    const t0 = 1_800_000_000_000;
    const at = new AssertionIssuer({ issuer: f.issuer, sign: (p, h) => f.keys.sign(p, h), now: () => t0 });
    const token = await at.issue(input);
    await verifier({ now: () => t0 + 64_000 }).verify(token);
    await rejects(verifier({ now: () => t0 + 66_000 }).verify(token), "expired");
    await rejects(verifier({ now: () => t0 + 66_000, clockToleranceSeconds: 0 }).verify(token), "expired");
  });

  it("maxAgeSeconds refuses an old assertion even before exp", async () => {
    const t0 = 1_800_000_000_000;
    const token = await new AssertionIssuer({ issuer: f.issuer, sign: (p, h) => f.keys.sign(p, h), now: () => t0 }).issue(input);
    await verifier({ now: () => t0 + 9_000, maxAgeSeconds: 10 }).verify(token);
    await rejects(verifier({ now: () => t0 + 20_000, maxAgeSeconds: 10 }).verify(token), "expired");
  });

  it("refuses an assertion that is not valid yet", async () => {
    const future = new AssertionIssuer({ issuer: f.issuer, sign: (p, h) => f.keys.sign(p, h), now: () => Date.now() + 120_000 });
    await rejects(verifier().verify(await future.issue(input)), "not_yet_valid");
    // nbf in the past but iat in the future (never made by Tenet) is refused too.
    const now = Math.floor(Date.now() / 1000);
    const odd = await f.keys.sign({ iss: f.issuer, aud: ROUTE, sub: "u", jti: "j", decision_id: "d", iat: now + 100, nbf: now - 10, exp: now + 120 }, { typ: "tenet-assertion+jwt" });
    await rejects(verifier().verify(odd), "not_yet_valid");
  });

  it("refuses a tampered payload or header", async () => {
    const token = await issuer.issue({ ...input, groups: ["eng"] });
    const { header, payload, sig } = parts(token);
    const promoted = `${b64(header)}.${b64({ ...payload, groups: ["eng", "admins"] })}.${sig}`;
    await rejects(verifier().verify(promoted), "bad_signature");
    const other = `${b64(header)}.${b64({ ...payload, sub: "user-2" })}.${sig}`;
    await rejects(verifier().verify(other), "bad_signature");
    const retyped = `${b64({ ...header, typ: "JWT" })}.${b64(payload)}.${sig}`;
    await rejects(verifier().verify(retyped), "bad_signature");
    const truncated = `${b64(header)}.${b64(payload)}.${sig.slice(0, -4)}`;
    await rejects(verifier().verify(truncated), "bad_signature");
  });

  it("refuses a token signed by another key: unknown kid, or Tenet's kid with a foreign key", async () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: f.issuer, aud: ROUTE, sub: "user-1", jti: "x", decision_id: "d", iat: now, nbf: now, exp: now + 60 };
    const unknown = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", typ: "tenet-assertion+jwt", kid: "not-a-tenet-key" }).sign(privateKey);
    await rejects(verifier().verify(unknown), "bad_signature");
    const stolenKid = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", typ: "tenet-assertion+jwt", kid: await currentKid(f) }).sign(privateKey);
    await rejects(verifier().verify(stolenKid), "bad_signature");
  });

  it("refuses alg none and HMAC with the public key as secret (algorithm confusion)", async () => {
    const token = await issuer.issue(input);
    const { header, payload } = parts(token);
    await rejects(verifier().verify(`${b64({ ...header, alg: "none" })}.${b64(payload)}.`), "bad_signature");
    const { createHmac } = await import("node:crypto");
    const h = `${b64({ ...header, alg: "HS256" })}.${b64(payload)}`;
    const mac = createHmac("sha256", JSON.stringify(((await (await fetch(f.jwksUri)).json()) as { keys: unknown[] }).keys[0])).update(h).digest("base64url");
    await rejects(verifier().verify(`${h}.${mac}`), "bad_signature");
  });

  it("refuses a token of another type signed by the same keys (RFC 8725 §3.11)", async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: f.issuer, aud: ROUTE, sub: "user-1", jti: "x", decision_id: "d", iat: now, nbf: now, exp: now + 60 };
    await rejects(verifier().verify(await f.keys.sign(claims, { typ: "JWT" })), "wrong_type");
    await rejects(verifier().verify(await f.keys.sign(claims, { typ: "at+jwt" })), "wrong_type");
    await rejects(verifier().verify(await f.keys.sign(claims, { typ: "secevent+jwt" })), "wrong_type");
    // No typ at all.
    await rejects(verifier().verify(await f.keys.sign(claims, {} as { typ: string })), "wrong_type");
    // typ comparison follows RFC 7515 §4.1.9: the "application/" prefix is optional, case-insensitive.
    await verifier().verify(await f.keys.sign(claims, { typ: "application/Tenet-Assertion+JWT" }));
  });

  it("refuses a real OIDC ID token from the same keys, even with aud = the route and iss = Tenet", async () => {
    for (const providerIssuer of [`${f.issuer}/oidc`, f.issuer]) {
      const provider = new Provider(providerIssuer, {
        jwks: (await f.keys.privateJwks()) as never,
        clients: [{ client_id: ROUTE, client_secret: "s".repeat(43), redirect_uris: ["https://app.example.com/cb"], id_token_signed_response_alg: "ES256" }],
        cookies: { keys: ["k".repeat(32)] },
        features: { devInteractions: { enabled: false } },
        ttl: { IdToken: 60 },
      });
      const client = await provider.Client.find(ROUTE);
      const idToken = new provider.IdToken({ sub: "user-1", decision_id: "d", jti: "x" }, { client } as never);
      (idToken as unknown as { scope: string }).scope = "openid";
      const token = await idToken.issue({ use: "idtoken" });
      assert.equal(decodeProtectedHeader(token).kid, await currentKid(f), "signed with the same key as assertions");
      assert.equal(parts(token).payload.aud, ROUTE);
      await rejects(verifier().verify(token), "wrong_type");
    }
  });

  it("refuses assertions without the required claims or with claims of the wrong type", async () => {
    const now = Math.floor(Date.now() / 1000);
    const full = { iss: f.issuer, aud: ROUTE, sub: "user-1", jti: "x", decision_id: "d", iat: now, nbf: now, exp: now + 60 };
    for (const claim of ["sub", "jti", "decision_id", "iat", "exp", "iss", "aud"]) {
      const claims: Record<string, unknown> = { ...full };
      delete claims[claim];
      const err = await rejects(verifier().verify(await f.keys.sign(claims, { typ: "tenet-assertion+jwt" })), "malformed");
      assert.match(err.message, new RegExp(claim));
    }
    for (const bad of [{ groups: "eng" }, { groups: ["eng", 1] }, { amr: "pwd" }, { email: 5 }, { acr: "" }, { device_id: {} }, { auth_time: "yesterday" }, { decision_id: 7 }]) {
      await rejects(verifier().verify(await f.keys.sign({ ...full, ...bad }, { typ: "tenet-assertion+jwt" })), "malformed");
    }
    // A lifetime Tenet never issues (a day) is not an assertion of Tenet's.
    await rejects(verifier().verify(await f.keys.sign({ ...full, exp: now + 86_400 }, { typ: "tenet-assertion+jwt" })), "malformed");
  });

  it("refuses garbage before fetching anything", async () => {
    const v = verifier();
    await rejects(v.verify(""), "missing");
    await rejects(v.verify(undefined as unknown as string), "missing");
    await rejects(v.verify(42 as unknown as string), "malformed");
    await rejects(v.verify("not a jwt"), "malformed");
    await rejects(v.verify("a.b.c"), "malformed");
    await rejects(v.verify(`${b64({ alg: "ES256" })}.${b64("x")}`), "malformed");
    await rejects(v.verify("x".repeat(20_000)), "malformed");
  });

  it("key rotation: old assertions verify while the retired key is published; new ones carry the new kid", async () => {
    const cached = verifier();
    const oldToken = await issuer.issue(input);
    await cached.verify(oldToken);
    const oldKid = decodeProtectedHeader(oldToken).kid;
    const hits = f.jwksHits;

    await f.keys.rotate();
    const newToken = await issuer.issue(input);
    const newKid = decodeProtectedHeader(newToken).kid;
    assert.notEqual(newKid, oldKid);
    assert.equal(newKid, await currentKid(f));
    assert.equal((await f.keys.list()).find((k) => k.kid === oldKid)?.state, "retired");
    // The new key was published (as `next`) before it signed: a verifier holding the old JWKS
    // verifies new assertions without refetching.
    await cached.verify(newToken);
    assert.equal(f.jwksHits, hits);
    // A verifier that fetches the JWKS after the rotation still verifies assertions of the old key.
    await verifier().verify(oldToken);
    await verifier().verify(newToken);
    assert.equal(f.jwksHits, hits + 2);
  });

  it("JWKS unreachable or failing → jwks_unavailable (503), not a signature error", async () => {
    const token = await issuer.issue(input);
    const down = createAssertionVerifier({ issuer: f.issuer, audience: ROUTE, jwksUri: `${await deadUrl()}/oidc/jwks` });
    const err = await rejects(down.verify(token), "jwks_unavailable");
    assert.equal(err.status, 503);
    f.failWith = 503;
    try {
      await rejects(verifier().verify(token), "jwks_unavailable");
    } finally {
      f.failWith = undefined;
    }
    await verifier().verify(token);
  });

  it("rejects bad options at creation", () => {
    assert.throws(() => createAssertionVerifier({ issuer: "", audience: ROUTE }), TypeError);
    assert.throws(() => createAssertionVerifier({ issuer: f.issuer, audience: [] }), TypeError);
    assert.throws(() => createAssertionVerifier({ issuer: f.issuer, audience: [""] }), TypeError);
    assert.throws(() => createAssertionVerifier({ issuer: f.issuer, audience: ROUTE, clockToleranceSeconds: -1 }), TypeError);
    assert.throws(() => createAssertionVerifier({ issuer: f.issuer, audience: ROUTE, maxAgeSeconds: 0 }), TypeError);
    assert.throws(() => createAssertionVerifier({ issuer: "not a url", audience: ROUTE }));
  });
});

describe("assertionFromHeaders", () => {
  it("reads the header from Node's req.headers, any case, and from Fetch Headers", () => {
    assert.equal(assertionFromHeaders({ "x-tenet-assertion": "a.b.c" }), "a.b.c");
    assert.equal(assertionFromHeaders({ "X-Tenet-Assertion": " a.b.c " }), "a.b.c");
    assert.equal(assertionFromHeaders({ "x-tenet-assertion": ["a.b.c"] }), "a.b.c");
    assert.equal(assertionFromHeaders(new Headers({ "X-Tenet-Assertion": "a.b.c" })), "a.b.c");
    assert.equal(assertionFromHeaders({ "x-app-identity": "a.b.c" }, "X-App-Identity"), "a.b.c");
  });

  it("missing header → missing", () => {
    for (const h of [{}, { "x-tenet-assertion": "" }, { "x-tenet-assertion": "  " }, { "x-tenet-assertion": [] }, { authorization: "Bearer a.b.c" }, new Headers()]) {
      assert.throws(
        () => assertionFromHeaders(h),
        (err: unknown) => err instanceof AssertionError && err.code === "missing",
      );
    }
  });

  it("two copies of the header → malformed (never guess which one is Tenet's)", () => {
    const h = new Headers();
    h.append("x-tenet-assertion", "a.b.c");
    h.append("x-tenet-assertion", "d.e.f");
    for (const src of [{ "x-tenet-assertion": ["a.b.c", "d.e.f"] }, { "x-tenet-assertion": "a.b.c, d.e.f" }, h]) {
      assert.throws(
        () => assertionFromHeaders(src),
        (err: unknown) => err instanceof AssertionError && err.code === "malformed",
      );
    }
  });

  it("end to end over HTTP: the header as a Node server receives it", async () => {
    const f = await startFixture();
    try {
      const issuer = new AssertionIssuer({ issuer: f.issuer, sign: (p, h) => f.keys.sign(p, h) });
      const token = await issuer.issue({ audience: ROUTE, subject: "user-7", decisionId: "dec-7" });
      const { createServer } = await import("node:http");
      const v = createAssertionVerifier({ issuer: f.issuer, audience: ROUTE });
      const app = createServer((req, res) => {
        Promise.resolve()
          .then(() => v.verify(assertionFromHeaders(req.headers)))
          .then(
          (who) => res.end(JSON.stringify({ sub: who.subject, decision: who.decisionId })),
          (err: AssertionError) => res.writeHead(err.status).end(err.code),
        );
      });
      await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
      const url = `http://127.0.0.1:${(app.address() as { port: number }).port}/`;
      try {
        const ok = await fetch(url, { headers: { "x-tenet-assertion": token } });
        assert.deepEqual(await ok.json(), { sub: "user-7", decision: "dec-7" });
        const none = await fetch(url);
        assert.equal(none.status, 401);
        assert.equal(await none.text(), "missing");
      } finally {
        app.closeAllConnections();
        await new Promise<void>((resolve) => app.close(() => resolve()));
      }
    } finally {
      await f.close();
    }
  });
});
