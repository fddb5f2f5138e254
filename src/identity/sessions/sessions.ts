/**
 * Sign-in sessions as users and administrators see them, and their revocation.
 *
 * The provider's own session documents (adapter.ts) are the truth; this list follows them (the
 * adapter calls `track` whenever one is stored or removed) and adds what a person needs to
 * recognise a session: when and how it signed in, from where, with which credential.
 *
 * Revoking a session deletes it, revokes every grant made in it (so its access and refresh tokens
 * stop working everywhere at once: introspection says inactive, refresh fails), tells the relying
 * parties that registered a back-channel logout URI, and emits `session.revoked` (a CAEP event for
 * receivers). Downgrading lowers its assurance to nothing, so the next request for any `acr`
 * prompts for a new sign-in, while tokens already issued keep their short lives.
 *
 * Continuous evaluation: the identity events revoke or downgrade live sessions as they happen.
 */
import type { DocumentsBackend } from "../../storage/interfaces.js";
import { ACR } from "../acr.js";
import type { IdentityEvent, IdentityEvents } from "../events.js";

export const SESSIONS = "identity.sessions";
const SESSION_KEYS = "identity.session-keys";

export interface SessionInfo {
  /** The session's public id (the `sid` of ID tokens is per client; this is the session uid). */
  uid: string;
  userId: string;
  acr?: string | undefined;
  amr?: string[] | undefined;
  authTime?: number | undefined;
  /** Clients signed in through this session. */
  clients: string[];
  deviceId?: string | undefined;
  credentialId?: string | undefined;
  ip?: string | undefined;
  userAgent?: string | undefined;
  createdAt: string;
  lastSeenAt: string;
  /** Epoch seconds. */
  expiresAt?: number | undefined;
}

interface SessionKey {
  /** The provider's session document id (the cookie value): never shown. */
  id: string;
  userId: string;
}

/** What revoking needs of the provider (its session documents, grants and clients). */
export interface SessionProvider {
  /** The provider's session payload by document id. */
  findSession(id: string): Promise<{ accountId?: string; uid?: string; authorizations?: Record<string, { grantId?: string; sid?: string }>; acr?: string; amr?: string[] } | undefined>;
  destroySession(id: string): Promise<void>;
  saveSession(id: string, payload: Record<string, unknown>): Promise<void>;
  revokeGrant(grantId: string): Promise<void>;
  backchannelLogout(clientId: string, accountId: string, sid: string): Promise<void>;
}

export interface SessionsOptions {
  documents: DocumentsBackend;
  events?: IdentityEvents | undefined;
  onProblem?: (msg: string, err?: unknown) => void;
}

/** Facts the sign-in pages know that the provider's session does not (per session uid). */
export interface SignInFacts {
  deviceId?: string | undefined;
  credentialId?: string | undefined;
  ip?: string | undefined;
  userAgent?: string | undefined;
}

export class Sessions {
  private provider: SessionProvider | undefined;
  private readonly docs: DocumentsBackend;
  /** Facts of sign-ins whose session the provider has not stored yet (by account, newest). */
  private readonly pendingFacts = new Map<string, SignInFacts>();

  constructor(private readonly o: SessionsOptions) {
    this.docs = o.documents;
  }

  /** Connects the provider (made after this object, since the provider's adapter calls `track`). */
  attach(provider: SessionProvider): void {
    this.provider = provider;
  }

  /** The sign-in pages say how an account just signed in; the next stored session of it gets it. */
  noteSignIn(userId: string, facts: SignInFacts): void {
    this.pendingFacts.set(userId, facts);
    if (this.pendingFacts.size > 10_000) this.pendingFacts.delete(this.pendingFacts.keys().next().value!);
  }

  /** Adapter hook: the provider stored or removed a session document. */
  async track(id: string, payload: Record<string, unknown>, removed: boolean): Promise<void> {
    const userId = payload.accountId as string | undefined;
    const uid = payload.uid as string | undefined;
    if (!uid) return;
    if (removed || !userId) {
      const key = await this.docs.getDocument<SessionKey>(SESSION_KEYS, uid);
      if (key) {
        await this.docs.deleteDocument(SESSIONS, `${key.body.userId}/${uid}`);
        await this.docs.deleteDocument(SESSION_KEYS, uid);
      }
      return;
    }
    const docId = `${userId}/${uid}`;
    const prev = await this.docs.getDocument<SessionInfo>(SESSIONS, docId);
    const now = new Date().toISOString();
    const loginTs = payload.loginTs as number | undefined;
    let facts: SignInFacts = {};
    // A new sign-in in this session (or a new session): take the pages' facts of it.
    if (!prev || prev.body.authTime !== loginTs) {
      facts = this.pendingFacts.get(userId) ?? {};
      this.pendingFacts.delete(userId);
    }
    const info: SessionInfo = {
      uid,
      userId,
      acr: payload.acr as string | undefined,
      amr: payload.amr as string[] | undefined,
      authTime: loginTs,
      clients: Object.keys((payload.authorizations as Record<string, unknown> | undefined) ?? {}),
      deviceId: facts.deviceId ?? prev?.body.deviceId,
      credentialId: facts.credentialId ?? (prev && prev.body.authTime === loginTs ? prev.body.credentialId : undefined),
      ip: facts.ip ?? prev?.body.ip,
      userAgent: facts.userAgent ?? prev?.body.userAgent,
      createdAt: prev?.body.createdAt ?? now,
      lastSeenAt: now,
      expiresAt: payload.exp as number | undefined,
    };
    await this.docs.putDocument(SESSIONS, docId, info, prev?.version ?? 0).catch(() => undefined);
    if (!prev) await this.docs.putDocument(SESSION_KEYS, uid, { id, userId } satisfies SessionKey, 0).catch(() => undefined);
  }

