/**
 * Identity-aware proxy benchmark (issue 8): the same load directly to an upstream, through a bare
 * Node reverse proxy that checks nothing (the peer), and through Tenet's proxy, in one run.
 *
 * Targets (issue 8 "How good"): added latency (proxy − direct) p50 ≤ 1 ms and p99 ≤ 5 ms at
 * 1,000 requests/s; saturated throughput through the proxy ≥ 50% of direct; memory flat over a
 * two-minute soak; no failed request (non-2xx counts as failed) in any phase.
 *
 * Set-up (bench/proxy-setup.ts): the upstream (bench/api/minimal-server.ts, a bare node:http
 * server answering a small JSON body) and `tenet serve --access-config` (SQLite) each in a process
 * of their own; one route to the upstream; a user with a passkey signed in through the proxy
 * (scripted browser + software authenticator), whose sealed `tenet_proxy` cookie every proxied
 * request carries: each one is normalised, its cookie opened, its access token resolved to the
 * live identity session, decided by the access decision point (and audited), and forwarded with
 * a signed identity assertion.
 *
 * The peer (bench/proxy/bare-proxy.ts, a process of its own): a `node:http` server passing every
 * request to the same upstream with Tenet's own forwarding code (src/enforcement/proxy/forward.ts)
 * and nothing else. The issue's targets compare Tenet with the upstream answered directly; on a
 * small machine a reverse proxy that checks nothing already reaches only a fraction of that, so
 * the report adds, as information (not pass/fail), Tenet against the bare proxy and the bare proxy
 * against direct, measured in the same run.
 *
 * Load: autocannon in a process of its own (bench/api/cannon.ts), targets alternating round by
 * round so that a noisy neighbour hurts both alike; every 2xx latency recorded (sub-ms).
 * 1. Paced (open loop, autocannon overallRate): BENCH_RATE (1000)/s over BENCH_PACED_CONNECTIONS
 *    (16) connections, BENCH_SECONDS (10) per target after a 2 s warm-up each.
 * 2. Saturated (closed loop): BENCH_CONNECTIONS (64) connections, BENCH_SECONDS per target.
 * 3. Soak: BENCH_SOAK_SECONDS (120; 0 skips) through the proxy at BENCH_SOAK_RATE (1000)/s,
 *    Tenet's RSS (/proc VmRSS) and V8 heap (its own /metrics) sampled every 5 s; slope and
 *    growth after the first 20 s.
 *
 * Run: npm run bench:proxy   (node --max-semi-space-size=32 dist/bench/proxy.bench.js)
 * BENCH_TARGETS: which targets get the paced and saturated load, a comma list of direct, bare,
 * proxy (default all three; the soak needs proxy). Everything is set up whatever it says.
 * BENCH_PROFILE=1: `tenet serve` with --cpu-prof; where its busy time went per request in each
 * phase's window. BENCH_TENET_NODE_ARGS: node flags for tenet serve (default
 * --max-semi-space-size=32, as bin/tenet.js runs it).
 *
 * Prints a markdown report, then one JSON line with every number. Never exits non-zero on a
 * missed target (only on a crash).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import type { CannonOutput, CannonPlan, CannonResult } from "./api/cannon.js";
import { clkTck, runCannon } from "./api/procs.js";
import { int, machineJson, ms, table, targetsSection } from "./engine/report.js";
import { type ProxyBench, rssMb, setUpProxyBench } from "./proxy-setup.js";
import { type StageProfile, profileStages } from "./proxy-profile.js";

const envNum = (name: string, dflt: number, allowZero = false): number => {
  const raw = process.env[name];
  const v = Number(raw);
  return raw !== undefined && raw !== "" && Number.isFinite(v) && (v > 0 || (allowZero && v === 0)) ? v : dflt;
};

const TARGET = { addedP50Ms: 1, addedP99Ms: 5, throughputRatio: 0.5, soakGrowthMb: 10, soakGrowthPct: 5 };
const SECONDS = envNum("BENCH_SECONDS", 10);
const RATE = envNum("BENCH_RATE", 1000);
const PACED_CONNECTIONS = Math.floor(envNum("BENCH_PACED_CONNECTIONS", 16));
const CONNECTIONS = Math.floor(envNum("BENCH_CONNECTIONS", 64));
const SOAK_SECONDS = envNum("BENCH_SOAK_SECONDS", 120, true);
const SOAK_RATE = envNum("BENCH_SOAK_RATE", 1000);
const SOAK_WARMUP_S = 20;
const SAMPLE_S = 5;
const PROFILE = process.env.BENCH_PROFILE === "1";
const TENET_NODE_ARGS = (process.env.BENCH_TENET_NODE_ARGS ?? "--max-semi-space-size=32").split(" ").filter(Boolean);
const TARGET_NAMES = ["direct", "bare", "proxy"] as const;
type TargetName = (typeof TARGET_NAMES)[number];
const SELECTED: TargetName[] = (() => {
  const raw = (process.env.BENCH_TARGETS ?? "").split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (raw.length === 0) return [...TARGET_NAMES];
  const unknown = raw.filter((n) => !(TARGET_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    process.stderr.write(`BENCH_TARGETS: unknown target(s) ${unknown.join(", ")}; give a comma list of ${TARGET_NAMES.join(", ")}\n`);
    process.exit(2);
  }
  // The alternation order stays direct, bare, proxy whatever order they are given in.
  return TARGET_NAMES.filter((n) => raw.includes(n));
})();

const log = (msg: string): void => {
  process.stderr.write(`[bench] ${msg}\n`);
};
const benchStart = performance.now();
const problems: string[] = [];
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
const TICK = clkTck();

const profDir = PROFILE ? mkdtempSync(join(os.tmpdir(), "tenet-bench-proxy-prof-")) : "";
const serverArgs = [...TENET_NODE_ARGS, ...(PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : [])];
const workDir = mkdtempSync(join(os.tmpdir(), "tenet-bench-proxy-plans-"));

const cpus = os.cpus();
log(`Node ${process.version}, ${cpus[0]?.model.trim() ?? "unknown CPU"}, ${cpus.length} cores, load ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);

interface Phase {
  name: string;
  out: CannonOutput;
  direct: CannonResult | undefined;
  bare: CannonResult | undefined;
  proxy: CannonResult | undefined;
  window: { name: string; from: number; to: number };
}
interface SoakSample {
  atS: number;
  rssMb: number;
  heapUsedMb: number | undefined;
}
interface Soak {
  result: CannonResult;
  samples: SoakSample[];
  /** After the warm-up: least-squares slope, and last − first. */
  rssSlopeMbPerMin: number;
  rssGrowthMb: number;
  rssGrowthPct: number;
  heapSlopeMbPerMin: number | undefined;
  heapGrowthMb: number | undefined;
  window: { name: string; from: number; to: number };
}

