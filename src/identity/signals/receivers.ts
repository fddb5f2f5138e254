/**
 * Shared Signals receivers: where Tenet pushes SETs (RFC 8935), registered by an administrator.
 * One receiver is one SSF stream (SSF 1.0 §8.1.1): its endpoint, the audience its SETs carry, the
 * event types it asked for and its status:
 *
 *   enabled   SETs are delivered
 *   paused    SETs are kept and delivered once it is enabled again (SSF §8.1.2)
 *   disabled  nothing is sent and nothing is kept
 *
 * The authorization header the receiver expects (SSF §6.1.1 `authorization_header`) is a secret:
 * it is stored sealed with the master key, never returned by this registry's reads and never
 * logged; only `deliveryTargets()` opens it, for the transmitter.
 *
 * Endpoints must use https. With `allowInsecure` (development), http is accepted for loopback
 * hosts only (localhost, 127.0.0.1, [::1]), never for anything reachable over a network.
 */
import { TenetError } from "../../errors.js";
import type { SealedBox } from "../../crypto/master-key.js";
import { DocumentConflict, type DocumentRecord, type DocumentsBackend } from "../../storage/interfaces.js";
import { ulid } from "../../util/ulid.js";
import { SUPPORTED_EVENTS } from "./events.js";

export const RECEIVERS = "identity.ssf-receivers";
export const RECEIVER_STATUSES = ["enabled", "paused", "disabled"] as const;
export type ReceiverStatus = (typeof RECEIVER_STATUSES)[number];

/** Sealing purpose of the authorization header (AES-GCM associated data). */
const SEAL_PURPOSE = "tenet/ssf-receiver-authorization/v1";
/** Fan-out per event is one SET per receiver: bounded. */
export const MAX_RECEIVERS = 100;

/** What seals secrets at rest: the MasterKey (src/crypto/master-key.ts). */
export interface Sealer {
  seal(purpose: string, plaintext: Uint8Array): SealedBox;
  open(purpose: string, box: unknown): Buffer;
}

/** A receiver as read: without its secret. */
export interface Receiver {
  id: string;
  description?: string | undefined;
  endpointUrl: string;
  audience: string;
  /** Event type URIs it receives (a subset of SUPPORTED_EVENTS). */
  events: string[];
  status: ReceiverStatus;
  statusReason?: string | undefined;
  /** Whether an authorization header is configured (its value is never read back). */
  hasAuthorization: boolean;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/** A receiver with what delivery needs: its authorization header in clear. Never log it. */
export interface DeliveryTarget {
  id: string;
  endpointUrl: string;
  audience: string;
  events: string[];
  status: ReceiverStatus;
  authorization?: string | undefined;
  /** Set when the stored header cannot be opened (another master key): delivery fails with this. */
  authorizationError?: string | undefined;
}

export interface NewReceiver {
  endpointUrl: string;
  /** Default: the endpoint URL. */
  audience?: string | undefined;
  /** Default: every supported event type. */
  events?: string[] | undefined;
  authorizationHeader?: string | undefined;
  description?: string | undefined;
  status?: ReceiverStatus | undefined;
  statusReason?: string | undefined;
}

export interface ReceiverPatch {
  endpointUrl?: string | undefined;
  audience?: string | undefined;
  events?: string[] | undefined;
  /** null removes it. */
  authorizationHeader?: string | null | undefined;
  description?: string | null | undefined;
  status?: ReceiverStatus | undefined;
  statusReason?: string | null | undefined;
}

interface Stored {
  id: string;
  description?: string;
  endpointUrl: string;
  audience: string;
  events: string[];
  status: ReceiverStatus;
  statusReason?: string;
  authorization?: SealedBox;
}

export interface ReceiverRegistryOptions {
  documents: DocumentsBackend;
  sealer: Sealer;
  /** Accept http:// endpoints on loopback hosts (development and tests). */
  allowInsecure?: boolean | undefined;
  newId?: () => string;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

function text(value: unknown, field: string, max: number): string {
  if (typeof value !== "string" || value.trim() === "") throw new TenetError("validation_error", `${field} must be a non-empty string`);
  if (value.length > max) throw new TenetError("validation_error", `${field} must be at most ${max} characters`);
  if (CONTROL.test(value)) throw new TenetError("validation_error", `${field} must not contain control characters`);
  return value;
}

/** Checks an endpoint URL; returns it normalised. */
export function checkEndpoint(value: unknown, allowInsecure: boolean): string {
  const raw = text(value, "endpoint_url", 2048);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new TenetError("validation_error", "endpoint_url is not a URL");
  }
  if (u.username !== "" || u.password !== "") throw new TenetError("validation_error", "endpoint_url must not hold credentials: give them as authorization_header");
  if (u.hash !== "") throw new TenetError("validation_error", "endpoint_url must not have a fragment");
  if (u.protocol === "https:") return u.href;
  if (u.protocol === "http:") {
    if (allowInsecure && LOOPBACK.has(u.hostname)) return u.href;
    throw new TenetError(
      "validation_error",
      allowInsecure ? "endpoint_url must use https (http is accepted for localhost, 127.0.0.1 and [::1] only)" : "endpoint_url must use https (RFC 8935 §5.1: SETs are delivered over TLS)",
    );
  }
  throw new TenetError("validation_error", `endpoint_url must use https, not '${u.protocol.replace(/:$/, "")}'`);
}

function checkEvents(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) throw new TenetError("validation_error", "events must be a non-empty list of event type URIs");
  const out = new Set<string>();
  for (const [i, v] of value.entries()) {
    if (typeof v !== "string" || !SUPPORTED_EVENTS.includes(v)) {
      throw new TenetError("validation_error", `events[${i}] is not an event type Tenet sends; supported: ${SUPPORTED_EVENTS.join(", ")}`);
    }
    out.add(v);
  }
  return [...out];
}

