/**
 * What the exporter reads: the audit log, tailed by sequence number. The AuditLog (src/audit/
 * log.ts) has this shape; tests use a datastore directly.
 */
import type { AuditRow } from "../../storage/interfaces.js";

export interface AuditSource {
  /**
   * Entries appended so far: the next seq. May run ahead of what `readAudit` returns while a
   * batch is being committed (the exporter then waits); never behind it.
   */
  readonly size: number;
  /**
   * Entries with seq in [fromSeq, fromSeq + limit), ascending. A pruned seq is absent; a seq not
   * yet committed is absent too, but then so is every later one (appends are serial).
   */
  readAudit(fromSeq: number, limit: number): Promise<AuditRow[]>;
  /** Calls `listener` after each committed append; returns an unsubscribe function. Optional: without it the exporter polls. */
  onAppend?(listener: () => void): () => void;
}
