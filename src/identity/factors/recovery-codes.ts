/**
 * One-time recovery codes: ten per user, shown once, each usable once, for when the user has lost
 * their passkeys or authenticator app.
 *
 * A code is 80 random bits written as 16 Crockford base32 characters in groups of four
 * (`7KQ2-M9XD-P4HT-0ZRB`): the alphabet has no I, L, O or U, and input is forgiving in the
 * Crockford way (case ignored, spaces and dashes ignored, O read as 0, I and L as 1).
 *
 * Stored as HMAC-SHA256(k, user id ‖ code), never in clear. Why HMAC and not a slow hash
 * (scrypt): a slow hash protects low-entropy secrets (passwords) from offline guessing; at 80 bits
 * even plain SHA-256 at 10^10 guesses/s would take millions of years per code, so a slow hash only
 * costs CPU on every sign-in. The key `k` (32 random bytes per deployment, sealed by the master
 * key in the documents store) goes further: a stolen database alone gives nothing to test guesses
 * against at all. The user id in the message ties a hash to its user, so hashes copied into
 * another user's document do not let that user's codes work there.
 *
 * Consumption is a compare-and-set on the document's version: of two concurrent uses of one code,
 * exactly one succeeds.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { MasterKey, SealedBox } from "../../crypto/master-key.js";
import { TenetError } from "../../errors.js";
import { DocumentConflict, type DocumentsBackend } from "../../storage/interfaces.js";
import { checkId } from "../accounts/validate.js";
import type { IdentityEvents } from "../events.js";

export const RECOVERY_CODES_COLLECTION = "identity.recovery-codes";
/** Where the deployment's HMAC key lives (sealed). */
export const FACTOR_KEYS_COLLECTION = "identity.factor-keys";
const HMAC_KEY_ID = "recovery-codes-hmac";
const HMAC_KEY_PURPOSE = "tenet/recovery-codes-hmac-key/v1";
export const RECOVERY_CODE_COUNT = 10;
const CODE_CHARS = 16;
const CODE_BYTES = 10; // 80 bits = 16 × 5 bits
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const MAX_CAS_ATTEMPTS = 16;
/** Anything longer is not a recovery code, whatever it contains: refused before any work. */
const MAX_INPUT_LENGTH = 64;

interface StoredCode {
  /** base64url HMAC-SHA256. */
  h: string;
  usedAt?: string;
}

interface RecoveryBody {
  v: 1;
  alg: "HMAC-SHA256";
  /** Which HMAC key hashed the codes (HmacKeyBody.id). */
  kid: string;
  generatedAt: string;
  codes: StoredCode[];
}

interface HmacKeyBody {
  v: 1;
  id: string;
  key: SealedBox;
}

export interface RecoveryCodesOptions {
  documents: DocumentsBackend;
  masterKey: MasterKey;
  events?: IdentityEvents | undefined;
  now?: () => number;
}

/** Crockford base32 of `bytes` (a multiple of 5 bytes), uppercase. */
function encode(bytes: Buffer): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

/**
 * The canonical 16 characters of a typed code, or undefined when it cannot be one. Case, spaces
 * and dashes are ignored; O reads as 0 and I, L as 1 (Crockford's decoding rules).
 */
export function normalizeRecoveryCode(input: unknown): string | undefined {
  if (typeof input !== "string" || input.length > MAX_INPUT_LENGTH) return undefined;
  const s = input
    .toUpperCase()
    .replace(/[\s-]+/g, "")
    .replace(/O/g, "0")
    .replace(/[IL]/g, "1");
  if (s.length !== CODE_CHARS) return undefined;
  for (const c of s) if (!ALPHABET.includes(c)) return undefined;
  return s;
}

/** `XXXX-XXXX-XXXX-XXXX`. */
function format(code: string): string {
  return code.match(/.{4}/g)!.join("-");
}

export class RecoveryCodes {
  private readonly docs: DocumentsBackend;
  private readonly now: () => number;
  private key: Promise<{ id: string; key: Buffer }> | undefined;

