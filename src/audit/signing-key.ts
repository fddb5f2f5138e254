/**
 * The audit log's checkpoint signing key: an Ed25519 key made once per deployment, stored as one
 * document (collection `audit-keys`, id `checkpoint-signer`) holding the public key in the clear
 * (and its published verifier key) and the private key (PKCS#8 DER) sealed with the master key.
 *
 * Replicas starting together race to create it: each writes with expected version 0, the storage
 * lets exactly one win (DocumentConflict for the others), and the losers load the winner's key.
 * The private key never leaves this module and the signer it returns: it is not logged, not
 * returned, and its unsealed bytes are zeroed once imported.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { KeyError } from "../crypto/errors.js";
import type { MasterKey, SealedBox } from "../crypto/master-key.js";
import { DocumentConflict, type DocumentsBackend } from "../storage/interfaces.js";
import { decodeBase64, ed25519Signer, ed25519VerifierKey, formatVerifierKey, hex8, isValidKeyName, type NoteSigner, rawEd25519PublicKey, type VerifierKey } from "./signed-note.js";

export const AUDIT_KEYS = "audit-keys";
export const SIGNING_KEY_ID = "checkpoint-signer";
/** Associated data of the sealed private key: it opens for nothing else. */
export const SIGNING_KEY_PURPOSE = "tenet/audit-signing-key/v1";

/** The stored document (JSON). */
export interface StoredSigningKey {
  v: 1;
  alg: "ed25519";
  /** The key name in signature lines (the log's origin). */
  name: string;
  /** The note key ID, 8 hex digits. */
  keyId: string;
  /** The raw 32-byte public key, base64. */
  publicKey: string;
  /** `<name>+<key id>+<base64(0x01 || public key)>`, to publish. */
  vkey: string;
  sealed: SealedBox;
  createdAt: string;
}

export interface AuditSigningKey {
  readonly name: string;
  readonly keyId: number;
  /** The raw 32-byte public key. */
  readonly publicKey: Buffer;
  /** The verifier key string to publish (sumdb/note format). */
  readonly vkey: string;
  /** Signs notes (checkpoints) with the private key, which it keeps to itself. */
  readonly signer: NoteSigner;
  readonly verifier: VerifierKey;
  readonly createdAt: string;
}

/**
 * Loads the signing key, creating it on first use with key name `name` (the log's origin).
 * Throws KeyError if the stored key cannot be opened with this master key, is damaged, or was
 * made for another name.
 */
export async function loadOrCreateSigningKey(
  docs: DocumentsBackend,
  master: MasterKey,
  opts: { name: string; now?: () => Date },
): Promise<{ key: AuditSigningKey; created: boolean }> {
  if (!isValidKeyName(opts.name)) throw new TypeError("the signing key name must be non-empty, without spaces or '+'");
  const existing = await docs.getDocument(AUDIT_KEYS, SIGNING_KEY_ID);
  if (existing) return { key: openStored(existing.body, master, opts.name), created: false };

  const { privateKey } = generateKeyPairSync("ed25519");
  const raw = rawEd25519PublicKey(privateKey);
  const der = privateKey.export({ format: "der", type: "pkcs8" });
  const createdAt = (opts.now?.() ?? new Date()).toISOString();
  const body: StoredSigningKey = {
    v: 1,
    alg: "ed25519",
    name: opts.name,
    keyId: hex8(ed25519VerifierKey(opts.name, raw).keyId),
    publicKey: raw.toString("base64"),
    vkey: formatVerifierKey({ name: opts.name, publicKey: raw }),
    sealed: master.seal(SIGNING_KEY_PURPOSE, der),
    createdAt,
  };
  der.fill(0);
  try {
    await docs.putDocument(AUDIT_KEYS, SIGNING_KEY_ID, body, 0);
  } catch (err) {
    if (!(err instanceof DocumentConflict)) throw err;
    // Another replica made it first: everyone signs with the winner's key.
    const winner = await docs.getDocument(AUDIT_KEYS, SIGNING_KEY_ID);
    if (!winner) throw err;
    return { key: openStored(winner.body, master, opts.name), created: false };
  }
  return { key: signingKey(opts.name, privateKey, createdAt), created: true };
}

