/**
 * The worker thread behind AuditWriterThread: its own connection to the SQLite file, used only
 * for the audit log's writes (appends, checkpoints, pruning). Each message is one call; the
 * answer carries the error's kind so the main thread can rebuild it.
 *
 * `appendAuditEvents` builds the rows here (each event's text and leaf hash, src/audit/rows.ts)
 * and answers with the leaf hashes, 32 bytes each back to back in one transferred buffer.
 */
import { parentPort, workerData } from "node:worker_threads";
import { TenetError } from "../errors.js";
import { isStorageError } from "../storage/errors.js";
import { AuditConflict } from "../storage/interfaces.js";
import { SqliteDatastore } from "../storage/sqlite/sqlite-datastore.js";
import { auditRows, type EventBatch } from "./rows.js";

interface Call {
  id: number;
  method: "appendAudit" | "appendAuditEvents" | "putAuditCheckpoint" | "pruneAudit";
  args: unknown[];
}

const ds = SqliteDatastore.open((workerData as { file: string }).file);

parentPort!.on("message", async (call: Call) => {
  const target = ds as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  try {
    if (call.method === "appendAuditEvents") {
      const rows = auditRows(call.args[0] as EventBatch);
      await ds.appendAudit(rows);
      const hashes = new Uint8Array(rows.length * 32);
      for (let i = 0; i < rows.length; i++) hashes.set(rows[i]!.leafHash, i * 32);
      parentPort!.postMessage({ id: call.id, ok: true, result: hashes }, [hashes.buffer]);
      return;
    }
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
