/**
 * oidc-provider's storage adapter over Tenet's documents, so that codes, tokens, grants, sessions
 * and interactions live in SQLite or PostgreSQL like everything else (every replica sees them)
 * and never in the library's development memory store.
 *
 * One collection per model (`oidc.<Model>`), the payload and its expiry in the body. Expired
 * entries are invisible at once (find checks the time) and deleted by `sweep`. Secondary look-ups
 * the library needs are index documents: session uid → session id, user code → device code.
 *
 * Revoking a grant deletes the grant, not each of its tokens: the library looks the grant up
 * whenever one of its tokens is used (token, refresh, introspection, userinfo) and refuses the
 * token when the grant is gone, so the tokens are dead at once and are swept when they expire.
 * Keeping a per-grant token index cost two writes and two reads per token issued.
 *
 * Tokens and codes have fresh random ids at every save: they are inserted without a read first.
 * Saves of one document from this process (a session touched by concurrent requests) are queued
 * one after another, so they do not exhaust their retries against each other.
 *
 * `consume` is a compare-and-set on the document's version: of two concurrent exchanges of one
 * authorization code exactly one succeeds; the other revokes the grant (RFC 6749 §4.1.2: a code
 * used twice must revoke what it issued) and fails with invalid_grant.
 */
import { errors } from "oidc-provider";
import type { Adapter, AdapterPayload } from "oidc-provider";
import { DocumentConflict, type DocumentsBackend } from "../../storage/interfaces.js";

interface Stored {
  payload: AdapterPayload;
  /** Epoch ms; absent = does not expire. */
  expiresAt?: number | undefined;
}

/** Models whose ids are new random values at every save: insert, read only on a conflict. */
const FRESH = new Set(["AccessToken", "AuthorizationCode", "RefreshToken", "ClientCredentials", "DeviceCode", "BackchannelAuthenticationRequest", "PushedAuthorizationRequest", "ReplayDetection"]);
const SESSION_UIDS = "oidc.session-uids";
const USER_CODES = "oidc.user-codes";

export interface AdapterHooks {
  /** After a session is stored or removed (Tenet's session list follows the library's sessions). */
  onSession?: ((id: string, payload: AdapterPayload, removed: boolean) => void | Promise<void>) | undefined;
}

const collection = (model: string) => `oidc.${model}`;

export function documentsAdapter(docs: DocumentsBackend, hooks: AdapterHooks = {}, now: () => number = Date.now): new (model: string) => Adapter {
  return class DocumentsAdapter implements Adapter {
    private readonly c: string;

    constructor(private readonly model: string) {
      this.c = collection(model);
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const expiresAt = expiresIn > 0 ? now() + expiresIn * 1000 : undefined;
      const body: Stored = { payload, expiresAt };
      await put(docs, this.c, id, body, FRESH.has(this.model));
      if (this.model === "Session" && payload.uid) await put(docs, SESSION_UIDS, payload.uid, { payload: { id } as AdapterPayload, expiresAt });
      if (payload.userCode) await put(docs, USER_CODES, payload.userCode, { payload: { id } as AdapterPayload, expiresAt });
      if (this.model === "Session") await hooks.onSession?.(id, payload, false);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (typeof id !== "string" || id.length === 0 || id.length > 512) return undefined;
      const r = await docs.getDocument<Stored>(this.c, id);
      if (!r || (r.body.expiresAt !== undefined && r.body.expiresAt <= now())) return undefined;
      return r.body.payload;
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const r = await docs.getDocument<Stored>(SESSION_UIDS, uid);
      const id = (r?.body.payload as { id?: string } | undefined)?.id;
      return id ? this.find(id) : undefined;
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const r = await docs.getDocument<Stored>(USER_CODES, userCode);
      const id = (r?.body.payload as { id?: string } | undefined)?.id;
      return id ? this.find(id) : undefined;
    }

    async consume(id: string): Promise<void> {
      const r = await docs.getDocument<Stored>(this.c, id);
      if (!r) throw new errors.InvalidGrant(`${this.model} not found`);
      if (r.body.payload.consumed) {
        await this.revokeGrantOf(r.body.payload);
        throw new errors.InvalidGrant(`${this.model} already consumed`);
      }
      try {
        await docs.putDocument(this.c, id, { ...r.body, payload: { ...r.body.payload, consumed: Math.floor(now() / 1000) } }, r.version);
      } catch (err) {
        if (!(err instanceof DocumentConflict)) throw err;
        // Someone else consumed it between our read and write: this use is the replay.
        await this.revokeGrantOf(r.body.payload);
        throw new errors.InvalidGrant(`${this.model} already consumed`);
      }
    }

    async destroy(id: string): Promise<void> {
      const r = this.model === "Session" ? await docs.getDocument<Stored>(this.c, id) : undefined;
      await docs.deleteDocument(this.c, id);
      if (r?.body.payload.uid) await docs.deleteDocument(SESSION_UIDS, r.body.payload.uid);
      if (r) await hooks.onSession?.(id, r.body.payload, true);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await revokeGrant(docs, grantId);
    }

    private async revokeGrantOf(payload: AdapterPayload): Promise<void> {
      if (payload.grantId) await revokeGrant(docs, payload.grantId);
    }
  };
}

/** Revokes a grant: deletes it, which kills every token issued under it (see the header). */
export async function revokeGrant(docs: DocumentsBackend, grantId: string): Promise<void> {
  await docs.deleteDocument(collection("Grant"), grantId);
}

/** Saves of one document in progress in this process, chained. */
const writing = new Map<string, Promise<void>>();

async function put(docs: DocumentsBackend, c: string, id: string, body: Stored, fresh = false): Promise<void> {
  if (fresh) {
    try {
      await docs.putDocument(c, id, body, 0);
      return;
    } catch (err) {
      if (!(err instanceof DocumentConflict)) throw err;
    }
  }
  const key = `${c}\u0000${id}`;
  const run = (writing.get(key) ?? Promise.resolve()).catch(() => undefined).then(() => upsertOnce(docs, c, id, body));
  writing.set(key, run);
  try {
    await run;
  } finally {
    if (writing.get(key) === run) writing.delete(key);
  }
}

async function upsertOnce(docs: DocumentsBackend, c: string, id: string, body: Stored): Promise<void> {
  // Last writer wins, as the library expects of upsert.
  for (let attempt = 0; ; attempt++) {
    const r = await docs.getDocument(c, id);
    try {
      await docs.putDocument(c, id, body, r?.version ?? 0);
      return;
    } catch (err) {
      if (!(err instanceof DocumentConflict) || attempt >= 5) throw err;
    }
  }
}

/** Deletes expired entries of every model; returns how many. Bounded work per call. */
export async function sweepExpired(docs: DocumentsBackend, models: string[], now: number, budget = 5000): Promise<number> {
  let deleted = 0;
  for (const c of [...models.map(collection), SESSION_UIDS, USER_CODES]) {
    let after: string | undefined;
    for (;;) {
      const rows = await docs.listDocuments<Stored>(c, { ...(after !== undefined ? { after } : {}), limit: 500 });
      if (rows.length === 0) break;
      for (const r of rows) {
        if (r.body.expiresAt !== undefined && r.body.expiresAt <= now) {
          await docs.deleteDocument(c, r.id);
          deleted++;
        }
      }
      after = rows[rows.length - 1]!.id;
      budget -= rows.length;
      if (budget <= 0) return deleted;
    }
  }
  return deleted;
}
