/**
 * Access-decision benchmark (issue 5, item 7): full decisions per second and their latency with
 * 1,000 access policies and realistic request signals, alongside the bare relationship check in
 * the same run.
 *
 * Set-up (deterministic from BENCH_SEED): a document-sharing relationship model with about 50,000
 * tuples written through PolicyService over a MemoryDatastore (`bench/policy/dataset.ts`);
 * 1,000 access policies generated as YAML, parsed and compiled by the real code path and applied
 * to the store (`bench/policy/policies.ts`); the risk engine behind the history cache that
 * `tenet serve` uses (`bench/policy/risk.ts`); named network zones
 * (`bench/policy/zones.ts`); a pool of distinct requests (subject, device, request, resource,
 * action `viewer`) cycled in order.
 *
 * Measured side by side in alternating rounds (`bench/policy/measure.ts`):
 * (a) the bare relationship check: `policy.checkNow(store, {object, relation: "viewer", user})`;
 * (b) the full decision: `AccessDecisionPoint.decideNow(store, req)`: applicable policies, risk
 *     assessment, CEL rules with `check("viewer")` asking the relationship engine, requirements,
 *     the decision record;
 * then, informationally and also side by side, what (b) is made of: the check as the decision
 * point asks it (explain + context), `evaluate()` alone with a precomputed risk, the risk
 * assessment alone, and the selection of applicable policies alone.
 *
 * Run: npm run bench:policy   (node dist/bench/policy.bench.js)
 * Tunables (env): BENCH_POLICIES (default 1000), BENCH_SECONDS (20: measured time of (a)+(b);
 * the breakdown gets a third of it), BENCH_SEED (42), BENCH_REQUESTS (4096), BENCH_LAT_BATCH (4:
 * calls per latency sample).
 *
 * Prints a markdown report, then one JSON line with every number. Never exits non-zero on a
 * missed target (only on a crash).
 */
import { isDeepStrictEqual } from "node:util";
import os from "node:os";
import { TenetError } from "../src/errors.js";
import { compilePolicySet } from "../src/policy/access/compile.js";
import { AccessDecisionPoint, type AccessDecision } from "../src/policy/access/decision-point.js";
import { applicablePolicies, evaluate, type EvaluationHooks } from "../src/policy/access/evaluate.js";
import { parseSources } from "../src/policy/access/files.js";
import { AccessPolicyStore } from "../src/policy/access/policy-store.js";
import type { RiskAssessment } from "../src/policy/access/types.js";
import { Engine } from "../src/policy/engine/engine.js";
import { TypeSystem } from "../src/policy/model/typesystem.js";
import { PolicyService } from "../src/policy/service.js";
import { MemoryDatastore } from "../src/storage/memory/memory-datastore.js";
import { int, machineJson, ms, ratio, table, targetsSection, us } from "./engine/report.js";
import { DOCS, FOLDERS, GROUPS, MODEL_DSL, NOW, USERS, makeRelationships, makeRequests } from "./policy/dataset.js";
import { elapsedMs, measureSideBySide, now, sink, timerOverheadUs, type OpTiming } from "./policy/measure.js";
import { makePolicies } from "./policy/policies.js";
import { loadRisk } from "./policy/risk.js";
import { zonesOf } from "./policy/zones.js";

const envNum = (name: string, dflt: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};
const POLICIES = Math.floor(envNum("BENCH_POLICIES", 1000));
const SECONDS = envNum("BENCH_SECONDS", 20);
const SEED = Math.floor(envNum("BENCH_SEED", 42));
const REQUESTS = Math.floor(envNum("BENCH_REQUESTS", 4096));
const LAT_BATCH = Math.floor(envNum("BENCH_LAT_BATCH", 4));
const VERIFY = Math.min(REQUESTS, 2048);

const TARGET = { ratio: 3, decisionsPerSec: 100_000 };

