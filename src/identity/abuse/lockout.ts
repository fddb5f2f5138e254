/**
 * Account lockout after consecutive failed sign-ins (PCI DSS 4.0 requirement 8.3.4: lock the user
 * id after not more than 10 invalid attempts, for at least 30 minutes or until an administrator
 * confirms the user's identity). Both limits may be made stricter by configuration, never looser.
 *
 * What counts. A lockout is a weapon in an attacker's hands as much as a defence: anyone who can
 * make failures count against an account can keep its owner out. So only `kind: "credential"` —
 * a well-formed code, assertion or recovery code that was checked against *this account's*
 * credentials and was wrong — counts toward the lock. The other kinds are the "bad input"
 * and are recorded (events, for the audit log and the risk engine) but never lock the account:
 *
 *   - `malformed`: the request never got as far as a credential check (a truncated WebAuthn
 *     response, a code that is not six digits). Anyone can send garbage naming any user.
 *   - `unknown_credential`: a WebAuthn credential id that is not the account's. It proves nothing
 *     about the account; an attacker can make up ids at will.
 *   - `replay`: a code or assertion that was valid once. Whoever replays it saw a real sign-in;
 *     refusing it is the defence, and locking the real user would reward the eavesdropper.
 *   - `skew`: a code or signature counter just outside the accepted clock window, typically the
 *     real user's own device with a drifting clock.
 *
 * These kinds count instead toward the per-IP failure limit (`ipLimiter`), which slows down the
 * sender without touching the account.
 *
 * State is one document per account (the counter and the lock's end), updated by compare-and-set
 * so that concurrent failures on several replicas are all counted.
 */
import { TenetError } from "../../errors.js";
import { DocumentConflict, type DocumentsBackend } from "../../storage/interfaces.js";
import { checkId } from "../accounts/validate.js";

export const LOCKOUT_COLLECTION = "identity.lockouts";
/** PCI DSS 4.0 8.3.4: "not more than 10". */
export const MAX_FAILURES_CEILING = 10;
/** PCI DSS 4.0 8.3.4: "a minimum of 30 minutes". */
export const MIN_LOCKOUT_MS = 30 * 60 * 1000;
const MAX_CAS_ATTEMPTS = 32;

export const FAILURE_KINDS = ["credential", "malformed", "unknown_credential", "replay", "skew"] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

export interface LockoutEvent {
  type: "failure" | "lockout" | "unlock";
  userId: string;
  ip?: string | undefined;
  /** The caller's reason, else the failure kind (`admin` for an unlock without one). */
  reason: string;
  kind?: FailureKind | undefined;
  /** For failures: whether it counted toward the lock. */
  counted?: boolean | undefined;
  /** Consecutive counted failures after this event. */
  failures?: number | undefined;
  /** For lockouts: when the lock ends. */
  until?: Date | undefined;
  /** For unlocks: who unlocked (an admin's id), when given. */
  by?: string | undefined;
}

export interface LockoutOptions {
  documents: DocumentsBackend;
  /** Counted failures that lock the account: 1–10 (default 10). */
  maxFailures?: number | undefined;
  /** How long a lock lasts, in ms: at least 30 minutes (the default). */
  lockoutMs?: number | undefined;
  /** Told of every failure, lockout and unlock (write the audit entry, inform the risk engine). */
  onEvent?: ((e: LockoutEvent) => void | Promise<void>) | undefined;
  /** Every failure with an `ip`, counted or not, is also reported here (the per-IP failure limit). */
  ipLimiter?: { recordFailure(ip: string): void } | undefined;
  /** An `onEvent` that threw (the change itself is stored). */
  onProblem?: ((message: string, err: unknown) => void) | undefined;
  now?: () => number;
}

export interface LockState {
  locked: boolean;
  until?: Date;
  /** Consecutive counted failures (0 once a lock has expired). */
  failures: number;
}

export interface FailureResult extends LockState {
  counted: boolean;
}

interface LockBody {
  failures: number;
  /** RFC 3339; set once the account is locked. */
  lockedUntil?: string;
  lastFailureAt: string;
}

export class Lockout {
  readonly maxFailures: number;
  readonly lockoutMs: number;
  private readonly docs: DocumentsBackend;
  private readonly now: () => number;

  constructor(private readonly opts: LockoutOptions) {
    this.docs = opts.documents;
    const max = opts.maxFailures ?? MAX_FAILURES_CEILING;
    if (!Number.isSafeInteger(max) || max < 1 || max > MAX_FAILURES_CEILING) {
      throw new TenetError("validation_error", `maxFailures must be a whole number from 1 to ${MAX_FAILURES_CEILING} (PCI DSS 4.0 8.3.4)`);
    }
    const ms = opts.lockoutMs ?? MIN_LOCKOUT_MS;
    if (!Number.isSafeInteger(ms) || ms < MIN_LOCKOUT_MS) throw new TenetError("validation_error", "lockoutMs must be at least 30 minutes (PCI DSS 4.0 8.3.4)");
    this.maxFailures = max;
    this.lockoutMs = ms;
    this.now = opts.now ?? Date.now;
  }

