/**
 * Side-by-side timing: several operations measured in the same process in alternating rounds
 * (A B C, B C A, C A B, …), so that a noisy neighbour, a GC pause pattern or CPU frequency drift
 * lands on all of them alike and their ratio stays meaningful.
 *
 * - Throughput: each round runs one operation for `runMs / rounds`, reading the clock
 *   (process.hrtime.bigint) every `batch` calls; an operation's rate is the median of its rounds.
 * - Latency: then, in alternating chunks, `latBatch` consecutive calls are timed together and
 *   each such sample counts as one per-call latency (sample / latBatch): a small batch keeps
 *   the clock's own cost (≈ `timerOverheadUs`) from dominating sub-microsecond calls.
 */

export interface Op {
  key: string;
  /** Called with i cycling over [0, count). Truthy results feed a sink. */
  fn: (i: number) => unknown;
  count: number;
}

export interface SideBySideOptions {
  warmupMs: number;
  runMs: number;
  rounds: number;
  batch: number;
  latencyMs: number;
  latBatch: number;
}

export interface OpTiming {
  key: string;
  ops: number;
  seconds: number;
  /** Median of the round rates. */
  perSec: number;
  minPerSec: number;
  maxPerSec: number;
  roundPerSec: number[];
  /**
   * Median of the round rates per second of this process's CPU time (user + system, GC threads
   * included): less sensitive than wall time to other processes competing for the cores.
   */
  perCpuSec: number;
  /** CPU time ÷ wall time over the rounds (≈ 1 on an idle machine; below 1 when preempted). */
  cpuShare: number;
  /** Per call, µs (from samples of latBatch calls). */
  p50us: number;
  p90us: number;
  p99us: number;
  maxUs: number;
  samples: number;
}

const now = (): bigint => process.hrtime.bigint();

export let sink = 0;

export function measureSideBySide(ops: Op[], o: SideBySideOptions): OpTiming[] {
  const cursor = ops.map(() => 0);
  let acc = 0;
  const run = (k: number, calls: number): void => {
    const op = ops[k]!;
    const fn = op.fn;
    const n = op.count;
    let i = cursor[k]!;
    for (let c = 0; c < calls; c++) {
      if (fn(i)) acc++;
      if (++i === n) i = 0;
    }
    cursor[k] = i;
  };
  const runFor = (k: number, ns: bigint): { calls: number; ns: bigint; cpuUs: number } => {
    let calls = 0;
    const cpu0 = process.cpuUsage();
    const start = now();
    let elapsed = 0n;
    do {
      run(k, o.batch);
      calls += o.batch;
      elapsed = now() - start;
    } while (elapsed < ns);
    const cpu = process.cpuUsage(cpu0);
    return { calls, ns: elapsed, cpuUs: cpu.user + cpu.system };
  };

  // Warm-up, alternating in short slices so every operation's code is optimised on the same mix.
  const slice = 20_000_000n;
  const warmEnd = now() + BigInt(Math.round(o.warmupMs)) * 1_000_000n;
  while (now() < warmEnd) for (let k = 0; k < ops.length; k++) runFor(k, slice);

  const rates: number[][] = ops.map(() => []);
  const cpuRates: number[][] = ops.map(() => []);
  const cpuUs = ops.map(() => 0);
  const calls = ops.map(() => 0);
  const ns = ops.map(() => 0n);
  const budget = (BigInt(Math.round(o.runMs)) * 1_000_000n) / BigInt(o.rounds * ops.length);
  for (let r = 0; r < o.rounds; r++) {
    for (let j = 0; j < ops.length; j++) {
      const k = (r + j) % ops.length;
      const res = runFor(k, budget);
      rates[k]!.push(res.calls / (Number(res.ns) / 1e9));
      cpuRates[k]!.push(res.calls / (Math.max(1, res.cpuUs) / 1e6));
      cpuUs[k]! += res.cpuUs;
      calls[k]! += res.calls;
      ns[k]! += res.ns;
    }
  }

  // Latency samples, alternating chunks of 256 samples.
  const lat = ops.map(() => [] as number[]);
  const latEnd = now() + BigInt(Math.round(o.latencyMs)) * 1_000_000n;
  const lb = o.latBatch;
  do {
    for (let k = 0; k < ops.length; k++) {
      const out = lat[k]!;
      for (let s = 0; s < 256; s++) {
        const t0 = now();
        run(k, lb);
        out.push(Number(now() - t0) / lb);
      }
    }
  } while (now() < latEnd);

  sink += acc;
  return ops.map((op, k) => {
    const sorted = Float64Array.from(lat[k]!).sort();
    const rs = [...rates[k]!].sort((a, b) => a - b);
    const cs = [...cpuRates[k]!].sort((a, b) => a - b);
    return {
      key: op.key,
      ops: calls[k]!,
      seconds: Number(ns[k]!) / 1e9,
      perSec: rs[rs.length >> 1]!,
      minPerSec: rs[0]!,
      maxPerSec: rs[rs.length - 1]!,
      roundPerSec: rates[k]!,
      perCpuSec: cs[cs.length >> 1]!,
      cpuShare: cpuUs[k]! / 1e6 / (Number(ns[k]!) / 1e9),
      p50us: pct(sorted, 0.5) / 1000,
      p90us: pct(sorted, 0.9) / 1000,
      p99us: pct(sorted, 0.99) / 1000,
      maxUs: (sorted[sorted.length - 1] ?? NaN) / 1000,
      samples: sorted.length,
    };
  });
}

function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** Median cost of one hrtime.bigint() pair, µs (included in every latency sample, ÷ latBatch). */
export function timerOverheadUs(): number {
  const n = 50_000;
  const d = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const t0 = now();
    d[k] = Number(now() - t0);
  }
  d.sort();
  return d[n >> 1]! / 1000;
}

export function elapsedMs(start: bigint): number {
  return Number(now() - start) / 1e6;
}

export { now };
