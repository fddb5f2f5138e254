/**
 * Index load, measured in a fresh process (so RSS is the loaded index's and not the leftovers of
 * inserting it): opens the datastore, creates a PolicyService and times its first Check, which
 * reads the store's revision, newest model and every tuple (allTuples) into the in-memory
 * index. Prints one JSON line. Run by storage.bench.ts with --expose-gc:
 *   node --expose-gc dist/bench/storage/load-child.js '<json LoadTask>'
 */
import { PolicyService } from "../../src/policy/service.js";
import type { Datastore } from "../../src/storage/interfaces.js";
import type { LoadOutput, LoadTask } from "./load.js";

const gc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
};
const MiB = 2 ** 20;

async function main(): Promise<void> {
  const task = JSON.parse(process.argv[2] ?? "") as LoadTask;
  gc();
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  let ds: Datastore;
  if (task.kind === "sqlite") {
    const { SqliteDatastore } = await import("../../src/storage/sqlite/sqlite-datastore.js");
    ds = SqliteDatastore.open(task.target);
  } else {
    const { PostgresDatastore } = await import("../../src/storage/postgres/postgres-datastore.js");
    ds = await PostgresDatastore.open(task.schema ? { connectionString: task.target, schema: task.schema } : { connectionString: task.target });
  }
  const t1 = performance.now();
  const svc = new PolicyService(ds);
  const first = await svc.check(task.storeId, task.check);
  const t2 = performance.now();
  await svc.check(task.storeId, task.check);
  const t3 = performance.now();
  const stats = await svc.indexStats();
  gc();
  const mem = process.memoryUsage();
  const out: LoadOutput = {
    openMs: t1 - t0,
    firstQueryMs: t2 - t1,
    secondQueryUs: (t3 - t2) * 1000,
    tuples: stats.find((s) => s.storeId === task.storeId)?.tuples ?? 0,
    allowed: first.allowed,
    rssBeforeMiB: rssBefore / MiB,
    rssAfterMiB: mem.rss / MiB,
    heapUsedAfterMiB: mem.heapUsed / MiB,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  };
  await ds.close();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`load-child: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
