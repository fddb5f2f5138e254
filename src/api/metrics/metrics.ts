/**
 * Prometheus metrics: request latency per route, decisions by result, index size and change-log
 * lag per loaded store. Served at /metrics (credentials with the `read` scope).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { PolicyService } from "../../policy/service.js";
import type { Router } from "../route.js";
import { requireGlobal } from "../auth/authenticator.js";
import { RouteLatencyHistogram } from "./route-latency.js";

export interface Metrics {
  registry: Registry;
  decisions: Counter<"api" | "result">;
  /** Counts one decision (cheaply: added to `decisions` whenever it is read). */
  decided(api: "openfga" | "authzen", allowed: boolean): void;
}

export function createMetrics(policy: PolicyService): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "tenet_" });
  // Decisions are tallied in plain numbers and added to the counter when it is read (collect runs
  // before every read), in the order each series was first seen, as direct increments would be.
  const series = [
    { labels: { api: "openfga", result: "allow" }, pending: 0, seen: false },
    { labels: { api: "openfga", result: "deny" }, pending: 0, seen: false },
    { labels: { api: "authzen", result: "allow" }, pending: 0, seen: false },
    { labels: { api: "authzen", result: "deny" }, pending: 0, seen: false },
  ];
  const firstSeen: typeof series = [];
  const decisions = new Counter({
    name: "tenet_decisions_total",
    help: "Authorization decisions by API and result",
    labelNames: ["api", "result"] as const,
    registers: [registry],
    collect() {
      for (const d of firstSeen) {
        if (d.pending > 0) this.inc(d.labels, d.pending);
        d.pending = 0;
      }
    },
  });
  const decided = (api: "openfga" | "authzen", allowed: boolean): void => {
    const d = series[(api === "openfga" ? 0 : 2) + (allowed ? 0 : 1)]!;
    if (!d.seen) {
      d.seen = true;
      firstSeen.push(d);
    }
    d.pending += 1;
  };
  new Gauge({
    name: "tenet_index_tuples",
    help: "Tuples held in the in-memory index, per loaded store",
    labelNames: ["store"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await policy.indexStats()) this.set({ store: s.storeId }, s.tuples);
    },
  });
  new Gauge({
    name: "tenet_index_revision",
    help: "Change-log revision the in-memory index reflects, per loaded store",
    labelNames: ["store"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await policy.indexStats()) this.set({ store: s.storeId }, s.revision);
    },
  });
  return { registry, decisions, decided };
}

export function registerMetrics(metrics: Metrics): (r: Router) => void {
  return (r) => {
    const latency = new RouteLatencyHistogram(
      "tenet_http_request_duration_seconds",
      "HTTP request latency by route, method and status",
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      metrics.registry,
    );
    r.onResponse((route, method, status, seconds, allowed) => {
      latency.observe(route, method, status, seconds);
      if (allowed !== undefined && status === 200) {
        if (route.endsWith("/check")) metrics.decided("openfga", allowed);
        else if (route.endsWith("/evaluation")) metrics.decided("authzen", allowed);
      }
    });
    r.add({
      method: "GET", url: "/metrics", summary: "Prometheus metrics", tags: ["Operations"], scope: "read",
      handler: async ({ reply, req }) => {
        // Metrics name every store: only credentials valid for every store may read them.
        requireGlobal(req.principal);
        reply.header("content-type", metrics.registry.contentType);
        return metrics.registry.metrics();
      },
    });
  };
}
