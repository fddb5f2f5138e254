/**
 * Prometheus metrics of the audit export, per sink, read from `status()` at each scrape:
 *
 *   tenet_audit_export_lag_entries{sink}                  appended but not yet acknowledged
 *   tenet_audit_export_cursor{sink}                       the next seq to deliver
 *   tenet_audit_export_state{sink,state}                  1 for the sink's state (ok|retrying|stuck)
 *   tenet_audit_export_last_success_timestamp_seconds{sink}
 *   tenet_audit_export_delivered_total{sink}              entries acknowledged (since start)
 *   tenet_audit_export_failures_total{sink}               failed attempts (since start)
 *   tenet_audit_export_skipped_total{sink}                entries pruned before this sink got them
 *   tenet_audit_export_truncated_total{sink}              syslog messages shortened to fit
 *
 * Alert on `state{state="stuck"} == 1`, on a growing lag, and on any skipped entry.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { AuditExporter } from "./exporter.js";
import type { SinkState, SinkStatus } from "./sink-runner.js";

const STATES: readonly SinkState[] = ["ok", "retrying", "stuck"];

export function exportMetrics(exporter: Pick<AuditExporter, "status">, registry: Registry): void {
  const gauge = (name: string, help: string, value: (s: SinkStatus) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ["sink"] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of exporter.status()) {
          const v = value(s);
          if (v !== undefined) this.set({ sink: s.name }, v);
        }
      },
    });
  // Totals kept by the exporter: each scrape sets the counter to them.
  const counter = (name: string, help: string, value: (s: SinkStatus) => number) =>
    new Counter({
      name,
      help,
      labelNames: ["sink"] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of exporter.status()) this.inc({ sink: s.name }, value(s));
      },
    });
  gauge("tenet_audit_export_lag_entries", "Audit entries appended but not yet acknowledged by the sink", (s) => s.lag);
  gauge("tenet_audit_export_cursor", "The next audit seq the sink delivers", (s) => s.cursor);
  gauge("tenet_audit_export_last_success_timestamp_seconds", "When the sink last acknowledged a batch", (s) => (s.lastSuccessAt === undefined ? undefined : Date.parse(s.lastSuccessAt) / 1000));
  new Gauge({
    name: "tenet_audit_export_state",
    help: "1 for the sink's state: ok, retrying (transient failures) or stuck (the receiver refuses the batch)",
    labelNames: ["sink", "state"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of exporter.status()) for (const state of STATES) this.set({ sink: s.name, state }, s.state === state ? 1 : 0);
    },
  });
  counter("tenet_audit_export_delivered_total", "Audit entries acknowledged by the sink", (s) => s.delivered);
  counter("tenet_audit_export_failures_total", "Failed delivery attempts", (s) => s.failedAttempts);
  counter("tenet_audit_export_skipped_total", "Audit entries pruned before the sink delivered them", (s) => s.skipped);
  counter("tenet_audit_export_truncated_total", "Syslog messages whose event was replaced by a stand-in to fit maxMessageBytes", (s) => s.truncated);
}
