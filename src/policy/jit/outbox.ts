/**
 * The notification outbox: every event is stored (collection `outbox`, by event id) before the
 * operation that caused it returns, with one delivery per configured webhook endpoint. The entry
 * is the permanent record; delivered and dead entries are kept.
 *
 * Entries not yet final also have a marker in `outbox-pending` (written before the entry, removed
 * once it is final), so the delivery worker reads only what is left to do, never the whole record.
 */
import { TenetError } from "../../errors.js";
import { DocumentConflict, type DocumentsBackend } from "../../storage/interfaces.js";
import { ulid } from "../../util/ulid.js";
import type { WebhookEndpoint } from "./endpoints.js";
import type { NotifyInput, TenetEvent } from "./events.js";
import { subject } from "./validate.js";

export const OUTBOX = "outbox";
export const OUTBOX_PENDING = "outbox-pending";

export type DeliveryStatus = "pending" | "delivered" | "dead";

export interface Delivery {
  url: string;
  status: DeliveryStatus;
  /** Attempts made so far. */
  attempts: number;
  /** RFC 3339: not before then (also a lease while an attempt is in flight). */
  nextAttemptAt: string;
  lastAttemptAt?: string;
  /** Why the last attempt failed (`HTTP 503`, `connect ECONNREFUSED …`, `timeout`). */
  lastError?: string;
  deliveredAt?: string;
}

/**
 * `pending` until every delivery is final; then `delivered`, or `dead` when any delivery gave up.
 * `recorded`: no endpoint is configured, the event is kept and nobody is called.
 */
export type OutboxStatus = "pending" | "delivered" | "dead" | "recorded";

export interface OutboxEntry {
  id: string;
  event: TenetEvent;
  status: OutboxStatus;
  createdAt: string;
  deliveries: Delivery[];
}

export interface OutboxOptions {
  /** The endpoints events are delivered to (webhookEndpoints() validates them). */
  endpoints?: readonly WebhookEndpoint[];
  now?: () => number;
  newId?: () => string;
}

const EVENT_TYPE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const MAX_RECIPIENTS = 200;
const MAX_DATA_BYTES = 16 * 1024;

/** The entry's status from its deliveries. */
export function entryStatus(deliveries: readonly Delivery[]): OutboxStatus {
  if (deliveries.length === 0) return "recorded";
  if (deliveries.some((d) => d.status === "pending")) return "pending";
  return deliveries.some((d) => d.status === "dead") ? "dead" : "delivered";
}

export class Outbox {
  private readonly urls: string[];
  private readonly now: () => number;
  private readonly newId: () => string;

  constructor(
    private readonly docs: DocumentsBackend,
    opts: OutboxOptions = {},
  ) {
    this.urls = (opts.endpoints ?? []).map((e) => e.url);
    this.now = opts.now ?? Date.now;
    this.newId = opts.newId ?? (() => ulid());
  }

  /**
   * Stores `event` for delivery. Idempotent by event id: storing an event again returns the
   * entry stored first (so an operation replayed after a crash announces nothing twice).
   */
  async enqueue(event: TenetEvent): Promise<OutboxEntry> {
    const at = new Date(this.now()).toISOString();
    const deliveries: Delivery[] = this.urls.map((url) => ({ url, status: "pending", attempts: 0, nextAttemptAt: at }));
    const entry: OutboxEntry = { id: event.id, event, status: entryStatus(deliveries), createdAt: at, deliveries };
    if (entry.status === "pending") await this.mark(event.id);
    try {
      await this.docs.putDocument(OUTBOX, event.id, entry, 0);
      return entry;
    } catch (err) {
      if (!(err instanceof DocumentConflict)) throw err;
      const existing = await this.get(event.id);
      if (!existing) throw err;
      return existing;
    }
  }