const log = (msg: string): void => {
  process.stderr.write(`[bench] ${msg}\n`);
};
const benchStart = now();
const problems: string[] = [];

// --- relationships --------------------------------------------------------------------------------

const rel = makeRelationships(SEED);
const ds = new MemoryDatastore();
const policy = new PolicyService(ds);
const store = await policy.createStore("bench-policy");
const storeId = store.id;
await policy.writeModel(storeId, MODEL_DSL);
const loadStart = now();
for (let i = 0; i < rel.tuples.length; i += 100) await policy.write(storeId, { writes: rel.tuples.slice(i, i + 100) });
await policy.warm(storeId);
const tupleLoadMs = elapsedMs(loadStart);
log(`wrote ${int(rel.tuples.length)} tuples in ${Math.ceil(rel.tuples.length / 100)} writes of ≤ 100: ${ms(tupleLoadMs)}`);

// --- policies -------------------------------------------------------------------------------------

const gen = makePolicies(SEED + 1, POLICIES);
let t0 = now();
const parsed = parseSources(gen.sources);
const parseMs = elapsedMs(t0);
t0 = now();
const set = compilePolicySet(parsed.policies, parsed.problems);
const compileMs = elapsedMs(t0);
const policyStore = new AccessPolicyStore(ds);
t0 = now();
const applied = await policyStore.apply(storeId, gen.sources, { appliedBy: "bench", comment: "bench:policy" });
const applyMs = elapsedMs(t0);
log(`${int(set.policies.length)} policies (${int(gen.rules)} rules, ${(gen.yamlBytes / 1024).toFixed(0)} KiB YAML): parse ${ms(parseMs)}, compile ${ms(compileMs)}, apply (validate + store) ${ms(applyMs)}`);

// --- requests, risk, decision point ---------------------------------------------------------------

const pool = makeRequests(SEED + 2, rel, REQUESTS);
const reqs = pool.requests;
const risk = await loadRisk(pool.histories, reqs);
if (!risk.engine) problems.push(`the risk engine was not used: ${risk.description}`);
log(`risk: ${risk.description}`);

const dp = new AccessDecisionPoint({ policy, policies: policyStore, risk: risk.assessor, zonesOf, now: () => NOW });
t0 = now();
await dp.decide(storeId, reqs[0]!); // loads the head and compiles the live version
const dpLoadMs = elapsedMs(t0);

const checkReqs = reqs.map((r) => ({ object: `${r.resource.type}:${r.resource.id}`, relation: "viewer", user: r.subject.id }));

/** The hooks the decision point gives evaluate(), rebuilt from its documented behaviour. */
const hooks: EvaluationHooks = {
  check: (object, relation, user, context) => {
    let r;
    try {
      r = policy.checkNow(storeId, { object, relation, user, context, explain: true });
    } catch (err) {
      if (err instanceof TenetError && err.status < 500) return { allowed: false, why: { error: err.code, message: err.message } };
      throw err;
    }
    if (r === undefined) throw new Error("index not loaded");
    return r.why !== undefined ? { allowed: r.allowed, why: r.why } : { allowed: r.allowed };
  },
  zonesOf,
};

// --- verification (before timing) -----------------------------------------------------------------

