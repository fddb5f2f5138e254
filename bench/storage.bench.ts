/**
 * Storage benchmark, on SQLite (a file in a temp dir, opened as `tenet serve` opens it: WAL,
 * synchronous=FULL) and PostgreSQL (a fresh schema, dropped at the end):
 * (1) tuple write throughput through PolicyService.write in batches of 100 (validated, as the
 *     API's Write is), one writer, then 4 writers to 4 different stores at once;
 * (2) index load: 1,000,000 tuples (the engine benchmark's data set) are bulk-inserted, then a
 *     fresh process times a new PolicyService's first query, which loads the whole index;
 * (3) cross-replica visibility delay: two `tenet serve` on one PostgreSQL schema, a tuple written
 *     on A over HTTP, Check polled on B about every millisecond until it is allowed.
 *
 * Run: npm run bench:storage   (node --expose-gc dist/bench/storage.bench.js)
 * PostgreSQL: TENET_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test); when it
 * cannot be reached, its rows are skipped.
 * Tunables (env): BENCH_WRITE_MS (default 5000, per write measurement), BENCH_WARMUP_BATCHES (20),
 * BENCH_REPLICA_SAMPLES (200), BENCH_LOAD_RUNS (1), BENCH_SKIP_PG=1, BENCH_SKIP_LOAD=1.
 *
 * Prints a markdown report, then one JSON line with every number. Never exits non-zero on a
 * missed target (only on a crash).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { PolicyService } from "../src/policy/service.js";
import type { Datastore } from "../src/storage/interfaces.js";
import { SQLITE_FILE_NAME, openDatastore } from "../src/storage/open.js";
import { PostgresDatastore } from "../src/storage/postgres/postgres-datastore.js";
import { TOTAL_TUPLES } from "./engine/dataset.js";
import { gc, hasGc } from "./engine/measure.js";
import { int, ms, table, targetsSection, verdict } from "./engine/report.js";
import { type LoadOutput, INSERT_BATCH, bulkInsert, engineTuples, runLoadChild } from "./storage/load.js";
import { PG_URL, createSchema, describe, dropSchema, pgSettings, pgUnavailable } from "./storage/pg.js";
import { type VisibilityResult, measureVisibility } from "./storage/replicas.js";
import { BATCH, type WriteResult, makeStores, measureWrites, pct } from "./storage/writes.js";

const envNum = (name: string, dflt: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};
const WRITE_MS = envNum("BENCH_WRITE_MS", 5000);
const WARMUP_BATCHES = envNum("BENCH_WARMUP_BATCHES", 20);
const REPLICA_SAMPLES = envNum("BENCH_REPLICA_SAMPLES", 200);
const LOAD_RUNS = envNum("BENCH_LOAD_RUNS", 1);
const SKIP_PG = process.env.BENCH_SKIP_PG === "1";
const SKIP_LOAD = process.env.BENCH_SKIP_LOAD === "1";
const CONCURRENT_WRITERS = 4;

const TARGET = {
  sqliteWritePerSec: 20_000,
  pgWritePerSec: 10_000,
  sqliteLoadMs: 10_000,
  pgLoadMs: 20_000,
  visibilityP99Ms: 200,
};

const log = (msg: string): void => {
  process.stderr.write(`[bench] ${msg}\n`);
};
const benchStart = performance.now();
if (!hasGc()) log("warning: run with --expose-gc for meaningful memory numbers");

type Backend = "sqlite" | "postgres";
interface WriteRow extends WriteResult {
  backend: Backend;
}
interface LoadRow {
  backend: Backend;
  insertMs: number;
  runs: LoadOutput[];
  /** The run with the median first-query time. */
  median: LoadOutput;
}

const writes: WriteRow[] = [];
const loads: LoadRow[] = [];
let visibility: VisibilityResult | undefined;
let pgInfo: Record<string, string> = {};
let pgSkip: string | undefined = SKIP_PG ? "BENCH_SKIP_PG=1" : undefined;
const errors: string[] = [];

