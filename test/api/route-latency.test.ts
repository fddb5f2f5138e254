/**
 * The request latency histogram reads exactly as prom-client's Histogram with the same name,
 * help, buckets and labels (text exposition and JSON), after the same observations, and the
 * batched decision counter exactly as direct increments of a prom-client Counter.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Counter, Histogram, Registry } from "prom-client";
import { createMetrics } from "../../src/api/metrics/metrics.js";
import { RouteLatencyHistogram } from "../../src/api/metrics/route-latency.js";
import type { PolicyService } from "../../src/policy/service.js";

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const NAME = "tenet_http_request_duration_seconds";
const HELP = "HTTP request latency by route, method and status";

/** Deterministic pseudo-random numbers. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    return a / 2 ** 32;
  };
}

test("the latency histogram and the decision counter read as prom-client's own", async () => {
  const theirs = new Registry();
  const histogram = new Histogram({ name: NAME, help: HELP, labelNames: ["route", "method", "status"] as const, buckets: BUCKETS, registers: [theirs] });
  const counter = new Counter({ name: "tenet_decisions_total", help: "Authorization decisions by API and result", labelNames: ["api", "result"] as const, registers: [theirs] });
  const ours = new Registry();
  const latency = new RouteLatencyHistogram(NAME, HELP, BUCKETS, ours);
  const metrics = createMetrics({ indexStats: async () => [] } as unknown as PolicyService);

  const r = rng(7);
  const routes = ["/stores/:store_id/check", "unmatched", "/healthz", 'odd "route" \\ with\nnewline'];
  const compare = async (): Promise<void> => {
    assert.equal(await ours.getSingleMetricAsString(NAME), await theirs.getSingleMetricAsString(NAME));
    const { collect: _collect, ...json } = await histogram.get();
    assert.deepStrictEqual(await latency.get(), json);
    assert.equal(await metrics.registry.getSingleMetricAsString("tenet_decisions_total"), await theirs.getSingleMetricAsString("tenet_decisions_total"));
  };
  await compare();
  // Series first seen out of their natural order, between reads and within one.
  const decide = (api: "openfga" | "authzen", allowed: boolean): void => {
    counter.inc({ api, result: allowed ? "allow" : "deny" });
    metrics.decided(api, allowed);
  };
  decide("authzen", false);
  await compare();
  decide("authzen", true);
  decide("openfga", false);
  decide("authzen", true);
  await compare();
  for (let i = 0; i < 20_000; i++) {
    const route = routes[Math.floor(r() * routes.length)]!;
    const method = r() < 0.8 ? "POST" : "GET";
    const status = [200, 400, 401, 404, 500][Math.floor(r() * 5)]!;
    // Values on the bucket bounds and above the last one, too.
    const seconds = r() < 0.1 ? BUCKETS[Math.floor(r() * BUCKETS.length)]! : r() < 0.05 ? 3 + r() : r() * r() * 0.1;
    histogram.observe({ route, method, status: String(status) }, seconds);
    latency.observe(route, method, status, seconds);
    if (r() < 0.3) decide(r() < 0.5 ? "openfga" : "authzen", r() < 0.4);
    if (i % 5000 === 3) await compare();
  }
  await compare();
  histogram.reset();
  latency.reset();
  await compare();
});
