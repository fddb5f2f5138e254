/**
 * Audit log benchmark (issue 6): how many access decisions per second the decision point can
 * record in the tamper-evident audit log, and how long verifying a large log takes.
 *
 * Targets: ≥ 20,000 audited decisions/s on SQLite on this machine; verifying 1,000,000 entries
 * in ≤ 10 s.
 *
 * 1. Appends/s through `AuditLog` (the audit plane of src/audit/setup.ts, checkpoint every 1,000
 *    entries, SQLite with synchronous=FULL as `tenet serve` opens it, and PostgreSQL): access-
 *    decision events (OCSF, from real decisions, each with a fresh decision id and one of several
 *    API origins) appended by `inFlight` concurrent callers, each appending again as soon as its
 *    last append resolved (bench/audit/load.ts). Appends/s, mean batch (group commit), checkpoints
 *    signed, and latency from the `append()` call to its resolution.
 * 2. Audited decisions/s on SQLite: `AccessDecisionPoint.decide(store, req, origin)` wired as
 *    src/app/assemble.ts wires it (risk engine, zones, the audit recorder), over ~50,000 tuples
 *    and generated access policies in the same SQLite datastore, against the same decide() without
 *    the audit recorder, in alternating rounds of the same run.
 * 3. `verifyAuditLog` over a log of BENCH_VERIFY_ENTRIES entries (filled by the same appends;
 *    the fill time is reported apart), on SQLite and PostgreSQL: seconds, entries/s, and that the
 *    report is ok.
 *
 * Run: npm run bench:audit   (node dist/bench/audit.bench.js)
 * Tunables (env): BENCH_SECONDS (10: measured time of each append case and, split over
 * alternating rounds, of each decision mode), BENCH_IN_FLIGHT (256,1024: concurrency levels),
 * BENCH_VERIFY_ENTRIES (1000000), BENCH_FILL_IN_FLIGHT (4000), BENCH_CHECKPOINT_EVERY (1000),
 * BENCH_POLICIES (100), BENCH_REQUESTS (4096), BENCH_SEED (42), BENCH_ONLY (comma list of
 * appends, decisions, verify; default all), BENCH_PG (0 to skip PostgreSQL), BENCH_PG_URL or
 * TENET_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test; a fresh schema is
 * created and dropped), BENCH_DIR (parent of the temporary SQLite data directories; default the
 * OS temp dir), BENCH_KEEP=1 (keep them).
 *
 * Prints a markdown report, then one JSON line with every number. Never exits non-zero on a
 * missed target (only on a crash).
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import type { AuditPlane } from "../src/audit/setup.js";
import { verifyAuditLog, type VerifyReport } from "../src/audit/verify.js";
import type { Datastore } from "../src/storage/interfaces.js";
import { MemoryDatastore } from "../src/storage/memory/memory-datastore.js";
import { openDatastore, SQLITE_FILE_NAME } from "../src/storage/open.js";
import { PostgresDatastore } from "../src/storage/postgres/postgres-datastore.js";
import { buildWorld, decisionPoint, ORIGINS, type DecisionWorld } from "./audit/decisions.js";
import { closedLoop, combine, percentile, type LoadResult } from "./audit/load.js";
import { createSchema, describe as describeUrl, dropSchema, PG_URL, pgQuery, pgSettings, pgUnavailable } from "./storage/pg.js";
import { countCheckpoints, decisionAppender, eventSizes, fillTo, openPlane, type PooledDecision } from "./audit/plane.js";
import { int, ms, ratio, table, targetsSection } from "./engine/report.js";

const envNum = (name: string, dflt: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};
const envList = (name: string, dflt: number[]): number[] => {
  const v = (process.env[name] ?? "")
    .split(",")
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
  return v.length > 0 ? v : dflt;
};
const SECONDS = envNum("BENCH_SECONDS", 10);
const IN_FLIGHT = envList("BENCH_IN_FLIGHT", [256, 1024]);
const VERIFY_ENTRIES = Math.floor(envNum("BENCH_VERIFY_ENTRIES", 1_000_000));
const FILL_IN_FLIGHT = Math.floor(envNum("BENCH_FILL_IN_FLIGHT", 4000));
const CHECKPOINT_EVERY = Math.floor(envNum("BENCH_CHECKPOINT_EVERY", 1000));
const POLICIES = Math.floor(envNum("BENCH_POLICIES", 100));
const REQUESTS = Math.floor(envNum("BENCH_REQUESTS", 4096));
const SEED = Math.floor(envNum("BENCH_SEED", 42));
const PARTS = new Set((process.env.BENCH_ONLY ?? "appends,decisions,verify").split(",").map((s) => s.trim()));
const USE_PG = process.env.BENCH_PG !== "0";
const KEEP = process.env.BENCH_KEEP === "1";
/** Every append case and decision mode is preceded by this much unmeasured load. */
const WARMUP_MS = 1000;
/** Largest batch while filling for verification (group commit also ends a batch at each checkpoint). */
const FILL_MAX_BATCH = 5000;