function checkStatus(value: unknown): ReceiverStatus {
  if (typeof value !== "string" || !(RECEIVER_STATUSES as readonly string[]).includes(value)) {
    throw new TenetError("validation_error", `status must be one of ${RECEIVER_STATUSES.join(", ")}`);
  }
  return value as ReceiverStatus;
}

/** An HTTP header value: printable, one line (no header injection). */
function checkAuthorization(value: unknown): string {
  const v = text(value, "authorization_header", 4096);
  if (!/^[\x21-\x7e][\x20-\x7e]*$/.test(v)) throw new TenetError("validation_error", "authorization_header must be printable ASCII on one line");
  return v;
}

function view(r: DocumentRecord<Stored>): Receiver {
  const b = r.body;
  return {
    id: b.id,
    ...(b.description !== undefined ? { description: b.description } : {}),
    endpointUrl: b.endpointUrl,
    audience: b.audience,
    events: [...b.events],
    status: b.status,
    ...(b.statusReason !== undefined ? { statusReason: b.statusReason } : {}),
    hasAuthorization: b.authorization !== undefined,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    version: r.version,
  };
}

export class ReceiverRegistry {
  private readonly docs: DocumentsBackend;
  private readonly allowInsecure: boolean;
  private readonly newId: () => string;

  constructor(private readonly opts: ReceiverRegistryOptions) {
    this.docs = opts.documents;
    this.allowInsecure = opts.allowInsecure === true;
    this.newId = opts.newId ?? (() => ulid());
  }

  async create(input: NewReceiver): Promise<Receiver> {
    if (typeof input !== "object" || input === null) throw new TenetError("validation_error", "a receiver must be an object");
    const endpointUrl = checkEndpoint(input.endpointUrl, this.allowInsecure);
    const body: Stored = {
      id: this.newId(),
      endpointUrl,
      audience: input.audience === undefined ? endpointUrl : text(input.audience, "audience", 512),
      events: input.events === undefined ? [...SUPPORTED_EVENTS] : checkEvents(input.events),
      status: input.status === undefined ? "enabled" : checkStatus(input.status),
    };
    if (input.description !== undefined) body.description = text(input.description, "description", 500);
    if (input.statusReason !== undefined) body.statusReason = text(input.statusReason, "status_reason", 500);
    if (input.authorizationHeader !== undefined) body.authorization = this.seal(checkAuthorization(input.authorizationHeader));
    if ((await this.docs.listDocuments(RECEIVERS, { limit: MAX_RECEIVERS })).length >= MAX_RECEIVERS) {
      throw new TenetError("conflict", `at most ${MAX_RECEIVERS} receivers can be registered; delete one first`);
    }
    await this.docs.putDocument(RECEIVERS, body.id, body, 0);
    return (await this.get(body.id))!;
  }

  async get(id: string): Promise<Receiver | undefined> {
    const r = await this.docs.getDocument<Stored>(RECEIVERS, id);
    return r ? view(r) : undefined;
  }