let bench: ProxyBench | undefined;
let paced: Phase | undefined;
let saturated: Phase | undefined;
let soak: Soak | undefined;
let profile: { file: string; windows: StageProfile[] } | undefined;
const setupMs: Record<string, number> = {};

async function heapUsedMb(b: ProxyBench): Promise<number | undefined> {
  try {
    const r = await fetch(`${b.tenet.url}/metrics`, { headers: { authorization: `Bearer ${b.tenet.adminToken}` } });
    const m = /^tenet_nodejs_heap_size_used_bytes\s+(\S+)/m.exec(await r.text());
    return m ? Number(m[1]) / 2 ** 20 : undefined;
  } catch {
    return undefined;
  }
}

function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den ? num / den : Number.NaN;
}

try {
  bench = await setUpProxyBench(serverArgs, { bare: SELECTED.includes("bare") });
  const b = bench;
  Object.assign(setupMs, b.ms);
  log(`upstream ${b.upstream.url} (pid ${b.upstream.pid}); ${b.bare ? `bare Node proxy ${b.bare.url} (pid ${b.bare.pid}); ` : ""}tenet serve ${b.proxyUrl} (pid ${b.tenet.pid}, node ${serverArgs.join(" ") || "without flags"}), provider ${b.tenet.issuer}`);
  log(`set-up: store ${ms(b.ms.store)}, start ${ms(b.ms.start)}, enrol ${ms(b.ms.enrol)}, sign-in through the proxy ${ms(b.ms.signIn)}`);

  const requests = (cookie?: string) => [{ method: "GET" as const, path: "/api/items?limit=10", headers: { accept: "application/json", ...(cookie ? { cookie } : {}) } }];
  // Alternating in this order, round by round: direct, bare, proxy (those BENCH_TARGETS selects).
  const proxyTarget = { name: "proxy", url: b.proxyUrl, pid: b.tenet.pid, requests: requests(b.cookie) };
  const targets = [
    { name: "direct", url: b.upstream.url, pid: b.upstream.pid, requests: requests() },
    ...(b.bare ? [{ name: "bare", url: b.bare.url, pid: b.bare.pid, requests: requests() }] : []),
    proxyTarget,
  ].filter((t) => SELECTED.includes(t.name as TargetName));
  const half = Math.max(1, SECONDS / 2);
  const phase = async (name: string, plan: CannonPlan): Promise<Phase> => {
    const from = nowUs();
    const out = await runCannon(plan, workDir, name.replace(/\W+/g, "-"));
    const to = nowUs();
    const of = (n: TargetName) => out.results.find((r) => r.name === n);
    return { name, out, direct: of("direct"), bare: of("bare"), proxy: of("proxy"), window: { name, from, to } };
  };

  log(`paced: ${int(RATE)}/s over ${PACED_CONNECTIONS} connections, 2 × ${half} s per target (alternating), 2 s warm-up each`);
  paced = await phase(`paced ${int(RATE)}/s`, { connections: PACED_CONNECTIONS, warmupSec: 2, roundSec: half, rounds: 2, clkTck: TICK, rate: RATE, targets });
  log(`saturated: ${CONNECTIONS} connections, 2 × ${half} s per target (alternating), 2 s warm-up each`);
  saturated = await phase(`saturated, ${CONNECTIONS} connections`, { connections: CONNECTIONS, warmupSec: 2, roundSec: half, rounds: 2, clkTck: TICK, targets });

  if (SOAK_SECONDS > 0 && SELECTED.includes("proxy") && !b.tenet.unexpectedExit()) {
    log(`soak: ${int(SOAK_RATE)}/s through the proxy for ${SOAK_SECONDS} s, Tenet's RSS and heap every ${SAMPLE_S} s`);
    const samples: SoakSample[] = [];
    const t0 = performance.now();
    const sample = async (): Promise<void> => {
      const rss = rssMb(b.tenet.pid);
      if (rss !== undefined) samples.push({ atS: (performance.now() - t0) / 1000, rssMb: rss, heapUsedMb: await heapUsedMb(b) });
    };
    await sample();
    const timer = setInterval(() => void sample(), SAMPLE_S * 1000);
    const from = nowUs();
    let out: CannonOutput;
    try {
      out = await runCannon({ connections: PACED_CONNECTIONS, warmupSec: 0, roundSec: SOAK_SECONDS, rounds: 1, clkTck: TICK, rate: SOAK_RATE, targets: [proxyTarget] }, workDir, "soak");
    } finally {
      clearInterval(timer);
    }
    const to = nowUs();
    await sample();
    const after = samples.filter((s) => s.atS >= SOAK_WARMUP_S);
    const first = after[0];
    const last = after[after.length - 1];
    const heapPts = after.filter((s) => s.heapUsedMb !== undefined).map((s) => [s.atS / 60, s.heapUsedMb!] as [number, number]);
    soak = {
      result: out.results[0]!,
      samples,
      rssSlopeMbPerMin: slope(after.map((s) => [s.atS / 60, s.rssMb])),
      rssGrowthMb: first && last ? last.rssMb - first.rssMb : Number.NaN,
      rssGrowthPct: first && last ? (100 * (last.rssMb - first.rssMb)) / first.rssMb : Number.NaN,
      heapSlopeMbPerMin: heapPts.length >= 2 ? slope(heapPts) : undefined,
      heapGrowthMb: heapPts.length >= 2 ? heapPts[heapPts.length - 1]![1] - heapPts[0]![1] : undefined,
      window: { name: "soak", from, to },
    };
    if (after.length < 2) problems.push(`soak: only ${after.length} memory samples after the ${SOAK_WARMUP_S} s warm-up (BENCH_SOAK_SECONDS=${SOAK_SECONDS} is too short for a slope)`);
  }
} catch (err) {
  problems.push(`crashed: ${(err as Error).stack ?? String(err)}`);
} finally {
  if (bench) {
    const gone = bench.tenet.unexpectedExit();
    if (gone) problems.push(`tenet serve ${gone}: ${bench.tenet.output().trim().slice(-500)}`);
    await bench.close();
  }
  rmSync(workDir, { recursive: true, force: true });
  if (PROFILE) {
    const windows = [paced?.window, saturated?.window, soak?.window].filter((w): w is NonNullable<typeof w> => w !== undefined);
    const counts = new Map<string, number>([
      ...(paced?.proxy ? [[paced.window.name, paced.proxy.ok] as [string, number]] : []),
      ...(saturated?.proxy ? [[saturated.window.name, saturated.proxy.ok] as [string, number]] : []),
      ...(soak ? [[soak.window.name, soak.result.ok] as [string, number]] : []),
    ]);
    profile = profileStages(profDir, windows, counts);
    if (!profile) problems.push(`no CPU profile was written in ${profDir}`);
  }
}

