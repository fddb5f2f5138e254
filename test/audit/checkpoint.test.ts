import assert from "node:assert/strict";
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { describe, it } from "node:test";
import { formatCheckpoint, parseCheckpoint, signCheckpoint, verifyCheckpoint } from "../../src/audit/checkpoint.js";
import { leafHash, rootOf } from "../../src/audit/merkle.js";
import { ed25519KeyId, ed25519Signer, ed25519VerifierKey, formatVerifierKey, hex8, isValidKeyName, NoteError, openNote, parseNote, parseVerifierKey, rawEd25519PublicKey, signNote } from "../../src/audit/signed-note.js";

/**
 * golang.org/x/mod/sumdb/note's documented example (note.go): Peter Neumann's key, given as a
 * signer key `PRIVATE+KEY+<name>+<id>+base64(0x01 || seed)`, the note it signs, the verifier
 * key, and the same note cosigned by EnochRoot.
 */
const PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

/**
 * Real checkpoints of the Go checksum database (sum.golang.org), with its published verifier key
 * (whose base64 contains '+'). The origin is not the key name, and contains spaces.
 */
const SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
const SUMDB_CHECKPOINTS = [
  {
    note: "go.sum database tree\n6476701\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n\n— sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=\n",
    size: 6476701,
    root: "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=",
  },
  {
    note: "go.sum database tree\n65209736\n5+uGFjx6xBZG8ip1+wi77v+grwbhhukIrxEUS8PXvRo=\n\n— sum.golang.org Az3grnbssgK7ubgFX36gVETtNv0U23qxyAhAMai2QUfeGa3nB/akvkMdlUErfcZz7l/R3cVtYspg3dxXABkGZZKdsQ8=\n",
    size: 65209736,
    root: "5+uGFjx6xBZG8ip1+wi77v+grwbhhukIrxEUS8PXvRo=",
  },
];

/** The Ed25519 private key of a sumdb/note signer key (seed wrapped in PKCS#8, RFC 8410). */
function keyFromSkey(skey: string): KeyObject {
  const raw = Buffer.from(skey.split("+").slice(4).join("+"), "base64");
  assert.equal(raw[0], 0x01);
  return createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), raw.subarray(1)]), format: "der", type: "pkcs8" });
}

const reason = (r: string, message?: RegExp) => (err: unknown) => err instanceof NoteError && err.reason === r && err.code === "validation_error" && (message === undefined || message.test(err.message));

const ORIGIN = "tenet.example.com/audit";
const root = rootOf(["a", "b", "c"].map((s) => leafHash(Buffer.from(s))));

function newKey(name = ORIGIN) {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { signer: ed25519Signer(name, privateKey), verifier: ed25519VerifierKey(name, publicKey), privateKey, publicKey };
}