const TARGET = { decisionsPerSec: 20_000, verifyEntries: 1_000_000, verifySeconds: 10 };

const log = (msg: string): void => {
  process.stderr.write(`[bench] ${msg}\n`);
};
const benchStart = performance.now();
const problems: string[] = [];
const tmpRoot = process.env.BENCH_DIR || os.tmpdir();
const dirs: string[] = [];
const tempDir = (what: string): string => {
  const d = mkdtempSync(join(tmpRoot, `tenet-bench-audit-${what}-`));
  dirs.push(d);
  return d;
};
const lat = (n: number): string => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : int(n)) : "n/a");

// --- machine --------------------------------------------------------------------------------------

const cpus = os.cpus();
const machine = {
  node: process.version,
  cpu: cpus[0]?.model.trim() ?? "unknown CPU",
  cores: cpus.length,
  loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  memGiB: Math.round(os.totalmem() / 2 ** 30),
  /** Node flags of this run (`npm run bench:audit` passes the ones bin/tenet.js gives `tenet serve`). */
  nodeFlags: process.execArgv.join(" "),
};
log(`${machine.node}, ${machine.cpu}, ${machine.cores} cores, load ${machine.loadavg.join(" ")}`);

// --- PostgreSQL -----------------------------------------------------------------------------------

let pgSkip: string | undefined = USE_PG ? await pgUnavailable() : "BENCH_PG=0";
let pgSchema: string | undefined;
let pgDs: Datastore | undefined;
let pgConfig: Record<string, string> = {};
if (pgSkip === undefined && (PARTS.has("appends") || PARTS.has("verify"))) {
  try {
    pgSchema = await createSchema();
    pgDs = await PostgresDatastore.open({ connectionString: PG_URL, schema: pgSchema });
    pgConfig = await pgSettings();
    log(`PostgreSQL ${describeUrl(PG_URL)} schema ${pgSchema}: ${JSON.stringify(pgConfig)}`);
  } catch (err) {
    pgSkip = `${describeUrl(PG_URL)}: ${(err as Error).message}`;
  }
}
if (pgSkip !== undefined) log(`PostgreSQL skipped: ${pgSkip}`);

// --- the decisions: relationships, policies, requests ---------------------------------------------

// The decision benchmark's world lives in its own SQLite datastore with its own audit log (the
// set-up's tuple writes and policy apply are recorded in it, as `tenet serve` records them).
// Without that part, a memory datastore only provides the decisions the append cases record.
const worldDir = tempDir("decisions");
const worldDs: Datastore = PARTS.has("decisions") ? await openDatastore({ dataDir: worldDir }) : new MemoryDatastore();
const worldPlane: AuditPlane | undefined = PARTS.has("decisions") ? await openPlane(worldDs, worldDir, { checkpointEvery: CHECKPOINT_EVERY }) : undefined;
const t0 = performance.now();
const world: DecisionWorld = await buildWorld(worldDs, { seed: SEED, policies: POLICIES, requests: REQUESTS, changes: worldPlane?.changes });
log(`decisions world on ${worldDs.kind}: ${int(world.tuples)} tuples (${ms(world.setupMs.tuples)}), ${world.policyCount} policies / ${world.rules} rules (${ms(world.setupMs.policies)}), ${world.requests.length} requests; risk: ${world.risk.description}`);
const plainPdp = decisionPoint(world);
const pool: PooledDecision[] = [];
const mix: Record<string, number> = { allow: 0, deny: 0, challenge: 0, pending: 0 };
for (const req of world.requests) {
  const decision = await plainPdp.decide(world.storeId, req);
  mix[decision.decision] = (mix[decision.decision] ?? 0) + 1;
  pool.push({ decision, req });
}
const setupMs = performance.now() - t0;
log(`decision pool: ${JSON.stringify(mix)} (${ms(setupMs)} set-up)`);