// --- report ---------------------------------------------------------------------------------------

const totalMs = performance.now() - benchStart;
const f2 = (n: number | undefined): string => (n !== undefined && Number.isFinite(n) ? n.toFixed(2) : "n/a");
const f3 = (n: number | undefined): string => (n !== undefined && Number.isFinite(n) ? n.toFixed(3) : "n/a");
const failedOf = (r: CannonResult): number => r.non2xx + r.errors + r.timeouts;
const allResults = [paced?.direct, paced?.bare, paced?.proxy, saturated?.direct, saturated?.bare, saturated?.proxy, soak?.result].filter((r): r is CannonResult => r !== undefined);
for (const [what, r] of [
  ["paced direct", paced?.direct],
  ["paced bare Node proxy", paced?.bare],
  ["paced proxy", paced?.proxy],
  ["saturated direct", saturated?.direct],
  ["saturated bare Node proxy", saturated?.bare],
  ["saturated proxy", saturated?.proxy],
  ["soak proxy", soak?.result],
] as const) {
  if (r && failedOf(r) > 0) problems.push(`${what}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
}
/** Latency of `a` minus that of `b`, percentile by percentile. */
const over = (a: CannonResult | undefined, b: CannonResult | undefined) => (a && b ? { p50: a.latencyMs.p50 - b.latencyMs.p50, p90: a.latencyMs.p90 - b.latencyMs.p90, p99: a.latencyMs.p99 - b.latencyMs.p99 } : undefined);
const perSecRatio = (a: CannonResult | undefined, b: CannonResult | undefined): number | undefined => (a && b && b.perSec > 0 ? a.perSec / b.perSec : undefined);
// The issue's targets: Tenet's proxy against the upstream answered directly.
const added = over(paced?.proxy, paced?.direct);
const tputRatio = perSecRatio(saturated?.proxy, saturated?.direct);
// The peer comparisons (information): Tenet against the bare Node proxy, the bare proxy against direct.
const addedOverBare = over(paced?.proxy, paced?.bare);
const bareAdded = over(paced?.bare, paced?.direct);
const tputOverBare = perSecRatio(saturated?.proxy, saturated?.bare);
const bareTputRatio = perSecRatio(saturated?.bare, saturated?.direct);
const usPerNum = (r: CannonResult | undefined): number | undefined => (r && r.serverCpu !== null && r.perSec > 0 ? (r.serverCpu / r.perSec) * 1e6 : undefined);
const usPer = (r: CannonResult): string => {
  const us = usPerNum(r);
  return us === undefined ? "n/a" : int(us);
};
const PATH: Record<string, string> = { direct: "direct to the upstream", bare: "bare Node proxy (no checks)", proxy: "through Tenet's proxy" };
const row = (phase: string, r: CannonResult): string[] => [
  phase,
  PATH[r.name] ?? r.name,
  int(r.ok),
  int(r.perSec),
  f3(r.latencyMs.p50),
  f3(r.latencyMs.p90),
  f3(r.latencyMs.p99),
  f3(r.latencyMs.p999),
  f2(r.latencyMs.max),
  r.serverCpu === null ? "n/a" : r.serverCpu.toFixed(2),
  usPer(r),
  r.clientCpu.toFixed(2),
  String(failedOf(r)),
];

const flags = process.execArgv.join(" ");
const out: string[] = [];
out.push("## Identity-aware proxy benchmark: through Tenet's proxy vs a bare Node proxy vs direct to the upstream");
out.push("");
out.push(
  `Node ${process.version} (this process: ${flags ? `\`${flags}\`` : "no flags"}; \`tenet serve\`: ${serverArgs.length ? `\`${serverArgs.join(" ")}\`` : "no flags"}), ${cpus[0]?.model.trim() ?? "unknown CPU"} (${cpus.length} cores shared by Tenet, the upstream, the load generator and anything else running; load avg ${os.loadavg()[0]!.toFixed(2)} at the end). ` +
    `Upstream: bench/api/minimal-server.ts, a bare node:http server answering a 32-byte JSON body, in its own process. Bare Node proxy (the peer): bench/proxy/bare-proxy.ts, a node:http server in its own process passing every request to the same upstream with Tenet's own forwarding code (src/enforcement/proxy/forward.ts, undici Agent, keep-alive) and checking nothing. Tenet: \`tenet serve --access-config\` (SQLite, audit log on) in its own process, one route (host 127.0.0.1 → the upstream); every proxied request carries the signed-in user's sealed \`tenet_proxy\` cookie and is normalised, tied to the live identity session, decided (and audited), and forwarded with a signed identity assertion. ` +
    `Load: autocannon ${paced?.out.autocannon ?? saturated?.out.autocannon ?? "?"} in its own process, \`GET /api/items?limit=10\` with \`accept: application/json\`, keep-alive; targets (${SELECTED.join(", ")}) alternate round by round in that order; every 2xx latency recorded. Server CPU: cores of the target's process busy (/proc) and its CPU time per request.`,
);
out.push("");
const rows: string[][] = [];
if (paced) for (const r of [paced.direct, paced.bare, paced.proxy]) if (r) rows.push(row(`paced ${int(RATE)}/s, ${PACED_CONNECTIONS} conns`, r));
if (saturated) for (const r of [saturated.direct, saturated.bare, saturated.proxy]) if (r) rows.push(row(`saturated, ${CONNECTIONS} conns`, r));
if (soak) rows.push(row(`soak ${int(SOAK_RATE)}/s, ${SOAK_SECONDS} s`, soak.result));
out.push(table(["Phase", "Path", "2xx", "Per second", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "Server CPU (cores)", "Server CPU µs/request", "Load-gen CPU", "Failed"], rows, ["l", "l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r"]));
const notes: string[] = [];
if (added) notes.push(`Added latency at ${int(RATE)}/s (proxy − direct): p50 ${f3(added.p50)} ms, p90 ${f3(added.p90)} ms, p99 ${f3(added.p99)} ms.`);
if (tputRatio !== undefined && saturated?.direct && saturated.proxy) notes.push(`Saturated throughput: ${int(saturated.proxy.perSec)}/s through the proxy vs ${int(saturated.direct.perSec)}/s direct = ${(100 * tputRatio).toFixed(1)}% (rounds: proxy ${saturated.proxy.roundPerSec.map(int).join(", ")}; direct ${saturated.direct.roundPerSec.map(int).join(", ")}).`);
if (addedOverBare) notes.push(`Tenet's added latency over the bare Node proxy at ${int(RATE)}/s (Tenet − bare): p50 ${f3(addedOverBare.p50)} ms, p90 ${f3(addedOverBare.p90)} ms, p99 ${f3(addedOverBare.p99)} ms.`);
if (saturated?.bare) notes.push(`Saturated throughput of the bare Node proxy: ${int(saturated.bare.perSec)}/s (rounds ${saturated.bare.roundPerSec.map(int).join(", ")}).`);
if (notes.length) out.push("", ...notes);
if (soak) {
  out.push("");
  out.push(`### Soak: Tenet's memory, ${SOAK_SECONDS} s at ${int(SOAK_RATE)}/s through the proxy`);
  out.push("");
  out.push(table(["t (s)", "RSS MB", "V8 heap used MB"], soak.samples.map((s) => [s.atS.toFixed(0), s.rssMb.toFixed(1), f2(s.heapUsedMb)]), ["r", "r", "r"]));
  out.push("");
  out.push(`After the first ${SOAK_WARMUP_S} s: RSS slope ${f2(soak.rssSlopeMbPerMin)} MB/min, growth ${f2(soak.rssGrowthMb)} MB (${f2(soak.rssGrowthPct)}%); V8 heap used slope ${f2(soak.heapSlopeMbPerMin)} MB/min, growth ${f2(soak.heapGrowthMb)} MB.`);
}
if (profile) {
  out.push("");
  out.push("### Where `tenet serve`'s time went per proxied request (`--cpu-prof`)");
  out.push("");
  out.push("Each busy sample counted once, towards the first stage met walking up its stack from the leaf (native work — crypto, SQLite — goes to the JavaScript stage that called it). µs/request = the stage's share × busy sampled time ÷ the measured 2xx answers; the window also holds the proxy's 2 s warm-up (not counted in the answers), so these run high by up to 2 s ÷ BENCH_SECONDS (the shares are exact). After an `await` a continuation has only its own frames, so e.g. oidc-provider model code resumed from the microtask queue is “identity (other)”, not identityOfAccessToken.");
  for (const w of profile.windows) {
    out.push("", `**${w.name}** — ${int(w.samples)} samples, busy ${w.busyPct.toFixed(0)}%, ${f2(w.busyUsPerRequest)} µs busy per request`, "");
    out.push(table(["Stage", "Share of busy", "µs/request"], w.stages.filter((s) => s.pct >= 0.5).map((s) => [s.stage, `${s.pct.toFixed(1)}%`, f2(s.usPerRequest)]), ["l", "r", "r"]));
    out.push("");
    out.push(table(["Function (self)", "Where", "Share"], w.top.slice(0, 12).map((t) => [`\`${t.fn}\``, t.where, `${t.pct.toFixed(1)}%`]), ["l", "l", "r"]));
  }
  out.push("", `Profile: ${profile.file}`);
}
const pct1 = (r: number): string => `${(100 * r).toFixed(1)}%`;
const peerRows: Array<[string, string]> = [];
if (addedOverBare && paced?.proxy && paced.bare) {
  peerRows.push([`Tenet's added latency over the bare Node proxy, p50 at ${int(RATE)}/s`, `${f3(addedOverBare.p50)} ms (Tenet ${f3(paced.proxy.latencyMs.p50)} − bare ${f3(paced.bare.latencyMs.p50)})`]);
  peerRows.push([`Tenet's added latency over the bare Node proxy, p99 at ${int(RATE)}/s`, `${f3(addedOverBare.p99)} ms (Tenet ${f3(paced.proxy.latencyMs.p99)} − bare ${f3(paced.bare.latencyMs.p99)})`]);
}
if (bareAdded) peerRows.push([`bare Node proxy's added latency over direct at ${int(RATE)}/s (p50 / p99)`, `${f3(bareAdded.p50)} ms / ${f3(bareAdded.p99)} ms`]);
if (tputOverBare !== undefined) peerRows.push(["saturated throughput: Tenet / bare Node proxy", `${pct1(tputOverBare)} (${int(saturated!.proxy!.perSec)}/s vs ${int(saturated!.bare!.perSec)}/s)`]);
if (bareTputRatio !== undefined) peerRows.push(["saturated throughput: bare Node proxy / direct", `${pct1(bareTputRatio)} (${int(saturated!.bare!.perSec)}/s vs ${int(saturated!.direct!.perSec)}/s)`]);
const cpuTenet = usPerNum(saturated?.proxy);
const cpuBare = usPerNum(saturated?.bare);
if (cpuTenet !== undefined && cpuBare !== undefined) peerRows.push(["server CPU per request, saturated: Tenet − bare Node proxy (what Tenet's checks cost)", `${int(cpuTenet - cpuBare)} µs (Tenet ${int(cpuTenet)} − bare ${int(cpuBare)})`]);
if (peerRows.length) {
  out.push("", "### Against the peer: a bare Node reverse proxy (information, not targets)", "");
  out.push(table(["Comparison (same run)", "Measured", "Result"], peerRows.map(([name, measured]) => [name, measured, "info"]), ["l", "r", "l"]));
}
const zeroFailed = allResults.length > 0 && allResults.every((r) => failedOf(r) === 0);
out.push(
  ...targetsSection(
    [
      { name: `added latency p50 ≤ ${TARGET.addedP50Ms} ms at ${int(RATE)}/s`, measured: added ? `${f3(added.p50)} ms (proxy ${f3(paced!.proxy!.latencyMs.p50)} − direct ${f3(paced!.direct!.latencyMs.p50)})` : "not run", ok: added ? added.p50 <= TARGET.addedP50Ms : undefined },
      { name: `added latency p99 ≤ ${TARGET.addedP99Ms} ms at ${int(RATE)}/s`, measured: added ? `${f3(added.p99)} ms (proxy ${f3(paced!.proxy!.latencyMs.p99)} − direct ${f3(paced!.direct!.latencyMs.p99)})` : "not run", ok: added ? added.p99 <= TARGET.addedP99Ms : undefined },
      { name: `paced rate reached (≥ 95% of ${int(RATE)}/s both paths)`, measured: paced?.direct && paced.proxy ? `direct ${int(paced.direct.perSec)}/s, proxy ${int(paced.proxy.perSec)}/s` : "not run", ok: paced?.direct && paced.proxy ? paced.direct.perSec >= 0.95 * RATE && paced.proxy.perSec >= 0.95 * RATE : undefined },
      { name: `saturated throughput through the proxy ≥ ${100 * TARGET.throughputRatio}% of direct`, measured: tputRatio !== undefined ? `${(100 * tputRatio).toFixed(1)}% (${int(saturated!.proxy!.perSec)}/s vs ${int(saturated!.direct!.perSec)}/s)` : "not run", ok: tputRatio !== undefined ? tputRatio >= TARGET.throughputRatio : undefined },
      {
        name: `memory flat over the soak (RSS growth after ${SOAK_WARMUP_S} s < ${TARGET.soakGrowthMb} MB or < ${TARGET.soakGrowthPct}%)`,
        measured: soak ? `${f2(soak.rssGrowthMb)} MB (${f2(soak.rssGrowthPct)}%), slope ${f2(soak.rssSlopeMbPerMin)} MB/min` : SOAK_SECONDS === 0 ? "skipped (BENCH_SOAK_SECONDS=0)" : SELECTED.includes("proxy") ? "not run" : "skipped (BENCH_TARGETS has no proxy)",
        ok: soak && Number.isFinite(soak.rssGrowthMb) ? soak.rssGrowthMb < TARGET.soakGrowthMb || soak.rssGrowthPct < TARGET.soakGrowthPct : undefined,
      },
      { name: "no failed request in any phase (non-2xx, errors, timeouts)", measured: `${allResults.reduce((a, r) => a + failedOf(r), 0)} failed; ${problems.length} problem(s)`, ok: allResults.length ? zeroFailed && problems.length === 0 : undefined },
    ],
    problems,
    totalMs,
  ),
);
console.log(out.join("\n"));

