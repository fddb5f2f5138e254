/**
 * Prometheus metrics: request latency per route, decisions by result, index size and change-log
 * lag per loaded store. Served at /metrics (credentials with the `read` scope).
 */
import type { FastifyInstance } from "fastify";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { PolicyService } from "../../policy/service.js";
import type { Router } from "../route.js";
import { requireGlobal } from "../auth/authenticator.js";

export interface Metrics {
  registry: Registry;
  decisions: Counter<"api" | "result">;
}

export function createMetrics(policy: PolicyService): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "tenet_" });
  const decisions = new Counter({
    name: "tenet_decisions_total",
    help: "Authorization decisions by API and result",
    labelNames: ["api", "result"] as const,
    registers: [registry],
  });
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
  return { registry, decisions };
}

export function registerMetrics(metrics: Metrics): (r: Router, app: FastifyInstance) => void {
  return (r, app) => {
    const latency = new Histogram({
      name: "tenet_http_request_duration_seconds",
      help: "HTTP request latency by route, method and status",
      labelNames: ["route", "method", "status"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [metrics.registry],
    });
    app.addHook("onResponse", async (req, reply) => {
      const route = req.routeOptions.url ?? "unmatched";
      latency.observe({ route, method: req.method, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
      if (reply.statusCode === 200 && (route.endsWith("/check") || route.endsWith("/evaluation"))) {
        const allowed = reply.tenetDecision;
        if (allowed !== undefined) metrics.decisions.inc({ api: route.endsWith("/check") ? "openfga" : "authzen", result: allowed ? "allow" : "deny" });
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