// --- 1. appends/s ---------------------------------------------------------------------------------

interface AppendCase {
  backend: "sqlite" | "postgres";
  load: LoadResult;
  entries: number;
  batches: number;
  checkpoints: number;
}
const appendCases: AppendCase[] = [];
const eventBytes: Record<string, { mean: number; min: number; max: number; n: number }> = {};

async function appendCases1(backend: "sqlite" | "postgres", ds: Datastore, dataDir: string): Promise<void> {
  const plane = await openPlane(ds, dataDir, { checkpointEvery: CHECKPOINT_EVERY });
  const append = decisionAppender(plane, pool);
  try {
    for (const inFlight of IN_FLIGHT) {
      const before = plane.log.status();
      log(`${backend}: appends with ${inFlight} in flight for ${SECONDS} s…`);
      const load = await closedLoop(append, { inFlight, ms: SECONDS * 1000, warmupMs: WARMUP_MS });
      const after = plane.log.status();
      const c: AppendCase = { backend, load, entries: after.size - before.size, batches: after.batches - before.batches, checkpoints: await countCheckpoints(ds, before.size, after.size) };
      appendCases.push(c);
      if (load.failed > 0) problems.push(`${backend}, ${inFlight} in flight: ${load.failed} appends rejected (first: ${load.firstError})`);
      if (c.entries !== load.completed) problems.push(`${backend}, ${inFlight} in flight: the log grew by ${c.entries} entries for ${load.completed} resolved appends`);
      log(`  ${int(load.perSec)}/s, mean batch ${(c.entries / c.batches).toFixed(0)}, p50 ${lat(percentile(load.latencies, 50))} ms, p99 ${lat(percentile(load.latencies, 99))} ms`);
    }
    eventBytes[backend] = await eventSizes(ds, 0, 2000);
  } finally {
    await plane.close();
  }
}

const sqliteDir = tempDir("log");
const sqliteDs = await openDatastore({ dataDir: sqliteDir });

// --- 2. audited decisions/s on SQLite -------------------------------------------------------------

interface DecisionCase {
  inFlight: number;
  plain: LoadResult;
  audited: LoadResult;
  entries: number;
  batches: number;
}
const decisionCases: DecisionCase[] = [];
let unrecorded = 0;
if (PARTS.has("decisions") && worldPlane) {
  const auditedPdp = decisionPoint(world, worldPlane.decisions);
  const n = world.requests.length;
  const plainOp = (i: number) => plainPdp.decide(world.storeId, world.requests[i % n]!, ORIGINS[i % ORIGINS.length]);
  const auditedOp = (i: number) => auditedPdp.decide(world.storeId, world.requests[i % n]!, ORIGINS[i % ORIGINS.length]);
  await auditedPdp.decide(world.storeId, world.requests[0]!, { via: "bench" });
  const ROUNDS = 2;
  for (const inFlight of IN_FLIGHT) {
    const plain: LoadResult[] = [];
    const audited: LoadResult[] = [];
    let entries = 0;
    let batches = 0;
    log(`decisions with ${inFlight} in flight: ${ROUNDS} alternating rounds of ${SECONDS / ROUNDS} s each, without and with audit…`);
    for (let r = 0; r < ROUNDS; r++) {
      plain.push(await closedLoop(plainOp, { inFlight, ms: (SECONDS * 1000) / ROUNDS, warmupMs: WARMUP_MS / 2 }));
      const before = worldPlane.log.status();
      const a = await closedLoop(auditedOp, { inFlight, ms: (SECONDS * 1000) / ROUNDS, warmupMs: WARMUP_MS / 2 });
      const after = worldPlane.log.status();
      audited.push(a);
      entries += after.size - before.size;
      batches += after.batches - before.batches;
      unrecorded += a.completed - (after.size - before.size);
    }
    const c: DecisionCase = { inFlight, plain: combine(plain), audited: combine(audited), entries, batches };
    decisionCases.push(c);
    for (const [mode, l] of [["without audit", c.plain] as const, ["audited", c.audited] as const]) {
      if (l.failed > 0) problems.push(`decisions ${mode}, ${inFlight} in flight: ${l.failed} failed (first: ${l.firstError})`);
    }
    log(`  without audit ${int(c.plain.perSec)}/s, audited ${int(c.audited.perSec)}/s (mean batch ${(entries / Math.max(1, batches)).toFixed(0)})`);
  }
  if (unrecorded !== 0) problems.push(`${unrecorded} audited decisions returned without a log entry (or entries without a decision)`);
  eventBytes.decisions = await eventSizes(worldDs, Math.max(0, worldPlane.log.size - 2000), 2000);
}
await worldPlane?.close();