async function writeBench(backend: Backend, svc: PolicyService): Promise<void> {
  let offset = 0;
  for (const writers of [1, CONCURRENT_WRITERS]) {
    const stores = await makeStores(svc, writers, `bench-write-${writers}`);
    const r = await measureWrites(svc, stores, { runMs: WRITE_MS, warmupBatches: WARMUP_BATCHES, offset });
    offset += 10_000_000;
    writes.push({ backend, ...r });
    log(`${backend} write, ${writers} writer(s): ${int(r.tuplesPerSec)} tuples/s (batch p50 ${r.p50ms.toFixed(2)} ms, p99 ${r.p99ms.toFixed(2)} ms, ${int(r.tuples)} tuples)`);
  }
}

async function loadBench(backend: Backend, ds: Datastore, tuples: ReturnType<typeof engineTuples>, target: { file?: string; url?: string; schema?: string }): Promise<void> {
  log(`${backend}: bulk-inserting ${int(tuples.tuples.length)} tuples (writeTuples × ${int(INSERT_BATCH)})`);
  const ins = await bulkInsert(ds, tuples.tuples, (done) => log(`${backend}: inserted ${int(done)}`));
  log(`${backend}: inserted in ${ms(ins.ms)} (${int(tuples.tuples.length / (ins.ms / 1000))} tuples/s); closing, then loading in a fresh process`);
  await ds.close();
  const runs: LoadOutput[] = [];
  for (let r = 0; r < LOAD_RUNS; r++) {
    const out = await runLoadChild(
      backend === "sqlite"
        ? { kind: "sqlite", target: target.file!, storeId: ins.storeId, check: tuples.probe }
        : { kind: "postgres", target: target.url!, schema: target.schema!, storeId: ins.storeId, check: tuples.probe },
    );
    if (out.tuples !== TOTAL_TUPLES) errors.push(`${backend} load: index holds ${out.tuples} tuples, expected ${TOTAL_TUPLES}`);
    if (!out.allowed) errors.push(`${backend} load: the probe check was denied, expected allowed`);
    runs.push(out);
    log(`${backend} load: first query ${ms(out.firstQueryMs)} (${int(out.tuples / (out.firstQueryMs / 1000))} tuples/s), RSS ${out.rssBeforeMiB.toFixed(0)} → ${out.rssAfterMiB.toFixed(0)} MiB, peak ${out.maxRssMiB.toFixed(0)} MiB`);
  }
  const sorted = [...runs].sort((a, b) => a.firstQueryMs - b.firstQueryMs);
  loads.push({ backend, insertMs: ins.ms, runs, median: sorted[(sorted.length - 1) >> 1]! });
}

// --- run ------------------------------------------------------------------------------------------

const tmp = mkdtempSync(join(os.tmpdir(), "tenet-bench-storage-"));
const sqliteFile = join(tmp, SQLITE_FILE_NAME);
let schema: string | undefined;
try {
  // (1) SQLite writes, through the same opener as `tenet serve`.
  const sds = await openDatastore({ dataDir: tmp });
  await writeBench("sqlite", new PolicyService(sds));

  // (1) PostgreSQL writes.
  let pds: PostgresDatastore | undefined;
  if (!pgSkip) pgSkip = await pgUnavailable();
  if (pgSkip) log(`PostgreSQL skipped: ${pgSkip}`);
  else {
    pgInfo = await pgSettings();
    try {
      schema = await createSchema();
    } catch (err) {
      pgSkip = `cannot create a schema: ${(err as Error).message}`;
      log(`PostgreSQL skipped: ${pgSkip}`);
    }
  }
  if (schema) {
    log(`PostgreSQL ${describe(PG_URL)}, schema ${schema}`);
    pds = await PostgresDatastore.open({ connectionString: PG_URL, schema });
    await writeBench("postgres", new PolicyService(pds));
  }

  // (2) Index load.
  if (SKIP_LOAD) {
    await sds.close();
    await pds?.close();
  } else {
    const t0 = performance.now();
    const tuples = engineTuples();
    log(`generated ${int(tuples.tuples.length)} tuples in ${ms(performance.now() - t0)}`);
    await loadBench("sqlite", sds, tuples, { file: sqliteFile });
    if (pds && schema) await loadBench("postgres", pds, tuples, { url: PG_URL, schema });
    tuples.tuples.length = 0;
    gc();
  }

  // (3) Cross-replica visibility.
  if (schema) {
    visibility = await measureVisibility(schema, { samples: REPLICA_SAMPLES, warmup: 10, pollIntervalMs: 1, timeoutMs: 5000, log });
    const s = [...visibility.afterAckMs].sort((a, b) => a - b);
    log(`replicas: p50 ${pct(s, 0.5).toFixed(1)} ms, p99 ${pct(s, 0.99).toFixed(1)} ms, max ${(s[s.length - 1] ?? NaN).toFixed(1)} ms, ${visibility.timeouts} timeouts`);
  }
} finally {
  if (schema) await dropSchema(schema).catch((err: unknown) => log(`could not drop schema ${schema}: ${(err as Error).message}`));
  rmSync(tmp, { recursive: true, force: true });
}