let checkMismatches = 0;
let engineMismatches = 0;
let decisionMismatches = 0;
const mismatchExamples: string[] = [];
{
  // An independent index: the same tuples straight into a fresh Engine (not through the service).
  const ts = TypeSystem.from(MODEL_DSL);
  const engine = new Engine();
  for (const t of rel.tuples) engine.index.add(t);
  for (let i = 0; i < VERIFY; i++) {
    const q = checkReqs[i]!;
    const fast = policy.checkNow(storeId, q)?.allowed;
    const slow = (await policy.check(storeId, q)).allowed;
    if (fast !== slow) checkMismatches++;
    if (engine.check(ts, q).allowed !== fast) engineMismatches++;
  }
  for (let i = 0; i < VERIFY; i++) {
    const req = reqs[i]!;
    const d = dp.decideNow(storeId, req);
    const assessed = risk.assessor.assessNow(req, NOW)!;
    const e = evaluate(set, req, assessed, NOW, hooks);
    const same =
      d === undefined
        ? e.decision === "pending"
        : d.decision === e.decision &&
          isDeepStrictEqual(d.rules, e.rules) &&
          isDeepStrictEqual(d.reasons, e.reasons) &&
          isDeepStrictEqual(d.obligations, e.obligations) &&
          isDeepStrictEqual(d.relationships, e.relationships) &&
          isDeepStrictEqual(d.challenge, e.challenge) &&
          isDeepStrictEqual(d.risk, assessed) &&
          d.policy_version === applied.version.version;
    if (!same) {
      decisionMismatches++;
      if (mismatchExamples.length < 3) mismatchExamples.push(`request ${i}: decideNow ${d?.decision ?? "undefined"} vs evaluate ${e.decision}`);
    }
  }
}
const totalMismatches = checkMismatches + engineMismatches + decisionMismatches;
if (checkMismatches) problems.push(`${checkMismatches} of ${VERIFY} checkNow answers differ from policy.check`);
if (engineMismatches) problems.push(`${engineMismatches} of ${VERIFY} checkNow answers differ from a fresh Engine over the same tuples`);
if (decisionMismatches) problems.push(`${decisionMismatches} of ${VERIFY} decideNow results differ from evaluate() with the same hooks (${mismatchExamples.join("; ")})`);
log(`verified ${VERIFY} checks and decisions: ${totalMismatches} mismatches`);

// --- the pool's decisions (one pass, untimed) -----------------------------------------------------

const mix = { allow: 0, deny: 0, challenge: 0, pending: 0 };
const riskLevels: Record<string, number> = { low: 0, medium: 0, high: 0, critical: 0 };
let checkAllowed = 0;
let applicableSum = 0;
let applicableMin = Infinity;
let applicableMax = 0;
let checkCalls = 0;
let distinctCheckCalls = 0;
let maxCheckCalls = 0;
let pendingAsync = 0;
for (let i = 0; i < reqs.length; i++) {
  const req = reqs[i]!;
  if (policy.checkNow(storeId, checkReqs[i]!)?.allowed) checkAllowed++;
  const n = applicablePolicies(set, req).length;
  applicableSum += n;
  applicableMin = Math.min(applicableMin, n);
  applicableMax = Math.max(applicableMax, n);
  const d: AccessDecision | undefined = dp.decideNow(storeId, req);
  if (d === undefined) {
    mix.pending++;
    // What the asynchronous path makes of it (this server has no just-in-time access: deny).
    if ((await dp.decide(storeId, req)).decision === "deny") pendingAsync++;
    continue;
  }
  mix[d.decision]++;
  riskLevels[d.risk.level] = (riskLevels[d.risk.level] ?? 0) + 1;
  checkCalls += d.relationships.length;
  maxCheckCalls = Math.max(maxCheckCalls, d.relationships.length);
  distinctCheckCalls += new Set(d.relationships.map((r) => `${r.object}#${r.relation}`)).size;
}
const decided = reqs.length - mix.pending;
const share = (n: number, of = reqs.length): string => `${((100 * n) / of).toFixed(1)}%`;
if (mix.pending / reqs.length > 0.1) problems.push(`${share(mix.pending)} of the requests end pending (decideNow returns undefined): the data set should produce mostly allow/deny/challenge`);
log(`decisions: allow ${mix.allow}, deny ${mix.deny}, challenge ${mix.challenge}, pending ${mix.pending}; ${(applicableSum / reqs.length).toFixed(1)} applicable policies and ${(checkCalls / Math.max(1, decided)).toFixed(2)} check() calls per decision`);

// --- timing ---------------------------------------------------------------------------------------

