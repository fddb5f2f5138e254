/**
 * The wire shape of a request (snake_case, as the rest of Tenet's API): what the HTTP API returns
 * and what webhook events carry. One function, so the two never drift apart.
 */
import type { HistoryEntry, JitRequest } from "./types.js";

export interface JitRequestView {
  id: string;
  store_id: string;
  kind: JitRequest["kind"];
  requester: string;
  resource: string;
  action: string;
  reason: string;
  duration: string;
  duration_seconds: number;
  approvers: string[];
  approver_spec: { users?: string[]; groups?: string[]; manager?: boolean };
  status: JitRequest["status"];
  created_at: string;
  updated_at: string;
  grant?: { granted_at: string; expires_at: string; ended_at?: string; tuple: { written: boolean; reason?: string } };
  review?: { required: true; status: string; reviewer?: string; reviewed_at?: string; justification?: string };
  history?: HistoryView[];
}

export interface HistoryView {
  at: string;
  actor: string;
  action: HistoryEntry["action"];
  justification?: string;
  outcome?: string;
  event_id: string;
}

export function historyView(h: HistoryEntry): HistoryView {
  const v: HistoryView = { at: h.at, actor: h.actor, action: h.action, event_id: h.eventId };
  if (h.justification !== undefined) v.justification = h.justification;
  if (h.outcome !== undefined) v.outcome = h.outcome;
  return v;
}

/** The request's wire shape; `history: false` leaves the history out (events carry their own entry). */
export function requestView(r: JitRequest, opts: { history?: boolean } = {}): JitRequestView {
  const spec: JitRequestView["approver_spec"] = {};
  if (r.approverSpec.users) spec.users = r.approverSpec.users;
  if (r.approverSpec.groups) spec.groups = r.approverSpec.groups;
  if (r.approverSpec.manager !== undefined) spec.manager = r.approverSpec.manager;
  const v: JitRequestView = {
    id: r.id,
    store_id: r.storeId,
    kind: r.kind,
    requester: r.requester,
    resource: r.resource,
    action: r.action,
    reason: r.reason,
    duration: r.duration,
    duration_seconds: Math.round(r.durationMs / 1000),
    approvers: r.approvers,
    approver_spec: spec,
    status: r.status,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  };
  if (r.grant) {
    const g: NonNullable<JitRequestView["grant"]> = { granted_at: r.grant.grantedAt, expires_at: r.grant.expiresAt, tuple: { ...r.grant.tuple } };
    if (r.grant.endedAt !== undefined) g.ended_at = r.grant.endedAt;
    v.grant = g;
  }
  if (r.review) {
    const rv: NonNullable<JitRequestView["review"]> = { required: true, status: r.review.status };
    if (r.review.reviewer !== undefined) rv.reviewer = r.review.reviewer;
    if (r.review.reviewedAt !== undefined) rv.reviewed_at = r.review.reviewedAt;
    if (r.review.justification !== undefined) rv.justification = r.review.justification;
    v.review = rv;
  }
  if (opts.history !== false) v.history = r.history.map(historyView);
  return v;
}