// --- report ---------------------------------------------------------------------------------------

const totalMs = performance.now() - benchStart;
const cpus = os.cpus();
const env = `Node ${process.version}, ${cpus[0]?.model.trim() ?? "unknown CPU"} (${cpus.length} cores, load avg ${os.loadavg()[0]!.toFixed(2)})`;
const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : "n/a");
const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : "n/a");
const backendName = (b: Backend): string => (b === "sqlite" ? "SQLite" : "PostgreSQL");
const writeTarget = (b: Backend): number => (b === "sqlite" ? TARGET.sqliteWritePerSec : TARGET.pgWritePerSec);
const loadTarget = (b: Backend): number => (b === "sqlite" ? TARGET.sqliteLoadMs : TARGET.pgLoadMs);

interface TargetRow {
  name: string;
  measured: string;
  ok: boolean | undefined;
}
const targets: TargetRow[] = [];
for (const b of ["sqlite", "postgres"] as const) {
  const w = writes.find((x) => x.backend === b && x.writers === 1);
  targets.push({ name: `${backendName(b)} write ≥ ${int(writeTarget(b))} tuples/s (1 writer, batches of ${BATCH})`, measured: w ? int(w.tuplesPerSec) : "skipped", ok: w ? w.tuplesPerSec >= writeTarget(b) : undefined });
}
for (const b of ["sqlite", "postgres"] as const) {
  const l = loads.find((x) => x.backend === b);
  targets.push({ name: `${backendName(b)} index load of 1M tuples ≤ ${loadTarget(b) / 1000} s`, measured: l ? ms(l.median.firstQueryMs) : "skipped", ok: l ? l.median.firstQueryMs <= loadTarget(b) : undefined });
}
const vis = visibility ? [...visibility.afterAckMs].sort((a, b) => a - b) : [];
targets.push({
  name: `cross-replica visibility p99 ≤ ${TARGET.visibilityP99Ms} ms`,
  measured: visibility ? `${f1(pct(vis, 0.99))} ms${visibility.timeouts ? ` (${visibility.timeouts} timeouts)` : ""}` : "skipped",
  ok: visibility ? pct(vis, 0.99) <= TARGET.visibilityP99Ms && visibility.timeouts === 0 : undefined,
});
targets.push({ name: "every load complete and every answer as expected", measured: `${errors.length} problems`, ok: errors.length === 0 });

