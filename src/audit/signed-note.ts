/**
 * C2SP signed notes (c2sp.org/signed-note, the format of golang.org/x/mod/sumdb/note) with
 * Ed25519 keys: a text ending in a newline, a blank line, then one line per signature,
 * `— <key name> <base64(4-byte key ID || signature)>`. And verifier keys, the published form of a
 * public key: `<name>+<8 hex key ID>+<base64(0x01 || 32-byte Ed25519 public key)>`.
 *
 * Parsing is strict (a note that Go's note.Open would refuse is refused here, and non-canonical
 * base64 too). Verification follows the spec: signatures by unknown keys are ignored, a
 * signature by a known key that fails rejects the whole note, and at least one known key must
 * have signed.
 */
import { createHash, createPublicKey, KeyObject, sign, verify } from "node:crypto";
import { TenetError } from "../errors.js";

/** The signature type byte of Ed25519 (signed-note §Signature types). */
export const ED25519_TYPE = 0x01;
/** More signature lines than this and the note is refused (Go's limit; the spec asks for >= 16). */
export const MAX_SIGNATURES = 100;
/** Larger notes are refused before anything else is done with them. */
export const MAX_NOTE_BYTES = 256 * 1024;

export type NoteErrorReason =
  /** Not a well-formed note (or checkpoint): the message says what is wrong. */
  | "malformed"
  /** No signature by any of the keys given. */
  | "unverified"
  /** A signature by a known key that does not verify. */
  | "bad_signature"
  /** A checkpoint of another log (the origin line is not the one expected). */
  | "wrong_origin";

export class NoteError extends TenetError {
  readonly reason: NoteErrorReason;

  constructor(reason: NoteErrorReason, message: string) {
    super("validation_error", message);
    this.reason = reason;
  }
}

/** Signs note texts as one key. The private key stays inside `sign`. */
export interface NoteSigner {
  readonly name: string;
  /** The 32-bit key ID (big-endian first bytes of the signature). */
  readonly keyId: number;
  sign(text: Uint8Array): Uint8Array;
}

/** A public key able to check signatures, from a verifier key string or a KeyObject. */
export interface VerifierKey {
  readonly name: string;
  readonly keyId: number;
  /** The raw 32-byte Ed25519 public key. */
  readonly publicKey: Buffer;
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

export interface NoteSignature {
  name: string;
  keyId: number;
  /** The signature bytes (without the key ID). */
  signature: Buffer;
}

export interface Note {
  /** Everything before the blank line, its final newline included: the signed bytes. */
  text: string;
  signatures: NoteSignature[];
}

export interface OpenedNote extends Note {
  /** The signatures by the keys given, all verified. */
  verified: NoteSignature[];
}

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const EM_DASH_SPACE = "\u2014 ";
// A lone surrogate: a JS string that has no UTF-8 encoding.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// Unicode White_Space is the set Go's unicode.IsSpace tests.
const NAME_FORBIDDEN = /[\p{White_Space}+]/u;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// The SPKI DER prefix of an Ed25519 public key (RFC 8410): raw key -> KeyObject.
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

/** Key names: non-empty, no Unicode spaces, no plus (signed-note §Format). */
export function isValidKeyName(name: unknown): name is string {
  return typeof name === "string" && name !== "" && !NAME_FORBIDDEN.test(name) && !LONE_SURROGATE.test(name) && controlCharacter(name) < 0;
}

/** key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4], big-endian. */
export function ed25519KeyId(name: string, publicKey: Uint8Array): number {
  if (!isValidKeyName(name)) throw new TypeError("key name must be non-empty, without spaces or '+'");
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) throw new TypeError("publicKey must be the 32-byte Ed25519 public key");
  return createHash("sha256").update(name).update(Uint8Array.of(0x0a, ED25519_TYPE)).update(publicKey).digest().readUInt32BE(0);
}

/** The raw 32-byte public key of an Ed25519 KeyObject (public or private). */
export function rawEd25519PublicKey(key: KeyObject): Buffer {
  if (!(key instanceof KeyObject) || key.asymmetricKeyType !== "ed25519") throw new TypeError("expected an Ed25519 key");
  const pub = key.type === "private" ? createPublicKey(key) : key;
  const der = pub.export({ format: "der", type: "spki" });
  return Buffer.from(der.subarray(der.length - 32));
}

