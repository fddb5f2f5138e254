/**
 * TOTP (RFC 6238) as an additional sign-in factor: one authenticator app per user.
 *
 * Parameters are the interoperable ones — HMAC-SHA1, 6 digits, 30-second steps (RFC 6238 §4 and
 * §5.2's recommended step; several authenticator apps ignore any other `algorithm`, `digits` or
 * `period` in the otpauth URI) — and a 160-bit secret (RFC 4226 §4 R6 recommends 160 bits).
 *
 * At rest the secret is sealed by the master key (AES-256-GCM), for a purpose that names the user:
 * a copy of the database alone does not give the secrets away, and a sealed secret copied into
 * another user's document does not open there.
 *
 * Enrolment is two steps: `beginEnrollment` stores a pending secret, `confirmEnrollment` activates
 * it once the user proves their app produces codes. A confirmed factor stays in force until the
 * new one is confirmed, so starting a re-enrolment never disables sign-in by itself.
 *
 * Verification accepts one step of clock skew either way, and never the same step twice: the last
 * accepted time step is stored and a code for that step or an earlier one is refused (RFC 6238
 * §5.2: "the verifier MUST NOT accept the second attempt of the OTP after the successful
 * validation has been issued for the first OTP"). Concurrent uses of one code are settled by the
 * document's version (compare-and-set): exactly one wins.
 */
import { generateSecret, generateURI, verify as otpVerify } from "otplib";
import type { MasterKey, SealedBox } from "../../crypto/master-key.js";
import { TenetError } from "../../errors.js";
import { DocumentConflict, type DocumentsBackend } from "../../storage/interfaces.js";
import { checkId, checkText } from "../accounts/validate.js";
import type { IdentityEvents } from "../events.js";

export const TOTP_COLLECTION = "identity.totp";
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps of clock skew accepted either side of the current one. */
export const TOTP_SKEW_STEPS = 1;
const SECRET_BYTES = 20;
const CODE = /^[0-9]{6}$/;
const MAX_CAS_ATTEMPTS = 8;
const DEFAULT_PENDING_TTL_MS = 10 * 60 * 1000;

/** The purpose a user's secret is sealed for: binds the box to the user (see the file comment). */
export function totpSealPurpose(userId: string): string {
  return `tenet/totp-secret/v1/user:${userId}`;
}

interface ActiveFactor {
  secret: SealedBox;
  /** The last accepted time step (RFC 6238 T); codes for steps ≤ this are refused. */
  lastStep: number;
  confirmedAt: string;
}

interface PendingFactor {
  secret: SealedBox;
  createdAt: string;
  expiresAt: string;
}

interface TotpBody {
  v: 1;
  active?: ActiveFactor;
  pending?: PendingFactor;
}

export interface TotpOptions {
  documents: DocumentsBackend;
  masterKey: MasterKey;
  events?: IdentityEvents | undefined;
  /** The issuer shown by authenticator apps (default "Tenet"). */
  issuer?: string | undefined;
  /** How long a started enrolment may be confirmed (default 10 minutes). */
  pendingTtlMs?: number | undefined;
  /** Milliseconds since the epoch (tests move it). */
  now?: () => number;
}

export interface TotpEnrollment {
  /** Base32 (RFC 4648), for manual entry. Show once; never log. */
  secret: string;
  /** `otpauth://totp/...` (the Key URI format), for a QR code. */
  otpauthUri: string;
  expiresAt: Date;
}

/** Why a code was refused: `malformed` and `replay` should not count toward an account lockout. */
export type TotpRefusal = "malformed" | "not_enrolled" | "wrong_code" | "replay";
export type TotpCheck = { valid: true; delta: number } | { valid: false; reason: TotpRefusal };

/** Is `code` exactly six ASCII digits? (Checked before any storage is touched.) */
export function isTotpCode(code: unknown): code is string {
  return typeof code === "string" && CODE.test(code);
}

