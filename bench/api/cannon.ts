/**
 * The load generator, run as its own process (`node dist/bench/api/cannon.js <plan.json>`) so
 * that it never shares a thread with a server under test. Uses autocannon's programmatic API:
 * for each target, a warm-up run; then `rounds` measured runs per target, alternating between
 * targets so that a noisy neighbour hurts them alike. Every 2xx response's latency is recorded
 * here (autocannon's own histogram has 1 ms resolution). The server's CPU time is read from
 * /proc around the measured runs. Prints one JSON line (CannonOutput).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

export interface CannonRequest {
  method: "POST" | "GET";
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface CannonTarget {
  name: string;
  url: string;
  /** The server's pid, for its CPU time (Linux /proc); 0 = unknown. */
  pid: number;
  /** Cycled through in order by every connection. */
  requests: CannonRequest[];
}

export interface CannonPlan {
  connections: number;
  warmupSec: number;
  roundSec: number;
  rounds: number;
  /** Clock ticks per second of /proc/<pid>/stat times. */
  clkTck: number;
  /** Requests per second across all connections (autocannon's overallRate); unset = as fast as the server answers. */
  rate?: number;
  targets: CannonTarget[];
}

export interface CannonResult {
  name: string;
  /** 2xx responses in the measured runs. */
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
  perSec: number;
  /** Per-round rates (2xx/s). */
  roundPerSec: number[];
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  /** autocannon's own percentiles (1 ms resolution), for comparison. */
  autocannonMs: { p50: number; p99: number };
  /** Share of one core used by the server and by this load generator during the measured runs. */
  serverCpu: number | null;
  clientCpu: number;
}

export interface CannonOutput {
  autocannon: string;
  results: CannonResult[];
}

interface AcResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  latency: { p50: number; p99: number };
  "2xx": number;
}
interface AcInstance {
  on(event: "response", fn: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void): void;
}
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, result: AcResult) => void) => AcInstance;

const require = createRequire(import.meta.url);
const autocannon = require("autocannon") as Autocannon;
const acVersion = (require("autocannon/package.json") as { version: string }).version;

/** utime + stime of a process, in seconds; undefined where /proc is not available. */
function cpuSeconds(pid: number, clkTck: number): number | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which is in parentheses and may hold spaces).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clkTck;
  } catch {
    return undefined;
  }
}

class Samples {
  private a = new Float64Array(1 << 16);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  sorted(): Float64Array {
    return this.a.slice(0, this.n).sort();
  }
}

const pct = (s: Float64Array, p: number): number => (s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]! : NaN);

function run(t: CannonTarget, plan: CannonPlan, seconds: number, record?: Samples): Promise<AcResult> {
  return new Promise((resolve, reject) => {
    const inst = autocannon(
      { url: t.url, connections: plan.connections, pipelining: 1, duration: seconds, requests: t.requests, timeout: 10, ...(plan.rate ? { overallRate: plan.rate } : {}) },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    if (record) {
      inst.on("response", (_client, status, _bytes, ms) => {
        if (status >= 200 && status < 300) record.push(ms);
      });
    }
  });
}

async function main(): Promise<void> {
  const plan = JSON.parse(readFileSync(process.argv[2] ?? "", "utf8")) as CannonPlan;
  const acc = plan.targets.map(() => ({
    samples: new Samples(),
    ok: 0,
    non2xx: 0,
    errors: 0,
    timeouts: 0,
    seconds: 0,
    rates: [] as number[],
    serverCpu: 0 as number | null,
    clientCpu: 0,
    ac: { p50: [] as number[], p99: [] as number[] },
  }));
  for (const t of plan.targets) if (plan.warmupSec > 0) await run(t, plan, plan.warmupSec);
  for (let r = 0; r < plan.rounds; r++) {
    for (let i = 0; i < plan.targets.length; i++) {
      const t = plan.targets[i]!;
      const a = acc[i]!;
      const s0 = cpuSeconds(t.pid, plan.clkTck);
      const c0 = process.cpuUsage();
      const res = await run(t, plan, plan.roundSec, a.samples);
      const c1 = process.cpuUsage(c0);
      const s1 = cpuSeconds(t.pid, plan.clkTck);
      a.ok += res["2xx"];
      a.non2xx += res.non2xx;
      a.errors += res.errors;
      a.timeouts += res.timeouts;
      a.seconds += res.duration;
      a.rates.push(res["2xx"] / res.duration);
      a.ac.p50.push(res.latency.p50);
      a.ac.p99.push(res.latency.p99);
      a.clientCpu += (c1.user + c1.system) / 1e6;
      a.serverCpu = s0 === undefined || s1 === undefined || a.serverCpu === null ? null : a.serverCpu + (s1 - s0);
      process.stderr.write(`[cannon] ${t.name} round ${r + 1}/${plan.rounds}: ${Math.round(res["2xx"] / res.duration)} req/s\n`);
    }
  }
  const results: CannonResult[] = plan.targets.map((t, i) => {
    const a = acc[i]!;
    const s = a.samples.sorted();
    let sum = 0;
    for (let k = 0; k < s.length; k++) sum += s[k]!;
    const mean = (xs: number[]): number => xs.reduce((x, y) => x + y, 0) / Math.max(1, xs.length);
    return {
      name: t.name,
      ok: a.ok,
      non2xx: a.non2xx,
      errors: a.errors,
      timeouts: a.timeouts,
      seconds: a.seconds,
      perSec: a.ok / a.seconds,
      roundPerSec: a.rates,
      latencyMs: { p50: pct(s, 0.5), p90: pct(s, 0.9), p99: pct(s, 0.99), p999: pct(s, 0.999), max: s[s.length - 1] ?? NaN, mean: sum / Math.max(1, s.length) },
      autocannonMs: { p50: mean(a.ac.p50), p99: mean(a.ac.p99) },
      serverCpu: a.serverCpu === null ? null : a.serverCpu / a.seconds,
      clientCpu: a.clientCpu / a.seconds,
    };
  });
  const out: CannonOutput = { autocannon: acVersion, results };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`cannon: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