/** A signer for `name` with an Ed25519 private key (node:crypto KeyObject). */
export function ed25519Signer(name: string, privateKey: KeyObject): NoteSigner {
  if (!(privateKey instanceof KeyObject) || privateKey.type !== "private" || privateKey.asymmetricKeyType !== "ed25519") {
    throw new TypeError("privateKey must be an Ed25519 private KeyObject");
  }
  const keyId = ed25519KeyId(name, rawEd25519PublicKey(privateKey));
  return Object.freeze({ name, keyId, sign: (text: Uint8Array) => sign(null, text, privateKey) });
}

/** A verifier for `name` with an Ed25519 public key (a KeyObject or the raw 32 bytes). */
export function ed25519VerifierKey(name: string, publicKey: KeyObject | Uint8Array): VerifierKey {
  const raw = publicKey instanceof KeyObject ? rawEd25519PublicKey(publicKey) : Buffer.from(publicKey);
  const keyId = ed25519KeyId(name, raw);
  const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, raw]), format: "der", type: "spki" });
  return Object.freeze({
    name,
    keyId,
    publicKey: raw,
    verify: (text: Uint8Array, signature: Uint8Array) => signature.length === 64 && verify(null, text, key, signature),
  });
}

/** The verifier key string: `<name>+<hex key ID>+<base64(0x01 || public key)>` (sumdb/note). */
export function formatVerifierKey(key: { name: string; publicKey: KeyObject | Uint8Array }): string {
  const v = ed25519VerifierKey(key.name, key.publicKey);
  return `${v.name}+${hex8(v.keyId)}+${Buffer.concat([Uint8Array.of(ED25519_TYPE), v.publicKey]).toString("base64")}`;
}

/** Parses a verifier key string; throws NoteError("malformed") saying what is wrong. */
export function parseVerifierKey(vkey: string): VerifierKey {
  if (typeof vkey !== "string") throw new NoteError("malformed", "verifier key must be a string");
  // The name ends at the first '+', the ID at the second; the key's base64 may contain '+'.
  const plus1 = vkey.indexOf("+");
  const plus2 = plus1 < 0 ? -1 : vkey.indexOf("+", plus1 + 1);
  if (plus2 < 0) throw new NoteError("malformed", "verifier key must be <name>+<key id>+<key>");
  const name = vkey.slice(0, plus1);
  const id = vkey.slice(plus1 + 1, plus2);
  const key64 = vkey.slice(plus2 + 1);
  if (!isValidKeyName(name)) throw new NoteError("malformed", "verifier key name must be non-empty, without spaces or '+'");
  if (!/^[0-9a-f]{8}$/i.test(id)) throw new NoteError("malformed", "verifier key id must be 8 hex digits");
  const key = decodeBase64(key64);
  if (key === undefined || key.length === 0) throw new NoteError("malformed", "verifier key must end in standard base64");
  if (key[0] !== ED25519_TYPE) throw new NoteError("malformed", `verifier key type 0x${key[0]!.toString(16).padStart(2, "0")} is not supported (only Ed25519, 0x01)`);
  if (key.length !== 33) throw new NoteError("malformed", "an Ed25519 verifier key holds 32 bytes after the type byte");
  const v = ed25519VerifierKey(name, key.subarray(1));
  if (v.keyId !== parseInt(id, 16)) throw new NoteError("malformed", `verifier key id ${id} is not the id of its name and key (${hex8(v.keyId)})`);
  return v;
}

/** Signs `text` (ending in a newline) and returns the note. */
export function signNote(text: string, signers: NoteSigner | readonly NoteSigner[]): string {
  const list = Array.isArray(signers) ? (signers as readonly NoteSigner[]) : [signers as NoteSigner];
  if (typeof text !== "string" || !text.endsWith("\n")) throw new TypeError("note text must end with a newline");
  if (controlCharacter(text) >= 0 || LONE_SURROGATE.test(text)) throw new TypeError("note text must be valid UTF-8 without control characters other than newline");
  if (list.length === 0) throw new TypeError("a note needs at least one signer");
  const bytes = encoder.encode(text);
  const lines = list.map((s) => {
    if (!isValidKeyName(s.name)) throw new TypeError(`signer name ${JSON.stringify(s.name)} is not a valid key name`);
    const id = Buffer.alloc(4);
    id.writeUInt32BE(s.keyId >>> 0);
    return `${EM_DASH_SPACE}${s.name} ${Buffer.concat([id, s.sign(bytes)]).toString("base64")}\n`;
  });
  return `${text}\n${lines.join("")}`;
}

