/**
 * Federation against a real upstream (oidc-provider 8 on a random port), over a real SQLite
 * datastore and directory: begin → the upstream's login (driven with fetch) → complete.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { after, before, describe, it } from "node:test";
import { Directory } from "../../../src/identity/accounts/directory.js";
import { ACR, assurance } from "../../../src/identity/acr.js";
import { IdentityEvents } from "../../../src/identity/events.js";
import { parseFederationConfig } from "../../../src/identity/federation/config.js";
import { Federation } from "../../../src/identity/federation/federation.js";
import { LINKS, USER_LINKS } from "../../../src/identity/federation/links.js";
import { PENDING } from "../../../src/identity/federation/pending.js";
import type { Datastore } from "../../../src/storage/interfaces.js";
import { openDatastore } from "../../../src/storage/open.js";
import { PostgresDatastore } from "../../../src/storage/postgres/postgres-datastore.js";
import { PG_SKIP, PG_URL, createTestSchema, dropTestSchema } from "../../storage/pg-test-schema.js";
import { browse, createIdp, type Idp, type NextLogin } from "./idp.js";

const TENET = "http://tenet.test";
const redirect = (id: string) => `${TENET}/signin/federated/${id}/callback`;
const PROVIDERS = ["auto", "strict", "trusted", "badsecret", "nogroups"];

async function rejectsCode(p: Promise<unknown>, code: string, message?: RegExp): Promise<Error & { code: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as Error & { code: string };
    if (e.code !== code) throw new Error(`expected error code ${code}, got ${e.code}: ${e.message}`);
    if (message && !message.test(e.message)) throw new Error(`message ${JSON.stringify(e.message)} does not match ${message}`);
    return e;
  }
  throw new Error(`expected error code ${code}, but it resolved`);
}

interface TestStore {
  ds: Datastore;
  close(): Promise<void>;
}

/** The documents backends: SQLite always, PostgreSQL (a fresh schema) when configured. */
const BACKENDS: Array<{ name: string; skip: string | undefined; open: () => Promise<TestStore> }> = [
  {
    name: "SQLite",
    skip: undefined,
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), "tenet-federation-test-"));
      const ds = await openDatastore({ dataDir: dir });
      return { ds, close: async () => { await ds.close(); rmSync(dir, { recursive: true, force: true }); } };
    },
  },
  {
    name: "PostgreSQL",
    skip: PG_SKIP,
    open: async () => {
      const schema = await createTestSchema();
      const ds = await PostgresDatastore.open({ connectionString: PG_URL!, schema });
      return { ds, close: async () => { await ds.close(); await dropTestSchema(schema); } };
    },
  },
];

