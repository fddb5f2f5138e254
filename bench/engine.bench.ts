/**
 * Engine benchmark: 1,000,000 generated tuples in one store under one model, then Check for
 * (a) direct grants, (b) RBAC through role#assignee, (c) 5-deep nested groups, (d) a 10-deep folder
 * hierarchy (tuple-to-userset), (e) a time-bound condition, and ListObjects (f) for users that
 * reach 1,000 objects; with cedar-wasm and casbin answering the same questions.
 *
 * Run: npm run bench:engine   (node --expose-gc dist/bench/engine.bench.js)
 * Tunables (env): BENCH_RUN_MS (default 1500), BENCH_WARMUP_MS (300), BENCH_PEER_MS (2000),
 * BENCH_LATENCY_MS (300), BENCH_SEED (42), BENCH_CASBIN_DOCS (1000).
 *
 * Prints a markdown report, then one JSON line with every number. Never exits non-zero on a
 * missed target (only on a crash).
 */
import os from "node:os";
import { Engine } from "../src/policy/engine/engine.js";
import { TypeSystem } from "../src/policy/model/typesystem.js";
import type { TupleKey } from "../src/policy/tuples/tuple.js";
import { LO_REACHABLE, LO_USERS, Layout, MODEL_DSL, NOW, TOTAL_TUPLES, listObjectsExpected } from "./engine/dataset.js";
import { elapsedMs, gc, hasGc, measure, now, sink, timerOverheadUs, type MeasureOptions, type Timing } from "./engine/measure.js";
import { casbinSetup, cedarAllowed, cedarFolderCalls, cedarRbacCalls, cedarSetup, cedarVersion } from "./engine/peers.js";
import { QUERIES, condQueries, directQueries, folderGrantsByUser, folderQueries, groupQueries, rbacQueries, roleMembers, type Query } from "./engine/queries.js";
import { int, machineJson, ms, ratio, table, us, verdict } from "./engine/report.js";

const envNum = (name: string, dflt: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};
const RUN_MS = envNum("BENCH_RUN_MS", 1500);
const WARMUP_MS = envNum("BENCH_WARMUP_MS", 300);
const PEER_MS = envNum("BENCH_PEER_MS", 2000);
const LATENCY_MS = envNum("BENCH_LATENCY_MS", 300);
const SEED = envNum("BENCH_SEED", 42);
const CASBIN_DOCS = envNum("BENCH_CASBIN_DOCS", 1000);

const TARGET = {
  directPerSec: 1_000_000,
  deepPerSec: 200_000,
  p99us: 50,
  loadMs: 10_000,
  bytesPerTuple: 300,
  cedarRbacRatio: 20,
};

const ROUNDS = 5;
const checkOpts: MeasureOptions = { warmupMs: WARMUP_MS, runMs: RUN_MS, rounds: ROUNDS, latencyMs: LATENCY_MS, latencySamples: 50_000, batch: 256 };
const peerOpts: MeasureOptions = { warmupMs: WARMUP_MS, runMs: PEER_MS, rounds: ROUNDS, latencyMs: LATENCY_MS, latencySamples: 20_000, batch: 16 };
const listOpts: MeasureOptions = { warmupMs: WARMUP_MS, runMs: RUN_MS, rounds: ROUNDS, latencyMs: LATENCY_MS, latencySamples: 2_000, batch: 1 };

const log = (msg: string): void => {
  process.stderr.write(`[bench] ${msg}\n`);
};

const benchStart = now();
if (!hasGc()) log("warning: run with --expose-gc for meaningful memory numbers");

// --- load -----------------------------------------------------------------------------------------

const ts = TypeSystem.from(MODEL_DSL);
const engine = new Engine();
const layout = new Layout();