  async require(id: string): Promise<Receiver> {
    const r = await this.get(id);
    if (!r) throw new TenetError("not_found", `no receiver '${id}'`);
    return r;
  }

  /** Receivers in id (creation) order, a page of `limit` after `after`; `next` when there may be more. */
  async list(opts: { after?: string | undefined; limit?: number | undefined } = {}): Promise<{ items: Receiver[]; next?: string }> {
    const limit = Math.min(Math.max(opts.limit ?? 50, 1), MAX_RECEIVERS);
    const page = await this.docs.listDocuments<Stored>(RECEIVERS, { ...(opts.after !== undefined ? { after: opts.after } : {}), limit });
    const items = page.map(view);
    return page.length === limit ? { items, next: page[page.length - 1]!.id } : { items };
  }

  /** Applies `patch` (to the version read, when `expectedVersion` is given); returns the receiver. */
  async update(id: string, patch: ReceiverPatch, expectedVersion?: number): Promise<Receiver> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.docs.getDocument<Stored>(RECEIVERS, id);
      if (!r) throw new TenetError("not_found", `no receiver '${id}'`);
      if (expectedVersion !== undefined && r.version !== expectedVersion) {
        throw new TenetError("conflict", `receiver '${id}' changed since version ${expectedVersion}; read it again`);
      }
      const b: Stored = { ...r.body };
      if (patch.endpointUrl !== undefined) b.endpointUrl = checkEndpoint(patch.endpointUrl, this.allowInsecure);
      if (patch.audience !== undefined) b.audience = text(patch.audience, "audience", 512);
      if (patch.events !== undefined) b.events = checkEvents(patch.events);
      if (patch.status !== undefined) b.status = checkStatus(patch.status);
      if (patch.description === null) delete b.description;
      else if (patch.description !== undefined) b.description = text(patch.description, "description", 500);
      if (patch.statusReason === null) delete b.statusReason;
      else if (patch.statusReason !== undefined) b.statusReason = text(patch.statusReason, "status_reason", 500);
      if (patch.authorizationHeader === null) delete b.authorization;
      else if (patch.authorizationHeader !== undefined) b.authorization = this.seal(checkAuthorization(patch.authorizationHeader));
      try {
        await this.docs.putDocument(RECEIVERS, id, b, r.version);
        return await this.require(id);
      } catch (err) {
        if (!(err instanceof DocumentConflict)) throw err;
        // Someone else wrote in between: re-apply to what they wrote (unless pinned to a version).
        if (expectedVersion !== undefined || attempt >= 4) throw new TenetError("conflict", `receiver '${id}' is being changed concurrently; retry`);
      }
    }
  }

  async setStatus(id: string, status: ReceiverStatus, reason?: string): Promise<Receiver> {
    return this.update(id, { status, statusReason: reason ?? null });
  }

  async delete(id: string): Promise<boolean> {
    return this.docs.deleteDocument(RECEIVERS, id);
  }

  /** Every receiver (at most MAX_RECEIVERS, plus any written concurrently). */
  async all(): Promise<Receiver[]> {
    const out: Receiver[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.docs.listDocuments<Stored>(RECEIVERS, { ...(after !== undefined ? { after } : {}), limit: 200 });
      out.push(...page.map(view));
      if (page.length < 200) return out;
      after = page[page.length - 1]!.id;
    }
  }

  /** Every receiver with its authorization header opened: for the transmitter only. */
  async deliveryTargets(): Promise<DeliveryTarget[]> {
    const out: DeliveryTarget[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.docs.listDocuments<Stored>(RECEIVERS, { ...(after !== undefined ? { after } : {}), limit: 200 });
      for (const { body: b } of page) {
        const t: DeliveryTarget = { id: b.id, endpointUrl: b.endpointUrl, audience: b.audience, events: b.events, status: b.status };
        if (b.authorization !== undefined) {
          try {
            const bytes = this.opts.sealer.open(SEAL_PURPOSE, b.authorization);
            t.authorization = bytes.toString("utf8");
            bytes.fill(0);
          } catch (err) {
            t.authorizationError = `the authorization header cannot be opened: ${(err as Error).message}`;
          }
        }
        out.push(t);
      }
      if (page.length < 200) return out;
      after = page[page.length - 1]!.id;
    }
  }

  private seal(value: string): SealedBox {
    const bytes = Buffer.from(value, "utf8");
    try {
      return this.opts.sealer.seal(SEAL_PURPOSE, bytes);
    } finally {
      bytes.fill(0);
    }
  }
}