const timerUs = timerOverheadUs();
const checkFn = (i: number): boolean => policy.checkNow(storeId, checkReqs[i]!)!.allowed;
const decisionFn = (i: number): AccessDecision | undefined => dp.decideNow(storeId, reqs[i]!);
const runMs = SECONDS * 1000;
log(`measuring (a) bare check and (b) full decision side by side for ${SECONDS} s…`);
const [ta, tb] = measureSideBySide(
  [
    { key: "check", fn: checkFn, count: reqs.length },
    { key: "decision", fn: decisionFn, count: reqs.length },
  ],
  { warmupMs: Math.min(2000, runMs / 10), runMs, rounds: 10, batch: 64, latencyMs: Math.min(4000, runMs / 5), latBatch: LAT_BATCH },
) as [OpTiming, OpTiming];
log(`(a) ${int(ta.perSec)}/s p50 ${us(ta.p50us)} µs p99 ${us(ta.p99us)} µs; (b) ${int(tb.perSec)}/s p50 ${us(tb.p50us)} µs p99 ${us(tb.p99us)} µs`);

// What (b) is made of, informational: the check as the decision point asks it, evaluate() alone
// (precomputed risk, no decision record), and the risk assessment alone.
const ctx = { current_time: new Date(NOW).toISOString() };
const explainReqs = checkReqs.map((q) => ({ ...q, context: ctx, explain: true }));
const risks: RiskAssessment[] = reqs.map((r) => risk.assessor.assessNow(r, NOW)!);
const breakdownMs = Math.round(Math.max(3000, runMs / 3));
log(`measuring the breakdown for ${ms(breakdownMs)}…`);
const [tExplain, tEval, tRisk, tApplicable] = measureSideBySide(
  [
    { key: "checkExplain", fn: (i) => policy.checkNow(storeId, explainReqs[i]!)!.allowed, count: reqs.length },
    { key: "evaluate", fn: (i) => evaluate(set, reqs[i]!, risks[i]!, NOW, hooks).decision, count: reqs.length },
    { key: "risk", fn: (i) => risk.assessor.assessNow(reqs[i]!, NOW)!.score >= 0, count: reqs.length },
    { key: "applicable", fn: (i) => applicablePolicies(set, reqs[i]!).length, count: reqs.length },
  ],
  { warmupMs: 500, runMs: breakdownMs, rounds: 6, batch: 64, latencyMs: 1000, latBatch: LAT_BATCH },
) as [OpTiming, OpTiming, OpTiming, OpTiming];

// --- report ---------------------------------------------------------------------------------------

const costRatio = ta.perSec / tb.perSec;
const p50Ratio = tb.p50us / ta.p50us;
const cpuRatio = ta.perCpuSec / tb.perCpuSec;
const totalMs = elapsedMs(benchStart);
const cpus = os.cpus();
const env = `Node ${process.version}, ${cpus[0]?.model.trim() ?? "unknown CPU"} (${cpus.length} cores, load avg ${os.loadavg()[0]!.toFixed(2)}), single thread`;

const targets = [
  { name: `full decision ≤ ${TARGET.ratio}× a bare relationship check (throughput cost, same run)`, measured: `${ratio(costRatio)} (by CPU time ${ratio(cpuRatio)})`, ok: costRatio <= TARGET.ratio },
  { name: `≥ ${int(TARGET.decisionsPerSec)} decisions/s in-process on one core`, measured: `${int(tb.perSec)} (${int(tb.perCpuSec)} per CPU-s)`, ok: tb.perSec >= TARGET.decisionsPerSec },
  { name: "decideNow = evaluate() and checkNow = policy.check = fresh Engine on the verified sample", measured: `${totalMismatches} wrong of ${int(VERIFY * 3)}`, ok: totalMismatches === 0 },
];

