/**
 * The audit plane as the benchmark opens it, and what it reads back about a log: a fixed master
 * key (so no key file is written and runs are comparable), decision events appended the way the
 * decision point's recorder appends them, and the stored log's shape (checkpoints, event sizes).
 */
import type { AccessDecision } from "../../src/policy/access/decision-point.js";
import type { AccessRequest } from "../../src/policy/access/types.js";
import { type AuditPlane, type AuditPlaneOptions, openAuditPlane } from "../../src/audit/setup.js";
import type { AuditBackend } from "../../src/storage/interfaces.js";
import { ulid } from "../../src/util/ulid.js";
import { ORIGINS } from "./decisions.js";
import { nextTurn } from "./load.js";

/** 32 fixed bytes, base64: a benchmark key, never a deployment's. */
export const BENCH_MASTER_KEY = Buffer.alloc(32, 0x5a).toString("base64");

export function openPlane(ds: Parameters<typeof openAuditPlane>[0], dataDir: string, opts: Pick<AuditPlaneOptions, "checkpointEvery" | "maxBatch" | "maxQueue">): Promise<AuditPlane> {
  return openAuditPlane(ds, { dataDir, env: { TENET_MASTER_KEY: BENCH_MASTER_KEY }, ...opts });
}

export interface PooledDecision {
  decision: AccessDecision;
  req: AccessRequest;
}

/**
 * Appends decision `i` of the pool through the plane's decision recorder — `decisionEvent(...)`
 * then `AuditLog.append`, what `AccessDecisionPoint.decide` awaits — with a fresh decision id
 * and one of the API origins, so no two events are alike.
 */
export function decisionAppender(plane: AuditPlane, pool: readonly PooledDecision[]): (i: number) => Promise<void> {
  return (i) => {
    const p = pool[i % pool.length]!;
    return plane.decisions.record({ ...p.decision, decision_id: ulid() }, p.req, ORIGINS[i % ORIGINS.length]!);
  };
}

/**
 * Appends until the log holds `size` entries, with `inFlight` appends outstanding; returns the
 * appends made and the time taken.
 */
export async function fillTo(plane: AuditPlane, pool: readonly PooledDecision[], size: number, inFlight: number, onProgress?: (size: number) => void): Promise<{ appended: number; ms: number; batches: number }> {
  const append = decisionAppender(plane, pool);
  const need = size - plane.log.size;
  const batches0 = plane.log.status().batches;
  const t0 = performance.now();
  let issued = 0;
  let lastReport = t0;
  const caller = async (): Promise<void> => {
    while (issued < need) {
      await nextTurn(); // see closedLoop
      await append(issued++);
      if (onProgress && performance.now() - lastReport > 5000) {
        lastReport = performance.now();
        onProgress(plane.log.size);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, Math.max(need, 0)) }, () => caller()));
  return { appended: Math.max(need, 0), ms: performance.now() - t0, batches: plane.log.status().batches - batches0 };
}

/** Checkpoints stored with sizes in (after, upTo]. */
export async function countCheckpoints(backend: AuditBackend, after: number, upTo: number): Promise<number> {
  let n = 0;
  for (let from = after + 1; from <= upTo; ) {
    const list = await backend.listAuditCheckpoints(from, 1000);
    for (const c of list) if (c.size <= upTo) n++;
    if (list.length < 1000) break;
    from = list[list.length - 1]!.size + 1;
  }
  return n;
}

/** Sizes (UTF-8 bytes) of the stored events in [from, from + count). */
export async function eventSizes(backend: AuditBackend, from: number, count: number): Promise<{ mean: number; min: number; max: number; n: number }> {
  const rows = (await backend.readAudit(from, count)).filter((r) => r.type === "access.decision");
  const sizes = rows.map((r) => Buffer.byteLength(r.event));
  if (sizes.length === 0) return { mean: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  return { mean: sizes.reduce((a, b) => a + b, 0) / sizes.length, min: Math.min(...sizes), max: Math.max(...sizes), n: sizes.length };
}