for (const backend of BACKENDS) describe(`federation: sign in with an upstream OpenID provider (${backend.name})`, { skip: backend.skip }, () => {
  let store: TestStore;
  let ds: Datastore;
  let directory: Directory;
  let events: IdentityEvents;
  let idp: Idp;
  let fed: Federation;
  const clock = { offset: 0 };
  const problems: string[] = [];

  before(async () => {
    store = await backend.open();
    ds = store.ds;
    events = new IdentityEvents();
    directory = new Directory({ documents: ds, events });
    for (const id of ["engineering", "admins", "staff", "unmanaged"]) await directory.createGroup({ id, name: id });
    idp = await createIdp();
    idp.start(PROVIDERS.map(redirect));
    // The person most tests sign in as, when who it is does not matter.
    idp.accounts.set("up-hal", { sub: "up-hal", email: "hal@example.com", email_verified: true, preferred_username: "hal" });
    const common = { issuer: idp.issuer, clientId: idp.clientId, allowInsecureRequests: true, scopes: ["openid", "email", "profile", "groups"] };
    const env = { UPSTREAM_SECRET: idp.clientSecret };
    const config = parseFederationConfig(
      {
        providers: [
          {
            ...common, id: "auto", name: "Upstream", clientSecretEnv: "UPSTREAM_SECRET", provisioning: "auto",
            groupMapping: [
              { value: "eng-*", group: "engineering" },
              { value: "idp-admins", group: "admins" },
              { value: "ghost", group: "no-such-group" },
            ],
          },
          { ...common, id: "strict", name: "Upstream (existing only)", clientSecret: idp.clientSecret, groupMapping: [{ value: "staff", group: "staff" }] },
          {
            ...common, id: "trusted", name: "Trusted upstream", clientSecretEnv: "UPSTREAM_SECRET", trustAssurance: true,
            acrMap: { "urn:idp:loa:phr": "phishing-resistant" },
          },
          { ...common, id: "badsecret", name: "Misconfigured", clientSecret: "wrong-secret-do-not-leak-91b2" },
          { ...common, id: "nogroups", name: "No groups", clientSecretEnv: "UPSTREAM_SECRET", provisioning: "auto", scopes: ["openid", "email", "profile"] },
        ],
      },
      env,
    );
    fed = new Federation({ config, directory, documents: ds, redirectUri: redirect, events, onProblem: (m) => problems.push(m), now: () => Date.now() + clock.offset });
  });

  after(async () => {
    await idp.close();
    await store.close();
  });

  /** begin → the upstream's login → the callback URL with code and state (not yet completed). */
  async function upstreamLogin(providerId: string, next: NextLogin, opts: { returnTo?: string } = {}) {
    idp.next = next;
    const started = await fed.begin(providerId, opts);
    const callback = await browse(started.url, redirect(providerId));
    return { ...started, callback };
  }

  async function signIn(providerId: string, next: NextLogin, opts: { returnTo?: string } = {}) {
    const { stateId, callback } = await upstreamLogin(providerId, next, opts);
    return fed.complete(providerId, stateId, callback);
  }

  it("lists the providers for the sign-in page's buttons", () => {
    assert.deepEqual(fed.providers().slice(0, 2), [
      { id: "auto", name: "Upstream" },
      { id: "strict", name: "Upstream (existing only)" },
    ]);
  });

  it("begin: an authorization URL with PKCE S256, state and nonce, and the state kept server-side", async () => {
    const { url, stateId, expiresAt } = await fed.begin("auto", { returnTo: "/apps?x=1" });
    const u = new URL(url);
    assert.equal(u.origin, idp.issuer);
    assert.equal(u.searchParams.get("client_id"), idp.clientId);
    assert.equal(u.searchParams.get("redirect_uri"), redirect("auto"));
    assert.equal(u.searchParams.get("response_type"), "code");
    assert.equal(u.searchParams.get("scope"), "openid email profile groups");
    assert.equal(u.searchParams.get("code_challenge_method"), "S256");
    assert.match(u.searchParams.get("code_challenge") ?? "", /^[A-Za-z0-9_-]{43}$/);
    assert.ok((u.searchParams.get("state") ?? "").length >= 32);
    assert.ok((u.searchParams.get("nonce") ?? "").length >= 32);
    assert.notEqual(u.searchParams.get("state"), stateId, "the cookie's value is not in the URL");
    assert.ok(!url.includes(stateId));
    assert.ok(Math.abs(expiresAt - (Date.now() + 10 * 60_000)) < 5_000);
    const stored = await ds.getDocument<{ codeVerifier: string; returnTo: string }>(PENDING, stateId);
    assert.equal(stored?.body.returnTo, "/apps?x=1");
    assert.ok(!url.includes(stored!.body.codeVerifier), "only the challenge leaves the server");
  });

  it("begin refuses an unknown provider and a returnTo that leaves the site", async () => {
    await rejectsCode(fed.begin("nope"), "not_found");
    await rejectsCode(fed.complete("nope", "x", new URL(redirect("nope"))), "not_found");
    for (const returnTo of ["//evil.example/x", "https://evil.example/", "/\\evil.example", "apps", "/a\nb", "/a\\b"]) {
      await rejectsCode(fed.begin("auto", { returnTo }), "validation_error", /returnTo/);
    }
    await rejectsCode(fed.begin("auto", { maxAge: -1 }), "validation_error");
    await rejectsCode(fed.begin("auto", { loginHint: "a\u0000b" }), "validation_error");
  });

  it("first sign-in with auto provisioning creates an active user and joins the mapped groups", async () => {
    idp.accounts.set("up-ann", { sub: "up-ann", email: "ann@example.com", email_verified: true, preferred_username: "ann", name: "Ann Example", groups: ["eng-backend", "idp-admins", "ghost", "other"] });
    const r = await signIn("auto", { accountId: "up-ann" }, { returnTo: "/apps" });
    assert.equal(r.account, "provisioned");
    assert.equal(r.returnTo, "/apps");
    assert.deepEqual(r.groupsAdded.sort(), ["admins", "engineering"]);
    assert.deepEqual(r.groupsRemoved, []);
    const u = await directory.requireUser(r.userId);
    assert.equal(u.username, "ann");
    assert.equal(u.status, "active");
    assert.equal(u.email, "ann@example.com");
    assert.equal(u.emailVerified, true);
    assert.equal(u.displayName, "Ann Example");
    assert.deepEqual(u.groups.sort(), ["admins", "engineering"]);
    assert.deepEqual(r.upstream.subject, "up-ann");
    assert.ok(problems.some((m) => m.includes("no-such-group")), "a mapping to a missing group is reported");
    const link = await ds.getDocument<{ userId: string; via: string }>(LINKS, "auto/up-ann");
    assert.deepEqual([link?.body.userId, link?.body.via], [r.userId, "provisioned"]);
    assert.deepEqual(await fed.links.ofUser(r.userId), [{ providerId: "auto", subject: "up-ann" }]);
  });

  it("a second sign-in finds the link; mapped groups follow the upstream, unmanaged ones stay", async () => {
    const ann = (await directory.findByUsername("ann"))!;
    await directory.addMember("unmanaged", ann.id);
    // The upstream renames the person and changes their groups: the link (by sub) still holds.
    idp.accounts.set("up-ann", { sub: "up-ann", email: "ann.new@example.com", email_verified: true, preferred_username: "ann2", groups: ["eng-frontend"] });
    const r = await signIn("auto", { accountId: "up-ann" });
    assert.equal(r.account, "linked");
    assert.equal(r.userId, ann.id);
    assert.deepEqual(r.groupsAdded, []);
    assert.deepEqual(r.groupsRemoved, ["admins"]);
    assert.deepEqual((await directory.requireUser(ann.id)).groups.sort(), ["engineering", "unmanaged"]);
    assert.equal(await directory.findByUsername("ann2"), undefined, "no second account");
  });

  it("existing-only refuses an unknown identity, and links by a verified e-mail address", async () => {
    idp.accounts.set("up-bob", { sub: "up-bob", email: "Bob@Example.com", email_verified: true, preferred_username: "bobby", groups: ["staff"] });
    await rejectsCode(signIn("strict", { accountId: "up-bob" }), "forbidden", /no Tenet account for this identity/);
    assert.equal(await directory.findByUsername("bobby"), undefined);

    const bob = await directory.createUser({ username: "bob", email: "bob@example.com", status: "active" });
    const r = await signIn("strict", { accountId: "up-bob" });
    assert.equal(r.account, "email");
    assert.equal(r.userId, bob.id);
    assert.deepEqual(r.groupsAdded, ["staff"]);
    assert.equal((await ds.getDocument<{ via: string }>(LINKS, "strict/up-bob"))?.body.via, "email");

    // Later the address changes upstream: the link, not the address, finds the account.
    idp.accounts.set("up-bob", { sub: "up-bob", email: "robert@example.com", email_verified: true, groups: [] });
    const again = await signIn("strict", { accountId: "up-bob" });
    assert.deepEqual([again.account, again.userId, again.groupsRemoved], ["linked", bob.id, ["staff"]]);
  });

  it("an unverified e-mail address does not link, and is not stored on a provisioned account", async () => {
    const cat = await directory.createUser({ username: "cat", email: "cat@example.com", status: "active" });
    idp.accounts.set("up-mallory", { sub: "up-mallory", email: "cat@example.com", email_verified: false, preferred_username: "mallory" });
    await rejectsCode(signIn("strict", { accountId: "up-mallory" }), "forbidden", /no Tenet account/);
    const r = await signIn("auto", { accountId: "up-mallory" });
    assert.equal(r.account, "provisioned");
    assert.notEqual(r.userId, cat.id);
    const m = await directory.requireUser(r.userId);
    assert.equal(m.username, "mallory");
    assert.equal(m.email, undefined);
    assert.equal((await directory.findByEmail("cat@example.com"))?.id, cat.id);
    assert.deepEqual(await fed.links.ofUser(cat.id), []);
  });

  it("an account already linked to another identity of the provider is not linked again by e-mail (recycled address)", async () => {
    const dan = await directory.createUser({ username: "dan", email: "dan@example.com", status: "active" });
    idp.accounts.set("up-dan-1", { sub: "up-dan-1", email: "dan@example.com", email_verified: true });
    assert.equal((await signIn("strict", { accountId: "up-dan-1" })).userId, dan.id);
    idp.accounts.set("up-dan-2", { sub: "up-dan-2", email: "dan@example.com", email_verified: true });
    await rejectsCode(signIn("strict", { accountId: "up-dan-2" }), "forbidden", /already linked to another identity/);
    assert.equal(await fed.links.get("strict", "up-dan-2"), undefined);
    assert.deepEqual(await fed.links.ofUser(dan.id), [{ providerId: "strict", subject: "up-dan-1" }]);
  });

  it("an invited account found by e-mail becomes active; a suspended one is refused", async () => {
    const eve = await directory.createUser({ username: "eve", email: "eve@example.com" });
    assert.equal(eve.status, "invited");
    idp.accounts.set("up-eve", { sub: "up-eve", email: "eve@example.com", email_verified: true });
    const r = await signIn("strict", { accountId: "up-eve" });
    assert.equal(r.userId, eve.id);
    assert.equal((await directory.requireUser(eve.id)).status, "active");

    await directory.suspend(eve.id, "left the company");
    await rejectsCode(signIn("strict", { accountId: "up-eve" }), "forbidden", /suspended/);

    // Suspended before any link: refused, and not linked.
    const fay = await directory.createUser({ username: "fay", email: "fay@example.com", status: "active" });
    await directory.suspend(fay.id);
    idp.accounts.set("up-fay", { sub: "up-fay", email: "fay@example.com", email_verified: true });
    await rejectsCode(signIn("strict", { accountId: "up-fay" }), "forbidden", /suspended/);
    assert.deepEqual(await fed.links.ofUser(fay.id), []);
  });

  it("an untrusted upstream's acr/amr count for nothing: level 0", async () => {
    idp.accounts.set("up-gil", { sub: "up-gil", email: "gil@example.com", email_verified: true, preferred_username: "gil" });
    const r = await signIn("auto", { accountId: "up-gil", acr: "urn:idp:loa:phr", amr: ["hwk", "mfa"] });
    assert.deepEqual(r.factors, { upstream: { trusted: false } });
    assert.deepEqual(assurance(r.factors), { acr: ACR.none, amr: [] });
    assert.equal(r.upstream.acr, "urn:idp:loa:phr", "what the upstream said is kept for the audit log");
    assert.deepEqual(r.upstream.amr, ["hwk", "mfa"]);
    // Even with a second factor at Tenet, the upstream adds one factor only.
    assert.deepEqual(assurance({ ...r.factors, totp: true }), { acr: ACR.mfa, amr: ["mfa", "otp"] });
  });

  it("a trusted upstream's acr (mapped) and amr are honoured", async () => {
    const gil = (await directory.findByUsername("gil"))!;
    await fed.link(gil.id, "trusted", "up-gil");
    const r = await signIn("trusted", { accountId: "up-gil", acr: "urn:idp:loa:phr", amr: ["hwk", "mfa"] });
    assert.equal(r.userId, gil.id);
    assert.deepEqual(r.factors, { upstream: { acr: ACR.phishingResistant, amr: ["hwk", "mfa"], trusted: true } });
    assert.deepEqual(assurance(r.factors), { acr: ACR.phishingResistant, amr: ["hwk", "mfa"] });

    const mfa = await signIn("trusted", { accountId: "up-gil", acr: ACR.mfa, amr: ["pwd", "otp", "mfa"] });
    assert.equal(assurance(mfa.factors).acr, ACR.mfa);
    const weak = await signIn("trusted", { accountId: "up-gil", acr: "urn:idp:loa:1", amr: ["pwd"] });
    assert.equal(assurance(weak.factors).acr, ACR.none, "an acr Tenet does not know counts for nothing");
    const odd = await signIn("trusted", { accountId: "up-gil", acr: "constructor", amr: ["pwd"] });
    assert.deepEqual(odd.factors.upstream, { acr: undefined, amr: ["pwd"], trusted: true }, "only Tenet's acr values, or mapped ones, are passed on");
    assert.equal(odd.upstream.acr, "constructor");
    assert.equal(assurance(odd.factors).acr, ACR.none);
  });

  it("the state is single-use: a replayed callback fails", async () => {
    const { stateId, callback } = await upstreamLogin("auto", { accountId: "up-hal" });
    await fed.complete("auto", stateId, callback);
    await rejectsCode(fed.complete("auto", stateId, callback), "validation_error", /sign-in expired; start again/);
    // The old response with a fresh state id: its state is not the one started, and its code is spent.
    const fresh = await fed.begin("auto");
    await rejectsCode(fed.complete("auto", fresh.stateId, callback), "unauthenticated", /does not match/);
    await rejectsCode(fed.complete("auto", fresh.stateId, callback), "validation_error", /sign-in expired/);
  });

  it("a concurrent replay: exactly one of two racing completions succeeds", async () => {
    const { stateId, callback } = await upstreamLogin("auto", { accountId: "up-hal" });
    const results = await Promise.allSettled([fed.complete("auto", stateId, callback), fed.complete("auto", stateId, callback)]);
    assert.equal(results.filter((x) => x.status === "fulfilled").length, 1);
    const failed = results.find((x) => x.status === "rejected") as PromiseRejectedResult;
    assert.equal((failed.reason as { code: string }).code, "validation_error");
  });

  it("a wrong, missing, foreign or expired state fails", async () => {
    const a = await upstreamLogin("auto", { accountId: "up-hal" });
    const b = await upstreamLogin("auto", { accountId: "up-hal" });
    // B's cookie with A's response (login CSRF: someone else's response in my browser).
    await rejectsCode(fed.complete("auto", b.stateId, a.callback), "unauthenticated", /does not match the sign-in that was started/);
    for (const bad of ["", "x".repeat(43), "not a state id", a.stateId.slice(1)]) {
      await rejectsCode(fed.complete("auto", bad, a.callback), "validation_error", /sign-in expired/);
    }
    // Another provider's state.
    const c = await upstreamLogin("auto", { accountId: "up-hal" });
    await rejectsCode(fed.complete("strict", c.stateId, c.callback), "validation_error", /sign-in expired/);
    // Tampered state in the response.
    const d = await upstreamLogin("auto", { accountId: "up-hal" });
    const tampered = new URL(d.callback);
    tampered.searchParams.set("state", "attacker-state");
    await rejectsCode(fed.complete("auto", d.stateId, tampered), "unauthenticated");
    // Expired: ten minutes pass on Tenet's clock.
    const e = await upstreamLogin("auto", { accountId: "up-hal" });
    clock.offset = 10 * 60_000 + 1;
    try {
      await rejectsCode(fed.complete("auto", e.stateId, e.callback), "validation_error", /sign-in expired/);
    } finally {
      clock.offset = 0;
    }
    // And still good when in time.
    const f = await upstreamLogin("auto", { accountId: "up-hal" });
    clock.offset = 9 * 60_000;
    try {
      assert.equal((await fed.complete("auto", f.stateId, f.callback)).upstream.subject, "up-hal");
    } finally {
      clock.offset = 0;
    }
  });

  it("the PKCE verifier, the nonce and the response's issuer (RFC 9207) are checked", async () => {
    // Tenet's stored verifier or nonce differs from what was sent: the upstream (PKCE) or
    // openid-client (nonce) refuses.
    for (const field of ["codeVerifier", "nonce"] as const) {
      const { stateId, callback } = await upstreamLogin("auto", { accountId: "up-hal" });
      const doc = (await ds.getDocument<Record<string, unknown>>(PENDING, stateId))!;
      const other = field === "codeVerifier" ? "x".repeat(64) : "another-nonce-value-000000000000000";
      await ds.putDocument(PENDING, stateId, { ...doc.body, [field]: other }, doc.version);
      const e = await rejectsCode(fed.complete("auto", stateId, callback), "unauthenticated");
      if (field === "codeVerifier") assert.match(e.message, /invalid_grant/);
    }
    // A mix-up: the response claims another issuer.
    const { stateId, callback } = await upstreamLogin("auto", { accountId: "up-hal" });
    assert.equal(callback.searchParams.get("iss"), idp.issuer);
    callback.searchParams.set("iss", "https://attacker.example");
    await rejectsCode(fed.complete("auto", stateId, callback), "unauthenticated");
  });

  it("upstream error=access_denied → forbidden naming the upstream's error code", async () => {
    const { stateId, callback } = await upstreamLogin("auto", { error: "access_denied", description: "User cancelled <script>" });
    assert.equal(callback.searchParams.get("error"), "access_denied");
    const e = await rejectsCode(fed.complete("auto", stateId, callback), "forbidden", /refused the sign-in \(access_denied\)/);
    assert.ok(!e.message.includes("<script>"));
    // A forged error response (no matching state) is not believed either.
    const fresh = await fed.begin("auto");
    const forged = new URL(redirect("auto"));
    forged.searchParams.set("error", "access_denied");
    await rejectsCode(fed.complete("auto", fresh.stateId, forged), "unauthenticated");
  });

  it("the provider's groups claim absent: managed memberships end, unmanaged stay", async () => {
    idp.accounts.set("up-ivy", { sub: "up-ivy", email: "ivy@example.com", email_verified: true, preferred_username: "ivy", groups: ["eng-x"] });
    const first = await signIn("auto", { accountId: "up-ivy" });
    assert.deepEqual(first.groupsAdded, ["engineering"]);
    idp.accounts.set("up-ivy", { sub: "up-ivy", email: "ivy@example.com", email_verified: true, preferred_username: "ivy" });
    const second = await signIn("auto", { accountId: "up-ivy" });
    assert.deepEqual(second.groupsRemoved, ["engineering"]);
  });

  it("groups only in UserInfo: without the groups scope nothing is mapped (the provider has no mapping)", async () => {
    idp.accounts.set("up-jo", { sub: "up-jo", email: "jo@example.com", email_verified: true, preferred_username: "jo", groups: ["eng-x"] });
    const r = await signIn("nogroups", { accountId: "up-jo" });
    assert.equal(r.account, "provisioned");
    assert.deepEqual((await directory.requireUser(r.userId)).groups, []);
  });

  it("auto provisioning without a username or verified e-mail is refused; a taken username is a conflict", async () => {
    idp.accounts.set("up-anon", { sub: "up-anon", email: "anon@example.com", email_verified: false });
    await rejectsCode(signIn("auto", { accountId: "up-anon" }), "forbidden", /no preferred_username claim/);
    idp.accounts.set("up-other-ann", { sub: "up-other-ann", preferred_username: "Ann" });
    await rejectsCode(signIn("auto", { accountId: "up-other-ann" }), "conflict", /already exists; an administrator can link it/);
    idp.accounts.set("up-kim", { sub: "up-kim", email: "kim@example.com", email_verified: true });
    const r = await signIn("auto", { accountId: "up-kim" });
    assert.equal((await directory.requireUser(r.userId)).username, "kim@example.com", "falls back to the verified address");
  });

  it("a deleted account's links go with it; a reused id does not inherit a stale link", async () => {
    idp.accounts.set("up-lee", { sub: "up-lee", email: "lee@example.com", email_verified: true, preferred_username: "lee" });
    const first = await signIn("auto", { accountId: "up-lee" });
    await directory.deleteUser(first.userId);
    assert.equal(await ds.getDocument(LINKS, "auto/up-lee"), undefined);
    assert.deepEqual(await ds.listDocuments(USER_LINKS, { prefix: `${first.userId}/` }), []);

    // A stale link (left by a crash, say) to an id that now names someone else.
    const r = await signIn("auto", { accountId: "up-lee" });
    const stale = await ds.getDocument<Record<string, unknown>>(LINKS, "auto/up-lee");
    await ds.putDocument(LINKS, "auto/up-lee", { ...stale!.body, userCreatedAt: "2000-01-01T00:00:00.000Z" }, stale!.version);
    const again = await signIn("auto", { accountId: "up-lee" });
    assert.equal(again.userId, r.userId);
    assert.equal(again.account, "email", "found by its verified address, not by the stale link");
  });

  it("secrets are absent from errors, problems and the parsed configuration", async () => {
    const { stateId, callback } = await upstreamLogin("badsecret", { accountId: "up-hal" });
    const e = await rejectsCode(fed.complete("badsecret", stateId, callback), "unavailable", /misconfigured \(invalid_client\)/);
    for (const text of [e.message, JSON.stringify(e), inspect(e, { depth: 10 }), problems.join("\n")]) {
      assert.ok(!text.includes("wrong-secret-do-not-leak-91b2"));
      assert.ok(!text.includes(idp.clientSecret));
    }
    assert.ok(problems.some((m) => m.includes("invalid_client")));
    const config = parseFederationConfig({ providers: [{ id: "x", name: "X", issuer: "https://idp.example", clientId: "c", clientSecretEnv: "S" }] }, { S: "env-secret-value-1234" });
    assert.equal(config.providers[0]!.clientSecret, "env-secret-value-1234");
    assert.ok(!JSON.stringify(config).includes("env-secret-value-1234"));
    assert.ok(!inspect(config, { depth: 10 }).includes("env-secret-value-1234"));
    assert.ok(!JSON.stringify({ ...config.providers[0] }).includes("env-secret-value-1234"));
  });

  it("an unreachable issuer → unavailable, and discovery is retried (not cached) afterwards", async () => {
    const later = await createIdp();
    const port = Number(new URL(later.issuer).port);
    await later.close();
    const config = parseFederationConfig({
      providers: [{ id: "later", name: "Later", issuer: later.issuer, clientId: "tenet", clientSecret: "s3cret-later", allowInsecureRequests: true }],
    });
    const local: string[] = [];
    const f = new Federation({ config, directory, documents: ds, redirectUri: redirect, onProblem: (m) => local.push(m) });
    const before = (await ds.listDocuments(PENDING)).length;
    await rejectsCode(f.begin("later"), "unavailable", /could not be read/);
    assert.equal((await ds.listDocuments(PENDING)).length, before, "nothing stored when the upstream is down");
    assert.ok(local.some((m) => m.includes("discovery")));
    const up = await createIdp({ port, clientSecret: "s3cret-later" });
    try {
      up.start([redirect("later")]);
      const { url } = await f.begin("later");
      assert.ok(url.startsWith(up.issuer));
    } finally {
      await up.close();
    }
  });

  it("expired pending sign-ins are swept", async () => {
    const { stateId } = await fed.begin("auto");
    clock.offset = 11 * 60_000;
    try {
      assert.ok((await fed.sweepExpired()) >= 1);
    } finally {
      clock.offset = 0;
    }
    assert.equal(await ds.getDocument(PENDING, stateId), undefined);
  });
});
