/**
 * HTTP API benchmark: `tenet serve` (spawned, SQLite in a temp dir) with one store holding a
 * document-sharing model and about 10,000 tuples (`bench/api/dataset.ts`), under load from
 * autocannon running in a separate process (`bench/api/cannon.ts`) at concurrency 64:
 * (1) Check, cycling through a few hundred distinct request bodies, against Tenet and, in the
 *     same run and alternating with it, against a minimal `node:http` server in its own process
 *     answering a fixed JSON body (`bench/api/minimal-server.ts`): the ceiling;
 * (2) BatchCheck with 50 checks per request;
 * (3) AuthZEN access evaluation (POST /stores/{id}/access/v1/evaluation);
 * (4) Check paced at a fixed rate (BENCH_PACED_RATE, default 10,000 requests/s over the same 64
 *     connections), against Tenet and the minimal server: latency under a given load rather than
 *     at saturation, where a closed-loop client's latency is mostly its own queue.
 * Every distinct request is first sent once and its answer compared with an in-process engine.
 *
 * Run: npm run bench:api   (node dist/bench/api.bench.js)
 * Tunables (env): BENCH_CONNECTIONS (default 64), BENCH_ROUND_SEC (5), BENCH_ROUNDS (2; each
 * measurement is ROUNDS × ROUND_SEC), BENCH_WARMUP_SEC (3), BENCH_QUERIES (512), BENCH_SEED (7),
 * BENCH_PROFILE=1 (run Tenet with --cpu-prof and print where its CPU time went), BENCH_ONLY
 * (comma-separated subset of check,batch,authzen,paced: e.g. BENCH_ONLY=check BENCH_PROFILE=1 profiles
 * Check alone).
 *
 * Prints a markdown report, then one JSON line with every number. Never exits non-zero on a
 * missed target (only on a crash).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { newApiKey } from "../src/identity/api-keys/api-key.js";
import { Engine } from "../src/policy/engine/engine.js";
import { TypeSystem } from "../src/policy/model/typesystem.js";
import type { CannonPlan, CannonRequest, CannonResult } from "./api/cannon.js";
import { MODEL_DSL, type Query, makeDataset } from "./api/dataset.js";
import { type MinimalServer, type ProfileSummary, type TenetServer, clkTck, runCannon, startMinimal, startTenet, summarizeProfile } from "./api/procs.js";
import { int, ms, ratio, table, targetsSection } from "./engine/report.js";

const envNum = (name: string, dflt: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};
const CONNECTIONS = envNum("BENCH_CONNECTIONS", 64);
const ROUND_SEC = envNum("BENCH_ROUND_SEC", 5);
const ROUNDS = envNum("BENCH_ROUNDS", 2);
const WARMUP_SEC = envNum("BENCH_WARMUP_SEC", 3);
const QUERIES = envNum("BENCH_QUERIES", 512);
const SEED = envNum("BENCH_SEED", 7);
const PROFILE = process.env.BENCH_PROFILE === "1";
const PACED_RATE = envNum("BENCH_PACED_RATE", 10_000);
const ONLY = new Set((process.env.BENCH_ONLY || "check,batch,authzen,paced").split(",").map((x) => x.trim()));
const BATCH_SIZE = 50;
const BATCH_BODIES = 64;

const TARGET = { ratio: 0.5, p99ms: 5 };

const log = (msg: string): void => {
  process.stderr.write(`[bench] ${msg}\n`);
};
const benchStart = performance.now();

// --- data and expected answers --------------------------------------------------------------------

const { tuples, queries } = makeDataset(SEED, QUERIES);
const ts = TypeSystem.from(MODEL_DSL);
const engine = new Engine();
for (const t of tuples) engine.index.add(t);
const expected = queries.map((q) => engine.check(ts, q).allowed);
const allowedShare = expected.filter(Boolean).length / expected.length;
log(`${int(tuples.length)} tuples, ${int(queries.length)} distinct checks (${Math.round(allowedShare * 100)}% allowed)`);

// --- servers --------------------------------------------------------------------------------------

const tmp = mkdtempSync(join(os.tmpdir(), "tenet-bench-api-"));
const profDir = PROFILE ? mkdtempSync(join(os.tmpdir(), "tenet-bench-prof-")) : "";
const { token } = newApiKey({ name: "bench", scopes: ["admin"], stores: ["*"] });
const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };

let tenet: TenetServer | undefined;
let minimal: MinimalServer | undefined;
let check: CannonResult | undefined;
let ceiling: CannonResult | undefined;
let paced: CannonResult | undefined;
let pacedCeiling: CannonResult | undefined;
let batch: CannonResult | undefined;
let authzen: CannonResult | undefined;
let acVersion = "?";
let profile: ProfileSummary | undefined;
const mismatches = { check: 0, batch: 0, authzen: 0 };
const problems: string[] = [];

/** False (and the problem recorded) when `tenet serve` is gone: the remaining rows are skipped. */
function alive(after: string): boolean {
  const gone = tenet?.unexpectedExit();
  if (gone && !problems.some((p) => p.startsWith("tenet serve"))) {
    problems.push(`tenet serve ${gone} during ${after}; the rows after it are skipped. Output: ${tenet!.output().trim().slice(-500) || "(none)"}`);
    log(problems[problems.length - 1]!);
  }
  return !gone;
}

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${tenet!.url}${path}`, { method, headers, body: body === undefined ? null : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function must(method: string, path: string, body: unknown, status: number): Promise<Record<string, unknown>> {
  const r = await call(method, path, body);
  if (r.status !== status) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

const checkBody = (q: Query): string => JSON.stringify({ tuple_key: q });
const authzenBody = (q: Query): string =>
  JSON.stringify({
    subject: { type: "user", id: q.user.slice("user:".length) },
    resource: { type: "document", id: q.object.slice("document:".length) },
    action: { name: q.relation },
  });
/** Batch b: BATCH_SIZE consecutive queries of the pool, starting at b * BATCH_SIZE (wrapping). */
const batchIndexes = (b: number): number[] => Array.from({ length: BATCH_SIZE }, (_, k) => (b * BATCH_SIZE + k) % queries.length);
const batchBody = (b: number): string => JSON.stringify({ checks: batchIndexes(b).map((i, k) => ({ tuple_key: queries[i]!, correlation_id: `c${k}` })) });

try {
  const serveEnv: NodeJS.ProcessEnv = { TENET_DATA_DIR: join(tmp, "data"), TENET_ADMIN_TOKEN: token, TENET_LOG_LEVEL: "warn", TENET_DATABASE_URL: "" };
  tenet = await startTenet(serveEnv, [...(PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : []), ...(process.env.BENCH_TENET_NODE_ARGS ?? "").split(" ").filter(Boolean)]);
  log(`tenet at ${tenet.url} (pid ${tenet.pid})${PROFILE ? `, profiling into ${profDir}` : ""}`);

  const storeId = String((await must("POST", "/stores", { name: "bench-api" }, 201)).id);
  await must("POST", `/stores/${storeId}/authorization-models`, ts.model, 201);
  const t0 = performance.now();
  for (let i = 0; i < tuples.length; i += 100) await must("POST", `/stores/${storeId}/write`, { writes: { tuple_keys: tuples.slice(i, i + 100) } }, 200);
  log(`wrote ${int(tuples.length)} tuples over HTTP in ${ms(performance.now() - t0)}`);

  // Every distinct request once, compared with the in-process engine.
  for (let i = 0; i < queries.length; i++) {
    const r = await call("POST", `/stores/${storeId}/check`, JSON.parse(checkBody(queries[i]!)));
    if (r.status !== 200 || r.json.allowed !== expected[i]) mismatches.check++;
    const z = await call("POST", `/stores/${storeId}/access/v1/evaluation`, JSON.parse(authzenBody(queries[i]!)));
    if (z.status !== 200 || z.json.decision !== expected[i]) mismatches.authzen++;
  }
  for (let b = 0; b < BATCH_BODIES; b++) {
    const r = await call("POST", `/stores/${storeId}/batch-check`, JSON.parse(batchBody(b)));
    const result = (r.json.result ?? {}) as Record<string, { allowed?: boolean }>;
    batchIndexes(b).forEach((i, k) => {
      if (r.status !== 200 || result[`c${k}`]?.allowed !== expected[i]) mismatches.batch++;
    });
  }
  log(`verified every distinct request: ${mismatches.check + mismatches.batch + mismatches.authzen} wrong answers`);

  minimal = await startMinimal();
  log(`minimal node:http server at ${minimal.url} (pid ${minimal.pid})`);

  const post = (path: string, bodies: string[]): CannonRequest[] => bodies.map((body) => ({ method: "POST", path, headers, body }));
  const checkRequests = post(`/stores/${storeId}/check`, queries.map(checkBody));
  const tick = clkTck();
  const plan = (targets: CannonPlan["targets"]): CannonPlan => ({ connections: CONNECTIONS, warmupSec: WARMUP_SEC, roundSec: ROUND_SEC, rounds: ROUNDS, clkTck: tick, targets });
  const tenetPid = tenet.pid;

  if (ONLY.has("check")) {
    log(`Check: Tenet and the minimal server, alternating, ${ROUNDS} × ${ROUND_SEC} s each after ${WARMUP_SEC} s warm-up, ${CONNECTIONS} connections`);
    const c = await runCannon(
      plan([
        { name: "tenet-check", url: tenet.url, pid: tenetPid, requests: checkRequests },
        { name: "minimal", url: minimal.url, pid: minimal.pid, requests: checkRequests },
      ]),
      tmp,
      "check",
    );
    acVersion = c.autocannon;
    [check, ceiling] = c.results;
    if (!alive("Check")) check = undefined;
  }
  if (ONLY.has("paced") && alive("Check")) {
    log(`Check paced at ${int(PACED_RATE)} requests/s: Tenet and the minimal server, alternating`);
    const c = await runCannon(
      {
        ...plan([
          { name: "tenet-check-paced", url: tenet.url, pid: tenetPid, requests: checkRequests },
          { name: "minimal-paced", url: minimal.url, pid: minimal.pid, requests: checkRequests },
        ]),
        rate: PACED_RATE,
      },
      tmp,
      "paced",
    );
    [paced, pacedCeiling] = c.results;
    if (!alive("paced Check")) paced = undefined;
  }
  await minimal.stop();
  minimal = undefined;

  if (ONLY.has("batch") && alive("Check")) {
    log(`BatchCheck (${BATCH_SIZE} checks per request)`);
    const c = await runCannon(
      plan([{ name: "tenet-batch-check", url: tenet.url, pid: tenetPid, requests: post(`/stores/${storeId}/batch-check`, Array.from({ length: BATCH_BODIES }, (_, b) => batchBody(b))) }]),
      tmp,
      "batch",
    );
    acVersion = c.autocannon;
    batch = c.results[0];
    if (!alive("BatchCheck")) batch = undefined;
  }

  if (ONLY.has("authzen") && alive("BatchCheck")) {
    log("AuthZEN access evaluation");
    const c = await runCannon(plan([{ name: "tenet-authzen", url: tenet.url, pid: tenetPid, requests: post(`/stores/${storeId}/access/v1/evaluation`, queries.map(authzenBody)) }]), tmp, "authzen");
    acVersion = c.autocannon;
    authzen = c.results[0];
    if (!alive("AuthZEN evaluation")) authzen = undefined;
  }
} finally {
  await minimal?.stop();
  const code = await tenet?.stop();
  if (tenet && code !== 0) log(`tenet serve exited with ${code}: ${tenet.output().slice(-2000)}`);
  if (PROFILE) {
    profile = summarizeProfile(profDir);
    if (!profile) log(`no CPU profile was written in ${profDir}`);
  }
  rmSync(tmp, { recursive: true, force: true });
}

// --- report ---------------------------------------------------------------------------------------

const totalMs = performance.now() - benchStart;
const cpus = os.cpus();
const env = `Node ${process.version}, ${cpus[0]?.model.trim() ?? "unknown CPU"} (${cpus.length} cores, load avg ${os.loadavg()[0]!.toFixed(2)})`;
const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : "n/a");
const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : "n/a");
const cpu = (n: number | null): string => (n === null || !Number.isFinite(n) ? "n/a" : `${Math.round(n * 100)}%`);
const failures = (r: CannonResult): number => r.non2xx + r.errors + r.timeouts;

const ratioToCeiling = check && ceiling ? check.perSec / ceiling.perSec : NaN;
const wrong = mismatches.check + mismatches.batch + mismatches.authzen;
const failed = [check, ceiling, batch, authzen, paced, pacedCeiling].reduce((a, r) => a + (r ? failures(r) : 0), 0);
const targets: Array<{ name: string; measured: string; ok: boolean | undefined }> = [
  {
    name: `Tenet Check ≥ ${TARGET.ratio * 100}% of the minimal server's requests/s`,
    measured: Number.isFinite(ratioToCeiling) ? `${(ratioToCeiling * 100).toFixed(0)}%` : "skipped",
    ok: check && ceiling ? ratioToCeiling >= TARGET.ratio : undefined,
  },
  {
    name: `Tenet Check p99 ≤ ${TARGET.p99ms} ms at concurrency ${CONNECTIONS}, at saturation`,
    measured: check ? `${f2(check.latencyMs.p99)} ms (minimal server: ${ceiling ? f2(ceiling.latencyMs.p99) : "n/a"} ms)` : "skipped",
    ok: check ? check.latencyMs.p99 <= TARGET.p99ms : undefined,
  },
  {
    name: `Tenet Check p99 ≤ ${TARGET.p99ms} ms at concurrency ${CONNECTIONS}, paced at ${int(PACED_RATE)} requests/s`,
    measured: paced ? `${f2(paced.latencyMs.p99)} ms (minimal server: ${pacedCeiling ? f2(pacedCeiling.latencyMs.p99) : "n/a"} ms)` : "skipped",
    ok: paced ? paced.latencyMs.p99 <= TARGET.p99ms : undefined,
  },
  {
    name: "every answer as expected, no failed request",
    measured: `${wrong} wrong, ${failed} failed${problems.length ? `, ${problems.length} problem(s)` : ""}`,
    ok: wrong === 0 && failed === 0 && problems.length === 0,
  },
];