// The append cases run after the decisions: they leave work behind that competes for the two
// cores for a while (PostgreSQL's checkpointer and autovacuum, the kernel writing back the
// SQLite files), which cost the decisions measured after them 10-20%.
if (PARTS.has("appends")) {
  await appendCases1("sqlite", sqliteDs, sqliteDir);
  if (pgDs) await appendCases1("postgres", pgDs, tempDir("pg"));
}

// --- 3. verification ------------------------------------------------------------------------------

interface VerifyCase {
  backend: "sqlite" | "postgres";
  fill: { appended: number; ms: number; batches: number };
  openMs: number;
  report: VerifyReport;
  seconds: number;
  bytesPerEntry: number;
}
const verifyCases: VerifyCase[] = [];

async function verifyCase(backend: "sqlite" | "postgres", ds: Datastore, dataDir: string, storedBytes: () => Promise<number>): Promise<void> {
  let t = performance.now();
  const plane = await openPlane(ds, dataDir, { checkpointEvery: CHECKPOINT_EVERY, maxBatch: FILL_MAX_BATCH, maxQueue: Math.max(100_000, FILL_IN_FLIGHT) });
  log(`${backend}: opened the log of ${int(plane.log.size)} entries in ${ms(performance.now() - t)}; filling to ${int(VERIFY_ENTRIES)} with ${FILL_IN_FLIGHT} in flight…`);
  const fill = await fillTo(plane, pool, VERIFY_ENTRIES, FILL_IN_FLIGHT, (size) => log(`  ${int(size)} entries`));
  await plane.close();
  log(`  filled ${int(fill.appended)} in ${ms(fill.ms)} (${int(fill.appended / (fill.ms / 1000))}/s, mean batch ${(fill.appended / Math.max(1, fill.batches)).toFixed(0)})`);
  // The start-up cost of a server over this log: the tree is rebuilt from the stored leaf hashes.
  t = performance.now();
  const reopened = await openPlane(ds, dataDir, { checkpointEvery: CHECKPOINT_EVERY });
  const openMs = performance.now() - t;
  await reopened.close();
  log(`${backend}: verifying ${int(plane.log.size)} entries…`);
  t = performance.now();
  const report = await verifyAuditLog(ds, plane.verifyNote);
  const seconds = (performance.now() - t) / 1000;
  log(`  ${report.ok ? "ok" : "NOT OK"}: ${int(report.entries)} entries, ${int(report.checkpoints)} checkpoints in ${seconds.toFixed(2)} s (${int(report.entries / seconds)}/s)`);
  if (!report.ok) problems.push(`${backend}: verify found ${report.problems.length} problems: ${report.problems.slice(0, 3).map((p) => p.message).join("; ")}`);
  if (report.entries !== VERIFY_ENTRIES && plane.log.size === VERIFY_ENTRIES) problems.push(`${backend}: verify read ${report.entries} entries of ${VERIFY_ENTRIES}`);
  const bytes = await storedBytes();
  verifyCases.push({ backend, fill, openMs, report, seconds, bytesPerEntry: bytes / Math.max(1, report.entries) });
}

if (PARTS.has("verify")) {
  const sqliteFile = join(sqliteDir, SQLITE_FILE_NAME);
  const fileSize = (f: string): number => {
    try {
      return statSync(f).size;
    } catch {
      return 0;
    }
  };
  await verifyCase("sqlite", sqliteDs, sqliteDir, async () => fileSize(sqliteFile) + fileSize(`${sqliteFile}-wal`));
  if (pgDs) {
    const schema = pgSchema!;
    await verifyCase("postgres", pgDs, tempDir("pg-verify"), async () => Number((await pgQuery(`SELECT pg_total_relation_size('${schema}.audit_entries') AS b`)).rows[0].b));
  }
}

