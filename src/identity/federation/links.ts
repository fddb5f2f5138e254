/**
 * Which upstream identity is which Tenet user. OIDC Core §2 and §5.7: only `iss` + `sub` identify
 * an end-user stably — e-mail addresses and usernames can be reassigned — so once an identity is
 * linked it is found by its `sub`, never by its e-mail again.
 *
 *   identity.federation-links       `<providerId>/<sub>` → { userId, userCreatedAt, via, linkedAt }
 *   identity.federation-user-links  `<userId>/<providerId>` → { subject }
 *
 * The second is a uniqueness claim: a Tenet account holds at most one identity per provider, so an
 * upstream that hands a recycled e-mail address to a new person (with a new `sub`) cannot link
 * them to the previous holder's account. A link also names the account's creation time: a
 * deleted account whose id is reused later (ids may come from usernames) does not inherit it.
 */
import { TenetError } from "../../errors.js";
import { DocumentConflict, type DocumentsBackend } from "../../storage/interfaces.js";

export const LINKS = "identity.federation-links";
export const USER_LINKS = "identity.federation-user-links";

export type LinkedVia = "email" | "provisioned" | "admin";

export interface FederationLink {
  providerId: string;
  subject: string;
  userId: string;
  /** The account's `createdAt` when linked. */
  userCreatedAt: string;
  via: LinkedVia;
  linkedAt: string;
}

interface UserLink {
  subject: string;
}

export class FederationLinks {
  constructor(
    private readonly docs: DocumentsBackend,
    private readonly now: () => number,
  ) {}

  async get(providerId: string, subject: string): Promise<FederationLink | undefined> {
    return (await this.docs.getDocument<FederationLink>(LINKS, `${providerId}/${subject}`))?.body;
  }

  /** The identities linked to an account: at most one per provider. */
  async ofUser(userId: string): Promise<Array<{ providerId: string; subject: string }>> {
    const rows = await this.docs.listDocuments<UserLink>(USER_LINKS, { prefix: `${userId}/`, limit: 1000 });
    return rows.map((r) => ({ providerId: r.id.slice(userId.length + 1), subject: r.body.subject }));
  }

  /**
   * Links `subject` at `providerId` to the account. Refuses (`forbidden`) when the account
   * already holds another live identity of that provider; `conflict` when the identity was
   * linked to another account meanwhile.
   */
  async link(providerId: string, subject: string, user: { id: string; createdAt: string }, via: LinkedVia): Promise<FederationLink> {
    await this.claimUserSlot(providerId, subject, user);
    const link: FederationLink = { providerId, subject, userId: user.id, userCreatedAt: user.createdAt, via, linkedAt: new Date(this.now()).toISOString() };
    const key = `${providerId}/${subject}`;
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = await this.docs.getDocument<FederationLink>(LINKS, key);
      if (existing && existing.body.userId === user.id && existing.body.userCreatedAt === user.createdAt) return existing.body;
      try {
        // An existing forward link here is stale (the caller found no live account behind it).
        await this.docs.putDocument(LINKS, key, link, existing?.version ?? 0);
        return link;
      } catch (err) {
        if (!(err instanceof DocumentConflict)) throw err;
      }
    }
    throw new TenetError("conflict", "this identity was linked to an account meanwhile; sign in again");
  }

  /** Removes the account's identity at `providerId` (both records); false when it had none. */
  async unlink(userId: string, providerId: string): Promise<boolean> {
    const mine = await this.docs.getDocument<UserLink>(USER_LINKS, `${userId}/${providerId}`);
    if (!mine) return false;
    const key = `${providerId}/${mine.body.subject}`;
    const fwd = await this.docs.getDocument<FederationLink>(LINKS, key);
    if (fwd && fwd.body.userId === userId) await this.docs.deleteDocument(LINKS, key);
    await this.docs.deleteDocument(USER_LINKS, `${userId}/${providerId}`);
    return true;
  }

  /** Removes every identity of an account (when it is deleted). */
  async unlinkAll(userId: string): Promise<void> {
    for (const l of await this.ofUser(userId)) await this.unlink(userId, l.providerId);
  }

  /** Drops a link whose account is gone (or is another account with a reused id). */
  async dropStale(link: FederationLink): Promise<void> {
    await this.docs.deleteDocument(LINKS, `${link.providerId}/${link.subject}`);
    const mine = await this.docs.getDocument<UserLink>(USER_LINKS, `${link.userId}/${link.providerId}`);
    if (mine && mine.body.subject === link.subject) await this.docs.deleteDocument(USER_LINKS, `${link.userId}/${link.providerId}`);
  }

  private async claimUserSlot(providerId: string, subject: string, user: { id: string; createdAt: string }): Promise<void> {
    const key = `${user.id}/${providerId}`;
    for (let attempt = 0; attempt < 3; attempt++) {
      const mine = await this.docs.getDocument<UserLink>(USER_LINKS, key);
      if (mine?.body.subject === subject) return;
      if (mine) {
        const held = await this.docs.getDocument<FederationLink>(LINKS, `${providerId}/${mine.body.subject}`);
        if (held && held.body.userId === user.id && held.body.userCreatedAt === user.createdAt) {
          throw new TenetError("forbidden", "this Tenet account is already linked to another identity at this provider; ask an administrator");
        }
      }
      try {
        await this.docs.putDocument(USER_LINKS, key, { subject } satisfies UserLink, mine?.version ?? 0);
        return;
      } catch (err) {
        if (!(err instanceof DocumentConflict)) throw err;
      }
    }
    throw new TenetError("conflict", "this account was linked meanwhile; sign in again");
  }
}
