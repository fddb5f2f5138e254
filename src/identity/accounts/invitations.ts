/**
 * Invitations: a one-time link that lets a new (or recovering) user register a passkey without
 * ever setting a password. Only the SHA-256 of the token is stored, so the database does not hold
 * working links; redeeming deletes it (exactly once, even when two redemptions race).
 */
import { createHash, randomBytes } from "node:crypto";
import { TenetError } from "../../errors.js";
import type { DocumentsBackend } from "../../storage/interfaces.js";

const INVITATIONS = "identity.invitations";
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export interface Invitation {
  userId: string;
  expiresAt: number;
  createdBy: string;
}

const hash = (token: string) => createHash("sha256").update(token).digest("base64url");

export class Invitations {
  constructor(
    private readonly docs: DocumentsBackend,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new invitation token for the user (valid `ttlMs`, default 7 days). */
  async create(userId: string, createdBy: string, ttlMs = 7 * 24 * 3600_000): Promise<{ token: string; expiresAt: string }> {
    if (!(ttlMs > 0 && ttlMs <= 30 * 24 * 3600_000)) throw new TenetError("validation_error", "an invitation lasts between 1 ms and 30 days");
    const token = randomBytes(32).toString("base64url");
    const expiresAt = this.now() + ttlMs;
    await this.docs.putDocument(INVITATIONS, hash(token), { userId, expiresAt, createdBy } satisfies Invitation, 0);
    return { token, expiresAt: new Date(expiresAt).toISOString() };
  }

  /** The invitation behind a token, without using it; undefined if unknown or expired. */
  async peek(token: string): Promise<Invitation | undefined> {
    if (typeof token !== "string" || !TOKEN.test(token)) return undefined;
    const r = await this.docs.getDocument<Invitation>(INVITATIONS, hash(token));
    return r && r.body.expiresAt > this.now() ? r.body : undefined;
  }

  /** Uses the token up; throws unless this call was the one that used it. */
  async redeem(token: string): Promise<Invitation> {
    const inv = await this.peek(token);
    if (!inv || !(await this.docs.deleteDocument(INVITATIONS, hash(token)))) throw new TenetError("not_found", "this invitation link is invalid, expired or already used");
    return inv;
  }
}
