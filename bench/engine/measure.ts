/**
 * Timing helpers: throughput over a fixed time budget after a warm-up, and per-call latency
 * percentiles from a separate sampling pass (each call bracketed by process.hrtime.bigint).
 */

export interface Timing {
  /** Calls made in the throughput pass. */
  ops: number;
  seconds: number;
  /** Median of the per-round rates (robust to a noisy neighbour stealing a round). */
  perSec: number;
  /** Slowest and fastest round. */
  minPerSec: number;
  maxPerSec: number;
  /** Latency percentiles in microseconds, from `samples` individually timed calls. */
  p50us: number;
  p99us: number;
  maxUs: number;
  samples: number;
}

export interface MeasureOptions {
  warmupMs: number;
  runMs: number;
  /** The throughput pass is split into this many equal rounds. */
  rounds: number;
  /** Time budget and cap for the per-call latency pass. */
  latencyMs: number;
  latencySamples: number;
  /** Calls between two clock reads in the throughput pass. */
  batch: number;
}

const now = (): bigint => process.hrtime.bigint();

/** A sink the optimiser cannot see through. */
export let sink = 0;

/**
 * Calls fn(i) for i cycling over [0, count) (count must be a power of two).
 * Returns throughput and latency percentiles.
 */
export function measure(fn: (i: number) => unknown, count: number, o: MeasureOptions): Timing {
  const mask = count - 1;
  if ((count & mask) !== 0) throw new Error("count must be a power of two");
  let i = 0;
  let acc = 0;

  // Warm-up: let the JIT settle on the same call mix.
  const warmEnd = now() + BigInt(o.warmupMs) * 1_000_000n;
  while (now() < warmEnd) {
    for (let b = 0; b < o.batch; b++) {
      if (fn(i)) acc++;
      i = (i + 1) & mask;
    }
  }

  // Throughput, in rounds.
  const budget = (BigInt(o.runMs) * 1_000_000n) / BigInt(o.rounds);
  const rates: number[] = [];
  let ops = 0;
  let totalNs = 0n;
  for (let r = 0; r < o.rounds; r++) {
    let roundOps = 0;
    const start = now();
    let elapsed = 0n;
    do {
      for (let b = 0; b < o.batch; b++) {
        if (fn(i)) acc++;
        i = (i + 1) & mask;
      }
      roundOps += o.batch;
      elapsed = now() - start;
    } while (elapsed < budget);
    ops += roundOps;
    totalNs += elapsed;
    rates.push(roundOps / (Number(elapsed) / 1e9));
  }
  rates.sort((x, y) => x - y);
  const seconds = Number(totalNs) / 1e9;

  // Latency: every call timed on its own.
  const lat = new Float64Array(o.latencySamples);
  let n = 0;
  const latEnd = now() + BigInt(o.latencyMs) * 1_000_000n;
  while (n < lat.length) {
    const t0 = now();
    if (fn(i)) acc++;
    const t1 = now();
    lat[n++] = Number(t1 - t0);
    i = (i + 1) & mask;
    if ((n & 255) === 0 && t1 > latEnd) break;
  }
  const sorted = lat.subarray(0, n).sort();
  sink += acc;
  return {
    ops,
    seconds,
    perSec: rates[rates.length >> 1]!,
    minPerSec: rates[0]!,
    maxPerSec: rates[rates.length - 1]!,
    p50us: percentile(sorted, 0.5) / 1000,
    p99us: percentile(sorted, 0.99) / 1000,
    maxUs: (sorted[n - 1] ?? 0) / 1000,
    samples: n,
  };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[idx]!;
}

/** Median cost of one hrtime.bigint() pair, in microseconds (included in every latency sample). */
export function timerOverheadUs(): number {
  const n = 100_000;
  const d = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const t0 = now();
    const t1 = now();
    d[k] = Number(t1 - t0);
  }
  d.sort();
  return d[n >> 1]! / 1000;
}

export function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) return;
  g();
  g();
}

export const hasGc = (): boolean => typeof (globalThis as { gc?: unknown }).gc === "function";

export function elapsedMs(start: bigint): number {
  return Number(now() - start) / 1e6;
}

export { now };