gc();
const memBefore = process.memoryUsage();
const CHUNK = 65_536;
const chunk: TupleKey[] = [];
let addNs = 0n;
let added = 0;
const flush = (): void => {
  const s = now();
  for (let k = 0; k < chunk.length; k++) if (engine.index.add(chunk[k]!)) added++;
  addNs += now() - s;
  chunk.length = 0;
};
const loadWallStart = now();
layout.generate((t) => {
  chunk.push(t);
  if (chunk.length === CHUNK) flush();
});
flush();
const loadWallMs = elapsedMs(loadWallStart);
const loadMs = Number(addNs) / 1e6;
if (engine.index.size !== TOTAL_TUPLES || added !== TOTAL_TUPLES) {
  throw new Error(`expected ${TOTAL_TUPLES} tuples in the store, have ${engine.index.size} (${added} added)`);
}
gc();
const memAfter = process.memoryUsage();
const heapPerTuple = (memAfter.heapUsed - memBefore.heapUsed) / TOTAL_TUPLES;
const rssPerTuple = (memAfter.rss - memBefore.rss) / TOTAL_TUPLES;
log(`loaded ${int(TOTAL_TUPLES)} tuples: index.add ${ms(loadMs)}, generate+add ${ms(loadWallMs)}, heap ${heapPerTuple.toFixed(0)} B/tuple, rss ${rssPerTuple.toFixed(0)} B/tuple`);

// --- Tenet cases ----------------------------------------------------------------------------------

interface CaseResult {
  key: string;
  name: string;
  question: string;
  timing: Timing;
  allowedShare: number;
  mismatches: number;
}

const results: CaseResult[] = [];
const timerUs = timerOverheadUs();

function checkFn(qs: Query[]): (i: number) => boolean {
  const reqs = qs.map((q) => ({ object: q.object, relation: q.relation, user: q.user }));
  return (i) => engine.check(ts, reqs[i]!).allowed;
}

/** Case (e): every request brings its own context object, as a parsed request body would. */
function condCheckFn(qs: Query[]): (i: number) => boolean {
  return (i) => {
    const q = qs[i]!;
    return engine.check(ts, { object: q.object, relation: q.relation, user: q.user, context: { current_time: NOW } }).allowed;
  };
}

function verify(qs: Query[], fn: (i: number) => boolean, limit = qs.length): number {
  let bad = 0;
  for (let i = 0; i < Math.min(limit, qs.length); i++) if (fn(i) !== qs[i]!.expected) bad++;
  return bad;
}

function runCase(key: string, name: string, question: string, qs: Query[], fn: (i: number) => boolean): CaseResult {
  const mismatches = verify(qs, fn);
  if (mismatches) log(`${key}: ${mismatches} of ${qs.length} answers differ from the expected ones`);
  const timing = measure(fn, qs.length, checkOpts);
  const r: CaseResult = { key, name, question, timing, allowedShare: qs.filter((q) => q.expected).length / qs.length, mismatches };
  results.push(r);
  log(`${key} ${name}: ${int(timing.perSec)}/s p50 ${us(timing.p50us)} µs p99 ${us(timing.p99us)} µs`);
  return r;
}

const members = roleMembers();
const qa = directQueries(layout, SEED + 1);
const qb = rbacQueries(SEED + 2, members);
const qc = groupQueries(SEED + 3);
const qd = folderQueries(SEED + 4);
const qe = condQueries(SEED + 5);

const ra = runCase("a", "direct", "doc:d#viewer@user", qa, checkFn(qa));
const rb = runCase("b", "RBAC", "doc:r#viewer ← role#assignee ← user", qb, checkFn(qb));
const rc = runCase("c", "nested groups (5 deep)", "doc:g#viewer ← g1#member ← … ← g5#member ← user", qc, checkFn(qc));
const rd = runCase("d", "folders (10 deep, TTU)", "doc:f#viewer ← viewer from parent ×10 ← user", qd, checkFn(qd));
const re = runCase("e", "time-bound condition", "doc:c#viewer@user with non_expired_grant", qe, condCheckFn(qe));

// (a) again on a small hot set of keys, to show how much of the cost is cache misses (informational).
const HOT_KEYS = 256;
const hot = measure(checkFn(qa.slice(0, HOT_KEYS)), HOT_KEYS, { ...checkOpts, runMs: Math.min(RUN_MS, 1000), latencyMs: 100 });
log(`a (hot ${HOT_KEYS} keys): ${int(hot.perSec)}/s p50 ${us(hot.p50us)} µs p99 ${us(hot.p99us)} µs`);

