/**
 * Turning a batch of events into the log's rows: each event's stored text (with its sequence
 * number and time, see eventText) and its RFC 6962 leaf hash, beside the columns queries use.
 * The audit log does this itself, or hands the batch to a writer that does it on another thread.
 */
import type { AuditRow } from "../storage/interfaces.js";
import { type AuditEventInput, eventText } from "./events.js";
import { leafHashOfText } from "./merkle.js";

/** Events that get consecutive sequence numbers from `start`, all logged at `timeMs`. */
export interface EventBatch {
  start: number;
  timeMs: number;
  events: AuditEventInput[];
}

export function auditRows(batch: EventBatch): AuditRow[] {
  const time = new Date(batch.timeMs).toISOString();
  const rows: AuditRow[] = new Array(batch.events.length);
  for (let i = 0; i < batch.events.length; i++) {
    const input = batch.events[i]!;
    const index = input.index;
    const seq = batch.start + i;
    const event = eventText(input, seq, batch.timeMs);
    rows[i] = {
      seq,
      time,
      type: index.type,
      classUid: index.classUid,
      storeId: index.storeId ?? null,
      subject: index.subject ?? null,
      resource: index.resource ?? null,
      decision: index.decision ?? null,
      policy: index.policy ?? null,
      event,
      leafHash: leafHashOfText(event),
    };
  }
  return rows;
}