const row = (name: string, what: string, t: OpTiming, cost: string): string[] => [name, what, int(t.perSec), `${int(t.minPerSec)}–${int(t.maxPerSec)}`, int(t.perCpuSec), us(t.p50us), us(t.p99us), cost];
const out: string[] = [];
out.push("## Access-decision benchmark");
out.push("");
out.push(
  `${env}. ${int(rel.tuples.length)} tuples (${int(USERS)} users, ${int(GROUPS)} groups, ${int(FOLDERS)} folders, ${int(DOCS)} documents) in one MemoryDatastore-backed PolicyService store; ${int(set.policies.length)} access policies (${int(gen.rules)} rules: ${gen.documentPolicies} on documents or every type, ${gen.routePolicies} on routes, ${int(gen.appPolicies)} over ${[...set.byType.keys()].filter((k) => k !== "document" && k !== "*").length} other resource types); risk: ${risk.description}. ${int(reqs.length)} distinct requests cycled in order. (a) and (b) ran in ${10} alternating rounds of ${ms(runMs / 20)} each; ops/s is the median round (range in the next column); latencies are per call from samples of ${LAT_BATCH} consecutive calls (hrtime pair ≈ ${us(timerUs)} µs per sample, included).`,
);
out.push("");
out.push(
  table(
    ["Case", "What", "Ops/s", "Round range", "Ops/CPU-s", "p50 µs", "p99 µs", "Cost ÷ (a)"],
    [
      row("(a) bare check", '`policy.checkNow(store, {object, relation: "viewer", user})`', ta, "1.0×"),
      row("(b) full decision", "`decisionPoint.decideNow(store, req)`: policies + risk + `check(\"viewer\")` + decision record", tb, ratio(costRatio)),
      row("(a′) check as (b) asks it", "(a) with `explain: true` and a `current_time` context", tExplain, ratio(ta.perSec / tExplain.perSec)),
      row("(c) evaluate() alone", "`evaluate(set, req, risk, now, hooks)` with a precomputed risk: no risk assessment, no decision record", tEval, ratio(ta.perSec / tEval.perSec)),
      row("(d) risk alone", "`EngineRiskAssessor.assessNow(...)`: history cache + `RiskEngine.assess`", tRisk, ratio(ta.perSec / tRisk.perSec)),
      row("(e) policy selection alone", "`applicablePolicies(set, req)`: the type index, then target matching (incl. every route policy)", tApplicable, ratio(ta.perSec / tApplicable.perSec)),
    ],
    ["l", "l", "r", "r", "r", "r", "r", "r"],
  ),
);
out.push("");
out.push(`(a′), (c), (d) and (e) were measured side by side after (a) and (b), for ${ms(breakdownMs)}; their ratios compare with (a)'s rate from the first run. p50 ratio (b)/(a): ${ratio(p50Ratio)}; cost ratio by CPU time: ${ratio(cpuRatio)}. Ops/CPU-s divides by this process's CPU time (GC threads included) instead of wall time; the process got ${Math.round(100 * ta.cpuShare)}% / ${Math.round(100 * tb.cpuShare)}% of a core during (a) / (b)${Math.min(ta.cpuShare, tb.cpuShare) < 0.9 ? ": other processes competed for the CPU, so wall-time rates are low and noisy" : ""}.`);
out.push("");
out.push("### Decisions over the request pool");
out.push("");
out.push(
  table(
    ["Decision", "Requests", "Share"],
    [
      ["allow", int(mix.allow), share(mix.allow)],
      ["deny", int(mix.deny), share(mix.deny)],
      ["challenge", int(mix.challenge), share(mix.challenge)],
      ["pending (decideNow → undefined)", int(mix.pending), share(mix.pending)],
    ],
    ["l", "r", "r"],
  ),
);
out.push("");
out.push(
  `Relationship allowed (bare check): ${share(checkAllowed)}. Applicable policies per request: ${(applicableSum / reqs.length).toFixed(1)} (min ${applicableMin}, max ${applicableMax}). ` +
    `\`check()\` calls per decision: ${(checkCalls / Math.max(1, decided)).toFixed(2)} (max ${maxCheckCalls}), of which distinct (object, relation): ${(distinctCheckCalls / Math.max(1, decided)).toFixed(2)}. ` +
    `Risk levels: ${Object.entries(riskLevels).map(([k, v]) => `${k} ${share(v, Math.max(1, decided))}`).join(", ")}. ` +
    `Pending ones decided by \`decide()\` without just-in-time access: ${pendingAsync} deny.`,
);
out.push("");
out.push(`Set-up: tuples written in ${ms(tupleLoadMs)}; ${(gen.yamlBytes / 1024).toFixed(0)} KiB of policy YAML in ${gen.sources.length} files parsed in ${ms(parseMs)}, compiled in ${ms(compileMs)}, applied (validated again and stored) in ${ms(applyMs)}; decision point loaded (head + compile) in ${ms(dpLoadMs)}.`);
out.push(...targetsSection(targets, problems, totalMs));
console.log(out.join("\n"));

