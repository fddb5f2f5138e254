/**
 * The request's state machine, as pure functions: each checks who may do what in which state,
 * and returns the next state with its history entry appended. No storage, no clock: the service
 * passes the time and the id of the event that will announce the change.
 */
import { TenetError } from "../../errors.js";
import { formatDuration } from "./duration.js";
import type { ApproverSpec, HistoryEntry, JitAction, JitRequest, ReviewOutcome, TupleOutcome } from "./types.js";

export interface Stamp {
  /** Milliseconds since the epoch. */
  now: number;
  eventId: string;
}

export const SYSTEM_ACTOR = "system";

const iso = (ms: number) => new Date(ms).toISOString();

function record(r: JitRequest, s: Stamp, actor: string, action: JitAction, extra: Partial<Pick<HistoryEntry, "justification" | "outcome">> = {}): JitRequest {
  const entry: HistoryEntry = { at: iso(s.now), actor, action, ...extra, eventId: s.eventId };
  return { ...r, updatedAt: entry.at, history: [...r.history, entry] };
}

/** Is the grant in force at `now` (approved or break-glass, not ended, not past its expiry)? */
export function grantInForce(r: JitRequest, now: number): boolean {
  return (r.status === "approved" || r.status === "break_glass") && r.grant !== undefined && r.grant.endedAt === undefined && now < Date.parse(r.grant.expiresAt);
}

interface NewRequest {
  id: string;
  storeId: string;
  requester: string;
  resource: string;
  action: string;
  reason: string;
  duration: string;
  durationMs: number;
  approverSpec: ApproverSpec;
  approvers: string[];
}

export function requested(n: NewRequest, s: Stamp): JitRequest {
  const at = iso(s.now);
  const r: JitRequest = { ...n, kind: "request", status: "pending", createdAt: at, updatedAt: at, history: [] };
  return record(r, s, n.requester, "requested", { justification: n.reason });
}

export function brokeGlass(n: NewRequest, tuple: TupleOutcome, s: Stamp): JitRequest {
  const at = iso(s.now);
  const r: JitRequest = {
    ...n,
    kind: "break_glass",
    status: "break_glass",
    createdAt: at,
    updatedAt: at,
    grant: { grantedAt: at, expiresAt: iso(s.now + n.durationMs), tuple },
    review: { required: true, status: "pending" },
    history: [],
  };
  return record(r, s, n.requester, "break_glass", { justification: n.reason });
}

/** Throws unless `actor` may approve or deny `r` now. */
export function assertCanDecide(r: JitRequest, actor: string): void {
  if (r.status !== "pending") {
    throw new TenetError("conflict", `request ${r.id} is ${r.status}, no longer pending: it cannot be approved or denied`);
  }
  if (actor === r.requester) throw new TenetError("forbidden", "the requester may not approve or deny their own request");
  if (!r.approvers.includes(actor)) {
    throw new TenetError("forbidden", `${actor} is not an approver of request ${r.id} (approvers: ${r.approvers.join(", ")})`);
  }
}

export function approved(r: JitRequest, approver: string, justification: string, tuple: TupleOutcome, s: Stamp): JitRequest {
  assertCanDecide(r, approver);
  const grant = { grantedAt: iso(s.now), expiresAt: iso(s.now + r.durationMs), tuple };
  return record({ ...r, status: "approved", grant }, s, approver, "approved", { justification });
}

export function denied(r: JitRequest, approver: string, justification: string, s: Stamp): JitRequest {
  assertCanDecide(r, approver);
  return record({ ...r, status: "denied" }, s, approver, "denied", { justification });
}

/**
 * Ends a grant early. The requester (giving it up) and the approvers or reviewers may; when a
 * break-glass grant named no reviewers, anyone may.
 */
export function revoked(r: JitRequest, actor: string, justification: string, s: Stamp): JitRequest {
  if (!grantInForce(r, s.now)) throw new TenetError("conflict", `request ${r.id} has no grant in force (it is ${r.status})`);
  if (actor !== r.requester && r.approvers.length > 0 && !r.approvers.includes(actor)) {
    throw new TenetError("forbidden", `${actor} may not revoke request ${r.id}: only the requester and its approvers may`);
  }
  return record({ ...r, status: "revoked", grant: { ...r.grant!, endedAt: iso(s.now) } }, s, actor, "revoked", { justification });
}

/**
 * The after-the-fact review of a break-glass grant: by anyone but the requester (by one of the
 * named reviewers when there are any), once. `revoked` ends the grant at once if it is in force.
 */
export function reviewed(r: JitRequest, reviewer: string, outcome: ReviewOutcome, justification: string, s: Stamp): JitRequest {
  if (r.kind !== "break_glass" || !r.review) throw new TenetError("conflict", `request ${r.id} is not a break-glass grant: there is nothing to review`);
  if (r.review.status !== "pending") throw new TenetError("conflict", `break-glass grant ${r.id} was already reviewed (${r.review.status})`);
  if (reviewer === r.requester) throw new TenetError("forbidden", "the requester may not review their own break-glass grant");
  if (r.approvers.length > 0 && !r.approvers.includes(reviewer)) {
    throw new TenetError("forbidden", `${reviewer} is not a reviewer of break-glass grant ${r.id} (reviewers: ${r.approvers.join(", ")})`);
  }
  const at = iso(s.now);
  const next: JitRequest = { ...r, review: { required: true, status: outcome, reviewer, reviewedAt: at, justification } };
  if (outcome === "revoked" && grantInForce(r, s.now)) {
    next.status = "revoked";
    next.grant = { ...r.grant!, endedAt: at };
  }
  return record(next, s, reviewer, "reviewed", { justification, outcome });
}

/** A grant past its expiry, swept. */
export function expired(r: JitRequest, s: Stamp): JitRequest {
  if ((r.status !== "approved" && r.status !== "break_glass") || !r.grant || s.now < Date.parse(r.grant.expiresAt)) {
    throw new TenetError("conflict", `request ${r.id} has no grant past its expiry`);
  }
  return record({ ...r, status: "expired", grant: { ...r.grant, endedAt: r.grant.expiresAt } }, s, SYSTEM_ACTOR, "expired");
}

/** A request nobody decided within `ttlMs`. */
export function lapsed(r: JitRequest, ttlMs: number, s: Stamp): JitRequest {
  if (r.status !== "pending" || s.now < Date.parse(r.createdAt) + ttlMs) throw new TenetError("conflict", `request ${r.id} has not lapsed`);
  return record({ ...r, status: "expired" }, s, SYSTEM_ACTOR, "expired", { justification: `not decided within ${formatDuration(ttlMs)}` });
}