  /**
   * A notification that is not about a JIT request's state (e.g. the access-policy layer's notice
   * to a manager). Validated, stored like every event, returned with its id.
   */
  async notify(input: NotifyInput): Promise<TenetEvent> {
    if (typeof input?.type !== "string" || !EVENT_TYPE.test(input.type) || input.type.length > 100) {
      throw new TenetError("validation_error", "event type must be lower-case dot-separated words, e.g. 'access.manager_notice'");
    }
    if (!Array.isArray(input.recipients) || input.recipients.length > MAX_RECIPIENTS) {
      throw new TenetError("validation_error", `recipients must be a list of at most ${MAX_RECIPIENTS} subjects`);
    }
    const recipients = input.recipients.map((r, i) => subject(r, `recipients[${i}]`));
    const event: TenetEvent = { id: this.newId(), type: input.type, created_at: new Date(this.now()).toISOString(), recipients };
    if (input.storeId !== undefined) event.store_id = input.storeId;
    if (input.requestId !== undefined) event.request_id = input.requestId;
    if (input.data !== undefined) {
      const json = JSON.stringify(input.data);
      if (typeof input.data !== "object" || input.data === null || Array.isArray(input.data) || json.length > MAX_DATA_BYTES) {
        throw new TenetError("validation_error", `data must be a JSON object of at most ${MAX_DATA_BYTES} bytes`);
      }
      event.data = JSON.parse(json) as Record<string, unknown>;
    }
    await this.enqueue(event);
    return event;
  }

  async get(id: string): Promise<OutboxEntry | undefined> {
    return (await this.docs.getDocument<OutboxEntry>(OUTBOX, id))?.body;
  }

  /** Entries in id (creation) order, optionally of one status: for reports ("what is dead?"). */
  async list(opts: { status?: OutboxStatus; after?: string; limit?: number } = {}): Promise<OutboxEntry[]> {
    const limit = Math.min(Math.max(opts.limit ?? 100, 1), 1000);
    const out: OutboxEntry[] = [];
    let after = opts.after;
    for (;;) {
      const page = await this.docs.listDocuments<OutboxEntry>(OUTBOX, { ...(after !== undefined ? { after } : {}), limit: 200 });
      for (const d of page) {
        if (opts.status === undefined || d.body.status === opts.status) out.push(d.body);
        if (out.length >= limit) return out;
      }
      if (page.length < 200) return out;
      after = page[page.length - 1]!.id;
    }
  }

  // ---- for the delivery worker ----

  /** Ids of entries not yet final, oldest first (a page of `limit`, after `after`). */
  async pendingIds(opts: { after?: string; limit?: number } = {}): Promise<string[]> {
    const page = await this.docs.listDocuments(OUTBOX_PENDING, { ...(opts.after !== undefined ? { after: opts.after } : {}), limit: opts.limit ?? 500 });
    return page.map((d) => d.id);
  }

  /** The entry with its version, for a compare-and-set `replace`. */
  async read(id: string): Promise<{ entry: OutboxEntry; version: number } | undefined> {
    const d = await this.docs.getDocument<OutboxEntry>(OUTBOX, id);
    return d ? { entry: d.body, version: d.version } : undefined;
  }

  /** Replaces the entry if it is still at `version` (throws DocumentConflict otherwise); returns the new version. */
  async replace(entry: OutboxEntry, version: number): Promise<number> {
    entry.status = entryStatus(entry.deliveries);
    const v = await this.docs.putDocument(OUTBOX, entry.id, entry, version);
    if (entry.status !== "pending") await this.docs.deleteDocument(OUTBOX_PENDING, entry.id);
    return v;
  }

  /** Drops the marker of an entry that is final or missing. */
  async unmark(id: string): Promise<void> {
    await this.docs.deleteDocument(OUTBOX_PENDING, id);
  }

  private async mark(id: string): Promise<void> {
    try {
      await this.docs.putDocument(OUTBOX_PENDING, id, {}, 0);
    } catch (err) {
      if (!(err instanceof DocumentConflict)) throw err;
    }
  }
}