const round = (n: number, d = 2): number => (Number.isFinite(n) ? Math.round(n * 10 ** d) / 10 ** d : n);
const timingJson = (t: OpTiming): Record<string, unknown> => ({
  perSec: Math.round(t.perSec),
  minPerSec: Math.round(t.minPerSec),
  maxPerSec: Math.round(t.maxPerSec),
  roundPerSec: t.roundPerSec.map((x) => Math.round(x)),
  perCpuSec: Math.round(t.perCpuSec),
  cpuShare: round(t.cpuShare, 3),
  p50us: round(t.p50us, 3),
  p90us: round(t.p90us, 3),
  p99us: round(t.p99us, 3),
  maxUs: round(t.maxUs, 1),
  ops: t.ops,
  seconds: round(t.seconds, 3),
  latencySamples: t.samples,
});
const json = {
  ...machineJson("tenet-policy"),
  config: { policies: POLICIES, seconds: SECONDS, seed: SEED, requests: REQUESTS, latBatch: LAT_BATCH, verify: VERIFY },
  timerOverheadUs: round(timerUs, 3),
  data: { tuples: rel.tuples.length, mix: rel.counts, users: USERS, groups: GROUPS, folders: FOLDERS, documents: DOCS },
  policies: { count: set.policies.length, rules: gen.rules, documentPolicies: gen.documentPolicies, routePolicies: gen.routePolicies, appPolicies: gen.appPolicies, resourceTypes: set.byType.size, yamlBytes: gen.yamlBytes, files: gen.sources.length },
  setupMs: { tuples: round(tupleLoadMs, 1), parse: round(parseMs, 1), compile: round(compileMs, 1), apply: round(applyMs, 1), decisionPointLoad: round(dpLoadMs, 1) },
  risk: { engine: risk.engine, description: risk.description, levels: riskLevels },
  decisions: { ...mix, pendingDeniedByDecide: pendingAsync },
  relationshipAllowedShare: round(checkAllowed / reqs.length, 3),
  applicablePolicies: { mean: round(applicableSum / reqs.length), min: applicableMin, max: applicableMax },
  checkCallsPerDecision: { mean: round(checkCalls / Math.max(1, decided)), distinct: round(distinctCheckCalls / Math.max(1, decided)), max: maxCheckCalls },
  cases: { check: timingJson(ta), decision: timingJson(tb), checkExplain: timingJson(tExplain), evaluate: timingJson(tEval), risk: timingJson(tRisk), applicable: timingJson(tApplicable) },
  costRatio: round(costRatio, 3),
  cpuCostRatio: round(cpuRatio, 3),
  p50Ratio: round(p50Ratio, 3),
  mismatches: { check: checkMismatches, engine: engineMismatches, decision: decisionMismatches },
  problems,
  targets: targets.map((t) => ({ target: t.name, measured: t.measured, pass: t.ok })),
  totalMs: Math.round(totalMs),
  sink: sink & 1,
};
console.log(JSON.stringify(json));