// (f) ListObjects
const loUsers = Array.from({ length: LO_USERS }, (_, n) => `user:lo${n}`);
let loMismatch = 0;
loUsers.forEach((u, n) => {
  const got = new Set(engine.listObjects(ts, { type: "doc", relation: "viewer", user: u }));
  const want = listObjectsExpected(n);
  if (got.size !== LO_REACHABLE || want.length !== LO_REACHABLE || !want.every((d) => got.has(d))) loMismatch++;
});
if (loMismatch) log(`f: ${loMismatch} ListObjects answers differ from the expected ${LO_REACHABLE} objects`);
const loTiming = measure((i) => engine.listObjects(ts, { type: "doc", relation: "viewer", user: loUsers[i]! }).length === LO_REACHABLE, LO_USERS, listOpts);
log(`f ListObjects: ${int(loTiming.perSec)}/s p50 ${us(loTiming.p50us)} µs p99 ${us(loTiming.p99us)} µs`);

// --- peers ----------------------------------------------------------------------------------------

interface PeerResult {
  peer: string;
  question: string;
  tenetPerSec: number;
  timing: Timing;
  ratio: number;
  mismatches: number;
  input: string;
}
const peers: PeerResult[] = [];

cedarSetup();
const CEDAR_VERIFY = 2048;
{
  const calls = cedarRbacCalls(qb);
  const fn = (i: number): boolean => cedarAllowed(calls[i]!);
  const mismatches = verify(qb, fn, CEDAR_VERIFY);
  const timing = measure(fn, calls.length, peerOpts);
  peers.push({
    peer: `cedar-wasm ${cedarVersion()}`,
    question: "(b) RBAC",
    tenetPerSec: rb.timing.perSec,
    timing,
    ratio: rb.timing.perSec / timing.perSec,
    mismatches,
    input: "User (parents: its 1–2 Roles) + those Roles + Doc (attr viewerRoles: 1–2 Roles); 3–5 entities per call",
  });
  log(`cedar RBAC: ${int(timing.perSec)}/s`);
}
{
  const calls = cedarFolderCalls(qd, folderGrantsByUser());
  const fn = (i: number): boolean => cedarAllowed(calls[i]!);
  const mismatches = verify(qd, fn, CEDAR_VERIFY);
  const timing = measure(fn, calls.length, peerOpts);
  peers.push({
    peer: `cedar-wasm ${cedarVersion()}`,
    question: "(d) folders 10 deep",
    tenetPerSec: rd.timing.perSec,
    timing,
    ratio: rd.timing.perSec / timing.perSec,
    mismatches,
    input: "User (attr viewableFolders: its direct folder grants) + Doc (parent: leaf folder) + the 10 Folders up to the root; 12 entities per call",
  });
  log(`cedar folders: ${int(timing.perSec)}/s`);
}
let casbinInfo = { policies: 0, groupings: 0, loadMs: 0 };
{
  const cb = await casbinSetup(CASBIN_DOCS);
  casbinInfo = { policies: cb.policies, groupings: cb.groupings, loadMs: Math.round(cb.loadMs) };
  const qs = rbacQueries(SEED + 6, members, CASBIN_DOCS);
  const enforcer = cb.enforcer;
  const fn = (i: number): boolean => enforcer.enforceSync(qs[i]!.user, qs[i]!.object, "viewer");
  const mismatches = verify(qs, fn, 1024);
  const timing = measure(fn, qs.length, peerOpts);
  // Tenet on exactly the same queries (its store still holds all 1M tuples).
  const tenet = measure(checkFn(qs), qs.length, { ...checkOpts, runMs: Math.min(RUN_MS, 1000), latencyMs: 50 });
  peers.push({
    peer: "casbin 5.51",
    question: "(b) RBAC",
    tenetPerSec: tenet.perSec,
    timing,
    ratio: tenet.perSec / timing.perSec,
    mismatches,
    input: `${int(cb.policies)} p rules (role, doc, viewer) for doc:r0..r${CASBIN_DOCS - 1} + ${int(cb.groupings)} g rules (user, role); matcher r.obj == p.obj && r.act == p.act && g(r.sub, p.sub)`,
  });
  log(`casbin RBAC: ${int(timing.perSec)}/s (${cb.policies} p rules, ${cb.groupings} g rules, loaded in ${ms(cb.loadMs)})`);
}

// --- report ---------------------------------------------------------------------------------------

const totalMs = elapsedMs(benchStart);
const cpus = os.cpus();
const env = `Node ${process.version}, ${cpus[0]?.model.trim() ?? "unknown CPU"} (${cpus.length} cores, load avg ${os.loadavg()[0]!.toFixed(2)}), single thread`;

