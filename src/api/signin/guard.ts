/**
 * What happens around every sign-in attempt, whatever the method: rate limits and lockout before
 * (so a locked account or a flooding address costs nothing to refuse), and after, the outcome in
 * the audit log (OCSF Authentication) and in the risk engine's sign-in history. A failure that
 * could not have come from the real user (malformed input, an unknown credential, a replay) is
 * recorded but does not count toward the account's lockout.
 */
import { authenticationEvent, type Sensitive } from "../../audit/events.js";
import type { AuditLog } from "../../audit/log.js";
import type { HistoryStore } from "../../policy/risk/history.js";

export type FailureKind = "credential" | "malformed" | "unknown_credential" | "replay" | "skew" | "locked" | "suspended" | "rate_limited";

export interface SignInFailure {
  ip: string;
  userId?: string | undefined;
  kind: FailureKind;
  reason: string;
  userAgent?: string | undefined;
}

export interface SignInSuccess {
  ip: string;
  userId: string;
  acr: string;
  amr: string[];
  method: string;
  userAgent?: string | undefined;
}

/** Lockout and rate limits (src/identity/abuse), seen through what the pages need. */
export interface AbuseControls {
  /** Seconds to wait (0 = go ahead) for this address (and account, when known). */
  limit(ip: string, userId?: string): number;
  /** When the account is locked, until when. */
  locked(userId: string): Promise<Date | undefined>;
  failure(userId: string | undefined, ip: string, kind: FailureKind, reason: string): Promise<void>;
  success(userId: string): Promise<void>;
}

export interface SignInGuardOptions {
  audit?: { log: AuditLog; sensitive: Sensitive } | undefined;
  history?: HistoryStore | undefined;
  abuse?: AbuseControls | undefined;
  onProblem?: (msg: string, err?: unknown) => void;
}

export class SignInGuard {
  constructor(private readonly o: SignInGuardOptions) {}

  /** Seconds the caller must wait before trying (0: go ahead). */
  limit(ip: string, userId?: string): number {
    return this.o.abuse?.limit(ip, userId) ?? 0;
  }

  async locked(userId: string): Promise<Date | undefined> {
    return this.o.abuse?.locked(userId);
  }

  async failure(f: SignInFailure): Promise<void> {
    await this.o.abuse?.failure(f.userId, f.ip, f.kind, f.reason);
    if (this.o.audit) {
      await this.o.audit.log.append(
        authenticationEvent({ type: "authentication.failure", subject: f.userId ? `user:${f.userId}` : "anonymous", success: false, ip: f.ip, userAgent: f.userAgent, reason: `${f.kind}: ${f.reason}` }, this.o.audit.sensitive),
      );
    }
    if (f.userId && f.kind === "credential") await this.o.history?.recordSignIn({ subjectId: `user:${f.userId}`, time: Date.now(), success: false, ip: f.ip }).catch((err) => this.o.onProblem?.("risk history: could not record a failed sign-in", err));
  }

  /** Recorded before the session exists: a sign-in the audit log cannot take does not happen. */
  async success(s: SignInSuccess): Promise<void> {
    if (this.o.audit) {
      await this.o.audit.log.append(
        authenticationEvent({ type: "authentication.sign_in", subject: `user:${s.userId}`, success: true, ip: s.ip, userAgent: s.userAgent, acr: s.acr, amr: s.amr, mfa: s.amr.includes("mfa"), reason: s.method }, this.o.audit.sensitive),
      );
    }
    await this.o.abuse?.success(s.userId);
    await this.o.history?.recordSignIn({ subjectId: `user:${s.userId}`, time: Date.now(), success: true, ip: s.ip }).catch((err) => this.o.onProblem?.("risk history: could not record a sign-in", err));
  }

  /** Factor changes (passkey added/removed, TOTP, recovery codes) in the audit log. */
  async factorChange(userId: string, what: string, ip: string): Promise<void> {
    if (!this.o.audit) return;
    await this.o.audit.log.append(authenticationEvent({ type: "authentication.factor_change", subject: `user:${userId}`, success: true, ip, reason: what }, this.o.audit.sensitive));
  }
}
