/** Just-in-time access: the public API. */
export { JitService, type JitServiceOptions, type InStore, type SweepReport } from "./service.js";
export { Outbox, OUTBOX, entryStatus, type Delivery, type DeliveryStatus, type OutboxEntry, type OutboxOptions, type OutboxStatus } from "./outbox.js";
export { WebhookWorker, backoffDelay, type DeliveryReport, type WebhookWorkerOptions } from "./webhook.js";
export { webhookEndpoints, MIN_SECRET_LENGTH, type WebhookEndpoint } from "./endpoints.js";
export { signature, verifySignature, SIGNATURE_HEADER, EVENT_ID_HEADER } from "./signature.js";
export { JIT_GRANT_CONDITION_NAME, JIT_GRANT_CONDITION_DSL, JIT_GRANT_CONDITION_JSON, grantTuple } from "./condition.js";
export { parseDuration, formatDuration } from "./duration.js";
export { requestView, type JitRequestView, type HistoryView } from "./view.js";
export type { TenetEvent, NotifyInput, JitEventType } from "./events.js";
export { JIT_STATUSES } from "./types.js";
export type {
  ActiveGrant,
  ApproverSpec,
  BreakGlassInput,
  HistoryEntry,
  JitAction,
  JitGrant,
  JitKind,
  JitRequest,
  JitRequestInput,
  JitReview,
  JitStatus,
  ListFilter,
  ListResult,
  ReviewOutcome,
  TupleOutcome,
} from "./types.js";