describe("signed notes (C2SP signed-note, golang.org/x/mod/sumdb/note)", () => {
  it("signs the sumdb/note example byte for byte and computes its key ID and verifier key", () => {
    const key = keyFromSkey(PETER_SKEY);
    const signer = ed25519Signer("PeterNeumann", key);
    assert.equal(hex8(signer.keyId), "c74f20a3");
    assert.equal(formatVerifierKey({ name: "PeterNeumann", publicKey: key }), PETER_VKEY);
    assert.equal(signNote(TEXT, signer), `${TEXT}\n${PETER_SIG}`);
  });

  it("computes key IDs as SHA-256(name || 0x0A || 0x01 || public key)[:4]", () => {
    const { publicKey } = generateKeyPairSync("ed25519");
    const raw = rawEd25519PublicKey(publicKey);
    assert.equal(raw.length, 32);
    const expected = createHash("sha256").update(Buffer.concat([Buffer.from("example.com/log\n"), Buffer.of(1), raw])).digest().readUInt32BE(0);
    assert.equal(ed25519KeyId("example.com/log", raw), expected);
    assert.notEqual(ed25519KeyId("example.com/log2", raw), expected, "the name is part of the ID");
  });

  it("verifies the example, with one or both of its signers, ignoring unknown keys", () => {
    const peter = parseVerifierKey(PETER_VKEY);
    const enoch = parseVerifierKey(ENOCH_VKEY);
    assert.equal(hex8(enoch.keyId), "af0cfe78");
    const both = `${TEXT}\n${PETER_SIG}${ENOCH_SIG}`;
    assert.deepEqual(
      openNote(`${TEXT}\n${PETER_SIG}`, peter).verified.map((s) => s.name),
      ["PeterNeumann"],
    );
    assert.deepEqual(
      openNote(both, enoch).verified.map((s) => s.name),
      ["EnochRoot"],
    );
    assert.deepEqual(
      openNote(both, [peter, enoch]).verified.map((s) => s.name),
      ["PeterNeumann", "EnochRoot"],
    );
    assert.equal(openNote(both, peter).text, TEXT);
    assert.throws(() => openNote(`${TEXT}\n${PETER_SIG}`, enoch), reason("unverified", /no signature by a known key/));
    assert.throws(() => openNote(`${TEXT}\n${PETER_SIG}`, []), reason("unverified"));
  });

  it("rejects a note whose known key's signature fails, even when another known key verifies", () => {
    const peter = parseVerifierKey(PETER_VKEY);
    const enoch = parseVerifierKey(ENOCH_VKEY);
    const badEnoch = ENOCH_SIG.replace("Lox33", "Lox34");
    assert.throws(() => openNote(`${TEXT}\n${PETER_SIG}${badEnoch}`, [peter, enoch]), reason("bad_signature", /EnochRoot\+af0cfe78/));
    // ...but a bad signature by a key we do not know is ignored (C2SP: MUST ignore unknown keys).
    assert.equal(openNote(`${TEXT}\n${PETER_SIG}${badEnoch}`, peter).verified.length, 1);
    // Same name, other key ID: another key, ignored.
    const impostor = newKey("PeterNeumann");
    assert.equal(openNote(signNote(TEXT, [impostor.signer, ed25519Signer("PeterNeumann", keyFromSkey(PETER_SKEY))]), peter).verified.length, 1);
  });

  it("parses and formats verifier keys, refusing manglings", () => {
    const v = parseVerifierKey(PETER_VKEY);
    assert.equal(v.name, "PeterNeumann");
    assert.equal(formatVerifierKey(v), PETER_VKEY);
    assert.equal(parseVerifierKey(SUMDB_VKEY).name, "sum.golang.org");
    const bad = [
      "",
      "PeterNeumann",
      "PeterNeumann+c74f20a3",
      "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "PeterNeumann+zzzzzzzz+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=",
      "PeterNeumann+c74f20a3+AhpC2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",
      "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ];
    for (const k of bad) assert.throws(() => parseVerifierKey(k), reason("malformed"), k);
  });

  it("validates key names as the spec says: non-empty, no Unicode spaces, no plus", () => {
    for (const ok of ["example.com/log", "PeterNeumann", "ünïcödé/log", "a"]) assert.equal(isValidKeyName(ok), true, ok);
    for (const bad of ["", "a b", "a+b", "a\tb", "a\u00a0b", "a\u2003b", "a\u3000b", "a\nb", "a\u0001b"]) assert.equal(isValidKeyName(bad), false, JSON.stringify(bad));
  });

  it("refuses malformed notes with a reason", () => {
    const good = `${TEXT}\n${PETER_SIG}`;
    assert.equal(parseNote(good).signatures.length, 1);
    const cases: Array<[string, RegExp]> = [
      [TEXT + PETER_SIG, /no blank line/],
      [`${TEXT}\n`, /no signature lines/],
      [good.slice(0, -1), /must end with a newline/],
      [good.replace("— ", "- "), /em dash/],
      [good.replace("— ", "—"), /em dash/],
      [good.replace("PeterNeumann ", "PeterNeumann"), /name, a space/],
      [good.replace("PeterNeumann ", "Peter+Neumann "), /key name/],
      [good.replace("x08go", "x08g"), /base64/],
      [good.replace("AM=", "AN="), /base64/],
      [`${TEXT}\n— PeterNeumann AAAA\n`, /shorter/],
      [good.replace("\n", "\r\n"), /control character/],
      [good.replace("cryptography", "crypto\u0000graphy"), /control character/],
      [`${TEXT}\n${PETER_SIG.repeat(101)}`, /more than 100/],
      [`${TEXT}\n${PETER_SIG}\n`, /no signature lines/],
      [`${TEXT}\n${"x".repeat(300_000)}`, /larger than/],
    ];
    for (const [note, message] of cases) assert.throws(() => parseNote(note), reason("malformed", message), JSON.stringify(note.slice(0, 80)));
    assert.throws(() => parseNote(Buffer.concat([Buffer.from(TEXT), Buffer.of(0xff), Buffer.from(`\n\n${PETER_SIG}`)])), reason("malformed", /UTF-8/));
    assert.throws(() => parseNote(`${TEXT.slice(0, 5)}\ud800${TEXT.slice(5)}\n${PETER_SIG}`), reason("malformed", /UTF-8/));
    assert.equal(parseNote(Buffer.from(good)).text, TEXT, "bytes are accepted too");
    // The text may contain blank lines: it ends at the last one.
    const multi = signNote("a\n\nb\n", ed25519Signer("PeterNeumann", keyFromSkey(PETER_SKEY)));
    assert.equal(openNote(multi, parseVerifierKey(PETER_VKEY)).text, "a\n\nb\n");
  });

  it("verifies at least 16 signatures", () => {
    const keys = Array.from({ length: 16 }, (_, i) => newKey(`witness${i}.example`));
    const note = signNote(TEXT, keys.map((k) => k.signer));
    assert.equal(openNote(note, keys.map((k) => k.verifier)).verified.length, 16);
  });
});

describe("checkpoints (C2SP tlog-checkpoint)", () => {
  it("verifies real sum.golang.org checkpoints with the published key", () => {
    const key = parseVerifierKey(SUMDB_VKEY);
    for (const c of SUMDB_CHECKPOINTS) {
      const cp = verifyCheckpoint(c.note, key);
      assert.equal(cp.origin, "go.sum database tree");
      assert.equal(cp.size, c.size);
      assert.equal(cp.rootHash.toString("base64"), c.root);
      assert.deepEqual(cp.extensions, []);
      assert.equal(verifyCheckpoint(Buffer.from(c.note), key, { origin: "go.sum database tree" }).size, c.size);
    }
    const [a, b] = [SUMDB_CHECKPOINTS[0]!, SUMDB_CHECKPOINTS[1]!];
    // Another checkpoint's size or root under this signature.
    assert.throws(() => verifyCheckpoint(a.note.replace("6476701", "6476702"), key), reason("bad_signature"));
    assert.throws(() => verifyCheckpoint(a.note.split("\n\n")[0] + "\n\n" + b.note.split("\n\n")[1], key), reason("bad_signature"));
  });

  it("signs and verifies a round trip, as text and as bytes", () => {
    const k = newKey();
    const note = signCheckpoint({ origin: ORIGIN, size: 3, rootHash: root }, k.signer);
    assert.equal(note, `${ORIGIN}\n3\n${root.toString("base64")}\n\n— ${ORIGIN} ${note.split(" ").pop()}`);
    const cp = verifyCheckpoint(note, k.verifier, { origin: ORIGIN });
    assert.deepEqual({ origin: cp.origin, size: cp.size, rootHash: cp.rootHash }, { origin: ORIGIN, size: 3, rootHash: root });
    assert.deepEqual(verifyCheckpoint(Buffer.from(note, "utf8"), parseVerifierKey(formatVerifierKey({ name: ORIGIN, publicKey: k.publicKey }))).rootHash, root);
    const parsed = parseCheckpoint(note);
    assert.equal(parsed.text, formatCheckpoint({ origin: ORIGIN, size: 3, rootHash: root }));
    assert.equal(parsed.signatures[0]!.keyId, k.signer.keyId);
    // The empty tree, and extension lines.
    const empty = signCheckpoint({ origin: ORIGIN, size: 0, rootHash: rootOf([]), extensions: ["ext one", "ext2"] }, k.signer);
    const e = verifyCheckpoint(empty, k.verifier);
    assert.equal(e.size, 0);
    assert.deepEqual(e.extensions, ["ext one", "ext2"]);
    // Other signers (witnesses, a rotated key) may sign too.
    const witness = newKey("witness.example");
    const cosigned = signCheckpoint({ origin: ORIGIN, size: 3, rootHash: root }, [k.signer, witness.signer]);
    assert.equal(verifyCheckpoint(cosigned, k.verifier).verified.length, 1);
    assert.equal(verifyCheckpoint(cosigned, [k.verifier, witness.verifier]).verified.length, 2);
  });

  it("rejects tampered checkpoints: size, root, origin, signature, key name", () => {
    const k = newKey();
    const note = signCheckpoint({ origin: ORIGIN, size: 3, rootHash: root }, k.signer);
    const [body, sig] = note.split("\n\n") as [string, string];
    const otherRoot = rootOf(["a", "b", "d"].map((s) => leafHash(Buffer.from(s))));
    const flipSig = (s: string) => {
      const [dash, name, b64] = s.split(" ") as [string, string, string];
      const raw = Buffer.from(b64, "base64");
      raw[10] = raw[10]! ^ 1;
      return `${dash} ${name} ${raw.toString("base64")}\n`;
    };
    assert.throws(() => verifyCheckpoint(note.replace("\n3\n", "\n4\n"), k.verifier), reason("bad_signature"));
    assert.throws(() => verifyCheckpoint(note.replace(root.toString("base64"), otherRoot.toString("base64")), k.verifier), reason("bad_signature"));
    assert.throws(() => verifyCheckpoint(note.replace(ORIGIN, "tenet.example.com/other"), k.verifier), reason("bad_signature"));
    assert.throws(() => verifyCheckpoint(`${body}\n\n${flipSig(sig)}`, k.verifier), reason("bad_signature"));
    assert.throws(() => verifyCheckpoint(`${body}\nextra\n\n${sig}`, k.verifier), reason("bad_signature"), "an added extension line");
    // A renamed key is another key: unknown, so nothing verifies.
    assert.throws(() => verifyCheckpoint(note.replace(`— ${ORIGIN} `, "— tenet.example.com/x "), k.verifier), reason("unverified"));
    assert.throws(() => verifyCheckpoint(note, newKey().verifier), reason("unverified"));
    // Signed by the right key, but for another log.
    assert.throws(() => verifyCheckpoint(note, k.verifier, { origin: "tenet.example.com/other" }), reason("wrong_origin"));
  });

  it("refuses malformed checkpoint bodies, even when signed", () => {
    const k = newKey();
    const b64 = root.toString("base64");
    const cases: Array<[string, RegExp]> = [
      [`${ORIGIN}\n3\n`, /needs origin, tree size and root hash/],
      [`\n3\n${b64}\n`, /origin\) is empty/],
      [`${ORIGIN}\n03\n${b64}\n`, /leading zeros/],
      [`${ORIGIN}\n-3\n${b64}\n`, /decimal/],
      [`${ORIGIN}\n3.0\n${b64}\n`, /decimal/],
      [`${ORIGIN}\n 3\n${b64}\n`, /decimal/],
      [`${ORIGIN}\n\n${b64}\n`, /decimal/],
      [`${ORIGIN}\n9007199254740993\n${b64}\n`, /too large/],
      [`${ORIGIN}\n3\n${b64.slice(0, -1)}\n`, /base64/],
      [`${ORIGIN}\n3\n${root.toString("base64url")}\n`, /base64/],
      [`${ORIGIN}\n3\n${Buffer.alloc(31).toString("base64")}\n`, /31 bytes/],
      [`${ORIGIN}\n3\n${b64}\n\next\n`, /line 4 \(extension\) is empty/],
    ];
    for (const [text, message] of cases) {
      const note = signNote(text, k.signer);
      assert.throws(() => parseCheckpoint(note), reason("malformed", message), JSON.stringify(text));
      assert.throws(() => verifyCheckpoint(note, k.verifier), reason("malformed", message), JSON.stringify(text));
    }
  });

  it("refuses to sign a checkpoint that could not be parsed back", () => {
    const k = newKey();
    assert.throws(() => signCheckpoint({ origin: "", size: 1, rootHash: root }, k.signer), TypeError);
    assert.throws(() => signCheckpoint({ origin: "a\nb", size: 1, rootHash: root }, k.signer), TypeError);
    assert.throws(() => signCheckpoint({ origin: ORIGIN, size: -1, rootHash: root }, k.signer), TypeError);
    assert.throws(() => signCheckpoint({ origin: ORIGIN, size: 1.5, rootHash: root }, k.signer), TypeError);
    assert.throws(() => signCheckpoint({ origin: ORIGIN, size: 1, rootHash: root.subarray(1) }, k.signer), TypeError);
    assert.throws(() => signCheckpoint({ origin: ORIGIN, size: 1, rootHash: root, extensions: [""] }, k.signer), TypeError);
    assert.throws(() => signCheckpoint({ origin: ORIGIN, size: 1, rootHash: root }, []), TypeError);
    assert.throws(() => ed25519Signer("bad name", k.privateKey), TypeError);
    assert.throws(() => ed25519Signer(ORIGIN, k.publicKey), TypeError);
  });
});
