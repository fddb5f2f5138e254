/**
 * The SET outbox: every SET is stored (collection `identity.ssf-outbox`) before anything is sent,
 * one record per receiver, with its delivery state. Records are kept once final (delivered, dead,
 * discarded): they are the record of what each receiver was told.
 *
 * A record's id is `<receiver id>:<jti>`, so one receiver's SETs are a prefix (in creation
 * order: jtis are ULIDs). Records not yet final also have a marker of the same id in
 * `identity.ssf-pending`, so the delivery worker lists only what is left to do, receiver by
 * receiver, and never reads a paused receiver's backlog.
 *
 * The marker is written before the record and removed after the record is final. A marker
 * without a record is a write in progress (left alone while young) or the trace of a crash
 * between the two writes (dropped once old: nothing was stored, so nothing was lost).
 */
import { DocumentConflict, type DocumentsBackend } from "../../storage/interfaces.js";
import type { SetPayload } from "./set.js";

export const SET_OUTBOX = "identity.ssf-outbox";
export const SET_PENDING = "identity.ssf-pending";

/** `discarded`: never sent, because the receiver was disabled or deleted first. */
export type SetStatus = "pending" | "delivered" | "dead" | "discarded";

export interface SetRecord {
  /** `<receiver id>:<jti>`. */
  id: string;
  receiverId: string;
  jti: string;
  /** The event type URI (the one key of `payload.events`). */
  type: string;
  /** The claims, signed at each attempt: the same jti and iat every time, the current key. */
  payload: SetPayload;
  status: SetStatus;
  attempts: number;
  createdAt: string;
  /** RFC 3339: not before then (also a lease while an attempt is in flight). */
  nextAttemptAt: string;
  lastAttemptAt?: string;
  /** Why the last attempt failed (`HTTP 503`, `HTTP 400 invalid_audience: …`, `timeout …`). */
  lastError?: string;
  deliveredAt?: string;
  /** When it became dead or discarded. */
  endedAt?: string;
}

export const recordId = (receiverId: string, jti: string) => `${receiverId}:${jti}`;

/** A marker older than this with no record is the trace of a crash, not a write in progress. */
const ORPHAN_MARKER_MS = 60_000;

export class SetOutbox {
  constructor(
    private readonly docs: DocumentsBackend,
    private readonly now: () => number = Date.now,
  ) {}

  /** Stores a new pending record (idempotent by id: a record already there is kept). */
  async add(record: SetRecord): Promise<void> {
    await this.mark(record.id);
    try {
      await this.docs.putDocument(SET_OUTBOX, record.id, record, 0);
    } catch (err) {
      if (!(err instanceof DocumentConflict)) throw err;
    }
  }

  async get(id: string): Promise<SetRecord | undefined> {
    return (await this.docs.getDocument<SetRecord>(SET_OUTBOX, id))?.body;
  }

  /** The record with its version, for a compare-and-set `replace`. */
  async read(id: string): Promise<{ record: SetRecord; version: number } | undefined> {
    const d = await this.docs.getDocument<SetRecord>(SET_OUTBOX, id);
    return d ? { record: d.body, version: d.version } : undefined;
  }

  /** Replaces the record if still at `version` (else DocumentConflict); drops the marker once final. */
  async replace(record: SetRecord, version: number): Promise<number> {
    const v = await this.docs.putDocument(SET_OUTBOX, record.id, record, version);
    if (record.status !== "pending") await this.docs.deleteDocument(SET_PENDING, record.id);
    return v;
  }

  /** Ids of one receiver's records not yet final, oldest first. */
  async pendingIds(receiverId: string, opts: { after?: string | undefined; limit?: number } = {}): Promise<string[]> {
    const page = await this.docs.listDocuments(SET_PENDING, { prefix: `${receiverId}:`, ...(opts.after !== undefined ? { after: opts.after } : {}), limit: opts.limit ?? 200 });
    return page.map((d) => d.id);
  }

  /** Every pending marker's id (all receivers), a page at a time: for the orphan sweep. */
  async allPendingIds(opts: { after?: string | undefined; limit?: number } = {}): Promise<string[]> {
    const page = await this.docs.listDocuments(SET_PENDING, { ...(opts.after !== undefined ? { after: opts.after } : {}), limit: opts.limit ?? 500 });
    return page.map((d) => d.id);
  }

  /**
   * Drops the marker of a record that is final, or of one that does not exist and whose marker is
   * old enough not to be a write in progress. Returns whether the marker is gone.
   */
  async unmarkIfStale(id: string): Promise<boolean> {
    const rec = await this.docs.getDocument<SetRecord>(SET_OUTBOX, id);
    if (rec && rec.body.status === "pending") return false;
    if (!rec) {
      const marker = await this.docs.getDocument(SET_PENDING, id);
      if (!marker) return true;
      if (this.now() - Date.parse(marker.createdAt) < ORPHAN_MARKER_MS) return false;
    }
    await this.docs.deleteDocument(SET_PENDING, id);
    return true;
  }

  /** One receiver's records in creation order, optionally of one status. */
  async list(receiverId: string, opts: { status?: SetStatus | undefined; after?: string | undefined; limit?: number | undefined } = {}): Promise<SetRecord[]> {
    const limit = Math.min(Math.max(opts.limit ?? 100, 1), 1000);
    const out: SetRecord[] = [];
    let after = opts.after;
    for (;;) {
      const page = await this.docs.listDocuments<SetRecord>(SET_OUTBOX, { prefix: `${receiverId}:`, ...(after !== undefined ? { after } : {}), limit: 200 });
      for (const d of page) {
        if (opts.status === undefined || d.body.status === opts.status) out.push(d.body);
        if (out.length >= limit) return out;
      }
      if (page.length < 200) return out;
      after = page[page.length - 1]!.id;
    }
  }

  private async mark(id: string): Promise<void> {
    try {
      await this.docs.putDocument(SET_PENDING, id, {}, 0);
    } catch (err) {
      if (!(err instanceof DocumentConflict)) throw err;
    }
  }
}