/** Parses a signed note without checking signatures; throws NoteError("malformed"). */
export function parseNote(note: string | Uint8Array): Note {
  const str = noteString(note);
  // The text ends at the last blank line (it may contain blank lines of its own).
  const split = str.lastIndexOf("\n\n");
  if (split < 0) throw malformed("no blank line between the text and the signatures");
  const text = str.slice(0, split + 1);
  const block = str.slice(split + 2);
  if (block === "") throw malformed("no signature lines after the last blank line");
  if (!block.endsWith("\n")) throw malformed("the signature lines must end with a newline");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw malformed(`more than ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map((line, i) => {
    const where = `signature line ${i + 1}`;
    if (!line.startsWith(EM_DASH_SPACE)) throw malformed(`${where} does not start with an em dash (U+2014) and a space`);
    const rest = line.slice(EM_DASH_SPACE.length);
    const space = rest.indexOf(" ");
    if (space < 0) throw malformed(`${where} needs a key name, a space and a base64 signature`);
    const name = rest.slice(0, space);
    if (!isValidKeyName(name)) throw malformed(`${where}: the key name must be non-empty, without spaces or '+'`);
    const raw = decodeBase64(rest.slice(space + 1));
    if (raw === undefined) throw malformed(`${where}: the signature is not standard base64`);
    if (raw.length < 5) throw malformed(`${where}: the signature is shorter than a key ID and one byte`);
    return { name, keyId: raw.readUInt32BE(0), signature: Buffer.from(raw.subarray(4)) };
  });
  return { text, signatures };
}

/**
 * Parses a note and checks its signatures against `keys`: a known key's bad signature rejects
 * the note (NoteError "bad_signature"), unknown keys are ignored, and at least one known key must
 * have signed (else "unverified").
 */
export function openNote(note: string | Uint8Array, keys: VerifierKey | readonly VerifierKey[]): OpenedNote {
  const parsed = parseNote(note);
  return { ...parsed, verified: verifyNoteSignatures(parsed, keys) };
}

/** The signature checks of openNote on an already parsed note; returns the verified signatures. */
export function verifyNoteSignatures(parsed: Note, keys: VerifierKey | readonly VerifierKey[]): NoteSignature[] {
  const list = Array.isArray(keys) ? (keys as readonly VerifierKey[]) : [keys as VerifierKey];
  const text = encoder.encode(parsed.text);
  const verified: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const sig of parsed.signatures) {
    const key = list.find((k) => k.name === sig.name && k.keyId === sig.keyId);
    if (key === undefined) continue;
    const id = `${sig.name}+${hex8(sig.keyId)}`;
    // A key's repeated signatures count once (as in Go's note.Open).
    if (seen.has(id)) continue;
    seen.add(id);
    if (!key.verify(text, sig.signature)) throw new NoteError("bad_signature", `the signature by ${id} does not verify`);
    verified.push(sig);
  }
  if (verified.length === 0) {
    const known = list.map((k) => `${k.name}+${hex8(k.keyId)}`).join(", ") || "none";
    throw new NoteError("unverified", `the note has no signature by a known key (known: ${known})`);
  }
  return verified;
}

/** The offset of the first ASCII control character other than newline (signed-note §Format), or -1. */
export function controlCharacter(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) return i;
  }
  return -1;
}

/** The key ID as the 8 lower-case hex digits used in verifier keys. */
export function hex8(keyId: number): string {
  return (keyId >>> 0).toString(16).padStart(8, "0");
}

function noteString(note: string | Uint8Array): string {
  let str: string;
  if (typeof note === "string") {
    if (note.length > MAX_NOTE_BYTES) throw malformed(`larger than ${MAX_NOTE_BYTES} bytes`);
    if (LONE_SURROGATE.test(note)) throw malformed("not valid UTF-8");
    str = note;
  } else if (note instanceof Uint8Array) {
    if (note.length > MAX_NOTE_BYTES) throw malformed(`larger than ${MAX_NOTE_BYTES} bytes`);
    try {
      str = strictUtf8.decode(note);
    } catch {
      throw malformed("not valid UTF-8");
    }
  } else {
    throw new TypeError("note must be a string or bytes");
  }
  const bad = controlCharacter(str);
  if (bad >= 0) throw malformed(`control character U+${str.charCodeAt(bad).toString(16).padStart(4, "0")} at offset ${bad}`);
  return str;
}

/** Standard base64 with padding, canonical (what encoders produce); undefined otherwise. */
export function decodeBase64(s: string): Buffer | undefined {
  if (!BASE64.test(s)) return undefined;
  const buf = Buffer.from(s, "base64");
  return buf.toString("base64") === s ? buf : undefined;
}

function malformed(what: string): NoteError {
  return new NoteError("malformed", `malformed signed note: ${what}`);
}