/**
 * The stored public key, without the master key (e.g. for `tenet audit verify`). It comes from
 * the same database as the log, so it proves only that checkpoints were signed by whoever holds
 * the stored key: compare `vkey` with the one published when the key was made.
 */
export async function readSigningPublicKey(docs: DocumentsBackend): Promise<{ vkey: string; verifier: VerifierKey; createdAt: string } | undefined> {
  const doc = await docs.getDocument(AUDIT_KEYS, SIGNING_KEY_ID);
  if (!doc) return undefined;
  const stored = checkStored(doc.body);
  return { vkey: stored.vkey, verifier: ed25519VerifierKey(stored.name, stored.raw), createdAt: stored.createdAt };
}

function openStored(body: unknown, master: MasterKey, name: string): AuditSigningKey {
  const stored = checkStored(body);
  if (stored.name !== name) {
    throw new KeyError(
      "name_mismatch",
      `the audit signing key in ${AUDIT_KEYS}/${SIGNING_KEY_ID} signs as ${JSON.stringify(stored.name)}, not ${JSON.stringify(name)}: configure the log name back (checkpoints already published carry the old name)`,
    );
  }
  const der = master.open(SIGNING_KEY_PURPOSE, stored.sealed);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  } catch {
    throw new KeyError("malformed", `the sealed audit signing key in ${AUDIT_KEYS}/${SIGNING_KEY_ID} is not a private key`);
  } finally {
    der.fill(0);
  }
  if (privateKey.asymmetricKeyType !== "ed25519" || !rawEd25519PublicKey(privateKey).equals(stored.raw)) {
    throw new KeyError("malformed", `the sealed audit signing key in ${AUDIT_KEYS}/${SIGNING_KEY_ID} does not match its stored public key`);
  }
  return signingKey(stored.name, privateKey, stored.createdAt);
}

function signingKey(name: string, privateKey: KeyObject, createdAt: string): AuditSigningKey {
  const signer = ed25519Signer(name, privateKey);
  const verifier = ed25519VerifierKey(name, rawEd25519PublicKey(privateKey));
  return Object.freeze({ name, keyId: signer.keyId, publicKey: verifier.publicKey, vkey: formatVerifierKey({ name, publicKey: verifier.publicKey }), signer, verifier, createdAt });
}

function checkStored(body: unknown): StoredSigningKey & { raw: Buffer } {
  const b = body as Partial<StoredSigningKey> | null;
  const bad = (what: string) => new KeyError("malformed", `the audit signing key in ${AUDIT_KEYS}/${SIGNING_KEY_ID} is damaged or of a newer format (${what})`);
  if (typeof b !== "object" || b === null) throw bad("not an object");
  if (b.v !== 1 || b.alg !== "ed25519") throw bad(`v ${String(b.v)}, alg ${String(b.alg)}`);
  if (!isValidKeyName(b.name)) throw bad("name");
  const raw = typeof b.publicKey === "string" ? decodeBase64(b.publicKey) : undefined;
  if (raw === undefined || raw.length !== 32) throw bad("publicKey");
  if (typeof b.keyId !== "string" || b.keyId !== hex8(ed25519VerifierKey(b.name, raw).keyId)) throw bad("keyId");
  if (typeof b.vkey !== "string" || b.vkey !== formatVerifierKey({ name: b.name, publicKey: raw })) throw bad("vkey");
  if (typeof b.sealed !== "object" || b.sealed === null) throw bad("sealed");
  if (typeof b.createdAt !== "string") throw bad("createdAt");
  return { ...(b as StoredSigningKey), raw };
}