// --- clean-up -------------------------------------------------------------------------------------

await sqliteDs.close();
await worldDs.close();
if (pgDs) await pgDs.close();
if (pgSchema) await dropSchema(pgSchema).catch((err) => problems.push(`could not drop schema ${pgSchema}: ${(err as Error).message}`));
if (!KEEP) for (const d of dirs) rmSync(d, { recursive: true, force: true });

// --- report ---------------------------------------------------------------------------------------

const totalMs = performance.now() - benchStart;
const bestAudited = decisionCases.reduce<DecisionCase | undefined>((b, c) => (b === undefined || c.audited.perSec > b.audited.perSec ? c : b), undefined);
const sqliteVerify = verifyCases.find((c) => c.backend === "sqlite");
const pgVerify = verifyCases.find((c) => c.backend === "postgres");
const verifyTarget = (c: VerifyCase | undefined, name: string) => {
  if (!c) return { name: `verify ${int(TARGET.verifyEntries)} entries in ≤ ${TARGET.verifySeconds} s on ${name}`, measured: "not run", ok: undefined };
  const per1M = (c.seconds * TARGET.verifyEntries) / Math.max(1, c.report.entries);
  const full = c.report.entries >= TARGET.verifyEntries;
  return {
    name: `verify ${int(TARGET.verifyEntries)} entries in ≤ ${TARGET.verifySeconds} s on ${name}`,
    measured: full ? `${c.seconds.toFixed(2)} s (${int(c.report.entries / c.seconds)} entries/s)` : `${c.seconds.toFixed(2)} s for ${int(c.report.entries)} (≈ ${per1M.toFixed(1)} s per 1M; run with 1M to judge)`,
    ok: full ? c.seconds <= TARGET.verifySeconds && c.report.ok : undefined,
  };
};
const targets = [
  {
    name: `≥ ${int(TARGET.decisionsPerSec)} audited decisions/s on SQLite (best in-flight level)`,
    measured: bestAudited ? `${int(bestAudited.audited.perSec)}/s at ${bestAudited.inFlight} in flight` : "not run",
    ok: bestAudited ? bestAudited.audited.perSec >= TARGET.decisionsPerSec : undefined,
  },
  verifyTarget(sqliteVerify, "SQLite"),
  verifyTarget(pgVerify, `PostgreSQL${pgSkip ? " (skipped)" : ""}`),
  {
    name: "every audited decision has its log entry; every verify report ok",
    measured: `${unrecorded} unrecorded; ${verifyCases.filter((c) => !c.report.ok).length} of ${verifyCases.length} reports not ok`,
    ok: decisionCases.length + verifyCases.length === 0 ? undefined : unrecorded === 0 && verifyCases.every((c) => c.report.ok),
  },
];

const pct = (l: LoadResult, p: number): string => lat(percentile(l.latencies, p));
const busy = (l: LoadResult): string => `${Math.round(100 * l.elu)}%`;
const out: string[] = [];
out.push("## Audit log benchmark");
out.push("");
out.push(
  `Node ${machine.node}${machine.nodeFlags ? ` with \`${machine.nodeFlags}\` (as bin/tenet.js runs \`tenet serve\`)` : " without flags (bin/tenet.js runs `tenet serve` with --max-semi-space-size=32)"}, ${machine.cpu} (${machine.cores} cores, ${machine.memGiB} GiB, load avg ${machine.loadavg.join(" / ")} at start, ${os.loadavg()[0]!.toFixed(2)} at end). ` +
    `SQLite: better-sqlite3, WAL, synchronous=FULL (as \`tenet serve\` opens it), a temporary data directory in ${tmpRoot}. ` +
    `PostgreSQL: ${pgSkip ? `skipped (${pgSkip})` : `${describeUrl(PG_URL)}, version ${pgConfig.server_version ?? "?"}, synchronous_commit=${pgConfig.synchronous_commit ?? "?"}, fsync=${pgConfig.fsync ?? "?"}, shared_buffers=${pgConfig.shared_buffers ?? "?"} (8 kB pages), a fresh schema dropped at the end`}. ` +
    `Checkpoint every ${int(CHECKPOINT_EVERY)} entries (signed C2SP note, Ed25519): on SQLite stored right behind its batch (the writer thread builds the rows and returns their leaf hashes), on PostgreSQL in the batch's transaction.`,
);
out.push("");
out.push(
  `Events: OCSF API Activity of real access decisions (${world.requests.length} distinct requests decided over ${int(world.tuples)} tuples and ${world.policyCount} access policies: ${Object.entries(mix).map(([k, v]) => `${k} ${v}`).join(", ")}), each appended with a fresh decision id and one of ${ORIGINS.length} API origins; one request in five carries context (stored as an HMAC). ` +
    `Event size: ${Object.entries(eventBytes).map(([k, s]) => `${k} mean ${int(s.mean)} B (${int(s.min)}–${int(s.max)})`).join("; ") || "n/a"}.`,
);

