/**
 * Sign-ins in flight to an upstream IdP: the PKCE verifier, `state` and `nonce` of each, kept
 * server-side (in documents, so any replica can finish what another began) under a random id
 * that the browser holds in a cookie. The `state` sent upstream is a different random value, so
 * the authorization URL (in logs, Referer headers, browser history) does not reveal the cookie.
 *
 * Single use: `take` deletes the record and only the caller whose delete removed it gets it, so
 * a replayed callback — even one racing the first — finds nothing (RFC 9700 §4.2.4 and §4.5.3).
 */
import { randomBytes } from "node:crypto";
import type { DocumentsBackend } from "../../storage/interfaces.js";

export const PENDING = "identity.federation-pending";

/** RFC 9700 §2.1.1 wants these short-lived; ten minutes is enough to type a password and an OTP. */
export const PENDING_TTL_MS = 10 * 60_000;

/** 32 random bytes, base64url. */
const STATE_ID = /^[A-Za-z0-9_-]{43}$/;

export interface PendingLogin {
  providerId: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  /** OIDC Core §3.1.2.1 `max_age` sent upstream (seconds); `auth_time` is then checked. */
  maxAge?: number | undefined;
  /** Epoch ms. */
  expiresAt: number;
}

export class PendingLogins {
  constructor(
    private readonly docs: DocumentsBackend,
    private readonly now: () => number,
  ) {}

  async put(p: Omit<PendingLogin, "expiresAt">): Promise<{ stateId: string; expiresAt: number }> {
    const stateId = randomBytes(32).toString("base64url");
    const expiresAt = this.now() + PENDING_TTL_MS;
    await this.docs.putDocument(PENDING, stateId, { ...p, expiresAt } satisfies PendingLogin, 0);
    return { stateId, expiresAt };
  }

  /** Removes and returns the sign-in; undefined when unknown, already used or expired. */
  async take(stateId: string): Promise<PendingLogin | undefined> {
    if (typeof stateId !== "string" || !STATE_ID.test(stateId)) return undefined;
    const r = await this.docs.getDocument<PendingLogin>(PENDING, stateId);
    if (!r) return undefined;
    if (!(await this.docs.deleteDocument(PENDING, stateId))) return undefined;
    return r.body.expiresAt > this.now() ? r.body : undefined;
  }

  /** Deletes abandoned sign-ins (the ones nobody came back to finish); returns how many. */
  async sweep(): Promise<number> {
    const now = this.now();
    let removed = 0;
    let after: string | undefined;
    for (;;) {
      const page = await this.docs.listDocuments<PendingLogin>(PENDING, { ...(after !== undefined ? { after } : {}), limit: 500 });
      if (page.length === 0) return removed;
      for (const r of page) if (r.body.expiresAt <= now && (await this.docs.deleteDocument(PENDING, r.id))) removed++;
      after = page[page.length - 1]!.id;
    }
  }
}