interface TargetRow {
  name: string;
  measured: string;
  ok: boolean;
}
const targets: TargetRow[] = [
  { name: "(a) direct ≥ 1,000,000 checks/s", measured: int(ra.timing.perSec), ok: ra.timing.perSec >= TARGET.directPerSec },
  { name: "(c) nested groups ≥ 200,000 checks/s", measured: int(rc.timing.perSec), ok: rc.timing.perSec >= TARGET.deepPerSec },
  { name: "(d) folders ≥ 200,000 checks/s", measured: int(rd.timing.perSec), ok: rd.timing.perSec >= TARGET.deepPerSec },
  ...[ra, rb, rc, rd, re].map((r) => ({ name: `(${r.key}) p99 ≤ ${TARGET.p99us} µs`, measured: `${us(r.timing.p99us)} µs`, ok: r.timing.p99us <= TARGET.p99us })),
  { name: `load 1M tuples ≤ ${TARGET.loadMs / 1000} s`, measured: ms(loadMs), ok: loadMs <= TARGET.loadMs },
  { name: `≤ ${TARGET.bytesPerTuple} bytes/tuple (heapUsed)`, measured: `${heapPerTuple.toFixed(0)} B`, ok: heapPerTuple <= TARGET.bytesPerTuple },
  { name: `≤ ${TARGET.bytesPerTuple} bytes/tuple (RSS)`, measured: `${rssPerTuple.toFixed(0)} B`, ok: rssPerTuple <= TARGET.bytesPerTuple },
  { name: `RBAC ≥ ${TARGET.cedarRbacRatio}× cedar-wasm`, measured: ratio(peers[0]!.ratio), ok: peers[0]!.ratio >= TARGET.cedarRbacRatio },
  {
    name: "every answer as expected",
    measured: `${results.reduce((a, r) => a + r.mismatches, 0) + loMismatch + peers.reduce((a, p) => a + p.mismatches, 0)} wrong`,
    ok: results.every((r) => r.mismatches === 0) && loMismatch === 0 && peers.every((p) => p.mismatches === 0),
  },
];

const out: string[] = [];
out.push("## Engine benchmark");
out.push("");
out.push(`${env}. ${int(TOTAL_TUPLES)} tuples in one store, one model (\`bench/engine/dataset.ts\`). Each case cycles through ${int(QUERIES)} seeded random queries drawn from the whole data set (≈50% allowed) for ${RUN_MS} ms after a ${WARMUP_MS} ms warm-up; ops/s is the median of ${ROUNDS} equal rounds, p50/p99 come from individually timed calls (hrtime overhead ≈ ${us(timerUs)} µs included).`);
out.push("");
out.push("### Load");
out.push("");
out.push(
  table(
    ["Tuples", "Load (index.add)", "Generate + load", "Heap / tuple", "RSS / tuple", "Heap after load"],
    [[int(TOTAL_TUPLES), ms(loadMs), ms(loadWallMs), `${heapPerTuple.toFixed(0)} B`, `${rssPerTuple.toFixed(0)} B`, `${(memAfter.heapUsed / 2 ** 20).toFixed(0)} MiB`]],
  ),
);
out.push("");
out.push(`Mix: ${Object.entries(layout.counts).map(([k, v]) => `${k} ${int(v)}`).join(", ")}.`);
out.push("");
out.push("### Check and ListObjects");
out.push("");
out.push(
  table(
    ["Case", "Question", "Ops/s", "p50 µs", "p99 µs", "Allowed", "Target"],
    [
      ...results.map((r) => {
        const tput = r.key === "a" ? TARGET.directPerSec : r.key === "c" || r.key === "d" ? TARGET.deepPerSec : 0;
        const tgt = [tput ? `≥ ${int(tput)}/s ${verdict(r.timing.perSec >= tput)}` : "", `p99 ≤ ${TARGET.p99us} µs ${verdict(r.timing.p99us <= TARGET.p99us)}`].filter(Boolean).join(", ");
        return [`(${r.key}) ${r.name}`, `\`${r.question}\``, int(r.timing.perSec), us(r.timing.p50us), us(r.timing.p99us), `${Math.round(r.allowedShare * 100)}%`, tgt];
      }),
      [`(a′) direct, hot keys`, `same as (a), ${HOT_KEYS} distinct queries (cache-resident; informational)`, int(hot.perSec), us(hot.p50us), us(hot.p99us), `${Math.round((qa.slice(0, HOT_KEYS).filter((q) => q.expected).length / HOT_KEYS) * 100)}%`, "—"],
      [`(f) ListObjects`, `\`doc#viewer\` for a user reaching ${int(LO_REACHABLE)} docs (direct, role, group, folder)`, int(loTiming.perSec), us(loTiming.p50us), us(loTiming.p99us), `${int(LO_REACHABLE)} objects`, "—"],
    ],
    ["l", "l", "r", "r", "r", "r", "l"],
  ),
);
out.push("");
out.push("### Peers (same questions, same data)");
out.push("");
out.push(
  table(
    ["Question", "Peer", "Tenet checks/s", "Peer checks/s", "Peer p50 µs", "Peer p99 µs", "Tenet ÷ peer", "Peer input"],
    peers.map((p) => [p.question, p.peer, int(p.tenetPerSec), int(p.timing.perSec), us(p.timing.p50us), us(p.timing.p99us), ratio(p.ratio), p.input]),
    ["l", "l", "r", "r", "r", "r", "r", "l"],
  ),
);
out.push("");
out.push(`Cedar policies are preparsed once (\`preparsePolicySet\`, \`statefulIsAuthorized\`); entities are serialised into wasm on every call, as in a real deployment. Casbin's enforce scans every \`p\` rule, so it gets ${int(casbinInfo.policies)} of them (the RBAC grants of ${int(CASBIN_DOCS)} docs; loaded in ${ms(casbinInfo.loadMs)}); Tenet's number in that row is measured on the same ${int(QUERIES)} queries against its full 1M-tuple store.`);
out.push("");
out.push("### Targets");
out.push("");
out.push(table(["Target", "Measured", "Result"], targets.map((t) => [t.name, t.measured, verdict(t.ok)]), ["l", "r", "l"]));
out.push("");
out.push(`Total benchmark time ${ms(totalMs)}.`);
console.log(out.join("\n"));

