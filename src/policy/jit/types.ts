/**
 * Just-in-time access: the records and events. A request asks for one relation (`action`) on one
 * object (`resource`) for a bounded time; approvers decide; an approved request is a grant that
 * ends on its own. Break-glass grants at once and is reviewed afterwards. Every change is appended
 * to the request's history and announced through the outbox.
 *
 * Stored shapes are camelCase; view.ts gives the snake_case wire shape (API and webhooks).
 */

export type JitKind = "request" | "break_glass";

/**
 * pending → approved | denied | expired (undecided for too long);
 * approved → expired | revoked; break_glass → expired | revoked.
 */
export type JitStatus = "pending" | "approved" | "denied" | "break_glass" | "revoked" | "expired";
export const JIT_STATUSES: readonly JitStatus[] = ["pending", "approved", "denied", "break_glass", "revoked", "expired"];

/** What a history entry records; each one is announced as the event `jit.<action>`. */
export type JitAction = "requested" | "approved" | "denied" | "break_glass" | "reviewed" | "revoked" | "expired";

export type ReviewOutcome = "upheld" | "revoked";

/** Who may approve: named users, members of groups, and/or the requester's manager(s). */
export interface ApproverSpec {
  /** `user:bob`, … */
  users?: string[] | undefined;
  /** `group:sre`, …: every user related to the group by `member` (nested groups included). */
  groups?: string[] | undefined;
  /** Users related to the requester by `manager` (tuples `requester#manager@user:x`). */
  manager?: boolean | undefined;
}

export interface HistoryEntry {
  /** RFC 3339. */
  at: string;
  /** `user:…`, or `system` for the sweeper. */
  actor: string;
  action: JitAction;
  justification?: string;
  outcome?: ReviewOutcome;
  /** The id of the event that announced this entry (the outbox entry's id). */
  eventId: string;
}

/**
 * Whether the grant's conditional tuple is in the store. When it is not (the model does not accept
 * it, or a tuple for the same object/relation/user exists already and is left alone), the grant is
 * still recorded and `activeGrant` still honours it; only relationship checks do not see it.
 */
export interface TupleOutcome {
  written: boolean;
  reason?: string;
}

export interface JitGrant {
  grantedAt: string;
  expiresAt: string;
  /** Set when the grant ended before `expiresAt` (revoked) or was swept after it. */
  endedAt?: string;
  tuple: TupleOutcome;
}

export interface JitReview {
  required: true;
  status: "pending" | ReviewOutcome;
  reviewer?: string;
  reviewedAt?: string;
  justification?: string;
}

export interface JitRequest {
  /** A ULID. */
  id: string;
  storeId: string;
  kind: JitKind;
  /** `user:anne`. */
  requester: string;
  /** The object, `doc:1`. */
  resource: string;
  /** The relation asked for, `editor`. */
  action: string;
  reason: string;
  /** As given (`30m`, `PT1H`). */
  duration: string;
  durationMs: number;
  approverSpec: ApproverSpec;
  /** The approvers (reviewers, for break-glass) resolved when the request was made. */
  approvers: string[];
  status: JitStatus;
  createdAt: string;
  updatedAt: string;
  grant?: JitGrant;
  /** Break-glass only. */
  review?: JitReview;
  history: HistoryEntry[];
}

/** A grant in force: what the decision path needs, held in memory. */
export interface ActiveGrant {
  /** The request's id. */
  id: string;
  storeId: string;
  kind: JitKind;
  requester: string;
  resource: string;
  action: string;
  grantedAt: string;
  expiresAt: string;
}

export interface JitRequestInput {
  storeId: string;
  requester: string;
  resource: string;
  action: string;
  reason: string;
  duration: string;
  approvers: ApproverSpec;
}

export interface BreakGlassInput {
  storeId: string;
  requester: string;
  resource: string;
  action: string;
  reason: string;
  duration: string;
  /** Who reviews afterwards (and is notified). Without it, anyone but the requester may review. */
  reviewers?: ApproverSpec | undefined;
}

export interface ListFilter {
  storeId: string;
  status?: JitStatus | undefined;
  requester?: string | undefined;
  /** Requests this user may decide (or review). */
  approver?: string | undefined;
  /** Paging: the last id of the previous page. */
  after?: string | undefined;
  /** Default 50, at most 100. */
  limit?: number | undefined;
}

export interface ListResult {
  items: JitRequest[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string;
}