export class TotpFactors {
  private readonly docs: DocumentsBackend;
  private readonly issuer: string;
  private readonly pendingTtlMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: TotpOptions) {
    this.docs = opts.documents;
    this.issuer = checkLabel(opts.issuer ?? "Tenet", "issuer");
    const ttl = opts.pendingTtlMs ?? DEFAULT_PENDING_TTL_MS;
    if (!Number.isSafeInteger(ttl) || ttl < 60_000 || ttl > 24 * 3_600_000) throw new TenetError("validation_error", "pendingTtlMs must be between 1 minute and 24 hours");
    this.pendingTtlMs = ttl;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Starts (or restarts) enrolment: a new secret, stored sealed and pending. `accountLabel` is what
   * the app shows next to the issuer (a username or e-mail address).
   */
  async beginEnrollment(userId: string, accountLabel: string): Promise<TotpEnrollment> {
    checkId(userId, "userId");
    const label = checkLabel(accountLabel, "accountLabel");
    const secret = generateSecret({ length: SECRET_BYTES });
    const now = this.now();
    const expiresAt = new Date(now + this.pendingTtlMs);
    const pending: PendingFactor = {
      secret: this.opts.masterKey.seal(totpSealPurpose(userId), Buffer.from(secret, "utf8")),
      createdAt: new Date(now).toISOString(),
      expiresAt: expiresAt.toISOString(),
    };
    await this.update(userId, (body) => ({ ...body, pending }));
    return { secret, otpauthUri: generateURI({ issuer: this.issuer, label, secret }), expiresAt };
  }

  /**
   * Activates the pending secret when `code` is one it produces now (±1 step); false otherwise
   * (malformed codes included, without touching storage). Throws `not_found` when no enrolment
   * is pending (never started, expired, or already confirmed).
   */
  async confirmEnrollment(userId: string, code: string): Promise<boolean> {
    checkId(userId, "userId");
    if (!isTotpCode(code)) return false;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const doc = await this.docs.getDocument<TotpBody>(TOTP_COLLECTION, userId);
      const pending = doc?.body.pending;
      if (!doc || !pending || Date.parse(pending.expiresAt) <= this.now()) {
        throw new TenetError("not_found", "no TOTP enrolment is in progress for this user (it may have expired): start again");
      }
      const step = await this.match(userId, pending.secret, code, undefined);
      if (step === undefined) return false;
      const body: TotpBody = { v: 1, active: { secret: pending.secret, lastStep: step.timeStep, confirmedAt: new Date(this.now()).toISOString() } };
      try {
        await this.docs.putDocument(TOTP_COLLECTION, userId, body, doc.version);
      } catch (err) {
        if (err instanceof DocumentConflict) continue;
        throw err;
      }
      await this.opts.events?.emit({ type: "credential.added", userId, credential: "totp" });
      return true;
    }
    throw new TenetError("conflict", "the TOTP factor is being changed concurrently: try again");
  }

  /** Whether `code` signs in now: see `check` for why a code is refused. */
  async verify(userId: string, code: string): Promise<boolean> {
    return (await this.check(userId, code)).valid;
  }

  /**
   * Checks `code` against the user's confirmed secret, ±1 step, refusing reuse. A valid code's
   * step is stored before this resolves, so the same code never works twice — even when two
   * requests race. `delta` is the accepted step's offset from the server's (clock skew).
   */
  async check(userId: string, code: string): Promise<TotpCheck> {
    checkId(userId, "userId");
    if (!isTotpCode(code)) return { valid: false, reason: "malformed" };
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const doc = await this.docs.getDocument<TotpBody>(TOTP_COLLECTION, userId);
      const active = doc?.body.active;
      if (!doc || !active) return { valid: false, reason: "not_enrolled" };
      // First without the replay floor, so that a reused code is told apart from a wrong one.
      const any = await this.match(userId, active.secret, code, undefined);
      if (any === undefined) return { valid: false, reason: "wrong_code" };
      let accepted = any.timeStep > active.lastStep ? any : undefined;
      // A 6-digit code may (rarely) also be right for a later step in the window: try above the floor.
      if (accepted === undefined) accepted = await this.match(userId, active.secret, code, active.lastStep);
      if (accepted === undefined) return { valid: false, reason: "replay" };
      try {
        await this.docs.putDocument(TOTP_COLLECTION, userId, { ...doc.body, active: { ...active, lastStep: accepted.timeStep } } satisfies TotpBody, doc.version);
      } catch (err) {
        // Someone else changed the factor first (perhaps with this very code): decide again.
        if (err instanceof DocumentConflict) continue;
        throw err;
      }
      return { valid: true, delta: accepted.delta };
    }
    throw new TenetError("conflict", "the TOTP factor is being used concurrently: try again");
  }

  /** Whether the user has a confirmed TOTP factor. */
  async isEnrolled(userId: string): Promise<boolean> {
    checkId(userId, "userId");
    const doc = await this.docs.getDocument<TotpBody>(TOTP_COLLECTION, userId);
    return doc?.body.active !== undefined;
  }

  /** Removes the factor (confirmed and pending); true when there was a confirmed one. */
  async remove(userId: string): Promise<boolean> {
    checkId(userId, "userId");
    const doc = await this.docs.getDocument<TotpBody>(TOTP_COLLECTION, userId);
    if (!doc) return false;
    await this.docs.deleteDocument(TOTP_COLLECTION, userId);
    if (!doc.body.active) return false;
    await this.opts.events?.emit({ type: "credential.removed", userId, credential: "totp" });
    return true;
  }

  /** The matching step within ±1 of now (and above `after`, when given), if any. */
  private async match(userId: string, sealed: SealedBox, code: string, after: number | undefined): Promise<{ timeStep: number; delta: number } | undefined> {
    const epoch = Math.floor(this.now() / 1000);
    const current = Math.floor(epoch / TOTP_PERIOD_SECONDS);
    // otplib refuses a floor above the window's last step; nothing there could match anyway.
    if (after !== undefined && after >= current + TOTP_SKEW_STEPS) return undefined;
    const bytes = this.opts.masterKey.open(totpSealPurpose(userId), sealed);
    const secret = bytes.toString("utf8");
    bytes.fill(0);
    const r = await otpVerify({
      secret,
      token: code,
      epoch,
      period: TOTP_PERIOD_SECONDS,
      digits: TOTP_DIGITS,
      algorithm: "sha1",
      // In seconds: one period either side covers exactly the steps current-1 .. current+1.
      epochTolerance: TOTP_SKEW_STEPS * TOTP_PERIOD_SECONDS,
      ...(after !== undefined && after >= 0 ? { afterTimeStep: after } : {}),
    });
    if (!r.valid || !("timeStep" in r)) return undefined;
    return { timeStep: r.timeStep, delta: r.delta };
  }

  private async update(userId: string, change: (body: TotpBody) => TotpBody): Promise<void> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const doc = await this.docs.getDocument<TotpBody>(TOTP_COLLECTION, userId);
      try {
        await this.docs.putDocument(TOTP_COLLECTION, userId, change(doc?.body ?? { v: 1 }), doc?.version ?? 0);
        return;
      } catch (err) {
        if (err instanceof DocumentConflict) continue;
        throw err;
      }
    }
    throw new TenetError("conflict", "the TOTP factor is being changed concurrently: try again");
  }
}

/** Issuer and account name: no colon (the Key URI format separates them with one). */
function checkLabel(value: string, what: string): string {
  if (typeof value !== "string") throw new TenetError("validation_error", `${what} must be a string`);
  const v = checkText(value, what, 128)!;
  if (v.includes(":")) throw new TenetError("validation_error", `${what} must not contain ':'`);
  return v;
}
