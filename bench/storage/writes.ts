/**
 * Tuple write throughput through PolicyService.write (validated against the model, duplicates
 * checked, applied to the in-memory index after commit: what the API's Write does), in batches
 * of 100, by one writer or several writers to different stores at once.
 */
import type { PolicyService } from "../../src/policy/service.js";
import type { TupleKey } from "../../src/policy/tuples/tuple.js";
import { MODEL_DSL } from "../engine/dataset.js";

export const BATCH = 100;

/**
 * The n-th generated tuple for writer `w`: a mix of the engine model's shapes (direct grants,
 * role assignments, usersets, folder links and conditional grants); every key is distinct.
 */
export function writeTuple(w: number, n: number): TupleKey {
  const u = `user:u${(n * 7919 + w) % 100_000}`;
  switch (n % 8) {
    case 0:
    case 1:
    case 2:
      return { object: `doc:w${w}_${n}`, relation: "viewer", user: u };
    case 3:
      return { object: `role:w${w}_${n}`, relation: "assignee", user: u };
    case 4:
      return { object: `doc:w${w}_${n}`, relation: "viewer", user: `role:r${n % 2000}#assignee` };
    case 5:
      return { object: `group:w${w}_${n}`, relation: "member", user: `group:c${n % 10_000}_2#member` };
    case 6:
      return { object: `doc:w${w}_${n}`, relation: "parent", user: `folder:t${n % 5000}_10` };
    default:
      return {
        object: `doc:w${w}_${n}`,
        relation: "viewer",
        user: u,
        condition: { name: "non_expired_grant", context: { grant_time: "2025-06-01T00:00:00Z", grant_duration: "720h" } },
      };
  }
}

export interface WriteResult {
  writers: number;
  tuples: number;
  batches: number;
  seconds: number;
  tuplesPerSec: number;
  /** Per-batch latency (one PolicyService.write call), ms. */
  p50ms: number;
  p99ms: number;
  maxMs: number;
}

/** Creates `writers` stores with the engine model (ids returned in order). */
export async function makeStores(svc: PolicyService, writers: number, label: string): Promise<string[]> {
  const ids: string[] = [];
  for (let w = 0; w < writers; w++) {
    const st = await svc.createStore(`${label}-${w}`);
    await svc.writeModel(st.id, MODEL_DSL);
    ids.push(st.id);
  }
  return ids;
}

/**
 * Each writer loops on its own store: warm-up batches first (not counted), then batches of
 * BATCH tuples until `runMs` has passed. Tuples/s is over the wall time of the measured part.
 */
export async function measureWrites(svc: PolicyService, stores: string[], opts: { runMs: number; warmupBatches: number; offset: number }): Promise<WriteResult> {
  const lat: number[] = [];
  let tuples = 0;
  let batches = 0;
  const next = stores.map(() => opts.offset);
  const batchFor = (w: number): TupleKey[] => {
    const out: TupleKey[] = [];
    for (let k = 0; k < BATCH; k++) out.push(writeTuple(w, next[w]!++));
    return out;
  };
  // Warm-up: every writer, sequentially (loads each store's runtime and the JIT).
  for (let w = 0; w < stores.length; w++) {
    for (let b = 0; b < opts.warmupBatches; b++) await svc.write(stores[w]!, { writes: batchFor(w) });
  }
  const start = performance.now();
  const end = start + opts.runMs;
  let last = start;
  await Promise.all(
    stores.map(async (storeId, w) => {
      while (performance.now() < end) {
        const writes = batchFor(w);
        const t0 = performance.now();
        await svc.write(storeId, { writes });
        const t1 = performance.now();
        lat.push(t1 - t0);
        tuples += writes.length;
        batches++;
        if (t1 > last) last = t1;
      }
    }),
  );
  const seconds = (last - start) / 1000;
  lat.sort((a, b) => a - b);
  return {
    writers: stores.length,
    tuples,
    batches,
    seconds,
    tuplesPerSec: tuples / seconds,
    p50ms: pct(lat, 0.5),
    p99ms: pct(lat, 0.99),
    maxMs: lat[lat.length - 1] ?? NaN,
  };
}

export function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}
