/**
 * A closed-loop load driver for asynchronous operations: `inFlight` callers, each starting its
 * next operation as soon as the last one resolved, as a busy server's requests would. Counts
 * what completes inside the measured window (after a warm-up) and the latency of each
 * operation from its call to its resolution.
 */

export interface LoadOptions {
  /** Operations kept in flight. */
  inFlight: number;
  /** Measured time (ms). */
  ms: number;
  /** Run this long before measuring (ms, default 0). */
  warmupMs?: number;
}

export interface LoadResult {
  inFlight: number;
  /** Operations that finished inside the measured window. */
  ops: number;
  /** Operations that rejected (in the window). */
  errors: number;
  firstError: string | undefined;
  /** Operations that resolved / rejected over the whole run (warm-up and stragglers included). */
  completed: number;
  failed: number;
  seconds: number;
  perSec: number;
  /** Share of one core this process used (user + system CPU ÷ wall time; can exceed 1 with threads). */
  cpuShare: number;
  /** Share of the window the main thread was busy (event loop utilization): 1 = saturated. */
  elu: number;
  /** Latency of every measured operation (ms), sorted ascending. */
  latencies: Float64Array;
}

/** Resolves on the event loop's next check phase (after pending I/O). */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The p-th percentile (nearest rank) of sorted samples; p = 100 is the maximum. */
export function percentile(samples: Float64Array, p: number): number {
  if (samples.length === 0) return Number.NaN;
  const i = Math.min(samples.length - 1, Math.max(0, Math.ceil((p / 100) * samples.length) - 1));
  return samples[i]!;
}

/** Sorted copy of the samples of one or more results. */
export function sortedLatencies(results: readonly LoadResult[]): Float64Array {
  const n = results.reduce((a, r) => a + r.latencies.length, 0);
  const out = new Float64Array(n);
  let at = 0;
  for (const r of results) {
    out.set(r.latencies, at);
    at += r.latencies.length;
  }
  return out.sort();
}

/** Several results of the same case as one (ops and time summed). */
export function combine(results: readonly LoadResult[]): LoadResult {
  const seconds = results.reduce((a, r) => a + r.seconds, 0);
  const ops = results.reduce((a, r) => a + r.ops, 0);
  return {
    inFlight: results[0]?.inFlight ?? 0,
    ops,
    errors: results.reduce((a, r) => a + r.errors, 0),
    firstError: results.find((r) => r.firstError !== undefined)?.firstError,
    completed: results.reduce((a, r) => a + r.completed, 0),
    failed: results.reduce((a, r) => a + r.failed, 0),
    seconds,
    perSec: ops / seconds,
    cpuShare: results.reduce((a, r) => a + r.cpuShare * r.seconds, 0) / seconds,
    elu: results.reduce((a, r) => a + r.elu * r.seconds, 0) / seconds,
    latencies: sortedLatencies(results),
  };
}

/**
 * Runs `op(i)` (i = 0, 1, 2, … across all callers) with `inFlight` callers for warm-up + ms.
 * A rejection is counted and the caller goes on (a fail-closed audit log rejects under
 * back-pressure; the benchmark reports it instead of stopping).
 */
export async function closedLoop(op: (i: number) => Promise<unknown>, o: LoadOptions): Promise<LoadResult> {
  const warmupMs = o.warmupMs ?? 0;
  let next = 0;
  let stop = false;
  let measuring = warmupMs === 0;
  let windowStart = performance.now();
  let windowEnd = Number.POSITIVE_INFINITY;
  let cpuStart = process.cpuUsage();
  let eluStart = performance.eventLoopUtilization();
  let lat = new Float64Array(1 << 16);
  let ops = 0;
  let errors = 0;
  let firstError: string | undefined;
  let completed = 0;
  let failed = 0;

  const record = (ms: number): void => {
    if (ops === lat.length) {
      const bigger = new Float64Array(lat.length * 2);
      bigger.set(lat);
      lat = bigger;
    }
    lat[ops++] = ms;
  };

  const caller = async (): Promise<void> => {
    while (!stop) {
      // The next operation starts from the event loop, as a server's next request arrives. (Started
      // from the previous one's resolution instead, callers on a synchronous backend — SQLite —
      // keep AuditLog's flush loop going in microtasks forever: timers and I/O never run.)
      await nextTurn();
      const t0 = performance.now();
      try {
        await op(next++);
        completed++;
        const t1 = performance.now();
        if (measuring && t1 <= windowEnd) record(t1 - t0);
      } catch (err) {
        failed++;
        if (measuring && performance.now() <= windowEnd) {
          errors++;
          firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
    }
  };

  const timers: NodeJS.Timeout[] = [];
  if (!measuring) {
    timers.push(
      setTimeout(() => {
        measuring = true;
        windowStart = performance.now();
        cpuStart = process.cpuUsage();
        eluStart = performance.eventLoopUtilization();
      }, warmupMs),
    );
  }
  let cpu = { user: 0, system: 0 };
  let elu = 0;
  const done = new Promise<void>((resolve) => {
    timers.push(
      setTimeout(() => {
        windowEnd = performance.now();
        cpu = process.cpuUsage(cpuStart);
        elu = performance.eventLoopUtilization(eluStart).utilization;
        stop = true;
        resolve();
      }, warmupMs + o.ms),
    );
  });
  const callers = Array.from({ length: o.inFlight }, () => caller());
  await done;
  await Promise.all(callers);
  for (const t of timers) clearTimeout(t);
  const seconds = (windowEnd - windowStart) / 1000;
  return {
    inFlight: o.inFlight,
    ops,
    errors,
    firstError,
    completed,
    failed,
    seconds,
    perSec: ops / seconds,
    cpuShare: (cpu.user + cpu.system) / 1e6 / seconds,
    elu,
    latencies: lat.slice(0, ops).sort(),
  };
}
