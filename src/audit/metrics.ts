/**
 * Prometheus metrics of the audit log: its size, the entries not yet under a signed checkpoint,
 * events waiting to be stored, commit failures (each one failed the decisions of its batch), and
 * whether the log is healthy. Read when scraped; nothing is counted on the append path.
 */
import { Gauge, type Registry } from "prom-client";
import type { AuditLog } from "./log.js";

export function auditMetrics(log: AuditLog, failures: () => number, registry: Registry): void {
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge("tenet_audit_entries", "Entries appended to the audit log (pruned ones included)", () => log.size);
  gauge("tenet_audit_unsigned_entries", "Entries after the latest signed checkpoint", () => log.size - (log.checkpoint?.size ?? 0));
  gauge("tenet_audit_queued_events", "Events waiting to be stored", () => log.status().queued);
  gauge("tenet_audit_commit_failures", "Audit commits that failed (their decisions failed closed), since start", failures);
  gauge("tenet_audit_healthy", "1 when the last audit commit succeeded, 0 after a failure", () => (log.status().healthy ? 1 : 0));
}
