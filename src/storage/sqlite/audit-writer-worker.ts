/**
 * The worker thread behind AuditWriterThread: its own connection to the SQLite file, used only
 * for the audit log's writes (appends, checkpoints, pruning). Each message is one call; the
 * answer carries the error's kind so the main thread can rebuild it.
 */
import { parentPort, workerData } from "node:worker_threads";
import { TenetError } from "../../errors.js";
import { isStorageError } from "../errors.js";
import { AuditConflict } from "../interfaces.js";
import { SqliteDatastore } from "./sqlite-datastore.js";

interface Call {
  id: number;
  method: "appendAudit" | "putAuditCheckpoint" | "pruneAudit";
  args: unknown[];
}

const ds = SqliteDatastore.open((workerData as { file: string }).file);

parentPort!.on("message", async (call: Call) => {
  const target = ds as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  try {
    // SqliteDatastore's methods run synchronously (better-sqlite3): calls stay in order.
    const result = await target[call.method]!.apply(ds, call.args);
    parentPort!.postMessage({ id: call.id, ok: true, result });
  } catch (err) {
    const e = err as Error;
    const kind = e instanceof AuditConflict ? "conflict" : isStorageError(e) ? "storage" : e instanceof TenetError ? "tenet" : "error";
    parentPort!.postMessage({
      id: call.id,
      ok: false,
      error: { kind, message: e.message, code: (e as { code?: string }).code, expected: (e as Partial<AuditConflict>).expected, got: (e as Partial<AuditConflict>).got },
    });
  }
});