const out: string[] = [];
out.push("## Storage benchmark");
out.push("");
out.push(
  `${env}. SQLite: a file in ${os.tmpdir()}, opened as \`tenet serve\` opens it (WAL, synchronous=FULL). PostgreSQL: ${
    pgSkip ? `skipped (${pgSkip})` : `${pgInfo.server_version ?? "?"} at ${describe(PG_URL)}, a fresh schema (synchronous_commit=${pgInfo.synchronous_commit ?? "?"}, fsync=${pgInfo.fsync ?? "?"}, wal_sync_method=${pgInfo.wal_sync_method ?? "?"})`
  }.`,
);
out.push("");
out.push("### Tuple writes (PolicyService.write)");
out.push("");
out.push(
  `Batches of ${BATCH} tuples (a mix of the engine model's shapes: direct, role and group usersets, folder links, conditional grants), each one \`PolicyService.write\` call: validation, one transaction, then the in-memory index. ${WARMUP_BATCHES} warm-up batches per writer, then ${ms(WRITE_MS)} of writes; with ${CONCURRENT_WRITERS} writers, each writes to its own store, all at once, in this one process (SQLite: one synchronous connection, so its writers take turns; PostgreSQL: a pool of 10 connections). Batch latency is one write call's, queueing included.`,
);
out.push("");
out.push(
  table(
    ["Backend", "Writers", "Tuples", "Tuples/s", "Batch p50 ms", "Batch p99 ms", "Batch max ms", "Target"],
    writes.map((w) => [
      backendName(w.backend),
      String(w.writers),
      int(w.tuples),
      int(w.tuplesPerSec),
      f2(w.p50ms),
      f2(w.p99ms),
      f1(w.maxMs),
      w.writers === 1 ? `≥ ${int(writeTarget(w.backend))}/s ${verdict(w.tuplesPerSec >= writeTarget(w.backend))}` : "—",
    ]),
    ["l", "r", "r", "r", "r", "r", "r", "l"],
  ),
);
out.push("");
out.push("### Index load (1,000,000 tuples)");
out.push("");
if (loads.length === 0) out.push("Skipped.");
else {
  out.push(
    `The engine benchmark's data set (\`bench/engine/dataset.ts\`, 10% of it conditional) is bulk-inserted with \`Datastore.writeTuples\` in batches of ${int(INSERT_BATCH)} (not the measurement), then a fresh \`node --expose-gc\` opens the datastore and times a new PolicyService's first Check, which reads the revision, the newest model and every tuple (\`allTuples\`) into the index. RSS is that process's, after a GC; "peak" is its maximum resident set.${LOAD_RUNS > 1 ? ` Median of ${LOAD_RUNS} runs.` : ""}`,
  );
  out.push("");
  out.push(
    table(
      ["Backend", "Bulk insert", "Open", "First query (load)", "Load tuples/s", "RSS before", "RSS after", "Peak RSS", "Heap after", "Next check", "Target"],
      loads.map((l) => {
        const m = l.median;
        return [
          backendName(l.backend),
          `${ms(l.insertMs)} (${int(TOTAL_TUPLES / (l.insertMs / 1000))}/s)`,
          ms(m.openMs),
          ms(m.firstQueryMs),
          int(m.tuples / (m.firstQueryMs / 1000)),
          `${m.rssBeforeMiB.toFixed(0)} MiB`,
          `${m.rssAfterMiB.toFixed(0)} MiB`,
          `${m.maxRssMiB.toFixed(0)} MiB`,
          `${m.heapUsedAfterMiB.toFixed(0)} MiB`,
          `${f1(m.secondQueryUs)} µs`,
          `≤ ${loadTarget(l.backend) / 1000} s ${verdict(m.firstQueryMs <= loadTarget(l.backend))}`,
        ];
      }),
      ["l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "l"],
    ),
  );
}
out.push("");
out.push("### Cross-replica visibility (PostgreSQL)");
out.push("");
if (!visibility) out.push(`Skipped${pgSkip ? ` (${pgSkip})` : ""}.`);
else {
  const fromSend = [...visibility.afterSendMs].sort((a, b) => a - b);
  const writeRtt = [...visibility.writeMs].sort((a, b) => a - b);
  const polls = visibility.polls.reduce((a, b) => a + b, 0) / Math.max(1, visibility.polls.length);
  out.push(
    `Two \`tenet serve\` processes on one schema (TENET_SYNC_INTERVAL_MS ${visibility.syncIntervalMs}). Per sample: write one new tuple on A over HTTP; from A's acknowledgement, Check on B about every 1 ms until allowed. Delay = A's acknowledgement → B's first allowed answer (it includes that check's round trip). ${int(visibility.afterAckMs.length)} samples after 10 warm-up ones.`,
  );
  out.push("");
  out.push(
    table(
      ["Measured from", "p50 ms", "p90 ms", "p99 ms", "max ms", "Target"],
      [
        ["write acknowledged on A", f1(pct(vis, 0.5)), f1(pct(vis, 0.9)), f1(pct(vis, 0.99)), f1(vis[vis.length - 1] ?? NaN), `p99 ≤ ${TARGET.visibilityP99Ms} ms ${verdict(pct(vis, 0.99) <= TARGET.visibilityP99Ms && visibility.timeouts === 0)}`],
        ["write sent to A", f1(pct(fromSend, 0.5)), f1(pct(fromSend, 0.9)), f1(pct(fromSend, 0.99)), f1(fromSend[fromSend.length - 1] ?? NaN), "—"],
        ["(write round trip on A)", f1(pct(writeRtt, 0.5)), f1(pct(writeRtt, 0.9)), f1(pct(writeRtt, 0.99)), f1(writeRtt[writeRtt.length - 1] ?? NaN), "—"],
      ],
      ["l", "r", "r", "r", "r", "l"],
    ),
  );
  out.push("");
  out.push(`Checks on B per sample: ${polls.toFixed(1)} on average (1 = already visible at the first poll). Timeouts (not visible within 5 s): ${visibility.timeouts}.`);
}
out.push(...targetsSection(targets, errors, totalMs));
console.log(out.join("\n"));

const round = (n: number, d = 2): number => (Number.isFinite(n) ? Math.round(n * 10 ** d) / 10 ** d : n);
const json = {
  bench: "tenet-storage",
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus[0]?.model.trim() ?? null,
  cores: cpus.length,
  loadavg: round(os.loadavg()[0]!),
  config: { writeMs: WRITE_MS, warmupBatches: WARMUP_BATCHES, batch: BATCH, concurrentWriters: CONCURRENT_WRITERS, insertBatch: INSERT_BATCH, loadRuns: LOAD_RUNS, replicaSamples: REPLICA_SAMPLES },
  postgres: pgSkip ? { skipped: pgSkip } : { target: describe(PG_URL), ...pgInfo },
  writes: writes.map((w) => ({
    backend: w.backend,
    writers: w.writers,
    tuples: w.tuples,
    batches: w.batches,
    seconds: round(w.seconds, 3),
    tuplesPerSec: Math.round(w.tuplesPerSec),
    p50ms: round(w.p50ms, 3),
    p99ms: round(w.p99ms, 3),
    maxMs: round(w.maxMs, 1),
  })),
  loads: loads.map((l) => ({
    backend: l.backend,
    tuples: TOTAL_TUPLES,
    insertMs: Math.round(l.insertMs),
    firstQueryMs: Math.round(l.median.firstQueryMs),
    loadTuplesPerSec: Math.round(l.median.tuples / (l.median.firstQueryMs / 1000)),
    runs: l.runs.map((r) => ({
      openMs: round(r.openMs, 1),
      firstQueryMs: round(r.firstQueryMs, 1),
      secondQueryUs: round(r.secondQueryUs, 1),
      tuples: r.tuples,
      rssBeforeMiB: round(r.rssBeforeMiB, 1),
      rssAfterMiB: round(r.rssAfterMiB, 1),
      maxRssMiB: round(r.maxRssMiB, 1),
      heapUsedAfterMiB: round(r.heapUsedAfterMiB, 1),
    })),
  })),
  visibility: visibility
    ? {
        samples: visibility.afterAckMs.length,
        timeouts: visibility.timeouts,
        syncIntervalMs: visibility.syncIntervalMs,
        afterAck: { p50ms: round(pct(vis, 0.5)), p90ms: round(pct(vis, 0.9)), p99ms: round(pct(vis, 0.99)), maxMs: round(vis[vis.length - 1] ?? NaN) },
        afterSendP50ms: round(pct([...visibility.afterSendMs].sort((a, b) => a - b), 0.5)),
        writeRttP50ms: round(pct([...visibility.writeMs].sort((a, b) => a - b), 0.5)),
        meanPolls: round(visibility.polls.reduce((a, b) => a + b, 0) / Math.max(1, visibility.polls.length)),
      }
    : null,
  targets: targets.map((t) => ({ target: t.name, measured: t.measured, pass: t.ok ?? null })),
  problems: errors,
  totalMs: Math.round(totalMs),
};
console.log(JSON.stringify(json));
