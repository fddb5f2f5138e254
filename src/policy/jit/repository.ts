/**
 * Where JIT state lives, as documents (any Datastore: memory, SQLite, PostgreSQL). Every document
 * is written with a compare-and-set on its version; there are no multi-document transactions, so
 * each record below is either the truth or an index that the service can rebuild from the truth.
 *
 *   jit-requests  <store>/<id>        the request (the truth)
 *   jit-ids       <id>                → its store (write-once), so a request is found by id alone
 *   jit-open      <store>/<hash>      → the pending request for (requester, resource, action):
 *                                       the lock that makes `request` idempotent
 *   jit-grants    <store>/<id>        the grants in force (what the decision path loads)
 *   jit-effects   <event id>          an operation whose effects (event, tuple, grant index) may not
 *                                       all be applied yet: written before the request changes,
 *                                       removed after; what `recover` finishes after a crash
 */
import { createHash } from "node:crypto";
import { DocumentConflict, type DocumentsBackend } from "../../storage/interfaces.js";
import type { TenetEvent } from "./events.js";
import type { ActiveGrant, JitRequest } from "./types.js";

export const JIT_REQUESTS = "jit-requests";
export const JIT_IDS = "jit-ids";
export const JIT_OPEN = "jit-open";
export const JIT_GRANTS = "jit-grants";
export const JIT_EFFECTS = "jit-effects";

export interface Versioned<T> {
  value: T;
  version: number;
}

export interface PendingEffects {
  storeId: string;
  requestId: string;
  event: TenetEvent;
  createdAt: string;
}

const PAGE = 200;

export class JitRepository {
  constructor(private readonly docs: DocumentsBackend) {}

  // ---- requests ----
  async storeOf(id: string): Promise<string | undefined> {
    return (await this.docs.getDocument<{ storeId: string }>(JIT_IDS, id))?.body.storeId;
  }

  async get(id: string): Promise<Versioned<JitRequest> | undefined> {
    const storeId = await this.storeOf(id);
    if (storeId === undefined) return undefined;
    const d = await this.docs.getDocument<JitRequest>(JIT_REQUESTS, `${storeId}/${id}`);
    return d ? { value: d.body, version: d.version } : undefined;
  }

  /** Stores a new request (its id must be new). */
  async create(r: JitRequest): Promise<void> {
    await this.docs.putDocument(JIT_IDS, r.id, { storeId: r.storeId }, 0);
    await this.docs.putDocument(JIT_REQUESTS, `${r.storeId}/${r.id}`, r, 0);
  }

  /** Removes a request nobody has been told of (one that lost the race for the open-request lock). */
  async discard(r: JitRequest): Promise<void> {
    await this.docs.deleteDocument(JIT_REQUESTS, `${r.storeId}/${r.id}`);
    await this.docs.deleteDocument(JIT_IDS, r.id);
  }

  /** Replaces the request if still at `version`; throws DocumentConflict otherwise. */
  replace(r: JitRequest, version: number): Promise<number> {
    return this.docs.putDocument(JIT_REQUESTS, `${r.storeId}/${r.id}`, r, version);
  }

  /** A store's requests in id (creation) order, a page at a time. */
  async page(storeId: string, after: string | undefined, limit = PAGE): Promise<JitRequest[]> {
    const prefix = `${storeId}/`;
    const docs = await this.docs.listDocuments<JitRequest>(JIT_REQUESTS, { prefix, limit, ...(after !== undefined ? { after: prefix + after } : {}) });
    return docs.map((d) => d.body);
  }

  // ---- the open-request lock ----
  openKey(storeId: string, r: { requester: string; resource: string; action: string }): string {
    const h = createHash("sha256").update(JSON.stringify([r.requester, r.resource, r.action])).digest("hex").slice(0, 40);
    return `${storeId}/${h}`;
  }

  async getOpen(key: string): Promise<Versioned<string> | undefined> {
    const d = await this.docs.getDocument<{ requestId: string }>(JIT_OPEN, key);
    return d ? { value: d.body.requestId, version: d.version } : undefined;
  }

  /** Points the lock at `requestId` if it is still at `version` (0: absent); false if someone else moved it. */
  async claimOpen(key: string, requestId: string, version: number): Promise<boolean> {
    try {
      await this.docs.putDocument(JIT_OPEN, key, { requestId }, version);
      return true;
    } catch (err) {
      if (err instanceof DocumentConflict) return false;
      throw err;
    }
  }

  /** Every open lock's request id (requests that were pending when last looked at). */
  async *openRequestIds(): AsyncIterable<string> {
    for await (const d of this.all<{ requestId: string }>(JIT_OPEN)) yield d.requestId;
  }

  // ---- grants in force ----
  async putGrant(g: ActiveGrant): Promise<void> {
    const id = `${g.storeId}/${g.id}`;
    const cur = await this.docs.getDocument(JIT_GRANTS, id);
    try {
      await this.docs.putDocument(JIT_GRANTS, id, g, cur?.version ?? 0);
    } catch (err) {
      // Another writer put the same grant (it is derived from the request): theirs is as good.
      if (!(err instanceof DocumentConflict)) throw err;
    }
  }

  async deleteGrant(storeId: string, id: string): Promise<void> {
    await this.docs.deleteDocument(JIT_GRANTS, `${storeId}/${id}`);
  }

  /** The grants of one store, or of every store. */
  async grants(storeId?: string): Promise<ActiveGrant[]> {
    const out: ActiveGrant[] = [];
    for await (const g of this.all<ActiveGrant>(JIT_GRANTS, storeId === undefined ? "" : `${storeId}/`)) out.push(g);
    return out;
  }

  // ---- effects not yet applied ----
  async putEffects(p: PendingEffects): Promise<void> {
    await this.docs.putDocument(JIT_EFFECTS, p.event.id, p, 0);
  }

  async deleteEffects(eventId: string): Promise<void> {
    await this.docs.deleteDocument(JIT_EFFECTS, eventId);
  }

  async *pendingEffects(): AsyncIterable<PendingEffects> {
    yield* this.all<PendingEffects>(JIT_EFFECTS);
  }

  private async *all<T>(collection: string, prefix = ""): AsyncIterable<T> {
    let after: string | undefined;
    for (;;) {
      const page = await this.docs.listDocuments<T>(collection, { prefix, limit: PAGE, ...(after !== undefined ? { after } : {}) });
      for (const d of page) yield d.body;
      if (page.length < PAGE) return;
      after = page[page.length - 1]!.id;
    }
  }
}