if (appendCases.length) {
  out.push("", "### 1. Appends/s through AuditLog", "");
  out.push(
    `\`plane.decisions.record(decision, req, origin)\` = \`decisionEvent(...)\` + \`AuditLog.append\`, with N callers each appending again (from the event loop, as a server's next request arrives) when its last append resolved; ${SECONDS} s measured after ${ms(WARMUP_MS)} warm-up. Latency: from the call to the resolution (the entry is committed). Main thread busy: event loop utilization (on SQLite the rows are built, hashed and committed on the writer thread). Mean batch: entries ÷ transactions (group commit; a batch also ends at each checkpoint boundary, so at most ${int(CHECKPOINT_EVERY)}).`,
  );
  out.push("");
  out.push(
    table(
      ["Backend", "In flight", "Appends/s", "Main thread busy", "CPU (cores)", "Mean batch", "Checkpoints", "p50 ms", "p99 ms", "max ms", "Rejected"],
      appendCases.map((c) => [c.backend, String(c.load.inFlight), int(c.load.perSec), busy(c.load), c.load.cpuShare.toFixed(2), (c.entries / Math.max(1, c.batches)).toFixed(0), int(c.checkpoints), pct(c.load, 50), pct(c.load, 99), pct(c.load, 100), int(c.load.failed)]),
      ["l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
    ),
  );
}

if (decisionCases.length) {
  out.push("", "### 2. Audited decisions/s on SQLite", "");
  out.push(
    `\`AccessDecisionPoint.decide(store, req, origin)\` as \`tenet serve\` wires it (risk engine behind its history cache, zones, no just-in-time access), over one SQLite datastore holding the relationships (${int(world.tuples)}), the ${world.policyCount} access policies (${world.rules} rules) and the audit log; "audited" adds \`audit: plane.decisions\` (the decision returns once its entry is committed). Measured before the append cases (whose after-effects, PostgreSQL checkpoints and autovacuum and the kernel writing back files, would compete for the cores). ${2} alternating rounds per mode of ${SECONDS / 2} s each (after ${ms(WARMUP_MS / 2)} warm-up), summed; latency from the call to the decision.`,
  );
  out.push("");
  out.push(
    table(
      ["In flight", "Mode", "Decisions/s", "Main thread busy", "CPU (cores)", "p50 ms", "p99 ms", "Mean batch", "Audited ÷ without"],
      decisionCases.flatMap((c) => [
        [String(c.inFlight), "without audit", int(c.plain.perSec), busy(c.plain), c.plain.cpuShare.toFixed(2), pct(c.plain, 50), pct(c.plain, 99), "", ""],
        [String(c.inFlight), "audited", int(c.audited.perSec), busy(c.audited), c.audited.cpuShare.toFixed(2), pct(c.audited, 50), pct(c.audited, 99), (c.entries / Math.max(1, c.batches)).toFixed(0), `${(c.audited.perSec / c.plain.perSec).toFixed(2)} (cost ${ratio(c.plain.perSec / c.audited.perSec)})`],
      ]),
      ["r", "l", "r", "r", "r", "r", "r", "r", "r"],
    ),
  );
}

if (verifyCases.length) {
  out.push("", "### 3. Verifying the log", "");
  out.push(
    `\`verifyAuditLog(ds, plane.verifyNote)\` (src/audit/verify.ts, pages of 1,000): every event re-hashed and checked against its leaf hash and position, the tree rebuilt, every checkpoint's signature verified and its root compared. The log was filled by the same decision appends (${FILL_IN_FLIGHT} in flight, maxBatch ${int(FILL_MAX_BATCH)}, checkpoint every ${int(CHECKPOINT_EVERY)}); the fill is not the measure. Right after the fill, so the database is in the OS page cache (PostgreSQL: in its buffers or the page cache).`,
  );
  out.push("");
  out.push(
    table(
      ["Backend", "Entries", "Checkpoints", "Verify", "Entries/s", "Ok", "Fill (appends/s)", "Open log (tree rebuild)", "Stored bytes/entry"],
      verifyCases.map((c) => [
        c.backend,
        int(c.report.entries),
        int(c.report.checkpoints),
        `${c.seconds.toFixed(2)} s`,
        int(c.report.entries / c.seconds),
        c.report.ok ? "yes" : `NO (${c.report.problems.length} problems)`,
        c.fill.appended > 0 ? `${ms(c.fill.ms)} (${int(c.fill.appended / (c.fill.ms / 1000))}/s)` : "—",
        ms(c.openMs),
        int(c.bytesPerEntry),
      ]),
      ["l", "r", "r", "r", "r", "l", "r", "r", "r"],
    ),
  );
}

out.push("");
out.push(`Set-up: ${int(world.tuples)} tuples written in ${ms(world.setupMs.tuples)} (writes of 100, on ${worldDs.kind}), policies applied in ${ms(world.setupMs.policies)}, risk histories loaded in ${ms(world.setupMs.risk)}; ${ms(setupMs)} in all with the decision pool.`);
out.push(...targetsSection(targets, problems, totalMs));
console.log(out.join("\n"));

const round = (n: number, d = 2): number => (Number.isFinite(n) ? Math.round(n * 10 ** d) / 10 ** d : n);
const loadJson = (l: LoadResult): Record<string, unknown> => {
  const s = l.latencies;
  return { inFlight: l.inFlight, perSec: Math.round(l.perSec), ops: l.ops, seconds: round(l.seconds, 3), cpuShare: round(l.cpuShare, 3), elu: round(l.elu, 3), p50ms: round(percentile(s, 50), 3), p90ms: round(percentile(s, 90), 3), p99ms: round(percentile(s, 99), 3), maxMs: round(percentile(s, 100), 3), failed: l.failed };
};
console.log(
  JSON.stringify({
    bench: "tenet-audit",
    date: new Date().toISOString(),
    machine,
    config: { seconds: SECONDS, inFlight: IN_FLIGHT, verifyEntries: VERIFY_ENTRIES, fillInFlight: FILL_IN_FLIGHT, fillMaxBatch: FILL_MAX_BATCH, checkpointEvery: CHECKPOINT_EVERY, policies: POLICIES, requests: REQUESTS, seed: SEED, parts: [...PARTS], warmupMs: WARMUP_MS },
    postgres: pgSkip ? { skipped: pgSkip } : { server: describeUrl(PG_URL), settings: pgConfig },
    world: { tuples: world.tuples, policies: world.policyCount, rules: world.rules, requests: world.requests.length, mix, setupMs: { ...world.setupMs, total: round(setupMs, 1) } },
    eventBytes,
    appends: appendCases.map((c) => ({ backend: c.backend, ...loadJson(c.load), entries: c.entries, batches: c.batches, meanBatch: round(c.entries / Math.max(1, c.batches), 1), checkpoints: c.checkpoints })),
    decisions: decisionCases.map((c) => ({ inFlight: c.inFlight, plain: loadJson(c.plain), audited: loadJson(c.audited), ratio: round(c.audited.perSec / c.plain.perSec, 3), entries: c.entries, batches: c.batches })),
    verify: verifyCases.map((c) => ({
      backend: c.backend,
      entries: c.report.entries,
      checkpoints: c.report.checkpoints,
      seconds: round(c.seconds, 3),
      entriesPerSec: Math.round(c.report.entries / c.seconds),
      ok: c.report.ok,
      problems: c.report.problems.length,
      fill: { appended: c.fill.appended, ms: Math.round(c.fill.ms), batches: c.fill.batches },
      openMs: Math.round(c.openMs),
      bytesPerEntry: Math.round(c.bytesPerEntry),
    })),
    unrecorded,
    problems,
    targets: targets.map((t) => ({ target: t.name, measured: t.measured, pass: t.ok })),
    totalMs: Math.round(totalMs),
  }),
);
