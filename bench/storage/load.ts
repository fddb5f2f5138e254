/**
 * Index load of 1,000,000 tuples: the engine benchmark's data set is bulk-inserted with
 * Datastore.writeTuples in big batches (fast, and not what is measured), then a fresh process
 * (load-child.ts) times a new PolicyService's first query, which loads the whole index.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { TypeSystem } from "../../src/policy/model/typesystem.js";
import type { TupleKey } from "../../src/policy/tuples/tuple.js";
import type { Datastore } from "../../src/storage/interfaces.js";
import { Layout, MODEL_DSL, TOTAL_TUPLES, user } from "../engine/dataset.js";

export interface LoadTask {
  kind: "sqlite" | "postgres";
  /** SQLite file, or PostgreSQL connection string. */
  target: string;
  schema?: string;
  storeId: string;
  /** A check to ask first (the one that loads the index). */
  check: { object: string; relation: string; user: string };
}

export interface LoadOutput {
  openMs: number;
  /** The first Check: revision + newest model + allTuples into the index + the check itself. */
  firstQueryMs: number;
  secondQueryUs: number;
  tuples: number;
  allowed: boolean;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  heapUsedAfterMiB: number;
  maxRssMiB: number;
}

export const INSERT_BATCH = 5000;

/** Every tuple of the engine data set, in generation order. */
export function engineTuples(): { tuples: TupleKey[]; probe: LoadTask["check"] } {
  const layout = new Layout();
  const tuples: TupleKey[] = [];
  layout.generate((t) => tuples.push(t));
  if (tuples.length !== TOTAL_TUPLES) throw new Error(`expected ${TOTAL_TUPLES} tuples, generated ${tuples.length}`);
  // doc:d0's first direct viewer: allowed.
  return { tuples, probe: { object: "doc:d0", relation: "viewer", user: user(layout.directViewer(0, 0)) } };
}

/** Creates a store with the engine model and inserts `tuples` into it; returns its id and the time taken. */
export async function bulkInsert(
  ds: Datastore,
  tuples: TupleKey[],
  progress: (done: number) => void,
): Promise<{ storeId: string; ms: number }> {
  const store = await ds.createStore("bench-load-1m");
  await ds.writeModel(store.id, TypeSystem.from(MODEL_DSL).model);
  const t0 = performance.now();
  let lastReport = t0;
  for (let i = 0; i < tuples.length; i += INSERT_BATCH) {
    await ds.writeTuples(store.id, [], tuples.slice(i, i + INSERT_BATCH));
    if (performance.now() - lastReport > 5000) {
      lastReport = performance.now();
      progress(Math.min(tuples.length, i + INSERT_BATCH));
    }
  }
  return { storeId: store.id, ms: performance.now() - t0 };
}

const CHILD = fileURLToPath(new URL("./load-child.js", import.meta.url));

/** Runs load-child.js in a fresh `node --expose-gc` and returns what it measured. */
export function runLoadChild(task: LoadTask, timeoutMs = 180_000): Promise<LoadOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", CHILD, JSON.stringify(task)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !line.startsWith("{")) {
        reject(new Error(`load child (${task.kind}) failed (${signal ?? `exit ${code}`}): ${err.trim() || out.trim()}`));
        return;
      }
      resolve(JSON.parse(line) as LoadOutput);
    });
  });
}
