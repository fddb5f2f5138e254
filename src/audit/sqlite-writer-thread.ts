/**
 * The SQLite audit log's writes on a second thread. An append's SQLite work (inserting the
 * entries into their table and indexes) and building its rows (serialising each event with its
 * sequence number, hashing it) are most of what auditing a decision costs; better-sqlite3 runs
 * synchronously, on the thread that also decides. A worker with its own connection to the same
 * file (WAL: readers never wait for it) takes them to the second core. Reads stay on the main
 * connection, which sees every committed append.
 *
 * Implements the audit writes of AuditBackend (and AuditEventWriter) and delegates the reads.
 */
import { Worker } from "node:worker_threads";
import { TenetError, type TenetErrorCode } from "../errors.js";
import { StorageError, type StorageErrorCode } from "../storage/errors.js";
import { AuditConflict, type AuditBackend, type AuditCheckpointRow, type AuditPruneRow, type AuditQuery, type AuditRow } from "../storage/interfaces.js";
import type { AuditEventWriter } from "./log.js";
import type { EventBatch } from "./rows.js";

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: { kind: string; message: string; code?: string; expected?: number; got?: number };
}

export class AuditWriterThread implements AuditBackend, AuditEventWriter {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private nextId = 1;
  private failure: Error | undefined;

  constructor(
    private readonly reads: AuditBackend,
    file: string,
  ) {
    this.worker = new Worker(new URL("./sqlite-writer-worker.js", import.meta.url), { workerData: { file } });
    this.worker.on("message", (m: Reply) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (this.waiting.size === 0) this.worker.unref();
      if (m.ok) w.resolve(m.result);
      else w.reject(rebuild(m.error!));
    });
    // A dead writer fails every call from then on: the log fails closed, it does not hang.
    const fail = (err: Error) => {
      this.failure = err;
      for (const w of this.waiting.values()) w.reject(new StorageError("unavailable", `the audit writer thread stopped: ${err.message}`));
      this.waiting.clear();
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => fail(new Error(`exit code ${code}`)));
    // After the listeners (adding a 'message' listener refs the worker again): an idle writer
    // does not keep the process alive.
    this.worker.unref();
  }

  private call(method: string, args: unknown[]): Promise<unknown> {
    if (this.failure) return Promise.reject(new StorageError("unavailable", `the audit writer thread stopped: ${this.failure.message}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      // Referenced while a call waits (the process must not exit under it), not when idle.
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, method, args });
    });
  }

  async appendAudit(rows: AuditRow[], checkpoint?: AuditCheckpointRow): Promise<void> {
    await this.call("appendAudit", checkpoint ? [rows, checkpoint] : [rows]);
  }

  /** Builds and stores the batch's rows on the writer thread; resolves with their leaf hashes. */
  async appendAuditEvents(batch: EventBatch): Promise<Uint8Array[]> {
    const packed = (await this.call("appendAuditEvents", [batch])) as Uint8Array;
    const hashes: Uint8Array[] = new Array(packed.length / 32);
    for (let i = 0; i < hashes.length; i++) hashes[i] = packed.subarray(i * 32, i * 32 + 32);
    return hashes;
  }

  async putAuditCheckpoint(checkpoint: AuditCheckpointRow): Promise<void> {
    await this.call("putAuditCheckpoint", [checkpoint]);
  }

  async pruneAudit(record: AuditPruneRow): Promise<number> {
    return (await this.call("pruneAudit", [record])) as number;
  }

  auditHead() {
    return this.reads.auditHead();
  }

  readAudit(fromSeq: number, limit: number) {
    return this.reads.readAudit(fromSeq, limit);
  }

  readAuditLeaves(fromSeq: number, limit: number) {
    return this.reads.readAuditLeaves(fromSeq, limit);
  }

  readAuditEvents(fromSeq: number, limit: number) {
    return this.reads.readAuditEvents(fromSeq, limit);
  }

  queryAudit(q: AuditQuery) {
    return this.reads.queryAudit(q);
  }

  listAuditCheckpoints(fromSize: number, limit: number) {
    return this.reads.listAuditCheckpoints(fromSize, limit);
  }

  getAuditCheckpoint(size: number) {
    return this.reads.getAuditCheckpoint(size);
  }

  async close(): Promise<void> {
    this.failure ??= new Error("closed");
    await this.worker.terminate();
  }
}

function rebuild(e: NonNullable<Reply["error"]>): Error {
  switch (e.kind) {
    case "conflict":
      return new AuditConflict(e.expected ?? 0, e.got ?? 0);
    case "storage":
      return new StorageError((e.code ?? "unavailable") as StorageErrorCode, e.message);
    case "tenet":
      return new TenetError((e.code ?? "internal_error") as TenetErrorCode, e.message);
    default:
      return new Error(e.message);
  }
}