  async list(userId: string): Promise<SessionInfo[]> {
    const rows = await this.docs.listDocuments<SessionInfo>(SESSIONS, { prefix: `${userId}/`, limit: 1000 });
    const now = Date.now() / 1000;
    return rows.map((r) => r.body).filter((s) => s.expiresAt === undefined || s.expiresAt > now);
  }

  async listAll(opts: { after?: string | undefined; limit?: number | undefined } = {}): Promise<SessionInfo[]> {
    const rows = await this.docs.listDocuments<SessionInfo>(SESSIONS, { ...(opts.after ? { after: opts.after } : {}), limit: Math.min(opts.limit ?? 100, 1000) });
    return rows.map((r) => r.body);
  }

  async get(uid: string): Promise<SessionInfo | undefined> {
    const key = await this.docs.getDocument<SessionKey>(SESSION_KEYS, uid);
    return key ? (await this.docs.getDocument<SessionInfo>(SESSIONS, `${key.body.userId}/${uid}`))?.body : undefined;
  }

  /** Ends one session; false when there was none. `userId` (optional) scopes it to its owner. */
  async revoke(uid: string, reason: string, opts: { userId?: string | undefined; initiator?: "user" | "admin" | "policy" | "system" } = {}): Promise<boolean> {
    const key = await this.docs.getDocument<SessionKey>(SESSION_KEYS, uid);
    if (!key || (opts.userId !== undefined && key.body.userId !== opts.userId)) return false;
    const p = this.need();
    const session = await p.findSession(key.body.id);
    // Tokens first: once the session is gone, nothing can mint more from it.
    for (const [clientId, a] of Object.entries(session?.authorizations ?? {})) {
      if (a.grantId) await p.revokeGrant(a.grantId);
      if (a.sid && session?.accountId) await p.backchannelLogout(clientId, session.accountId, a.sid).catch((err) => this.o.onProblem?.(`back-channel logout of ${clientId} failed`, err));
    }
    await p.destroySession(key.body.id);
    await this.docs.deleteDocument(SESSIONS, `${key.body.userId}/${uid}`);
    await this.docs.deleteDocument(SESSION_KEYS, uid);
    await this.o.events?.emit({ type: "session.revoked", userId: key.body.userId, sessionId: uid, reason: `${opts.initiator ?? "system"}: ${reason}` });
    return true;
  }

  async revokeAll(userId: string, reason: string, initiator: "user" | "admin" | "policy" | "system" = "system", only?: (s: SessionInfo) => boolean): Promise<number> {
    let n = 0;
    for (const s of await this.list(userId)) if ((!only || only(s)) && (await this.revoke(s.uid, reason, { userId, initiator }))) n++;
    return n;
  }

  /** Lowers a session's assurance: any `acr` request now needs a fresh sign-in. */
  async downgrade(uid: string, reason: string): Promise<boolean> {
    const key = await this.docs.getDocument<SessionKey>(SESSION_KEYS, uid);
    if (!key) return false;
    const p = this.need();
    const session = await p.findSession(key.body.id);
    if (!session) return false;
    const previous = session.acr ?? ACR.none;
    if (previous === ACR.none) return false;
    await p.saveSession(key.body.id, { ...session, acr: ACR.none });
    await this.o.events?.emit({ type: "session.assurance_changed", userId: key.body.userId, sessionId: uid, previous, current: ACR.none });
    this.o.onProblem?.(`session ${uid} downgraded: ${reason}`);
    return true;
  }

  /** Continuous evaluation: what each identity event does to live sessions. */
  listen(events: IdentityEvents): () => void {
    return events.on((e) => this.react(e));
  }

  private async react(e: IdentityEvent): Promise<void> {
    switch (e.type) {
      case "user.suspended":
        await this.revokeAll(e.userId, `account suspended${e.reason ? `: ${e.reason}` : ""}`, "admin");
        break;
      case "user.deleted":
        await this.revokeAll(e.userId, "account deleted", "admin");
        break;
      case "credential.removed":
        // Sessions signed in with that credential (or every session, for a removed TOTP/codes set,
        // which may have been what a session's step-up relied on).
        await this.revokeAll(e.userId, `${e.credential} removed`, "user", (s) => e.credentialId === undefined || s.credentialId === e.credentialId);
        break;
      case "device.compliance_changed":
        if (!e.compliant) {
          const bound = await this.revokeAll(e.userId, `device ${e.deviceId} is not compliant: ${e.reasons.join(", ")}`, "policy", (s) => s.deviceId === e.deviceId);
          if (bound === 0) for (const s of await this.list(e.userId)) await this.downgrade(s.uid, `device ${e.deviceId} is not compliant`);
        }
        break;
      case "device.removed":
        await this.revokeAll(e.userId, `device ${e.deviceId} removed`, "user", (s) => s.deviceId === e.deviceId);
        break;
      case "risk.changed":
        if (e.current === "high" || e.current === "critical") await this.revokeAll(e.userId, `risk rose to ${e.current}`, "policy");
        else if (e.current === "medium" && e.previous === "low") for (const s of await this.list(e.userId)) await this.downgrade(s.uid, `risk rose to ${e.current}`);
        break;
      default:
        break;
    }
  }

  private need(): SessionProvider {
    if (!this.provider) throw new Error("sessions: no provider attached");
    return this.provider;
  }
}
