import assert from "node:assert/strict";
import { inspect } from "node:util";
import { describe, it } from "node:test";
import { signCheckpoint, verifyCheckpoint } from "../../src/audit/checkpoint.js";
import { emptyRoot } from "../../src/audit/merkle.js";
import { parseVerifierKey } from "../../src/audit/signed-note.js";
import { AUDIT_KEYS, loadOrCreateSigningKey, readSigningPublicKey, SIGNING_KEY_ID, type StoredSigningKey } from "../../src/audit/signing-key.js";
import { KeyError } from "../../src/crypto/errors.js";
import { MasterKey } from "../../src/crypto/master-key.js";
import { MemoryDatastore } from "../../src/storage/memory/memory-datastore.js";

const NAME = "tenet.example.com/audit";
const isKeyError = (code: string, message?: RegExp) => (err: unknown) => err instanceof KeyError && err.code === code && (message === undefined || message.test(err.message));

describe("audit signing key (sealed at rest)", () => {
  it("is made once, sealed, and loads back as the same key", async () => {
    const ds = new MemoryDatastore();
    const master = MasterKey.generate().key;
    const made = await loadOrCreateSigningKey(ds, master, { name: NAME, now: () => new Date("2025-01-02T03:04:05Z") });
    assert.equal(made.created, true);
    const loaded = await loadOrCreateSigningKey(ds, master, { name: NAME });
    assert.equal(loaded.created, false);
    assert.equal(loaded.key.vkey, made.key.vkey);
    assert.equal(loaded.key.createdAt, "2025-01-02T03:04:05.000Z");
    assert.match(made.key.vkey, /^tenet\.example\.com\/audit\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);

    // A checkpoint signed by the loaded key verifies with the published verifier key.
    const note = signCheckpoint({ origin: NAME, size: 0, rootHash: emptyRoot() }, loaded.key.signer);
    assert.equal(verifyCheckpoint(note, parseVerifierKey(made.key.vkey), { origin: NAME }).size, 0);
    assert.equal(verifyCheckpoint(note, made.key.verifier).size, 0);

    // What is stored: the public key in the clear, the private key sealed.
    const doc = await ds.getDocument<StoredSigningKey>(AUDIT_KEYS, SIGNING_KEY_ID);
    assert.ok(doc);
    assert.deepEqual(Object.keys(doc.body).sort(), ["alg", "createdAt", "keyId", "name", "publicKey", "sealed", "v", "vkey"]);
    assert.equal(doc.body.vkey, made.key.vkey);
    assert.equal(doc.body.sealed.kid, master.id);
    assert.equal(Buffer.from(doc.body.sealed.ciphertext, "base64url").length, 48, "PKCS#8 of an Ed25519 key, encrypted");

    // The returned key does not expose the private key.
    for (const shown of [JSON.stringify(loaded.key), inspect(loaded.key, { showHidden: true, depth: 5 })]) assert.doesNotMatch(shown, /private|pkcs8|BEGIN/i);
  });

  it("replicas starting at once agree on one key", async () => {
    const ds = new MemoryDatastore();
    const master = MasterKey.generate().key;
    const all = await Promise.all(Array.from({ length: 6 }, () => loadOrCreateSigningKey(ds, master, { name: NAME })));
    assert.equal(new Set(all.map((r) => r.key.vkey)).size, 1);
    assert.equal(all.filter((r) => r.created).length, 1);
    const note = signCheckpoint({ origin: NAME, size: 0, rootHash: emptyRoot() }, all[5]!.key.signer);
    assert.equal(verifyCheckpoint(note, all[0]!.key.verifier).size, 0);
  });

  it("with another master key: a clear error", async () => {
    const ds = new MemoryDatastore();
    await loadOrCreateSigningKey(ds, MasterKey.generate().key, { name: NAME });
    await assert.rejects(loadOrCreateSigningKey(ds, MasterKey.generate().key, { name: NAME }), isKeyError("wrong_master_key", /tenet\/audit-signing-key\/v1 was sealed with master key [0-9a-f]{16}, but this master key is/));
  });

  it("refuses a damaged or swapped record", async () => {
    const master = MasterKey.generate().key;
    const setup = async (change: (b: StoredSigningKey) => StoredSigningKey) => {
      const ds = new MemoryDatastore();
      await loadOrCreateSigningKey(ds, master, { name: NAME });
      const doc = (await ds.getDocument<StoredSigningKey>(AUDIT_KEYS, SIGNING_KEY_ID))!;
      await ds.putDocument(AUDIT_KEYS, SIGNING_KEY_ID, change(structuredClone(doc.body)), doc.version);
      return ds;
    };
    const flip = (b64: string) => {
      const raw = Buffer.from(b64, "base64url");
      raw[5] = raw[5]! ^ 1;
      return raw.toString("base64url");
    };
    // Altered ciphertext.
    let ds = await setup((b) => ({ ...b, sealed: { ...b.sealed, ciphertext: flip(b.sealed.ciphertext) } }));
    await assert.rejects(loadOrCreateSigningKey(ds, master, { name: NAME }), isKeyError("unseal_failed"));
    // Another key's public half put in front of this sealed private key.
    const other = await loadOrCreateSigningKey(new MemoryDatastore(), master, { name: NAME });
    ds = await setup((b) => ({ ...b, publicKey: other.key.publicKey.toString("base64"), keyId: other.key.vkey.split("+")[1]!, vkey: other.key.vkey }));
    await assert.rejects(loadOrCreateSigningKey(ds, master, { name: NAME }), isKeyError("malformed", /does not match its stored public key/));
    // A private key sealed by another record (same master key) is refused the same way.
    const otherDoc = await (async () => {
      const d = new MemoryDatastore();
      await loadOrCreateSigningKey(d, master, { name: NAME });
      return (await d.getDocument<StoredSigningKey>(AUDIT_KEYS, SIGNING_KEY_ID))!.body;
    })();
    ds = await setup((b) => ({ ...b, sealed: otherDoc.sealed }));
    await assert.rejects(loadOrCreateSigningKey(ds, master, { name: NAME }), isKeyError("malformed", /does not match/));
    // Inconsistent fields, unknown versions.
    for (const change of [(b: StoredSigningKey) => ({ ...b, keyId: "00000000" }), (b: StoredSigningKey) => ({ ...b, v: 2 as 1 }), (b: StoredSigningKey) => ({ ...b, publicKey: "AAAA" })]) {
      ds = await setup(change);
      await assert.rejects(loadOrCreateSigningKey(ds, master, { name: NAME }), isKeyError("malformed"));
    }
  });

  it("refuses to sign under another name than the one it was made for", async () => {
    const ds = new MemoryDatastore();
    const master = MasterKey.generate().key;
    await loadOrCreateSigningKey(ds, master, { name: NAME });
    await assert.rejects(loadOrCreateSigningKey(ds, master, { name: "tenet.example.com/other" }), isKeyError("name_mismatch", /signs as "tenet\.example\.com\/audit", not "tenet\.example\.com\/other"/));
    await assert.rejects(loadOrCreateSigningKey(ds, master, { name: "bad name" }), TypeError);
  });

  it("reads the public key without the master key", async () => {
    const ds = new MemoryDatastore();
    assert.equal(await readSigningPublicKey(ds), undefined);
    const { key } = await loadOrCreateSigningKey(ds, MasterKey.generate().key, { name: NAME });
    const pub = await readSigningPublicKey(ds);
    assert.equal(pub?.vkey, key.vkey);
    const note = signCheckpoint({ origin: NAME, size: 0, rootHash: emptyRoot() }, key.signer);
    assert.equal(verifyCheckpoint(note, pub!.verifier).origin, NAME);
  });
});