  /** Whether the account is locked now, and until when. Check before verifying any credential. */
  async check(userId: string): Promise<LockState> {
    checkId(userId, "userId");
    const doc = await this.docs.getDocument<LockBody>(LOCKOUT_COLLECTION, userId);
    return this.state(doc?.body);
  }

  /**
   * Records a failed sign-in. Only `kind: "credential"` counts toward the lock (see the file
   * comment); the failure that reaches `maxFailures` locks the account. Failures while locked
   * neither count nor extend the lock (which would let an attacker keep the user out for good).
   */
  async recordFailure(userId: string, failure: { kind: FailureKind; ip?: string | undefined; reason?: string | undefined }): Promise<FailureResult> {
    checkId(userId, "userId");
    if (!FAILURE_KINDS.includes(failure?.kind)) throw new TypeError(`failure kind must be one of ${FAILURE_KINDS.join(", ")}`);
    const { kind, ip } = failure;
    const reason = failure.reason ?? kind;
    if (ip !== undefined) this.opts.ipLimiter?.recordFailure(ip);

    if (kind !== "credential") {
      const state = await this.check(userId);
      await this.emit({ type: "failure", userId, ip, reason, kind, counted: false, failures: state.failures });
      return { ...state, counted: false };
    }

    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const doc = await this.docs.getDocument<LockBody>(LOCKOUT_COLLECTION, userId);
      const before = this.state(doc?.body);
      if (before.locked) {
        await this.emit({ type: "failure", userId, ip, reason, kind, counted: false, failures: before.failures });
        return { ...before, counted: false };
      }
      const now = this.now();
      const failures = before.failures + 1;
      const until = failures >= this.maxFailures ? new Date(now + this.lockoutMs) : undefined;
      const body: LockBody = { failures, lastFailureAt: new Date(now).toISOString(), ...(until ? { lockedUntil: until.toISOString() } : {}) };
      try {
        await this.docs.putDocument(LOCKOUT_COLLECTION, userId, body, doc?.version ?? 0);
      } catch (err) {
        if (err instanceof DocumentConflict) continue;
        throw err;
      }
      await this.emit({ type: "failure", userId, ip, reason, kind, counted: true, failures });
      if (until) {
        await this.emit({ type: "lockout", userId, ip, reason, kind, failures, until });
        return { locked: true, until, failures, counted: true };
      }
      return { locked: false, failures, counted: true };
    }
    throw new TenetError("conflict", "too many concurrent sign-in failures for this account: try again");
  }

  /**
   * A successful sign-in: the failure count starts again. It does not lift a lock in force (the
   * caller should not have checked credentials of a locked account; only `unlock` lifts it early).
   */
  async recordSuccess(userId: string): Promise<void> {
    checkId(userId, "userId");
    const doc = await this.docs.getDocument<LockBody>(LOCKOUT_COLLECTION, userId);
    if (!doc || this.state(doc.body).locked) return;
    // Deleting is a reset; a failure racing it is either counted before (and reset) or after.
    await this.docs.deleteDocument(LOCKOUT_COLLECTION, userId);
  }

  /** An administrator lifts the lock and resets the count; true when the account was locked. */
  async unlock(userId: string, opts: { by?: string | undefined; reason?: string | undefined } = {}): Promise<boolean> {
    checkId(userId, "userId");
    const doc = await this.docs.getDocument<LockBody>(LOCKOUT_COLLECTION, userId);
    if (!doc) return false;
    const wasLocked = this.state(doc.body).locked;
    await this.docs.deleteDocument(LOCKOUT_COLLECTION, userId);
    if (wasLocked) await this.emit({ type: "unlock", userId, reason: opts.reason ?? "admin", by: opts.by });
    return wasLocked;
  }

  private state(body: LockBody | undefined): LockState {
    if (!body) return { locked: false, failures: 0 };
    if (body.lockedUntil !== undefined) {
      const until = Date.parse(body.lockedUntil);
      // An expired lock is a fresh start: the next failure is the first of a new series.
      return until > this.now() ? { locked: true, until: new Date(until), failures: body.failures } : { locked: false, failures: 0 };
    }
    return { locked: false, failures: body.failures };
  }

  private async emit(e: LockoutEvent): Promise<void> {
    if (!this.opts.onEvent) return;
    try {
      await this.opts.onEvent(e);
    } catch (err) {
      this.opts.onProblem?.(`lockout ${e.type} event for ${e.userId} was not delivered`, err);
    }
  }
}