  constructor(private readonly opts: RecoveryCodesOptions) {
    this.docs = opts.documents;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Ten new codes, replacing any previous set (the old codes stop working). Show them to the user
   * once; they are not kept.
   */
  async generate(userId: string): Promise<string[]> {
    checkId(userId, "userId");
    const key = await this.hmacKey();
    const codes = new Set<string>();
    while (codes.size < RECOVERY_CODE_COUNT) codes.add(encode(randomBytes(CODE_BYTES)));
    const body: RecoveryBody = {
      v: 1,
      alg: "HMAC-SHA256",
      kid: key.id,
      generatedAt: new Date(this.now()).toISOString(),
      codes: [...codes].map((c) => ({ h: this.hash(key.key, userId, c).toString("base64url") })),
    };
    for (let attempt = 0; ; attempt++) {
      const doc = await this.docs.getDocument<RecoveryBody>(RECOVERY_CODES_COLLECTION, userId);
      try {
        await this.docs.putDocument(RECOVERY_CODES_COLLECTION, userId, body, doc?.version ?? 0);
        break;
      } catch (err) {
        if (!(err instanceof DocumentConflict) || attempt + 1 >= MAX_CAS_ATTEMPTS) throw conflictOr(err);
      }
    }
    await this.opts.events?.emit({ type: "credential.added", userId, credential: "recovery_codes" });
    return [...codes].map(format);
  }

  /**
   * Uses up `code`: true the first time a valid unused code is given, false otherwise (wrong,
   * already used, malformed — the latter without touching storage).
   */
  async consume(userId: string, code: string): Promise<boolean> {
    checkId(userId, "userId");
    const canonical = normalizeRecoveryCode(code);
    if (canonical === undefined) return false;
    const key = await this.hmacKey();
    const candidate = this.hash(key.key, userId, canonical);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const doc = await this.docs.getDocument<RecoveryBody>(RECOVERY_CODES_COLLECTION, userId);
      if (!doc || doc.body.kid !== key.id) return false;
      // Compare with every stored hash, without stopping early: the time taken says nothing
      // about which code (if any) matched.
      let found = -1;
      doc.body.codes.forEach((c, i) => {
        const stored = Buffer.from(c.h, "base64url");
        if (stored.length === candidate.length && timingSafeEqual(stored, candidate)) found = i;
      });
      if (found < 0 || doc.body.codes[found]!.usedAt !== undefined) return false;
      const codes = doc.body.codes.map((c, i) => (i === found ? { ...c, usedAt: new Date(this.now()).toISOString() } : c));
      try {
        await this.docs.putDocument(RECOVERY_CODES_COLLECTION, userId, { ...doc.body, codes } satisfies RecoveryBody, doc.version);
        return true;
      } catch (err) {
        // Another write came first (perhaps this very code): read again and decide again.
        if (err instanceof DocumentConflict) continue;
        throw err;
      }
    }
    throw new TenetError("conflict", "the recovery codes are being used concurrently: try again");
  }

  /** Unused codes left (0 without a set, or when the set was hashed with another key). */
  async remaining(userId: string): Promise<number> {
    checkId(userId, "userId");
    const doc = await this.docs.getDocument<RecoveryBody>(RECOVERY_CODES_COLLECTION, userId);
    if (!doc) return 0;
    const key = await this.hmacKey();
    if (doc.body.kid !== key.id) return 0;
    return doc.body.codes.filter((c) => c.usedAt === undefined).length;
  }

  /** Deletes the user's codes; true when there were some. */
  async remove(userId: string): Promise<boolean> {
    checkId(userId, "userId");
    const removed = await this.docs.deleteDocument(RECOVERY_CODES_COLLECTION, userId);
    if (removed) await this.opts.events?.emit({ type: "credential.removed", userId, credential: "recovery_codes" });
    return removed;
  }

  private hash(key: Buffer, userId: string, canonical: string): Buffer {
    // NUL separators: neither a user id nor a code contains one, so the message is unambiguous.
    return createHmac("sha256", key).update(`tenet/recovery-code/v1\u0000${userId}\u0000${canonical}`, "utf8").digest();
  }

  /** The deployment's HMAC key: read (and unsealed) once, created by whichever replica is first. */
  private hmacKey(): Promise<{ id: string; key: Buffer }> {
    this.key ??= this.loadKey().catch((err: unknown) => {
      this.key = undefined; // not cached: a later call tries again
      throw err;
    });
    return this.key;
  }

  private async loadKey(): Promise<{ id: string; key: Buffer }> {
    const mk = this.opts.masterKey;
    for (let attempt = 0; attempt < 2; attempt++) {
      const doc = await this.docs.getDocument<HmacKeyBody>(FACTOR_KEYS_COLLECTION, HMAC_KEY_ID);
      if (doc) return { id: doc.body.id, key: mk.open(HMAC_KEY_PURPOSE, doc.body.key) };
      const key = randomBytes(32);
      const body: HmacKeyBody = { v: 1, id: randomBytes(8).toString("hex"), key: mk.seal(HMAC_KEY_PURPOSE, key) };
      try {
        await this.docs.putDocument(FACTOR_KEYS_COLLECTION, HMAC_KEY_ID, body, 0);
        return { id: body.id, key };
      } catch (err) {
        key.fill(0);
        if (!(err instanceof DocumentConflict)) throw err;
        // Another replica created it first: use theirs.
      }
    }
    throw new TenetError("conflict", "the recovery-code key could not be created: try again");
  }
}

function conflictOr(err: unknown): unknown {
  return err instanceof DocumentConflict ? new TenetError("conflict", "the recovery codes are being changed concurrently: try again") : err;
}
