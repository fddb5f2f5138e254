/** Recovery codes over a real SQLite datastore and a random master key. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, beforeEach, describe, it } from "node:test";
import { MasterKey } from "../../../src/crypto/master-key.js";
import { KeyError } from "../../../src/crypto/errors.js";
import { TenetError } from "../../../src/errors.js";
import { normalizeRecoveryCode, RECOVERY_CODES_COLLECTION, RecoveryCodes } from "../../../src/identity/factors/recovery-codes.js";
import { setup, type Fixture } from "./helpers.js";

const FORMAT = /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/;

describe("recovery codes", () => {
  let f: Fixture;
  let rc: RecoveryCodes;
  const open: Fixture[] = [];

  beforeEach(async () => {
    f = await setup("recovery");
    open.push(f);
    rc = new RecoveryCodes({ documents: f.documents, masterKey: f.masterKey, events: f.events, now: f.now });
  });
  after(async () => {
    for (const x of open) await x.close();
  });

  it("generates ten distinct 80-bit codes in Crockford base32 without ambiguous letters", async () => {
    const codes = await rc.generate("alice");
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    for (const c of codes) {
      assert.match(c, FORMAT);
      assert.equal(c.replace(/-/g, "").length * 5, 80);
      assert.doesNotMatch(c, /[ILOU]/);
    }
    assert.equal(await rc.remaining("alice"), 10);
    assert.deepEqual(f.emitted, [{ type: "credential.added", userId: "alice", credential: "recovery_codes" }]);
    // Random: a second user's codes share nothing with the first's.
    const other = await rc.generate("bob");
    assert.equal(new Set([...codes, ...other]).size, 20);
  });

  it("each code works exactly once", async () => {
    const codes = await rc.generate("alice");
    for (const [i, c] of codes.entries()) {
      assert.equal(await rc.consume("alice", c), true, `first use of code ${i}`);
      assert.equal(await rc.consume("alice", c), false, `second use of code ${i}`);
      assert.equal(await rc.remaining("alice"), 9 - i);
    }
    assert.equal(await rc.remaining("alice"), 0);
  });

  it("normalises case, spaces, dashes and Crockford look-alikes", async () => {
    const codes = await rc.generate("alice");
    const variants = [
      (c: string) => c.toLowerCase(),
      (c: string) => c.replace(/-/g, " "),
      (c: string) => c.replace(/-/g, ""),
      (c: string) => ` ${c.replace(/-/g, "  ").toLowerCase()}\t`,
      (c: string) => c.replace(/0/g, "O").replace(/1/g, "l"),
      (c: string) => c.replace(/1/g, "I").replace(/-/g, "--"),
    ];
    variants.forEach((v, i) => assert.equal(normalizeRecoveryCode(v(codes[i]!)), codes[i]!.replace(/-/g, "")));
    for (const [i, v] of variants.entries()) assert.equal(await rc.consume("alice", v(codes[i]!)), true, `variant ${i}`);
    assert.equal(await rc.remaining("alice"), 10 - variants.length);
  });

  it("refuses malformed input without touching storage, and wrong codes", async () => {
    const codes = await rc.generate("alice");
    await rc.remaining("alice"); // loads the HMAC key
    const before = f.calls.count;
    const u = codes[0]!.slice(0, -1) + "U";
    for (const bad of ["", "ABCD", codes[0]!.slice(0, -1), `${codes[0]}0`, u, `${codes[0]}!`.replace("-", "_"), "x".repeat(10_000), null, undefined, 42]) {
      assert.equal(await rc.consume("alice", bad as string), false, `consume ${String(bad).slice(0, 30)}`);
    }
    assert.equal(f.calls.count, before, "no storage access");
    assert.equal(await rc.consume("alice", "0000-0000-0000-0000"), false, "well-formed but wrong");
    assert.equal(await rc.consume("nobody", codes[0]!), false, "user without codes");
    assert.equal(await rc.remaining("alice"), 10);
  });

  it("of concurrent uses of one code, exactly one succeeds; different codes all succeed", async () => {
    const codes = await rc.generate("alice");
    const same = await Promise.all(Array.from({ length: 8 }, () => rc.consume("alice", codes[0]!)));
    assert.equal(same.filter(Boolean).length, 1);
    const different = await Promise.all(codes.slice(1, 6).map((c) => rc.consume("alice", c)));
    assert.deepEqual(different, [true, true, true, true, true]);
    assert.equal(await rc.remaining("alice"), 4);
  });

  it("regenerating replaces the whole set", async () => {
    const old = await rc.generate("alice");
    await rc.consume("alice", old[0]!);
    const fresh = await rc.generate("alice");
    for (const c of old) assert.equal(await rc.consume("alice", c), false);
    assert.equal(await rc.remaining("alice"), 10);
    assert.equal(await rc.consume("alice", fresh[3]!), true);
    assert.equal(f.emitted.filter((e) => e.type === "credential.added").length, 2);
  });

  it("stores only keyed hashes, tied to the user", async () => {
    const codes = await rc.generate("alice");
    const raw = JSON.stringify(await f.ds.getDocument(RECOVERY_CODES_COLLECTION, "alice"));
    for (const c of codes) {
      assert.ok(!raw.includes(c), "formatted code not stored");
      assert.ok(!raw.includes(c.replace(/-/g, "")), "canonical code not stored");
      assert.ok(!raw.toLowerCase().includes(c.replace(/-/g, "").toLowerCase()));
    }
    // Alice's hashes copied to bob: her codes do not work as his.
    const doc = await f.ds.getDocument(RECOVERY_CODES_COLLECTION, "alice");
    await f.ds.putDocument(RECOVERY_CODES_COLLECTION, "bob", doc!.body, 0);
    assert.equal(await rc.consume("bob", codes[0]!), false);
    assert.equal(await rc.consume("alice", codes[0]!), true);
  });

  it("the HMAC key is shared by instances with the same master key and useless without it", async () => {
    const codes = await rc.generate("alice");
    const replica = new RecoveryCodes({ documents: f.ds, masterKey: f.masterKey });
    assert.equal(await replica.consume("alice", codes[0]!), true);
    assert.equal(await rc.consume("alice", codes[0]!), false, "used on the replica");
    const stranger = new RecoveryCodes({ documents: f.ds, masterKey: MasterKey.fromBytes(randomBytes(32)) });
    await assert.rejects(stranger.consume("alice", codes[1]!), (e: unknown) => e instanceof KeyError && e.code === "wrong_master_key");
    assert.equal(await rc.consume("alice", codes[1]!), true, "a failed load is not cached as anything");
  });

  it("concurrent first use by two instances agrees on one HMAC key", async () => {
    const a = new RecoveryCodes({ documents: f.ds, masterKey: f.masterKey });
    const b = new RecoveryCodes({ documents: f.ds, masterKey: f.masterKey });
    const [ca, cb] = await Promise.all([a.generate("alice"), b.generate("bob")]);
    assert.equal(await b.consume("alice", ca[0]!), true);
    assert.equal(await a.consume("bob", cb[0]!), true);
    assert.equal((await f.ds.listDocuments("identity.factor-keys")).length, 1);
  });

  it("remove deletes the set and says so; user ids are validated", async () => {
    const codes = await rc.generate("alice");
    f.emitted.length = 0;
    assert.equal(await rc.remove("alice"), true);
    assert.deepEqual(f.emitted, [{ type: "credential.removed", userId: "alice", credential: "recovery_codes" }]);
    assert.equal(await rc.consume("alice", codes[0]!), false);
    assert.equal(await rc.remaining("alice"), 0);
    assert.equal(await rc.remove("alice"), false);
    const isValidation = (e: unknown) => e instanceof TenetError && e.code === "validation_error";
    await assert.rejects(rc.generate("a b"), isValidation);
    await assert.rejects(rc.consume("", codes[0]!), isValidation);
    await assert.rejects(rc.remaining("x/y"), isValidation);
  });
});