const r3 = (n: number | undefined): number | null => (n !== undefined && Number.isFinite(n) ? Math.round(n * 1000) / 1000 : null);
const resJson = (r: CannonResult | undefined) =>
  r ? { ok: r.ok, failed: failedOf(r), non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts, seconds: r3(r.seconds), perSec: Math.round(r.perSec), roundPerSec: r.roundPerSec.map(Math.round), latencyMs: Object.fromEntries(Object.entries(r.latencyMs).map(([k, v]) => [k, r3(v)])), serverCpu: r3(r.serverCpu ?? undefined), serverCpuUsPerRequest: r.serverCpu === null ? null : Math.round((r.serverCpu / r.perSec) * 1e6), clientCpu: r3(r.clientCpu) } : null;
const msJson = (d: { p50: number; p90: number; p99: number } | undefined) => (d ? { p50: r3(d.p50), p90: r3(d.p90), p99: r3(d.p99) } : null);
console.log(
  JSON.stringify({
    ...machineJson("tenet-proxy"),
    nodeFlags: flags,
    serverNodeArgs: serverArgs,
    config: { seconds: SECONDS, rate: RATE, pacedConnections: PACED_CONNECTIONS, connections: CONNECTIONS, soakSeconds: SOAK_SECONDS, soakRate: SOAK_RATE, targets: SELECTED },
    setupMs: Object.fromEntries(Object.entries(setupMs).map(([k, v]) => [k, Math.round(v)])),
    paced: paced ? { direct: resJson(paced.direct), bare: resJson(paced.bare), proxy: resJson(paced.proxy), addedMs: msJson(added), addedOverBareMs: msJson(addedOverBare), bareAddedMs: msJson(bareAdded) } : null,
    saturated: saturated ? { direct: resJson(saturated.direct), bare: resJson(saturated.bare), proxy: resJson(saturated.proxy), ratio: r3(tputRatio), proxyOverBare: r3(tputOverBare), bareOverDirect: r3(bareTputRatio) } : null,
    soak: soak ? { proxy: resJson(soak.result), samples: soak.samples.map((s) => ({ atS: r3(s.atS), rssMb: r3(s.rssMb), heapUsedMb: r3(s.heapUsedMb) })), rssSlopeMbPerMin: r3(soak.rssSlopeMbPerMin), rssGrowthMb: r3(soak.rssGrowthMb), rssGrowthPct: r3(soak.rssGrowthPct), heapSlopeMbPerMin: r3(soak.heapSlopeMbPerMin), heapGrowthMb: r3(soak.heapGrowthMb) } : null,
    profile: profile ?? null,
    problems,
    targets: {
      addedP50: { target: TARGET.addedP50Ms, measured: r3(added?.p50), pass: added ? added.p50 <= TARGET.addedP50Ms : null },
      addedP99: { target: TARGET.addedP99Ms, measured: r3(added?.p99), pass: added ? added.p99 <= TARGET.addedP99Ms : null },
      throughputRatio: { target: TARGET.throughputRatio, measured: r3(tputRatio), pass: tputRatio !== undefined ? tputRatio >= TARGET.throughputRatio : null },
      soakFlat: { measuredMb: r3(soak?.rssGrowthMb), pass: soak && Number.isFinite(soak.rssGrowthMb) ? soak.rssGrowthMb < TARGET.soakGrowthMb || soak.rssGrowthPct < TARGET.soakGrowthPct : null },
      zeroFailed: { pass: allResults.length ? zeroFailed && problems.length === 0 : null },
    },
    // Information, not pass/fail: Tenet against the bare Node proxy, measured in the same run.
    peer: {
      addedOverBareP50Ms: r3(addedOverBare?.p50),
      addedOverBareP99Ms: r3(addedOverBare?.p99),
      bareAddedP50Ms: r3(bareAdded?.p50),
      bareAddedP99Ms: r3(bareAdded?.p99),
      throughputProxyOverBare: r3(tputOverBare),
      throughputBareOverDirect: r3(bareTputRatio),
      cpuUsPerRequestSaturated: { proxy: cpuTenet === undefined ? null : Math.round(cpuTenet), bare: cpuBare === undefined ? null : Math.round(cpuBare) },
    },
    totalMs: Math.round(totalMs),
  }),
);
