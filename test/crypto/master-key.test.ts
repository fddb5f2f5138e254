import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { after, before, describe, it } from "node:test";
import { KeyError } from "../../src/crypto/errors.js";
import { loadMasterKey, MASTER_KEY_ENV, MasterKey, type SealedBox } from "../../src/crypto/master-key.js";

const PURPOSE = "tenet/audit-signing-key/v1";
const isKeyError = (code: string, message?: RegExp) => (err: unknown) => err instanceof KeyError && err.code === code && (message === undefined || message.test(err.message));
const posix = process.platform !== "win32";

describe("master key", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tenet-master-key-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  describe("from TENET_MASTER_KEY", () => {
    const bytes = randomBytes(32);

    it("accepts base64 and base64url, with or without padding and surrounding whitespace", async () => {
      const ids = new Set<string>();
      for (const text of [bytes.toString("base64"), bytes.toString("base64").replace(/=+$/, ""), bytes.toString("base64url"), `${bytes.toString("base64url")}=`, ` ${bytes.toString("base64")}\n`]) {
        const loaded = await loadMasterKey({ dataDir: join(dir, "unused"), env: { [MASTER_KEY_ENV]: text } });
        assert.equal(loaded.source, "env");
        assert.equal(loaded.created, false);
        ids.add(loaded.key.id);
      }
      assert.deepEqual([...ids], [MasterKey.fromBytes(bytes).id], "one key, one id");
      await assert.rejects(stat(join(dir, "unused")), /ENOENT/, "no file is created when the variable is set");
    });

    it("refuses anything but 32 bytes, naming the variable and never echoing the value", async () => {
      const secretish = randomBytes(31).toString("base64");
      for (const text of [secretish, randomBytes(33).toString("base64"), "not base64 at all!", `${bytes.toString("base64").slice(0, -2)}x=`, bytes.toString("hex"), `-+${bytes.toString("base64url").slice(2)}`]) {
        await assert.rejects(loadMasterKey({ dataDir: dir, env: { [MASTER_KEY_ENV]: text } }), (err: unknown) => {
          assert.ok(isKeyError("invalid_master_key", /TENET_MASTER_KEY must be 32 random bytes in base64 or base64url/)(err), String(err));
          assert.ok(!(err as Error).message.includes(text.trim()), "the value is not in the message");
          return true;
        });
      }
    });
  });

  describe("from <data dir>/master.key", () => {
    it("creates the file on first use (0600 in a 0700 directory) and reads it afterwards", async () => {
      const dataDir = join(dir, "fresh", "data");
      const first = await loadMasterKey({ dataDir, env: {} });
      assert.equal(first.source, "file");
      assert.equal(first.created, true);
      assert.equal(first.file, join(dataDir, "master.key"));
      assert.deepEqual(first.warnings, []);
      if (posix) {
        assert.equal((await stat(first.file!)).mode & 0o777, 0o600);
        assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
      }
      assert.equal(Buffer.from((await readFile(first.file!, "utf8")).trim(), "base64").length, 32);
      const again = await loadMasterKey({ dataDir, env: { [MASTER_KEY_ENV]: "" } });
      assert.equal(again.created, false, "an empty variable means unset");
      assert.equal(again.key.id, first.key.id);
      assert.deepEqual(again.key.open(PURPOSE, first.key.seal(PURPOSE, Buffer.from("hello"))), Buffer.from("hello"));
    });

    it("agrees on one key when several processes start at once", async () => {
      const dataDir = join(dir, "race");
      const all = await Promise.all(Array.from({ length: 8 }, () => loadMasterKey({ dataDir, env: {} })));
      assert.equal(new Set(all.map((l) => l.key.id)).size, 1);
      assert.equal(all.filter((l) => l.created).length, 1);
      const left = (await import("node:fs/promises")).readdir(dataDir);
      assert.deepEqual(await left, ["master.key"], "no temporary files left behind");
    });

    it("refuses a damaged file, naming it", async () => {
      const dataDir = join(dir, "damaged");
      await loadMasterKey({ dataDir, env: {} });
      await writeFile(join(dataDir, "master.key"), "abc\n");
      await assert.rejects(loadMasterKey({ dataDir, env: {} }), isKeyError("invalid_master_key", /damaged[/\\]master\.key must be 32 random bytes/));
    });

    it("warns about a key file others can read", { skip: !posix }, async () => {
      const dataDir = join(dir, "loose");
      const { file } = await loadMasterKey({ dataDir, env: {} });
      await chmod(file!, 0o644);
      const loaded = await loadMasterKey({ dataDir, env: {} });
      assert.match(loaded.warnings.join("\n"), /readable or writable by others \(mode 0644\): run chmod 600/);
    });

    it("reports a file it cannot read", { skip: !posix || process.getuid?.() === 0 }, async () => {
      const dataDir = join(dir, "locked");
      const { file } = await loadMasterKey({ dataDir, env: {} });
      await chmod(file!, 0o000);
      await assert.rejects(loadMasterKey({ dataDir, env: {} }), isKeyError("master_key_unavailable", /cannot read .*EACCES/));
    });
  });

  describe("sealing (AES-256-GCM)", () => {
    const key = MasterKey.generate().key;
    const secret = Buffer.from("the private key bytes");

    it("round-trips, with a fresh nonce each time", () => {
      const a = key.seal(PURPOSE, secret);
      const b = key.seal(PURPOSE, secret);
      assert.equal(a.v, 1);
      assert.equal(a.alg, "A256GCM");
      assert.equal(a.kid, key.id);
      assert.equal(Buffer.from(a.nonce, "base64url").length, 12);
      assert.equal(Buffer.from(a.tag, "base64url").length, 16);
      assert.notEqual(a.nonce, b.nonce);
      assert.notEqual(a.ciphertext, b.ciphertext);
      assert.ok(!JSON.stringify(a).includes(secret.toString("base64url")));
      assert.deepEqual(key.open(PURPOSE, JSON.parse(JSON.stringify(a))), secret, "survives JSON storage");
      assert.deepEqual(key.open(PURPOSE, key.seal(PURPOSE, new Uint8Array(0))), Buffer.alloc(0));
    });

    it("a different master key fails with a clear error, not an OpenSSL stack", () => {
      const other = MasterKey.generate().key;
      const box = key.seal(PURPOSE, secret);
      assert.throws(() => other.open(PURPOSE, box), (err: unknown) => {
        assert.ok(isKeyError("wrong_master_key", new RegExp(`sealed with master key ${key.id}, but this master key is ${other.id}: TENET_MASTER_KEY or master.key changed`))(err), String(err));
        assert.equal((err as Error).cause, undefined);
        return true;
      });
      // Even if the stored key id is forged to match, the other key cannot open it.
      assert.throws(() => other.open(PURPOSE, { ...box, kid: other.id }), (err: unknown) => {
        assert.ok(isKeyError("unseal_failed", /does not open with master key .*: it was altered, or sealed for another purpose/)(err), String(err));
        assert.doesNotMatch((err as Error).message, /ssl|bad decrypt|unable to authenticate/i);
        assert.equal((err as Error).cause, undefined);
        return true;
      });
    });

    it("rejects tampered ciphertext, tag or nonce, and another purpose", () => {
      const box = key.seal(PURPOSE, secret);
      const tweak = (b64: string) => {
        const raw = Buffer.from(b64, "base64url");
        raw[0] = raw[0]! ^ 1;
        return raw.toString("base64url");
      };
      for (const tampered of [{ ...box, ciphertext: tweak(box.ciphertext) }, { ...box, tag: tweak(box.tag) }, { ...box, nonce: tweak(box.nonce) }]) {
        assert.throws(() => key.open(PURPOSE, tampered), isKeyError("unseal_failed"));
      }
      assert.throws(() => key.open("tenet/something-else/v1", box), isKeyError("unseal_failed"));
    });

    it("rejects what is not a sealed box", () => {
      const box = key.seal(PURPOSE, secret);
      const bad: unknown[] = [
        null,
        "box",
        42,
        { ...box, v: 2 },
        { ...box, alg: "A128GCM" },
        { ...box, tag: box.tag.slice(0, 12) }, // a truncated tag is refused, not accepted as shorter
        { ...box, nonce: Buffer.alloc(16).toString("base64url") },
        { ...box, ciphertext: "not base64url!" },
        { ...box, kid: "../../etc" },
        { ...box, ciphertext: undefined },
      ];
      for (const b of bad) assert.throws(() => key.open(PURPOSE, b as SealedBox), isKeyError("malformed"), JSON.stringify(b));
    });

    it("never shows the key: not in JSON, not in inspect", () => {
      const bytes = randomBytes(32);
      const k = MasterKey.fromBytes(bytes);
      for (const shown of [JSON.stringify(k), inspect(k, { showHidden: true, depth: 5 }), String(k)]) {
        assert.ok(!shown.includes(bytes.toString("hex")) && !shown.includes(bytes.toString("base64")), shown);
      }
      assert.deepEqual(JSON.parse(JSON.stringify(k)), { id: k.id });
      assert.throws(() => MasterKey.fromBytes(randomBytes(16)), TypeError);
    });
  });
});