const row = (label: string, r: CannonResult | undefined, perRequest = 1): string[] =>
  r
    ? [
        label,
        int(r.perSec),
        perRequest > 1 ? int(r.perSec * perRequest) : int(r.perSec),
        f2(r.latencyMs.p50),
        f2(r.latencyMs.p90),
        f2(r.latencyMs.p99),
        f2(r.latencyMs.p999),
        f2(r.latencyMs.max),
        cpu(r.serverCpu),
        r.serverCpu === null ? "n/a" : f1((r.serverCpu / r.perSec) * 1e6),
        cpu(r.clientCpu),
        r.roundPerSec.map((x) => int(x)).join(" / "),
        String(failures(r)),
      ]
    : [label, ...Array<string>(12).fill("skipped")];

const out: string[] = [];
out.push("## HTTP API benchmark");
out.push("");
out.push(
  `${env}. \`tenet serve\` (SQLite in a temp dir, log level warn) with one store: a document-sharing model (\`bench/api/dataset.ts\`) and ${int(tuples.length)} tuples. Load: autocannon ${acVersion} in a separate process, ${CONNECTIONS} connections, no pipelining, requests cycling through ${int(queries.length)} distinct check bodies (${Math.round(allowedShare * 100)}% allowed; BatchCheck: ${BATCH_BODIES} bodies of ${BATCH_SIZE} checks), an API key on every request. Each row: ${WARMUP_SEC} s warm-up, then ${ROUNDS} × ${ROUND_SEC} s; Tenet's Check and the minimal server alternate round by round. Latency percentiles come from every 2xx response (recorded in the load generator, µs resolution). CPU is the share of one core used during the measured rounds (2 cores in all, shared by server and load generator).`,
);
out.push("");
out.push(
  table(
    ["Endpoint", "Requests/s", "Checks/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "Server CPU", "Server CPU µs/req", "Load-gen CPU", "Rounds (req/s)", "Failed"],
    [
      row("Check — Tenet", check),
      row("Check — minimal node:http (ceiling)", ceiling),
      row(`BatchCheck (${BATCH_SIZE} checks/request) — Tenet`, batch, BATCH_SIZE),
      row("AuthZEN evaluation — Tenet", authzen),
      row(`Check paced at ${int(PACED_RATE)} req/s — Tenet`, paced),
      row(`Check paced at ${int(PACED_RATE)} req/s — minimal node:http`, pacedCeiling),
    ],
    ["l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
  ),
);
out.push("");
out.push(
  `Tenet's Check reaches ${Number.isFinite(ratioToCeiling) ? `${(ratioToCeiling * 100).toFixed(0)}%` : "n/a"} of the minimal server's requests/s (${ratio(ratioToCeiling)} of it). The minimal server reads each body and answers a fixed \`{"allowed":true,"resolution":""}\`: no routing, validation, authentication or engine. AuthZEN evaluations ask for the explain path (as the route does). Answers checked before the load: ${wrong} wrong of ${int(queries.length * 2 + BATCH_BODIES * BATCH_SIZE)}. "Server CPU µs/req" is the server's CPU time per answered request (less sensitive to the load generator and to neighbours than requests/s). The max column includes the burst of 64 new connections at the start of each round.${
    ceiling && ceiling.clientCpu > 0.9
      ? ` The minimal server's row is bound by the load generator (${cpu(ceiling.clientCpu)} of a core, server ${cpu(ceiling.serverCpu)}): the true ceiling is higher, so the ratio is an upper bound.`
      : ""
  }`,
);
if (profile) {
  out.push("");
  out.push(`### Where Tenet's CPU time went (\`--cpu-prof\`, whole server life: setup, warm-ups and every row above; ${ms(profile.totalMs)})`);
  out.push("");
  out.push("Shares of the server's busy (non-idle) samples. Stages are inclusive (a stage's callees count towards it).");
  out.push("");
  out.push(table(["Stage", "Share"], profile.byStage.map((st) => [st.stage, `${st.pct.toFixed(1)}%`]), ["l", "r"]));
  out.push("");
  out.push(table(["Area", "Self time"], profile.byArea.slice(0, 15).map((a) => [a.area, `${a.selfPct.toFixed(1)}%`]), ["l", "r"]));
  out.push("");
  out.push(table(["Function", "Where", "Self time"], profile.top.map((t) => [`\`${t.fn}\``, t.where, `${t.selfPct.toFixed(1)}%`]), ["l", "l", "r"]));
  out.push("");
  out.push(`Profile: ${profile.file}`);
}
out.push(...targetsSection(targets, problems, totalMs));
console.log(out.join("\n"));

const round = (n: number, d = 2): number => (Number.isFinite(n) ? Math.round(n * 10 ** d) / 10 ** d : n);
const resultJson = (r: CannonResult | undefined, perRequest = 1): Record<string, unknown> | null =>
  r
    ? {
        requestsPerSec: Math.round(r.perSec),
        checksPerSec: Math.round(r.perSec * perRequest),
        roundPerSec: r.roundPerSec.map((x) => Math.round(x)),
        requests: r.ok,
        seconds: round(r.seconds, 2),
        latencyMs: Object.fromEntries(Object.entries(r.latencyMs).map(([k, v]) => [k, round(v, 3)])),
        autocannonLatencyMs: { p50: round(r.autocannonMs.p50, 2), p99: round(r.autocannonMs.p99, 2) },
        serverCpu: r.serverCpu === null ? null : round(r.serverCpu, 3),
        serverCpuUsPerRequest: r.serverCpu === null ? null : round((r.serverCpu / r.perSec) * 1e6, 1),
        clientCpu: round(r.clientCpu, 3),
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
      }
    : null;
const json = {
  bench: "tenet-api",
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus[0]?.model.trim() ?? null,
  cores: cpus.length,
  loadavg: round(os.loadavg()[0]!),
  config: { connections: CONNECTIONS, warmupSec: WARMUP_SEC, roundSec: ROUND_SEC, rounds: ROUNDS, queries: queries.length, batchSize: BATCH_SIZE, batchBodies: BATCH_BODIES, seed: SEED, tuples: tuples.length, autocannon: acVersion },
  allowedShare: round(allowedShare, 3),
  check: resultJson(check),
  ceiling: resultJson(ceiling),
  ratioToCeiling: round(ratioToCeiling, 3),
  pacedRate: PACED_RATE,
  checkPaced: resultJson(paced),
  ceilingPaced: resultJson(pacedCeiling),
  batchCheck: resultJson(batch, BATCH_SIZE),
  authzenEvaluation: resultJson(authzen),
  mismatches,
  problems,
  profile: profile ? { file: profile.file, byStage: profile.byStage.map((st) => ({ stage: st.stage, pct: round(st.pct, 1) })), byArea: profile.byArea.slice(0, 15).map((a) => ({ area: a.area, selfPct: round(a.selfPct, 1) })), top: profile.top.map((t) => ({ ...t, selfPct: round(t.selfPct, 1) })) } : null,
  targets: targets.map((t) => ({ target: t.name, measured: t.measured, pass: t.ok ?? null })),
  totalMs: Math.round(totalMs),
};
console.log(JSON.stringify(json));