const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d;
const timingJson = (t: Timing): Record<string, number> => ({
  perSec: Math.round(t.perSec),
  minPerSec: Math.round(t.minPerSec),
  maxPerSec: Math.round(t.maxPerSec),
  p50us: round(t.p50us, 3),
  p99us: round(t.p99us, 3),
  maxUs: round(t.maxUs, 1),
  ops: t.ops,
  seconds: round(t.seconds, 3),
  latencySamples: t.samples,
});
const json = {
  ...machineJson("tenet-engine"),
  config: { runMs: RUN_MS, warmupMs: WARMUP_MS, peerMs: PEER_MS, latencyMs: LATENCY_MS, seed: SEED, queriesPerCase: QUERIES, casbinDocs: CASBIN_DOCS },
  timerOverheadUs: round(timerUs, 3),
  load: {
    tuples: TOTAL_TUPLES,
    mix: layout.counts,
    indexAddMs: round(loadMs, 1),
    generateAndAddMs: round(loadWallMs, 1),
    heapBytesPerTuple: round(heapPerTuple, 1),
    rssBytesPerTuple: round(rssPerTuple, 1),
    heapUsedAfterMiB: round(memAfter.heapUsed / 2 ** 20, 1),
    rssAfterMiB: round(memAfter.rss / 2 ** 20, 1),
  },
  cases: Object.fromEntries([
    ...results.map((r) => [r.key, { name: r.name, ...timingJson(r.timing), allowedShare: round(r.allowedShare, 3), mismatches: r.mismatches }]),
    ["aHot", { name: `direct, ${HOT_KEYS} hot keys`, ...timingJson(hot) }],
    ["f", { name: "ListObjects", objects: LO_REACHABLE, ...timingJson(loTiming), mismatches: loMismatch }],
  ]),
  peers: peers.map((p) => ({ peer: p.peer, question: p.question, tenetPerSec: Math.round(p.tenetPerSec), ...timingJson(p.timing), ratio: round(p.ratio, 1), mismatches: p.mismatches, input: p.input })),
  casbin: casbinInfo,
  targets: targets.map((t) => ({ target: t.name, measured: t.measured, pass: t.ok })),
  totalMs: Math.round(totalMs),
  sink: sink & 1,
};
console.log(JSON.stringify(json));
