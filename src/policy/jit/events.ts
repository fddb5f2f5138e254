/**
 * Events: what the outbox stores and webhooks receive (the JSON body, as is). A JIT event is
 * built from the request as it is right after the change its history entry records, so a later
 * change never rewrites what an earlier event said.
 */
import type { HistoryEntry, JitAction, JitRequest } from "./types.js";
import { requestView, type JitRequestView } from "./view.js";

export type JitEventType = `jit.${JitAction}`;

export interface TenetEvent {
  /** Unique; receivers deduplicate on it (delivery is at least once). Also the `tenet-event-id` header. */
  id: string;
  /** `jit.requested`, `jit.approved`, … or a type given to `notify`. */
  type: string;
  /** RFC 3339. */
  created_at: string;
  store_id?: string;
  request_id?: string;
  actor?: string;
  justification?: string;
  outcome?: string;
  /** Who should hear of it: approvers, the requester, a manager (subject ids, `user:bob`). */
  recipients: string[];
  request?: JitRequestView;
  data?: Record<string, unknown>;
}

/** What a caller of `notify` gives; the outbox adds the id and time. */
export interface NotifyInput {
  /** Lower case, dot-separated: `access.manager_notice`. */
  type: string;
  recipients: string[];
  storeId?: string | undefined;
  requestId?: string | undefined;
  data?: Record<string, unknown> | undefined;
}

/**
 * Who hears of an entry: a new request goes to its approvers; every later change to the requester
 * and the approvers (reviewers, for break-glass) alike.
 */
export function recipients(r: JitRequest, action: JitAction): string[] {
  if (action === "requested") return [...r.approvers];
  return [...new Set([r.requester, ...r.approvers])];
}

/** The event announcing `entry` (the request's newest history entry). */
export function jitEvent(r: JitRequest, entry: HistoryEntry): TenetEvent {
  const e: TenetEvent = {
    id: entry.eventId,
    type: `jit.${entry.action}`,
    created_at: entry.at,
    store_id: r.storeId,
    request_id: r.id,
    actor: entry.actor,
    recipients: recipients(r, entry.action),
    request: requestView(r, { history: false }),
  };
  if (entry.justification !== undefined) e.justification = entry.justification;
  if (entry.outcome !== undefined) e.outcome = entry.outcome;
  return e;
}
